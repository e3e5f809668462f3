"""Sign in with an API key or OAuth client credentials; sign out."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.auth import Principal
from api.deps import ServicesDep, _auth_failed, client_address, refuse_repeated_failures
from api.errors import ApiError
from api.portal.session import (
    ViewerDep,
    check_csrf,
    clear_cookie,
    new_csrf,
    read_cookie,
    write_cookie,
)
from api.portal.web import PortalRoute, render, see_other
from api.services import Services
from tollgate import audit

router = APIRouter(prefix="/portal", route_class=PortalRoute, include_in_schema=False)
Field = Annotated[str, Form(max_length=300)]


def _safe_next(target: str | None) -> str:
    """Only a portal path: never another site (`//host`, `/portal@host`) after sign-in."""
    if target and target.startswith("/portal/") and "//" not in target and "\\" not in target:
        return target
    return "/portal/catalog"


def _login_page(request: Request, services: Services, status: int = 200, error: str = "",
                next_url: str = "") -> Response:  # fmt: skip
    token = read_cookie(request, services).get("x") or new_csrf()
    response = render(
        request, "login.html", status=status, csrf=token, error=error, next_url=next_url
    )
    write_cookie(request, response, services, {"x": token})
    return response


@router.get("/login")
def login_form(request: Request, services: ServicesDep, next: str = "") -> Response:
    return _login_page(request, services, next_url=_safe_next(next) if next else "")


def _authenticate(services: Services, api_key: str, client_id: str, secret: str) -> Principal:
    store = services.credentials
    if api_key:
        principal = store.authenticate(api_key)
        if principal.key_id is None:
            # An access token is short-lived: sign in with the client credentials instead.
            raise ApiError(401, "invalid_credentials", "sign in with an API key")
        return principal
    return store.authenticate(store.issue_token(client_id, secret))


@router.post("/login")
async def login(
    request: Request,
    services: ServicesDep,
    csrf_token: Field = "",
    api_key: Field = "",
    client_id: Field = "",
    client_secret: Field = "",
    next: Field = "",
) -> Response:
    expected = read_cookie(request, services).get("x", "")
    check_csrf(request, expected, csrf_token)
    api_key, client_id = api_key.strip(), client_id.strip()
    if not api_key and not (client_id and client_secret):
        return _login_page(request, services, 400, "Give an API key, or a client id and secret.")
    address = client_address(request)
    await refuse_repeated_failures(services, address)
    try:
        principal = await asyncio.to_thread(
            _authenticate, services, api_key, client_id, client_secret
        )
    except ApiError as exc:
        await asyncio.to_thread(
            _auth_failed, services, address, api_key or None, exc.code, request.url.path
        )
        return _login_page(request, services, 401, "Those credentials were not accepted.", next)
    credential = principal.credential
    await asyncio.to_thread(
        audit.record_now,
        services.settings.metadata_db_url,
        principal.tenant_id,
        credential,
        "portal.sign_in",
        principal.tenant_id,
    )
    response = see_other(_safe_next(next))
    # A fresh token at sign-in: one planted before it is worth nothing after.
    session = {"t": principal.tenant_id, "c": credential, "x": new_csrf()}
    write_cookie(request, response, services, session)
    return response


@router.post("/logout")
def logout(request: Request, services: ServicesDep, csrf_token: Field = "") -> Response:
    # A buyer's or a seller's session; one whose credential was revoked may sign out too.
    check_csrf(request, read_cookie(request, services).get("x", ""), csrf_token)
    response = see_other("/portal/login")
    clear_cookie(response)
    return response


@router.get("")
@router.get("/")
def home(viewer: ViewerDep) -> Response:
    return see_other("/portal/catalog")
