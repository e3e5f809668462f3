"""Bulk exports: create a job, watch its progress, download the file (Range, signed links).

The job runs on the app's export worker, never in the request. It is billed once, when it
finishes (tollgate.exports.jobs); downloads, re-downloads and resumed downloads are free.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from api.auth import Principal
from api.contracts import purchased_version
from api.delivery import refuse_halted, status_headers
from api.deps import (
    PrincipalDep,
    SchemaHeader,
    ServicesDep,
    check_region_filter,
    entitled,
    held_shape,
    principal_unless_signed,
    schema_version,
    view_of,
)
from api.errors import ApiError, error_responses
from api.exportmodels import STATUS_DOC, ExportRequest, ExportStatus
from api.exportstatus import export_status, find_job, schema_of
from tollgate import audit
from tollgate.clock import utcnow
from tollgate.db.engine import session_factory
from tollgate.exports import ExportError, SignatureError, verify_download
from tollgate.exports.jobs import SUCCEEDED, RowCapExceeded, plan_export

router = APIRouter(prefix="/v1/exports", tags=["exports"])
ExportId = Annotated[str, Path(max_length=64)]


@router.post(
    "",
    status_code=202,
    response_model=ExportStatus,
    responses={
        202: STATUS_DOC,
        **error_responses(400, 401, 403, 404, 410, 413, 422, 429, 503),
    },
    summary="Create a bulk export job of a batch product",
)
def create_export(
    request: Request,
    response: Response,
    services: ServicesDep,
    principal: PrincipalDep,
    body: ExportRequest,
    schema: SchemaHeader = None,
) -> ExportStatus:
    product = entitled(services, principal, body.product_id)
    if product.lane != "batch":
        raise ApiError(
            422, "not_exportable", f"{product.id} is a live product; only batch products export"
        )
    shape = schema_version(product, schema)
    view = view_of(services, principal, product, body.region, shape.name)
    if product.region_column in body.filters:
        asked = body.filters[product.region_column]
        check_region_filter(
            services, principal, product, asked if isinstance(asked, list) else [asked]
        )
    terms = services.contracts.terms_for(principal, product, "export")
    refuse_halted(product.id, services.product_status(product.id))
    lake = services.batch.lake
    # As queries do: a degraded product exports the last version that passed its gate.
    current = services.served_version(product.id)
    if current is None:
        raise ApiError(
            503,
            "not_published",
            f"{product.id} has no published snapshot yet",
            headers={"Retry-After": "300"},
        )
    version = purchased_version(lake, terms, product.id, current)
    # The snapshot's columns are those of the schema version it was published in.
    held = lake.read_manifest(product.id, version).schema_version
    shape = held_shape(product, shape, schema is not None, held)
    tier = services.catalog.tiers[principal.tier]
    try:
        job = plan_export(
            lake,
            product,
            principal.tenant_id,
            body.format,
            tier.export_row_cap,
            date_from=body.date_from,
            date_to=body.date_to,
            filters=body.filters,
            columns=body.columns,
            regions=view.regions,
            not_after=view.not_after_date(utcnow()),
            sample_fraction=view.sample_fraction,
            version=version,
            terms=terms,
            schema_version=shape.name,
            held_version=held,
        )
    except RowCapExceeded as exc:
        raise ApiError(
            413, "export_too_large", str(exc), {"rows": exc.rows, "row_cap": exc.cap}
        ) from None
    except ExportError as exc:
        raise ApiError(422, "invalid_export", str(exc)) from None
    job.params = {**job.params, "delay_seconds": view.delay_seconds}
    with session_factory(services.settings.metadata_db_url).begin() as session:
        session.add(job)
        audit.record(
            session,
            principal.tenant_id,
            principal.credential,
            "export.create",
            job.id,
            details={"product_id": product.id, "format": body.format, "rows": job.rows_total},
        )
        session.flush()
        session.expunge(job)
    request.app.state.export_worker.submit(job.id)
    response.headers["X-Data-Schema-Version"] = shape.name
    response.headers.update(shape.headers(utcnow()))
    return export_status(services, job, principal, response)


@router.get(
    "/{export_id}",
    response_model=ExportStatus,
    responses={200: STATUS_DOC, **error_responses(401, 404, 429)},
    summary="An export job's status and progress",
)
def get_export(
    services: ServicesDep,
    principal: PrincipalDep,
    export_id: ExportId,
    response: Response = None,  # type: ignore[assignment]  # FastAPI passes it; the portal not
) -> ExportStatus:
    job = find_job(services, export_id, principal.tenant_id)
    return export_status(services, job, principal, response)


@router.get(
    "/{export_id}/download",
    response_class=FileResponse,
    responses={
        200: {"description": "The file; `Range` resumes (206), `If-Range` takes the ETag"},
        206: {"description": "The requested byte range"},
        **error_responses(401, 403, 404, 409, 410, 429),
    },
    summary="Download a finished export (API key, or a signed link without one)",
    # A signed link stands in for the bearer credential: the header is optional here.
    openapi_extra={"security": [{}]},
)
def download_export(
    services: ServicesDep,
    principal: Annotated[Principal | None, Depends(principal_unless_signed)],
    export_id: ExportId,
    expires: Annotated[str | None, Query(max_length=20)] = None,
    signature: Annotated[str | None, Query(max_length=128)] = None,
    credential: Annotated[str | None, Query(max_length=80)] = None,
) -> FileResponse:
    url = services.settings.metadata_db_url
    if principal is None:
        job = find_job(services, export_id, None)
        try:
            verify_download(
                services.settings.secret(),
                job.id,
                job.tenant_id,
                expires or "",
                signature or "",
                credential=credential or "",
            )
        except SignatureError as exc:
            audit.record_now(
                url,
                job.tenant_id,
                "signed-link",
                "export.download",
                job.id,
                "denied",
                {"reason": exc.reason},
            )
            code = "link_expired" if exc.reason == "expired" else "invalid_signature"
            raise ApiError(403, code, str(exc)) from None
        # A genuine link still needs its tenant and credential in good standing now.
        refused = services.credentials.refusal(credential or "", job.tenant_id)
        if refused is not None:
            audit.record_now(url, job.tenant_id, "signed-link", "export.download", job.id,
                             "denied", {"reason": refused.code})  # fmt: skip
            raise ApiError(403, refused.code, refused.message)
        actor = "signed-link"
    else:
        job = find_job(services, export_id, principal.tenant_id)
        actor = principal.credential
    if job.status != SUCCEEDED or not job.checksum:
        raise ApiError(
            409, "export_not_ready", f"the export is {job.status}", {"status": job.status}
        )
    if job.expires_at is not None and job.expires_at <= datetime.now(UTC):
        raise ApiError(410, "export_expired", "the export's file has expired")
    product = services.catalog.product(job.product_id)
    path = services.batch.lake.export_file(job.tenant_id, job.id, job.format)
    if not path.exists():
        raise ApiError(410, "export_expired", "the export's file is no longer held")
    audit.record_now(url, job.tenant_id, actor, "export.download", job.id)
    digest = base64.b64encode(bytes.fromhex(job.checksum)).decode()
    headers: dict[str, Any] = {
        # The checksum is the ETag, so `If-Range` resumes only the same file.
        "ETag": f'"{job.checksum}"',
        "X-Checksum-SHA256": job.checksum,
        "Repr-Digest": f"sha-256=:{digest}:",
        "Digest": f"sha-256={digest}",
        "X-Data-Schema-Version": schema_of(services, job),
        **status_headers(services.status(product, job.params["snapshot_version"])),
    }
    media = {"csv": "text/csv", "jsonl": "application/x-ndjson"}.get(
        job.format, "application/vnd.apache.parquet"
    )
    return FileResponse(path, media_type=media, filename=f"{job.id}.{job.format}", headers=headers)
