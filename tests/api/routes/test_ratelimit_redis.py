"""Two real API processes share one tenant's budgets through Redis: its hourly requests
and its open push streams."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
from apiworld import auth, free_port, start_api, wait_ready

from api.connections import ConnectionBudget

pytestmark = pytest.mark.redis


def test_two_processes_together_hold_the_tier_limits(world, api_settings, redis_url):
    _, key = world.tenant("trial")  # 10 requests per hour, 1 open stream
    _, streamer = world.tenant("trial")
    ports = [free_port(), free_port()]
    procs = [start_api(api_settings, p, {"TOLLGATE_REDIS_URL": redis_url}) for p in ports]
    try:
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for base, proc in zip(bases, procs, strict=True):
            wait_ready(base, proc)
        statuses = {bases[0]: [], bases[1]: []}
        for i in range(30):
            base = bases[i % 2]
            statuses[base].append(
                httpx.get(f"{base}/v1/products", headers=auth(key), timeout=10).status_code
            )
        accepted = sum(s == 200 for codes in statuses.values() for s in codes)
        assert accepted == 10
        assert all(200 in codes for codes in statuses.values())  # both drew from the one budget
        assert all(s in (200, 429) for codes in statuses.values() for s in codes)

        stream = "/v1/live/transaction-risk/stream"
        with (
            httpx.Client(timeout=10) as http,
            http.stream("GET", bases[0] + stream, headers=auth(streamer)) as first,
        ):
            assert first.status_code == 200
            other = http.get(bases[1] + stream, headers=auth(streamer))
            assert other.status_code == 429  # the stream open on the other process counts
            assert other.json()["error"]["code"] == "too_many_connections"
        deadline = time.monotonic() + 10
        while True:  # closed on the first process: the second admits one
            with (
                httpx.Client(timeout=10) as http,
                http.stream("GET", bases[1] + stream, headers=auth(streamer)) as again,
            ):
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the closed stream's lease was not given back"
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_the_streams_of_a_replica_that_died_stop_counting(redis_url):
    dead = ConnectionBudget(redis_url, lease_seconds=1)
    alive = ConnectionBudget(redis_url, lease_seconds=1)
    assert dead.acquire("acme", 1) is not None  # then the process dies: no renewal, no release
    lease = alive.acquire("acme", 1)
    assert lease is None
    time.sleep(0.6)
    assert alive.acquire("acme", 1) is None
    time.sleep(0.6)  # the dead replica's lease lapsed
    lease = alive.acquire("acme", 1)
    assert lease is not None
    time.sleep(0.6)
    assert alive.renew() == 1  # the living one renews: its stream keeps counting
    time.sleep(0.6)
    assert dead.acquire("acme", 1) is None
    alive.release(lease)
    assert dead.acquire("acme", 1) is not None
    dead.close()
    alive.close()
