"""Batch queries over published snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from apiworld import auth, behavior_row

from api.cursor import decode_cursor, encode_cursor
from tollgate.clock import utcnow

PRODUCT = "customer-behavior-daily"


def _publish(world, n=40):
    regions = ["EU", "US-West", "APAC", "US-East"]
    return world.snapshot(
        PRODUCT, [behavior_row(i, regions[i % 4], day=1 + i % 5) for i in range(n)]
    )


def test_query_with_columns_filters_and_sort(client, world):
    version = _publish(world)
    _, key = world.tenant("standard")
    r = client.get(
        f"/v1/batch/{PRODUCT}",
        headers=auth(key),
        params={
            "columns": "customer_id,activity_date,purchases",
            "filter": ["purchases:ge:1", "region:in:EU|APAC"],
            "sort": "-activity_date,customer_id",
            "limit": 1000,
        },
    )
    assert r.status_code == 200
    body = r.json()
    rows = body["data"]
    expected = [
        behavior_row(i, ["EU", "US-West", "APAC", "US-East"][i % 4], 1 + i % 5) for i in range(40)
    ]
    expected = [e for e in expected if e["purchases"] >= 1 and e["region"] in ("EU", "APAC")]
    expected.sort(key=lambda e: e["customer_id"])
    expected.sort(key=lambda e: e["activity_date"], reverse=True)
    assert rows == [
        {
            "customer_id": e["customer_id"],
            "activity_date": e["activity_date"].isoformat(),
            "purchases": e["purchases"],
        }
        for e in expected
    ]
    assert body["metadata"]["quality"] == {
        "status": "healthy",
        "reason": None,
        "served_version": version,
        "failed_version": None,
    }
    assert body["metadata"]["coverage"]["time_from"] == "2026-11-01"
    assert body["metadata"]["coverage"]["time_to"] == "2026-11-05"
    # Freshness is the data's age (the newest day ended 2026-11-06), not time since publish.
    age = (utcnow() - datetime(2026, 11, 6, tzinfo=UTC)).total_seconds()
    assert abs(body["metadata"]["freshness_seconds"] - age) < 60
    assert body["metadata"]["watermark_at"] == "2026-11-06T00:00:00+00:00"
    post = client.post(
        f"/v1/batch/{PRODUCT}",
        headers=auth(key),
        json={
            "columns": ["customer_id", "activity_date", "purchases"],
            "filters": [
                {"column": "purchases", "op": "ge", "value": 1},
                {"column": "region", "op": "in", "value": ["EU", "APAC"]},
            ],
            "sort": ["-activity_date", "customer_id"],
            "limit": 1000,
        },
    )
    assert post.json()["data"] == rows


def test_pagination_to_the_end_and_page_size_cap(client, world):
    _publish(world, n=23)
    _, key = world.tenant("standard")
    ids, cursor = [], None
    while True:
        body = {"limit": 5, "sort": ["customer_day_id"], **({"cursor": cursor} if cursor else {})}
        page = client.post(f"/v1/batch/{PRODUCT}", headers=auth(key), json=body).json()
        ids += [row["customer_day_id"] for row in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(ids) == 23 and ids == sorted(ids) and len(set(ids)) == 23
    too_big = client.post(f"/v1/batch/{PRODUCT}", headers=auth(key), json={"limit": 100000})
    assert too_big.status_code == 422


def test_a_cursor_keeps_reading_its_version_and_409_when_it_is_gone(client, world):
    import shutil

    first = _publish(world, n=10)
    _, key = world.tenant("standard")
    page = client.post(f"/v1/batch/{PRODUCT}", headers=auth(key), json={"limit": 4}).json()
    _publish(world, n=3)  # a new version becomes CURRENT
    more = client.post(
        f"/v1/batch/{PRODUCT}", headers=auth(key), json={"limit": 4, "cursor": page["next_cursor"]}
    ).json()
    assert more["metadata"]["quality"]["served_version"] == first and len(more["data"]) == 4
    shutil.rmtree(world.lake.snapshot_dir(PRODUCT, first))
    gone = client.post(
        f"/v1/batch/{PRODUCT}", headers=auth(key), json={"limit": 4, "cursor": more["next_cursor"]}
    )
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "snapshot_retired"
    other = client.post(
        f"/v1/batch/{PRODUCT}", headers=auth(key), json={"limit": 5, "cursor": page["next_cursor"]}
    )
    assert other.status_code == 400 and other.json()["error"]["code"] == "invalid_cursor"


def test_degraded_product_answers_from_its_last_good_version(client, world):
    good = _publish(world, n=8)
    bad = world.snapshot(PRODUCT, [behavior_row(100, "EU")], publish=False)
    world.product_status(
        PRODUCT, "degraded", "min_rows failed", current_version=good, failed_version=bad
    )
    _, key = world.tenant("standard")
    r = client.get(f"/v1/batch/{PRODUCT}", headers=auth(key))
    assert r.status_code == 200 and len(r.json()["data"]) == 8
    assert r.headers["X-Data-Quality"] == "degraded"
    assert r.json()["metadata"]["quality"] == {
        "status": "degraded",
        "reason": "min_rows failed",
        "served_version": good,
        "failed_version": bad,
    }


def test_unpublished_and_halted_products_are_503(client, world):
    _, key = world.tenant("standard")
    r = client.get(f"/v1/batch/{PRODUCT}", headers=auth(key))
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_published"
    _publish(world)
    world.product_status(PRODUCT, "halted", "source missing")
    r = client.get(f"/v1/batch/{PRODUCT}", headers=auth(key))
    assert r.status_code == 503 and r.json()["error"]["code"] == "product_halted"


def test_residency_on_batch(client, world):
    _publish(world)
    _, key = world.tenant("standard", regions=["EU", "APAC"])
    body = client.get(f"/v1/batch/{PRODUCT}", headers=auth(key), params={"limit": 1000}).json()
    assert {row["region"] for row in body["data"]} == {"EU", "APAC"} and len(body["data"]) == 20
    # Asking for the region explicitly, or filtering on it, never widens the scope: both
    # are refused alike, as on every channel.
    asked = client.get(f"/v1/batch/{PRODUCT}", headers=auth(key), params={"region": "US-West"})
    assert asked.status_code == 403
    sneaky = client.get(
        f"/v1/batch/{PRODUCT}", headers=auth(key), params={"filter": "region:in:EU|US-West"}
    )
    assert sneaky.status_code == 403 and sneaky.json()["error"] == asked.json()["error"]
    injected = client.get(
        f"/v1/batch/{PRODUCT}", headers=auth(key), params={"filter": "region:eq:EU' or 1=1 --"}
    )
    assert injected.status_code == 400 and injected.json()["error"]["code"] == "unknown_region"


def test_trial_tier_gets_a_stable_sample(client, world):
    _publish(world, n=400)
    _, trial = world.tenant("trial")
    first = client.get(f"/v1/batch/{PRODUCT}", headers=auth(trial), params={"limit": 1000}).json()[
        "data"
    ]
    assert 10 <= len(first) <= 80  # about 10% of 400
    world.product_status(PRODUCT, "healthy")  # a different cache key, same sample
    again = client.get(f"/v1/batch/{PRODUCT}", headers=auth(trial), params={"limit": 1000}).json()[
        "data"
    ]
    assert again == first


def test_bad_queries_are_400_or_422_never_500(client, world):
    _publish(world)
    _, key = world.tenant("standard")
    cases = [
        ({"columns": ["nope"]}, 400),
        ({"sort": ["-nope"]}, 400),
        ({"sort": ["--sessions"]}, 400),
        ({"filters": [{"column": "sessions", "op": "eq", "value": "many"}]}, 400),
        ({"filters": [{"column": "sessions", "op": "like", "value": 1}]}, 422),
        ({"filters": [{"column": "sessions", "op": "eq", "value": [1, 2]}]}, 400),
        ({"unknown": 1}, 422),
        ({"cursor": "bm9wZQ"}, 400),
    ]
    for body, status in cases:
        r = client.post(f"/v1/batch/{PRODUCT}", headers=auth(key), json=body)
        assert r.status_code == status, body
    # A cursor this API issued, with its offset changed to what DuckDB cannot take.
    first = client.post(f"/v1/batch/{PRODUCT}", headers=auth(key), json={"limit": 2}).json()
    state = decode_cursor(first["next_cursor"])
    for offset in (-5, 2**70, True, "3"):
        forged = encode_cursor({**state, "o": offset})
        r = client.post(
            f"/v1/batch/{PRODUCT}", headers=auth(key), json={"limit": 2, "cursor": forged}
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor", offset
    assert (
        client.post(
            f"/v1/batch/{PRODUCT}",
            headers={**auth(key), "Content-Type": "application/json"},
            content=b"{not json",
        ).status_code
        == 422
    )
    assert (
        client.get(f"/v1/batch/{PRODUCT}", headers=auth(key), params={"filter": "x"}).status_code
        == 400
    )
    six = "sessions,searches,purchases,region,customer_id,activity_date"
    r = client.get(f"/v1/batch/{PRODUCT}", headers=auth(key), params={"sort": six})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_sort"


def test_oversized_query_body_is_413(client, world):
    _publish(world)
    _, key = world.tenant("standard")
    body = json.dumps({"columns": ["customer_id"] * 200}).encode()
    assert len(body) > 1024
    r = client.post(
        f"/v1/batch/{PRODUCT}",
        headers={**auth(key), "Content-Type": "application/json"},
        content=body,
    )
    assert r.status_code == 413 and r.json()["error"]["details"] == {"limit_bytes": 1024}

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(10):
            yield b" " * 200

    r = client.post(
        f"/v1/batch/{PRODUCT}",
        headers={**auth(key), "Content-Type": "application/json"},
        content=chunks(),
    )
    assert r.status_code == 413
