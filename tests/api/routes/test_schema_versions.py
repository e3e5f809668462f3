"""Schema versions on every channel: REST (live and batch), push and exports serve the
requested version's columns; a version whose successor is announced carries Deprecation and
Sunset from that day; a retired version is 410 naming the current one; an unknown one 400."""

from __future__ import annotations

import copy
import csv
import io
import json
import time
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import yaml
from apiworld import auth, behavior_row, risk_row
from sqlalchemy import select
from test_portal import sign_in
from test_stream import _rows, _wait_for_subscribers, read_events

from api.routes import stream as stream_routes
from tollgate.db.models import UsageRecord
from tollgate.settings import Settings
from tollgate.usage import export_delivery_id

ROOT = Path(__file__).resolve().parents[3]
RISK, BEHAVIOR = "transaction-risk", "customer-behavior-daily"
TODAY = datetime.now(UTC).date()
SUNSET = date(TODAY.year + 1, 1, 1)  # the deprecated versions' last day
V12 = ["transaction_id", "customer_id", "region", "event_at", "amount_cents",
       "merchant_category", "score", "risk_level"]  # fmt: skip
V09 = ["customer_day_id", "customer_id", "activity_date", "region", "sessions", "purchases",
       "spend"]  # fmt: skip


def versioned_catalog() -> dict:
    """The shipped catalog with transaction-risk 1.1 (retired), 1.2 (deprecated: 1.3 was
    announced today) and 1.3; customer-behavior-daily 0.8 (retired), 0.9 (deprecated: 1.0
    renamed spend to spend_cents today) and 1.0."""
    doc = yaml.safe_load((ROOT / "catalog.yaml").read_text())
    products = {p["id"]: p for p in doc["products"]}
    risk = products[RISK]["schema_versions"]
    risk[0].update(backward_compatible_until=SUNSET.isoformat(), announced="2025-01-01")
    risk[1].update(announced=TODAY.isoformat())
    retired = {
        **copy.deepcopy(risk[0]),
        "version": "1.1",
        "backward_compatible_until": "2025-12-31",
    }
    retired.pop("announced")
    risk.insert(0, retired)
    products[BEHAVIOR]["schema_versions"] = [
        {"version": "0.8", "backward_compatible_until": "2025-12-31", "columns": V09},
        {"version": "0.9", "announced": "2025-01-01", "columns": V09,
         "backward_compatible_until": SUNSET.isoformat()},
        {"version": "1.0", "announced": TODAY.isoformat(), "renames": {"spend": "spend_cents"},
         "backward_compatible_until": "2027-12-31"},
    ]  # fmt: skip
    return doc


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(versioned_catalog(), sort_keys=False))
    return Settings(data_dir=tmp_path / "data", catalog_path=path, _env_file=None)


def _asking(key: str, version: str) -> dict[str, str]:
    return {**auth(key), "X-Data-Schema-Version": version}


def _deprecated(headers) -> None:
    """The headers of a version whose successor was announced today."""
    announced = datetime.combine(TODAY, datetime.min.time(), UTC)
    assert headers["Deprecation"] == f"@{int(announced.timestamp())}"
    sunset = datetime.combine(SUNSET + timedelta(days=1), datetime.min.time(), UTC)
    assert headers["Sunset"] == format_datetime(sunset, usegmt=True)
    assert 'rel="deprecation"' in headers["Link"]


def _retired(r: httpx.Response, current: str) -> None:
    assert r.status_code == 410, r.text
    error = r.json()["error"]
    assert error["code"] == "schema_version_retired"
    assert error["details"]["current_version"] == current and current in error["message"]


@pytest.fixture
def risk(world):
    world.live_rows(RISK, [risk_row(i) for i in range(5)])
    world.watermark(RISK, datetime.now(UTC))


