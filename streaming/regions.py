"""The per-region step: region-activity minutes, published when every customer shard's
watermark (itself the minimum over the input partitions) has passed them.

Customer shards count their events per region and minute (`Minute`) and decide which are
late (`late_before`) as they read them, so this step merges a few counts per shard batch
rather than a fact per event."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bytewax.operators import StatefulBatchLogic

from streaming import metrics
from streaming.outputs import Produced
from streaming.partitions import DONE, NEVER
from streaming.products.region import MINUTE_S, add_counts, minute_of, region_row
from streaming.runtime import stopping
from streaming.validate import LATE_REASON

PRODUCT = "region-activity"


# How long a published minute stays open to stragglers, past the watermark: a fact for it
# updates the minute's row (a keyed upsert), and only facts older than this (by their input
# partition's watermark when they were read) are late.
RETENTION_S = 300.0


@dataclass(slots=True)
class RegionState:
    region: str = ""
    open: dict = field(default_factory=dict)  # minute index -> Minute, until evicted
    dirty: set = field(default_factory=set)  # minutes changed since their row was published
    shards: dict = field(default_factory=dict)  # shard -> its minimum partition watermark
    published_before: int | None = None  # minutes before this one have been published
    evicted_before: int | None = None  # no fact can come for minutes before this one


class RegionMinutes(StatefulBatchLogic):
    """Takes `(region, shard, {minute: Minute} | None, watermark | None)` from every shard."""

    def __init__(self, allowed_lateness_s: float, shards: tuple[str, ...], resume: bytes | None):
        self.lateness = allowed_lateness_s
        self.shard_names = shards
        self.s: RegionState = pickle.loads(resume) if resume else RegionState()

    def on_batch(self, batches: list[tuple]):
        s = self.s
        s.region = batches[0][0]
        open_minutes, dirty = s.open, s.dirty
        for _, shard, minutes, watermark in batches:
            if minutes is None:
                s.shards[shard] = watermark
                continue
            # Counts and sessions do not depend on the order shards' counts come in.
            for minute, counts in minutes.items():
                m = open_minutes.get(minute)
                if m is None:
                    open_minutes[minute] = counts  # the shard's counts are handed over whole
                else:
                    add_counts(m, counts)
                dirty.add(minute)
        watermark = min(s.shards.get(name, NEVER) for name in self.shard_names)
        out = Produced()
        if watermark == DONE:
            out.live = self._publish_all()
        elif watermark > NEVER:
            out.live = self._publish(minute_of(watermark))
            self._evict(minute_of(watermark - RETENTION_S))
        return ([out] if out else []), self.RETAIN

    def on_eof(self):
        # The input is exhausted: every minute seen is complete (unless the lane is stopping
        # on a signal: then the minutes are only paused until it resumes).
        live = [] if stopping() else self._publish_all()
        return ([Produced(live=live)] if live else []), self.RETAIN

    def snapshot(self) -> bytes:
        return pickle.dumps(self.s, protocol=pickle.HIGHEST_PROTOCOL)

    def _publish_all(self) -> list:
        if not self.s.open:
            return []
        return self._publish(max(self.s.open) + 1)

    def _publish(self, before: int) -> list:
        """Rows of the changed minutes the watermark has passed, and the advanced watermark."""
        s = self.s
        advanced = s.published_before is None or before > s.published_before
        if advanced:
            s.published_before = before
        ready = sorted(m for m in s.dirty if m < s.published_before)
        if not ready and not advanced:
            return []
        s.dirty.difference_update(ready)
        rows = [region_row(s.region, m, s.open[m]) for m in ready]
        metrics.PROCESSED.labels(PRODUCT).inc(len(rows))
        watermark = datetime.fromtimestamp(s.published_before * MINUTE_S, UTC)
        return [(PRODUCT, rows, watermark)]

    def _evict(self, before: int) -> None:
        # Publishing runs first, so an evicted minute's last change is already out.
        s = self.s
        if s.evicted_before is not None and before <= s.evicted_before:
            return
        s.evicted_before = before
        for m in [m for m in s.open if m < before]:
            del s.open[m]


def late_before(mark: float) -> int | None:
    """The first minute still open to a fact read at partition watermark `mark`."""
    return minute_of(mark - RETENTION_S) if mark > NEVER else None


def late_record(event_id: str, at: float, now: datetime) -> dict:
    """A side-output record for an event older than its region minute's retention."""
    metrics.LATE.labels(PRODUCT).inc()
    return {
        "reason": LATE_REASON,
        "message": f"late for {PRODUCT}",
        "product_id": PRODUCT,
        "event_id": event_id,
        "event_at": datetime.fromtimestamp(at, UTC).isoformat(),
        "received_at": now.isoformat(),
    }
