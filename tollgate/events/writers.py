"""Where the synthetic source delivers: JSONL files, a Kafka topic, the landing zone, live.

Each writer is deterministic where its input is: the JSONL files and the backfill's
landing files are named by position and partition, so a rerun overwrites instead of adding.
"""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from tollgate.clock import utcnow
from tollgate.events.contract import REGIONS, Event
from tollgate.events.generator import SyntheticSource
from tollgate.events.landing import landing_dataset, landing_row, landing_table, write_landing_file
from tollgate.lake import LANDING_DATASETS, Lake, utc_hour

KAFKA_PARTITIONS = len(REGIONS)
BACKFILL_WRITER = "backfill"
ONE_HOUR = timedelta(hours=1)


def write_jsonl(
    lines: Iterable[bytes], directory: Path, *, lines_per_file: int = 100_000
) -> list[Path]:
    """Write lines into `part-00000.jsonl`, `part-00001.jsonl`, ... Each file appears whole
    (written aside, then renamed), so a reader watching the directory never sees half a file;
    a file of the same name from an earlier run is replaced, others are left alone."""
    if lines_per_file < 1:
        raise ValueError("lines_per_file must be at least 1")
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    batch: list[bytes] = []

    def flush() -> None:
        path = directory / f"part-{len(paths):05d}.jsonl"
        tmp = directory / f".{path.name}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(b"\n".join(batch) + b"\n")
        os.replace(tmp, path)
        paths.append(path)
        batch.clear()

    for line in lines:
        batch.append(line)
        if len(batch) >= lines_per_file:
            flush()
    if batch:
        flush()
    return paths


def region_partition(line: bytes) -> int:
    """The Kafka partition of a raw line: its region's index, or a stable hash when the
    line has no known region (malformed lines still go somewhere deterministic)."""
    try:
        region = json.loads(line).get("region")
    except (ValueError, AttributeError):
        region = None
    if region in REGIONS:
        return REGIONS.index(region)
    return zlib.crc32(line) % KAFKA_PARTITIONS


def produce_to_kafka(lines: Iterable[bytes], brokers: str, topic: str) -> int:
    """Produce every line to `topic` (created with one partition per region if missing),
    partitioned by region; returns the number of lines the broker acknowledged."""
    from confluent_kafka import KafkaException, Producer

    ensure_topic(brokers, topic)
    producer = Producer(
        {"bootstrap.servers": brokers, "linger.ms": 20, "enable.idempotence": False}
    )
    failures: list[str] = []
    delivered = 0

    def on_delivery(err, _msg) -> None:
        nonlocal delivered
        if err is not None:
            failures.append(str(err))
        else:
            delivered += 1

    for line in lines:
        while True:
            try:
                producer.produce(
                    topic, line, partition=region_partition(line), on_delivery=on_delivery
                )
                break
            except BufferError:
                producer.poll(0.1)  # the local queue is full: let deliveries drain
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        first = failures[0] if failures else f"{remaining} messages unacknowledged"
        raise KafkaException(f"producing to {topic} failed: {first}")
    return delivered


def ensure_topic(brokers: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    # Quiet: an unreachable broker is reported once, by the exception, not logged per retry.
    admin = AdminClient({"bootstrap.servers": brokers, "log_level": 2})
    if topic in admin.list_topics(timeout=10).topics:
        return
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=KAFKA_PARTITIONS, replication_factor=1)]
    )
    try:
        futures[topic].result(30)
    except Exception as exc:  # a concurrent creator won the race: fine
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise


def land_events(lake: Lake, events: Iterable[Event], writer: str, epoch: int) -> dict[str, int]:
    """Land events as one file per dataset and hour partition, named by `writer` and
    `epoch` (rewriting the same epoch replaces its files). Returns rows per dataset."""
    partitions: dict[tuple, list[dict]] = defaultdict(list)
    for event in events:
        partitions[(landing_dataset(event), *utc_hour(event.event_time))].append(landing_row(event))
    counts = dict.fromkeys(LANDING_DATASETS, 0)
    for (dataset, event_date, hour), rows in partitions.items():
        path = lake.landing_file(dataset, event_date, hour, writer, epoch)
        write_landing_file(path, landing_table(dataset, rows))
        counts[dataset] += len(rows)
    return counts


def backfill_landing(
    lake: Lake, source: SyntheticSource, start: datetime, end: datetime
) -> dict[str, int]:
    """Land the source's clean events from `start` to `end` as one file per dataset and
    hour (writer "backfill", epoch 0): a rerun overwrites the same files. Returns rows per
    dataset."""
    counts = dict.fromkeys(LANDING_DATASETS, 0)
    for hour in _hours(source.events(start, end=end)):
        for dataset, n in land_events(lake, hour, BACKFILL_WRITER, 0).items():
            counts[dataset] += n
    return counts


def _hours(events: Iterable[Event]) -> Iterator[list[Event]]:
    # Events come in event-time order, so an hour is complete once the next one starts.
    batch: list[Event] = []
    hour_end = None
    for event in events:
        if hour_end is None or event.event_time >= hour_end:
            if batch:
                yield batch
                batch = []
            hour_end = event.event_time.replace(minute=0, second=0, microsecond=0) + ONE_HOUR
        batch.append(event)
    if batch:
        yield batch


def live_feed(
    source: SyntheticSource,
    sink: Callable[[list[Event]], None],
    *,
    stop: threading.Event,
    flush_every: float = 1.0,
) -> None:
    """Play the source in real time from now: events are handed to `sink` in batches, about
    every `flush_every` seconds, once the wall clock has reached their event time. Returns
    when `stop` is set, after handing over what was due."""
    batch: list[Event] = []
    next_flush = time.monotonic() + flush_every
    for event in source.events(utcnow()):
        while not stop.is_set():
            # Flush on schedule even when events are always due (a rate the clock can't idle at).
            if time.monotonic() >= next_flush:
                if batch:
                    sink(batch)
                    batch = []
                next_flush = time.monotonic() + flush_every
            wait_event = (event.event_time - utcnow()).total_seconds()
            if wait_event <= 0:
                break
            stop.wait(min(wait_event, max(0.0, next_flush - time.monotonic())))
        if stop.is_set():
            break
        batch.append(event)
    if batch:
        sink(batch)
