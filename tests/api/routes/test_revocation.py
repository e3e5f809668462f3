"""Suspension and revocation reach every channel within seconds: signed download links
issued before, and push streams opened before, stop working, and nothing after is billed."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from apiworld import auth, behavior_row, risk_row
from sqlalchemy import func, select

from tollgate import tenants
from tollgate.clock import utcnow
from tollgate.db.engine import make_engine, session_factory
from tollgate.db.models import AuditEntry, UsageRecord

EXPORTED = "customer-behavior-daily"
PUSHED = "transaction-risk"


def _finished_export(client, key) -> dict:
    body = {"product_id": EXPORTED, "format": "csv"}
    r = client.post("/v1/exports", json=body, headers=auth(key))
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"/v1/exports/{r.json()['id']}", headers=auth(key)).json()
        if job["status"] == "succeeded":
            return job
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


def _suspend(settings, tenant_id: str) -> None:
    with session_factory(settings.metadata_db_url)() as session:
        tenants.suspend_tenant(session, tenant_id, actor="cli:test")


def _revoke(settings, key: str) -> None:
    with session_factory(settings.metadata_db_url)() as session:
        tenants.revoke_key(session, key, actor="cli:test")


@pytest.mark.parametrize("take_away", ["suspend", "revoke"])
def test_a_signed_link_issued_before_stops_working(client, world, api_settings, take_away):
    world.snapshot(EXPORTED, [behavior_row(i) for i in range(40)])
    tenant_id, key = world.tenant("premium")
    link = _finished_export(client, key)["download_url"]
    assert "credential=key%3A" in link
    assert client.get(link).status_code == 200
    assert client.get(link, headers={"Range": "bytes=0-9"}).status_code == 206
    if take_away == "suspend":
        _suspend(api_settings, tenant_id)
        code = "tenant_suspended"
    else:
        _revoke(api_settings, key)
        code = "key_revoked"
    for headers in ({}, {"Range": "bytes=0-9"}):
        r = client.get(link, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == code
    with session_factory(api_settings.metadata_db_url)() as session:
        denied = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "export.download", AuditEntry.outcome == "denied"
            )
        ).all()
    assert [d.details["reason"] for d in denied] == [code, code]


def test_a_link_issued_to_an_oauth_client_ends_with_the_client(client, world, api_settings):
    world.snapshot(EXPORTED, [behavior_row(i) for i in range(10)])
    tenant_id, _ = world.tenant("premium")
    client_id, secret = world.oauth_client(tenant_id)
    token = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    ).json()["access_token"]
    link = _finished_export(client, token)["download_url"]
    assert client.get(link).status_code == 200
    with session_factory(api_settings.metadata_db_url)() as session:
        tenants.revoke_oauth_client(session, client_id, actor="cli:test")
    r = client.get(link)
    assert r.status_code == 403 and r.json()["error"]["code"] == "client_revoked"


@pytest.fixture
def server(server, app):
    """The shared live server, with the stream guard checking credentials every 0.2 s."""
    app.state.services.stream_guard.interval = 0.2
    return server


def _events(response: httpx.Response):
    current: dict = {}
    for line in response.iter_lines():
        if line == "":
            if current:
                yield current
                current = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            current[name] = value.lstrip(" ")


def _rows(start: int, n: int) -> list[dict]:
    now = utcnow()
    rows = [risk_row(i, at=now) for i in range(start, start + n)]
    for offset, row in enumerate(rows):
        row["processed_at"] = now + timedelta(microseconds=offset)
    return rows


@pytest.mark.parametrize("take_away", ["suspend", "revoke"])
def test_an_open_stream_is_closed_saying_why_and_billing_stops(
    server, app, world, api_settings, take_away
):
    tenant_id, key = world.tenant("premium")
    watcher = app.state.services.watcher
    received: list[dict] = []
    with (
        httpx.Client(base_url=server, timeout=15) as http,
        http.stream("GET", f"/v1/live/{PUSHED}/stream", headers=auth(key)) as r,
    ):
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        while watcher.subscriber_count(PUSHED) < 1 or PUSHED not in watcher._positions:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        world.live_rows(PUSHED, _rows(0, 3))
        events = _events(r)
        received = [next(events) for _ in range(3)]
        taken_at = time.monotonic()
        if take_away == "suspend":
            _suspend(api_settings, tenant_id)
        else:
            _revoke(api_settings, key)
        world.live_rows(PUSHED, _rows(3, 3))  # arrives while the stream is being closed
        rest = list(events)  # the server ends the stream
        closed_after = time.monotonic() - taken_at
    assert [e["event"] for e in received] == ["record"] * 3
    assert rest and rest[-1]["event"] == "closed"
    code = "tenant_suspended" if take_away == "suspend" else "key_revoked"
    assert json.loads(rest[-1]["data"])["code"] == code
    assert closed_after < 5
    records_sent = len(received) + sum(e.get("event") == "record" for e in rest)
    engine = make_engine(api_settings.metadata_db_url)
    deadline = time.monotonic() + 5  # the ledger writer reaches the database within 0.25 s
    billed = 0
    while billed < records_sent and time.monotonic() < deadline:
        time.sleep(0.1)
        with engine.connect() as conn:
            billed = conn.scalar(
                select(func.coalesce(func.sum(UsageRecord.units), 0)).where(
                    UsageRecord.delivery_id.like(f"{tenant_id}:sse:%")
                )
            )
    engine.dispose()
    assert billed == records_sent  # what was sent, nothing after the close
