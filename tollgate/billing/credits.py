"""SLA credits: what a buyer gets back when a product missed its SLA.

The catalog states each product's credit policy (`tollgate.credit_policy.CreditPolicy`). Per
tenant and product of a month, billing computes from the delivery trail and the request log:
- a delivery credit: every charged delivery made while the product was stale (its freshness
  at delivery over the product's freshness SLA, as tollgate.status decides stale) or
  degraded is credited in full, the sum of those deliveries' recorded amounts. Evidence:
  how many deliveries and units, the UTC hours they fell in, the snapshot versions served;
- an availability credit: the month's availability to the tenant (the share of its active
  minutes on the product not entirely lost to 5xx answers, as the SLA report measures it)
  under a threshold credits that percent of the product's charges left after the delivery
  credit.
Credits never exceed the product's charges, so an invoice total is never negative.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
from sqlalchemy import Engine, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from tollgate.billing.ledger_reads import day_start
from tollgate.billing.lines import cents, usd_text
from tollgate.catalog import Catalog
from tollgate.db.models import UsageRecord
from tollgate.db.ops_models import RequestLogEntry
from tollgate.prices import MICROS
from tollgate.usage import BILLED_STATUSES

DELIVERY_CREDIT, AVAILABILITY_CREDIT = "sla_deliveries", "sla_availability"
CREDITED_SCHEMA = {
    "tenant_id": pl.String,
    "product_id": pl.String,
    "is_stale": pl.Boolean,
    "is_degraded": pl.Boolean,
    "hour": pl.String,  # 'YYYY-MM-DD HH', UTC
    "snapshot_version": pl.String,
    "deliveries": pl.Int64,
    "units": pl.Int64,
    "micros": pl.Int64,
}
AVAILABILITY_SCHEMA = {
    "tenant_id": pl.String,
    "product_id": pl.String,
    "active_minutes": pl.Int64,
    "down_minutes": pl.Int64,
}
_L, _R = UsageRecord, RequestLogEntry


def utc_text(engine: Engine, column, pg_format: str, width: int) -> ColumnElement[str]:
    """A UTC timestamp column cut to 'YYYY-MM-DD HH' (width 13) or '... HH:MI' (16)."""
    if engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), pg_format)
    return func.substr(column, 1, width)  # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff'


def stale_condition(catalog: Catalog) -> ColumnElement[bool]:
    """A ledger record delivered over its product's freshness SLA, or while stale."""
    sla = case(*((_L.product_id == p.id, p.freshness_sla_seconds) for p in catalog.products))
    return or_(
        and_(_L.freshness_seconds.is_not(None), _L.freshness_seconds > sla),
        _L.quality_status == "stale",
    )


def degraded_condition() -> ColumnElement[bool]:
    return _L.quality_status == "degraded"


def read_credited_deliveries(
    engine: Engine, catalog: Catalog, start: date, end: date
) -> pl.DataFrame:
    """Charged deliveries in days [start, end) made while stale or degraded, per tenant,
    product, condition, UTC hour and snapshot version, net of reversals."""
    stale = case((stale_condition(catalog), True), else_=False).label("is_stale")
    degraded = case((degraded_condition(), True), else_=False).label("is_degraded")
    hour = utc_text(engine, _L.occurred_at, "YYYY-MM-DD HH24", 13).label("hour")
    query = (
        select(
            _L.tenant_id,
            _L.product_id,
            stale,
            degraded,
            hour,
            _L.snapshot_version,
            func.sum(case((_L.status == "reversal", -1), else_=1)).label("deliveries"),
            func.sum(_L.units).label("units"),
            func.sum(_L.units * _L.unit_price_micros).label("micros"),
        )
        .where(_L.occurred_at >= day_start(start), _L.occurred_at < day_start(end))
        .where(_L.status.in_(BILLED_STATUSES), _L.unit_price_micros > 0)
        .where(or_(stale_condition(catalog), degraded_condition()))
        .group_by(_L.tenant_id, _L.product_id, stale, degraded, hour, _L.snapshot_version)
    )
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    return pl.DataFrame(rows, schema=CREDITED_SCHEMA, orient="row")


def read_availability(engine: Engine, start: date, end: date) -> pl.DataFrame:
    """Per tenant and product over days [start, end): the minutes it called the product
    (active) and those in which every answer was a 5xx (down), from the request log."""
    minute = utc_text(engine, _R.occurred_at, "YYYY-MM-DD HH24:MI", 16).label("minute")
    per_minute = (
        select(
            _R.tenant_id,
            _R.product_id,
            minute,
            func.min(case((_R.status >= 500, 1), else_=0)).label("down"),
        )
        .where(_R.occurred_at >= day_start(start), _R.occurred_at < day_start(end))
        .where(_R.tenant_id.is_not(None), _R.product_id.is_not(None))
        .group_by(_R.tenant_id, _R.product_id, minute)
        .subquery()
    )
    query = select(
        per_minute.c.tenant_id,
        per_minute.c.product_id,
        func.count().label("active_minutes"),
        func.sum(per_minute.c.down).label("down_minutes"),
    ).group_by(per_minute.c.tenant_id, per_minute.c.product_id)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(query)]
    return pl.DataFrame(rows, schema=AVAILABILITY_SCHEMA, orient="row")


