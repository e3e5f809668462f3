"""Resources: the Tollgate settings a run works with, and dbt on the one DbtProject.

The DbtProject is built once, here, and handed to both DbtCliResource and @dbt_assets. Loading
the definitions never parses the project (every run worker loads them): preparing it, `dbt
parse` into the deployment's dbt target, is a deployment step, `python -m orchestration.prepare`,
which `tollgate demo` runs before it starts Dagster.
"""

import json
import sys
from datetime import date
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.lib.tollgate_resource import TollgateResource
from tollgate.settings import Settings, get_settings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
# dbt's command line, installed beside this interpreter (orchestration/lib/dbt_cli.py), so a
# virtualenv used without activation (`.venv/bin/dagster dev`) runs its own dbt.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "tollgate-dbt")


def dbt_vars(settings: Settings) -> dict[str, str]:
    """The --vars of every dbt invocation: where the stores are (fixed per deployment).

    dbt re-parses the whole project whenever --vars differ from its last parse, so nothing
    per run belongs here (the window is dbt's --event-time-start/--event-time-end).
    """
    return {"warehouse_path": str(settings.warehouse_path), "lake_dir": str(settings.lake_dir)}


def vars_args(settings: Settings) -> list[str]:
    return ["--vars", json.dumps(dbt_vars(settings), sort_keys=True)]


def window_args(start: date, end: date) -> list[str]:
    """The days [start, end) one dbt invocation builds (macros/partition_window.sql).

    dbt's own flags for the event-time range of a run: unlike --vars they are not part of
    what dbt's partial parse compares, so a run reuses the deployment's parse.
    """
    return ["--event-time-start", start.isoformat(), "--event-time-end", end.isoformat()]


# Unit tests check the models' logic, not the data: they run in the test suite
# (tests/orchestration/test_dbt_unit_tests.py), not on every production build.
BUILD = ["build", "--exclude-resource-type", "unit_test"]


def dbt_target(settings: Settings) -> Path:
    """Where a deployment keeps its parse of the project (in its own data directory)."""
    return settings.data_dir.resolve() / "dbt_target"


def warehouse_dbt(project: DbtProject | None = None) -> DbtCliResource:
    """dbt on `project` (the batch lane's DbtProject unless given)."""
    project = project or dbt_project
    return DbtCliResource(
        project_dir=project,
        profiles_dir=str(project.profiles_dir),
        dbt_executable=DBT_EXECUTABLE,
        # Nothing reads dbt's own log file: its events reach Dagster through stdout.
        global_config_flags=["--log-level-file", "none", "--no-use-colors"],
    )


# Parsed for the deployment's --vars into its own data directory: runs with the same settings
# reuse that parse (dbt's partial parse) instead of re-parsing, and deployments sharing a
# checkout don't overwrite each other's.
dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=dbt_target(get_settings()),
    prepare_project_cli_args=["parse", "--quiet", *vars_args(get_settings())],
)


def prepare_project() -> None:
    """Parse the project for this deployment (orchestration/prepare.py): a deployment step."""
    warehouse_dbt().cli(
        ["parse", "--quiet", *vars_args(get_settings())], target_path=dbt_project.target_path
    ).wait()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"tollgate": TollgateResource(), "dbt": warehouse_dbt()})
