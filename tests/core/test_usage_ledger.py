import asyncio
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tollgate.billing.ledger_reads import read_daily_usage
from tollgate.db.engine import engine_for
from tollgate.db.migrate import upgrade
from tollgate.db.models import UsageRecord
from tollgate.journal_segments import SEGMENT_PREFIX, read_segment
from tollgate.usage import Delivery, idempotent_delivery_id
from tollgate.usage_journal import JournalError
from tollgate.usage_writer import UsageLedger

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


def _exactly_once(url: str, journal_dir) -> None:
    upgrade(url)
    ledger = UsageLedger(url, journal_dir, batch_size=50, flush_interval=0.01)
    ledger.start()

    def client(t: int) -> None:
        for i in range(300):
            ledger.wait(ledger.record(_delivery(f"{t}-{i}")))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    # A journal replayed twice, a batch written again: the same records again.
    for i in range(100):
        ledger.record(_delivery(f"0-{i}"))
    ledger.close()
    ids = _ledger_ids(url)
    assert len(ids) == len(set(ids)) == 8 * 300
    assert _ledger_units(url) == 8 * 300
    assert ledger.pending() == 0
    assert not _segments(journal_dir)  # everything is in the database: the journal is gone


def _segments(journal_dir) -> list:
    return sorted(journal_dir.glob(f"{SEGMENT_PREFIX}*"))


def test_concurrent_records_with_duplicates_land_exactly_once_sqlite(settings, tmp_path):
    _exactly_once(settings.metadata_db_url, tmp_path / "journal")


@pytest.mark.postgres
def test_concurrent_records_with_duplicates_land_exactly_once_postgres(postgres_url, tmp_path):
    _exactly_once(postgres_url, tmp_path / "journal")


def test_close_writes_everything_recorded_without_waiting_for_the_interval(settings, tmp_path):
    url = settings.metadata_db_url
    upgrade(url)
    # A long interval and a big batch: only close() can have written these.
    ledger = UsageLedger(url, tmp_path / "journal", batch_size=10_000, flush_interval=30)
    ledger.start()
    for i in range(1234):
        ledger.record(_delivery(i))
    ledger.close()
    assert len(_ledger_ids(url)) == 1234


def test_a_durable_delivery_is_on_disk_before_the_database_has_it(settings, tmp_path):
    url = settings.metadata_db_url
    upgrade(url)
    journal = tmp_path / "journal"
    ledger = UsageLedger(url, journal, flush_interval=30)
    ledger.start()
    try:
        ledger.wait(ledger.record(_delivery("a")))
        lines = [json.loads(line) for s in _segments(journal) for line in read_segment(s)]
        assert [d["delivery_id"] for d in lines] == ["req-a"]
        assert _ledger_ids(url) == []  # the database writer has not run yet
    finally:
        ledger.close()
    assert _ledger_ids(url) == ["req-a"]


@pytest.fixture
def flushes(monkeypatch) -> list[int]:
    """The file descriptors of every journal fdatasync, in order; each takes at least
    `flushes.delay` seconds (a slow disk, when a test sets it)."""
    seen = _Flushes()
    real = os.fdatasync

    def counted(fd: int) -> None:
        seen.append(fd)
        time.sleep(seen.delay)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counted)
    return seen


class _Flushes(list):
    delay = 0.0


def test_many_waiters_share_one_disk_flush(settings, tmp_path, flushes):
    url = settings.metadata_db_url
    upgrade(url)
    flushes.delay = 0.005  # a slow disk: requests pile up behind each flush
    ledger = UsageLedger(url, tmp_path / "journal")
    ledger.start()

    async def requests() -> None:
        async def one(i: int) -> None:
            await ledger.durable(ledger.record(_delivery(i)))

        await asyncio.gather(*(one(i) for i in range(500)))

    asyncio.run(requests())
    ledger.close()
    assert len(_ledger_ids(url)) == 500
    assert len(flushes) < 100  # group commit: far fewer flushes than deliveries


