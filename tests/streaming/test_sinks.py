"""The sinks against real stores: live store (SQLite, PostgreSQL), landing and quarantine."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from bytewax.testing import TestingSource, run_main
from sqlalchemy import create_engine, text
from streamkit import T0, payment, purchase, raw, view

from streaming.flows.build import FlowOptions, build_flow
from streaming.sinks import EpochFileSink, LandingFiles
from tollgate.lake import Lake

ROOT_CATALOG = Path(__file__).resolve().parents[2] / "catalog.yaml"


def _run(settings, lines) -> None:
    flow = build_flow(settings, TestingSource(lines, batch_size=10), options=FlowOptions(4, 2))
    run_main(flow, epoch_interval=timedelta(0))


def _events():
    out = []
    for i in range(40):
        at = T0 + timedelta(seconds=20 * i)
        out += [view(f"c-{i % 5}", at=at), payment(f"c-{i % 5}", at=at + timedelta(seconds=1))]
    return out + [purchase("c-1", at=T0 + timedelta(minutes=14), amount=9900)]


def _check_live_store(url: str, events) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        risk = conn.execute(
            text(
                "SELECT transaction_id, event_at, processed_at, fraud_score"
                " FROM live_transaction_risk"
            )
        ).all()
        marks = dict(
            conn.execute(text("SELECT product_id, watermark_at FROM live_watermarks")).all()
        )
        minutes = conn.execute(
            text("SELECT sum(events), sum(revenue_cents) FROM live_region_activity")
        ).one()
    engine.dispose()
    payments = [e for e in events if e.event_type == "card_transaction"]
    assert sorted(r[0] for r in risk) == sorted(e.payload.transaction_id for e in payments)
    assert all(r[2] is not None and r[1] is not None and 0 <= r[3] <= 1 for r in risk)
    assert str(marks["transaction-risk"])[:19] == str(max(e.event_time for e in payments))[:19]
    assert set(marks) == {"transaction-risk", "region-activity", "customer-journey-insights"}
    assert minutes == (len(events), 9900)


def test_live_store_on_sqlite_gets_every_product_and_watermarks(settings):
    events = _events()
    _run(settings, raw(*events) + raw(*events[:10]))  # replays change nothing
    _check_live_store(settings.live_store_url, events)


@pytest.mark.postgres
def test_live_store_on_postgresql(settings, postgres_url):
    settings = settings.model_copy(update={"live_store_url": postgres_url})
    events = _events()
    _run(settings, raw(*events))
    _run(settings, raw(*events))  # a second run over the same events upserts the same keys
    _check_live_store(postgres_url, events)


def test_landing_files_are_hive_partitioned_and_named_by_writer_and_epoch(settings):
    events = _events()
    _run(settings, raw(*events))
    lake = Lake.from_settings(settings)
    files = sorted(lake.landing_dir("card_transactions").glob("*/*/*.parquet"))
    assert files and all(f.parent.name == "event_hour=12" for f in files)
    assert all(f.parent.parent.name == "event_date=2026-11-20" for f in files)
    assert {f.name.split("-")[1] for f in files} <= {"w0", "w1"}
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    assert sorted(r["transaction_id"] for r in rows) == sorted(
        e.payload.transaction_id for e in events if e.event_type == "card_transaction"
    )
    assert {r["is_fraud"] for r in rows} == {False}


def test_a_resumed_writer_deletes_its_uncommitted_epochs_only(settings):
    lake = Lake.from_settings(settings)
    files = LandingFiles(lake)
    for writer, epoch in [("w0", 5), ("w0", 6), ("w0", 7), ("w1", 7)]:
        files.write(writer, epoch, files.prepare([view(at=T0)]))
    sink = EpochFileSink(files, writers=2)
    part = sink.build_part("landing", "w0", resume_state=6)
    names = sorted(p.name for p in lake.landing_dir("behavior_events").glob("*/*/*.parquet"))
    assert names == ["part-w0-000000000005.parquet", "part-w1-000000000007.parquet"]
    part.write_batch([[view(at=T0)]])
    assert part.snapshot() == 7
    assert lake.landing_file("behavior_events", T0.date(), 12, "w0", 6).exists()


def test_a_stream_restarted_before_its_first_commit_starts_over_from_its_first_epoch(settings):
    lake = Lake.from_settings(settings)
    files = LandingFiles(lake)
    earlier_stream = lake.landing_file("behavior_events", T0.date(), 12, "w0", 99)
    files.write("w0", 99, files.prepare([view(at=T0)]))
    sink = EpochFileSink(files, writers=1, first_epoch=100)
    part = sink.build_part("landing", "w0", resume_state=None)
    part.write_batch([[view(at=T0)], [view(at=T0)]])
    assert part.snapshot() == 101  # written, then killed before the commit
    crashed = lake.landing_file("behavior_events", T0.date(), 12, "w0", 100)
    torn = crashed.with_name(f".{crashed.name}.4242.tmp")  # a kill in the middle of a write
    torn.write_bytes(b"PAR1")
    assert crashed.exists()
    sink.build_part("landing", "w0", resume_state=None)
    assert not crashed.exists() and not torn.exists()
    assert earlier_stream.exists()


def test_quarantine_lands_as_jsonl_with_the_raw_payload(settings):
    _run(settings, [b"{broken", *raw(view(at=T0))])
    lake = Lake.from_settings(settings)
    lines = [
        line for f in lake.quarantine_dir().glob("*/*.jsonl") for line in f.read_text().splitlines()
    ]
    assert len(lines) == 1 and '"raw": "{broken"' in lines[0] and '"reason": "bad_json"' in lines[0]


def _risk_row(transaction_id: str) -> dict:
    return {
        "transaction_id": transaction_id,
        "customer_id": "c-1",
        "region": "EU",
        "event_at": T0,
        "processed_at": T0,
        "amount_cents": 1200,
        "merchant_category": "books",
        "fraud_score": 0.1,
        "risk_level": "low",
        "risk_reasons": "",
    }


def _stamp_waits_for(url: str, hold_lock) -> None:
    """A writer blocked behind another transaction stamps processed_at after that commits."""
    from streaming.sinks.livestore import LiveStoreSink
    from tollgate.catalog import load_catalog
    from tollgate.clock import utcnow
    from tollgate.db.engine import make_engine
    from tollgate.livestore import LiveStore

    catalog = load_catalog(ROOT_CATALOG)
    engine = make_engine(url)
    LiveStore(catalog).create_all(engine)
    partition = LiveStoreSink(url, catalog).build("live", 0, 1)
    with engine.connect() as holder:
        hold_lock(holder)
        writer = threading.Thread(
            target=partition.write_batch, args=([("transaction-risk", [_risk_row("tx-a")], T0)],)
        )
        writer.start()
        time.sleep(0.3)  # the writer is now waiting for the lock
        released_at = utcnow()
        holder.commit()
    writer.join(10)
    partition.close()
    with engine.connect() as conn:
        stamped = conn.execute(
            text("SELECT processed_at FROM live_transaction_risk WHERE transaction_id = 'tx-a'")
        ).scalar_one()
    engine.dispose()
    stamped = stamped if isinstance(stamped, datetime) else datetime.fromisoformat(stamped)
    assert stamped.replace(tzinfo=UTC) >= released_at


def test_processed_at_follows_commit_order_on_sqlite(settings):
    _stamp_waits_for(
        settings.live_store_url,
        lambda conn: conn.exec_driver_sql(
            "UPDATE live_watermarks SET product_id = product_id WHERE 1 = 0"
        ),
    )


@pytest.mark.postgres
def test_processed_at_follows_commit_order_on_postgresql(postgres_url):
    from streaming.sinks.livestore import _PG_LOCK_KEY

    _stamp_waits_for(
        postgres_url,
        lambda conn: conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY}),
    )
