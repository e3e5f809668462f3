"""customer-journey-insights: per customer, a 24 h window sliding every 15 minutes.

The window is kept as 96 panes of 15 minutes, each holding counts rather than events, so a
customer's state is bounded however busy they are. Each pane counts the customer's action
transitions (previous action -> this action); the prediction at a window end is the most
frequent next action after the customer's latest action, over the whole window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

PANE_S = 900
PANES_PER_WINDOW = 96
PUBLISH_ABOVE = 0.8
# Pseudo-count in the confidence denominator: two observations never make a certainty.
CONFIDENCE_PRIOR = 1.0
# Spend at which the spend half of the value score reaches 1 - 1/e.
VALUE_SPEND_SCALE_CENTS = 50_000


@dataclass(slots=True)
class Pane:
    events: int = 0
    spend_cents: int = 0
    carts: int = 0
    transitions: dict = field(default_factory=dict)  # (prev, next) -> count
    last_action: str | None = None
    last_at: float = -math.inf


@dataclass(slots=True)
class Journey:
    region: str = ""
    panes: dict = field(default_factory=dict)  # pane index -> Pane
    last_action: str | None = None

    def newest_pane(self) -> int | None:
        return max(self.panes) if self.panes else None


def journey_state(j: Journey) -> tuple:
    """`j` as plain values, for a snapshot (`journey_from_state` restores it exactly)."""
    panes = [
        (i, p.events, p.spend_cents, p.carts, p.transitions, p.last_action, p.last_at)
        for i, p in j.panes.items()
    ]
    return (j.region, j.last_action, panes)


def journey_from_state(state: tuple) -> Journey:
    region, last_action, panes = state
    return Journey(region, {p[0]: Pane(*p[1:]) for p in panes}, last_action)


def pane_of(at: float) -> int:
    return int(at // PANE_S)


def add_event(
    j: Journey,
    region: str,
    action: str,
    at: float,
    spend_cents: int,
    is_cart: bool,
    pane_index: int | None = None,
) -> None:
    """Count one event into its pane (the transition from the previous action arrived).

    `pane_index` is `pane_of(at)`, if the caller has it already.
    """
    j.region = region
    if pane_index is None:
        pane_index = pane_of(at)
    pane = j.panes.get(pane_index)
    if pane is None:
        pane = j.panes[pane_index] = Pane()
    pane.events += 1
    pane.spend_cents += spend_cents
    pane.carts += is_cart
    if j.last_action is not None:
        key = (j.last_action, action)
        pane.transitions[key] = pane.transitions.get(key, 0) + 1
    j.last_action = action
    if at >= pane.last_at:
        pane.last_at, pane.last_action = at, action


def insight(j: Journey, customer_id: str, window_end: int) -> dict | None:
    """The insight for the window ending at pane boundary `window_end`, if confident enough.

    Returns the live store row (catalog columns, less processed_at) or None.
    """
    first = window_end - PANES_PER_WINDOW
    panes = [(i, p) for i, p in j.panes.items() if first <= i < window_end]
    if not panes:
        return None
    latest = max(panes, key=lambda ip: (ip[1].last_at, ip[0]))[1].last_action
    counts: dict[str, int] = {}
    for _, p in panes:
        for (prev, nxt), n in p.transitions.items():
            if prev == latest:
                counts[nxt] = counts.get(nxt, 0) + n
    if not counts:
        return None
    # Ties go to the alphabetically first action so every run predicts the same.
    predicted, top = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    confidence = top / (sum(counts.values()) + CONFIDENCE_PRIOR)
    if confidence <= PUBLISH_ABOVE:
        return None
    spend = sum(p.spend_cents for _, p in panes)
    carts = sum(p.carts for _, p in panes)
    value = 0.7 * (1 - math.exp(-spend / VALUE_SPEND_SCALE_CENTS)) + 0.3 * min(1.0, carts / 10)
    return {
        "customer_id": customer_id,
        "region": j.region,
        "window_start_at": _at(first),
        "window_end_at": _at(window_end),
        "predicted_next_action": predicted,
        "confidence": round(confidence, 4),
        "value_score": round(min(1.0, value), 4),
        "events_in_window": sum(p.events for _, p in panes),
    }


def forget_before(j: Journey, window_end: int) -> None:
    """Drop panes that no window ending at or after `window_end` can include."""
    for i in [i for i in j.panes if i < window_end - PANES_PER_WINDOW]:
        del j.panes[i]


def _at(pane_index: int) -> datetime:
    return datetime.fromtimestamp(pane_index * PANE_S, UTC)