def test_the_answers_of_one_event_loop_step_share_one_disk_flush(settings, tmp_path, flushes):
    """On an event loop the journal is woken once the loop's step is done, not by the first
    line: every answer made in that step is in the one flush."""
    url = settings.metadata_db_url
    upgrade(url)
    ledger = UsageLedger(url, tmp_path / "journal")
    ledger.start()

    async def one_step() -> int:
        tickets = []
        for i in range(5):  # no await between them, but time for the journal thread to run
            tickets.append(ledger.record(_delivery(i)))
            time.sleep(0.01)
        await asyncio.gather(*(ledger.durable(t) for t in tickets))
        return len(flushes)

    assert asyncio.run(one_step()) == 1
    # A thread with no event loop wakes the journal at once, as before.
    ledger.wait(ledger.record(_delivery("from-a-thread")), timeout=10)
    ledger.close()
    assert len(_ledger_ids(url)) == 6


def test_database_down_keeps_the_journal_and_the_next_start_replays_it(settings, tmp_path):
    url = settings.metadata_db_url
    journal = tmp_path / "journal"
    # No schema yet: every write fails as if the database were unreachable.
    ledger = UsageLedger(url, journal, batch_size=40, flush_interval=0.01, retry_delay=0.001)
    ledger.start()
    for i in range(100):
        ledger.wait(ledger.record(_delivery(i)))
    ledger.close()
    kept = _segments(journal)
    assert sum(len(read_segment(p)) for p in kept) == 100

    upgrade(url)  # the database is back
    restarted = UsageLedger(url, journal, flush_interval=0.01)
    restarted.start()
    restarted.record(_delivery(5))  # a delivery already in the journal, again
    restarted.record(_delivery(100))
    restarted.close()
    assert sorted(_ledger_ids(url)) == sorted(f"req-{i}" for i in range(101))
    assert not _segments(journal)


def test_a_long_outage_leaves_deliveries_to_the_journal_not_to_memory(settings, tmp_path):
    url = settings.metadata_db_url  # no schema yet: every database write fails
    ledger = UsageLedger(
        url, tmp_path / "journal", flush_interval=0.01, retry_delay=0.001, max_pending=50
    )
    ledger.start()
    try:
        for i in range(300):
            ledger.wait(ledger.record(_delivery(i)))
        deadline = time.monotonic() + 10
        while ledger.pending() > 50:
            assert time.monotonic() < deadline, "memory kept growing"
            time.sleep(0.01)
        upgrade(url)  # the database is back: the dropped deliveries come from the journal
        deadline = time.monotonic() + 20
        while len(_ledger_ids(url)) < 300:
            assert time.monotonic() < deadline, f"only {len(_ledger_ids(url))} replayed"
            time.sleep(0.05)
    finally:
        ledger.close()
    assert sorted(_ledger_ids(url)) == sorted(f"req-{i}" for i in range(300))


def test_a_failed_disk_flush_fails_its_waiters_and_bills_nothing(settings, tmp_path, monkeypatch):
    url = settings.metadata_db_url
    upgrade(url)
    ledger = UsageLedger(url, tmp_path / "journal", flush_interval=0.01)
    ledger.start()
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (_ for _ in ()).throw(OSError(5, "EIO")))
    with pytest.raises(JournalError):
        ledger.wait(ledger.record(_delivery("lost")))
    monkeypatch.setattr(os, "fdatasync", real)
    ledger.wait(ledger.record(_delivery("kept")))
    ledger.close()
    # The failed line was cut from its segment: no replay can bill the unsent answer.
    assert _ledger_ids(url) == ["req-kept"]


def test_a_torn_last_line_is_left_out_of_the_replay(settings, tmp_path):
    url = settings.metadata_db_url
    upgrade(url)
    journal = tmp_path / "journal"
    journal.mkdir()
    whole = "".join(_delivery(i).to_json() + "\n" for i in range(3))
    (journal / f"{SEGMENT_PREFIX}00000000000000000001-1-dead.jsonl").write_text(
        whole + _delivery(3).to_json()[:40]
    )
    assert UsageLedger(url, journal).replay_orphans() == 3
    assert sorted(_ledger_ids(url)) == ["req-0", "req-1", "req-2"]
    assert not _segments(journal)


def test_a_running_ledgers_journal_is_not_replayed_by_another(settings, tmp_path):
    url = settings.metadata_db_url
    upgrade(url)
    journal = tmp_path / "journal"
    running = UsageLedger(url, journal, flush_interval=30)
    running.start()
    try:
        running.wait(running.record(_delivery("mine")))
        assert UsageLedger(url, journal).replay_orphans() == 0
        assert _segments(journal)
    finally:
        running.close()


