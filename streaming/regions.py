"""The per-region step: region-activity minutes, closed by the region's event-time watermark."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bytewax.operators import StatefulBatchLogic

from streaming import metrics
from streaming.outputs import LIVE, SIDE
from streaming.products.region import MINUTE_S, Minute, add_fact, minute_of, region_row
from streaming.validate import LATE_REASON
from tollgate.clock import utcnow

PRODUCT = "region-activity"


# How long a published minute stays open to stragglers, past the watermark: a fact for it
# updates the minute's row (a keyed upsert), and only facts older than this are late. Shards
# reach this step interleaved by scheduling, so the watermark a fact meets depends on how
# many workers run; a horizon well past that skew gives -w 1 and -w 2 the same minutes.
RETENTION_S = 300.0


@dataclass(slots=True)
class RegionState:
    region: str = ""
    open: dict = field(default_factory=dict)  # minute index -> Minute, until evicted
    dirty: set = field(default_factory=set)  # minutes changed since their row was published
    max_at: float = float("-inf")
    published_before: int | None = None  # minutes before this one have been published
    evicted_before: int | None = None  # facts for minutes before this one are late


class RegionMinutes(StatefulBatchLogic):
    def __init__(self, allowed_lateness_s: float, resume: bytes | None):
        self.lateness = allowed_lateness_s
        self.s: RegionState = pickle.loads(resume) if resume else RegionState()

    def on_batch(self, batches: list[tuple[str, list[tuple]]]):
        s, side = self.s, []
        s.region = batches[0][0]
        for at, action, amount, session_id, event_id in sorted(
            f for _, facts in batches for f in facts
        ):
            minute = minute_of(at)
            if s.evicted_before is not None and minute < s.evicted_before:
                side.append(self._late(event_id, at))
                continue
            m = s.open.get(minute)
            if m is None:
                m = s.open[minute] = Minute()
            add_fact(m, action, amount, session_id)
            s.dirty.add(minute)
            if at > s.max_at:
                s.max_at = at
        if s.max_at == float("-inf"):
            return ([(SIDE, side)] if side else []), self.RETAIN
        watermark_at = s.max_at - self.lateness
        out = self._publish(minute_of(watermark_at))
        self._evict(minute_of(watermark_at - RETENTION_S))
        if side:
            out.append((SIDE, side))
        return out, self.RETAIN

    def on_eof(self):
        # The input is exhausted: every minute seen is complete.
        if not self.s.open:
            return [], self.RETAIN
        return self._publish(max(self.s.open) + 1), self.RETAIN

    def snapshot(self) -> bytes:
        return pickle.dumps(self.s, protocol=pickle.HIGHEST_PROTOCOL)

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
        return [(LIVE, (PRODUCT, rows, watermark))]

    def _evict(self, before: int) -> None:
        # Publishing runs first, so an evicted minute's last change is already out.
        s = self.s
        if s.evicted_before is not None and before <= s.evicted_before:
            return
        s.evicted_before = before
        for m in [m for m in s.open if m < before]:
            del s.open[m]

    def _late(self, event_id: str, at: float) -> dict:
        metrics.LATE.labels(PRODUCT).inc()
        return {
            "reason": LATE_REASON,
            "message": f"late for {PRODUCT}",
            "product_id": PRODUCT,
            "event_id": event_id,
            "event_at": datetime.fromtimestamp(at, UTC).isoformat(),
            "received_at": utcnow().isoformat(),
        }
