"""The metered lookup's lean path (api.lookup): the same answers as the route, for what it
takes; everything else left to the route; and the pieces it is built from."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from apiworld import auth, risk_row
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.livedata import LiveReader
from api.lookup import LookupLane
from api.metering import client_gone
from tollgate.clock import utcnow
from tollgate.db.models import UsageRecord

# Headers that differ between any two answers, whichever path made them (the second of
# two alike is a cache hit on tiers that cache).
_PER_ANSWER = {
    "x-delivery-id",
    "x-request-id",
    "ratelimit-remaining",
    "x-cache",
    "ratelimit-reset",  # whole seconds: a second may tick between the two
    "x-data-freshness",
    "content-length",
}


@pytest.fixture
def lane_served(monkeypatch) -> list[str]:
    """The paths the lane served (the rest went to the route)."""
    served: list[str] = []
    serve = LookupLane.serve

    async def counted(self, scope, *args):
        served.append(scope["path"])
        await serve(self, scope, *args)

    monkeypatch.setattr(LookupLane, "serve", counted)
    return served


def _seed(world) -> None:
    regions = ["EU", "US-East", "APAC"]
    world.live_rows("transaction-risk", [risk_row(i, regions[i % 3]) for i in range(12)])
    world.watermark("transaction-risk", utcnow())


def _comparable(response) -> tuple:
    body = response.json()
    if "metadata" in body:
        body["metadata"].pop("freshness_seconds")  # to the millisecond: time moves on
        body["metadata"].pop("cache")
    headers = {k: v for k, v in response.headers.items() if k not in _PER_ANSWER}
    return response.status_code, body, headers


@pytest.mark.parametrize(
    ("tier", "regions", "path", "extra"),
    [
        ("standard", None, "/v1/live/transaction-risk/tx-00003", {}),
        ("standard", None, "/v1/live/transaction-risk/tx-00003?region=EU", {}),
        ("standard", None, "/v1/live/transaction-risk/tx-00003?region=APAC", {}),
        ("standard", None, "/v1/live/transaction-risk/tx-00003?region=Mars", {}),
        ("standard", ["EU"], "/v1/live/transaction-risk/tx-00001", {}),
        ("standard", ["EU"], "/v1/live/transaction-risk/tx-00001?region=US-East", {}),
        ("standard", None, "/v1/live/transaction-risk/tx-99999", {}),
        ("standard", None, "/v1/live/customer-behavior-daily/c-0001", {}),
        ("standard", None, "/v1/live/no-such-product/x", {}),
        ("trial", None, "/v1/live/transaction-risk/tx-00003", {}),
        ("premium", None, "/v1/live/transaction-risk/tx-00003", {"X-Data-Schema-Version": "1.3"}),
        ("premium", None, "/v1/live/transaction-risk/tx-00003", {"X-Data-Schema-Version": "1.2"}),
        ("premium", None, "/v1/live/transaction-risk/tx-00003", {"X-Data-Schema-Version": "9"}),
        (None, None, "/v1/live/transaction-risk/tx-00003", {}),
        (None, None, "/v1/live/transaction-risk/tx-00003", {"Authorization": "Basic eDp5"}),
        (None, None, "/v1/live/transaction-risk/tx-00003", {"Authorization": "Bearer tg_x_y"}),
    ],
)
def test_the_lane_answers_as_the_route_does(client, world, lane_served, tier, regions, path, extra):
    """An Idempotency-Key sends a request to the route: otherwise the same request, the
    same status, body and headers (but for what differs per answer)."""
    _seed(world)
    headers = dict(extra)
    if tier is not None:
        _, key = world.tenant(tier, regions=regions)
        headers = {**auth(key), **extra}
    lane = client.get(path, headers=headers)
    route = client.get(path, headers={**headers, "Idempotency-Key": f"k-{len(lane_served)}"})
    assert lane_served == [path.split("?")[0]]
    assert _comparable(lane) == _comparable(route)


def test_each_lane_answer_is_one_ledger_record_under_its_delivery_id(app, world, lane_served):
    _seed(world)
    tenant, key = world.tenant("standard")
    with TestClient(app) as client:
        answers = [
            client.get("/v1/live/transaction-risk/tx-00002", headers=auth(key)) for _ in range(3)
        ]
        missing = client.get("/v1/live/transaction-risk/tx-99999", headers=auth(key))
    assert [a.status_code for a in answers] == [200] * 3 and missing.status_code == 404
    assert len(lane_served) == 4
    ledger = UsageRecord.__table__
    with world.meta.connect() as conn:
        rows = conn.execute(select(ledger).where(ledger.c.tenant_id == tenant)).all()
    assert sorted(r.delivery_id for r in rows) == sorted(
        a.headers["X-Delivery-ID"] for a in answers
    )
    assert {(r.route, r.units, r.channel, r.status) for r in rows} == {
        ("/v1/live/{product_id}/{key}", 1, "query", "delivered")
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/live/transaction-risk/" + "k" * 257, 422),  # over the key's documented length
        ("/v1/live/transaction-risk/tx-00003?region=" + "E" * 33, 422),
        ("/v1/live/transaction-risk/tx-00003?region=APAC&region=EU", 200),  # the last one
        ("/v1/live/transaction-risk/tx-00003?limit=5", 200),  # not a parameter of the route
        ("/v1/live/transaction-risk/tx-00003?region=", 400),
    ],
)
def test_what_the_lane_does_not_read_goes_to_the_route(client, world, lane_served, path, status):
    _seed(world)
    _, key = world.tenant("standard")
    r = client.get(path, headers=auth(key))
    assert lane_served == []
    assert r.status_code == status, r.text


def test_a_push_stream_path_is_never_taken_for_a_lookup(server, world, lane_served):
    import httpx

    _seed(world)
    _, key = world.tenant("standard")
    with httpx.stream(
        "GET", f"{server}/v1/live/transaction-risk/stream", headers=auth(key), timeout=10
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
    assert lane_served == []


# -- the live store's point reads --------------------------------------------------------
def test_point_reads_return_what_sqlalchemy_returns(world):
    regions = ["EU", "US-East", "APAC"]
    at = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    world.live_rows("transaction-risk", [risk_row(i, regions[i % 3]) for i in range(12)])
    product = world.catalog.product("transaction-risk")
    fast = LiveReader(world.live, world.store)
    plain = LiveReader(world.live, world.store)
    plain._point_reads = None  # the SQLAlchemy statement every other database runs
    assert fast._point_reads is not None
    try:
        for scope in (None, ["EU"], ["APAC", "EU"], []):
            for not_after in (None, at + timedelta(seconds=5)):
                for i in (0, 1, 3, 9, 99):
                    key = f"tx-{i:05d}"
                    got = fast.lookup(product, key, scope, not_after)
                    assert got == plain.lookup(product, key, scope, not_after)
                    if got is not None:
                        assert got["event_at"].tzinfo is not None
        # A row written after the reader's connection opened is seen at once.
        assert fast.lookup(product, "tx-00500", None, None) is None
        world.live_rows("transaction-risk", [risk_row(500)])
        assert fast.lookup(product, "tx-00500", None, None)["amount_cents"] == 1500
    finally:
        fast.close()


# -- the disconnect check before an answer leaves ----------------------------------------
def test_client_gone_sees_a_disconnect_without_waiting_for_one():
    async def run() -> tuple[bool, bool, int]:
        arrived = asyncio.Event()
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive():
            if messages:
                return messages.pop(0)
            await arrived.wait()
            return {"type": "http.disconnect"}

        async def gone_receive():
            return {"type": "http.disconnect"}

        still_there = client_gone(receive)
        left = client_gone(gone_receive)
        # The wait it looked at was closed, not left behind on the event.
        return still_there, left, len(arrived._waiters)

    assert asyncio.run(run()) == (False, True, 0)
