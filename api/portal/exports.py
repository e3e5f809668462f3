"""Exports: create one, follow its progress, download the file, through the export routes'
own functions (the same checks, billing and audit as POST /v1/exports)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import ServicesDep
from api.errors import ApiError
from api.exportmodels import ExportRequest
from api.portal.session import PortalError, Viewer, ViewerDep, check_csrf
from api.portal.web import PortalRoute, render, see_other
from api.routes import exports
from api.services import Services
from tollgate.db.models import ExportJob

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
Field = Annotated[str, Form(max_length=300)]
ExportId = Annotated[str, Path(max_length=64)]
LISTED = 50


def _recent(services: Services, tenant_id: str) -> list[ExportJob]:
    query = (
        select(ExportJob)
        .where(ExportJob.tenant_id == tenant_id)
        .order_by(ExportJob.created_at.desc())
        .limit(LISTED)
    )
    with Session(services.metadata_engine, expire_on_commit=False) as session:
        return list(session.scalars(query))


def _page(request: Request, services: Services, viewer: Viewer, status: int = 200, **extra):
    batch = [p for p in services.catalog.products_for_tier(viewer.principal.tier)
             if p.lane == "batch"]  # fmt: skip
    jobs = _recent(services, viewer.tenant_id)
    return render(request, "exports.html", viewer, status, jobs=jobs, products=batch,
                  regions=services.catalog.regions, **extra)  # fmt: skip


@router.get("/exports")
async def exports_page(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    return await asyncio.to_thread(_page, request, services, viewer)


def _day(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PortalError(400, "Invalid date", "Give dates as YYYY-MM-DD.") from None


@router.post("/exports")
async def create_export(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    csrf_token: Field = "",
    product: Field = "",
    format: Field = "csv",
    date_from: Field = "",
    date_to: Field = "",
    region: Field = "",
    columns: Field = "",
) -> Response:
    check_csrf(request, viewer.csrf, csrf_token)
    principal = viewer.principal
    try:
        body = ExportRequest(
            product_id=product,
            format=format,
            date_from=_day(date_from),
            date_to=_day(date_to),
            region=region or None,
            columns=[c.strip() for c in columns.split(",") if c.strip()] or None,
        )
    except ValidationError:
        return await asyncio.to_thread(
            _page, request, services, viewer, 422, error="The export request is not valid."
        )
    decision = await asyncio.to_thread(services.limits.hit, principal.tenant_id, principal.tier)
    if not decision.allowed:
        raise ApiError(429, "rate_limited", f"the {principal.tier} tier allows "
                       f"{decision.limit} requests per hour")  # fmt: skip
    try:
        status = await asyncio.to_thread(
            exports.create_export, request, Response(), services, principal, body
        )
    except ApiError as exc:
        return await asyncio.to_thread(
            _page, request, services, viewer, exc.status, error=f"{exc.code}: {exc.message}"
        )
    return see_other(f"/portal/exports/{status.id}")


@router.get("/exports/{export_id}")
async def export_page(
    request: Request, export_id: ExportId, viewer: ViewerDep, services: ServicesDep
) -> Response:
    status = await asyncio.to_thread(exports.get_export, services, viewer.principal, export_id)
    response = render(request, "export.html", viewer, job=status)
    if status.status in ("queued", "running"):
        # Follows progress without a script: the page reloads itself until the job ends.
        response.headers["Refresh"] = "2"
    return response


@router.get("/exports/{export_id}/download")
async def download(export_id: ExportId, viewer: ViewerDep, services: ServicesDep) -> Response:
    return await asyncio.to_thread(exports.download_export, services, viewer.principal, export_id)
