"""What a tenant may read about its own billing: usage per day (rolled-up days plus today,
read live from the ledger) and its invoices with their lines. The API serves these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
from sqlalchemy import Engine, select

from tollgate.billing.invoices import InvoiceDraft, LineItem
from tollgate.billing.ledger_reads import DAILY_USAGE_SCHEMA, read_daily_usage
from tollgate.db.billing_models import Invoice, InvoiceLine, UsageDaily

_USAGE_COLUMNS = list(DAILY_USAGE_SCHEMA)


@dataclass(frozen=True)
class StoredInvoice:
    draft: InvoiceDraft
    computed_at: datetime


def tenant_usage(
    engine: Engine, tenant_id: str, start: date, end: date, today: date
) -> pl.DataFrame:
    """Usage of one tenant per day and product for days [start, end): stored rollups for
    days before `today`, the ledger itself from `today` on (near real time)."""
    stored_end = min(end, today)
    frames = []
    if start < stored_end:
        query = select(*(getattr(UsageDaily, c) for c in _USAGE_COLUMNS)).where(
            UsageDaily.tenant_id == tenant_id,
            UsageDaily.usage_date >= start,
            UsageDaily.usage_date < stored_end,
        )
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(query)]
        frames.append(pl.DataFrame(rows, schema=DAILY_USAGE_SCHEMA, orient="row"))
    live_start = max(start, today)
    if live_start < end:
        frames.append(read_daily_usage(engine, live_start, end, tenant_id=tenant_id))
    if not frames:
        return pl.DataFrame(schema=DAILY_USAGE_SCHEMA)
    return pl.concat(frames).sort("usage_date", "product_id")


def tenant_invoices(
    engine: Engine, tenant_id: str, month: str | None = None
) -> list[StoredInvoice]:
    """A tenant's stored invoices (one month, or all), newest month first, with lines."""
    query = select(Invoice).where(Invoice.tenant_id == tenant_id).order_by(Invoice.month.desc())
    if month is not None:
        query = query.where(Invoice.month == month)
    with engine.connect() as conn:
        invoices = conn.execute(query).mappings().all()
        ids = [inv["id"] for inv in invoices]
        lines = (
            conn.execute(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id.in_(ids))
                .order_by(InvoiceLine.invoice_id, InvoiceLine.line_no)
            )
            .mappings()
            .all()
        )
    by_invoice: dict[str, list[LineItem]] = {}
    for line in lines:
        by_invoice.setdefault(line["invoice_id"], []).append(
            LineItem(
                line["product_id"],
                line["price_model"],
                line["description"],
                int(line["quantity"]),
                line["unit_price_usd"],
                int(line["amount_cents"]),
                line["channel"],
                line["price_basis"],
                line["contract_id"],
                line["kind"],
                line["evidence"],
            )
        )
    return [
        StoredInvoice(
            InvoiceDraft(inv["tenant_id"], inv["month"], tuple(by_invoice.get(inv["id"], ()))),
            inv["computed_at"],
        )
        for inv in invoices
    ]
