"""Validation: raw bytes in, events grouped by shard out, bad input to the quarantine.

Nothing a source delivers can crash the flow: whatever `parse_event` cannot accept becomes
a quarantine record with the raw payload and a reason code.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

import msgspec

from streaming import metrics
from tollgate.clock import utcnow
from tollgate.events import Event, InvalidEvent, Reason, event_to_json, parse_event
from tollgate.events.fast import parse_batch

QUARANTINE = "quarantine"
# Not a contract reason: the event was valid but arrived after its window was published.
LATE_REASON = "late"


# Customers recur: the shard of each recent one is remembered rather than recomputed.
@lru_cache(maxsize=1 << 16)
def shard_of(customer_id: str, shards: int) -> str:
    """The state shard of a customer: stable across processes and restarts (not `hash`)."""
    return f"s{zlib.crc32(customer_id.encode()) % shards:04d}"


def validate_batch(
    raws: Iterable[bytes | str], shards: int, now: datetime | None = None
) -> list[tuple[str, list]]:
    """Parse a batch; return `(shard, [Event])` per shard and `(QUARANTINE, [record])`."""
    now = now or utcnow()
    by_shard: dict[str, list[Event]] = {}
    rejected: list[dict] = []
    parsed = parse_batch(raws if isinstance(raws, list) else list(raws), now)
    count = len(parsed)
    for raw, event, error in parsed:
        if event is None:
            if isinstance(error, InvalidEvent):
                rejected.append(quarantine_record(raw, error.reason.value, error.message, now))
            else:  # e.g. a non-bytes item from a source
                rejected.append(quarantine_record(raw, Reason.BAD_JSON.value, repr(error), now))
            continue
        shard = shard_of(event.customer_id, shards)
        bucket = by_shard.get(shard)
        if bucket is None:
            bucket = by_shard[shard] = []
        bucket.append(event)
    metrics.EVENTS_IN.inc(count)
    for record in rejected:
        metrics.QUARANTINED.labels(record["reason"]).inc()
    out: list[tuple[str, list]] = list(by_shard.items())
    if rejected:
        out.append((QUARANTINE, rejected))
    return out


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


def late_record(event: Event, product_id: str, now: datetime) -> dict:
    """A side-output record for an event later than `product_id`'s allowed lateness."""
    metrics.LATE.labels(product_id).inc()
    if isinstance(event, msgspec.Struct):  # a fast-path event: recorded in the contract's form
        event = parse_event(msgspec.json.encode(event))
    record = quarantine_record(event_to_json(event), LATE_REASON, f"late for {product_id}", now)
    record["product_id"] = product_id
    return record
