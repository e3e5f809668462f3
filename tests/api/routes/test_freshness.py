"""Freshness and status from the data's own watermark, on every channel, no scheduler."""

from __future__ import annotations

import time
from datetime import date, timedelta

import httpx
from apiworld import auth, behavior_row, risk_row

from api import delivery, services
from tollgate.clock import utcnow

RISK, JOURNEY, BEHAVIOR = "transaction-risk", "customer-journey-insights", "customer-behavior-daily"


def _backfill(world, day: date) -> str:
    """A snapshot of old days, published just now."""
    rows = [{**behavior_row(i), "activity_date": day} for i in range(8)]
    return world.snapshot(BEHAVIOR, rows, built_at=utcnow())


def _export(client, key) -> dict:
    r = client.post("/v1/exports", json={"product_id": BEHAVIOR}, headers=auth(key))
    assert r.status_code == 202, r.text
    return r


def test_a_backfill_of_old_data_reads_stale_on_queries_and_exports(client, world):
    _backfill(world, date(2013, 6, 1))
    _, key = world.tenant("standard")
    r = client.get(f"/v1/batch/{BEHAVIOR}", headers=auth(key))
    meta = r.json()["metadata"]
    assert meta["watermark_at"].startswith("2013-06-02T00:00:00")  # the end of its newest day
    assert meta["freshness_seconds"] > 13 * 365 * 86400
    assert meta["status"] == "stale" and "SLA" in meta["status_reason"]
    assert r.headers["X-Data-Status"] == "stale"
    assert int(r.headers["X-Data-Freshness"]) > 13 * 365 * 86400
    export = _export(client, key)
    assert export.headers["X-Data-Status"] == "stale"
    data = export.json()["metadata"]
    assert data["status"] == "stale" and data["freshness_seconds"] > 13 * 365 * 86400
    assert data["watermark_at"].startswith("2013-06-02T00:00:00")
    detail = client.get(f"/v1/products/{BEHAVIOR}", headers=auth(key)).json()["status"]
    assert detail["status"] == "stale" and detail["watermark_at"].startswith("2013-06-02")


def test_todays_snapshot_reads_healthy_on_queries_and_exports(client, world):
    _backfill(world, utcnow().date())
    _, key = world.tenant("standard")
    r = client.get(f"/v1/batch/{BEHAVIOR}", headers=auth(key))
    assert r.json()["metadata"]["status"] == "healthy" and r.headers["X-Data-Status"] == "healthy"
    assert r.json()["metadata"]["freshness_seconds"] < 60  # built now, today not over yet
    assert _export(client, key).json()["metadata"]["status"] == "healthy"


def _later(monkeypatch, seconds: float) -> None:
    """The API's clock `seconds` ahead: time passes while nothing else moves."""
    ahead = lambda: utcnow() + timedelta(seconds=seconds)  # noqa: E731
    for module in (delivery, services):
        monkeypatch.setattr(module, "utcnow", ahead)


def test_a_stopped_stream_turns_transaction_risk_stale_within_its_sla(client, world, monkeypatch):
    """No Dagster and no status row: the answer alone decides, from the watermark."""
    stopped = utcnow()
    world.live_rows(RISK, [risk_row(1, at=stopped)])
    world.watermark(RISK, stopped)
    _, key = world.tenant("standard")  # a 300 s cache TTL
    first = client.get(f"/v1/live/{RISK}/tx-00001", headers=auth(key))
    assert first.json()["metadata"]["status"] == "healthy"
    # The stream stops; 6 s later (its SLA is 5 s) the same question reads stale, and the
    # answer cached a moment ago is not served as it is now too old.
    _later(monkeypatch, 6)
    r = client.get(f"/v1/live/{RISK}/tx-00001", headers=auth(key))
    assert r.status_code == 200
    assert r.json()["metadata"]["status"] == "stale" and r.headers["X-Data-Status"] == "stale"
    assert r.headers["X-Cache"] == "miss" and 6 <= r.json()["metadata"]["freshness_seconds"] < 9
    page = client.get(f"/v1/live/{RISK}", headers=auth(key))
    assert page.json()["metadata"]["status"] == "stale"
    assert client.get(f"/v1/products/{RISK}", headers=auth(key)).json()["status"]["status"] == (
        "stale"
    )


