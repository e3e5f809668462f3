"""The marts' contents computed in plain Python from the generator's events.

This is the specification of the products written a second way, never the warehouse SQL
re-run: the tests compare the published snapshots against these values.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, timedelta

from tollgate.events.contract import CardTransaction, Event


def _unique(events: list[Event]) -> list[Event]:
    seen: set[str] = set()
    out = []
    for e in events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            out.append(e)
    return out


def customer_behavior_daily(events: list[Event]) -> dict[str, dict]:
    days: dict[tuple[str, date], dict] = {}
    sessions: dict[tuple[str, date], dict[str, bool]] = defaultdict(dict)
    for e in _unique(events):
        if isinstance(e, CardTransaction):
            continue
        key = (e.customer_id, e.event_time.date())
        row = days.setdefault(
            key,
            {
                "region": e.region,
                "page_views": 0,
                "searches": 0,
                "add_to_carts": 0,
                "purchases": 0,
                "spend_cents": 0,
            },
        )
        row["region"] = min(row["region"], e.region)
        bought = sessions[key].get(e.session_id, False)
        if e.event_type == "page_view":
            row["page_views"] += 1
        elif e.event_type == "search":
            row["searches"] += 1
        elif e.event_type == "add_to_cart":
            row["add_to_carts"] += e.payload.quantity
        elif e.event_type == "purchase":
            row["purchases"] += 1
            row["spend_cents"] += e.payload.amount_cents
            bought = True
        sessions[key][e.session_id] = bought
    out = {}
    for (customer, day), row in days.items():
        flags = sessions[(customer, day)]
        out[f"{customer}@{day.isoformat()}"] = {
            **row,
            "customer_id": customer,
            "activity_date": day,
            "sessions": len(flags),
            "conversion_rate": sum(flags.values()) / len(flags),
        }
    return out


def risk_score(is_geo_mismatch: bool, ratio: float | None) -> float:
    spike = min(1.0, max(0.0, (1.0 if ratio is None else ratio) - 1.0) / 4.0)
    return min(1.0, 0.5 * is_geo_mismatch + 0.5 * spike)


def transaction_insights(events: list[Event]) -> dict[str, dict]:
    txs = [e for e in _unique(events) if isinstance(e, CardTransaction)]
    by_customer: dict[str, list[CardTransaction]] = defaultdict(list)
    for t in txs:
        by_customer[t.customer_id].append(t)
    out = {}
    for t in txs:
        day = t.event_time.date()
        window = [
            o.payload.amount_cents
            for o in by_customer[t.customer_id]
            if day - timedelta(days=29) <= o.event_time.date() <= day
        ]
        median = statistics.median(window)
        ratio = t.payload.amount_cents / median if median else None
        geo = t.payload.card_region != t.payload.ip_region
        out[t.payload.transaction_id] = {
            "customer_id": t.customer_id,
            "region": t.region,
            "transaction_date": day,
            "amount_cents": t.payload.amount_cents,
            "card_region": t.payload.card_region,
            "is_geo_mismatch": geo,
            "amount_vs_customer_median": ratio,
            "risk_score": risk_score(geo, ratio),
            "is_confirmed_fraud": bool(t.labels and t.labels.is_fraud),
        }
    return out


def market_trends(events: list[Event]) -> dict[str, dict]:
    daily: dict[tuple[str, str, date], dict] = defaultdict(
        lambda: {"page_views": 0, "purchases": 0, "revenue_cents": 0}
    )
    for e in _unique(events):
        category = getattr(e.payload, "category", None)
        if isinstance(e, CardTransaction) or category is None:
            continue
        row = daily[(e.region, category, e.event_time.date())]
        if e.event_type == "page_view":
            row["page_views"] += 1
        elif e.event_type == "purchase":
            row["purchases"] += 1
            row["revenue_cents"] += e.payload.amount_cents
    out = {}
    for (region, category, day), row in daily.items():
        prior = sum(
            daily[(region, category, day - timedelta(days=k))]["revenue_cents"]
            for k in range(1, 8)
            if (region, category, day - timedelta(days=k)) in daily
        )
        mean = prior / 7
        out[f"{region}/{category}@{day.isoformat()}"] = {
            **row,
            "region": region,
            "category": category,
            "activity_date": day,
            "conversion_rate": row["purchases"] / row["page_views"] if row["page_views"] else None,
            "revenue_growth_7d": row["revenue_cents"] / mean - 1 if mean else None,
        }
    return out
