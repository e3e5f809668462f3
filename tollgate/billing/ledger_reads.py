"""Aggregates read from the usage ledger, computed by the database (10M rows never cross
into Python): rated usage per UTC day, tenant, product, channel and price applied, and the
coarser daily usage per tenant and product that usage reports and costs read."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import polars as pl
from sqlalchemy import Engine, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from tollgate.db.models import UsageRecord
from tollgate.usage import BILLED_STATUSES

DAILY_USAGE_SCHEMA = {
    "usage_date": pl.Date,
    "tenant_id": pl.String,
    "product_id": pl.String,
    "requests": pl.Int64,
    "units": pl.Int64,
    "bytes": pl.Int64,
    "compute_ms": pl.Float64,
}
# Daily usage split by how each delivery was rated: what invoice lines are summed from.
RATED_KEYS = ("channel", "kind", "unit_price_micros", "price_basis", "contract_id")
RATED_USAGE_SCHEMA = {
    **DAILY_USAGE_SCHEMA,
    "channel": pl.String,
    "kind": pl.String,
    "unit_price_micros": pl.Int64,
    "price_basis": pl.String,
    "contract_id": pl.String,
}
_L = UsageRecord


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _utc_day(engine: Engine) -> ColumnElement[str]:
    """The UTC day of `occurred_at` as 'YYYY-MM-DD', per backend."""
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", _L.occurred_at), "YYYY-MM-DD")
    # SQLite keeps the UTC timestamp as 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return func.substr(_L.occurred_at, 1, 10)


def read_rated_usage(
    engine: Engine, start: date, end: date, tenant_id: str | None = None
) -> pl.DataFrame:
    """Delivered usage per UTC day, tenant, product and rating (`RATED_KEYS`) for days in
    [start, end), in one scan of the ledger, net of reversals (deliveries voided because
    their answer was not sent)."""
    day = _utc_day(engine).label("usage_date")
    rated = [getattr(_L, k) for k in RATED_KEYS]
    query = (
        select(
            day,
            _L.tenant_id,
            _L.product_id,
            # A reversal voids one delivery: it takes back its request, units and bytes.
            func.sum(case((_L.status == "reversal", -1), else_=1)).label("requests"),
            func.sum(_L.units).label("units"),
            func.sum(_L.bytes).label("bytes"),
            func.sum(_L.compute_ms).label("compute_ms"),
            *rated,
        )
        .where(_L.occurred_at >= day_start(start), _L.occurred_at < day_start(end))
        .where(_L.status.in_(BILLED_STATUSES))
        .group_by(day, _L.tenant_id, _L.product_id, *rated)
    )
    if tenant_id is not None:
        query = query.where(_L.tenant_id == tenant_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={**RATED_USAGE_SCHEMA, "usage_date": pl.String},
        orient="row",
    )
    return frame.with_columns(pl.col("usage_date").str.to_date()).sort(
        "usage_date", "tenant_id", "product_id", *RATED_KEYS, nulls_last=True
    )


def daily_totals(rated: pl.DataFrame) -> pl.DataFrame:
    """Rated usage summed per UTC day, tenant and product (the `usage_daily` grain)."""
    return (
        rated.group_by("usage_date", "tenant_id", "product_id")
        .agg(
            pl.col("requests").sum(),
            pl.col("units").sum(),
            pl.col("bytes").sum(),
            pl.col("compute_ms").sum(),
        )
        .select(list(DAILY_USAGE_SCHEMA))
        .sort("usage_date", "tenant_id", "product_id")
    )


def read_daily_usage(
    engine: Engine, start: date, end: date, tenant_id: str | None = None
) -> pl.DataFrame:
    """Delivered usage per UTC day, tenant and product for days in [start, end)."""
    return daily_totals(read_rated_usage(engine, start, end, tenant_id))
