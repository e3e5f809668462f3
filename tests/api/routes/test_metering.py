"""Metering: every successful answer is one ledger record, billed by the product's price
model; retries with the same Idempotency-Key are delivered but recorded once; refusals and
failures are not recorded; shutdown flushes what is queued."""

from __future__ import annotations

import time

import pytest
from apiworld import auth, behavior_row, risk_row
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import metering, pushmetering
from api.main import create_app
from tollgate.db.engine import make_engine
from tollgate.db.models import UsageRecord


@pytest.fixture
def app(api_settings, world):
    app = create_app(api_settings)
    app.state.services.state_ttl_seconds = 0.0
    return app


def ledger(settings) -> list[UsageRecord]:
    engine = make_engine(settings.metadata_db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(UsageRecord.__table__)).all()
    engine.dispose()
    return sorted(rows, key=lambda r: r.occurred_at)


def test_answers_are_billed_by_price_model_and_flushed_on_shutdown(app, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(i) for i in range(3)])
    world.snapshot("customer-behavior-daily", [behavior_row(i) for i in range(5)])
    tenant_id, key = world.tenant("standard")
    with TestClient(app) as client:
        live = client.get("/v1/live/transaction-risk?limit=2", headers=auth(key))
        batch = client.get("/v1/batch/customer-behavior-daily?limit=4", headers=auth(key))
        assert live.status_code == batch.status_code == 200
        assert (
            client.get("/v1/live/transaction-risk/tx-99999", headers=auth(key)).status_code == 404
        )
        assert client.get("/v1/products", headers=auth(key)).status_code == 200  # free
        # A live product outside the standard tier: refused before its lane is looked at.
        assert client.get("/v1/batch/region-activity", headers=auth(key)).status_code == 403
    rows = ledger(api_settings)  # read after shutdown: the lifespan's close() wrote them
    assert [(r.tenant_id, r.product_id, r.kind, r.units) for r in rows] == [
        (tenant_id, "transaction-risk", "query", 1),  # per_query: one query, not 2 rows
        (tenant_id, "customer-behavior-daily", "records", 4),  # per_record: the rows
    ]
    assert [r.bytes for r in rows] == [len(live.content), len(batch.content)]
    assert all(r.compute_ms > 0 for r in rows)
    assert rows[0].route == "/v1/live/{product_id}"


def test_idempotent_retry_is_answered_again_but_billed_once(app, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(1)])
    tenant_id, key = world.tenant("standard")
    other_id, other_key = world.tenant("standard")
    with TestClient(app) as client:
        for headers in (auth(key), auth(key), auth(other_key)):
            r = client.get(
                "/v1/live/transaction-risk/tx-00001",
                headers={**headers, "Idempotency-Key": "order-42"},
            )
            assert r.status_code == 200
        # The same client-chosen X-Request-ID without a key: two deliveries, two records.
        for _ in range(2):
            client.get(
                "/v1/live/transaction-risk/tx-00001",
                headers={**auth(key), "X-Request-ID": "same-id"},
            )
    ids = [r.delivery_id for r in ledger(api_settings)]
    assert [i.startswith(f"{tenant_id}:idem:order-42:") for i in ids].count(True) == 1
    assert [i.startswith(f"{other_id}:idem:order-42:") for i in ids].count(True) == 1  # per tenant
    assert len(ids) == 4


def test_malformed_idempotency_key_is_422_and_not_billed(app, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(1)])
    _, key = world.tenant("standard")
    with TestClient(app) as client:
        r = client.get(
            "/v1/live/transaction-risk/tx-00001",
            headers={**auth(key), "Idempotency-Key": "x" * 200},
        )
        assert r.status_code == 422
    assert ledger(api_settings) == []


def test_push_windows_grow_one_record_each_and_are_durable_before_sending(
    monkeypatch, settings, tmp_path
):
    import asyncio

    from tollgate.catalog import load_catalog
    from tollgate.db.migrate import upgrade

    upgrade(settings.metadata_db_url)
    writer = metering.start_metering(settings, load_catalog(settings.catalog_path))
    journaled = []
    real_record = writer.record
    monkeypatch.setattr(writer, "record", lambda d: journaled.append(d) or real_record(d))
    monkeypatch.setattr(pushmetering, "SSE_WINDOW_SECONDS", 3600.0)
    meter = pushmetering.SubscriptionMeter("t-1", "region-activity", "/v1/live/x/stream", "r-1")

    async def stream() -> None:
        await meter.before_send(3, 300)
        assert writer.journal._durable >= writer.journal_seq()  # on disk before it is sent
        await meter.before_send(2, 200)
        pushmetering.SSE_WINDOW_SECONDS = 0.0
        await meter.before_send(1, 100)

    try:
        asyncio.run(stream())
    finally:
        metering.stop_metering()
    assert [(d.units, d.bytes) for d in journaled] == [(3, 300), (5, 500), (1, 100)]
    assert len({d.delivery_id for d in journaled}) == 2  # the first window rewritten as it grew
    rows = {r.delivery_id: r.units for r in ledger(settings)}
    assert sorted(rows.values()) == [1, 5]
    assert all(i.startswith("t-1:sse:") for i in rows)


def test_pushed_messages_are_metered_per_message(app, world, api_settings):
    import threading

    import httpx
    import uvicorn
    from apiworld import free_port

    from tollgate.clock import utcnow

    app.state.services.sse_heartbeat_seconds = 0.2
    tenant_id, key = world.tenant("premium")
    watermark = utcnow()
    world.watermark("transaction-risk", watermark)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        watcher = app.state.services.watcher
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
            http.stream("GET", "/v1/live/transaction-risk/stream", headers=auth(key)) as r,
        ):
            assert r.status_code == 200
            deadline = time.monotonic() + 10
            while "transaction-risk" not in watcher._positions:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            now = utcnow()
            world.live_rows("transaction-risk", [risk_row(i, at=now) for i in range(5)])
            received = 0
            for line in r.iter_lines():
                received += line.startswith("data:")
                if received == 5:
                    break
    finally:
        server.should_exit = True
        thread.join(10)
    rows = [r for r in ledger(api_settings) if ":sse:" in r.delivery_id]
    assert rows and all(r.tenant_id == tenant_id and r.channel == "push" for r in rows)
    # Each pushed record is one message at the push price ($0.0005), not a $1.50 query.
    assert {(r.kind, r.unit_price_micros, r.price_basis) for r in rows} == {
        ("messages", 500, "list")
    }
    assert sum(r.units for r in rows) == 5
    assert all(r.bytes > 0 for r in rows)
    # Each window's trail: the schema streamed, the live watermark and status as it opened.
    assert {(r.schema_version, r.snapshot_version, r.quality_status) for r in rows} == {
        ("1.3", None, "healthy")
    }
    assert {r.watermark_at for r in rows} == {watermark}
    assert all(r.freshness_seconds >= 0 for r in rows)
