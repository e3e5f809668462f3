"""Delta Sharing file downloads: the signed URLs a table query hands out.

A URL is signed as export download links are (`tollgate.exports.signing`) over the file,
the tenant, its expiry and the credential it was issued to; a changed or expired URL is
refused, and so is one whose credential or tenant is no longer in good standing, or whose
region the tenant may no longer receive. A download is metered like an export, per record
under the export price, with one ledger id per tenant and file: re-downloading a file, or
reading it in ranges, bills its rows once. Its ledger record carries the delivery trail:
schema version, snapshot version, the snapshot's freshness and the product's status.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.types import Receive, Scope, Send

from api import metering
from api.deps import ServicesDep, entitled, view_of
from api.errors import ApiError, error_response, error_responses
from api.metering import Delivery
from api.sharingfiles import FILES_ROUTE, file_id
from tollgate import audit
from tollgate.clock import utcnow
from tollgate.exports import SignatureError, verify_download
from tollgate.sharing.files import parse_view
from tollgate.usage import trail_at
from tollgate.usage_journal import JournalError

router = APIRouter(prefix=FILES_ROUTE, tags=["sharing"])
PARQUET = "application/vnd.apache.parquet"
_NAME = r"^[A-Za-z0-9_.-]+$"


class MeteredFileResponse(FileResponse):
    """A file that leaves only once its delivery is durable in the ledger."""

    def __init__(self, path, receipt, **kwargs) -> None:
        super().__init__(path, **kwargs)
        self.receipt = receipt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.receipt is not None:
            try:
                await self.receipt.durable()
            except JournalError:
                refusal = error_response(
                    503,
                    "metering_unavailable",
                    "the file could not be metered; nothing was billed, try again",
                    headers={"Retry-After": "1"},
                )
                await refusal(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


FILE = "/{tenant_id}/{product_id}/{version}/{view}/{part}.parquet"


@router.head(FILE, include_in_schema=False)
@router.get(
    FILE,
    response_class=FileResponse,
    responses={
        200: {"description": "The Parquet file; `Range` reads part of it (206)"},
        **error_responses(403, 404, 503),
    },
    summary="Download a shared file (a signed URL from a table query)",
    openapi_extra={"security": [{}]},
)
def download_shared_file(
    request: Request,
    services: ServicesDep,
    tenant_id: Annotated[str, Path(max_length=64, pattern=_NAME)],
    product_id: Annotated[str, Path(max_length=64, pattern=_NAME)],
    version: Annotated[str, Path(pattern=r"^v\d{6}$")],
    view: Annotated[str, Path(max_length=32, pattern=_NAME)],
    part: Annotated[str, Path(pattern=r"^part-\d{5}$")],
    expires: Annotated[str, Query(max_length=20)] = "",
    credential: Annotated[str, Query(max_length=80)] = "",
    signature: Annotated[str, Query(max_length=128)] = "",
) -> FileResponse:
    db_url = services.settings.metadata_db_url
    path = f"{product_id}/{version}/{view}/{part}"
    try:
        verify_download(
            services.settings.secret(), path, tenant_id, expires, signature, credential=credential
        )
    except SignatureError as exc:
        audit.record_now(db_url, None, "signed-link", "sharing.download", path, "denied",
                         {"reason": exc.reason, "tenant_id": tenant_id})  # fmt: skip
        code = "link_expired" if exc.reason == "expired" else "invalid_signature"
        raise ApiError(403, code, f"file URL {exc.reason}; query the table again") from None
    # A genuine URL still needs its tenant and credential in good standing now.
    try:
        principal = services.credentials.principal_for(credential, tenant_id)
    except ApiError as exc:
        raise ApiError(403, exc.code, exc.message) from None
    request.state.tenant_id = tenant_id
    product = entitled(services, principal, product_id)
    terms = services.contracts.terms_for(principal, product, "export")
    try:
        shared = services.sharing.view(product, version, view)
    except FileNotFoundError:
        shared = None
    f = shared.file(part) if shared is not None else None
    if f is None:
        raise ApiError(404, "file_not_found", f"no file {path!r}")
    regions = view_of(services, principal, product, None, parse_view(view)[1]).regions
    if regions is not None and product.region_column and f.region not in regions:
        raise ApiError(
            403, "region_not_allowed", f"this tenant may not receive data from {f.region}"
        )
    local = services.sharing.path(product_id, version, view, part)
    if request.method == "HEAD":
        return FileResponse(local, media_type=PARQUET)
    trail = trail_at(
        utcnow(),
        parse_view(view)[1],
        services.snapshot_watermark(product.id, version),
        services.status(product, version).status,
        version,
    )
    receipt = metering.record_delivery(
        Delivery(
            tenant_id=tenant_id,
            product_id=product.id,
            units=f.rows,
            bytes=f.bytes,
            route=FILES_ROUTE,
            request_id=request.state.request_id,
            fixed_id=f"sharing:{tenant_id}:{file_id(shared, f)}",
            channel="export",
            terms=terms,
            trail=trail,
        )
    )
    return MeteredFileResponse(local, receipt, media_type=PARQUET, filename=f"{part}.parquet")
