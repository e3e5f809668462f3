"""The warehouse: every dbt model and test as Dagster assets and checks, built per UTC day."""

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtCliRuntimeError,
    DagsterDbtTranslator,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.defs.resources import (
    BUILD,
    TollgateResource,
    dbt_project,
    dbt_target,
    vars_args,
    window_args,
)
from orchestration.lib.dbt_contracts import missing_catalog_columns
from orchestration.lib.partitions import DAILY
from tollgate.catalog import get_catalog

logger = logging.getLogger(__name__)


def check_manifest(project: DbtProject) -> None:
    """Fail with the fix when the project was never prepared; warn when a model changed since."""
    manifest = project.manifest_path
    if not manifest.exists():
        raise FileNotFoundError(
            f"no dbt manifest at {manifest}: run `python -m orchestration.prepare` with this "
            "deployment's TOLLGATE_* settings (`tollgate demo` does) before loading Dagster"
        )
    sources = [p for d in ("models", "macros") for p in (project.project_dir / d).rglob("*.*")]
    if max(p.stat().st_mtime for p in sources) > manifest.stat().st_mtime:
        logger.warning(
            "dbt models changed since %s: run `python -m orchestration.prepare`", manifest
        )


class TollgateDbtTranslator(DagsterDbtTranslator):
    """Keys name where data lives: landing/<dataset> for sources, warehouse/<model> for models."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey(["landing", dbt_resource_props["name"]])
        return dg.AssetKey(["warehouse", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "landing"
        fqn = dbt_resource_props.get("fqn", [])
        return f"warehouse_{fqn[1]}" if len(fqn) > 2 else "warehouse"

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        product_id = props.get("config", {}).get("meta", {}).get("tollgate_product")
        if not product_id:
            return spec
        product = get_catalog().product(product_id)
        return spec.replace_attributes(
            freshness_policy=dg.FreshnessPolicy.time_window(
                fail_window=timedelta(seconds=product.freshness_sla_seconds)
            ),
        ).merge_attributes(tags={"tollgate/product": product_id})


def build_warehouse_models(project: DbtProject) -> dg.AssetsDefinition:
    """The dbt project's models and tests as assets, built by one `dbt build` per window."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TollgateDbtTranslator(),
        partitions_def=DAILY,
        # A backfill of many days is one dbt invocation over the whole window.
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
        pool="warehouse",
    )
    def warehouse_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, tollgate: TollgateResource
    ):
        settings = tollgate.settings()
        window = context.partition_time_window
        args = [*BUILD, *vars_args(settings), *window_args(window.start.date(), window.end.date())]
        try:
            # The deployment's dbt target keeps its parse between runs (dbt's partial parse).
            yield from dbt.cli(args, context=context, target_path=dbt_target(settings)).stream()
        except DagsterDbtCliRuntimeError as exc:
            # A sold mart that lacks a catalog column: say which product and column, not only
            # dbt's contract table; no retry, the model has to change first.
            named = missing_catalog_columns(str(exc), get_catalog())
            if named:
                raise dg.Failure(
                    "\n".join(named), metadata={"dbt": str(exc)}, allow_retries=False
                ) from exc
            raise

    return warehouse_models


check_manifest(dbt_project)
warehouse_models = build_warehouse_models(dbt_project)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[warehouse_models])
