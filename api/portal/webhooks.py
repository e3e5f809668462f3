"""Webhook endpoints for usage alerts: register (the signing secret shown once), list,
remove, and read each endpoint's delivery log, through the /v1/webhooks routes' functions."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import ServicesDep
from api.errors import ApiError
from api.portal.session import Viewer, ViewerDep, check_csrf
from api.portal.web import PortalRoute, render, see_other
from api.routes import webhooks
from api.services import Services
from tollgate.webhooks.events import EVENT_TYPES

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
Field = Annotated[str, Form(max_length=900)]
EndpointId = Annotated[str, Path(max_length=32)]
_ENDPOINT_ID = re.compile(r"^we_[0-9a-f]+$")
_EVENT_ID = re.compile(r"^msg_[A-Za-z0-9_-]+$")


def _page(request: Request, services: Services, viewer: Viewer, status: int = 200, **extra):
    listed = webhooks.list_endpoints(services, viewer.principal)
    return render(request, "webhooks.html", viewer, status, endpoints=listed.endpoints,
                  event_types=EVENT_TYPES, **extra)  # fmt: skip


@router.get("/webhooks")
async def webhooks_page(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    return await asyncio.to_thread(_page, request, services, viewer)


@router.post("/webhooks")
async def register(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    form = await request.form()
    check_csrf(request, viewer.csrf, str(form.get("csrf_token", "")))
    chosen = [str(t) for t in form.getlist("event_types")]
    try:
        body = webhooks.EndpointIn(
            url=str(form.get("url", "")).strip(),
            event_types=chosen or None,
            description=str(form.get("description", "")).strip(),
        )
        created = await asyncio.to_thread(webhooks.register, services, viewer.principal, body)
    except ValidationError:
        return await asyncio.to_thread(_page, request, services, viewer, 422,
                                       error="The URL or description is too long.")  # fmt: skip
    except ApiError as exc:
        return await asyncio.to_thread(_page, request, services, viewer, exc.status,
                                       error=exc.message)  # fmt: skip
    return await asyncio.to_thread(_page, request, services, viewer, 201, created=created)


def _id(endpoint_id: str) -> str:
    # The API's path pattern; anything else names no endpoint.
    if not _ENDPOINT_ID.match(endpoint_id):
        raise ApiError(404, "webhook_not_found", f"no webhook endpoint {endpoint_id!r}")
    return endpoint_id


@router.get("/webhooks/{endpoint_id}")
async def endpoint_page(
    request: Request,
    endpoint_id: EndpointId,
    viewer: ViewerDep,
    services: ServicesDep,
    sent: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    endpoint_id = _id(endpoint_id)
    # After "Send a test event": its id, to find in the log (shown only if it is an id).
    extra = {"sent": sent} if sent and _EVENT_ID.match(sent) else {}
    endpoint = await asyncio.to_thread(webhooks.get_one, services, viewer.principal, endpoint_id)
    log = await asyncio.to_thread(webhooks.deliveries, services, viewer.principal, endpoint_id, 100)
    return render(request, "webhook.html", viewer, endpoint=endpoint, log=log, **extra)


@router.post("/webhooks/{endpoint_id}/test")
async def send_test(
    request: Request,
    endpoint_id: EndpointId,
    viewer: ViewerDep,
    services: ServicesDep,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(request, viewer.csrf, csrf_token)
    sent = await asyncio.to_thread(webhooks.send_test, services, viewer.principal, _id(endpoint_id))
    return see_other(f"/portal/webhooks/{sent.endpoint_id}?sent={sent.event_id}")


@router.post("/webhooks/{endpoint_id}/delete")
async def remove(
    request: Request,
    endpoint_id: EndpointId,
    viewer: ViewerDep,
    services: ServicesDep,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(request, viewer.csrf, csrf_token)
    await asyncio.to_thread(webhooks.delete, services, viewer.principal, _id(endpoint_id))
    return see_other("/portal/webhooks")
