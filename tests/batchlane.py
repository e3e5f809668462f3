"""The batch and live lanes run in process, as Dagster would run them: fixtures shared by
tests/orchestration and tests/e2e, whose conftests import the ones they use."""

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


def _batch_resources(settings: Settings) -> dict:
    return {"tollgate": TollgateResource.from_settings(settings), "dbt": warehouse_dbt()}


@pytest.fixture
def run_partition(batch_defs: dg.Definitions, settings: Settings):
    """Materialize the whole batch graph (dbt build, gates, publish) for one day."""
    instance = dg.DagsterInstance.ephemeral()
    resources = _batch_resources(settings)

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


@pytest.fixture
def run_batch(batch_defs: dg.Definitions, settings: Settings):
    """Run the batch_lane job (dbt build, gates, publish) over a window of days."""
    instance = dg.DagsterInstance.ephemeral()
    resources = _batch_resources(settings)

    def run(first: date, last: date | None = None) -> dg.ExecuteInProcessResult:
        job = batch_defs.resolve_job_def("batch_lane")
        last = last or first
        return job.execute_in_process(
            instance=instance,
            resources=resources,
            tags={
                "dagster/asset_partition_range_start": first.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
            raise_on_error=False,
        )

    return run


@pytest.fixture
def run_live_freshness(live_defs: dg.Definitions, settings: Settings):
    """The live products' watermark checks, which record each product's status."""

    def run() -> dg.ExecuteInProcessResult:
        return live_defs.resolve_job_def("live_freshness").execute_in_process(
            resources={"tollgate": TollgateResource.from_settings(settings)},
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )

    return run
