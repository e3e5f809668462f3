"""Live lookups and recent records: envelope, residency, pagination, status, caching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apiworld import auth, risk_row

from api.cursor import encode_cursor
from tollgate.clock import utcnow

WATERMARK = datetime(2026, 11, 24, 7, 5, tzinfo=UTC)


def _seed(world, n=30):
    regions = ["EU", "US-East", "APAC"]
    world.live_rows("transaction-risk", [risk_row(i, regions[i % 3]) for i in range(n)])
    world.watermark("transaction-risk", WATERMARK)


def test_lookup_carries_the_contract(client, world):
    _seed(world)
    _, key = world.tenant("standard")
    r = client.get("/v1/live/transaction-risk/tx-00003", headers=auth(key))
    assert r.status_code == 200
    body = r.json()
    assert body["data"]["transaction_id"] == "tx-00003" and body["data"]["region"] == "EU"
    assert body["api_version"] == "2.1" and body["data_schema_version"] == "1.3"
    assert body["backward_compatible_until"] == "2027-12-31"
    meta = body["metadata"]
    expected_age = (utcnow() - WATERMARK).total_seconds()
    assert abs(meta["freshness_seconds"] - expected_age) < 5
    assert meta["watermark_at"].startswith("2026-11-24T07:05:00")
    assert meta["quality"]["status"] == "healthy"
    assert meta["coverage"]["regions"] == ["US-West", "US-East", "EU", "APAC"]
    assert r.headers["X-API-Version"] == "2.1"
    assert abs(int(r.headers["X-Data-Freshness"]) - expected_age) < 5
    assert "Deprecation" not in r.headers
    assert client.get("/v1/live/transaction-risk/tx-99999", headers=auth(key)).status_code == 404


def test_the_shipped_retired_schema_version_is_410_naming_the_current_one(client, world):
    """transaction-risk 1.2 was sunset after 2026-06-30 (the other channels and the
    deprecation window: test_schema_versions)."""
    _seed(world)
    _, key = world.tenant("standard")
    r = client.get(
        "/v1/live/transaction-risk/tx-00001", headers={**auth(key), "X-Data-Schema-Version": "1.2"}
    )
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "schema_version_retired"
    assert r.json()["error"]["details"]["current_version"] == "1.3"
    assert "the current version is 1.3" in r.json()["error"]["message"]
    bad = client.get(
        "/v1/live/transaction-risk/tx-00001", headers={**auth(key), "X-Data-Schema-Version": "9.9"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_schema_version"


def test_residency_filters_rows_and_refuses_other_regions(client, world):
    _seed(world)
    _, eu_key = world.tenant("standard", regions=["EU"])
    page = client.get("/v1/live/transaction-risk?limit=1000", headers=auth(eu_key)).json()
    assert page["data"] and {row["region"] for row in page["data"]} == {"EU"}
    assert page["metadata"]["coverage"]["regions"] == ["EU"]
    # A US row looked up by key is simply not there for this tenant (no existence leak).
    assert client.get("/v1/live/transaction-risk/tx-00001", headers=auth(eu_key)).status_code == 404
    refused = client.get("/v1/live/transaction-risk?region=US-East", headers=auth(eu_key))
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == {"region": "US-East", "allowed_regions": ["EU"]}
    lookup = client.get("/v1/live/transaction-risk/tx-00001?region=US-East", headers=auth(eu_key))
    assert lookup.status_code == 403
    assert (
        client.get("/v1/live/transaction-risk?region=Mars", headers=auth(eu_key)).status_code == 400
    )


def test_cache_never_serves_one_residency_scope_to_another(client, world):
    _seed(world)
    world.watermark("transaction-risk", utcnow())  # answers over the SLA are never cached
    _, eu_key = world.tenant("standard", regions=["EU"])
    _, all_key = world.tenant("standard")
    _, eu_key_2 = world.tenant("standard", regions=["EU"])
    first = client.get("/v1/live/transaction-risk", headers=auth(eu_key))
    assert first.headers["X-Cache"] == "miss"
    other = client.get("/v1/live/transaction-risk", headers=auth(all_key))
    assert other.headers["X-Cache"] == "miss"
    assert {r["region"] for r in other.json()["data"]} == {"EU", "US-East", "APAC"}
    same_scope = client.get("/v1/live/transaction-risk", headers=auth(eu_key_2))
    assert same_scope.headers["X-Cache"] == "hit"
    assert same_scope.json()["data"] == first.json()["data"]
    assert same_scope.json()["metadata"]["cache"] == "hit"


def test_pagination_walks_every_row_once_newest_first(client, world):
    _seed(world, n=25)
    _, key = world.tenant("premium")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        body = client.get("/v1/live/transaction-risk", params=params, headers=auth(key)).json()
        seen += [row["transaction_id"] for row in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert seen == [f"tx-{i:05d}" for i in reversed(range(25))]


def test_time_filters_and_bad_inputs(client, world):
    _seed(world, n=20)
    _, key = world.tenant("premium")
    params = {"since": "2026-11-24T07:00:05Z", "until": "2026-11-24T07:00:10Z"}
    body = client.get("/v1/live/transaction-risk", params=params, headers=auth(key)).json()
    assert [r["transaction_id"] for r in body["data"]] == [f"tx-{i:05d}" for i in range(9, 4, -1)]
    for bad, status in [
        ({"limit": 0}, 422),
        ({"limit": 5000}, 422),
        ({"cursor": "%%%"}, 400),
        ({"since": "yesterday"}, 422),
        ({"since": "2026-11-24T07:00:00"}, 400),
        # Forged cursors: a position without a zone, a key that is not a string.
        ({"cursor": encode_cursor({"pa": "2026-11-24T07:00:05", "k": "tx-00005"})}, 400),
        ({"cursor": encode_cursor({"pa": "2026-11-24T07:00:05+00:00", "k": None})}, 400),
    ]:
        r = client.get("/v1/live/transaction-risk", params=bad, headers=auth(key))
        assert r.status_code == status, bad
        assert set(r.json()["error"]) == {"code", "message", "details"}


def test_batch_product_is_not_served_on_live_routes(client, world):
    _, key = world.tenant("premium")
    r = client.get("/v1/live/market-trends", headers=auth(key))
    assert r.status_code == 404 and r.json()["error"]["details"] == {"lane": "batch"}


def test_halted_product_is_503_with_reason_and_degraded_says_so(client, world):
    _seed(world)
    _, key = world.tenant("standard")
    world.product_status("transaction-risk", "halted", "fraud_score out of range")
    r = client.get("/v1/live/transaction-risk/tx-00001", headers=auth(key))
    assert r.status_code == 503
    assert r.json()["error"]["details"]["reason"] == "fraud_score out of range"
    world.product_status("transaction-risk", "degraded", "late data")
    r = client.get("/v1/live/transaction-risk/tx-00001", headers=auth(key))
    assert r.status_code == 200 and r.headers["X-Data-Quality"] == "degraded"
    assert r.json()["metadata"]["quality"]["reason"] == "late data"


def test_trial_tier_sees_live_data_an_hour_late(client, world):
    now = utcnow()
    world.live_rows(
        "transaction-risk", [risk_row(1, at=now - timedelta(hours=2)), risk_row(2, at=now)]
    )
    _, trial = world.tenant("trial")
    _, standard = world.tenant("standard")
    assert client.get("/v1/live/transaction-risk/tx-00001", headers=auth(trial)).status_code == 200
    assert client.get("/v1/live/transaction-risk/tx-00002", headers=auth(trial)).status_code == 404
    assert (
        client.get("/v1/live/transaction-risk/tx-00002", headers=auth(standard)).status_code == 200
    )


def test_product_outside_tier_on_live_route_is_403(client, world):
    _, key = world.tenant("trial")
    r = client.get("/v1/live/region-activity/EU@2026-11-24T07:01", headers=auth(key))
    assert r.status_code == 403 and r.json()["error"]["details"]["tiers_with_entitlement"] == [
        "premium"
    ]
