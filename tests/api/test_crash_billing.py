"""kill -9 of a real API process under load loses no answered delivery.

Clients hammer metered lookups and log the `X-Delivery-ID` of every 200 they receive. The
API is killed with SIGKILL mid-load, restarted (which replays its usage journal) and
stopped. The ledger then holds every delivery a client was answered, and besides them at
most the requests that were in flight at the kill (journaled, never answered).
"""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest
from apiworld import World, auth, free_port, risk_row, start_api, wait_ready
from sqlalchemy import select

from api.metering import journal_dir
from tollgate.db.engine import make_engine
from tollgate.db.migrate import upgrade
from tollgate.db.models import UsageRecord
from tollgate.settings import Settings


def _ledger(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings.metadata_db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(UsageRecord.delivery_id, UsageRecord.units)).all()
    engine.dispose()
    return dict(rows)


def _kill_9_under_load(settings: Settings) -> None:
    world = World(settings)
    world.live_rows("transaction-risk", [risk_row(i) for i in range(50)])
    _, key = world.tenant("premium")
    env = {"TOLLGATE_METADATA_DB_URL": settings.metadata_db_url, "TOLLGATE_REDIS_URL": None}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_api(settings, port, env)
    answered: list[str] = []
    unanswered = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            i = n
            while not stop.is_set():
                i += 4
                try:
                    r = http.get(f"/v1/live/transaction-risk/tx-{i % 50:05d}", headers=auth(key))
                except httpx.TransportError:
                    with lock:
                        unanswered[0] += 1
                    return  # the server is gone
                assert r.status_code == 200, r.text
                with lock:
                    answered.append(r.headers["X-Delivery-ID"])

    try:
        wait_ready(base, proc)
        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(answered) < 150:  # about 0.5 s of load: the database writer lags behind
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(15)
        before_replay = _ledger(settings)
        assert list(journal_dir(settings).glob("usage-journal-*"))
        proc = start_api(settings, port, env)  # the restart replays the journal
        wait_ready(base, proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    ledger = _ledger(settings)
    missing_before = set(answered) - set(before_replay)
    assert missing_before, "the kill should have caught answers only the journal held"
    assert set(answered) <= set(ledger)  # no answered delivery lost
    extra = set(ledger) - set(answered)
    assert len(extra) <= unanswered[0]  # only what was in flight at the kill
    assert all(units == 1 for units in ledger.values())
    assert not list(journal_dir(settings).glob("usage-journal-*"))


@pytest.mark.slow
def test_kill_9_loses_no_answered_delivery_sqlite(api_settings: Settings):
    _kill_9_under_load(api_settings)


@pytest.mark.slow
@pytest.mark.postgres
def test_kill_9_loses_no_answered_delivery_postgres(settings: Settings, postgres_url: str):
    pg = settings.model_copy(update={"metadata_db_url": postgres_url})
    upgrade(pg.metadata_db_url)
    _kill_9_under_load(pg)
