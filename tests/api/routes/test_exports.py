"""Bulk exports through the API: job, progress, download with Range and signed links."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from datetime import UTC, date, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from apiworld import auth, behavior_row
from sqlalchemy import select

from tollgate.catalog import load_catalog
from tollgate.db.engine import session_factory
from tollgate.db.models import AuditEntry, ExportJob, UsageRecord
from tollgate.exports import download_params
from tollgate.exports.jobs import plan_export

PRODUCT = "customer-behavior-daily"
REGIONS = ["US-West", "US-East", "EU", "APAC"]
COLUMNS = ["customer_day_id", "activity_date", "region", "sessions", "spend_cents"]


def _rows(n: int) -> list[dict]:
    return [behavior_row(i, REGIONS[i % 4], day=1 + i % 20) for i in range(n)]


@pytest.fixture
def rows(world) -> list[dict]:
    rows = _rows(400)
    world.snapshot(PRODUCT, rows)
    return rows


def _expected(rows: list[dict]) -> list[dict]:
    """The request below, applied by hand: EU/APAC residency, Nov 3-9, sessions == 2."""
    return [
        {c: r[c] for c in COLUMNS}
        for r in rows
        if r["region"] in ("EU", "APAC")
        and date(2026, 11, 3) <= r["activity_date"] <= date(2026, 11, 9)
        and r["sessions"] == 2
    ]


def _wait(client, key, export_id, timeout=30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/exports/{export_id}", headers=auth(key)).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} did not finish")


def _create(client, key, fmt="csv", **extra) -> dict:
    body = {
        "product_id": PRODUCT,
        "format": fmt,
        "date_from": "2026-11-03",
        "date_to": "2026-11-09",
        "filters": {"sessions": 2},
        "columns": COLUMNS,
        **extra,
    }
    r = client.post("/v1/exports", json=body, headers=auth(key))
    assert r.status_code == 202, r.text
    return _wait(client, key, r.json()["id"])


def _parse(fmt: str, content: bytes) -> list[dict]:
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(content)).to_pylist()
    if fmt == "jsonl":
        out = [json.loads(line) for line in content.decode().splitlines()]
        return [{**r, "activity_date": date.fromisoformat(r["activity_date"])} for r in out]
    out = list(csv.DictReader(io.StringIO(content.decode())))
    return [
        {
            **r,
            "activity_date": date.fromisoformat(r["activity_date"]),
            "sessions": int(r["sessions"]),
            "spend_cents": int(r["spend_cents"]),
        }
        for r in out
    ]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_each_format_holds_the_snapshot_rows_filtered(client, world, rows, fmt):
    _, key = world.tenant("standard", regions=["EU", "APAC"])
    job = _create(client, key, fmt)
    expected = _expected(rows)
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    assert job["rows_done"] == job["rows_total"] == len(expected) > 0
    r = client.get(f"/v1/exports/{job['id']}/download", headers=auth(key))
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == r.headers["X-Checksum-SHA256"]
    assert r.headers["X-Checksum-SHA256"] == job["checksum_sha256"]
    key_of = lambda row: row["customer_day_id"]  # noqa: E731
    assert sorted(_parse(fmt, r.content), key=key_of) == sorted(expected, key=key_of)


def test_range_resume_is_byte_identical(client, world, rows):
    _, key = world.tenant("standard")
    job = _create(client, key, "csv", filters={}, date_from=None, date_to=None)
    url = f"/v1/exports/{job['id']}/download"
    full = client.get(url, headers=auth(key))
    etag = full.headers["ETag"]
    assert etag == f'"{job["checksum_sha256"]}"'
    head = client.get(url, headers={**auth(key), "Range": "bytes=0-999"})
    assert head.status_code == 206 and len(head.content) == 1000
    assert head.headers["Content-Range"] == f"bytes 0-999/{len(full.content)}"
    tail = client.get(url, headers={**auth(key), "Range": "bytes=1000-", "If-Range": etag})
    assert tail.status_code == 206
    assert head.content + tail.content == full.content
    # A resume against a different file (stale ETag) gets the whole file instead.
    stale = client.get(url, headers={**auth(key), "Range": "bytes=1000-", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == full.content


def test_signed_url_works_without_a_key_until_it_expires_or_is_tampered(
    client, world, rows, api_settings
):
    tenant_id, key = world.tenant("standard")
    job = _create(client, key, "jsonl")
    full = client.get(f"/v1/exports/{job['id']}/download", headers=auth(key)).content
    signed = client.get(job["download_url"])
    assert signed.status_code == 200 and signed.content == full
    bad = job["download_url"][:-4] + (
        "0000" if not job["download_url"].endswith("0000") else "1111"
    )
    r = client.get(bad)
    assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature"
    past = datetime.now(UTC) - timedelta(seconds=5)
    params = download_params(api_settings.secret(), job["id"], tenant_id, past)
    r = client.get(f"/v1/exports/{job['id']}/download", params=params)
    assert r.status_code == 403 and r.json()["error"]["code"] == "link_expired"
    # A link signed for this tenant does not open another export id.
    other = _create(client, key, "csv")
    r = client.get(f"/v1/exports/{other['id']}/download?" + job["download_url"].split("?")[1])
    assert r.status_code == 403


def test_other_tenants_export_is_404(client, world, rows):
    _, key = world.tenant("standard")
    _, intruder = world.tenant("premium")
    job = _create(client, key)
    for path in (f"/v1/exports/{job['id']}", f"/v1/exports/{job['id']}/download"):
        r = client.get(path, headers=auth(intruder))
        assert r.status_code == 404 and r.json()["error"]["code"] == "export_not_found"


def test_downloads_are_free_and_audited(client, world, rows, api_settings):
    tenant_id, key = world.tenant("standard")
    job = _create(client, key, "parquet")
    url = f"/v1/exports/{job['id']}/download"
    for headers, status in (({}, 200), ({"Range": "bytes=0-9"}, 206), ({}, 200)):
        assert client.get(url, headers={**auth(key), **headers}).status_code == status
    with session_factory(api_settings.metadata_db_url)() as s:
        billed = s.scalars(select(UsageRecord).where(UsageRecord.tenant_id == tenant_id)).all()
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.target == job["id"])).all()
    assert [(b.delivery_id, b.kind, b.units) for b in billed] == [
        (f"export:{job['id']}", "export", job["rows_total"])
    ]
    assert actions.count("export.create") == 1 and actions.count("export.download") == 3


def test_refusals(client, world, rows):
    _, trial_key = world.tenant("trial")
    # The trial tier's 10% sample of 120,000 rows is past its 10,000-row cap.
    world.snapshot(PRODUCT, _rows(120_000))
    r = client.post("/v1/exports", json={"product_id": PRODUCT}, headers=auth(trial_key))
    assert r.status_code == 413
    details = r.json()["error"]["details"]
    assert details["row_cap"] == 10_000 and 10_000 < details["rows"] < 14_000
    _, key = world.tenant("standard")
    for body, status in [
        ({"product_id": PRODUCT, "columns": ["nope"]}, 422),
        ({"product_id": PRODUCT, "format": "xlsx"}, 422),
        ({"product_id": PRODUCT, "filters": {"nope": 1}}, 422),
        ({"product_id": PRODUCT, "filters": {"sessions": 2**70}}, 422),  # past int64
        ({"product_id": PRODUCT, "date_from": "2026-11-09", "date_to": "2026-11-03"}, 422),
        ({"product_id": PRODUCT, "date_to": "9999-12-31"}, 202),  # the last day: no bound
        ({"product_id": "transaction-risk"}, 422),  # live products do not export
        ({"product_id": "market-trends"}, 403),  # not in the standard tier
        ({"product_id": "no-such-product"}, 404),
    ]:
        r = client.post("/v1/exports", json=body, headers=auth(key))
        assert r.status_code == status, (body, r.text)
    assert client.post("/v1/exports", json={"product_id": PRODUCT}).status_code == 401


def test_a_trial_export_holds_exactly_the_sample_its_queries_show(
    client, world, rows, api_settings
):
    """A tier's sample binds exports too: a trial tenant cannot export its way past it."""
    _, key = world.tenant("trial")  # 10 requests an hour: this test makes 3
    page = client.get(f"/v1/batch/{PRODUCT}?limit=1000", headers=auth(key)).json()
    assert page["next_cursor"] is None
    shown = sorted(r["customer_day_id"] for r in page["data"])
    assert 0 < len(shown) < len(rows) / 4
    created = client.post(
        "/v1/exports", json={"product_id": PRODUCT, "format": "jsonl"}, headers=auth(key)
    )
    assert created.status_code == 202, created.text
    export_id = created.json()["id"]
    deadline = time.monotonic() + 30
    while _job_status(api_settings, export_id) not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.05)
    status = client.get(f"/v1/exports/{export_id}", headers=auth(key)).json()
    assert status["status"] == "succeeded" and status["rows_done"] == len(shown)
    signed = client.get(status["download_url"])  # a signed link: no key, no budget
    assert signed.status_code == 200
    assert sorted(json.loads(line)["customer_day_id"] for line in signed.text.splitlines()) == (
        shown
    )


