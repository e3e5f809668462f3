"""An export job as the API answers it: its status (progress, the signed download link, the
data's headers) and the lookup that keeps one tenant's jobs from another's."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Response
from sqlalchemy import select

from api.auth import Principal
from api.delivery import status_headers
from api.errors import ApiError
from api.exportmodels import ExportData, ExportStatus
from api.services import Services
from tollgate.db.engine import session_factory
from tollgate.db.models import ExportJob
from tollgate.exports import download_params
from tollgate.exports.jobs import SUCCEEDED


def export_status(
    services: Services, job: ExportJob, principal: Principal, response: Response | None = None
) -> ExportStatus:
    """The job as GET /v1/exports/{id} answers it; with `response`, the data's headers on it."""
    url = None
    if job.status == SUCCEEDED and job.expires_at is not None:
        # The link names the credential it was issued to: revoking it revokes the link.
        params = download_params(
            services.settings.secret(), job.id, job.tenant_id, job.expires_at, principal.credential
        )
        url = f"/v1/exports/{job.id}/download?{urlencode(params)}"
    total = job.rows_total or 0
    version = job.params["snapshot_version"]
    state = services.status(services.catalog.product(job.product_id), version)
    if response is not None:
        response.headers.update(status_headers(state))
        response.headers["X-Data-Delay"] = str(_delay_of(services, job))
        response.headers["X-Data-Sample"] = f"{job.params.get('sample_fraction', 1.0):g}"
    return ExportStatus(
        id=job.id,
        product_id=job.product_id,
        format=job.format,
        status=job.status,  # type: ignore[arg-type]
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        progress=1.0 if job.status == SUCCEEDED else (job.rows_done / total if total else 0.0),
        bytes=job.bytes,
        checksum_sha256=job.checksum,
        created_at=job.created_at,
        finished_at=job.finished_at,
        expires_at=job.expires_at,
        error=job.error,
        download_url=url,
        data_schema_version=schema_of(services, job),
        metadata=ExportData(
            snapshot_version=version,
            watermark_at=state.watermark_at,
            freshness_seconds=state.freshness_seconds,
            freshness_sla_seconds=state.sla_seconds,
            status=state.status,
            status_reason=state.reason,
            regions=job.params.get("regions") or services.catalog.regions,
            delay_seconds=_delay_of(services, job),
            sample_fraction=job.params.get("sample_fraction", 1.0),
        ),
    )


def schema_of(services: Services, job: ExportJob) -> str:
    """The schema version whose columns the job's file holds."""
    asked = (job.params or {}).get("schema_version")
    return asked or services.catalog.product(job.product_id).schema_version.version


def _delay_of(services: Services, job: ExportJob) -> int:
    """The tier's delay the job's rows were cut at."""
    return (job.params or {}).get("delay_seconds", 0)


def find_job(services: Services, export_id: str, tenant_id: str | None) -> ExportJob:
    """The job, or 404 (also when it belongs to another tenant: ids are not disclosed)."""
    query = select(ExportJob).where(ExportJob.id == export_id)
    if tenant_id is not None:
        query = query.where(ExportJob.tenant_id == tenant_id)
    with session_factory(services.settings.metadata_db_url)() as session:
        job = session.scalars(query).first()
        if job is None:
            raise ApiError(404, "export_not_found", f"no export {export_id!r}")
        session.expunge(job)
    return job
