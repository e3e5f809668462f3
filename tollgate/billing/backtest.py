"""Pricing backtest: a past month replayed against a proposed catalog.

Per tenant: the month's charges as invoiced under the current catalog (the prices recorded
with each delivery, contract fees as agreed) against the same deliveries re-rated at the
proposed catalog's prices in force on their days, and the requests of the request log the
proposed tiers' hourly rate limits would have refused. Both revenues are before SLA
credits. Contract fees keep the prices agreed at signing, as the contracts do.

Replaying from the ledger needs each delivery's unit to stay what it was: a proposal that
sells a channel by another unit (per query instead of per record) cannot be replayed and
is refused, as is one that drops a product or tier in use. Refusals are counted per UTC
clock hour (the API's window slides, so this is close, not exact): an hour with n requests
under a limit L refuses n - L of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time

import polars as pl
from sqlalchemy import Engine, func, select

from tollgate.billing.credits import utc_text
from tollgate.billing.invoices import month_bounds, price_month
from tollgate.billing.jobs import read_contract_fees
from tollgate.billing.ledger_reads import day_start, read_rated_usage
from tollgate.catalog import Catalog
from tollgate.db.models import Tenant
from tollgate.db.ops_models import RequestLogEntry
from tollgate.errors import InvalidRequest
from tollgate.rating import KIND_OF_UNIT


class BacktestError(InvalidRequest):
    code = "backtest_not_replayable"


@dataclass(frozen=True)
class TenantBacktest:
    tenant_id: str
    tier: str
    current_cents: int
    proposed_cents: int
    requests: int
    refused_current: int
    refused_proposed: int

    @property
    def difference_cents(self) -> int:
        return self.proposed_cents - self.current_cents

    def fields(self) -> dict:
        return {**asdict(self), "difference_cents": self.difference_cents}


def reprice(proposed: Catalog, rated: pl.DataFrame) -> pl.DataFrame:
    """The rated usage with each group's unit price as the proposed catalog sets it."""
    prices = []
    for row in rated.iter_rows(named=True):
        where = f"{row['tenant_id']}'s {row['product_id']} ({row['channel']})"
        try:
            product = proposed.product(row["product_id"])
        except KeyError:
            raise BacktestError(
                f"the proposed catalog drops {row['product_id']}: {where}"
            ) from None
        price = product.price_at(datetime.combine(row["usage_date"], time(), UTC))
        rate = price.rate(row["channel"], product.lane)
        if rate is None:
            raise BacktestError(f"the proposed catalog does not sell {where}")
        basis = row["price_basis"] or "list"
        if basis == "trial" or (basis == "empty" and not price.bill_empty):
            prices.append(0)
            continue
        unit = "export" if row["channel"] == "export" else KIND_OF_UNIT[rate.unit]
        if not rate.included and basis != "empty" and unit != row["kind"]:
            raise BacktestError(
                f"the proposed catalog sells {where} per {rate.unit}, the ledger counted "
                f"{row['kind']}: not replayable"
            )
        prices.append(rate.micros)
    return rated.with_columns(pl.Series("unit_price_micros", prices, dtype=pl.Int64))


def hourly_requests(engine: Engine, start, end) -> pl.DataFrame:
    """Identified requests per tenant and UTC hour from the request log."""
    r = RequestLogEntry
    hour = utc_text(engine, r.occurred_at, "YYYY-MM-DD HH24", 13).label("hour")
    query = (
        select(r.tenant_id, hour, func.count().label("requests"))
        .where(r.occurred_at >= day_start(start), r.occurred_at < day_start(end))
        .where(r.tenant_id.is_not(None))
        .group_by(r.tenant_id, hour)
    )
    with engine.connect() as conn:
        rows = [tuple(x) for x in conn.execute(query)]
    schema = {"tenant_id": pl.String, "hour": pl.String, "requests": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def backtest(
    engine: Engine, current: Catalog, proposed: Catalog, month: str
) -> list[TenantBacktest]:
    """Every tenant with charges or requests in `month`, by tenant id."""
    start, end = month_bounds(month)
    rated = read_rated_usage(engine, start, end)
    subscriptions, purchases = read_contract_fees(engine, start, end)
    now = {
        d.tenant_id: d.charges_cents
        for d in price_month(current, month, rated, subscriptions, purchases)
    }
    repriced = reprice(proposed, rated)
    then = {
        d.tenant_id: d.charges_cents
        for d in price_month(proposed, month, repriced, subscriptions, purchases)
    }
    hours = hourly_requests(engine, start, end)
    with engine.connect() as conn:
        tiers = dict(conn.execute(select(Tenant.id, Tenant.tier)).all())
    results = []
    for tenant_id in sorted(set(now) | set(then) | set(hours["tenant_id"].to_list())):
        tier = tiers.get(tenant_id, "")
        counts = hours.filter(pl.col("tenant_id") == tenant_id)["requests"].to_list()
        if tier not in proposed.tiers:
            raise BacktestError(f"the proposed catalog drops the tier {tier!r} of {tenant_id}")
        limit_now = current.tiers[tier].rate_limit_per_hour if tier in current.tiers else None
        limit_then = proposed.tiers[tier].rate_limit_per_hour
        results.append(
            TenantBacktest(
                tenant_id=tenant_id,
                tier=tier,
                current_cents=now.get(tenant_id, 0),
                proposed_cents=then.get(tenant_id, 0),
                requests=sum(counts),
                refused_current=_refused(counts, limit_now),
                refused_proposed=_refused(counts, limit_then),
            )
        )
    return results


def _refused(per_hour: list[int], limit: int | None) -> int:
    return 0 if limit is None else sum(max(0, n - limit) for n in per_hour)
