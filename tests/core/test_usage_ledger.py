import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tollgate.db.engine import engine_for
from tollgate.db.migrate import upgrade
from tollgate.db.models import UsageRecord
from tollgate.usage import Delivery, UsageLedger, idempotent_delivery_id

AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _delivery(i: int | str, tenant: str = "acme", units: int = 1) -> Delivery:
    return Delivery(
        delivery_id=f"req-{i}",
        tenant_id=tenant,
        product_id="transaction-risk",
        kind="query",
        units=units,
        bytes=100,
        compute_ms=2.5,
        route="/v1/live/transaction-risk",
        occurred_at=AT,
    )


def _ledger_ids(url: str) -> list[str]:
    with engine_for(url).connect() as conn:
        return list(conn.scalars(select(UsageRecord.delivery_id)))


def _ledger_units(url: str) -> int:
    with engine_for(url).connect() as conn:
        return conn.scalar(select(func.coalesce(func.sum(UsageRecord.units), 0)))


def _exactly_once(url: str, spill_dir) -> None:
    upgrade(url)
    ledger = UsageLedger(url, spill_dir, batch_size=50, flush_interval=0.01)
    ledger.start()

    def client(t: int) -> None:
        for i in range(300):
            ledger.record(_delivery(f"{t}-{i}"))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # Client retries: the same delivery ids again, even with different units.
    for i in range(100):
        ledger.record(_delivery(f"0-{i}", units=99))
    ledger.close()
    ids = _ledger_ids(url)
    assert len(ids) == len(set(ids)) == 8 * 300
    assert _ledger_units(url) == 8 * 300
    assert ledger.pending() == 0
    assert not list(spill_dir.glob("*.jsonl"))


def test_concurrent_records_with_duplicates_land_exactly_once_sqlite(settings, tmp_path):
    _exactly_once(settings.metadata_db_url, tmp_path / "spill")


@pytest.mark.postgres
def test_concurrent_records_with_duplicates_land_exactly_once_postgres(postgres_url, tmp_path):
    _exactly_once(postgres_url, tmp_path / "spill")


def test_close_flushes_everything_recorded_without_waiting_for_the_interval(settings, tmp_path):
    url = settings.metadata_db_url
    upgrade(url)
    # A long interval and a big batch: only close() can have written these.
    ledger = UsageLedger(url, tmp_path / "spill", batch_size=10_000, flush_interval=30)
    ledger.start()
    for i in range(1234):
        ledger.record(_delivery(i))
    ledger.close()
    assert len(_ledger_ids(url)) == 1234


def test_database_down_spills_then_replays_on_next_start(settings, tmp_path):
    url = settings.metadata_db_url
    spill = tmp_path / "spill"
    # No schema yet: every write fails as if the database were unreachable.
    ledger = UsageLedger(url, spill, batch_size=40, flush_interval=0.01, retry_delay=0.001)
    ledger.start()
    for i in range(100):
        ledger.record(_delivery(i))
    ledger.close()
    spilled = list(spill.glob("usage-spill-*.jsonl"))
    assert spilled
    assert sum(len(p.read_text().splitlines()) for p in spilled) == 100

    upgrade(url)  # the database is back
    restarted = UsageLedger(url, spill, flush_interval=0.01)
    restarted.start()
    restarted.record(_delivery(5))  # a retry of an already-spilled delivery
    restarted.record(_delivery(100))
    restarted.close()
    assert sorted(_ledger_ids(url)) == sorted(f"req-{i}" for i in range(101))
    assert not list(spill.glob("*.jsonl"))


