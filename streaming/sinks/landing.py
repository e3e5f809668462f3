"""Landing tables built column by column, straight from events of either parse path.

Same tables as `tollgate.events.landing.landing_table(dataset, map(landing_row, events))`
(the schemas other lanes read), without a dict per event: each column is a list filled in
one pass, then handed to Arrow whole.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pyarrow as pa

from tollgate.events.landing import SCHEMAS

TRANSACTIONS, BEHAVIOR = "card_transactions", "behavior_events"
_ENVELOPE = ("event_id", "customer_id", "region", "event_at", "session_id", "device_id")
_TX_PAYLOAD = ("transaction_id", "amount_cents", "currency", "merchant_id",
               "merchant_category", "card_id", "card_region", "ip_region", "channel")  # fmt: skip
# Per behaviour event type: (landing column, payload attribute) it fills; the rest are null.
_BEHAVIOR_PAYLOAD = {
    "page_view": (("category", "category"), ("product_sku", "product_sku")),
    "search": (("search_query", "query"), ("category", "category")),
    "add_to_cart": (("category", "category"), ("product_sku", "product_sku"),
                    ("quantity", "quantity"), ("price_cents", "price_cents")),
    "checkout": (("cart_value_cents", "cart_value_cents"), ("items", "items")),
    "purchase": (("order_id", "order_id"), ("category", "category"),
                 ("amount_cents", "amount_cents")),
}  # fmt: skip
_BEHAVIOR_OPTIONAL = tuple(
    c for c in SCHEMAS[BEHAVIOR].names if c not in _ENVELOPE and c != "event_type"
)


def landing_tables(events: list) -> dict[tuple[str, date, int], pa.Table]:
    """The landing table of each (dataset, event date, event hour) the events fall in."""
    groups: dict[tuple[str, date, int], list] = defaultdict(list)
    for e in events:
        t = e.event_time  # aware UTC on both parse paths
        dataset = TRANSACTIONS if e.event_type == "card_transaction" else BEHAVIOR
        groups[(dataset, t.date(), t.hour)].append(e)
    return {
        key: (_transactions(group) if key[0] == TRANSACTIONS else _behavior(group))
        for key, group in groups.items()
    }


def _envelope(events: list) -> dict[str, list]:
    return {
        "event_id": [e.event_id for e in events],
        "customer_id": [e.customer_id for e in events],
        "region": [e.region for e in events],
        "event_at": [e.event_time for e in events],
        "session_id": [e.session_id for e in events],
        "device_id": [e.device_id for e in events],
    }


def _transactions(events: list) -> pa.Table:
    cols = _envelope(events)
    payloads = [e.payload for e in events]
    for name in _TX_PAYLOAD:
        cols[name] = [getattr(p, name) for p in payloads]
    labels = [e.labels for e in events]
    cols["is_fraud"] = [lb.is_fraud if lb is not None else None for lb in labels]
    cols["fraud_pattern"] = [lb.pattern if lb is not None else None for lb in labels]
    return pa.Table.from_pydict(cols, schema=SCHEMAS[TRANSACTIONS])


def _behavior(events: list) -> pa.Table:
    cols = _envelope(events)
    cols["event_type"] = [e.event_type for e in events]
    optional: dict[str, list] = {name: [None] * len(events) for name in _BEHAVIOR_OPTIONAL}
    for i, e in enumerate(events):
        p = e.payload
        for column, attr in _BEHAVIOR_PAYLOAD[e.event_type]:
            optional[column][i] = getattr(p, attr)
    cols.update(optional)
    return pa.Table.from_pydict(cols, schema=SCHEMAS[BEHAVIOR])
