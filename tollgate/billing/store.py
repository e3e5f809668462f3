"""Persist billing results. Each writer replaces a whole day or month in one transaction,
so recomputing from the same ledger leaves the same rows (idempotent, rerun-safe)."""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import Engine, delete, insert, select

from tollgate.billing.costs import TenantDayCost, TenantMonthMargin
from tollgate.billing.invoices import InvoiceDraft
from tollgate.clock import utcnow
from tollgate.db.billing_models import Invoice, InvoiceLine, TenantCost, TenantMargin, UsageDaily


def replace_usage_daily(engine: Engine, start: date, end: date, usage: pl.DataFrame) -> int:
    """Replace the rollup rows of days [start, end) with `usage` (read_daily_usage's frame)."""
    now = utcnow()
    rows = [{**r, "computed_at": now} for r in usage.iter_rows(named=True)]
    with engine.begin() as conn:
        conn.execute(
            delete(UsageDaily).where(UsageDaily.usage_date >= start, UsageDaily.usage_date < end)
        )
        if rows:
            conn.execute(insert(UsageDaily), rows)
    return len(rows)


def replace_invoices(engine: Engine, month: str, invoices: list[InvoiceDraft]) -> None:
    """Replace every invoice of `month` (and their lines) with `invoices`."""
    now = utcnow()
    with engine.begin() as conn:
        old_ids = select(Invoice.id).where(Invoice.month == month)
        conn.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id.in_(old_ids)))
        conn.execute(delete(Invoice).where(Invoice.month == month))
        if not invoices:
            return
        conn.execute(
            insert(Invoice),
            [
                {
                    "id": inv.id,
                    "tenant_id": inv.tenant_id,
                    "month": month,
                    "currency": "USD",
                    "total_cents": inv.total_cents,
                    "computed_at": now,
                }
                for inv in invoices
            ],
        )
        lines = [
            {
                "invoice_id": inv.id,
                "line_no": n,
                "product_id": line.product_id,
                "price_model": line.price_model,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price_usd": line.unit_price_usd,
                "amount_cents": line.amount_cents,
                "channel": line.channel,
                "price_basis": line.price_basis,
                "contract_id": line.contract_id,
                "kind": line.kind,
                "evidence": line.evidence,
            }
            for inv in invoices
            for n, line in enumerate(inv.lines, start=1)
        ]
        if lines:
            conn.execute(insert(InvoiceLine), lines)


def replace_tenant_costs(engine: Engine, day: date, costs: list[TenantDayCost]) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(delete(TenantCost).where(TenantCost.cost_date == day))
        if costs:
            conn.execute(
                insert(TenantCost),
                [
                    {
                        **{f: getattr(c, f) for f in _COST_FIELDS},
                        "cost_usd": c.cost_usd,
                        "computed_at": now,
                    }
                    for c in costs
                ],
            )


def replace_margins(engine: Engine, month: str, rows: list[TenantMonthMargin]) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(delete(TenantMargin).where(TenantMargin.month == month))
        if rows:
            conn.execute(
                insert(TenantMargin),
                [
                    {
                        "month": m.month,
                        "tenant_id": m.tenant_id,
                        "revenue_cents": m.revenue_cents,
                        "cost_usd": m.cost_usd,
                        "margin_usd": m.margin_usd,
                        "cost_ratio": float(m.cost_ratio) if m.cost_ratio is not None else None,
                        "is_flagged": m.is_flagged,
                        "computed_at": now,
                    }
                    for m in rows
                ],
            )


def read_invoice_revenue(engine: Engine, month: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Invoice.tenant_id, Invoice.total_cents).where(Invoice.month == month)
        ).all()
    return {t: int(c) for t, c in rows}


def read_month_costs(engine: Engine, start: date, end: date) -> list[TenantDayCost]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(TenantCost).where(TenantCost.cost_date >= start, TenantCost.cost_date < end)
        ).mappings()
        return [TenantDayCost(**{f: r[f] for f in _COST_FIELDS}) for r in rows]


_COST_FIELDS = (
    "cost_date",
    "tenant_id",
    "requests",
    "bytes",
    "compute_ms",
    "stored_bytes",
    "compute_usd",
    "transfer_usd",
    "api_calls_usd",
    "storage_usd",
)