def test_database_and_spill_both_failing_keeps_deliveries_until_one_recovers(
    settings, tmp_path, monkeypatch
):
    url = settings.metadata_db_url  # no schema yet: every database write fails
    ledger = UsageLedger(url, tmp_path / "spill", flush_interval=0.01, retry_delay=0.001)
    ledger.start()

    spill_attempts = []

    def disk_full(batch):
        spill_attempts.append(len(batch))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ledger, "_spill", disk_full)
    for i in range(30):
        ledger.record(_delivery(i))
    deadline = time.monotonic() + 10
    while len(spill_attempts) < 3:  # the same batch, kept and tried again round after round
        assert time.monotonic() < deadline, "the writer stopped retrying"
        time.sleep(0.01)
    assert spill_attempts[:3] == [30, 30, 30] and ledger._thread.is_alive()
    upgrade(url)  # the database is back
    ledger.close()
    assert sorted(_ledger_ids(url)) == sorted(f"req-{i}" for i in range(30))


def test_closing_with_nowhere_to_write_logs_every_delivery(settings, tmp_path, caplog):
    url = settings.metadata_db_url  # no schema: the database refuses every write
    ledger = UsageLedger(url, tmp_path / "spill", retry_delay=0.001)
    ledger.start()
    ledger._spill = lambda batch: (_ for _ in ()).throw(OSError(28, "No space left"))
    for i in range(3):
        ledger.record(_delivery(i))
    with caplog.at_level("CRITICAL", logger="tollgate.usage"):
        ledger.close()
    logged = [r.getMessage() for r in caplog.records if r.levelname == "CRITICAL"]
    assert len(logged) == 3 and all('"delivery_id": "req-' in m for m in logged)
    assert ledger.pending() == 0


def test_a_partially_replayed_spill_is_not_counted_twice(settings, tmp_path):
    url = settings.metadata_db_url
    upgrade(url)
    spill = tmp_path / "spill"
    ledger = UsageLedger(url, spill)
    spill.mkdir()
    batch = [_delivery(i) for i in range(10)]
    ledger._spill(batch)
    ledger.start()
    ledger.record(_delivery(3))
    ledger.close()
    # A crash after the rows were written but before the file was deleted: replay again.
    ledger._spill(batch)
    assert UsageLedger(url, spill).replay_spills() == 10
    assert len(_ledger_ids(url)) == 10


def test_delivery_normalises_time_to_utc_and_rejects_naive():
    local = datetime(2026, 11, 24, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    d = Delivery("x", "t", "p", "query", 1, occurred_at=local)
    assert d.occurred_at.tzinfo == UTC and d.occurred_at.hour == 10
    assert Delivery.from_json(d.to_json()) == d
    with pytest.raises(ValueError):
        Delivery("x", "t", "p", "query", 1, occurred_at=datetime(2026, 11, 24))
    with pytest.raises(ValueError, match="delivery_id"):
        Delivery("x" * 129, "t", "p", "query", 1, occurred_at=local)
    assert len(Delivery("x", "t", "p", "query", 1, route="/" * 500, occurred_at=local).route) == 200


def test_idempotent_delivery_id():
    assert idempotent_delivery_id("acme", "k1") == "acme:idem:k1"


CHILD = """
import signal, sys, threading
from datetime import UTC, datetime
from tollgate.usage import Delivery, UsageLedger

ledger = UsageLedger(sys.argv[1], sys.argv[2], batch_size=100, flush_interval=5)
ledger.start()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())  # what a server's shutdown hook does
recorded = 0
while not stop.is_set():
    ledger.record(Delivery(f"d{recorded}", "acme", "transaction-risk", "query", 1,
                           occurred_at=datetime.now(UTC)))
    recorded += 1
    if recorded == 2000:
        print("recording", flush=True)
ledger.close()
print(recorded, flush=True)
"""


def test_sigterm_mid_stream_loses_nothing(settings, tmp_path, python):
    import signal
    import subprocess

    url = settings.metadata_db_url
    upgrade(url)
    child = subprocess.Popen(
        [python, "-c", CHILD, url, str(tmp_path / "spill")], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "recording"
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=60)
    recorded = int(out.split()[-1])
    assert child.returncode == 0 and recorded >= 2000
    assert len(_ledger_ids(url)) == recorded