def _job_status(api_settings, export_id: str) -> str:
    with session_factory(api_settings.metadata_db_url)() as session:
        return session.get(ExportJob, export_id).status


def test_job_left_queued_by_a_stopped_api_runs_on_start(app, world, rows, api_settings):
    from fastapi.testclient import TestClient

    tenant_id, key = world.tenant("standard")
    catalog = load_catalog(api_settings.catalog_path)
    job = plan_export(world.lake, catalog.product(PRODUCT), tenant_id, "csv", 10**6)
    with session_factory(api_settings.metadata_db_url).begin() as s:
        s.add(job)
        job_id = job.id
    with TestClient(app) as client:  # starting the app resumes it
        done = _wait(client, key, job_id)
    assert done["status"] == "succeeded" and done["rows_done"] == len(rows)


def test_auth_failures_are_audited(client, world, api_settings):
    _, key = world.tenant("standard")
    key_id = key.split("_")[1]
    assert client.get("/v1/usage").status_code == 401
    assert client.get("/v1/usage", headers=auth(key[:-2] + "xx")).status_code == 401
    with session_factory(api_settings.metadata_db_url)() as s:
        denied = s.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == "auth")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(d) for d in denied] == [
        ("anonymous", "auth", "denied", {"code": "missing_credentials"}),
        (f"key:{key_id}", "auth", "denied", {"code": "invalid_credentials"}),
    ]
