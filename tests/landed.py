"""Landing test data the way the stream lane does, including rows no valid event could make."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from tollgate.events.landing import landing_table, write_landing_file
from tollgate.lake import Lake


def land_rows(
    lake: Lake, dataset: str, rows: list[dict], writer: str = "test", epoch: int = 1
) -> None:
    """Write raw landing rows (one file per hour), bypassing the event contract on purpose."""
    files: dict[tuple[date, int], list[dict]] = defaultdict(list)
    for row in rows:
        at = row["event_at"]
        files[(at.date(), at.hour)].append(row)
    for (day, hour), batch in files.items():
        write_landing_file(
            lake.landing_file(dataset, day, hour, writer, epoch), landing_table(dataset, batch)
        )


def card_transaction(day: date, **fields) -> dict:
    """A card_transactions landing row at noon (UTC) of `day`: `fields` (at least
    event_id, transaction_id, customer_id and amount_cents) over fixed values for the rest."""
    return {
        "session_id": "s-bad",
        "device_id": "d-bad",
        "currency": "USD",
        "merchant_id": "m",
        "merchant_category": "retail",
        "card_id": "card",
        "card_region": "EU",
        "ip_region": "EU",
        "channel": "web",
        "is_fraud": False,
        "fraud_pattern": "none",
        "region": "EU",
        "event_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        **fields,
    }
