"""Events and runners for the stream-lane tests: hand-made events with exact times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bytewax.testing import TestingSink, TestingSource, run_main

from streaming.flows.build import FlowOptions, build_flow
from streaming.outputs_at_rest import landed_rows, quarantine_records, store_rows
from tollgate.events import event_to_json
from tollgate.events.contract import (
    CardTransaction,
    CardTransactionPayload,
    FraudLabels,
    PageView,
    PageViewPayload,
    Purchase,
    PurchasePayload,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_ids = itertools.count()


def _envelope(customer: str, at: datetime, region: str, device: str, session: str) -> dict:
    return {
        "event_id": f"e-{next(_ids):06d}",
        "customer_id": customer,
        "region": region,
        "event_time": at,
        "session_id": session,
        "device_id": device,
    }


def view(customer="c-1", at=T0, region="EU", device="d-1", session="s-1") -> PageView:
    return PageView(
        event_type="page_view",
        payload=PageViewPayload(category="books", product_sku="sku-1"),
        **_envelope(customer, at, region, device, session),
    )


def purchase(customer="c-1", at=T0, amount=2500, region="EU", session="s-1") -> Purchase:
    return Purchase(
        event_type="purchase",
        payload=PurchasePayload(order_id=f"o-{next(_ids)}", category="books", amount_cents=amount),
        **_envelope(customer, at, region, "d-1", session),
    )


def payment(
    customer="c-1", at=T0, amount=2500, region="EU", ip_region=None, device="d-1", fraud=False
) -> CardTransaction:
    return CardTransaction(
        event_type="card_transaction",
        payload=CardTransactionPayload(
            transaction_id=f"t-{next(_ids):06d}",
            amount_cents=amount,
            currency="EUR",
            merchant_id="m-1",
            merchant_category="books",
            card_id="card-1",
            card_region=region,
            ip_region=ip_region or region,
            channel="web",
        ),
        labels=FraudLabels(is_fraud=fraud, pattern="geo_mismatch" if fraud else "none"),
        **_envelope(customer, at, region, device, "s-pay"),
    )


def raw(*events) -> list[bytes]:
    return [event_to_json(e) for e in events]


def run_collect(settings, raws, *, options=FlowOptions(shards=4, writers=1), batch_size=50):
    """Run the flow in process with testing sinks; return what reached each sink."""
    out = {"live": [], "landing": [], "quarantine": []}
    sinks = {name: TestingSink(items) for name, items in out.items()}
    flow = build_flow(settings, TestingSource(raws, batch_size=batch_size), sinks, options)
    run_main(flow, epoch_interval=timedelta(seconds=0))
    return out


def live_rows(out: dict, product_id: str) -> list[dict]:
    return [row for pid, rows, _ in out["live"] if pid == product_id for row in rows]


def landed(out: dict) -> list:
    return [e for _, events in out["landing"] for e in events]


def quarantined(out: dict) -> list[dict]:
    return [r for _, records in out["quarantine"] for r in records]


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def store_contents(url: str) -> dict[str, list[tuple]]:
    """Every live store table's rows, processed_at left out (it is when, not what)."""
    return store_rows(url)


def lake_contents(lake_dir) -> dict[str, list[tuple]]:
    """Landed rows per dataset, sorted, whatever files they were written to."""
    return landed_rows(lake_dir)


def quarantine_contents(lake_dir) -> list[str]:
    """Quarantined records, sorted, `received_at` (a wall-clock time) left out."""
    return quarantine_records(lake_dir)


def leftover_temp_files(lake_dir) -> list:
    return sorted(p for p in lake_dir.rglob(".*.tmp"))