def test_a_record_only_grows_and_a_reversal_voids_it(settings, tmp_path):
    url = settings.metadata_db_url
    upgrade(url)
    ledger = UsageLedger(url, tmp_path / "journal", flush_interval=0.01)
    ledger.start()
    window = _delivery("window", units=2)
    ledger.record(window)
    ledger.record(_delivery("window", units=5))  # the window grew before it was written
    ledger.record(_delivery("window", units=3))  # an older line replayed later: no shrink
    sent = _delivery("sent", units=1)
    ledger.record(sent)
    ledger.wait(ledger.void(sent))  # its answer never left
    ledger.close()
    with engine_for(url).connect() as conn:
        rows = {
            r.delivery_id: (r.units, r.status)
            for r in conn.execute(select(UsageRecord.delivery_id, UsageRecord.units,
                                         UsageRecord.status))
        }  # fmt: skip
    assert rows == {
        "req-window": (5, "delivered"),
        "req-sent": (1, "delivered"),
        "void:req-sent": (-1, "reversal"),
    }
    usage = read_daily_usage(engine_for(url), AT.date(), AT.date() + timedelta(days=1))
    assert usage.select("requests", "units").rows() == [(1, 5)]  # the voided one nets out


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
from tollgate.usage import Delivery
from tollgate.usage_writer import UsageLedger

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
        [python, "-c", CHILD, url, str(tmp_path / "journal")], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "recording"
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=60)
    recorded = int(out.split()[-1])
    assert child.returncode == 0 and recorded >= 2000
    assert len(_ledger_ids(url)) == recorded


KILLED_CHILD = """
import sys
from datetime import UTC, datetime
from tollgate.usage import Delivery
from tollgate.usage_writer import UsageLedger

ledger = UsageLedger(sys.argv[1], sys.argv[2], flush_interval=0.05)
ledger.start()
i = 0
while True:
    ledger.wait(ledger.record(Delivery(f"d{i}", "acme", "transaction-risk", "query", 1,
                                       occurred_at=datetime.now(UTC))))
    print(i, flush=True)  # acknowledged: the answer would leave now
    i += 1
"""


def test_kill_9_loses_no_acknowledged_delivery(settings, tmp_path, python):
    import signal
    import subprocess

    url = settings.metadata_db_url
    upgrade(url)
    journal = tmp_path / "journal"
    child = subprocess.Popen(
        [python, "-c", KILLED_CHILD, url, str(journal)], stdout=subprocess.PIPE, text=True
    )
    acknowledged = -1
    while acknowledged < 1500:
        acknowledged = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    acknowledged = max([acknowledged, *(int(x) for x in child.stdout.read().split())])
    before = set(_ledger_ids(url))
    replayed = UsageLedger(url, journal).replay_orphans()
    ids = set(_ledger_ids(url))
    assert {f"d{i}" for i in range(acknowledged + 1)} <= ids
    assert replayed and len(before) < len(ids)  # the kill left some only in the journal
    # Nothing else: at most the one delivery journaled but not yet acknowledged.
    assert ids <= {f"d{i}" for i in range(acknowledged + 2)}
    assert not _segments(journal)


def test_the_delivery_trail_survives_the_journal_and_lands_in_the_ledger(settings, tmp_path):
    from dataclasses import replace

    from sqlalchemy.orm import Session

    from tollgate.usage import trail_at

    url = settings.metadata_db_url
    upgrade(url)
    at = datetime(2026, 11, 24, 12, 0, 10, tzinfo=UTC)
    watermark = datetime(2026, 11, 24, 12, 0, 2, 500000, tzinfo=UTC)
    trail = trail_at(at, "1.3", watermark, "degraded", "v000004")
    assert trail.freshness_seconds == 7.5  # 12:00:10 - 12:00:02.5
    d = replace(_delivery("trail"), occurred_at=at, **trail.fields())
    assert Delivery.from_json(d.to_json()) == d
    # Written through the journal (and replayed by a new process when it crashed first).
    (tmp_path / "journal").mkdir()
    (tmp_path / "journal" / "usage-journal-crashed.jsonl").write_text(d.to_json() + "\n")
    ledger = UsageLedger(url, tmp_path / "journal")
    ledger.start()
    ledger.close()
    with Session(engine_for(url)) as session:
        row = session.get(UsageRecord, "req-trail")
    assert (row.schema_version, row.snapshot_version, row.quality_status) == (
        "1.3",
        "v000004",
        "degraded",
    )
    assert (row.watermark_at, row.freshness_seconds) == (watermark, 7.5)
