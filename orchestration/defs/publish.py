"""Published products: per batch product, a new immutable snapshot once its gate passed."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from orchestration.defs.quality import mart_key
from orchestration.defs.resources import TollgateResource
from orchestration.lib.partitions import DAILY
from orchestration.lib.snapshots import publish_snapshot
from orchestration.lib.status import record_status
from orchestration.lib.warehouse import MartMismatch, mart_relation, warehouse_reader
from tollgate import audit
from tollgate.catalog import Product, get_catalog


def snapshot_key(product: Product) -> dg.AssetKey:
    return dg.AssetKey(["snapshots", product.id])


def build_publish_asset(product: Product) -> dg.AssetsDefinition:
    @dg.asset(
        key=snapshot_key(product),
        deps=[mart_key(product)],
        group_name="published",
        kinds={"parquet"},
        description=f"Published snapshots of {product.id}: what /v1/batch serves.",
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=timedelta(seconds=product.freshness_sla_seconds)
        ),
        automation_condition=dg.AutomationCondition.eager(),
        retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
        pool="warehouse",
        tags={"tollgate/product": product.id},
    )
    def publish(context: dg.AssetExecutionContext, tollgate: TollgateResource):
        # In a run with the mart, Dagster skips this step when the blocking gate fails; run
        # alone, it still refuses unless the gate's latest verdict on the mart passed.
        checks = passed_gate_results(context, product)
        settings = tollgate.settings()
        with warehouse_reader(settings.warehouse_path) as conn:
            try:
                rows = mart_relation(conn, product, product.column_names).order(product.key_column)
            except MartMismatch as exc:
                raise dg.Failure(str(exc)) from None
            days = conn.table(product.source).unique(product.time_column).fetchall()

            def write_data(path: Path) -> None:
                rows.write_parquet(str(path), compression="zstd")

            manifest = publish_snapshot(
                tollgate.lake(),
                product,
                write_data,
                source_partitions=[d[0].isoformat() for d in days],
                quality={"passed": True, "checks": checks},
                built_at=mart_built_at(context, product),
            )
        record_status(
            settings.metadata_db_url, product.id, "healthy", current_version=manifest.version
        )
        audit.record_now(
            settings.metadata_db_url,
            None,
            "dagster",
            "snapshot.publish",
            f"{product.id}@{manifest.version}",
            details={
                "product_id": product.id,
                "version": manifest.version,
                "schema_version": manifest.schema_version,
                "row_count": manifest.row_count,
                "checksum": manifest.checksum,
                "watermark_at": str(manifest.watermark_at),
                "run_id": context.run.run_id,
            },
        )
        return dg.MaterializeResult(
            metadata={
                "version": manifest.version,
                "row_count": manifest.row_count,
                "checksum": manifest.checksum,
                "watermark_at": str(manifest.watermark_at),
            }
        )

    return publish


def mart_built_at(context: dg.AssetExecutionContext, product: Product) -> datetime | None:
    """When the mart was last materialized: none of its rows can be newer than that."""
    event = context.instance.get_latest_materialization_event(mart_key(product))
    return datetime.fromtimestamp(event.timestamp, UTC) if event is not None else None


def passed_gate_results(context: dg.AssetExecutionContext, product: Product) -> dict:
    """Per rule, the latest gate verdict on the mart; raises unless that verdict passed."""
    key = dg.AssetCheckKey(mart_key(product), "quality_gate")
    storage = context.instance.event_log_storage
    record = storage.get_latest_asset_check_execution_by_key([key]).get(key)
    evaluation = record.event.asset_check_evaluation if record and record.event else None
    if evaluation is None or not evaluation.passed:
        raise dg.Failure(
            f"{product.id}: the quality gate has not passed on the current mart; not publishing"
        )
    failing = {
        name.removeprefix("failing:"): meta.value
        for name, meta in evaluation.metadata.items()
        if name.startswith("failing:")
    }
    return {rule: {"passed": count == 0, "failing_count": count} for rule, count in failing.items()}


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_publish_asset(p) for p in get_catalog().batch_products()])
