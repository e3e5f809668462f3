"""Running the batch lane's graph in-process against a temporary data directory."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from orchestration.definitions import defs as load_defs
from orchestration.defs.resources import TollgateResource, prepare_project, warehouse_dbt
from orchestration.live_definitions import defs as load_live_defs
from tollgate.settings import Settings

BATCH_GROUPS = ("warehouse_staging", "warehouse_intermediate", "warehouse_marts", "published")


@pytest.fixture(scope="session")
def batch_defs() -> dg.Definitions:
    # What a deployment does before Dagster loads the batch lane: parse the dbt project.
    prepare_project()
    return load_defs()


@pytest.fixture(scope="session")
def live_defs() -> dg.Definitions:
    return load_live_defs()


@pytest.fixture
def run_partition(batch_defs: dg.Definitions, settings: Settings):
    """Materialize the whole batch graph (dbt build, gates, publish) for one day."""
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "tollgate": TollgateResource.from_settings(settings),
        "dbt": warehouse_dbt(),
    }

    def run(
        day: date, raise_on_error: bool = True, selection: dg.AssetSelection | None = None
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [*batch_defs.assets, *batch_defs.asset_checks],
            instance=instance,
            resources=resources,
            partition_key=day.isoformat(),
            selection=selection or dg.AssetSelection.groups(*BATCH_GROUPS),
            raise_on_error=raise_on_error,
        )

    return run
