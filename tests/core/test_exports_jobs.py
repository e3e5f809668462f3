import json
import time
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from tollgate.catalog import load_catalog
from tollgate.clock import utcnow
from tollgate.db.engine import session_factory
from tollgate.db.migrate import upgrade
from tollgate.db.models import AuditEntry, ExportJob, UsageRecord
from tollgate.exports import ExportError
from tollgate.exports.jobs import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    RowCapExceeded,
    plan_export,
    resume_export_jobs,
    run_export_job,
)
from tollgate.exports.leases import RUNNER_ID, LeaseKeeper, claim_export_job
from tollgate.lake import SNAPSHOT_DATA_FILE, SNAPSHOT_MANIFEST_FILE, Lake

PRODUCT = "market-trends"


def _publish(lake: Lake, version: str, n: int) -> None:
    target = lake.snapshot_dir(PRODUCT, version)
    target.mkdir(parents=True)
    table = pa.table(
        {
            "trend_id": [f"EU/books@{i}" for i in range(n)],
            "region": ["EU" if i % 2 else "APAC" for i in range(n)],
            "category": ["books"] * n,
            "activity_date": pa.array([date(2026, 11, 1 + i % 20) for i in range(n)], pa.date32()),
            "page_views": pa.array(range(n), pa.int64()),
            "purchases": pa.array([1] * n, pa.int64()),
            "revenue_cents": pa.array([100] * n, pa.int64()),
            "conversion_rate": [0.5] * n,
            "revenue_growth_7d": [0.1] * n,
        }
    )
    pq.write_table(table, target / SNAPSHOT_DATA_FILE)
    (target / SNAPSHOT_MANIFEST_FILE).write_text(json.dumps({"version": version}))
    lake.set_current(PRODUCT, version)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request, settings):
    url = settings.metadata_db_url
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    upgrade(url)
    lake = Lake.from_settings(settings)
    _publish(lake, "v000001", 400)
    return url, lake, load_catalog(settings.catalog_path)


def _add(url: str, job: ExportJob) -> str:
    with session_factory(url).begin() as session:
        session.add(job)
    return job.id


def _ledger(url: str) -> list[UsageRecord]:
    with session_factory(url)() as session:
        return list(session.scalars(select(UsageRecord)))


def test_a_job_runs_once_bills_once_and_pins_its_snapshot(world):
    url, lake, catalog = world
    product = catalog.product(PRODUCT)
    job = plan_export(
        lake,
        product,
        "acme",
        "csv",
        row_cap=1000,
        regions=["EU"],
        date_from=date(2026, 11, 1),
        date_to=date(2026, 11, 10),
    )
    assert job.rows_total == 100 and job.params["snapshot_version"] == "v000001"
    job_id = _add(url, job)
    _publish(lake, "v000002", 10)  # a newer snapshot must not change the planned export
    assert run_export_job(url, lake, catalog, job_id) == SUCCEEDED
    assert run_export_job(url, lake, catalog, job_id) == SUCCEEDED  # already done: no rerun
    with session_factory(url)() as session:
        done = session.get(ExportJob, job_id)
        audits = session.scalars(
            select(
                AuditEntry.action,
            )
        ).all()
    path = lake.export_file("acme", job_id, "csv")
    assert (done.status, done.rows_done, done.bytes) == (SUCCEEDED, 100, path.stat().st_size)
    assert done.checksum and done.expires_at > done.finished_at
    assert len(path.read_text().splitlines()) == 101
    [record] = _ledger(url)
    assert (record.delivery_id, record.units, record.kind) == (f"export:{job_id}", 100, "export")
    # Its trail names the snapshot it was planned on, not the newer one.
    assert (record.snapshot_version, record.quality_status) == ("v000001", "healthy")
    assert audits == ["export.run"]


def test_a_job_interrupted_mid_run_is_resumed_and_billed_once(world):
    url, lake, catalog = world
    job = plan_export(lake, catalog.product(PRODUCT), "acme", "parquet", row_cap=1000)
    job.status = RUNNING  # as a crash mid-run leaves it, with a half-written temporary
    job_id = _add(url, job)
    dest = lake.export_file("acme", job_id, "parquet")
    dest.parent.mkdir(parents=True)
    (dest.parent / f".{dest.name}.dead.tmp").write_bytes(b"half")
    assert resume_export_jobs(url, lake, catalog) == [job_id]
    assert resume_export_jobs(url, lake, catalog) == []
    assert pq.read_table(dest).num_rows == 400
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # the dead run's tmp is gone
    assert [r.units for r in _ledger(url)] == [400]


