"""Freshness of live products: a check on each one's watermark in the live store.

Live products are computed by the stream lane, outside Dagster (live/stream.py declares
them as external assets). The API decides their status itself when it answers
(tollgate.status), with or without this schedule running; these checks keep the history.
"""

from datetime import UTC, datetime

import dagster as dg

from orchestration.lib.lineage import live_key
from orchestration.lib.live_freshness import read_watermarks
from orchestration.lib.tollgate_resource import TollgateResource
from tollgate.catalog import Product, get_catalog
from tollgate.status import decide


def build_live_freshness_check(product: Product) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=live_key(product),
        name="watermark_freshness",
        description=f"Watermark within the {product.freshness_sla_seconds}s SLA.",
    )
    def watermark_freshness(tollgate: TollgateResource) -> dg.AssetCheckResult:
        settings = tollgate.settings()
        watermark = read_watermarks(settings.live_store_url, tollgate.catalog()).get(product.id)
        state = decide(product, watermark, datetime.now(UTC))
        return dg.AssetCheckResult(
            passed=state.within_sla,
            severity=dg.AssetCheckSeverity.WARN,
            description=state.reason,
            metadata={
                "status": state.status,
                "watermark_at": str(watermark),
                "lag_seconds": state.freshness_seconds
                if state.freshness_seconds is not None
                else -1,
                "sla_seconds": product.freshness_sla_seconds,
            },
        )

    return watermark_freshness


LIVE_FRESHNESS_JOB = "live_freshness"


def defs() -> dg.Definitions:
    products = get_catalog().live_products()
    job = dg.define_asset_job(
        LIVE_FRESHNESS_JOB,
        selection=dg.AssetSelection.checks_for_assets(*[live_key(p) for p in products]),
        # A few small reads every minute: one process, not a subprocess per check, keeps
        # the schedule from costing a core's worth of interpreter start-ups.
        executor_def=dg.in_process_executor,
    )
    return dg.Definitions(
        resources={"tollgate": TollgateResource()},
        asset_checks=[build_live_freshness_check(p) for p in products],
        jobs=[job],
        schedules=[
            dg.ScheduleDefinition(
                job=job,
                cron_schedule="* * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
    )
