"""The deterministic synthetic source: same config and start, same events, byte for byte.

Activities (shopping sessions, in-store payments) arrive as a Poisson process whose rate
follows each region's local daily and weekly cycle (thinning); fraud incidents follow
legit payments at the rate that makes fraud `fraud_rate` of card transactions. Every
activity schedules its events ahead in event time; a heap merges them into one stream in
non-decreasing event time. Nothing here reads the wall clock.

`raw()` is the wire: the same events as JSON lines, plus malformed lines, re-deliveries
and late deliveries (see `tollgate.events.wire`).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tollgate.events.activities import Shopper, expected_events_per_activity
from tollgate.events.contract import (
    AddToCart,
    CardTransaction,
    Checkout,
    Event,
    FraudLabels,
    PageView,
    Purchase,
    Search,
)
from tollgate.events.fraud import Fraudster, incidents_per_legit_payment
from tollgate.events.population import (
    MAX_CYCLE_FACTOR,
    Customer,
    Population,
    build_population,
    cycle_factor,
)
from tollgate.events.wire import wire_lines

WARM_UP_SECONDS = 300.0
# Activities schedule payloads as plain dicts; each event is validated whole, once, when it
# is emitted (one validator call per event, none for the warm-up's discarded events).
_EVENT_CLASSES = {
    "page_view": PageView,
    "search": Search,
    "add_to_cart": AddToCart,
    "checkout": Checkout,
    "purchase": Purchase,
    "card_transaction": CardTransaction,
}
_VALIDATE = {name: c.__pydantic_validator__.validate_python for name, c in _EVENT_CLASSES.items()}


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 7
    customers: int = 2000
    events_per_second: float = 50.0  # mean event-time rate; daily and weekly cycles modulate it
    fraud_rate: float = 0.01  # share of card transactions that are fraud (labelled)
    malformed_rate: float = 0.0  # share of raw lines that are malformed
    duplicate_rate: float = 0.0  # share of events re-delivered with the same event_id
    late_rate: float = 0.0  # share of events delivered late (out of event-time order)
    max_lateness: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError("customers must be at least 1")
        if not self.events_per_second > 0:
            raise ValueError("events_per_second must be positive")
        for name in ("fraud_rate", "malformed_rate", "duplicate_rate", "late_rate"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if self.max_lateness <= timedelta(seconds=1):
            raise ValueError("max_lateness must be more than one second")


class SyntheticSource:
    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        self.config = config
        self.population: Population = build_population(config.seed, config.customers)

    def events(
        self, start: datetime, *, count: int | None = None, end: datetime | None = None
    ) -> Iterator[Event]:
        """Clean, valid events in non-decreasing event time from `start` (up to `count`
        events and/or before `end`; unbounded when neither is given); same config+start
        => same events."""
        return _Timeline(self.config, self.population, start).events(count, end)

    def raw(
        self, start: datetime, *, count: int | None = None, end: datetime | None = None
    ) -> Iterator[bytes]:
        """The wire stream: JSON lines of the events plus injected malformed lines, duplicates
        and late deliveries at the configured rates; deterministic too. `count` bounds the
        events, not the lines."""
        rng = random.Random(f"wire:{self.config.seed}:{_utc(start).isoformat()}")
        return wire_lines(self.events(start, count=count, end=end), self.config, rng)


class _Timeline:
    """One run of the world from a start instant; it is the `Schedule` activities push to."""

    def __init__(self, config: GeneratorConfig, population: Population, start: datetime):
        start = _utc(start)
        self.t0 = start.timestamp()
        # Ids carry the seed and start (to the microsecond) so a backfill and a later live
        # feed never collide.
        self.prefix = f"{config.seed}-{round(self.t0 * 1_000_000):x}"
        self.rng = random.Random(f"events:{config.seed}:{start.isoformat()}")
        self.population = population
        self.pending: list[tuple] = []
        self.pushed = 0
        self.counters: dict[str, int] = {}
        self.shopper = Shopper(self.rng, self, self._after_payment)
        self.fraudster = Fraudster(self.rng, self, population)
        self.incident_chance = incidents_per_legit_payment(config.fraud_rate)
        fraud_per_payment = config.fraud_rate / (1 - config.fraud_rate)
        mean_rate = config.events_per_second / expected_events_per_activity(fraud_per_payment)
        self.proposal_rate = mean_rate * MAX_CYCLE_FACTOR

    def push(
        self,
        ts: float,
        event_type: str,
        customer: Customer,
        session_id: str,
        device_id: str,
        payload: dict,
        labels: FraudLabels | None = None,
    ) -> None:
        self.pushed += 1
        item = (ts, self.pushed, event_type, customer, session_id, device_id, payload, labels)
        heapq.heappush(self.pending, item)

    def next_id(self, kind: str) -> str:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        return f"{kind}-{self.prefix}-{n:x}"

    def events(self, count: int | None, end: datetime | None) -> Iterator[Event]:
        end_ts = _utc(end).timestamp() if end is not None else math.inf
        rng, pending, pick = self.rng, self.pending, self.population.pick
        # Start the world a few minutes early so sessions already under way at `start` are
        # too: the rate is steady from the first second instead of ramping up.
        next_activity = self.t0 - WARM_UP_SECONDS + rng.expovariate(self.proposal_rate)
        emitted = 0
        while count is None or emitted < count:
            # An activity starting at t only adds events at >= t, so the heap's head is
            # final once the next activity starts later than it.
            while (not pending or pending[0][0] > next_activity) and next_activity < end_ts:
                customer = pick(rng)
                if rng.random() * MAX_CYCLE_FACTOR < cycle_factor(
                    customer.home_region, next_activity
                ):
                    self.shopper.activity(next_activity, customer)
                next_activity += rng.expovariate(self.proposal_rate)
            if not pending or pending[0][0] >= end_ts:
                return
            item = heapq.heappop(pending)
            if item[0] < self.t0:
                continue
            emitted += 1
            yield self._event(item, emitted)

    def _event(self, item: tuple, seq: int) -> Event:
        ts, _, event_type, customer, session_id, device_id, payload, labels = item
        fields = {
            "event_id": f"ev-{self.prefix}-{seq:x}",
            "event_type": event_type,
            "customer_id": customer.customer_id,
            "region": customer.home_region,
            "event_time": datetime.fromtimestamp(ts, UTC),
            "session_id": session_id,
            "device_id": device_id,
            "payload": payload,
        }
        if labels is not None:
            fields["labels"] = labels
        return _VALIDATE[event_type](fields)

    def _after_payment(self, ts: float) -> None:
        if self.incident_chance and self.rng.random() < self.incident_chance:
            self.fraudster.incident(ts + self.rng.uniform(10.0, 300.0))


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError(f"{ts} has no timezone; the source works in UTC")
    return ts.astimezone(UTC)