def test_a_stopped_stream_opens_push_with_stale_headers(server, world):
    world.watermark(RISK, utcnow() - timedelta(seconds=420))
    _, key = world.tenant("standard")
    with (
        httpx.Client(base_url=server, timeout=10) as http,
        http.stream("GET", f"/v1/live/{RISK}/stream", headers=auth(key)) as r,
    ):
        assert r.status_code == 200
        assert r.headers["X-Data-Status"] == "stale"
        assert 419 <= int(r.headers["X-Data-Freshness"]) < 480


def test_a_product_with_no_watermark_yet_is_served_stale_not_halted(client, server, world):
    """A fresh demo: journeys publish their first window up to 15 minutes after start."""
    _, key = world.tenant("standard")
    r = client.get(f"/v1/live/{JOURNEY}", headers=auth(key))
    assert r.status_code == 200, r.text
    meta = r.json()["metadata"]
    assert meta["status"] == "stale" and meta["freshness_seconds"] is None
    assert "no data yet" in meta["status_reason"]
    assert r.headers["X-Data-Freshness"] == "unknown"
    with (
        httpx.Client(base_url=server, timeout=10) as http,
        http.stream("GET", f"/v1/live/{JOURNEY}/stream", headers=auth(key)) as push,
    ):
        assert push.status_code == 200 and push.headers["X-Data-Status"] == "stale"


def test_only_the_quality_gate_halts_a_product_on_every_channel(client, server, world):
    world.watermark(RISK, utcnow())
    _backfill(world, utcnow().date())
    world.product_status(RISK, "halted", "scorer down")
    world.product_status(BEHAVIOR, "halted", "source missing")
    _, key = world.tenant("standard")
    for r in (
        client.get(f"/v1/live/{RISK}", headers=auth(key)),
        client.get(f"/v1/batch/{BEHAVIOR}", headers=auth(key)),
        client.post("/v1/exports", json={"product_id": BEHAVIOR}, headers=auth(key)),
        httpx.get(f"{server}/v1/live/{RISK}/stream", headers=auth(key), timeout=10),
    ):
        assert r.status_code == 503 and r.json()["error"]["code"] == "product_halted"


def test_a_cached_answer_is_kept_no_longer_than_the_sla_allows(client, app, world):
    world.live_rows(RISK, [risk_row(1, at=utcnow())])
    world.watermark(RISK, utcnow() - timedelta(seconds=2))
    _, key = world.tenant("premium")  # a 60 s cache TTL, over a 5 s SLA
    first = client.get(f"/v1/live/{RISK}", headers=auth(key))
    assert first.headers["X-Cache"] == "miss"
    assert client.get(f"/v1/live/{RISK}", headers=auth(key)).headers["X-Cache"] == "hit"
    # Kept until its data reaches the SLA (5 s - 2 s old), not for the tier's 60 s.
    (expires, _), *_ = app.state.services.cache._entries.values()
    assert 1.5 < expires - time.monotonic() <= 3.0
    # An answer already over its SLA is not cached at all: a recomputation may be newer.
    world.watermark(RISK, utcnow() - timedelta(seconds=30))
    _, other = world.tenant("premium", regions=["EU"])
    for _ in range(2):
        r = client.get(f"/v1/live/{RISK}", headers=auth(other))
        assert r.headers["X-Cache"] == "miss" and r.json()["metadata"]["status"] == "stale"


def test_metrics_measure_every_products_age_from_its_watermark(client, world):
    """Scraped from the API, so it keeps growing when the stream lane is gone, and batch
    products have it too."""
    _backfill(world, date(2013, 6, 1))
    world.watermark(RISK, utcnow() - timedelta(seconds=42))
    metrics = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("tollgate_product_")
    }
    risk = metrics['tollgate_product_freshness_seconds{lane="live",product="transaction-risk"}']
    assert 42 <= risk < 50
    behavior = 'tollgate_product_freshness_seconds{lane="batch",product="customer-behavior-daily"}'
    assert metrics[behavior] > 13 * 365 * 86400
    assert (
        metrics['tollgate_product_status{lane="live",product="transaction-risk",status="stale"}']
        == 1
    )
    assert (
        metrics['tollgate_product_status{lane="live",product="transaction-risk",status="healthy"}']
        == 0
    )
    # No watermark yet: its age is unknown (no sample), its status stale.
    assert not any("customer-journey-insights" in k and "freshness" in k for k in metrics)
    assert (
        metrics[
            'tollgate_product_status{lane="live",product="customer-journey-insights",status="stale"}'
        ]
        == 1
    )
