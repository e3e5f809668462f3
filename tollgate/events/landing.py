"""How events land: one flat Parquet row per event, in one of two datasets.

Behaviour events and card transactions have different payloads, so they land apart
(`behavior_events`, `card_transactions`); the batch lane's staging models read these
columns. `write_landing_file` writes a file atomically (temp + rename), so a reader never
sees half a file and a replayed write replaces the first one whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tollgate.events.contract import CardTransaction, Event

_TS = pa.timestamp("us", tz="UTC")

BEHAVIOR_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("customer_id", pa.string()),
        ("region", pa.string()),
        ("event_at", _TS),
        ("session_id", pa.string()),
        ("device_id", pa.string()),
        ("category", pa.string()),
        ("product_sku", pa.string()),
        ("search_query", pa.string()),
        ("quantity", pa.int32()),
        ("price_cents", pa.int64()),
        ("items", pa.int32()),
        ("cart_value_cents", pa.int64()),
        ("order_id", pa.string()),
        ("amount_cents", pa.int64()),
    ]
)

TRANSACTION_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("transaction_id", pa.string()),
        ("customer_id", pa.string()),
        ("region", pa.string()),
        ("event_at", _TS),
        ("session_id", pa.string()),
        ("device_id", pa.string()),
        ("amount_cents", pa.int64()),
        ("currency", pa.string()),
        ("merchant_id", pa.string()),
        ("merchant_category", pa.string()),
        ("card_id", pa.string()),
        ("card_region", pa.string()),
        ("ip_region", pa.string()),
        ("channel", pa.string()),
        ("is_fraud", pa.bool_()),
        ("fraud_pattern", pa.string()),
    ]
)

SCHEMAS = {"behavior_events": BEHAVIOR_SCHEMA, "card_transactions": TRANSACTION_SCHEMA}


def landing_dataset(event: Event) -> str:
    return "card_transactions" if isinstance(event, CardTransaction) else "behavior_events"


def landing_row(event: Event) -> dict:
    """The flat landing row of an event (keys are the dataset schema's columns)."""
    row = {
        "event_id": event.event_id,
        "customer_id": event.customer_id,
        "region": event.region,
        "event_at": event.event_time,
        "session_id": event.session_id,
        "device_id": event.device_id,
    }
    payload = event.payload.model_dump()
    if isinstance(event, CardTransaction):
        row.update(payload)
        labels = event.labels
        row["is_fraud"] = labels.is_fraud if labels else None
        row["fraud_pattern"] = labels.pattern if labels else None
        return row
    row["event_type"] = event.event_type
    if "query" in payload:
        payload["search_query"] = payload.pop("query")
    row.update(payload)
    return row


def landing_table(dataset: str, rows: Iterable[dict]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCHEMAS[dataset])


def write_landing_file(path: Path, table: pa.Table) -> None:
    """Write one landing file atomically; an existing file at `path` is replaced whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