def hour_ranges(hours: list[str]) -> list[tuple[datetime, datetime]]:
    """Sorted 'YYYY-MM-DD HH' hours as [from, to) ranges of consecutive hours."""
    ranges: list[tuple[datetime, datetime]] = []
    for text in sorted(set(hours)):
        at = datetime.strptime(text, "%Y-%m-%d %H")
        if ranges and ranges[-1][1] == at:
            ranges[-1] = (ranges[-1][0], at + timedelta(hours=1))
        else:
            ranges.append((at, at + timedelta(hours=1)))
    return ranges


def _range_text(ranges: list[tuple[datetime, datetime]]) -> str:
    parts = []
    for begin, end in ranges:
        same_day = end - begin <= timedelta(hours=24) and (end - timedelta(seconds=1)).date() == (
            begin.date()
        )
        until = f"{end:%H:%M}" if same_day else f"{end:%b %d %H:%M}"
        parts.append(f"{begin:%b %d %H:%M}-{until}")
    return ", ".join(parts)


def _iso_ranges(ranges: list[tuple[datetime, datetime]]) -> list[dict]:
    return [{"from": f"{b:%Y-%m-%dT%H:%M}Z", "to": f"{e:%Y-%m-%dT%H:%M}Z"} for b, e in ranges]


def delivery_credit(
    catalog: Catalog, product_id: str, rows: pl.DataFrame, charges_cents: int
) -> dict | None:
    """The delivery credit line's fields from one tenant's credited rows of one product."""
    policy = catalog.credit_policy(product_id)
    rows = rows.filter(
        (pl.col("is_stale") & policy.stale) | (pl.col("is_degraded") & policy.degraded)
    ).with_columns(
        reason=pl.when(pl.col("is_degraded") & policy.degraded)
        .then(pl.lit("degraded"))
        .otherwise(pl.lit("stale"))
    )
    deliveries = int(rows["deliveries"].sum() or 0)
    if not deliveries:
        return None
    amount = min(cents(Decimal(int(rows["micros"].sum())) / MICROS), charges_cents)
    evidence: dict = {"deliveries": deliveries, "units": int(rows["units"].sum())}
    texts = []
    for reason in ("stale", "degraded"):
        part = rows.filter(pl.col("reason") == reason)
        count = int(part["deliveries"].sum() or 0)
        if not count:
            continue
        ranges = hour_ranges(part["hour"].to_list())
        versions = sorted(v for v in part["snapshot_version"].unique().to_list() if v)
        evidence[reason] = {
            "deliveries": count,
            "units": int(part["units"].sum()),
            "hours": _iso_ranges(ranges),
            "snapshot_versions": versions,
        }
        where = f"snapshot {', '.join(versions)}; " if versions else ""
        texts.append(f"{count:,} while {reason} ({where}{_range_text(ranges)})")
    return _line(
        catalog,
        product_id,
        DELIVERY_CREDIT,
        f"SLA credit: {deliveries:,} deliveries credited in full, {' and '.join(texts)}",
        amount,
        evidence,
    )


def availability_credit(
    catalog: Catalog, product_id: str, active: int, down: int, base_cents: int
) -> dict | None:
    """The availability credit line's fields: `base_cents` are the product's charges left
    after its delivery credit."""
    policy = catalog.credit_policy(product_id)
    if not active or base_cents <= 0:
        return None
    availability = 1 - down / active
    percent = policy.availability_percent(availability)
    if not percent:
        return None
    below = min(a.below for a in policy.availability if a.percent == percent)
    amount = int((Decimal(base_cents) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP))
    evidence = {
        "availability": round(availability, 6),
        "active_minutes": active,
        "down_minutes": down,
        "below": below,
        "percent": percent,
        "charges_cents": base_cents,
    }
    text = (
        f"SLA credit: availability {availability:.3%} ({down:,} of {active:,} active minutes "
        f"down), under {below:.1%}: {percent}% of {usd_text(Decimal(base_cents) / 100)}"
    )
    return _line(catalog, product_id, AVAILABILITY_CREDIT, text, amount, evidence)


def _line(
    catalog: Catalog, product_id: str, kind: str, text: str, amount: int, evidence: dict
) -> dict:
    return {
        "product_id": product_id,
        "price_model": catalog.product(product_id).price.model,
        "description": text,
        "quantity": 1,
        "unit_price_usd": -Decimal(amount) / 100,
        "amount_cents": -amount,
        "price_basis": "credit",
        "kind": kind,
        "evidence": evidence,
    }


def credit_lines(
    catalog: Catalog,
    tenant_id: str,
    charges: dict[str, int],
    credited: pl.DataFrame,
    availability: pl.DataFrame,
) -> list[dict]:
    """A tenant's credit lines, given its charges per product (cents) this month."""
    lines = []
    mine = credited.filter(pl.col("tenant_id") == tenant_id)
    up = availability.filter(pl.col("tenant_id") == tenant_id)
    for product_id, charged in sorted(charges.items()):
        if charged <= 0:
            continue
        credit = delivery_credit(
            catalog, product_id, mine.filter(pl.col("product_id") == product_id), charged
        )
        left = charged
        if credit is not None:
            lines.append(credit)
            left += credit["amount_cents"]
        row = up.filter(pl.col("product_id") == product_id)
        if row.height:
            active, down = int(row["active_minutes"][0]), int(row["down_minutes"][0])
            line = availability_credit(catalog, product_id, active, down, left)
            if line is not None:
                lines.append(line)
    return lines