def test_live_serves_the_requested_versions_columns(client, world, risk):
    _, key = world.tenant("standard")
    old = client.get(f"/v1/live/{RISK}/tx-00003", headers=_asking(key, "1.2"))
    assert old.status_code == 200, old.text
    assert (
        old.json()["data_schema_version"] == "1.2" and old.headers["X-Data-Schema-Version"] == "1.2"
    )
    assert list(old.json()["data"]) == V12 and old.json()["data"]["score"] == 0.25
    _deprecated(old.headers)
    page = client.get(f"/v1/live/{RISK}?limit=3", headers=_asking(key, "1.2")).json()
    assert [list(row) for row in page["data"]] == [V12] * 3
    current = client.get(f"/v1/live/{RISK}/tx-00003", headers=auth(key))
    assert current.json()["data_schema_version"] == "1.3"
    assert current.json()["data"]["fraud_score"] == 0.25 and "score" not in current.json()["data"]
    assert "Deprecation" not in current.headers and "Sunset" not in current.headers


def test_a_retired_version_is_410_and_an_unknown_one_400_on_rest(client, world, risk):
    _, key = world.tenant("standard")
    _retired(client.get(f"/v1/live/{RISK}/tx-00003", headers=_asking(key, "1.1")), "1.3")
    _retired(client.get(f"/v1/live/{RISK}", headers=_asking(key, "1.1")), "1.3")
    unknown = client.get(f"/v1/live/{RISK}/tx-00003", headers=_asking(key, "9.9"))
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknown_schema_version"
    assert unknown.json()["error"]["details"]["versions"] == ["1.2", "1.3"]


@pytest.fixture
def behavior(world):
    rows = [behavior_row(i, day=1 + i % 5) for i in range(20)]
    world.snapshot(BEHAVIOR, rows)
    return rows


