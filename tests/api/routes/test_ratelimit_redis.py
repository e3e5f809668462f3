"""Two real API processes share one tenant's hourly budget through Redis."""

from __future__ import annotations

import subprocess

import httpx
import pytest
from apiworld import auth, free_port, start_api, wait_ready

pytestmark = pytest.mark.redis


def test_two_processes_together_accept_no_more_than_the_tier_limit(world, api_settings, redis_url):
    _, key = world.tenant("trial")  # 10 requests per hour
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
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
