"""Resources: the Tollgate settings the batch lane runs with, and dbt on the one DbtProject."""

import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from tollgate.catalog import Catalog, load_catalog
from tollgate.lake import Lake
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


# Parsed once per deployment, with its vars, into its own data directory: runs with the same
# settings then reuse the parse (dbt's partial parse) instead of re-parsing, and deployments
# sharing a checkout don't overwrite each other's. Parsing never opens the warehouse.
PARSE_ARGS = ["parse", "--quiet", *vars_args(get_settings())]
dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=get_settings().data_dir.resolve() / "dbt_target",
    prepare_project_cli_args=PARSE_ARGS,
)

_environ_lock = threading.Lock()


@contextmanager
def extra_environ(extra: Mapping[str, str]) -> Iterator[None]:
    """`extra` set in os.environ while a dbt subprocess starts (it inherits the environment)."""
    with _environ_lock:
        saved = {k: os.environ.get(k) for k in extra}
        os.environ.update(extra)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


class WarehouseDbtResource(DbtCliResource):
    """dbt as the batch lane runs it: the dbt-core installed with Tollgate, in a subprocess.

    dagster-dbt otherwise starts `dbt --version` and builds an in-process dbt adapter before
    every invocation; the batch lane uses neither (no adapter-fetched metadata), and each
    costs seconds of start-up per run.
    """

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


class TollgateResource(dg.ConfigurableResource):
    """Where the batch lane reads and writes; unset fields come from TOLLGATE_* settings."""

    data_dir: str | None = None
    catalog_path: str | None = None
    metadata_db_url: str | None = None
    live_store_url: str | None = None
    warehouse_path: str | None = None
    lake_dir: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "TollgateResource":
        return cls(
            data_dir=str(settings.data_dir),
            catalog_path=str(settings.catalog_path),
            metadata_db_url=settings.metadata_db_url,
            live_store_url=settings.live_store_url,
            warehouse_path=str(settings.warehouse_path),
            lake_dir=str(settings.lake_dir),
        )

    def settings(self) -> Settings:
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        return Settings(**given)

    def catalog(self) -> Catalog:
        return load_catalog(self.settings().catalog_path)

    def lake(self) -> Lake:
        return Lake.from_settings(self.settings())


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "tollgate": TollgateResource(),
            "dbt": WarehouseDbtResource(project_dir=dbt_project),
        }
    )