def test_batch_serves_the_requested_versions_columns_and_names(client, world, behavior):
    _, key = world.tenant("standard")
    r = client.post(
        f"/v1/batch/{BEHAVIOR}",
        json={"filters": [{"column": "spend", "op": "gt", "value": 0}], "sort": ["-spend"]},
        headers=_asking(key, "0.9"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data_schema_version"] == "0.9"
    assert {tuple(row) for row in body["data"]} == {tuple(V09)}
    expected = sorted((b["spend_cents"] for b in behavior if b["spend_cents"] > 0), reverse=True)
    assert [row["spend"] for row in body["data"]] == expected
    _deprecated(r.headers)
    picked = client.get(
        f"/v1/batch/{BEHAVIOR}?columns=customer_day_id,spend", headers=_asking(key, "0.9")
    ).json()["data"]
    assert {tuple(row) for row in picked} == {("customer_day_id", "spend")}
    # A column of the current version only is not a column of 0.9.
    newer = client.get(f"/v1/batch/{BEHAVIOR}?columns=page_views", headers=_asking(key, "0.9"))
    assert newer.status_code == 400 and newer.json()["error"]["code"] == "unknown_column"
    _retired(client.get(f"/v1/batch/{BEHAVIOR}", headers=_asking(key, "0.8")), "1.0")


def _export(client, key: str, version: str | None, **body) -> httpx.Response:
    headers = _asking(key, version) if version else auth(key)
    return client.post("/v1/exports", json={"product_id": BEHAVIOR, **body}, headers=headers)


def _finished(client, key: str, export_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"/v1/exports/{export_id}", headers=auth(key)).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


def test_an_export_holds_the_requested_versions_columns(client, world, behavior):
    _, key = world.tenant("standard")
    created = _export(client, key, "0.9", format="csv", filters={"spend": 500})
    assert created.status_code == 202, created.text
    assert created.json()["data_schema_version"] == "0.9"
    _deprecated(created.headers)
    job = _finished(client, key, created.json()["id"])
    assert job["status"] == "succeeded", job
    file = client.get(f"/v1/exports/{job['id']}/download", headers=auth(key))
    assert file.headers["X-Data-Schema-Version"] == "0.9"
    rows = list(csv.DictReader(io.StringIO(file.text)))
    assert list(rows[0]) == V09
    assert len(rows) == sum(1 for b in behavior if b["spend_cents"] == 500)
    # The ledger records the version delivered, not the snapshot's.
    with world.meta.connect() as conn:
        delivered = conn.execute(
            select(UsageRecord.schema_version).where(
                UsageRecord.delivery_id == export_delivery_id(job["id"])
            )
        ).scalar_one()
    assert delivered == "0.9"
    current = _export(client, key, None, format="jsonl", columns=["customer_day_id", "spend_cents"])
    assert current.json()["data_schema_version"] == "1.0" and "Deprecation" not in current.headers
    _retired(_export(client, key, "0.8"), "1.0")
    unknown = _export(client, key, "7.0")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknown_schema_version"


def test_push_serves_the_requested_versions_shape(server, app, world):
    _, key = world.tenant("premium")
    with (
        httpx.Client(base_url=server, timeout=10) as http,
        http.stream("GET", f"/v1/live/{RISK}/stream", headers=_asking(key, "1.2")) as old,
        http.stream("GET", f"/v1/live/{RISK}/stream", headers=auth(key)) as new,
    ):
        assert old.status_code == 200 and new.status_code == 200
        assert old.headers["X-Data-Schema-Version"] == "1.2"
        _deprecated(old.headers)
        assert new.headers["X-Data-Schema-Version"] == "1.3" and "Deprecation" not in new.headers
        _wait_for_subscribers(app, 2)
        world.live_rows(RISK, _rows(0, 2))
        old_events = [json.loads(e["data"]) for e in read_events(old, 2) if "data" in e]
        new_events = [json.loads(e["data"]) for e in read_events(new, 2) if "data" in e]
    assert [list(e) for e in old_events] == [V12, V12]
    assert all("fraud_score" in e and "score" not in e for e in new_events)
    resume = {**_asking(key, "1.1"), "Last-Event-ID": "x"}
    with httpx.Client(base_url=server, timeout=10) as http:
        _retired(http.get(f"/v1/live/{RISK}/stream", headers=resume), "1.3")
        r = http.get(f"/v1/live/{RISK}/stream", headers=_asking(key, "2.0"))
        assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_schema_version"


def test_the_product_lists_each_versions_columns_and_lifecycle(client, world):
    _, key = world.tenant("standard")
    body = client.get(f"/v1/products/{RISK}", headers=auth(key)).json()
    versions = {v["version"]: v for v in body["schema_versions"]}
    assert {v: d["state"] for v, d in versions.items()} == {
        "1.1": "retired",
        "1.2": "deprecated",
        "1.3": "current",
    }
    assert versions["1.2"]["columns"] == V12
    assert versions["1.3"]["columns"] == [c["name"] for c in body["columns"]]
    assert versions["1.3"]["renames"] == {"score": "fraud_score"}
    assert versions["1.3"]["announced"] == TODAY.isoformat()
    assert versions["1.2"]["backward_compatible_until"] == SUNSET.isoformat()
    assert versions["1.2"]["sunset_at"].startswith((SUNSET + timedelta(days=1)).isoformat())


def test_a_stream_open_in_a_version_that_reaches_its_sunset_closes(
    server,
    app,
    world,
    monkeypatch,
):
    monkeypatch.setattr(stream_routes, "CONTRACT_CHECK_SECONDS", 0.0)
    _, key = world.tenant("premium")
    with (
        httpx.Client(base_url=server, timeout=10) as http,
        http.stream("GET", f"/v1/live/{RISK}/stream", headers=_asking(key, "1.2")) as r,
    ):
        assert r.status_code == 200
        _wait_for_subscribers(app, 1)
        after_sunset = datetime.combine(SUNSET + timedelta(days=1), datetime.min.time(), UTC)
        monkeypatch.setattr(stream_routes, "utcnow", lambda: after_sunset)
        world.live_rows(RISK, _rows(0, 1))
        events = [e for e in read_events(r, 1) if "data" in e]
    assert events[0]["event"] == "closed", events
    closed = json.loads(events[0]["data"])
    assert (
        closed["code"] == "schema_version_retired" and closed["details"]["current_version"] == "1.3"
    )


def _old_behavior_rows(behavior: list[dict]) -> list[dict]:
    """The rows as a snapshot published in 0.9 holds them: 0.9's columns, 0.9's names."""
    return [{**{c: b[c] for c in V09 if c != "spend"}, "spend": b["spend_cents"]} for b in behavior]


def test_a_snapshot_published_in_an_older_version_is_read_under_its_own_names(client, world):
    behavior = [behavior_row(i, day=1 + i % 5) for i in range(12)]
    world.snapshot(BEHAVIOR, _old_behavior_rows(behavior), schema_version="0.9")
    _, key = world.tenant("standard")
    # By default the snapshot is served in the version it holds, and says so.
    default = client.get(f"/v1/batch/{BEHAVIOR}?sort=-spend", headers=auth(key))
    assert default.status_code == 200, default.text
    assert default.json()["data_schema_version"] == "0.9"
    assert default.headers["X-Data-Schema-Version"] == "0.9"
    assert [list(row) for row in default.json()["data"]] == [V09] * len(behavior)
    asked = client.get(f"/v1/batch/{BEHAVIOR}?sort=-spend", headers=_asking(key, "0.9"))
    assert asked.json()["data"] == default.json()["data"]
    # 1.0's columns are not in it: a clear refusal, not a query error.
    newer = client.get(f"/v1/batch/{BEHAVIOR}", headers=_asking(key, "1.0"))
    assert newer.status_code == 409, newer.text
    error = newer.json()["error"]
    assert error["code"] == "schema_version_not_in_snapshot"
    assert error["details"]["snapshot_schema_version"] == "0.9"
    assert "page_views" in error["details"]["missing"]
    created = _export(client, key, None, format="csv")
    assert created.status_code == 202 and created.json()["data_schema_version"] == "0.9"
    job = _finished(client, key, created.json()["id"])
    file = client.get(f"/v1/exports/{job['id']}/download", headers=auth(key))
    rows = list(csv.DictReader(io.StringIO(file.text)))
    assert list(rows[0]) == V09 and len(rows) == len(behavior)
    refused = _export(client, key, "1.0", format="csv")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "schema_version_not_in_snapshot"
    # The portal's preview shows the snapshot's own columns too.
    sign_in(client, api_key=key)
    page = client.get(f"/portal/catalog/{BEHAVIOR}")
    assert page.status_code == 200 and '<th scope="col">spend</th>' in page.text


def _documented(client, path: str) -> set[str]:
    spec = client.get("/openapi.json").json()
    headers = spec["paths"][path]["get"]["responses"]["200"].get("headers", {})
    return {name.lower() for name in headers}


def test_openapi_documents_every_header_a_product_answer_sends(client, world, risk):
    """Deprecation, Sunset and Link included: what a client may rely on is in the schema."""
    world.snapshot(BEHAVIOR, [behavior_row(i) for i in range(3)])
    _, key = world.tenant("standard")
    plain = {"content-length", "content-type"}
    for path, url, version in [
        ("/v1/live/{product_id}/{key}", f"/v1/live/{RISK}/tx-00003", "1.2"),
        ("/v1/live/{product_id}", f"/v1/live/{RISK}?limit=2", "1.2"),
        ("/v1/batch/{product_id}", f"/v1/batch/{BEHAVIOR}?limit=2", "0.9"),
    ]:
        r = client.get(url, headers=_asking(key, version))
        assert r.status_code == 200, r.text
        _deprecated(r.headers)
        sent = {name.lower() for name in r.headers} - plain
        assert sent - _documented(client, path) == set(), path
