"""The per-customer step: dedupe, transaction-risk and customer-journey-insights.

Customers are grouped into a fixed number of shards (a shard is the Bytewax key), so one
call handles a whole batch of a shard's events instead of one call per event. Event time
drives everything: a shard's watermark is its latest event time less the allowed
lateness, and windows close, duplicates are forgotten and idle customers are evicted
against it, never against the wall clock, so a replay after a crash decides the same.
"""

from __future__ import annotations

import pickle
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bytewax.operators import StatefulBatchLogic

from streaming import metrics
from streaming.outputs import LAND, LIVE, REGION, SIDE
from streaming.products import journey as jr
from streaming.products.risk import (
    RiskProfile,
    note_browsing,
    note_spend,
    risk_row,
    score_transaction,
)
from streaming.validate import late_record
from tollgate.clock import utcnow
from tollgate.events import Event

RISK, JOURNEY = "transaction-risk", "customer-journey-insights"


@dataclass(frozen=True)
class Timing:
    allowed_lateness_s: float = 30.0
    dedupe_window_s: float = 600.0


@dataclass(slots=True)
class Customer:
    profile: RiskProfile = field(default_factory=RiskProfile)
    journey: jr.Journey = field(default_factory=jr.Journey)


@dataclass(slots=True)
class ShardState:
    customers: dict = field(default_factory=dict)  # customer_id -> Customer
    seen: dict = field(default_factory=dict)  # event_id -> event time, for dedupe
    seen_order: deque = field(default_factory=deque)  # (event time, event_id)
    max_at: float = float("-inf")
    next_boundary: int | None = None  # first journey window end not yet published
    active: dict = field(default_factory=dict)  # pane -> customers with events in it
    expiry: dict = field(default_factory=dict)  # window end -> customers to check for idleness


class CustomerShard(StatefulBatchLogic):
    def __init__(self, timing: Timing, resume: bytes | None):
        self.timing = timing
        self.s: ShardState = pickle.loads(resume) if resume else ShardState()

    def on_batch(self, batches: list[list[Event]]):
        s, now = self.s, utcnow()
        lateness = self.timing.allowed_lateness_s
        land, risk, side, facts, insights = [], [], [], {}, []
        # Hot loop (every event): state and functions bound to locals once per call.
        seen, seen_order, customers = s.seen, s.seen_order, s.customers
        add_event, window = jr.add_event, jr.PANES_PER_WINDOW
        for events in batches:
            for e in events:
                event_id = e.event_id
                if event_id in seen:
                    metrics.DUPLICATES.inc()
                    continue
                at = e.event_time.timestamp()
                seen[event_id] = at
                seen_order.append((at, event_id))
                land.append(e)
                kind, customer_id, region = e.event_type, e.customer_id, e.region
                spend = e.payload.amount_cents if kind == "purchase" else 0
                fact = (at, kind, spend, e.session_id, event_id)
                region_facts = facts.get(region)
                if region_facts is None:
                    facts[region] = [fact]
                else:
                    region_facts.append(fact)
                c = customers.get(customer_id)
                if c is None:
                    c = customers[customer_id] = Customer()
                if kind == "card_transaction":
                    risk.append(risk_row(e, score_transaction(c.profile, e)))
                else:
                    note_browsing(c.profile, e.device_id, e.session_id, at)
                    if kind == "purchase":
                        note_spend(c.profile, spend)
                # Journey: count the event into its pane unless no window to come includes it.
                pane, first_open = int(at // jr.PANE_S), s.next_boundary
                late = first_open is not None and pane < first_open
                if late and pane < first_open - window:
                    side.append(late_record(e, JOURNEY, now))
                else:
                    add_event(c.journey, region, kind, at, spend, kind == "add_to_cart", pane)
                    if late:
                        side.append(late_record(e, JOURNEY, now))
                    else:
                        active = s.active.get(pane)
                        if active is None:
                            s.active[pane] = {customer_id}
                        else:
                            active.add(customer_id)
                if at > s.max_at:
                    s.max_at = at
                    # Windows close event by event, so where a batch happens to end never
                    # changes what is late: a replay with other batch sizes decides the same.
                    boundary = jr.pane_of(at - lateness)
                    if s.next_boundary is None or boundary > s.next_boundary:
                        insights.extend(self._close_windows(boundary))
        out: list = [(LAND, land)] if land else []
        out.extend((REGION, (region, rows)) for region, rows in facts.items())
        if risk:
            watermark = max(r["event_at"] for r in risk)
            out.append((LIVE, (RISK, risk, watermark)))
            metrics.PROCESSED.labels(RISK).inc(len(risk))
        out.extend(insights)
        if s.max_at > float("-inf"):
            self._forget_seen(s.max_at - lateness - self.timing.dedupe_window_s)
        if side:
            out.append((SIDE, side))
        return out, self.RETAIN

    def on_eof(self):
        # The input is exhausted: every pane seen is complete.
        if not self.s.active:
            return [], self.RETAIN
        return self._close_windows(max(self.s.active) + 1), self.RETAIN

    def snapshot(self) -> bytes:
        # Pickled now: later batches mutate the state in place.
        return pickle.dumps(self.s, protocol=pickle.HIGHEST_PROTOCOL)

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
        return [(LIVE, (JOURNEY, rows, watermark))]

    def _forget_seen(self, before: float) -> None:
        s = self.s
        while s.seen_order and s.seen_order[0][0] < before:
            at, event_id = s.seen_order.popleft()
            if s.seen.get(event_id) == at:
                del s.seen[event_id]
