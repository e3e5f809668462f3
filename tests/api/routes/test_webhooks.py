"""/v1/webhooks: endpoints for usage alerts, signed as Standard Webhooks, retried, logged;
another tenant's are 404; URLs that are not http(s) or point inside are refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from apiworld import auth
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook
from test_portal import sign_in
from webhookkit import Receiver

from api.main import create_app
from tollgate.webhooks.endpoints import delivery_log


@pytest.fixture
def app(api_settings, world):
    # The test's receiver listens on loopback, which the seller allows here; failed
    # attempts are retried after 0.2 s instead of the production schedule's 5 s.
    api_settings.webhook_private_networks = ["127.0.0.0/8"]
    api_settings.webhook_retry_seconds = [0.2, 0.2]
    app = create_app(api_settings)
    app.state.services.credentials.ttl_seconds = 0.0
    return app


def _by_hand(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's own check: HMAC-SHA256 of `id.timestamp.body` under the secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, s.split(",", 1)[1])
        for s in headers["webhook-signature"].split()
    )


def test_rate_limit_thresholds_fire_once_signed_and_retried(app, world):
    tenant_id, key = world.tenant("trial")  # 10 requests an hour
    with Receiver(statuses=[500]) as receiver, TestClient(app) as client:
        r = client.post(
            "/v1/webhooks",
            json={
                "url": receiver.url,
                "event_types": ["usage.rate_limit.80", "usage.rate_limit.100"],
            },
            headers=auth(key),
        )
        assert r.status_code == 201, r.text
        endpoint = r.json()
        secret = endpoint["secret"]
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
        # With the registration, 12 requests: the 8th reaches 80% of 10, the 10th 100%; the
        # last two are refused.
        codes = [client.get("/v1/products", headers=auth(key)).status_code for _ in range(11)]
        assert codes == [200] * 9 + [429] * 2
        # The first attempt meets a 500 and is retried: 3 requests for 2 events.
        got = receiver.wait_for(3)
        time.sleep(1.2)  # more ticks of the sender: nothing else may arrive
        assert client.get("/v1/products", headers=auth(key)).status_code == 429
        time.sleep(1.2)
        assert len(receiver.received) == 3

        # The tenant is out of requests this hour: the log is read as the API reads it.
        with Session(app.state.services.metadata_engine) as session:
            log = [
                {"attempt": a.attempt, "status_code": a.status_code, "outcome": a.outcome,
                 "event_id": a.event_id}
                for a in delivery_log(session, tenant_id, endpoint["id"])
            ]  # fmt: skip
    bodies = [json.loads(body) for _, body in got]
    ids = [h["webhook-id"] for h, _ in got]
    assert sorted(b["type"] for b in bodies[1:]) == ["usage.rate_limit.100", "usage.rate_limit.80"]
    assert ids[0] in ids[1:] and len(set(ids)) == 2  # the retry carries the same id
    assert {b["type"]: b["data"]["used"] for b in bodies} == {
        "usage.rate_limit.80": 8,
        "usage.rate_limit.100": 10,
    }
    assert all(b["data"]["limit"] == 10 and b["data"]["period"] == "hour" for b in bodies)
    for headers, body in got:
        assert headers["content-type"] == "application/json"
        # Verified by the Standard Webhooks library and by hand; a tampered body is not.
        assert Webhook(secret).verify(body, headers) == json.loads(body)
        assert _by_hand(secret, headers, body)
        assert not _by_hand(secret, headers, body.replace(b"10", b"11"))
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    # The endpoint's log: newest first, the failure with its status.
    attempts = log
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in reversed(attempts)] == [
        (1, 500, "failed"),
        (1, 204, "delivered"),
        (2, 204, "delivered"),
    ]
    assert attempts[-1]["event_id"] == attempts[0]["event_id"] == ids[0]


def test_registration_refuses_bad_urls_and_other_tenants_see_nothing(app, world):
    _, key = world.tenant("standard")
    other_id, other_key = world.tenant("standard")
    with TestClient(app) as client:

        def register(url: str, **extra):
            return client.post("/v1/webhooks", json={"url": url, **extra}, headers=auth(key))

        for url, code in [
            ("ftp://93.184.216.34/hook", "invalid_webhook_url"),
            ("file:///etc/passwd", "invalid_webhook_url"),
            ("http://user:pw@93.184.216.34/", "invalid_webhook_url"),
            ("http://10.1.2.3/hook", "webhook_url_refused"),  # private, not allowed
            ("http://169.254.169.254/latest/meta-data", "webhook_url_refused"),
            ("http://[::ffff:10.0.0.1]/hook", "webhook_url_refused"),
        ]:
            r = register(url)
            assert (r.status_code, r.json()["error"]["code"]) == (422, code), url
        bad_type = register("https://93.184.216.34/hook", event_types=["usage.everything"])
        assert bad_type.json()["error"]["code"] == "unknown_event_type"
        created = register("https://93.184.216.34/hook", description="ops")
        assert created.status_code == 201
        endpoint_id = created.json()["id"]
        assert "secret" not in client.get(f"/v1/webhooks/{endpoint_id}", headers=auth(key)).json()
        listed = client.get("/v1/webhooks", headers=auth(key)).json()["endpoints"]
        assert [e["id"] for e in listed] == [endpoint_id]

        # Another tenant: 404 for the endpoint, its log and its deletion; an empty list.
        for method, path in [
            ("GET", f"/v1/webhooks/{endpoint_id}"),
            ("GET", f"/v1/webhooks/{endpoint_id}/deliveries"),
            ("DELETE", f"/v1/webhooks/{endpoint_id}"),
        ]:
            r = client.request(method, path, headers=auth(other_key))
            assert (r.status_code, r.json()["error"]["code"]) == (404, "webhook_not_found")
        assert client.get("/v1/webhooks", headers=auth(other_key)).json() == {
            "tenant_id": other_id,
            "endpoints": [],
        }
        log = client.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=auth(key)).json()
        assert log == {"endpoint_id": endpoint_id, "attempts": []}
        assert client.delete(f"/v1/webhooks/{endpoint_id}", headers=auth(key)).status_code == 204
        assert client.get("/v1/webhooks", headers=auth(key)).json()["endpoints"] == []
        gone = client.get(f"/v1/webhooks/{endpoint_id}", headers=auth(key)).json()
        assert gone["disabled_reason"] == "deleted"


def test_a_test_event_is_signed_retried_and_logged_for_its_tenant_only(app, world):
    _, key = world.tenant("standard")
    _, other_key = world.tenant("standard")
    with Receiver(statuses=[500]) as receiver, TestClient(app) as client:
        # The endpoint receives only invoices; a test event reaches it all the same.
        r = client.post(
            "/v1/webhooks",
            json={"url": receiver.url, "event_types": ["invoice.issued"]},
            headers=auth(key),
        )
        endpoint_id, secret = r.json()["id"], r.json()["secret"]
        # Another tenant cannot send to it (nor learn that it exists).
        r = client.post(f"/v1/webhooks/{endpoint_id}/test", headers=auth(other_key))
        assert r.status_code == 404 and r.json()["error"]["code"] == "webhook_not_found"
        r = client.post(f"/v1/webhooks/{endpoint_id}/test", headers=auth(key))
        assert r.status_code == 202, r.text
        sent = r.json()
        assert (sent["endpoint_id"], sent["type"]) == (endpoint_id, "webhook.test")
        # The first attempt meets a 500 and is retried with the same id.
        got = receiver.wait_for(2)
        deadline = time.monotonic() + 10
        while True:
            log = client.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=auth(key)).json()
            if len(log["attempts"]) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        # The portal's button does the same, behind its CSRF token.
        token = sign_in(client, api_key=key)
        page = client.post(f"/portal/webhooks/{endpoint_id}/test", data={"csrf_token": "forged"})
        assert page.status_code == 403
        r = client.post(
            f"/portal/webhooks/{endpoint_id}/test",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith(f"/portal/webhooks/{endpoint_id}?sent=msg_")
        portal_event = r.headers["location"].split("sent=")[1]
        got = receiver.wait_for(3)
        page = client.get(r.headers["location"])
        assert f"Test event <code>{portal_event}</code> queued" in page.text
        other = TestClient(app)
        other_token = sign_in(other, api_key=other_key)
        r = other.post(f"/portal/webhooks/{endpoint_id}/test", data={"csrf_token": other_token})
        assert r.status_code == 404
        # A removed endpoint is sent nothing more.
        assert client.delete(f"/v1/webhooks/{endpoint_id}", headers=auth(key)).status_code == 204
        r = client.post(f"/v1/webhooks/{endpoint_id}/test", headers=auth(key))
        assert r.status_code == 409 and r.json()["error"]["code"] == "webhook_disabled"
        time.sleep(0.5)
        assert len(receiver.received) == 3
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in reversed(log["attempts"])] == [
        (1, 500, "failed"),
        (2, 204, "delivered"),
    ]
    assert {a["event_id"] for a in log["attempts"]} == {sent["event_id"]}
    assert [h["webhook-id"] for h, _ in got] == [sent["event_id"]] * 2 + [portal_event]
    for headers, body in got:
        assert Webhook(secret).verify(body, headers) == json.loads(body)
        assert _by_hand(secret, headers, body)
    bodies = [json.loads(body) for _, body in got]
    assert all(b["type"] == "webhook.test" for b in bodies)
    assert bodies[0]["data"]["endpoint_id"] == endpoint_id
