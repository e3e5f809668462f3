"""The request log: every /v1 answer is recorded off the request path, with freshness vs SLA."""

from __future__ import annotations

from datetime import timedelta

import pytest
from apiworld import auth, risk_row
from sqlalchemy import select

from api.requestlog import RequestLog
from tollgate.clock import utcnow
from tollgate.db.ops_models import RequestLogEntry


def logged(app) -> list[RequestLogEntry]:
    services = app.state.services
    with services.metadata_engine.connect() as conn:
        rows = conn.execute(select(RequestLogEntry).order_by(RequestLogEntry.id)).all()
    return rows


def flush(client) -> None:
    # The background task writes every second; a test writes what is pending right away.
    client.app.state.request_log.flush()


def test_each_v1_request_is_logged_with_tenant_product_status_and_freshness(client, world):
    world.live_rows("transaction-risk", [risk_row(1, "EU"), risk_row(2, "EU")])
    sla = client.app.state.services.catalog.product("transaction-risk").freshness_sla_seconds
    tenant, key = world.tenant("standard")

    world.watermark("transaction-risk", utcnow() - timedelta(seconds=1))
    assert client.get("/v1/live/transaction-risk/tx-00001", headers=auth(key)).status_code == 200
    world.watermark("transaction-risk", utcnow() - timedelta(seconds=sla + 60))
    assert client.get("/v1/live/transaction-risk/tx-00002", headers=auth(key)).status_code == 200
    assert client.get("/v1/live/transaction-risk/tx-404", headers=auth(key)).status_code == 404
    assert client.get("/v1/products", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/healthz").status_code == 200  # probes are not deliveries: not logged
    flush(client)

    rows = logged(client.app)
    assert [(r.tenant_id, r.product_id, r.status) for r in rows] == [
        (tenant, "transaction-risk", 200),
        (tenant, "transaction-risk", 200),
        (tenant, "transaction-risk", 404),
        (None, None, 401),
    ]
    assert {r.route for r in rows[:3]} == {"/v1/live/{product_id}/{key}"}
    fresh, stale, missing, refused = rows
    assert fresh.freshness_seconds <= 2 and fresh.within_sla is True
    assert stale.freshness_seconds >= sla + 59 and stale.within_sla is False
    assert missing.freshness_seconds is None and missing.within_sla is None
    assert all(r.latency_ms > 0 for r in rows)
    assert refused.occurred_at.tzinfo is not None


def test_flush_writes_nothing_twice(client, world):
    log: RequestLog = client.app.state.request_log
    log.record("t", "transaction-risk", "/v1/live/{product_id}", 200, 3.0, 2.0)
    assert log.flush() == 1
    assert log.flush() == 0
    assert len(logged(client.app)) == 1


def test_a_flush_writes_in_batches_and_a_failed_one_keeps_its_rows(client, world, monkeypatch):
    from api import requestlog

    log: RequestLog = client.app.state.request_log
    for i in range(requestlog.BATCH_ROWS * 2 + 5):
        log.record("t", "transaction-risk", "/v1/live/{product_id}", 200, float(i), None)
    batches = []
    real = requestlog._INSERT

    def fail_the_second(conn, rows):
        batches.append(len(rows))
        if len(batches) == 2:
            raise OSError("database is locked")
        real(conn, rows)

    monkeypatch.setattr(requestlog, "_INSERT", fail_the_second)
    with pytest.raises(OSError):
        log.flush()
    assert batches == [requestlog.BATCH_ROWS] * 2
    assert len(logged(client.app)) == requestlog.BATCH_ROWS  # the failed batch is not lost
    monkeypatch.setattr(requestlog, "_INSERT", real)
    assert log.flush() == requestlog.BATCH_ROWS + 5
    rows = logged(client.app)
    assert sorted(r.latency_ms for r in rows) == [float(i) for i in range(len(rows))]
    assert len(rows) == requestlog.BATCH_ROWS * 2 + 5
