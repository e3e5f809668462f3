"""Hourly budgets per tenant (sliding window counter): headers on every response, 429 with
an honest Retry-After, refusals that consume nothing, memory that does not grow with traffic,
and failed logins throttled per address."""

from __future__ import annotations

import math
import time

import limits.storage.memory as memory_storage
import limits.strategies as strategies
import pytest
from apiworld import auth

import api.ratelimit
import api.ratestore

HOUR = 3600


class _Clock:
    """Stands in for the `time` module of the limiter so a test can move through hours."""

    def __init__(self) -> None:
        # Start just after an hour boundary: the counter's windows are clock hours.
        self.offset = math.ceil(time.time() / HOUR) * HOUR + 1 - time.time()

    def time(self) -> float:
        return time.time() + self.offset

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    for module in (memory_storage, strategies, api.ratelimit, api.ratestore):
        monkeypatch.setattr(module, "time", fake)
    return fake


def test_exhaustion_429_with_retry_after_and_refusals_do_not_consume(client, world, clock):
    _, key = world.tenant("trial")  # 10 requests per hour
    remaining = []
    for _ in range(10):
        r = client.get("/v1/products", headers=auth(key))
        assert r.status_code == 200
        remaining.append(int(r.headers["RateLimit-Remaining"]))
        assert r.headers["RateLimit-Limit"] == "10"
    assert remaining == list(range(9, -1, -1))
    for _ in range(5):
        refused = client.get("/v1/products", headers=auth(key))
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["RateLimit-Remaining"] == "0"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= HOUR
    # Retry-After is honest: just before it nothing is freed, once it has passed one is.
    clock.offset += wait - 5
    assert client.get("/v1/products", headers=auth(key)).status_code == 429
    clock.offset += 6
    assert client.get("/v1/products", headers=auth(key)).status_code == 200
    assert client.get("/v1/products", headers=auth(key)).status_code == 429
    # Two hours on, the refused requests having left no trace, the whole budget is back.
    clock.offset += 2 * HOUR
    r = client.get("/v1/products", headers=auth(key))
    assert r.status_code == 200 and r.headers["RateLimit-Remaining"] == "9"


def test_the_window_slides(client, world, clock):
    _, key = world.tenant("trial")
    for _ in range(10):
        assert client.get("/v1/products", headers=auth(key)).status_code == 200
    # 27 minutes into the next hour, 55% of the last hour still counts (5.5 requests):
    # 5 more get in (the counter rounds the weighted count down).
    clock.offset += HOUR + 0.45 * HOUR - 1
    codes = [client.get("/v1/products", headers=auth(key)).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2


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


def test_memory_does_not_grow_with_a_tenants_traffic(app, world, clock):
    limits = app.state.services.limits
    _, key = world.tenant("premium")
    tenant = world.tenant("standard")[0]
    for i in range(3000):
        limits.hit(tenant, "standard")
        if i % 1000 == 0:
            clock.offset += HOUR  # three windows come and go
    storage = limits.storage
    # Two counters per tenant and window (this hour's, the last's): not one per request.
    assert len(storage.storage) <= 2 and not storage.events
    assert key  # (the premium tenant made no request: it holds nothing)


def test_repeated_failed_logins_are_throttled_per_address(client, world):
    _, key = world.tenant("standard")
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    codes = [client.get("/v1/products", headers=auth(wrong)).status_code for _ in range(22)]
    assert codes[:20] == [401] * 20 and codes[20:] == [429, 429]
    refused = client.get("/v1/products", headers=auth(wrong))
    assert refused.json()["error"]["code"] == "too_many_failed_logins"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The address is refused before any check, even with a good key: guessing is stopped.
    assert client.get("/v1/products", headers=auth(key)).status_code == 429
    token = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "tgc_x", "client_secret": "y"},
    )
    assert token.status_code == 429


def test_the_embedded_counters_decide_in_one_pass_as_limits_does(world, monkeypatch, tmp_path):
    """The embedded storage reads a window once for the decision and its headers; limits'
    limiter (as with Redis) reads it twice: the same decisions, remaining and resets."""

    class Frozen:
        now = math.ceil(time.time() / HOUR) * HOUR + 7.0

        def time(self) -> float:
            return self.now

        def __getattr__(self, name):
            return getattr(time, name)

    clock = Frozen()
    for module in (memory_storage, strategies, api.ratelimit, api.ratestore):
        monkeypatch.setattr(module, "time", clock)
    one_pass = api.ratelimit.TenantRateLimits(
        world.catalog, api.ratestore.DurableMemoryStorage(tmp_path)
    )
    two_reads = api.ratelimit.TenantRateLimits(world.catalog, memory_storage.MemoryStorage())
    assert one_pass._one_pass and not two_reads._one_pass
    decisions = []
    for step in [0, 1, 1, 1, 60, 600, 1200, 1800, 5, 5, 2400, 3600, 900, 7200, 0, 0]:
        clock.now += step
        for tenant in ("a", "b"):
            for _ in range(3 if tenant == "a" else 1):
                mine, theirs = one_pass.hit(tenant, "trial"), two_reads.hit(tenant, "trial")
                assert mine == theirs, (step, tenant)
                decisions.append(mine.allowed)
    assert True in decisions and False in decisions  # both outcomes were compared
    one_pass.close()
