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
from tollgate.billing.credits import read_availability, read_credited_deliveries
from tollgate.billing.invoices import InvoiceDraft, month_bounds, price_month
from tollgate.billing.ledger_reads import (
    daily_totals,
    day_start,
    read_daily_usage,
    read_rated_usage,
)
from tollgate.billing.lines import ContractFee
from tollgate.catalog import Catalog
from tollgate.db.contract_models import Purchase, Subscription
from tollgate.db.models import ExportJob


def rollup_days(engine: Engine, start: date, end: date) -> pl.DataFrame:
    """Roll the ledger up into usage_daily for days [start, end) in one scan; returns the
    rated rows (`read_rated_usage`), which invoices and costs take as they are."""
    rated = read_rated_usage(engine, start, end)
    store.replace_usage_daily(engine, start, end, daily_totals(rated))
    return rated


def invoice_month(
    engine: Engine, catalog: Catalog, month: str, daily_usage: pl.DataFrame | None = None
) -> list[InvoiceDraft]:
    """Compute and store every tenant's invoice for `month` ('YYYY-MM') from the ledger
    and the contracts that touch the month, with SLA credits from the delivery trail and
    the request log.

    `daily_usage`: the month's rated rollup (`rollup_days`' result), if already read from
    the ledger, to save a second scan; it must cover the whole month."""
    start, end = month_bounds(month)
    if daily_usage is None:
        daily_usage = read_rated_usage(engine, start, end)
    usage = daily_usage.filter(pl.col("usage_date").is_between(start, end, closed="left"))
    subscriptions, purchases = read_contract_fees(engine, start, end)
    credited = read_credited_deliveries(engine, catalog, start, end)
    availability = read_availability(engine, start, end)
    invoices = price_month(catalog, month, usage, subscriptions, purchases, credited, availability)
    store.replace_invoices(engine, month, invoices)
    return invoices


def read_contract_fees(
    engine: Engine, start: date, end: date
) -> tuple[list[ContractFee], list[ContractFee]]:
    """Subscriptions active at some time in [start, end), and purchases made in it."""
    lo, hi = day_start(start), day_start(end)
    s, p = Subscription, Purchase
    with engine.connect() as conn:
        subs = conn.execute(
            select(s.id, s.tenant_id, s.product_id, s.price_micros, s.starts_at, s.ends_at)
            .where(s.starts_at < hi, s.ends_at.is_(None) | (s.ends_at > lo))
            .order_by(s.tenant_id, s.starts_at)
        ).all()
        buys = conn.execute(
            select(p.id, p.tenant_id, p.product_id, p.price_micros, p.purchased_at)
            .add_columns(p.updates_until)
            .where(p.purchased_at >= lo, p.purchased_at < hi)
            .order_by(p.tenant_id, p.purchased_at)
        ).all()
    return (
        [ContractFee(*row) for row in subs],
        [ContractFee(i, t, pr, m, at, None, until) for i, t, pr, m, at, until in buys],
    )


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
