"""Health, readiness, metrics and the error shape of the framework's own refusals."""

from __future__ import annotations

from apiworld import auth, risk_row

from tollgate.clock import utcnow


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"metadata_db": "ok", "live_store": "ok", "lake": "ok"}


def test_readyz_is_503_when_a_store_is_unreachable(api_settings):
    from fastapi.testclient import TestClient

    from api.main import create_app

    # Nothing listens on port 1: the live store cannot be reached.
    broken = api_settings.model_copy(
        update={
            "live_store_url": "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"
        }
    )
    app = create_app(broken, prepare_stores=False)
    with TestClient(app) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["error"]["details"]["checks"]["live_store"].startswith("failed")


def test_metrics_cover_latency_status_cache_and_sse(client, world):
    world.live_rows("transaction-risk", [risk_row(1)])
    world.watermark("transaction-risk", utcnow())  # answers over their SLA are not cached
    _, key = world.tenant("premium")
    for _ in range(2):
        client.get("/v1/live/transaction-risk/tx-00001", headers=auth(key))
    client.get("/v1/products/none", headers=auth(key))
    text = client.get("/metrics").text
    assert (
        'tollgate_api_request_seconds_count{product="transaction-risk",'
        'route="/v1/live/{product_id}/{key}",tier="premium"} 2.0'
    ) in text
    assert (
        'tollgate_api_responses_total{route="/v1/products/{product_id}",status="404"} 1.0' in text
    )
    assert 'tollgate_api_cache_total{product="transaction-risk",result="hit"} 1.0' in text
    assert 'tollgate_api_cache_total{product="transaction-risk",result="miss"} 1.0' in text
    assert "tollgate_api_sse_connections" in text


def test_unknown_route_and_method_use_the_error_shape(client):
    r = client.get("/v2/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.delete("/v1/products")
    assert r.status_code == 405 and set(r.json()["error"]) == {"code", "message", "details"}


def test_request_id_is_echoed_or_assigned(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    assigned = client.get("/healthz", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert len(assigned) == 32
