"""Resources: the Tollgate settings the batch lane runs with, and dbt on the one DbtProject."""

import json
import os
import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtProject

from orchestration.lib.dbt_runner import DbtInProcess
from orchestration.lib.tollgate_resource import TollgateResource
from tollgate.settings import Settings, get_settings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


def _dbt_on_path() -> None:
    """dagster-dbt runs `dbt` from PATH (its project preparer cannot be told otherwise). dbt is
    installed beside this interpreter, which a virtualenv used without activation (for example
    `.venv/bin/dagster dev`) does not put on PATH: add that directory when dbt is missing."""
    bin_dir = Path(sys.executable).parent
    if shutil.which("dbt") is None and (bin_dir / "dbt").exists():
        os.environ["PATH"] = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])


_dbt_on_path()


def dbt_vars(settings: Settings) -> dict[str, str]:
    """The --vars of every dbt invocation: where the stores are (fixed per deployment).

    dbt re-parses the whole project whenever --vars or the profile differ from its last
    parse, so nothing per run belongs here (the window goes in env vars, see `window_env`).
    """
    return {"warehouse_path": str(settings.warehouse_path), "lake_dir": str(settings.lake_dir)}


def vars_args(settings: Settings) -> list[str]:
    return ["--vars", json.dumps(dbt_vars(settings), sort_keys=True)]


def dbt_target(settings: Settings) -> Path:
    """Where a deployment keeps its parse of the project (in its own data directory)."""
    return settings.data_dir.resolve() / "dbt_target"


# Parsed once per deployment, with its vars, into its own data directory: runs with the same
# settings then reuse the parse (dbt's partial parse) instead of re-parsing, and deployments
# sharing a checkout don't overwrite each other's. Parsing never opens the warehouse.
PARSE_ARGS = ["parse", "--quiet", *vars_args(get_settings())]
dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=dbt_target(get_settings()),
    prepare_project_cli_args=PARSE_ARGS,
)


class WarehouseDbt(dg.ConfigurableResource):
    """dbt as the batch lane runs it: in the step's own process (orchestration.lib.dbt_runner),
    parsing into the deployment's dbt target, where loading the definitions parsed already."""

    project_dir: str = str(DBT_PROJECT_DIR)

    def runner(self, settings: Settings) -> DbtInProcess:
        project = Path(self.project_dir)
        return DbtInProcess(project, project, target_path=dbt_target(settings))


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "tollgate": TollgateResource(),
            "dbt": WarehouseDbt(),
        }
    )
