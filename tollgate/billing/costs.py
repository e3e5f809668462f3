"""Cost of serving each tenant, per UTC day, from measured usage; margins per month.

A day's cost is compute (seconds of request and export work x rate), bytes transferred
(per GB, GB = 10^9 bytes), API calls (per ledger record: one response, one export, one
batch of pushed messages) and storage of the tenant's exports (GB-month prorated per day).
Costs are fractions of a cent, so they stay Decimal to 8 places; revenue is the invoice.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from tollgate.settings import Settings

GB = Decimal(10**9)
PLACES = Decimal("0.00000001")


@dataclass(frozen=True)
class CostRates:
    compute_second_usd: Decimal
    gb_transferred_usd: Decimal
    api_call_usd: Decimal
    gb_month_stored_usd: Decimal
    alert_ratio: Decimal

    @classmethod
    def from_settings(cls, s: Settings) -> CostRates:
        def d(value: float) -> Decimal:
            return Decimal(str(value))

        return cls(
            d(s.cost_per_compute_second_usd),
            d(s.cost_per_gb_transferred_usd),
            d(s.cost_per_api_call_usd),
            d(s.cost_per_gb_month_stored_usd),
            d(s.cost_alert_ratio),
        )


@dataclass(frozen=True)
class TenantDayCost:
    cost_date: date
    tenant_id: str
    requests: int
    bytes: int
    compute_ms: float
    stored_bytes: int
    compute_usd: Decimal
    transfer_usd: Decimal
    api_calls_usd: Decimal
    storage_usd: Decimal

    @property
    def cost_usd(self) -> Decimal:
        return self.compute_usd + self.transfer_usd + self.api_calls_usd + self.storage_usd


@dataclass(frozen=True)
class TenantMonthMargin:
    month: str
    tenant_id: str
    revenue_cents: int
    cost_usd: Decimal
    margin_usd: Decimal
    cost_ratio: Decimal | None  # None when there is no revenue
    is_flagged: bool


def daily_costs(
    day: date, daily_usage: pl.DataFrame, stored_bytes: dict[str, int], rates: CostRates
) -> list[TenantDayCost]:
    """Costs of `day` for every tenant that had usage that day or holds stored exports."""
    usage = (
        daily_usage.filter(pl.col("usage_date") == day)
        .group_by("tenant_id")
        .agg(pl.col("requests").sum(), pl.col("bytes").sum(), pl.col("compute_ms").sum())
    )
    measured = {r["tenant_id"]: r for r in usage.iter_rows(named=True)}
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    out = []
    for tenant in sorted(set(measured) | {t for t, b in stored_bytes.items() if b > 0}):
        row = measured.get(tenant, {"requests": 0, "bytes": 0, "compute_ms": 0.0})
        stored = stored_bytes.get(tenant, 0)
        compute_ms = Decimal(str(row["compute_ms"]))
        out.append(
            TenantDayCost(
                cost_date=day,
                tenant_id=tenant,
                requests=int(row["requests"]),
                bytes=int(row["bytes"]),
                compute_ms=float(row["compute_ms"]),
                stored_bytes=stored,
                compute_usd=_q(compute_ms / 1000 * rates.compute_second_usd),
                transfer_usd=_q(Decimal(int(row["bytes"])) / GB * rates.gb_transferred_usd),
                api_calls_usd=_q(int(row["requests"]) * rates.api_call_usd),
                storage_usd=_q(Decimal(stored) / GB * rates.gb_month_stored_usd / days_in_month),
            )
        )
    return out


def margins(
    month: str,
    revenue_cents: dict[str, int],
    costs: list[TenantDayCost],
    alert_ratio: Decimal,
) -> list[TenantMonthMargin]:
    """Revenue against cost per tenant for a month; flag tenants whose cost exceeds
    `alert_ratio` of their revenue (any cost against no revenue is flagged too)."""
    cost_by_tenant: dict[str, Decimal] = {}
    for c in costs:
        cost_by_tenant[c.tenant_id] = cost_by_tenant.get(c.tenant_id, Decimal(0)) + c.cost_usd
    out = []
    for tenant in sorted(set(revenue_cents) | set(cost_by_tenant)):
        revenue = Decimal(revenue_cents.get(tenant, 0)) / 100
        cost = cost_by_tenant.get(tenant, Decimal(0))
        ratio = _q(cost / revenue) if revenue else None
        flagged = cost > alert_ratio * revenue if revenue else cost > 0
        out.append(
            TenantMonthMargin(
                month, tenant, revenue_cents.get(tenant, 0), cost, revenue - cost, ratio, flagged
            )
        )
    return out


def stored_bytes_on(day: date, exports: pl.DataFrame) -> dict[str, int]:
    """Bytes of export files each tenant holds on `day`: finished by the day's end and not
    expired before its start. `exports` has tenant_id, bytes, finished_on, expires_on (dates)."""
    held = exports.filter(
        (pl.col("finished_on") <= day)
        & (pl.col("expires_on").is_null() | (pl.col("expires_on") > day))
    )
    totals = held.group_by("tenant_id").agg(pl.col("bytes").sum())
    return {r["tenant_id"]: int(r["bytes"]) for r in totals.iter_rows(named=True)}


def _q(value: Decimal) -> Decimal:
    return value.quantize(PLACES)
