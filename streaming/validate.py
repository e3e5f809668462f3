"""Validation records and routing: events grouped by shard, bad input to the quarantine.

Nothing a source delivers can crash the flow: whatever `parse_event` cannot accept becomes
a quarantine record with the raw payload and a reason code (see `streaming.partitions`).
"""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime
from functools import lru_cache

import msgspec

from streaming import metrics
from tollgate.events import Event, InvalidEvent, Reason, event_to_json, parse_event

QUARANTINE = "quarantine"
# Not contract reasons: the event was valid, but arrived after its window was published
# (late), or too far ahead of its partition's clock (future_timestamp).
LATE_REASON = "late"
FUTURE_REASON = "future_timestamp"


# Customers recur: the shard of each recent one is remembered rather than recomputed.
@lru_cache(maxsize=1 << 16)
def shard_of(customer_id: str, shards: int) -> str:
    """The state shard of a customer: stable across processes and restarts (not `hash`)."""
    return f"s{zlib.crc32(customer_id.encode()) % shards:04d}"  # one of `shard_names`


class RejectedRecords:
    """Quarantine records of one batch, counted in the metrics when the batch is done."""

    def __init__(self):
        self.records: list[dict] = []

    def add(self, raw: object, error: Exception | None, now: datetime) -> None:
        if isinstance(error, InvalidEvent):
            self.records.append(quarantine_record(raw, error.reason.value, error.message, now))
        else:  # e.g. a non-bytes item from a source
            self.records.append(quarantine_record(raw, Reason.BAD_JSON.value, repr(error), now))

    def done(self) -> list[dict]:
        for record in self.records:
            metrics.QUARANTINED.labels(record["reason"]).inc()
        return self.records


def rejected_records() -> RejectedRecords:
    return RejectedRecords()


def route(batch, shards: int) -> list[tuple[str, object]]:
    """A partition's batch as `(shard, (partition, [Event], [time], [watermark], watermark))` for
    every shard (each shard hears every partition's progress, events or not), and
    `(QUARANTINE, [record])` for what the partition rejected."""
    names = shard_names(shards)
    events_of: dict[str, list] = {name: [] for name in names}
    times_of: dict[str, list] = {name: [] for name in names}
    marks_of: dict[str, list] = {name: [] for name in names}
    for event, at, mark in zip(batch.events, batch.times, batch.watermarks, strict=True):
        shard = shard_of(event.customer_id, shards)
        events_of[shard].append(event)
        times_of[shard].append(at)
        marks_of[shard].append(mark)
    part, watermark = batch.partition, batch.watermark
    out: list = [
        (name, (part, events_of[name], times_of[name], marks_of[name], watermark)) for name in names
    ]
    if batch.rejected:
        out.append((QUARANTINE, batch.rejected))
    return out


@lru_cache(maxsize=64)
def shard_names(shards: int) -> tuple[str, ...]:
    return tuple(f"s{i:04d}" for i in range(shards))


def quarantine_record(raw: object, reason: str, message: str, now: datetime) -> dict:
    """A quarantine JSONL record: the raw payload (text, or base64 if not UTF-8) and why."""
    if isinstance(raw, bytes):
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(raw).decode(), "base64"
    else:
        text, encoding = str(raw), "utf-8"
    return {
        "reason": reason,
        "message": message,
        "raw": text,
        "raw_encoding": encoding,
        "received_at": now.isoformat(),
    }


def future_record(raw: object, event: Event, limit: float, now: datetime) -> dict:
    """A quarantine record for an event too far ahead of its partition's clock."""
    ahead_of = datetime.fromtimestamp(limit, UTC).isoformat() if limit > 0 else "-"
    message = f"event_time {event.event_time.isoformat()} is past {ahead_of}"
    return quarantine_record(raw, FUTURE_REASON, message, now)


def late_record(event: Event, product_id: str, now: datetime) -> dict:
    """A side-output record for an event later than `product_id`'s allowed lateness."""
    metrics.LATE.labels(product_id).inc()
    if isinstance(event, msgspec.Struct):  # a fast-path event: recorded in the contract's form
        event = parse_event(msgspec.json.encode(event))
    record = quarantine_record(event_to_json(event), LATE_REASON, f"late for {product_id}", now)
    record["product_id"] = product_id
    return record
