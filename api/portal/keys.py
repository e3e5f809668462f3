"""The tenant's own API keys: issue (the secret shown once), name, expiry, revoke, last use.

Keys are issued and revoked by the same functions the seller's CLI uses, so each change is
audited the same way; the actor is the credential signed in to the portal.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import ServicesDep
from api.portal.session import PortalError, Viewer, ViewerDep, check_csrf
from api.portal.web import PortalRoute, render, see_other
from api.services import Services
from tollgate import tenants
from tollgate.db.models import ApiKey
from tollgate.errors import TollgateError
from tollgate.keys import NewKey

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
Field = Annotated[str, Form(max_length=200)]


def _keys(services: Services, tenant_id: str) -> list[ApiKey]:
    with Session(services.metadata_engine, expire_on_commit=False) as session:
        return tenants.list_keys(session, tenant_id)


def _page(request: Request, services: Services, viewer: Viewer, status: int = 200, **extra):
    keys = _keys(services, viewer.tenant_id)
    return render(request, "keys.html", viewer, status, keys=keys, **extra)


@router.get("/keys")
async def keys_page(request: Request, viewer: ViewerDep, services: ServicesDep) -> Response:
    return await asyncio.to_thread(_page, request, services, viewer)


def _expiry(text: str) -> datetime | None:
    """The end of the day given (UTC), or None for a key that does not expire."""
    if not text.strip():
        return None
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise PortalError(400, "Invalid expiry", "Give the expiry day as YYYY-MM-DD.") from None
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def _issue(services: Services, viewer: Viewer, name: str, expires: datetime | None) -> NewKey:
    with Session(services.metadata_engine) as session:
        return tenants.issue_key(
            session, viewer.tenant_id, name, expires, actor=f"portal:{viewer.credential}"
        )


@router.post("/keys")
async def issue_key(
    request: Request,
    viewer: ViewerDep,
    services: ServicesDep,
    csrf_token: Field = "",
    name: Field = "",
    expires: Field = "",
) -> Response:
    check_csrf(request, viewer.csrf, csrf_token)
    try:
        key = await asyncio.to_thread(_issue, services, viewer, name.strip(), _expiry(expires))
    except TollgateError as exc:
        return await asyncio.to_thread(_page, request, services, viewer, 400, error=str(exc))
    # The one time the secret is shown: the page is never cached (Cache-Control: no-store).
    return await asyncio.to_thread(_page, request, services, viewer, 201, new_key=key, name=name)


def _revoke(services: Services, viewer: Viewer, key_id: str) -> None:
    with Session(services.metadata_engine) as session:
        row = session.get(ApiKey, key_id)
        # Another tenant's key id is as unknown here as one that never existed.
        if row is None or row.tenant_id != viewer.tenant_id:
            raise PortalError(404, "Not found", f"There is no API key {key_id!r}.")
        if row.revoked_at is not None:
            raise PortalError(409, "Already revoked", f"API key {key_id} is already revoked.")
        tenants.revoke_key(session, key_id, actor=f"portal:{viewer.credential}")


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    request: Request, key_id: str, viewer: ViewerDep, services: ServicesDep, csrf_token: Field = ""
) -> Response:
    check_csrf(request, viewer.csrf, csrf_token)
    await asyncio.to_thread(_revoke, services, viewer, key_id[:64])
    return see_other("/portal/keys")
