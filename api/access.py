"""Admission of a caller: the failed-login throttle, authentication and the hourly budget.

`admit` is what every authenticated route runs first, through the `PrincipalDep`
dependency or, for the metered lookup, through `api.lookup`'s lean path: both reach the
same checks in the same order, so the two cannot differ in who they let in.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from api.auth import Principal
from api.errors import ApiError
from api.services import Services
from tollgate import audit
from tollgate.clock import utcnow
from tollgate.keys import parse_api_key


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an `Authorization: Bearer <credentials>` header, else None (as
    FastAPI's HTTPBearer reads it, so the lean path and the dependency agree)."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if not scheme or not credentials or scheme.lower() != "bearer":
        return None
    return credentials


async def admit(request: Request, services: Services, token: str | None) -> Principal:
    """Authenticate, then spend one request of the tenant's hourly budget (or refuse with 429).
    An address that failed to authenticate too often is refused (429) before any check."""
    address = client_address(request)
    await refuse_repeated_failures(services, address)
    # Only database and Redis reads go to a thread; the common path stays on the event loop.
    store = services.credentials
    try:
        principal = store.authenticate_cached(token)
        if principal is None:
            principal = await asyncio.to_thread(store.authenticate, token)
    except ApiError as exc:
        await asyncio.to_thread(_auth_failed, services, address, token, exc.code, request.url.path)
        raise
    state = request.state
    state.tier = principal.tier
    state.tenant_id = principal.tenant_id
    limits = services.limits
    if limits.in_memory:
        decision = limits.hit(principal.tenant_id, principal.tier)
    else:
        decision = await asyncio.to_thread(limits.hit, principal.tenant_id, principal.tier)
    state.rate_headers = decision.headers()
    services.alerts.note_rate(
        principal.tenant_id, principal.tier, decision.limit, decision.remaining
    )
    if not decision.allowed:
        services.metrics.rate_limited.labels(principal.tier).inc()
        raise ApiError(
            429,
            "rate_limited",
            f"the {principal.tier} tier allows {decision.limit} requests per hour",
            {"limit": decision.limit, "retry_after_seconds": decision.reset_seconds},
            headers={"Retry-After": str(max(1, decision.reset_seconds))},
        )
    if principal.key_id:
        services.last_used.note(principal.key_id, utcnow())
    return principal


def client_address(request: Request) -> str:
    client = request.scope.get("client")  # `request.client` would build an Address each time
    return client[0] if client else "unknown"


async def refuse_repeated_failures(services: Services, address: str) -> None:
    """429 with Retry-After for an address that failed to authenticate too often."""
    throttle = services.failed_logins
    if services.limits.in_memory:
        wait = throttle.retry_after(address)
    else:
        wait = await asyncio.to_thread(throttle.retry_after, address)
    if wait is not None:
        raise ApiError(
            429,
            "too_many_failed_logins",
            "too many failed authentications from this address; wait before trying again",
            {"retry_after_seconds": wait},
            headers={"Retry-After": str(wait)},
        )


def _auth_failed(services: Services, address: str, token: str | None, code: str, path: str) -> None:
    services.failed_logins.failed(address)
    parsed = parse_api_key(token) if token else None
    actor = f"key:{parsed[0]}" if parsed else ("anonymous" if not token else "bearer-token")
    audit.record_now(
        services.settings.metadata_db_url, None, actor, "auth", path, "denied", {"code": code}
    )
