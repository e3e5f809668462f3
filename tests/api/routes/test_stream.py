"""Live push over SSE, against a real uvicorn server (a stream never ends, so no TestClient)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
from apiworld import auth, risk_row

from api.cursor import encode_cursor
from api.routes import stream as stream_routes
from tollgate.clock import utcnow

PRODUCT = "transaction-risk"


def read_events(response: httpx.Response, count: int, timeout: float = 10.0) -> list[dict]:
    """The next `count` SSE events (fields id, event, data, or comment for heartbeats)."""
    events, current, deadline = [], {}, time.monotonic() + timeout
    for line in response.iter_lines():
        if line.startswith(":"):
            events.append({"comment": line[1:].strip()})
        elif line == "":
            if current:
                events.append(current)
                current = {}
        else:
            name, _, value = line.partition(":")
            current[name] = value.lstrip(" ")
        if len([e for e in events if "data" in e]) >= count or time.monotonic() > deadline:
            break
    return events


def _wait_for_subscribers(app, n: int) -> None:
    watcher = app.state.services.watcher
    deadline = time.monotonic() + 10
    while watcher.subscriber_count(PRODUCT) < n or PRODUCT not in watcher._positions:
        assert time.monotonic() < deadline, "subscription did not register"
        time.sleep(0.02)


def _rows(start, n, region="EU"):
    """Rows processed now, in key order (processed_at one microsecond apart)."""
    now = utcnow()
    rows = [risk_row(i, region, at=now) for i in range(start, start + n)]
    for offset, row in enumerate(rows):
        row["processed_at"] = now + timedelta(microseconds=offset)
    return rows


def test_push_delivers_new_rows_of_allowed_regions_only(server, app, world):
    _, key = world.tenant("standard", regions=["EU"])
    with (
        httpx.Client(base_url=server, timeout=10) as http,
        http.stream("GET", f"/v1/live/{PRODUCT}/stream", headers=auth(key)) as r,
    ):
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        _wait_for_subscribers(app, 1)
        world.live_rows(PRODUCT, _rows(0, 3, "US-East") + _rows(10, 3, "EU"))
        events = [e for e in read_events(r, 3) if "data" in e]
    records = [json.loads(e["data"]) for e in events]
    assert [rec["transaction_id"] for rec in records] == ["tx-00010", "tx-00011", "tx-00012"]
    assert all(e["event"] == "record" for e in events)


def test_resume_with_last_event_id_replays_what_was_missed(server, app, world):
    _, key = world.tenant("premium")
    with httpx.Client(base_url=server, timeout=10) as http:
        with http.stream("GET", f"/v1/live/{PRODUCT}/stream", headers=auth(key)) as r:
            _wait_for_subscribers(app, 1)
            world.live_rows(PRODUCT, _rows(0, 2))
            first = [e for e in read_events(r, 2) if "data" in e]
        world.live_rows(PRODUCT, _rows(2, 3))  # written while the client was away
        resume = {**auth(key), "Last-Event-ID": first[-1]["id"]}
        with http.stream("GET", f"/v1/live/{PRODUCT}/stream", headers=resume) as r:
            missed = [
                json.loads(e["data"])["transaction_id"] for e in read_events(r, 3) if "data" in e
            ]
    assert missed == ["tx-00002", "tx-00003", "tx-00004"]


def test_a_resume_longer_than_one_replay_continues_where_it_stopped(
    server, app, world, monkeypatch
):
    monkeypatch.setattr(stream_routes, "RESUME_LIMIT", 3)
    _, key = world.tenant("standard", regions=["EU"])
    first = _rows(0, 1)
    world.live_rows(PRODUCT, first)
    start = encode_cursor({"pa": first[0]["processed_at"].isoformat(), "k": "tx-00000"})
    # Missed: EU and US-East rows alternating, more than one replay holds.
    missed = [r for i in range(1, 8) for r in _rows(i, 1, "EU" if i % 2 else "US-East")]
    world.live_rows(PRODUCT, missed)
    got, last_id = [], start
    with httpx.Client(base_url=server, timeout=10) as http:
        for _ in range(4):
            headers = {**auth(key), "Last-Event-ID": last_id}
            with http.stream("GET", f"/v1/live/{PRODUCT}/stream", headers=headers) as r:
                events = [e for e in read_events(r, 4, timeout=2) if "data" in e]
            got += [
                json.loads(e["data"])["transaction_id"] for e in events if e["event"] == "record"
            ]
            last_id = events[-1]["id"] if events else last_id
            if not events or events[-1]["event"] != "lagging":
                break
    assert got == ["tx-00001", "tx-00003", "tx-00005", "tx-00007"]


def test_heartbeats_keep_an_idle_stream_alive(server, app, world):
    _, key = world.tenant("standard")
    with (
        httpx.Client(base_url=server, timeout=10) as http,
        http.stream("GET", f"/v1/live/{PRODUCT}/stream", headers=auth(key)) as r,
    ):
        deadline, comments = time.monotonic() + 5, []
        for line in r.iter_lines():
            if line.startswith(":"):
                comments.append(line)
            if len(comments) >= 2 or time.monotonic() > deadline:
                break
    assert len(comments) >= 2


def test_connection_limit_per_tier_and_release_on_close(server, app, world):
    tenant_id, key = world.tenant("trial")  # one stream allowed
    with httpx.Client(base_url=server, timeout=10) as http:
        with http.stream("GET", f"/v1/live/{PRODUCT}/stream", headers=auth(key)) as first:
            assert first.status_code == 200
            _wait_for_subscribers(app, 1)
            second = http.get(f"/v1/live/{PRODUCT}/stream", headers=auth(key))
            assert second.status_code == 429
            assert second.json()["error"]["code"] == "too_many_connections"
        deadline = time.monotonic() + 10
        while app.state.services.connections.open_here(tenant_id):
            assert time.monotonic() < deadline, "closed stream was not released"
            time.sleep(0.05)
        with http.stream("GET", f"/v1/live/{PRODUCT}/stream", headers=auth(key)) as again:
            assert again.status_code == 200


def test_halted_product_stream_is_503_and_bad_resume_id_is_400(server, world):
    _, key = world.tenant("standard")
    with httpx.Client(base_url=server, timeout=10) as http:
        bad = http.get(
            f"/v1/live/{PRODUCT}/stream", headers={**auth(key), "Last-Event-ID": "garbage!"}
        )
        assert bad.status_code == 400
        naive = encode_cursor({"pa": "2026-11-24T07:00:00", "k": "tx-00001"})
        bad = http.get(f"/v1/live/{PRODUCT}/stream", headers={**auth(key), "Last-Event-ID": naive})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_last_event_id"
        world.product_status(PRODUCT, "halted", "scorer down")
        r = http.get(f"/v1/live/{PRODUCT}/stream", headers=auth(key))
        assert r.status_code == 503 and r.json()["error"]["details"]["reason"] == "scorer down"
