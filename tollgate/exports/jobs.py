"""Export jobs in the metadata database: planned on request, run off the request path,
resumed after a restart, billed exactly once.

A job pins the snapshot version it was planned on, so a run resumed after a crash writes
the same rows to the same file. Success, its ledger record (`export:<id>`) and its audit row
commit in one transaction: a job is billed once it is finished, and never twice.

Several API processes may share the database: a job runs under a lease, so only one of
them runs it at a time (`tollgate.exports.leases`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tollgate import audit
from tollgate.catalog import Catalog, Product
from tollgate.clock import utcnow
from tollgate.contracts.terms import LIST, Terms
from tollgate.db.engine import session_factory
from tollgate.db.models import ExportJob, ProductStatus
from tollgate.exports.leases import (
    LEASE,
    QUEUED,
    RUNNER_ID,
    RUNNING,
    LeaseKeeper,
    claim_export_job,
    claimable,
)
from tollgate.exports.spec import (
    ExportError,
    ExportFormat,
    ExportSpec,
    count_rows,
    snapshot_source,
    validate_columns,
)
from tollgate.exports.writer import write_export
from tollgate.lake import SNAPSHOT_DATA_FILE, Lake
from tollgate.rating import rate
from tollgate.usage import Delivery, Trail, export_delivery_id, insert_deliveries, trail_at

log = logging.getLogger(__name__)
SUCCEEDED, FAILED = "succeeded", "failed"
EXPORT_ROUTE = "/v1/exports"
PROGRESS_EVERY_S = 0.5  # how often a running job writes rows_done
DOWNLOAD_TTL = timedelta(days=7)


class RowCapExceeded(ExportError):
    """The export holds more rows than the tenant's tier allows."""

    def __init__(self, rows: int, cap: int) -> None:
        super().__init__(f"the export would hold {rows} rows; the tier allows {cap}")
        self.rows, self.cap = rows, cap


def plan_export(
    lake: Lake,
    product: Product,
    tenant_id: str,
    fmt: ExportFormat,
    row_cap: int,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    filters: Mapping[str, object] | None = None,
    columns: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
    not_after: date | None = None,
    sample_fraction: float = 1.0,
    version: str | None = None,
    terms: Terms = LIST,
    schema_version: str | None = None,
    held_version: str | None = None,
) -> ExportJob:
    """A queued job for this request, pinned to `version` (default: the current snapshot),
    counted and checked against the row cap (raises ExportError or RowCapExceeded). The
    caller adds it. `not_after` and `sample_fraction` are the tenant's tier view (delay,
    sample); `terms` the contract it was asked under, which rates it when it finishes."""
    version, source = snapshot_source(lake, product.id, version)
    spec = ExportSpec(
        product,
        source,
        fmt,
        columns,
        date_from,
        date_to,
        filters or {},
        regions,
        not_after,
        sample_fraction,
        schema_version,
        held_version,
    )
    validate_columns(spec)
    rows = count_rows(spec)
    if rows > row_cap:
        raise RowCapExceeded(rows, row_cap)
    params = {
        "snapshot_version": version,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "filters": dict(filters or {}),
        "columns": list(columns) if columns else None,
        "regions": list(regions) if regions is not None else None,
        "not_after": not_after.isoformat() if not_after else None,
        "sample_fraction": sample_fraction,
        "terms": terms.to_json(),
        "schema_version": spec.shape.name,
        "held_schema_version": held_version,
    }
    return ExportJob(
        id=f"exp_{uuid.uuid4().hex[:20]}",
        tenant_id=tenant_id,
        product_id=product.id,
        format=fmt,
        params=params,
        status=QUEUED,
        rows_total=rows,
        rows_done=0,
        created_at=utcnow(),
    )


def spec_for_job(job: ExportJob, lake: Lake, catalog: Catalog) -> ExportSpec:
    p = job.params
    source = lake.snapshot_dir(job.product_id, p["snapshot_version"]) / SNAPSHOT_DATA_FILE
    return ExportSpec(
        product=catalog.product(job.product_id),
        source=source,
        fmt=job.format,  # type: ignore[arg-type]
        columns=p.get("columns"),
        date_from=date.fromisoformat(p["date_from"]) if p.get("date_from") else None,
        date_to=date.fromisoformat(p["date_to"]) if p.get("date_to") else None,
        filters=p.get("filters") or {},
        regions=p.get("regions"),
        not_after=date.fromisoformat(p["not_after"]) if p.get("not_after") else None,
        sample_fraction=p.get("sample_fraction", 1.0),
        schema_version=p.get("schema_version"),
        held_version=p.get("held_schema_version"),
    )


