"""Enriched transaction insights as Kafka messages (for `bytewax.connectors.kafka.KafkaSink`).

Delivery: at-least-once. Bytewax's Kafka sink re-sends the messages of the resumed epoch
after a crash; messages are keyed by transaction_id, so a compacted topic or a consumer
keyed on it sees each transaction once.
"""

from __future__ import annotations

import json
from datetime import datetime

from bytewax.connectors.kafka import KafkaSinkMessage

from tollgate.clock import utcnow


def insight_messages(rows: list[dict]) -> list[KafkaSinkMessage[bytes, bytes]]:
    """One message per scored transaction: the transaction-risk row plus when it was scored."""
    scored_at = utcnow().isoformat()
    return [
        KafkaSinkMessage(
            key=row["transaction_id"].encode(),
            value=json.dumps({**row, "processed_at": scored_at}, default=_iso).encode(),
        )
        for row in rows
    ]


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
