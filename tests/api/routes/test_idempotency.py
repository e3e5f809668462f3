"""Idempotency-Key as payment APIs do it: a retry within the key's lifetime gets the stored
first answer, not billed again; the key with another request is refused; never new data
for free."""

from __future__ import annotations

from datetime import timedelta

from apiworld import auth, risk_row
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.idempotency import PENDING_LEASE
from api.metering import MeteredResponse
from tollgate.clock import utcnow
from tollgate.db.access_models import IdempotentAnswer
from tollgate.db.engine import make_engine
from tollgate.db.models import UsageRecord


def _ledger(settings) -> list:
    engine = make_engine(settings.metadata_db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(UsageRecord.delivery_id, UsageRecord.units)).all()
    engine.dispose()
    return rows


def _age_keys(settings, **columns) -> None:
    engine = make_engine(settings.metadata_db_url)
    with engine.begin() as conn:
        conn.execute(update(IdempotentAnswer).values(**columns))
    engine.dispose()


def test_a_retry_gets_the_first_answer_not_new_data_and_is_billed_once(app, world, api_settings):
    # Today's finding: the same request a minute later, same key, returned new rows for free.
    world.live_rows("transaction-risk", [risk_row(i) for i in range(5)])
    _, key = world.tenant("standard")
    headers = {**auth(key), "Idempotency-Key": "poll-1"}
    with TestClient(app) as client:
        first = client.get("/v1/live/transaction-risk?limit=5", headers=headers)
        world.live_rows("transaction-risk", [risk_row(i) for i in range(5, 10)])  # newer rows
        retry = client.get("/v1/live/transaction-risk?limit=5", headers=headers)
        # The same rows asked without the key (and past the cache): the newer rows.
        fresh = client.get("/v1/live/transaction-risk?limit=5&region=EU", headers=auth(key))
    assert first.status_code == retry.status_code == 200
    assert retry.content == first.content  # the stored answer, byte for byte
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["X-Data-Schema-Version"] == first.headers["X-Data-Schema-Version"]
    assert [r["transaction_id"] for r in fresh.json()["data"]] != [
        r["transaction_id"] for r in first.json()["data"]
    ]
    assert len(_ledger(api_settings)) == 2  # the first answer and the unkeyed one


def test_the_key_with_a_different_request_is_refused_and_not_billed(app, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(i) for i in range(3)])
    _, key = world.tenant("standard")
    headers = {**auth(key), "Idempotency-Key": "always-the-same"}
    with TestClient(app) as client:
        assert client.get("/v1/live/transaction-risk/tx-00001", headers=headers).status_code == 200
        for path in ("/v1/live/transaction-risk/tx-00002", "/v1/live/transaction-risk?limit=2"):
            r = client.get(path, headers=headers)
            assert r.status_code == 422
            assert r.json()["error"]["code"] == "idempotency_key_reused"
        other = client.get(
            "/v1/live/transaction-risk/tx-00001",
            headers={**headers, "X-Data-Schema-Version": "1.0"},  # another schema: another ask
        )
        assert other.status_code in (400, 422)
    assert len(_ledger(api_settings)) == 1


def test_keys_belong_to_one_tenant(app, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(1), risk_row(2)])
    t1, k1 = world.tenant("standard")
    t2, k2 = world.tenant("standard")
    with TestClient(app) as client:
        a = client.get(
            "/v1/live/transaction-risk/tx-00001", headers={**auth(k1), "Idempotency-Key": "same"}
        )
        b = client.get(
            "/v1/live/transaction-risk/tx-00002", headers={**auth(k2), "Idempotency-Key": "same"}
        )
    assert a.status_code == b.status_code == 200
    assert a.json()["data"]["transaction_id"] != b.json()["data"]["transaction_id"]
    ids = sorted(d for d, _ in _ledger(api_settings))
    assert [i.split(":idem:")[0] for i in ids] == sorted([t1, t2])


def test_after_its_lifetime_the_key_is_a_new_billed_request(app, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(1)])
    _, key = world.tenant("standard")
    headers = {**auth(key), "Idempotency-Key": "daily"}
    with TestClient(app) as client:
        first = client.get("/v1/live/transaction-risk/tx-00001", headers=headers)
        _age_keys(api_settings, expires_at=utcnow() - timedelta(seconds=1))
        again = client.get("/v1/live/transaction-risk/tx-00001", headers=headers)
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    ids = [d for d, _ in _ledger(api_settings)]
    assert len(ids) == len(set(ids)) == 2  # a new delivery id, billed again


def test_a_failed_request_releases_its_key(app, world, api_settings):
    _, key = world.tenant("standard")
    headers = {**auth(key), "Idempotency-Key": "early"}
    with TestClient(app) as client:
        missing = client.get("/v1/live/transaction-risk/tx-00007", headers=headers)
        world.live_rows("transaction-risk", [risk_row(7)])
        found = client.get("/v1/live/transaction-risk/tx-00007", headers=headers)
    assert missing.status_code == 404
    assert found.status_code == 200 and "Idempotent-Replayed" not in found.headers
    assert len(_ledger(api_settings)) == 1


def test_a_key_being_answered_is_409_until_its_lease_lapses(app, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(1)])
    tenant_id, key = world.tenant("standard")
    with TestClient(app) as client:
        first = client.get(
            "/v1/live/transaction-risk/tx-00001", headers={**auth(key), "Idempotency-Key": "k"}
        )
        assert first.status_code == 200
        # As if another replica held the key, answering this request right now.
        _age_keys(api_settings, state="pending", locked_until=utcnow() + PENDING_LEASE)
        busy = client.get(
            "/v1/live/transaction-risk/tx-00001", headers={**auth(key), "Idempotency-Key": "k"}
        )
        assert busy.status_code == 409 and busy.headers["Retry-After"] == "1"
        assert busy.json()["error"]["code"] == "idempotency_key_in_use"
        # Its process died: once the lease lapses a retry takes over, under the same id.
        _age_keys(api_settings, locked_until=utcnow() - timedelta(seconds=1))
        taken = client.get(
            "/v1/live/transaction-risk/tx-00001", headers={**auth(key), "Idempotency-Key": "k"}
        )
        assert taken.status_code == 200
    assert len(_ledger(api_settings)) == 1  # one delivery id: billed once


def test_an_answer_whose_client_left_is_voided_and_not_replayed(app, world, api_settings):
    world.live_rows("transaction-risk", [risk_row(1)])
    _, key = world.tenant("standard")
    sent: list[dict] = []
    real_call = MeteredResponse.__call__

    async def client_already_gone(self, scope, receive, send):
        async def disconnected():
            return {"type": "http.disconnect"}

        await real_call(self, scope, disconnected, send)

    headers = {**auth(key), "Idempotency-Key": "gone"}
    with TestClient(app) as client:
        MeteredResponse.__call__ = client_already_gone
        try:
            for path in ("/v1/live/transaction-risk/tx-00001", "/v1/live/transaction-risk"):
                extra = headers if path.endswith("1") else auth(key)
                try:
                    client.get(path, headers=extra)
                except Exception as exc:  # the test client sees no response at all
                    sent.append({"error": type(exc).__name__})
        finally:
            MeteredResponse.__call__ = real_call
        retry = client.get("/v1/live/transaction-risk/tx-00001", headers=headers)
    assert len(sent) == 2  # neither answer was sent
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry.headers
    rows = dict(_ledger(api_settings))
    voided = [d for d in rows if d.startswith("void:")]
    assert len(voided) == 2 and all(rows[d] == -1 for d in voided)
    assert sum(rows.values()) == 1  # only the retry, which was answered, is billed
