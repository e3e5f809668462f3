"""Aggregates read from the usage ledger, computed by the database (10M rows never cross
into Python): daily usage per tenant and product, and whether a tenant had a product
before (which decides when a one-time dump is charged)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.sql.elements import ColumnElement

from tollgate.db.models import UsageRecord

DAILY_USAGE_SCHEMA = {
    "usage_date": pl.Date,
    "tenant_id": pl.String,
    "product_id": pl.String,
    "requests": pl.Int64,
    "units": pl.Int64,
    "bytes": pl.Int64,
    "compute_ms": pl.Float64,
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


def read_daily_usage(
    engine: Engine, start: date, end: date, tenant_id: str | None = None
) -> pl.DataFrame:
    """Delivered usage per UTC day, tenant and product for days in [start, end)."""
    day = _utc_day(engine).label("usage_date")
    query = (
        select(
            day,
            _L.tenant_id,
            _L.product_id,
            func.count().label("requests"),
            func.sum(_L.units).label("units"),
            func.sum(_L.bytes).label("bytes"),
            func.sum(_L.compute_ms).label("compute_ms"),
        )
        .where(_L.occurred_at >= day_start(start), _L.occurred_at < day_start(end))
        .where(_L.status == "delivered")
        .group_by(day, _L.tenant_id, _L.product_id)
    )
    if tenant_id is not None:
        query = query.where(_L.tenant_id == tenant_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={**DAILY_USAGE_SCHEMA, "usage_date": pl.String},
        orient="row",
    )
    return frame.with_columns(pl.col("usage_date").str.to_date()).sort(
        "usage_date", "tenant_id", "product_id"
    )


def delivered_before(
    engine: Engine, pairs: list[tuple[str, str]], before: date
) -> set[tuple[str, str]]:
    """The (tenant, product) pairs among `pairs` with a delivered record before `before`.

    One indexed probe per pair (tenant, then time): it stops at the pair's first record, so
    its cost does not grow with the ledger as a scan of the whole history would."""
    found: set[tuple[str, str]] = set()
    with engine.connect() as conn:
        for tenant, product in pairs:
            probe = (
                select(_L.delivery_id)
                .where(_L.tenant_id == tenant, _L.occurred_at < day_start(before))
                .where(_L.product_id == product, _L.status == "delivered")
                .limit(1)
            )
            if conn.execute(probe).first() is not None:
                found.add((tenant, product))
    return found
