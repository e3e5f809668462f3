"""The per-customer step: dedupe, transaction-risk and customer-journey-insights, and each
batch's region-activity counts per (region, minute) for the region step to merge.

Customers are grouped into a fixed number of shards (a shard is the Bytewax key), so one
call handles a whole batch of a shard's events instead of one call per event. Event time
drives everything, never the wall clock: an event is late by its input partition's
watermark when it was read; windows close, duplicates are forgotten and idle customers
are evicted when the minimum of all partitions' watermarks passes them. So a replay after
a crash, or a run with more workers or processes, decides the same.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import compress
from operator import attrgetter

from bytewax.operators import StatefulBatchLogic

from streaming import metrics, regions
from streaming.dedupe import SeenIds, id_hashes
from streaming.outputs import Produced
from streaming.partitions import DONE, NEVER, ClockRules
from streaming.products import journey as jr
from streaming.products.region import MINUTE_S, Minute, add_fact
from streaming.products.risk import (
    RiskProfile,
    note_browsing,
    note_spend,
    profile_from_state,
    profile_state,
    risk_row,
    score_transaction,
)
from streaming.runtime import stopping
from streaming.validate import late_record
from tollgate.clock import utcnow
from tollgate.events import REGIONS

RISK, JOURNEY = "transaction-risk", "customer-journey-insights"
_event_id = attrgetter("event_id")


@dataclass(frozen=True)
class Timing:
    allowed_lateness_s: float = 30.0
    # Re-deliveries of an event within this much event time are dropped as duplicates.
    dedupe_horizon_s: float = 24 * 3600.0
    # How far ahead of its partition's clock an event may be (else `future_timestamp`),
    # and how many newest events the clock is taken over (see `streaming.partitions`).
    max_ahead_s: float = 300.0
    quorum: int = 3
    idle_s: float = 60.0  # when a quiet input partition stops holding windows open

    def clock_rules(self) -> ClockRules:
        return ClockRules(self.allowed_lateness_s, self.max_ahead_s, self.quorum, self.idle_s)


@dataclass(slots=True)
class Customer:
    profile: RiskProfile = field(default_factory=RiskProfile)
    journey: jr.Journey = field(default_factory=jr.Journey)


@dataclass(slots=True)
class ShardState:
    seen: SeenIds
    customers: dict = field(default_factory=dict)  # customer_id -> Customer
    partitions: dict = field(default_factory=dict)  # input partition -> its watermark
    watermark: float = NEVER  # the minimum over every input partition's watermark
    next_boundary: int | None = None  # first journey window end not yet published
    active: dict = field(default_factory=dict)  # pane -> customers with events in it
    expiry: dict = field(default_factory=dict)  # window end -> customers to check for idleness

    # Snapshots hold customers as plain tuples: pickling thousands of small state objects
    # one by one was the largest single cost of the step, at every epoch.
    def __getstate__(self) -> tuple:
        customers = {
            customer_id: (profile_state(c.profile), jr.journey_state(c.journey))
            for customer_id, c in self.customers.items()
        }
        return (
            self.seen,
            customers,
            self.partitions,
            self.watermark,
            self.next_boundary,
            self.active,
            self.expiry,
        )

    def __setstate__(self, state: tuple) -> None:
        self.seen, customers, self.partitions, self.watermark = state[:4]
        self.next_boundary, self.active, self.expiry = state[4:]
        self.customers = {
            customer_id: Customer(profile_from_state(profile), jr.journey_from_state(journey))
            for customer_id, (profile, journey) in customers.items()
        }


class CustomerShard(StatefulBatchLogic):
    """One shard's customers. Takes `(partition, [Event], [time], [watermark], watermark)`
    from every input partition; emits a `Produced` per call."""

    def __init__(self, timing: Timing, partitions: list[str], resume: bytes | None):
        self.timing, self.partitions = timing, partitions
        self.s: ShardState = (
            pickle.loads(resume) if resume else ShardState(SeenIds(timing.dedupe_horizon_s))
        )

    def on_batch(self, batches: list[tuple]):
        s, now = self.s, utcnow()
        land, risk, side, minutes = [], [], [], {}
        # Hot loop (every event): state and functions bound to locals once per call.
        seen, customers, active = s.seen, s.customers, s.active
        add_event, window, pane_s = jr.add_event, jr.PANES_PER_WINDOW, jr.PANE_S
        minute_s = MINUTE_S
        # The minute [low, high) of event time the last mark fell in, and the bounds it set.
        low, high, closed, region_open = NEVER, NEVER, None, None
        for _, events, times, marks, _ in batches:
            if not events:
                continue
            new = seen.admit(id_hashes(list(map(_event_id, events))), times)
            if new is not None:  # some were duplicates
                metrics.DUPLICATES.inc(new.count(False))
                events, times, marks = (list(compress(x, new)) for x in (events, times, marks))
            land.extend(events)
            for e, at, mark in zip(events, times, marks, strict=True):
                kind, customer_id, region = e.event_type, e.customer_id, e.region
                spend = e.payload.amount_cents if kind == "purchase" else 0
                if not low <= mark < high:
                    # Both bounds move only when the watermark enters another minute (panes and
                    # the region retention are whole minutes).
                    if mark > NEVER:
                        low = (mark // minute_s) * minute_s
                        high = low + minute_s
                        closed = int(mark // pane_s)
                    else:  # the partition has no clock yet: nothing is late
                        low, high, closed = NEVER, NEVER, None
                    region_open = regions.late_before(mark)
                # Event times are past 2000 (the contract), so int() is their floor.
                whole_s = int(at)
                # Region-activity: counted into the event's minute here, merged by region later.
                minute = whole_s // minute_s
                if region_open is not None and minute < region_open:
                    side.append(regions.late_record(e.event_id, at, now))
                else:
                    counts = minutes.get((region, minute))
                    if counts is None:
                        counts = minutes[(region, minute)] = Minute()
                    add_fact(counts, kind, spend, e.session_id)
                c = customers.get(customer_id)
                if c is None:
                    c = customers[customer_id] = Customer()
                if kind == "card_transaction":
                    risk.append(risk_row(e, score_transaction(c.profile, e)))
                else:
                    note_browsing(c.profile, e.device_id, e.session_id, at)
                    if kind == "purchase":
                        note_spend(c.profile, spend)
                # Journey: late if its pane had closed by its partition's watermark when it
                # came (never by how other partitions' events happened to interleave); still
                # counted for the windows to come, unless none includes it.
                pane = whole_s // pane_s
                late = closed is not None and pane < closed
                if late and pane < closed - window:
                    side.append(late_record(e, JOURNEY, now))
                    continue
                add_event(c.journey, region, kind, at, spend, kind == "add_to_cart", pane)
                if late:
                    side.append(late_record(e, JOURNEY, now))
                else:
                    customers_in_pane = active.get(pane)
                    if customers_in_pane is None:
                        active[pane] = {customer_id}
                    else:
                        customers_in_pane.add(customer_id)
        previous = s.watermark
        for partition, _, _, _, watermark in batches:
            s.partitions[partition] = watermark
        s.watermark = min(s.partitions.get(p, NEVER) for p in self.partitions)
        out = Produced(land=land, side=side)
        by_region: dict = {}
        for (region, minute), counts in minutes.items():
            by_region.setdefault(region, {})[minute] = counts
        out.regions.extend((region, counts, None) for region, counts in by_region.items())
        if s.watermark != previous:
            # Every region hears of this shard's progress, with counts for it or not.
            out.regions.extend((region, None, s.watermark) for region in REGIONS)
        if risk:
            watermark = max(r["event_at"] for r in risk)
            out.live.append((RISK, risk, watermark))
            metrics.PROCESSED.labels(RISK).inc(len(risk))
        if s.watermark > NEVER:
            if s.watermark == DONE:
                out.live.extend(self._close_all())
            else:
                out.live.extend(self._close_windows(jr.pane_of(s.watermark)))
                seen.advance(s.watermark)
        return ([out] if out else []), self.RETAIN

    def on_eof(self):
        # The input is exhausted: every pane seen is complete (unless the lane is stopping
        # on a signal: then the windows are only paused until it resumes).
        live = [] if stopping() else self._close_all()
        return ([Produced(live=live)] if live else []), self.RETAIN

    def snapshot(self) -> bytes:
        # Pickled now: later batches mutate the state in place.
        return pickle.dumps(self.s, protocol=pickle.HIGHEST_PROTOCOL)

    def _close_all(self) -> list:
        if not self.s.active:
            return []
        return self._close_windows(max(self.s.active) + 1)

    def _close_windows(self, boundary: int) -> list:
        """Publish the windows ending at or before `boundary` (a pane index)."""
        s = self.s
        if s.next_boundary is None or boundary > s.next_boundary:
            s.next_boundary = boundary
        rows, latest = [], None
        for pane in sorted(p for p in s.active if p < boundary):
            end = pane + 1
            for customer_id in sorted(s.active.pop(pane)):
                c = s.customers[customer_id]
                jr.forget_before(c.journey, end)
                row = jr.insight(c.journey, customer_id, end)
                if row is not None:
                    rows.append(row)
                s.expiry.setdefault(end + jr.PANES_PER_WINDOW, set()).add(customer_id)
            latest = end
        for end in sorted(e for e in s.expiry if e <= boundary):
            for customer_id in s.expiry.pop(end):
                c = s.customers.get(customer_id)
                newest = c.journey.newest_pane() if c else None
                if c and (newest is None or newest < end - jr.PANES_PER_WINDOW):
                    del s.customers[customer_id]  # idle for a whole window: forget them
        if latest is None:
            return []
        metrics.PROCESSED.labels(JOURNEY).inc(len(rows))
        watermark = datetime.fromtimestamp(latest * jr.PANE_S, UTC)
        return [(JOURNEY, rows, watermark)]
