"""Without Redis, restarts refill no budget: a trial tenant (10 requests an hour) gets 10
answers across an API process stopped by SIGTERM, then killed with SIGKILL, in between."""

from __future__ import annotations

import signal

import httpx
import pytest
from apiworld import auth, free_port, start_api, wait_ready

from tollgate.settings import Settings


@pytest.mark.slow
def test_a_restarted_api_remembers_every_budget(world, api_settings: Settings):
    _, key = world.tenant("trial")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"TOLLGATE_REDIS_URL": None}
    answered = []

    def spend(n: int) -> list[int]:
        codes = [
            httpx.get(f"{base}/v1/products", headers=auth(key), timeout=10).status_code
            for _ in range(n)
        ]
        answered.extend(c for c in codes if c == 200)
        return codes

    proc = start_api(api_settings, port, env)
    try:
        wait_ready(base, proc)
        assert spend(6) == [200] * 6
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        proc = start_api(api_settings, port, env)
        wait_ready(base, proc)
        assert spend(3) == [200] * 3
        proc.send_signal(signal.SIGKILL)  # no shutdown hook runs
        proc.wait(10)
        proc = start_api(api_settings, port, env)
        wait_ready(base, proc)
        assert spend(3) == [200, 429, 429]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    assert len(answered) == 10
