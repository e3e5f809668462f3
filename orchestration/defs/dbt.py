"""The warehouse: every dbt model and test as Dagster assets and checks, built per UTC day."""

import json
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtProject, dbt_assets
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from orchestration.defs.resources import (
    PARSE_ARGS,
    TollgateResource,
    WarehouseDbt,
    dbt_project,
    vars_args,
)
from orchestration.lib.dbt_contracts import missing_catalog_columns
from orchestration.lib.dbt_runner import DbtInvocationError
from orchestration.lib.partitions import DAILY
from tollgate.catalog import get_catalog

# Which arguments the project's last parse had: a parse for other settings is redone, so runs
# of this deployment find a partial parse they can reuse.
PARSE_STAMP = "tollgate_parse_args.json"


def ensure_manifest(project: DbtProject) -> None:
    """Parse the project when its manifest is missing, older than a model (fresh clones too),
    or parsed for another deployment's settings."""
    project.prepare_if_dev()
    manifest = project.manifest_path
    stamp = manifest.with_name(PARSE_STAMP)
    sources = [
        p for d in ("models", "macros") for p in (project.project_dir / d).rglob("*") if p.is_file()
    ] + [project.project_dir / "dbt_project.yml", project.project_dir / "profiles.yml"]
    newest = max(p.stat().st_mtime for p in sources)
    stale = not manifest.exists() or manifest.stat().st_mtime < newest
    if stale or not stamp.exists() or stamp.read_text() != json.dumps(PARSE_ARGS):
        project.preparer.prepare(project)
        stamp.write_text(json.dumps(PARSE_ARGS))


def window_env(start: date, end: date) -> dict[str, str]:
    """The daily window [start, end) one dbt invocation builds (macros/partition_window.sql)."""
    return {"TOLLGATE_WINDOW_START": start.isoformat(), "TOLLGATE_WINDOW_END": end.isoformat()}


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


ensure_manifest(dbt_project)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TollgateDbtTranslator(),
    partitions_def=DAILY,
    # A backfill of many days is one dbt invocation over the whole window.
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10),
    pool="warehouse",
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: WarehouseDbt, tollgate: TollgateResource
):
    settings = tollgate.settings()
    window = context.partition_time_window
    # The subset of models and tests this run selected (all of them, unless a user picked).
    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest={}, dagster_dbt_translator=TollgateDbtTranslator()
    )
    # Unit tests check the models' logic, not the data: they run in the test suite
    # (tests/orchestration/test_dbt_unit_tests.py), not on every production build.
    args = ["build", "--exclude-resource-type", "unit_test", *params.selection_args]
    if params.indirect_selection:
        args += ["--indirect-selection", params.indirect_selection]
    runner = dbt.runner(settings)

    def to_dagster(raw_event: dict):
        event = DbtCoreCliEventMessage(raw_event=raw_event, event_history_metadata={})
        yield from event.to_default_asset_events(
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            context=context,
            target_path=runner.target_path,
            project=params.dbt_project,
        )

    env = window_env(window.start.date(), window.end.date())
    try:
        yield from runner.stream(args, vars_args(settings), env, to_dagster)
    except DbtInvocationError as exc:
        # A sold mart that lacks a catalog column: say which product and column, not only
        # dbt's contract table; no retry, the model has to change first.
        named = missing_catalog_columns(str(exc), get_catalog())
        if named:
            raise dg.Failure(
                "\n".join(named), metadata={"dbt": str(exc)}, allow_retries=False
            ) from exc
        raise


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[warehouse_models])
