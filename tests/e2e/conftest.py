"""End-to-end fixtures: the batch graph run in process, and tenants with API keys."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from orchestration.definitions import defs as load_defs
from orchestration.defs.resources import TollgateResource, prepare_project, warehouse_dbt
from orchestration.live_definitions import defs as load_live_defs
from tollgate import tenants
from tollgate.catalog import load_catalog
from tollgate.contracts import create_subscription
from tollgate.db.engine import session_factory
from tollgate.db.migrate import upgrade
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
def run_batch(batch_defs: dg.Definitions, settings: Settings):
    """Materialize the batch graph (dbt build, gates, publish) for a window of days."""
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "tollgate": TollgateResource.from_settings(settings),
        "dbt": warehouse_dbt(),
    }

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


@pytest.fixture
def tenant_key(settings: Settings):
    """A tenant on `tier`, subscribed to `subscribe` (product ids), and its API key."""
    upgrade(settings.metadata_db_url)
    catalog = load_catalog(settings.catalog_path)

    def make(
        tenant_id: str, tier: str, regions: list[str] | None = None, subscribe: tuple = ()
    ) -> str:
        with session_factory(settings.metadata_db_url)() as session:
            tenants.create_tenant(session, tenant_id, tenant_id, tier, regions)
            for product_id in subscribe:
                create_subscription(session, tenant_id, product_id, catalog=catalog)
            return tenants.issue_key(session, tenant_id, "e2e").plaintext

    return make
