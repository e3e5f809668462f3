"""Portal sessions: a signed cookie naming the tenant and the credential that signed in.

The cookie holds no secret: `{"t": tenant id, "c": "key:<id>" | "client:<id>", "x": CSRF
token}`, signed with the deployment secret and dated, so it cannot be forged or kept past
`SESSION_SECONDS`. Each request re-checks the credential as the API does (revoked, expired
or suspended ends the session within the credential cache's second). Every form carries the
session's CSRF token; a POST whose token or Origin does not match is refused.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from api.auth import Principal
from api.deps import ServicesDep
from api.errors import ApiError
from api.services import Services

COOKIE = "tollgate_portal"
COOKIE_PATH = "/portal"
SESSION_SECONDS = 8 * 3600
_SALT = "tollgate-portal-session"


class SignInRequired(Exception):
    """The page needs a signed-in tenant: the portal answers with the sign-in page."""


class PortalError(Exception):
    """A page the portal answers with an HTML error of `status`."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def _serializer(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.settings.secret(), salt=_SALT)


def read_cookie(request: Request, services: Services) -> dict:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(services).loads(raw, max_age=SESSION_SECONDS)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def write_cookie(request: Request, response, services: Services, data: dict) -> None:
    response.set_cookie(
        COOKIE,
        _serializer(services).dumps(data),
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Viewer:
    """The signed-in tenant as the API would see its credential, plus the session's token."""

    principal: Principal
    csrf: str
    credential: str

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id


async def current_viewer(request: Request, services: ServicesDep) -> Viewer:
    data = read_cookie(request, services)
    tenant_id, credential, csrf = data.get("t"), data.get("c"), data.get("x")
    if not (isinstance(tenant_id, str) and isinstance(credential, str) and csrf):
        raise SignInRequired
    try:
        principal = await asyncio.to_thread(
            services.credentials.principal_for, credential, tenant_id
        )
    except ApiError:
        raise SignInRequired from None
    return Viewer(principal, str(csrf), credential)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def same_origin(request: Request) -> bool:
    """False when the browser says the form came from another site."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own


def check_csrf(request: Request, expected: str, given: str | None) -> None:
    """Refuse (403) a form without the session's token or sent from another origin."""
    if not given or not expected or not hmac.compare_digest(expected, given):
        raise PortalError(403, "Form expired", "The form was not sent from this session. Reload "
                          "the page and try again.")  # fmt: skip
    if not same_origin(request):
        raise PortalError(403, "Refused", "The form was sent from another site.")
