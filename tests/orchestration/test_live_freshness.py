"""Live products' freshness from the live store's watermarks, into product_status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from orchestration.defs.resources import TollgateResource
from orchestration.lib.live_freshness import classify
from orchestration.lib.status import read_status
from tollgate.catalog import get_catalog
from tollgate.db.engine import engine_for
from tollgate.livestore import LiveStore, upsert

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RISK = get_catalog().product("transaction-risk")  # SLA 5 s


@pytest.mark.parametrize(
    ("age_seconds", "status"),
    [
        (0, "healthy"),
        (5, "healthy"),
        (6, "degraded"),
        (50, "degraded"),
        (51, "halted"),
        (None, "halted"),
    ],
)
def test_classify(age_seconds, status):
    watermark = None if age_seconds is None else NOW - timedelta(seconds=age_seconds)
    verdict = classify(RISK, watermark, NOW)
    assert verdict.status == status
    assert (verdict.reason is None) == (status == "healthy")


def test_check_job_records_status_per_live_product(settings, live_defs):
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
                {"product_id": "transaction-risk", "watermark_at": now, "processed_at": now},
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
    assert evaluations["live_transaction_risk"].passed
    assert not evaluations["live_region_activity"].passed

    status = {p.id: read_status(settings.metadata_db_url, p.id) for p in catalog.live_products()}
    assert status["transaction-risk"].status == "healthy"
    assert status["region-activity"].status == "degraded"  # 300 s late on a 120 s SLA
    assert status["customer-journey-insights"].status == "halted"
    assert "no watermark" in status["customer-journey-insights"].reason
