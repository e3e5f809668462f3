"""End-to-end fixtures: the lanes run in process (tests/batchlane.py), and tenants with API
keys."""

from __future__ import annotations

import pytest
from batchlane import batch_defs, live_defs, run_batch, run_live_freshness  # noqa: F401

from tollgate import tenants
from tollgate.catalog import load_catalog
from tollgate.contracts import create_subscription
from tollgate.db.engine import session_factory
from tollgate.db.migrate import upgrade
from tollgate.settings import Settings


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
