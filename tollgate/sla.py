"""SLA report: per tenant and UTC day, the API's service levels against the seed's KPIs.

Reads the API's request log (one row per answered /v1 request, in the metadata DB) and
measures, per tenant:
  p95_latency_ms        nearest rank: 95% of requests were answered at least this fast
  freshness_compliance  share of deliveries whose data was within the product's SLA
  availability          share of the tenant's active minutes not entirely lost to 5xx
  error_rate            share of requests answered 5xx (4xx are the caller's, not ours)

Used by the batch lane's nightly asset (orchestration/defs/sla.py) and by the API's
`GET /v1/sla` and the portal's SLA page (a buyer's own figures, computed on request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
from sqlalchemy import Engine, select

from tollgate.db.engine import make_engine
from tollgate.db.ops_models import RequestLogEntry

LOG_COLUMNS = ("tenant_id", "occurred_at", "status", "latency_ms", "within_sla")
FIGURES = ("p95_latency_ms", "freshness_compliance", "availability", "error_rate")
_SCHEMA = {
    "tenant_id": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "status": pl.Int64,
    "latency_ms": pl.Float64,
    "within_sla": pl.Boolean,
}


@dataclass(frozen=True)
class Kpis:
    """The seed's targets: p95 < 500 ms, 99% within freshness SLA, 99.9% uptime, < 0.1% errors."""

    p95_latency_ms: float = 500.0
    freshness_compliance: float = 0.99
    availability: float = 0.999
    error_rate: float = 0.001


KPIS = Kpis()


def request_log(
    engine: Engine, start: date, end: date, tenant_id: str | None = None
) -> pl.DataFrame:
    """The identified requests of the UTC days start..end (end exclusive), of one tenant
    when tenant_id is given."""
    t = RequestLogEntry.__table__
    query = select(*(t.c[c] for c in LOG_COLUMNS)).where(
        t.c.occurred_at >= datetime.combine(start, time(), UTC),
        t.c.occurred_at < datetime.combine(end, time(), UTC),
        t.c.tenant_id.is_not(None) if tenant_id is None else t.c.tenant_id == tenant_id,
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    return pl.DataFrame(rows, schema=_SCHEMA, orient="row")


def read_request_log(metadata_db_url: str, day: date) -> pl.DataFrame:
    """The identified requests of one UTC day."""
    engine = make_engine(metadata_db_url)
    try:
        return request_log(engine, day, day + timedelta(days=1))
    finally:
        engine.dispose()


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
        .select("tenant_id", "requests", *FIGURES)
        .sort("tenant_id")
    )


def missed_figures(row: dict, kpis: Kpis = KPIS) -> list[str]:
    """The figures of one report row that miss their target (no deliveries: no freshness
    figure, so nothing to miss)."""
    checks = {
        "p95_latency_ms": row["p95_latency_ms"] >= kpis.p95_latency_ms,
        "freshness_compliance": row["freshness_compliance"] is not None
        and row["freshness_compliance"] < kpis.freshness_compliance,
        "availability": row["availability"] < kpis.availability,
        "error_rate": row["error_rate"] >= kpis.error_rate,
    }
    return [figure for figure, missed in checks.items() if missed]


def breaches(report: pl.DataFrame, kpis: Kpis = KPIS) -> list[dict]:
    """Every (tenant, figure) that misses its target, with the value and the target."""
    return [
        {
            "tenant_id": row["tenant_id"],
            "figure": figure,
            "value": row[figure],
            "target": getattr(kpis, figure),
        }
        for row in report.iter_rows(named=True)
        for figure in missed_figures(row, kpis)
    ]


def tenant_days(engine: Engine, tenant_id: str, start: date, end: date) -> list[dict]:
    """One tenant's report for each UTC day of start..end (inclusive) on which it made
    requests, oldest first: the day, requests, the four figures and the missed ones."""
    log = request_log(engine, start, end + timedelta(days=1), tenant_id)
    if log.is_empty():
        return []
    log = log.with_columns(day=pl.col("occurred_at").dt.date())
    days = []
    for (day,), part in sorted(log.partition_by("day", as_dict=True).items()):
        row = sla_report(part.drop("day")).row(0, named=True)
        del row["tenant_id"]
        days.append({"date": day, **row, "breaches": missed_figures(row)})
    return days
