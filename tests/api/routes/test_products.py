"""Catalog routes, and the authentication every route shares."""

from __future__ import annotations

from datetime import timedelta

import pytest
from apiworld import auth, behavior_row

from tollgate.clock import utcnow


def test_list_is_filtered_by_the_tiers_entitlements(client, world):
    _, trial_key = world.tenant("trial")
    _, premium_key = world.tenant("premium")
    trial = client.get("/v1/products", headers=auth(trial_key))
    premium = client.get("/v1/products", headers=auth(premium_key))
    assert trial.status_code == 200
    assert [p["id"] for p in trial.json()["products"]] == world.catalog.tiers["trial"].products
    assert {p["id"] for p in premium.json()["products"]} == {p.id for p in world.catalog.products}
    assert trial.headers["RateLimit-Limit"] == "10"


def test_detail_has_schema_versions_price_and_status(client, world):
    _, key = world.tenant("standard")
    today = utcnow().date()
    good = world.snapshot(
        "customer-behavior-daily",
        [{**behavior_row(i), "activity_date": today} for i in range(3)],
        built_at=utcnow() - timedelta(minutes=10),
    )
    world.product_status("customer-behavior-daily", "degraded", "min_rows failed", good, "v000002")
    body = client.get("/v1/products/customer-behavior-daily", headers=auth(key)).json()
    assert body["price_model"] == "per_record" and body["price_usd"] == 0.10
    assert body["prices"] == [
        {"channel": "query", "unit": "record", "usd": "0.1", "included": False},
        {"channel": "export", "unit": "record", "usd": "0.1", "included": False},
    ]
    assert [c["name"] for c in body["columns"]][0] == "customer_day_id"
    status = body["status"]
    assert 600 <= status.pop("freshness_seconds") < 700  # the snapshot's newest data time
    assert status == {
        "status": "degraded",
        "reason": "min_rows failed",
        "quality": "degraded",
        "current_version": "v000001",
        "failed_version": "v000002",
        "watermark_at": status["watermark_at"],
    }


def test_product_outside_the_tier_is_403_naming_the_tiers_that_have_it(client, world):
    _, key = world.tenant("standard")
    r = client.get("/v1/products/market-trends", headers=auth(key))
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "not_entitled"
    assert err["details"]["entitlement"] == "market-trends"
    assert err["details"]["tiers_with_entitlement"] == ["premium"]
    assert "premium" in err["message"]


def test_unknown_product_is_404(client, world):
    _, key = world.tenant("premium")
    r = client.get("/v1/products/no-such-thing", headers=auth(key))
    assert r.status_code == 404 and r.json()["error"]["code"] == "product_not_found"


def test_missing_malformed_and_wrong_credentials_are_401(client, world):
    _, key = world.tenant()
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for headers, code in [
        ({}, "missing_credentials"),
        ({"Authorization": "Bearer not-a-key"}, "invalid_credentials"),
        (auth(forged), "invalid_credentials"),
        (auth("tg_ABCDEFGHJKLM_" + "x" * 43), "invalid_credentials"),
    ]:
        r = client.get("/v1/products", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == code
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_expired_keys_are_refused(client, world):
    tenant_id, key = world.tenant()
    assert client.get("/v1/products", headers=auth(key)).status_code == 200
    world.revoke(key)
    r = client.get("/v1/products", headers=auth(key))
    assert r.status_code == 401 and r.json()["error"]["code"] == "key_revoked"
    expired = world.key(tenant_id, expires_at=utcnow() - timedelta(seconds=1))
    r = client.get("/v1/products", headers=auth(expired))
    assert r.status_code == 401 and r.json()["error"]["code"] == "key_expired"


def test_suspended_tenant_is_refused_and_reactivation_restores_access(client, world):
    tenant_id, key = world.tenant()
    world.set_tenant_status(tenant_id, "suspended")
    r = client.get("/v1/products", headers=auth(key))
    assert r.status_code == 401 and r.json()["error"]["code"] == "tenant_suspended"
    world.set_tenant_status(tenant_id, "active")
    assert client.get("/v1/products", headers=auth(key)).status_code == 200


def test_last_used_is_recorded_off_the_request_path(client, app, world):
    from sqlalchemy import select

    from tollgate.db.models import ApiKey

    _, key = world.tenant()
    key_id = key.split("_")[1]
    client.get("/v1/products", headers=auth(key))
    with world.meta.connect() as conn:
        before = conn.execute(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)).scalar()
    assert before is None  # the request itself did not write
    assert app.state.services.last_used.flush() == 1
    with world.meta.connect() as conn:
        after = conn.execute(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)).scalar()
    assert after is not None and utcnow() - after < timedelta(seconds=30)


def test_last_use_survives_a_failed_write_and_never_moves_back(world, tmp_path):
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError

    from api.lastused import LastUsedRecorder
    from tollgate.db.engine import make_engine
    from tollgate.db.models import ApiKey

    _, key = world.tenant()
    key_id = key.split("_")[1]

    def stored():
        with world.meta.connect() as conn:
            return conn.execute(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)).scalar()

    recorder = LastUsedRecorder(make_engine(f"sqlite:///{tmp_path}/no-tables.db"))
    newer = utcnow()
    recorder.note(key_id, newer)
    with pytest.raises(OperationalError):
        recorder.flush()  # the database is not there: the time is kept
    recorder.engine = world.meta
    assert recorder.flush() == 1
    assert stored() == newer
    recorder.note(key_id, newer - timedelta(hours=1))  # e.g. another process, flushing late
    recorder.flush()
    assert stored() == newer
