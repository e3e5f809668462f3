"""region-activity: per region, per minute of event time (tumbling).

A minute is published once the region's watermark (its latest event time less the allowed
lateness) passes the minute's end, and stays open to stragglers for a retention horizon
(streaming/regions.py), each updating its row; only an event older than that is late.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

MINUTE_S = 60


@dataclass(slots=True)
class Minute:
    events: int = 0
    purchases: int = 0
    revenue_cents: int = 0
    viewing_sessions: set = field(default_factory=set)


def minute_of(at: float) -> int:
    return int(at // MINUTE_S)


def add_fact(m: Minute, action: str, amount_cents: int, session_id: str) -> None:
    m.events += 1
    if action == "purchase":
        m.purchases += 1
        m.revenue_cents += amount_cents
    elif action == "page_view":
        m.viewing_sessions.add(session_id)


def add_counts(m: Minute, other: Minute) -> None:
    """Add `other`'s counts (another part of the same minute's events) to `m`."""
    m.events += other.events
    m.purchases += other.purchases
    m.revenue_cents += other.revenue_cents
    m.viewing_sessions |= other.viewing_sessions


def region_row(region: str, minute: int, m: Minute) -> dict:
    """The live store row (catalog columns of region-activity, less processed_at)."""
    start = datetime.fromtimestamp(minute * MINUTE_S, UTC)
    sessions = len(m.viewing_sessions)
    return {
        "region_minute_id": f"{region}@{start:%Y-%m-%dT%H:%M}",
        "region": region,
        "minute_at": start,
        "events": m.events,
        "purchases": m.purchases,
        "revenue_cents": m.revenue_cents,
        # Purchases in the minute over sessions that viewed in it; a purchase whose views
        # fell in an earlier minute could push this past 1, so it is capped.
        "conversion_rate": round(min(1.0, m.purchases / sessions), 4) if sessions else 0.0,
    }
