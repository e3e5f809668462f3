"""SLA report: per tenant and UTC day, the API's service levels against the seed's KPIs.

Reads the API's request log (one row per answered /v1 request, in the metadata DB) and
measures, per tenant:
  p95_latency_ms        nearest rank: 95% of requests were answered at least this fast
  freshness_compliance  share of deliveries whose data was within the product's SLA
  availability          share of the tenant's active minutes not entirely lost to 5xx
  error_rate            share of requests answered 5xx (4xx are the caller's, not ours)
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg
import polars as pl
from sqlalchemy import select

from orchestration.defs.resources import TollgateResource
from orchestration.lib.lineage import REQUEST_LOG
from orchestration.lib.partitions import DAILY
from tollgate.db.engine import make_engine
from tollgate.db.ops_models import RequestLogEntry

SLA_ASSET = dg.AssetKey(["operations", "sla_daily"])
SLA_JOB = "sla_report"
LOG_COLUMNS = ("tenant_id", "occurred_at", "status", "latency_ms", "within_sla")


@dataclass(frozen=True)
class Kpis:
    """The seed's targets: p95 < 500 ms, 99% within freshness SLA, 99.9% uptime, < 0.1% errors."""

    p95_latency_ms: float = 500.0
    freshness_compliance: float = 0.99
    availability: float = 0.999
    error_rate: float = 0.001


KPIS = Kpis()


def read_request_log(metadata_db_url: str, day: date) -> pl.DataFrame:
    """The identified requests of one UTC day."""
    start = datetime.combine(day, time(), UTC)
    t = RequestLogEntry.__table__
    query = select(*(t.c[c] for c in LOG_COLUMNS)).where(
        t.c.occurred_at >= start,
        t.c.occurred_at < start + timedelta(days=1),
        t.c.tenant_id.is_not(None),
    )
    engine = make_engine(metadata_db_url)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
    finally:
        engine.dispose()
    schema = {
        "tenant_id": pl.String,
        "occurred_at": pl.Datetime("us", "UTC"),
        "status": pl.Int64,
        "latency_ms": pl.Float64,
        "within_sla": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def sla_report(log: pl.DataFrame) -> pl.DataFrame:
    """One row per tenant: requests and the four SLA figures (see the module docstring)."""
    failed = pl.col("status") >= 500
    minutes = (
        log.group_by("tenant_id", pl.col("occurred_at").dt.truncate("1m"))
        .agg(down=failed.all())
        .group_by("tenant_id")
        .agg(active_minutes=pl.len(), down_minutes=pl.col("down").sum())
    )
    n = pl.len()
    per_tenant = log.group_by("tenant_id").agg(
        requests=n,
        p95_latency_ms=pl.col("latency_ms").sort().get((n * 0.95).ceil().cast(pl.Int64) - 1),
        deliveries=pl.col("within_sla").is_not_null().sum(),
        within_sla=pl.col("within_sla").fill_null(False).sum(),
        errors=failed.sum(),
    )
    return (
        per_tenant.join(minutes, on="tenant_id")
        .with_columns(
            freshness_compliance=pl.when(pl.col("deliveries") > 0).then(
                pl.col("within_sla") / pl.col("deliveries")
            ),
            availability=1 - pl.col("down_minutes") / pl.col("active_minutes"),
            error_rate=pl.col("errors") / pl.col("requests"),
        )
        .select(
            "tenant_id",
            "requests",
            "p95_latency_ms",
            "freshness_compliance",
            "availability",
            "error_rate",
        )
        .sort("tenant_id")
    )


def breaches(report: pl.DataFrame, kpis: Kpis = KPIS) -> list[dict]:
    """Every (tenant, figure) that misses its target, with the value and the target."""
    found = []
    for row in report.iter_rows(named=True):
        checks = {
            "p95_latency_ms": row["p95_latency_ms"] >= kpis.p95_latency_ms,
            "freshness_compliance": row["freshness_compliance"] is not None
            and row["freshness_compliance"] < kpis.freshness_compliance,
            "availability": row["availability"] < kpis.availability,
            "error_rate": row["error_rate"] >= kpis.error_rate,
        }
        for figure, missed in checks.items():
            if missed:
                target = getattr(kpis, figure)
                found.append(
                    {
                        "tenant_id": row["tenant_id"],
                        "figure": figure,
                        "value": row[figure],
                        "target": target,
                    }
                )
    return found


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
