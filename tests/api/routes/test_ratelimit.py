"""Hourly budgets per tenant: headers on every response, 429 + Retry-After, reset."""

from __future__ import annotations

import time

import limits.storage.memory as memory_storage
import pytest
from apiworld import auth

import api.ratelimit


class _Clock:
    """Stands in for the `time` module of the limiter so a test can move past an hour."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(memory_storage, "time", fake)
    monkeypatch.setattr(api.ratelimit, "time", fake)
    return fake


def test_exhaustion_429_with_retry_after_and_refusals_do_not_consume(client, world, clock):
    _, key = world.tenant("trial")  # 10 requests per hour
    remaining = []
    for _ in range(10):
        r = client.get("/v1/products", headers=auth(key))
        assert r.status_code == 200
        remaining.append(int(r.headers["RateLimit-Remaining"]))
        assert r.headers["RateLimit-Limit"] == "10"
        assert 3590 <= int(r.headers["RateLimit-Reset"]) <= 3600
    assert remaining == list(range(9, -1, -1))
    for _ in range(5):
        refused = client.get("/v1/products", headers=auth(key))
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 3590 <= int(refused.headers["Retry-After"]) <= 3600
        assert refused.headers["RateLimit-Remaining"] == "0"
    # Refused requests left no trace: once the window moves past the first ten, all ten return.
    clock.offset = 3601
    r = client.get("/v1/products", headers=auth(key))
    assert r.status_code == 200 and r.headers["RateLimit-Remaining"] == "9"


def test_the_window_slides(client, world, clock):
    _, key = world.tenant("trial")
    for i in range(10):
        clock.offset = i * 60  # one request a minute
        assert client.get("/v1/products", headers=auth(key)).status_code == 200
    clock.offset = 3600 + 30  # only the first request has left the window
    assert client.get("/v1/products", headers=auth(key)).status_code == 200
    assert client.get("/v1/products", headers=auth(key)).status_code == 429


def test_budgets_are_per_tenant_and_errors_after_auth_carry_headers(client, world, clock):
    _, a = world.tenant("trial")
    _, b = world.tenant("trial")
    for _ in range(10):
        client.get("/v1/products", headers=auth(a))
    assert client.get("/v1/products", headers=auth(a)).status_code == 429
    other = client.get("/v1/products/market-trends", headers=auth(b))
    assert other.status_code == 403 and other.headers["RateLimit-Remaining"] == "9"


def test_refusals_are_counted_in_metrics(client, world, clock):
    _, key = world.tenant("trial")
    for _ in range(12):
        client.get("/v1/products", headers=auth(key))
    text = client.get("/metrics").text
    assert 'tollgate_api_rate_limit_refusals_total{tier="trial"} 2.0' in text