def test_a_job_another_live_runner_holds_is_left_to_it_until_its_lease_lapses(world):
    """API replicas share the database: one runs the job; the others take it over only once
    its runner has stopped renewing the lease (it died)."""
    url, lake, catalog = world
    job = plan_export(lake, catalog.product(PRODUCT), "acme", "csv", row_cap=1000)
    job.status, job.lease_owner = RUNNING, "replica-b:42:feedbeef"
    job.lease_expires_at = utcnow() + timedelta(minutes=1)
    job_id = _add(url, job)
    assert resume_export_jobs(url, lake, catalog) == []
    assert run_export_job(url, lake, catalog, job_id) == RUNNING
    assert _ledger(url) == []
    with session_factory(url).begin() as session:
        session.get(ExportJob, job_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    assert resume_export_jobs(url, lake, catalog) == [job_id]
    with session_factory(url)() as session:
        done = session.get(ExportJob, job_id)
        assert (done.status, done.lease_owner, done.rows_done) == (SUCCEEDED, RUNNER_ID, 400)
    assert [r.units for r in _ledger(url)] == [400]


def test_only_one_of_two_claims_wins_and_a_finished_job_cannot_be_claimed(world):
    url, lake, catalog = world
    job_id = _add(url, plan_export(lake, catalog.product(PRODUCT), "acme", "csv", row_cap=1000))
    sessions = session_factory(url)
    with sessions.begin() as session:
        assert claim_export_job(session, job_id, "replica-a")
    with sessions.begin() as session:
        assert not claim_export_job(session, job_id, "replica-b")
    with sessions.begin() as session:
        session.get(ExportJob, job_id).status = SUCCEEDED
        session.get(ExportJob, job_id).lease_expires_at = None
    with sessions.begin() as session:
        assert not claim_export_job(session, job_id, "replica-b")


def test_a_running_job_keeps_renewing_its_lease(world):
    url, lake, catalog = world
    job_id = _add(url, plan_export(lake, catalog.product(PRODUCT), "acme", "csv", row_cap=1000))
    sessions = session_factory(url)
    lease = timedelta(seconds=1.5)
    with sessions.begin() as session:
        assert claim_export_job(session, job_id, RUNNER_ID, lease)
    with LeaseKeeper(sessions, job_id, lease):
        time.sleep(3.0)  # well past the first lease: only renewals keep it
        with sessions() as session:
            assert session.get(ExportJob, job_id).lease_expires_at > utcnow()
        with sessions.begin() as session:
            assert not claim_export_job(session, job_id, "replica-b", lease)


def test_a_delayed_tier_exports_no_day_past_its_delay(world):
    url, lake, catalog = world
    product = catalog.product(PRODUCT)  # 400 rows, 20 a day from 1 to 20 November
    job = plan_export(lake, product, "acme", "parquet", 1000, not_after=date(2026, 11, 10))
    assert job.rows_total == 200
    job_id = _add(url, job)
    assert run_export_job(url, lake, catalog, job_id) == SUCCEEDED
    days = pq.read_table(lake.export_file("acme", job_id, "parquet"))["activity_date"]
    assert max(days.to_pylist()) == date(2026, 11, 10)


def test_caps_and_bad_requests_are_refused_before_any_job(world):
    _, lake, catalog = world
    product = catalog.product(PRODUCT)
    with pytest.raises(RowCapExceeded) as capped:
        plan_export(lake, product, "acme", "csv", row_cap=399)
    assert (capped.value.rows, capped.value.cap) == (400, 399)
    with pytest.raises(ExportError, match="no column"):
        plan_export(lake, product, "acme", "csv", row_cap=1000, columns=["password"])
    with pytest.raises(ExportError, match="no published snapshot"):
        plan_export(lake, catalog.product("customer-behavior-daily"), "acme", "csv", 1000)


def test_a_failed_job_is_marked_and_not_billed(world):
    url, lake, catalog = world
    job = plan_export(lake, catalog.product(PRODUCT), "acme", "jsonl", row_cap=1000)
    job.params = {**job.params, "snapshot_version": "v000009"}  # its snapshot is gone
    job_id = _add(url, job)
    assert run_export_job(url, lake, catalog, job_id) == FAILED
    with session_factory(url)() as session:
        failed = session.get(ExportJob, job_id)
    assert failed.status == FAILED and failed.error
    assert str(lake.root) not in failed.error and "/" not in failed.error  # no server paths
    assert _ledger(url) == []
