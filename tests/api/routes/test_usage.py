"""GET /v1/usage: the caller's own usage, rolled-up days plus today read live."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from apiworld import auth, risk_row

from tollgate.billing import rollup_days
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine
from tollgate.usage import Delivery, write_deliveries


def _delivery(n: int, tenant: str, at: datetime, product="customer-behavior-daily", units=10):
    return Delivery(f"{tenant}:seed:{n}", tenant, product, "records", units, 100, 1.0, "", at)


def test_usage_combines_rollups_and_todays_ledger(client, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(1)])
    tenant_id, key = world.tenant("standard")
    other_id, _ = world.tenant("standard")
    today = utcnow().date()
    yesterday = datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC)
    engine = make_engine(api_settings.metadata_db_url)
    write_deliveries(
        engine,
        [_delivery(i, tenant_id, yesterday + timedelta(hours=i)) for i in range(3)]
        + [_delivery(9, other_id, yesterday)],
    )
    rollup_days(engine, today - timedelta(days=1), today)
    for _ in range(2):
        assert (
            client.get("/v1/live/transaction-risk/tx-00001", headers=auth(key)).status_code == 200
        )
    deadline, days = time.monotonic() + 10, []
    # The journal reaches the ledger table in batches, a fraction of a second after the
    # answers: wait for both lookups (one batch may hold only the first).
    while time.monotonic() < deadline:
        r = client.get("/v1/usage", headers=auth(key))
        assert r.status_code == 200
        days = r.json()["days"]
        if any(d["date"] == today.isoformat() and d["requests"] >= 2 for d in days):
            break
        time.sleep(0.1)
    assert r.json()["tenant_id"] == tenant_id
    assert [(d["date"], d["product_id"], d["requests"], d["units"], d["bytes"]) for d in days] == [
        ((today - timedelta(days=1)).isoformat(), "customer-behavior-daily", 3, 30, 300),
        (today.isoformat(), "transaction-risk", 2, 2, days[-1]["bytes"]),
    ]
    assert days[-1]["bytes"] > 0


def test_usage_range_is_checked(client, world):
    _, key = world.tenant("standard")
    r = client.get("/v1/usage?date_from=2026-11-10&date_to=2026-11-01", headers=auth(key))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_range"
    # The ends of the calendar: no day after the last, no 30 days before the first.
    r = client.get("/v1/usage?date_from=9999-12-30&date_to=9999-12-31", headers=auth(key))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_range"
    r = client.get("/v1/usage?date_to=0001-01-05", headers=auth(key))
    assert r.status_code == 200 and r.json()["date_from"] == "0001-01-01"
    assert client.get("/v1/usage").status_code == 401
