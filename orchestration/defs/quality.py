"""The quality gate: a blocking Great Expectations check on each sold mart, run in the
warehouse (GX's SQL datasource on DuckDB) rather than on rows copied out of it.

A failed gate stops the product's publish step, so the previous snapshot stays current,
and records in product_status why the next version was refused.
"""

import json
from datetime import UTC, datetime

import dagster as dg

from orchestration.defs.resources import TollgateResource
from orchestration.lib.quality import QualityVerdict, evaluate
from orchestration.lib.status import record_status
from orchestration.lib.warehouse import MartMismatch, warehouse_reader
from tollgate.catalog import Product, get_catalog
from tollgate.manifest import newest_data_time
from tollgate.status import decide


def mart_key(product: Product) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", product.source])


def verdict_metadata(verdict: QualityVerdict) -> dict:
    """Check metadata: rows checked, failing count per rule, and sample keys of what failed."""
    metadata: dict = {"row_count": verdict.row_count}
    for rule in verdict.rules:
        metadata[f"failing:{rule.rule}"] = rule.failing_count
    failed = {r.rule: r.sample for r in verdict.failed}
    if failed:
        metadata["failing_samples"] = dg.MetadataValue.json(
            json.loads(json.dumps(failed, default=str))
        )
        metadata["reason"] = verdict.reason()
    return metadata


def build_quality_gate(product: Product) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=mart_key(product),
        name="quality_gate",
        description=f"Catalog quality rules of {product.id} (GX); blocks publishing.",
        blocking=True,
        pool="warehouse",
    )
    def quality_gate(tollgate: TollgateResource) -> dg.AssetCheckResult:
        settings = tollgate.settings()
        try:
            verdict = evaluate(product, settings.warehouse_path)
        except MartMismatch as exc:
            _refuse(tollgate, product, str(exc))
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=str(exc),
                metadata={"reason": str(exc)},
            )
        if not verdict.passed:
            _refuse(tollgate, product, verdict.reason())
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=verdict_metadata(verdict),
        )

    return quality_gate


def _refuse(tollgate: TollgateResource, product: Product, reason: str) -> None:
    """Record why the next version was refused; the current one keeps being served."""
    lake = tollgate.lake()
    record_status(
        tollgate.settings().metadata_db_url,
        product.id,
        "degraded",
        reason=f"quality gate refused the new version: {reason}",
        current_version=lake.current_version(product.id),
        failed_version=lake.next_snapshot_version(product.id),
    )


def build_freshness_check(product: Product) -> dg.AssetChecksDefinition:
    """Warns when the mart's newest day is older than the product's SLA (backfills may be old)."""

    @dg.asset_check(
        asset=mart_key(product),
        name="data_freshness",
        description=f"Newest {product.time_column} within {product.freshness_sla_seconds}s.",
        pool="warehouse",
    )
    def data_freshness(tollgate: TollgateResource) -> dg.AssetCheckResult:
        with warehouse_reader(tollgate.settings().warehouse_path) as conn:
            newest = conn.table(product.source).max(product.time_column).fetchall()[0][0]
        now = datetime.now(UTC)
        state = decide(product, newest_data_time(newest, now), now)
        lag = state.freshness_seconds
        return dg.AssetCheckResult(
            passed=state.within_sla,
            severity=dg.AssetCheckSeverity.WARN,
            description=state.reason,
            metadata={"newest": str(newest), "lag_seconds": lag if lag is not None else -1},
        )

    return data_freshness


@dg.definitions
def defs() -> dg.Definitions:
    products = get_catalog().batch_products()
    return dg.Definitions(
        asset_checks=[build_quality_gate(p) for p in products]
        + [build_freshness_check(p) for p in products]
    )
