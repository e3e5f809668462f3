"""The entitlement gate and the buyer's contracts: a subscription product is served on every
channel only under an active subscription, a one-time product only under a purchase (and
only the snapshots it grants), a trial never past its end; purchases are idempotent."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import httpx
import pytest
import uvicorn
from apiworld import auth, behavior_row, free_port, risk_row
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.routes import stream as stream_route
from tollgate.clock import utcnow
from tollgate.contracts import cancel_subscription
from tollgate.db.models import UsageRecord


def region_row(i: int, region: str = "EU") -> dict:
    minute = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=i)
    return {
        "region_minute_id": f"{region}@{minute:%Y-%m-%dT%H:%M}",
        "region": region,
        "minute_at": minute,
        "processed_at": minute + timedelta(seconds=5),
        "events": 100 + i,
        "purchases": i,
        "revenue_cents": 1000 * i,
        "conversion_rate": 0.1,
    }


def trend_row(i: int, region: str = "EU") -> dict:
    day = date(2026, 11, 1 + i % 20)
    return {
        "trend_id": f"{region}/books@{day.isoformat()}#{i}",
        "region": region,
        "category": "books",
        "activity_date": day,
        "page_views": 1000 + i,
        "purchases": 10 + i,
        "revenue_cents": 50_000 + i,
        "conversion_rate": 0.01,
        "revenue_growth_7d": 0.02,
    }


def ledger(world, tenant_id: str, records: int = 1) -> list:
    """The tenant's ledger records once `records` of them are written (the ledger writes off
    the request path, within a second)."""
    deadline = time.monotonic() + 10
    while True:
        with world.meta.connect() as conn:
            rows = conn.execute(select(UsageRecord).where(UsageRecord.tenant_id == tenant_id)).all()
        if len(rows) >= records or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def error(r) -> dict:
    return r.json()["error"]


def test_a_subscription_product_needs_an_active_subscription(client, app, world):
    app.state.services.contracts.ttl_seconds = 0.0
    world.live_rows("region-activity", [region_row(i) for i in range(3)])
    tenant_id, key = world.tenant("premium")
    r = client.get("/v1/live/region-activity", headers=auth(key))
    assert r.status_code == 403
    assert error(r)["code"] == "subscription_required"
    assert error(r)["details"]["product_id"] == "region-activity"
    r = client.get("/v1/live/region-activity/stream", headers=auth(key))
    assert r.status_code == 403 and error(r)["code"] == "subscription_required"
    assert client.get("/v1/subscriptions", headers=auth(key)).json()["subscriptions"] == []

    sub_id = world.subscribe(tenant_id)
    r = client.get("/v1/live/region-activity", headers=auth(key))
    assert r.status_code == 200 and len(r.json()["data"]) == 3
    (row,) = ledger(world, tenant_id)
    assert (row.channel, row.units, row.unit_price_micros) == ("query", 3, 0)
    assert (row.price_basis, row.contract_id) == ("subscription", sub_id)
    subs = client.get("/v1/subscriptions", headers=auth(key)).json()["subscriptions"]
    assert [(s["id"], s["status"], s["price_usd"]) for s in subs] == [(sub_id, "active", "25000")]

    with Session(world.meta) as session:
        cancel_subscription(session, sub_id)
    r = client.get("/v1/live/region-activity", headers=auth(key))
    assert r.status_code == 403 and error(r)["code"] == "subscription_required"
    assert (
        client.get("/v1/subscriptions", headers=auth(key)).json()["subscriptions"][0]["status"]
        == "cancelled"
    )


def test_an_expired_trial_is_refused_naming_the_tiers_to_upgrade_to(client, world):
    world.live_rows("transaction-risk", [risk_row(i) for i in range(3)])
    world.snapshot("customer-behavior-daily", [behavior_row(i) for i in range(20)])
    _, running = world.tenant("trial", tier_since=utcnow() - timedelta(days=13))
    assert client.get("/v1/live/transaction-risk", headers=auth(running)).status_code == 200
    _, ended = world.tenant("trial", tier_since=utcnow() - timedelta(days=14, seconds=1))
    for method, path, body in (
        ("GET", "/v1/live/transaction-risk", None),
        ("GET", "/v1/live/transaction-risk/stream", None),
        ("GET", "/v1/batch/customer-behavior-daily", None),
        ("POST", "/v1/exports", {"product_id": "customer-behavior-daily"}),
    ):
        r = client.request(method, path, json=body, headers=auth(ended))
        assert r.status_code == 403, (path, r.text)
        assert error(r)["code"] == "trial_expired"
        assert error(r)["details"]["upgrade_to"] == ["standard", "premium"]
        assert "upgrade to standard or premium" in error(r)["message"]


def test_trial_deliveries_are_rated_zero_with_their_quantity(client, world):
    world.live_rows("transaction-risk", [risk_row(i) for i in range(3)])
    tenant_id, key = world.tenant("trial")
    assert client.get("/v1/live/transaction-risk/tx-00001", headers=auth(key)).status_code == 200
    (row,) = ledger(world, tenant_id)
    assert (row.units, row.unit_price_micros, row.price_basis) == (1, 0, "trial")


def test_an_empty_page_is_recorded_at_zero(client, world):
    world.live_rows("transaction-risk", [risk_row(i) for i in range(3)])
    tenant_id, key = world.tenant("standard")
    future = (utcnow() + timedelta(days=1)).isoformat()
    r = client.get("/v1/live/transaction-risk", params={"since": future}, headers=auth(key))
    assert r.status_code == 200 and r.json()["data"] == []
    assert client.get("/v1/live/transaction-risk/tx-99999", headers=auth(key)).status_code == 404
    (row,) = ledger(world, tenant_id)  # the 404 is not a delivery
    assert (row.kind, row.units, row.unit_price_micros, row.price_basis) == (
        "query",
        1,
        0,
        "empty",
    )


def test_purchases_are_idempotent_and_grant_the_product(client, app, world):
    app.state.services.contracts.ttl_seconds = 0.0
    world.snapshot("market-trends", [trend_row(i) for i in range(30)])
    tenant_id, key = world.tenant("premium")
    r = client.get("/v1/batch/market-trends", headers=auth(key))
    assert r.status_code == 403 and error(r)["code"] == "purchase_required"

    headers = auth(key) | {"Idempotency-Key": "order-7"}
    first = client.post("/v1/purchases", json={"product_id": "market-trends"}, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/v1/purchases", json={"product_id": "market-trends"}, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert first.json()["price_usd"] == "50000"
    other = client.post("/v1/purchases", json={"product_id": "market-trends"}, headers=auth(key))
    assert other.status_code == 409 and error(other)["code"] == "already_purchased"
    listed = client.get("/v1/purchases", headers=auth(key)).json()["purchases"]
    assert [p["id"] for p in listed] == [first.json()["id"]]

    r = client.get("/v1/batch/market-trends", params={"limit": 10}, headers=auth(key))
    assert r.status_code == 200 and len(r.json()["data"]) == 10
    (row,) = ledger(world, tenant_id)
    assert (row.price_basis, row.contract_id, row.unit_price_micros) == (
        "purchase",
        first.json()["id"],
        0,
    )
    export = client.post("/v1/exports", json={"product_id": "market-trends"}, headers=auth(key))
    assert export.status_code == 202


@pytest.mark.parametrize(
    ("tier", "product_id", "status", "code"),
    [
        ("premium", "transaction-risk", 422, "not_one_time"),
        ("premium", "region-activity", 422, "not_one_time"),
        ("premium", "weather-feed", 404, "product_not_found"),
        ("standard", "market-trends", 403, "not_entitled"),
    ],
)
def test_bad_purchases(client, world, tier, product_id, status, code):
    _, key = world.tenant(tier)
    r = client.post("/v1/purchases", json={"product_id": product_id}, headers=auth(key))
    assert r.status_code == status and error(r)["code"] == code
    assert client.get("/v1/purchases", headers=auth(key)).json()["purchases"] == []


def test_a_purchase_grants_the_snapshots_published_within_its_window(client, world):
    now = utcnow()
    bought_at = now - timedelta(days=40)
    old = world.snapshot(
        "market-trends", [trend_row(i) for i in range(5)], built_at=bought_at - timedelta(1)
    )
    within = world.snapshot(
        "market-trends", [trend_row(i) for i in range(6)], built_at=bought_at + timedelta(20)
    )
    world.snapshot("market-trends", [trend_row(i) for i in range(7)], built_at=now)
    early, early_key = world.tenant("premium")
    world.purchase(early, at=bought_at)  # updates until 10 days ago
    r = client.get("/v1/batch/market-trends", headers=auth(early_key))
    assert r.status_code == 200
    assert r.json()["metadata"]["quality"]["served_version"] == within != old
    assert len(r.json()["data"]) == 6
    recent, recent_key = world.tenant("premium")
    world.purchase(recent)
    r = client.get("/v1/batch/market-trends", headers=auth(recent_key))
    assert len(r.json()["data"]) == 7  # the current snapshot


def test_an_open_stream_ends_when_its_subscription_does(app, world, monkeypatch):
    monkeypatch.setattr(stream_route, "CONTRACT_CHECK_SECONDS", 0.0)
    services = app.state.services
    services.contracts.ttl_seconds = 0.0
    services.sse_heartbeat_seconds = 0.2
    tenant_id, key = world.tenant("premium")
    sub_id = world.subscribe(tenant_id)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
            http.stream("GET", "/v1/live/region-activity/stream", headers=auth(key)) as r,
        ):
            assert r.status_code == 200
            deadline = time.monotonic() + 10
            while "region-activity" not in services.watcher._positions:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            world.live_rows("region-activity", [region_row(1)])
            events = []
            deadline = time.monotonic() + 20  # heartbeats keep the read alive: bound it
            for line in r.iter_lines():
                assert time.monotonic() < deadline, events
                if not line.startswith("event:"):
                    continue
                events.append(line.split(":", 1)[1].strip())
                if events == ["record"]:
                    with Session(world.meta) as session:
                        cancel_subscription(session, sub_id)
                    world.live_rows("region-activity", [region_row(0)])  # newer
                if "contract_ended" in events:
                    break
    finally:
        server.should_exit = True
        thread.join(10)
    assert events == ["record", "contract_ended"]
    assert sum(row.units for row in ledger(world, tenant_id)) == 1  # only the one sent
