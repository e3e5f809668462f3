"""The marts' dbt contracts are rendered from catalog.yaml: committed files match, drift
fails the check, and a mart that lacks a catalog column stops the build naming both."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_dbt import DbtProject

from orchestration.defs.resources import (
    DBT_PROJECT_DIR,
    TollgateResource,
    vars_args,
    warehouse_dbt,
)
from orchestration.lib.dbt_contracts import mart_yaml_path, render
from tollgate.catalog import get_catalog, load_catalog
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.writers import backfill_landing
from tollgate.generated import CATALOG_PATH, ROOT, main, out_of_date
from tollgate.lake import Lake

PRODUCT = get_catalog().product("market-trends")
DAY = date(2026, 11, 16)


def _check(root: Path, catalog: Path = CATALOG_PATH) -> int:
    args = ["--catalog", str(catalog), "--root", str(root), "--check"]
    return main(render, "contracts", "render", args)


def test_committed_mart_contracts_match_the_catalog() -> None:
    assert out_of_date(render(load_catalog(CATALOG_PATH), ROOT)) == []
    assert _check(ROOT) == 0


def test_every_sold_mart_has_an_enforced_contract_with_the_catalog_columns() -> None:
    for product in get_catalog().batch_products():
        model = yaml.safe_load((ROOT / mart_yaml_path(product)).read_text())["models"][0]
        assert model["name"] == product.source
        assert model["config"]["contract"] == {"enforced": True}
        assert [c["name"] for c in model["columns"]] == product.column_names


def test_a_hand_edited_mart_yaml_fails_the_drift_check(tmp_path: Path) -> None:
    target = tmp_path / mart_yaml_path(PRODUCT)
    shutil.copytree(ROOT / "dbt_project", tmp_path / "dbt_project")
    assert _check(tmp_path) == 0
    target.write_text(target.read_text().replace("  - name: revenue_growth_7d\n", "  - name: x\n"))
    assert _check(tmp_path) == 1


def test_a_catalog_change_is_a_drift_until_rendered(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "dbt_project", tmp_path / "dbt_project")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        CATALOG_PATH.read_text().replace(
            "      - {name: revenue_growth_7d,",
            "      - {name: category_rank, type: integer, description: Rank}\n"
            "      - {name: revenue_growth_7d,",
        )
    )
    assert _check(tmp_path, catalog) == 1
    assert (
        main(render, "contracts", "render", ["--catalog", str(catalog), "--root", str(tmp_path)])
        == 0
    )
    model = yaml.safe_load((tmp_path / mart_yaml_path(PRODUCT)).read_text())["models"][0]
    assert {"name": "category_rank", "description": "Rank", "data_type": "bigint"} in model[
        "columns"
    ]


@pytest.mark.slow
def test_a_mart_without_a_contracted_column_stops_the_build(tmp_path, settings, batch_defs):
    """The contract declares a column the model does not build (a catalog column the mart
    forgot): dbt refuses the mart and the run fails naming the product and the column."""
    # The batch lane's dbt step, on a copy of the project (batch_defs prepared the original).
    from orchestration.defs.dbt import build_warehouse_models

    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    yml = project / mart_yaml_path(PRODUCT).relative_to("dbt_project")
    yml.write_text(
        yml.read_text().replace(
            "  - name: revenue_growth_7d\n",
            "  - name: category_rank\n    data_type: bigint\n  - name: revenue_growth_7d\n",
        )
    )
    start = datetime.combine(DAY, datetime.min.time(), UTC)
    source = SyntheticSource(GeneratorConfig(seed=3, customers=20, events_per_second=0.01))
    backfill_landing(Lake.from_settings(settings), source, start, start + timedelta(days=1))
    copied = DbtProject(project_dir=project, target_path=tmp_path / "dbt_target")
    warehouse_dbt(copied).cli(
        ["parse", *vars_args(settings)], target_path=copied.target_path
    ).wait()
    result = dg.materialize(
        [build_warehouse_models(copied)],
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "tollgate": TollgateResource.from_settings(settings),
            "dbt": warehouse_dbt(copied),
        },
        partition_key=DAY.isoformat(),
        selection=dg.AssetSelection.groups("warehouse_staging", "warehouse_intermediate")
        | dg.AssetSelection.assets(dg.AssetKey(["warehouse", PRODUCT.source])),
        raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failures[0].step_failure_data.error.message
    assert "market-trends" in message and "'category_rank'" in message, message
    assert Lake.from_settings(settings).current_version(PRODUCT.id) is None
