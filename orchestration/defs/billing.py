"""Billing in the batch lane: usage rollups, invoices, cost of serving and margins.

All four assets are computed from the usage ledger by tollgate.billing and persisted to the
metadata database (each rerun replaces its day or month), where the API serves them
(/v1/usage, /v1/invoices). Days and months are UTC, like the ledger.

usage_daily     per UTC day: usage per tenant and product
tenant_costs    per UTC day: each tenant's cost of serving (compute, transfer, calls, storage)
invoices        per month: each tenant's invoice: its contracts' fees (subscriptions by active
                days, purchases in the month bought) and its deliveries at their recorded prices,
                less SLA credits from the delivery trail and the request log
tenant_margins  per month: revenue against cost; tenants over the alert ratio flagged
"""

from datetime import date, timedelta

import dagster as dg

from orchestration.defs.resources import TollgateResource
from orchestration.lib.lineage import REQUEST_LOG, USAGE_LEDGER
from orchestration.lib.partitions import DAILY
from tollgate.billing import (
    CostRates,
    attribute_costs,
    invoice_month,
    margin_month,
    rollup_days,
)
from tollgate.clock import utcnow
from tollgate.webhooks.alerts import announce_invoices

# The current month exists (end_offset=1): its invoice is a running draft until it ends.
MONTHLY = dg.MonthlyPartitionsDefinition(start_date="2025-01", fmt="%Y-%m", end_offset=1)
GROUP = "billing"
DAILY_JOB, MONTHLY_JOB = "billing_daily", "billing_monthly"


def _day(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


@dg.asset(
    partitions_def=DAILY,
    group_name=GROUP,
    deps=[USAGE_LEDGER],
    kinds={"sql"},
    description="Usage per tenant and product for one UTC day, rolled up from the ledger.",
)
def usage_daily(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:
    day = _day(context)
    usage = rollup_days(tollgate.metadata_engine(), day, day + timedelta(days=1))
    return dg.MaterializeResult(
        metadata={
            "rows": len(usage),
            "tenants": usage["tenant_id"].n_unique(),
            "ledger_records": int(usage["requests"].sum() or 0),
            "units": int(usage["units"].sum() or 0),
            "bytes": int(usage["bytes"].sum() or 0),
        }
    )


@dg.asset(
    partitions_def=DAILY,
    group_name=GROUP,
    deps=[usage_daily, USAGE_LEDGER],
    kinds={"sql"},
    description="Each tenant's cost of serving on one UTC day: compute time of its requests "
    "and exports, bytes transferred, API calls and storage of its exports (rates in settings).",
)
def tenant_costs(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:
    rates = CostRates.from_settings(tollgate.settings())
    costs = attribute_costs(tollgate.metadata_engine(), rates, _day(context))
    return dg.MaterializeResult(
        metadata={
            "tenants": len(costs),
            "cost_usd": float(sum(c.cost_usd for c in costs)),
            "by_tenant": {c.tenant_id: float(c.cost_usd) for c in costs},
        }
    )


@dg.asset(
    partitions_def=MONTHLY,
    group_name=GROUP,
    deps=[usage_daily, USAGE_LEDGER, REQUEST_LOG],
    kinds={"sql"},
    description="Monthly invoices that follow contracts: subscriptions prorated by active "
    "days, one-time purchases in the month bought, deliveries at the price recorded with each "
    "(trial and included deliveries at $0), less SLA credits under the catalog's credit "
    "policy (deliveries made while stale or degraded; availability under its thresholds); "
    "reproducible from the ledger, the request log and contracts.",
)
def invoices(context: dg.AssetExecutionContext, tollgate: TollgateResource) -> dg.MaterializeResult:
    engine = tollgate.metadata_engine()
    drafts = invoice_month(engine, tollgate.catalog(), context.partition_key)
    # A month that is over is issued: each tenant hears of its invoice (and credits) once;
    # a rerun announces nothing again (so the metadata below stays the rerun's same).
    announce_invoices(engine, context.partition_key, drafts, utcnow())
    return dg.MaterializeResult(
        metadata={
            "invoices": len(drafts),
            "total_usd": sum(d.total_cents for d in drafts) / 100,
            "credits_usd": sum(d.credits_cents for d in drafts) / 100,
            "credited_tenants": sorted(d.tenant_id for d in drafts if d.credits_cents),
            "by_tenant_usd": {d.tenant_id: d.total_cents / 100 for d in drafts},
        }
    )


@dg.asset(
    partitions_def=MONTHLY,
    group_name=GROUP,
    deps=[invoices, tenant_costs],
    kinds={"sql"},
    description="Revenue against cost of serving per tenant; tenants whose cost exceeds the "
    "alert ratio (70%) of their revenue are flagged.",
)
def tenant_margins(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:
    settings = tollgate.settings()
    rates = CostRates.from_settings(settings)
    rows = margin_month(tollgate.metadata_engine(), rates, context.partition_key)
    flagged = [m.tenant_id for m in rows if m.is_flagged]
    if flagged:
        context.log.warning("cost above %s of revenue: %s", settings.cost_alert_ratio, flagged)
    return dg.MaterializeResult(
        metadata={
            "tenants": len(rows),
            "flagged_tenants": flagged,
            "flagged_count": len(flagged),
            "margin_usd": {m.tenant_id: float(m.margin_usd) for m in rows},
            "cost_ratio": {
                m.tenant_id: float(m.cost_ratio) if m.cost_ratio is not None else None for m in rows
            },
        }
    )


billing_daily = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.assets(usage_daily, tenant_costs),
    description="Roll up a day of the usage ledger and attribute its cost of serving.",
)
billing_monthly = dg.define_asset_job(
    MONTHLY_JOB,
    selection=dg.AssetSelection.assets(invoices, tenant_margins),
    description="Invoice a month from the ledger and compute margins.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[usage_daily, tenant_costs, invoices, tenant_margins],
        jobs=[billing_daily, billing_monthly],
        schedules=[
            dg.build_schedule_from_partitioned_job(
                billing_daily,
                hour_of_day=0,
                minute_of_hour=30,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            ),
            dg.build_schedule_from_partitioned_job(
                billing_monthly,
                day_of_month=1,
                hour_of_day=2,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            ),
        ],
    )
