"""Where the synthetic source delivers: JSONL files, the landing zone, live batches, Kafka."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.dataset as ds
import pytest

from tollgate.clock import utcnow
from tollgate.events.contract import REGIONS, InvalidEvent, event_to_json, parse_event
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import (
    backfill_landing,
    live_feed,
    produce_to_kafka,
    region_partition,
    write_jsonl,
)
from tollgate.lake import Lake

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_jsonl_files_hold_every_line_in_order(tmp_path):
    source = SyntheticSource(GeneratorConfig(seed=2, malformed_rate=0.05, duplicate_rate=0.05))
    lines = list(source.raw(START, count=2500))
    paths = write_jsonl(iter(lines), tmp_path / "out", lines_per_file=1000)
    assert [p.name for p in paths] == ["part-00000.jsonl", "part-00001.jsonl", "part-00002.jsonl"]
    read_back = [line for p in paths for line in p.read_bytes().splitlines()]
    assert read_back == lines
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in paths]
    with pytest.raises(ValueError):
        write_jsonl(iter(lines), tmp_path / "x", lines_per_file=0)


def test_backfill_lands_hive_partitions_that_duckdb_reads_and_rerun_overwrites(settings):
    lake = Lake.from_settings(settings)
    source = SyntheticSource(GeneratorConfig(seed=6, events_per_second=1.0, fraud_rate=0.05))
    end = START + timedelta(hours=3)
    counts = backfill_landing(lake, source, START, end)
    events = list(source.events(START, end=end))
    expected = Counter(
        "card_transactions" if e.event_type == "card_transaction" else "behavior_events"
        for e in events
    )
    assert counts == dict(expected) and sum(counts.values()) == len(events)

    files = sorted(lake.landing_dir("behavior_events").rglob("*.parquet"))
    assert [f.parent.name for f in files] == ["event_hour=09", "event_hour=10", "event_hour=11"]
    assert all(f.name == "part-backfill-000000000000.parquet" for f in files)

    def landed(dataset: str) -> list[tuple]:
        query = (
            "select event_id, event_date, event_hour, event_at"
            " from read_parquet(?, hive_partitioning = true)"
        )
        return duckdb.sql(query, params=[lake.landing_glob(dataset)]).fetchall()

    rows = landed("behavior_events") + landed("card_transactions")
    assert sorted(r[0] for r in rows) == sorted(e.event_id for e in events)
    for _, event_date, event_hour, event_at in rows:
        assert (str(event_date), int(event_hour)) == (event_at.date().isoformat(), event_at.hour)

    fraud = ds.dataset(str(lake.landing_dir("card_transactions")), partitioning="hive").to_table()
    assert fraud.column("is_fraud").to_pylist().count(True) > 0

    assert backfill_landing(lake, source, START, end) == counts
    assert sorted(lake.landing_dir("behavior_events").rglob("*.parquet")) == files
    assert len(landed("behavior_events") + landed("card_transactions")) == len(events)


def test_live_feed_hands_over_events_once_the_clock_reaches_them():
    source = SyntheticSource(GeneratorConfig(seed=3, events_per_second=100))
    stop = threading.Event()
    batches: list[tuple[datetime, list]] = []

    def sink(batch):
        batches.append((utcnow(), batch))

    started = utcnow()
    worker = threading.Thread(
        target=live_feed, args=(source, sink), kwargs={"stop": stop, "flush_every": 0.2}
    )
    worker.start()
    time.sleep(2.0)
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    events = [e for _, batch in batches for e in batch]
    assert len(batches) >= 4 and len(events) > 50
    for handed_at, batch in batches:
        assert all(started <= e.event_time <= handed_at for e in batch)
    times = [e.event_time for e in events]
    assert times == sorted(times)
    assert len({e.event_id for e in events}) == len(events)


def test_region_partition_is_the_region_index_or_a_stable_hash():
    event = next(SyntheticSource().events(START, count=1))
    line = event_to_json(event)
    assert region_partition(line) == REGIONS.index(event.region)
    for garbage in (b"{not json", b"[1, 2]", b'{"region": "Mars"}'):
        assert region_partition(garbage) == region_partition(garbage) < len(REGIONS)


@pytest.mark.kafka
def test_kafka_topic_is_partitioned_by_region(kafka_brokers):
    from confluent_kafka import Consumer, TopicPartition

    config = GeneratorConfig(seed=12, malformed_rate=0.05, duplicate_rate=0.02)
    lines = list(SyntheticSource(config).raw(START, count=1500))
    topic = f"events-{time.monotonic_ns()}"
    assert produce_to_kafka(iter(lines), kafka_brokers, topic) == len(lines)

    consumer = Consumer(
        {"bootstrap.servers": kafka_brokers, "group.id": topic, "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(len(REGIONS))])
    received: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + 30
    while len(received) < len(lines) and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            received.append((message.partition(), message.value()))
    consumer.close()
    assert Counter(v for _, v in received) == Counter(lines)
    regions_seen = set()
    for partition, value in received:
        try:
            event = parse_event(value, now=START + timedelta(days=1))
        except InvalidEvent:
            continue
        assert partition == REGIONS.index(event.region)
        regions_seen.add(event.region)
    assert regions_seen == set(REGIONS)
    # Order within a partition follows production order (the wire's order).
    by_partition = [v for p, v in received if p == 0]
    assert by_partition == [line for line in lines if region_partition(line) == 0]
