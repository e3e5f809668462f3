"""Landing tables built column by column, straight from events of either parse path.

Same tables as `tollgate.events.landing.landing_table(dataset, map(landing_row, events))`
(the schemas other lanes read), without a dict per event: the events' fields are taken out
as tuples in C (`msgspec.structs.astuple`), transposed into columns, and handed to Arrow
whole; rows are then split by event hour in Arrow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import numpy as np
import pyarrow as pa

from tollgate.events.landing import SCHEMAS

TRANSACTIONS, BEHAVIOR = "card_transactions", "behavior_events"
_US_PER_HOUR = 3_600_000_000
# Event fields in the order of the fast path's structs (`tollgate.events.fast`), then the
# landing columns they fill.
_ENVELOPE = ("event_id", "customer_id", "region", "event_time", "session_id", "device_id")
_ENVELOPE_COLUMNS = ("event_id", "customer_id", "region", "event_at", "session_id", "device_id")
_TX_PAYLOAD = ("transaction_id", "amount_cents", "currency", "merchant_id",
               "merchant_category", "card_id", "card_region", "ip_region", "channel")  # fmt: skip
# Per behaviour event type: the landing columns its payload fills (in the payload's field
# order), and the payload fields they come from; its other payload columns are null.
_BEHAVIOR_PAYLOAD = {
    "page_view": (("category", "category"), ("product_sku", "product_sku")),
    "search": (("search_query", "query"), ("category", "category")),
    "add_to_cart": (("category", "category"), ("product_sku", "product_sku"),
                    ("quantity", "quantity"), ("price_cents", "price_cents")),
    "checkout": (("cart_value_cents", "cart_value_cents"), ("items", "items")),
    "purchase": (("order_id", "order_id"), ("category", "category"),
                 ("amount_cents", "amount_cents")),
}  # fmt: skip
_BEHAVIOR_SCHEMA = SCHEMAS[BEHAVIOR]
_BEHAVIOR_OPTIONAL = tuple(
    name for name in _BEHAVIOR_SCHEMA.names if name not in (*_ENVELOPE_COLUMNS, "event_type")
)
_TS = pa.timestamp("us", tz="UTC")


def landing_tables(events: list) -> list[tuple[tuple[str, date, int], pa.Table]]:
    """The events' landing tables, each keyed by (dataset, event date, event hour); rows of
    one event type together (a key may have a table per type; their order means nothing)."""
    by_kind: dict[str, list] = {}
    for e in events:
        group = by_kind.get(e.event_type)
        if group is None:
            by_kind[e.event_type] = [e]
        else:
            group.append(e)
    out: list[tuple[tuple[str, date, int], pa.Table]] = []
    for kind, group in by_kind.items():
        if kind == "card_transaction":
            out.extend(_by_hour(TRANSACTIONS, _transactions(group)))
        else:
            out.extend(_by_hour(BEHAVIOR, _behavior(kind, group)))
    return out


def _by_hour(dataset: str, table: pa.Table) -> list[tuple[tuple[str, date, int], pa.Table]]:
    """`table`'s rows by the UTC hour of their event time, in their order."""
    hours = table.column("event_at").to_numpy().astype(np.int64) // _US_PER_HOUR
    first, last = int(hours.min()), int(hours.max())
    if first == last:
        return [(_key(dataset, first), table)]
    return [(_key(dataset, int(h)), table.filter(hours == h)) for h in np.unique(hours)]


def _key(dataset: str, hour: int) -> tuple[str, date, int]:
    at = datetime.fromtimestamp(hour * 3600, UTC)
    return dataset, at.date(), at.hour


def _columns(objects: list, names: tuple[str, ...]) -> dict[str, tuple]:
    """The objects' fields `names` as columns: taken out in C from the fast path's structs
    (whose fields are `names`, in this order), else by name."""
    try:
        rows = list(map(msgspec.structs.astuple, objects))
    except TypeError:  # the contract's own models (events of the slow parse path)
        rows = [tuple(getattr(o, name) for name in names) for o in objects]
    return dict(zip(names, zip(*rows, strict=True), strict=True))


def _envelope(events: list, names: tuple[str, ...]) -> dict[str, object]:
    """The envelope's landing columns, and the events' other fields `names`."""
    cols: dict[str, object] = _columns(events, (*_ENVELOPE, *names))
    # Times go through their RFC 3339 text (encoded in C, parsed by Arrow): Arrow converts
    # aware datetimes with a Python call each, at twice the cost.
    text = msgspec.json.decode(msgspec.json.encode(cols.pop("event_time")), type=list[str])
    cols["event_at"] = pa.array(text, pa.string()).cast(_TS)
    return cols


def _transactions(events: list) -> pa.Table:
    cols = _envelope(events, ("payload", "labels"))
    cols.update(_columns(cols.pop("payload"), _TX_PAYLOAD))
    labels = cols.pop("labels")
    cols["is_fraud"] = [lb.is_fraud if lb is not None else None for lb in labels]
    cols["fraud_pattern"] = [lb.pattern if lb is not None else None for lb in labels]
    return pa.Table.from_pydict(cols, schema=SCHEMAS[TRANSACTIONS])


def _behavior(kind: str, events: list) -> pa.Table:
    """Events of one behaviour type: its payload fills its own columns, the others are null."""
    cols = _envelope(events, ("payload",))
    fills = _BEHAVIOR_PAYLOAD[kind]
    values = _columns(cols.pop("payload"), tuple(attr for _, attr in fills))
    for column, attr in fills:
        cols[column] = values[attr]
    n = len(events)
    cols["event_type"] = pa.repeat(kind, n)
    for name in _BEHAVIOR_OPTIONAL:
        if name not in cols:
            cols[name] = pa.nulls(n, _BEHAVIOR_SCHEMA.field(name).type)
    return pa.Table.from_pydict(cols, schema=_BEHAVIOR_SCHEMA)
