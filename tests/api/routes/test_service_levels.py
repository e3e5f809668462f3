"""GET /v1/sla and the portal's SLA page: a tenant's own daily figures against the KPIs,
from request-log rows inserted here, checked against figures computed by hand."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from apiworld import auth
from fastapi.testclient import TestClient
from sqlalchemy import insert
from test_portal import sign_in

from tollgate.db.engine import make_engine
from tollgate.db.ops_models import RequestLogEntry

DAY1 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def _row(tenant, at, status, latency_ms, within_sla):
    return {
        "occurred_at": at,
        "tenant_id": tenant,
        "product_id": "transaction-risk",
        "route": "/v1/live/{product_id}/{key}",
        "status": status,
        "latency_ms": float(latency_ms),
        "freshness_seconds": None if within_sla is None else 1.0,
        "within_sla": within_sla,
    }


def _log(a: str, b: str) -> list[dict]:
    # A, day 1: 20 answers in one minute, 10..200 ms, all fresh: every target met.
    rows = [_row(a, DAY1 + timedelta(seconds=i), 200, 10 * (i + 1), True) for i in range(20)]
    # A, day 2: minute 0 is ten 503s (down); minute 1 is 9 fresh + 1 stale delivery and
    # one 404, at 100..1100 ms.
    rows += [_row(a, DAY2 + timedelta(seconds=i), 503, 50, None) for i in range(10)]
    minute1 = [(200, True)] * 9 + [(200, False), (404, None)]
    rows += [
        _row(a, DAY2 + timedelta(minutes=1, seconds=i), status, 100 * (i + 1), fresh)
        for i, (status, fresh) in enumerate(minute1)
    ]
    # B, day 1: two slow answers. Neither B's nor the day before's rows count for A.
    rows += [_row(b, DAY1, 200, 9000, True), _row(b, DAY1, 500, 9000, None)]
    rows += [_row(a, DAY1 - timedelta(days=1), 500, 9000, None)]
    return rows


def test_sla_reports_own_days_against_the_kpis(app, client, world, api_settings):
    a, key_a = world.tenant("standard")
    b, key_b = world.tenant("standard")
    engine = make_engine(api_settings.metadata_db_url)
    with engine.begin() as conn:
        conn.execute(insert(RequestLogEntry), _log(a, b))
    engine.dispose()

    r = client.get("/v1/sla?date_from=2026-11-20&date_to=2026-11-22", headers=auth(key_a))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["tenant_id"], body["date_from"], body["date_to"]) == (
        a,
        "2026-11-20",
        "2026-11-22",
    )
    assert body["kpis"] == {
        "p95_latency_ms": 500.0,
        "freshness_compliance": 0.99,
        "availability": 0.999,
        "error_rate": 0.001,
    }
    day1, day2 = body["days"]
    # Nearest rank: the ceil(0.95 * 20) = 19th of 10..200 ms.
    assert day1 == {
        "date": "2026-11-20",
        "requests": 20,
        "p95_latency_ms": 190.0,
        "freshness_compliance": 1.0,
        "availability": 1.0,
        "error_rate": 0.0,
        "breaches": [],
    }
    # 21 requests sorted: ten at 50 ms, then 100..1100 ms; the ceil(0.95 * 21) = 20th is
    # 1000 ms. 9 of 10 deliveries fresh; 1 of 2 minutes down; 10 of 21 answers 5xx.
    assert day2 == {
        "date": "2026-11-21",
        "requests": 21,
        "p95_latency_ms": 1000.0,
        "freshness_compliance": 0.9,
        "availability": 0.5,
        "error_rate": 10 / 21,
        "breaches": ["p95_latency_ms", "freshness_compliance", "availability", "error_rate"],
    }

    # B sees only its own day, never A's figures.
    r = client.get("/v1/sla?date_from=2026-11-19&date_to=2026-11-22", headers=auth(key_b))
    assert r.json()["tenant_id"] == b
    assert [(d["date"], d["requests"], d["p95_latency_ms"]) for d in r.json()["days"]] == [
        ("2026-11-20", 2, 9000.0)
    ]

    # The portal's page shows the same figures with the misses marked, and B's shows B's.
    token = sign_in(client, api_key=key_a)
    assert token
    page = client.get("/portal/sla?date_from=2026-11-20&date_to=2026-11-22")
    assert page.status_code == 200
    assert 'href="/portal/sla" aria-current="page"' in page.text
    rows = re.findall(
        r"<tr[^>]*>\s*<th scope=\"row\">(2026-11-2\d)</th>(.*?)</tr>", page.text, re.S
    )
    assert [d for d, _ in rows] == ["2026-11-20", "2026-11-21"]
    assert ">missed<" not in rows[0][1] and "190 ms" in rows[0][1]
    assert rows[1][1].count(">missed<") == 4
    for text in ("1000 ms", "90.00%", "50.00%", "47.62%"):
        assert text in rows[1][1]
    assert "1 missed at least one target" in page.text
    other = TestClient(app)
    sign_in(other, api_key=key_b)
    page_b = other.get("/portal/sla?date_from=2026-11-19&date_to=2026-11-22")
    assert "9000 ms" in page_b.text and "190 ms" not in page_b.text
    assert "1000 ms" not in page_b.text


def test_sla_range_is_checked(client, world):
    _, key = world.tenant("standard")
    for query in (
        "date_from=2026-11-10&date_to=2026-11-01",  # the wrong way round
        "date_from=2026-01-01&date_to=2026-11-01",  # more than 92 days
        "date_from=9999-12-30&date_to=9999-12-31",  # no day after the last
    ):
        r = client.get(f"/v1/sla?{query}", headers=auth(key))
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_range", query
    r = client.get("/v1/sla?date_to=0001-01-05", headers=auth(key))
    assert r.status_code == 200 and r.json()["date_from"] == "0001-01-01"
    r = client.get("/v1/sla?date_to=2026-11-30", headers=auth(key))
    assert (r.json()["date_from"], r.json()["days"]) == ("2026-11-01", [])
    assert client.get("/v1/sla?date_from=2026-11-1", headers=auth(key)).status_code == 422
    assert client.get("/v1/sla").status_code == 401
    sign_in(client, api_key=key)
    page = client.get("/portal/sla?date_from=2026-11-10&date_to=2026-11-01")
    assert page.status_code == 400 and "Invalid range" in page.text
    page = client.get("/portal/sla?date_from=yesterday")
    assert page.status_code == 400 and "YYYY-MM-DD" in page.text
