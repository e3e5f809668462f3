"""Live products' freshness checks: history in Dagster, never a halt in product_status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.defs.resources import TollgateResource
from orchestration.lib.status import read_status
from tollgate.catalog import get_catalog
from tollgate.db.engine import engine_for
from tollgate.livestore import LiveStore, upsert


def test_check_job_reports_lateness_and_leaves_status_to_the_answer(settings, live_defs):
    catalog = get_catalog()
    store = LiveStore(catalog)
    engine = engine_for(settings.live_store_url)
    store.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        upsert(
            conn,
            store.watermarks,
            [
                {
                    "product_id": "customer-journey-insights",
                    "watermark_at": now,
                    "processed_at": now,
                },
                {
                    "product_id": "region-activity",
                    "watermark_at": now - timedelta(seconds=300),
                    "processed_at": now,
                },
            ],
        )
    job = live_defs.resolve_job_def("live_freshness")
    result = job.execute_in_process(
        resources={"tollgate": TollgateResource.from_settings(settings)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert evaluations["live_customer_journey_insights"].passed  # 1200 s SLA
    late = evaluations["live_region_activity"]  # 300 s late on a 120 s SLA
    assert not late.passed and late.metadata["status"].value == "stale"
    # No watermark yet (a stream just started): stale in the history, not halted.
    risk = evaluations["live_transaction_risk"]
    assert not risk.passed and risk.metadata["status"].value == "stale"
    assert "no data yet" in risk.description
    # The API decides status when it answers; the check records no verdict of its own.
    assert all(read_status(settings.metadata_db_url, p.id) is None for p in catalog.live_products())
