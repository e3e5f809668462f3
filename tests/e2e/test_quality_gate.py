"""The quality gate end to end: a failing gate shows in the API, and recovery heals it.

One API app serves the whole test (never restarted): the batch graph and the live
freshness checks run in process against the same data directory, as Dagster would.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from landed import card_transaction

from api.main import create_app
from tollgate.catalog import load_catalog
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine
from tollgate.events.generator import GeneratorConfig, SyntheticSource
from tollgate.events.landing import landing_table, write_landing_file
from tollgate.events.writers import backfill_landing
from tollgate.lake import Lake
from tollgate.livestore import LiveStore, upsert

pytestmark = pytest.mark.slow

START = datetime(2026, 11, 16, tzinfo=UTC)
DAY1, DAY2 = date(2026, 11, 16), date(2026, 11, 17)
CONFIG = GeneratorConfig(seed=5, customers=30, events_per_second=0.02, fraud_rate=0.05)
HISTORY = "transaction-insights-history"
# The API reads product status at most once a second per process.
SETTLE_SECONDS = 10.0


def duplicated_transaction(day: date) -> list[dict]:
    """Two landing rows for one transaction: the mart's unique key fails its gate."""
    same = {"transaction_id": "tx-dup", "customer_id": "c-1", "amount_cents": 100}
    return [card_transaction(day, event_id=f"bad-{n}", **same) for n in (1, 2)]


def eventually(call, predicate, what: str):
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        response = call()
        if predicate(response):
            return response
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: last answer {response.status_code} {response.text[:300]}")
        time.sleep(0.2)


def quality(response) -> dict:
    return response.json()["metadata"]["quality"]


def test_failing_gate_and_halt_show_in_the_api_and_recovery_heals(
    settings, run_batch, run_live_freshness, tenant_key
):
    lake = Lake.from_settings(settings)
    backfill_landing(lake, SyntheticSource(CONFIG), START, START + timedelta(days=2))
    key = tenant_key("buyer", "standard")
    headers = {"Authorization": f"Bearer {key}"}
    assert run_batch(DAY1).success
    good = lake.current_version(HISTORY)

    with TestClient(create_app(settings)) as api:
        batch = lambda: api.get(f"/v1/batch/{HISTORY}?limit=1", headers=headers)  # noqa: E731
        first = eventually(batch, lambda r: r.status_code == 200, "published batch product")
        assert quality(first)["status"] == "healthy"

        # A bad day: the gate fails, nothing is published, buyers see the last good version.
        bad_file = lake.landing_file("card_transactions", DAY2, 12, "bad", 1)
        write_landing_file(
            bad_file, landing_table("card_transactions", duplicated_transaction(DAY2))
        )
        assert not run_batch(DAY2).success
        degraded = eventually(
            batch, lambda r: quality(r)["status"] == "degraded", "degraded after a failed gate"
        )
        assert degraded.status_code == 200 and degraded.headers["X-Data-Quality"] == "degraded"
        q = quality(degraded)
        assert q["served_version"] == good and q["failed_version"] not in (None, good)
        assert "unique:transaction_id" in q["reason"]

        # The bad file is withdrawn and the day rebuilt: a passing publish heals the product.
        bad_file.unlink()
        assert run_batch(DAY2).success
        healed = eventually(
            batch, lambda r: quality(r)["status"] == "healthy", "healthy after a passing publish"
        )
        assert quality(healed)["served_version"] == lake.current_version(HISTORY) != good

        # A live product whose stream never produced is served stale, not halted, whether
        # or not the freshness checks run: the answer decides from the watermark.
        live = lambda: api.get("/v1/live/transaction-risk?limit=1", headers=headers)  # noqa: E731
        run_live_freshness()  # no watermark at all: the stream lane never produced it
        stale = live()
        assert stale.status_code == 200 and stale.json()["metadata"]["status"] == "stale"

        # The stream lane catches up (a fresh watermark): the next answer says healthy.
        store = LiveStore(load_catalog(settings.catalog_path))
        engine = make_engine(settings.live_store_url)
        with engine.begin() as conn:
            upsert(
                conn,
                store.watermarks,
                [
                    {
                        "product_id": "transaction-risk",
                        "watermark_at": utcnow(),
                        "processed_at": utcnow(),
                    }
                ],
            )
        engine.dispose()
        back = eventually(
            live, lambda r: r.json()["metadata"]["status"] == "healthy", "healthy once back"
        )
        assert quality(back)["status"] == "healthy"
