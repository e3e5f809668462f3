"""Billing jobs: read the ledger, compute, persist. What Dagster assets and the CLI call."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from sqlalchemy import Engine, select

from tollgate.billing import store
from tollgate.billing.costs import (
    CostRates,
    TenantDayCost,
    TenantMonthMargin,
    daily_costs,
    margins,
    stored_bytes_on,
)
from tollgate.billing.invoices import InvoiceDraft, month_bounds, monthly_totals, price_month
from tollgate.billing.ledger_reads import delivered_before, read_daily_usage
from tollgate.catalog import Catalog
from tollgate.db.models import ExportJob


def rollup_days(engine: Engine, start: date, end: date) -> pl.DataFrame:
    """Roll the ledger up into usage_daily for days [start, end); returns the rows."""
    usage = read_daily_usage(engine, start, end)
    store.replace_usage_daily(engine, start, end, usage)
    return usage


def invoice_month(
    engine: Engine, catalog: Catalog, month: str, daily_usage: pl.DataFrame | None = None
) -> list[InvoiceDraft]:
    """Compute and store every tenant's invoice for `month` ('YYYY-MM') from the ledger.

    `daily_usage`: the month's rollup (`rollup_days`' result), if already read from the
    ledger, to save a second scan; it must cover the whole month."""
    start, end = month_bounds(month)
    if daily_usage is None:
        daily_usage = read_daily_usage(engine, start, end)
    month_rows = pl.col("usage_date").is_between(start, end, closed="left")
    usage = monthly_totals(daily_usage.filter(month_rows))
    one_time = {p.id for p in catalog.products if p.price.model == "one_time"}
    pairs = [(t, p) for t, p in usage.select("tenant_id", "product_id").rows() if p in one_time]
    invoices = price_month(catalog, month, usage, delivered_before(engine, sorted(pairs), start))
    store.replace_invoices(engine, month, invoices)
    return invoices


def attribute_costs(
    engine: Engine,
    rates: CostRates,
    day: date,
    daily_usage: pl.DataFrame | None = None,
    exports: pl.DataFrame | None = None,
) -> list[TenantDayCost]:
    """Compute and store each tenant's cost of serving on `day` (optionally from an
    already-read rollup covering the day and `read_exports()`' frame)."""
    if daily_usage is None:
        daily_usage = read_daily_usage(engine, day, day + timedelta(days=1))
    exports = read_exports(engine) if exports is None else exports
    costs = daily_costs(day, daily_usage, stored_bytes_on(day, exports), rates)
    store.replace_tenant_costs(engine, day, costs)
    return costs


def margin_month(engine: Engine, rates: CostRates, month: str) -> list[TenantMonthMargin]:
    """Margins of `month` from its stored invoices and daily costs (compute those first)."""
    start, end = month_bounds(month)
    rows = margins(
        month,
        store.read_invoice_revenue(engine, month),
        store.read_month_costs(engine, start, end),
        rates.alert_ratio,
    )
    store.replace_margins(engine, month, rows)
    return rows


def read_exports(engine: Engine) -> pl.DataFrame:
    """Finished export files per tenant with the days they are held (for storage cost)."""
    query = select(
        ExportJob.tenant_id, ExportJob.bytes, ExportJob.finished_at, ExportJob.expires_at
    ).where(ExportJob.finished_at.is_not(None), ExportJob.bytes.is_not(None))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pl.DataFrame(
        [(t, int(b), f.date(), e.date() if e else None) for t, b, f, e in rows],
        schema={
            "tenant_id": pl.String,
            "bytes": pl.Int64,
            "finished_on": pl.Date,
            "expires_on": pl.Date,
        },
        orient="row",
    )
