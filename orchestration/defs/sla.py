"""SLA report: per tenant and UTC day, the API's service levels against the seed's KPIs.

The nightly asset over the request log; the figures (p95 latency, freshness compliance,
availability, error rate) and the KPIs are tollgate/sla.py's, which the API's GET /v1/sla
and the portal's SLA page use too.
"""

from datetime import date

import dagster as dg
import polars as pl

from orchestration.defs.resources import TollgateResource
from orchestration.lib.lineage import REQUEST_LOG
from orchestration.lib.partitions import DAILY
from tollgate.sla import KPIS, breaches, read_request_log, sla_report

SLA_ASSET = dg.AssetKey(["operations", "sla_daily"])
SLA_JOB = "sla_report"


@dg.asset(
    key=SLA_ASSET,
    deps=[REQUEST_LOG],
    partitions_def=DAILY,
    group_name="operations",
    kinds={"polars"},
    description="Per tenant and UTC day: p95 latency, freshness compliance, availability and "
    "error rate of the API, against the seed's KPIs; breaches in metadata.",
    check_specs=[
        dg.AssetCheckSpec("kpis_met", asset=SLA_ASSET, description="Every tenant met every KPI.")
    ],
)
def sla_daily(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    report = sla_report(read_request_log(tollgate.settings().metadata_db_url, day))
    missed = breaches(report)
    return dg.MaterializeResult(
        metadata={
            "tenants": len(report),
            "requests": int(report["requests"].sum()) if len(report) else 0,
            "breach_count": len(missed),
            "breaches": dg.MetadataValue.json(missed),
            "report": dg.MetadataValue.md(_markdown(report)),
            "kpis": dg.MetadataValue.json(dict(KPIS.__dict__)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="kpis_met",
                passed=not missed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "breach_count": len(missed),
                    "tenants_in_breach": sorted({b["tenant_id"] for b in missed}),
                },
            )
        ],
    )


def _markdown(report: pl.DataFrame) -> str:
    lines = ["| " + " | ".join(report.columns) + " |", "|" + "---|" * len(report.columns)]
    for row in report.iter_rows():
        lines.append(
            "| "
            + " | ".join(
                "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v) for v in row
            )
            + " |"
        )
    return "\n".join(lines)


sla_report_job = dg.define_asset_job(
    SLA_JOB,
    selection=dg.AssetSelection.assets(sla_daily),
    partitions_def=DAILY,
    description="Measure a day of the API's service levels against the KPIs.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[sla_daily],
        jobs=[sla_report_job],
        # Each night, yesterday's report, once billing's rollup of the day has run.
        schedules=[
            dg.build_schedule_from_partitioned_job(
                sla_report_job,
                hour_of_day=0,
                minute_of_hour=45,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
    )