def run_export_job(
    metadata_db_url: str,
    lake: Lake,
    catalog: Catalog,
    job_id: str,
    ttl: timedelta = DOWNLOAD_TTL,
    lease: timedelta = LEASE,
) -> str:
    """Run one job to the end if this process can claim it; returns the job's status then
    (a finished job is left as it is, a job another runner holds stays `running`)."""
    sessions = session_factory(metadata_db_url)
    with sessions.begin() as session:
        job = session.get(ExportJob, job_id)
        if job is None:
            raise KeyError(job_id)
        if not claim_export_job(session, job_id, RUNNER_ID, lease):
            return job.status
        spec = spec_for_job(job, lake, catalog)
        tenant_id, product_id, fmt = job.tenant_id, job.product_id, job.format
        terms = Terms.from_json(job.params["terms"]) if "terms" in job.params else LIST
        version = job.params["snapshot_version"]
    dest = lake.export_file(tenant_id, job_id, fmt)
    for stale in dest.parent.glob(f".{dest.name}.*.tmp"):  # left by a run that crashed
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    with LeaseKeeper(sessions, job_id, lease):
        try:
            result = write_export(spec, dest, _progress(sessions, job_id))
        except Exception as exc:
            log.exception("export job %s failed", job_id)
            with sessions.begin() as session:
                if _finish(session, job_id, status=FAILED, error=_public_error(exc, job_id)):
                    _audit_run(session, tenant_id, job_id, "failure", {"error": str(exc)[:500]})
            return FAILED
    finished = utcnow()
    # Delivered when finished: rated at the export price in force then, under its terms.
    rating = rate(spec.product, "export", terms, result.rows, finished)
    trail = export_trail(sessions, lake, product_id, version, finished, spec.shape.name)
    delivery = Delivery(
        delivery_id=export_delivery_id(job_id),
        tenant_id=tenant_id,
        product_id=product_id,
        bytes=result.bytes,
        compute_ms=(time.perf_counter() - started) * 1000,
        route=EXPORT_ROUTE,
        occurred_at=finished,
        **rating.fields(),
        **trail.fields(),
    )
    with sessions.begin() as session:
        owned = _finish(
            session,
            job_id,
            status=SUCCEEDED,
            rows_done=result.rows,
            rows_total=result.rows,
            bytes=result.bytes,
            checksum=result.sha256,
            expires_at=finished + ttl,
        )
        if not owned:  # the lease lapsed and another runner took the job over: it finishes
            return RUNNING
        insert_deliveries(session.connection(), [delivery])
        _audit_run(
            session, tenant_id, job_id, "success", {"rows": result.rows, "bytes": result.bytes}
        )
    return SUCCEEDED


def export_trail(
    sessions, lake: Lake, product_id: str, version: str, at, delivered_in: str | None = None
) -> Trail:
    """What an export finished at `at` delivered: its snapshot, in the schema version its
    file holds (`delivered_in`; else the manifest's), with the watermark its manifest
    states, and the product's quality status then."""
    try:
        manifest = lake.read_manifest(product_id, version)
        schema, watermark = manifest.schema_version, manifest.watermark_at
    except (OSError, ValueError):  # a snapshot without a readable manifest: version only
        schema, watermark = None, None
    schema = delivered_in or schema
    with sessions() as session:
        status = session.get(ProductStatus, product_id)
    return trail_at(at, schema, watermark, status.status if status else "healthy", version)


def resume_export_jobs(metadata_db_url: str, lake: Lake, catalog: Catalog) -> list[str]:
    """Run every job no live runner holds (left queued, or running by a process that died);
    returns the ids this process ran."""
    with session_factory(metadata_db_url)() as session:
        ids = list(
            session.scalars(
                select(ExportJob.id).where(claimable(utcnow())).order_by(ExportJob.created_at)
            )
        )
    ran = []
    for job_id in ids:
        if run_export_job(metadata_db_url, lake, catalog, job_id) != RUNNING:
            ran.append(job_id)
    return ran


def _public_error(exc: Exception, job_id: str) -> str:
    """What the buyer sees of a failure: an export error's own message; for anything else
    only its kind, since its text may name server paths (the full text is in the log and
    the audit entry)."""
    if isinstance(exc, ExportError):
        return str(exc)[:2000]
    kind = type(exc).__name__
    return f"the export could not be written ({kind}); job {job_id} is in the seller's log"


def _audit_run(session: Session, tenant_id: str, job_id: str, outcome: str, details: dict) -> None:
    audit.record(session, tenant_id, "system", "export.run", job_id, outcome, details)


def _finish(session: Session, job_id: str, **values: object) -> bool:
    """Record the end of this process's run; False if it no longer holds the lease."""
    done = session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.lease_owner == RUNNER_ID)
        .values(finished_at=utcnow(), lease_expires_at=None, **values)
    )
    return done.rowcount == 1


def _progress(sessions, job_id: str) -> Callable[[int], None]:
    """A progress callback that writes rows_done at most every PROGRESS_EVERY_S."""
    last = [0.0]

    def report(rows_done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            with sessions.begin() as session:
                session.execute(
                    update(ExportJob).where(ExportJob.id == job_id).values(rows_done=rows_done)
                )

    return report
