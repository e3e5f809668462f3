"""Who is calling: API keys (`tg_<id>_<secret>`) or OAuth2 client-credentials JWTs.

Both end in a `Principal` for an active tenant. Every refusal is a 401 with a reason code;
the messages never say whether a key id exists. Stored credential rows are re-read at most
every `ttl_seconds` per process (a revocation or suspension applies within that time); the
secret itself is verified on every request.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import Engine, select

from api.errors import ApiError
from tollgate.clock import utcnow
from tollgate.db.models import ApiKey, OAuthClient, Tenant
from tollgate.keys import parse_api_key, verify_secret
from tollgate.settings import Settings

# Pinned: tokens are only ever HS256; anything else (none, RS256 confusion) is refused.
JWT_ALGORITHM = "HS256"
_KEYS, _TENANTS, _CLIENTS = ApiKey.__table__, Tenant.__table__, OAuthClient.__table__
_TENANT_COLUMNS = (
    _TENANTS.c.id,
    _TENANTS.c.tier,
    _TENANTS.c.status,
    _TENANTS.c.allowed_regions,
    _TENANTS.c.tier_since,
)
_KEY_LOOKUP = select(
    _KEYS.c.secret_hash, _KEYS.c.revoked_at, _KEYS.c.expires_at, *_TENANT_COLUMNS
).join(_TENANTS, _TENANTS.c.id == _KEYS.c.tenant_id)
_CLIENT_LOOKUP = select(_CLIENTS.c.secret_hash, _CLIENTS.c.revoked_at, *_TENANT_COLUMNS).join(
    _TENANTS, _TENANTS.c.id == _CLIENTS.c.tenant_id
)


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    tier: str
    allowed_regions: frozenset[str] | None
    key_id: str | None = None
    client_id: str | None = None
    # When the tenant went onto its tier (a trial's days count from here).
    tier_since: datetime | None = None

    @property
    def credential(self) -> str:
        """The credential that authenticated, as audit records name the actor and signed
        links the credential they were issued to (revoking it revokes the link)."""
        return f"key:{self.key_id}" if self.key_id else f"client:{self.client_id}"


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="tollgate"'})


def _principal(row: Any, **credential: str | None) -> Principal:
    if row.status != "active":
        raise _unauthorized("tenant_suspended", "the tenant is suspended")
    regions = frozenset(row.allowed_regions) if row.allowed_regions is not None else None
    return Principal(row.id, row.tier, regions, tier_since=row.tier_since, **credential)


class CredentialStore:
    """Reads key and client rows (joined with their tenant) with a short per-process TTL."""

    def __init__(self, engine: Engine, settings: Settings, ttl_seconds: float = 1.0):
        self.engine, self.settings, self.ttl_seconds = engine, settings, ttl_seconds
        self._rows: dict[tuple[str, str], tuple[float, Any]] = {}
        # Each key's principal, with the row it was made from: made again when the row is.
        self._principals: dict[str, tuple[Any, Principal]] = {}

    def _row(self, kind: str, ident: str) -> Any:
        hit = self._rows.get((kind, ident))
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        if kind == "key":
            stmt = _KEY_LOOKUP.where(_KEYS.c.key_id == ident)
        elif kind == "client":
            stmt = _CLIENT_LOOKUP.where(_CLIENTS.c.client_id == ident)
        else:
            stmt = select(*_TENANT_COLUMNS).where(_TENANTS.c.id == ident)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if self.ttl_seconds > 0:
            self._rows[(kind, ident)] = (time.monotonic() + self.ttl_seconds, row)
        return row

    def authenticate_cached(self, token: str | None) -> Principal | None:
        """`authenticate(token)` when that needs no database read (so no thread hop), else
        None: the caller then authenticates off the event loop."""
        if not token:
            return self.authenticate(token)
        parsed = parse_api_key(token)
        hit = self._rows.get(("key", parsed[0])) if parsed else None
        if hit is None or hit[0] <= time.monotonic():
            return None
        return self._from_api_key(*parsed)

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise _unauthorized(
                "missing_credentials", "send an API key or access token as a Bearer token"
            )
        parsed = parse_api_key(token)
        if parsed is not None:
            return self._from_api_key(*parsed)
        if token.count(".") == 2:
            return self._from_jwt(token)
        raise _unauthorized("invalid_credentials", "the credentials are not valid")

    def _from_api_key(self, key_id: str, secret: str) -> Principal:
        row = self._row("key", key_id)
        if row is None or not verify_secret(secret, row.secret_hash):
            raise _unauthorized("invalid_credentials", "the credentials are not valid")
        if row.revoked_at is not None:
            raise _unauthorized("key_revoked", "the API key has been revoked")
        if row.expires_at is not None and row.expires_at <= utcnow():
            raise _unauthorized("key_expired", "the API key has expired")
        made = self._principals.get(key_id)
        if made is not None and made[0] is row:
            return made[1]
        principal = _principal(row, key_id=key_id)
        self._principals[key_id] = (row, principal)
        return principal

    def _from_jwt(self, token: str) -> Principal:
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                s.secret(),
                algorithms=[JWT_ALGORITHM],
                audience=s.jwt_audience,
                issuer=s.jwt_issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("token_expired", "the access token has expired") from None
        except jwt.InvalidTokenError:
            raise _unauthorized("invalid_token", "the access token is not valid") from None
        client_id = str(claims["client_id"])
        row = self._row("client", client_id)
        if row is None or row.id != claims["sub"] or row.revoked_at is not None:
            raise _unauthorized("invalid_token", "the access token is not valid")
        return _principal(row, client_id=client_id)

    def standing(self, principal: Principal) -> ApiError | None:
        """Why this caller may no longer be served (credential revoked or expired, tenant
        suspended), or None. Rows are re-read at most every `ttl_seconds`."""
        kind = "key" if principal.key_id else "client"
        return self.refusal(
            f"{kind}:{principal.key_id or principal.client_id}", principal.tenant_id
        )

    def refusal(self, credential: str, tenant_id: str) -> ApiError | None:
        """As `standing`, for a credential named `key:<id>` or `client:<id>` (or "" for the
        tenant alone) that must belong to `tenant_id`."""
        kind, _, ident = credential.partition(":")
        if not credential:
            kind, ident = "tenant", tenant_id
        elif kind not in ("key", "client") or not ident:
            return _unauthorized("invalid_credentials", "the credentials are not valid")
        row = self._row(kind, ident)
        if row is None or row.id != tenant_id:
            return _unauthorized("invalid_credentials", "the credentials are not valid")
        if kind != "tenant" and row.revoked_at is not None:
            code = "key_revoked" if kind == "key" else "client_revoked"
            return _unauthorized(
                code, f"the {'API key' if kind == 'key' else 'client'} has been revoked"
            )
        if kind == "key" and row.expires_at is not None and row.expires_at <= utcnow():
            return _unauthorized("key_expired", "the API key has expired")
        if row.status != "active":
            return _unauthorized("tenant_suspended", "the tenant is suspended")
        return None

    def principal_for(self, credential: str, tenant_id: str) -> Principal:
        """The caller a session remembers as `key:<id>` or `client:<id>` of `tenant_id`, checked
        as `refusal` checks it (the error it raises when the credential no longer serves)."""
        refused = self.refusal(credential, tenant_id) if credential else None
        if refused is not None or not credential:
            raise refused or _unauthorized("invalid_credentials", "the credentials are not valid")
        kind, _, ident = credential.partition(":")
        ids = {"key_id": ident} if kind == "key" else {"client_id": ident}
        return _principal(self._row(kind, ident), **ids)

    def issue_token(self, client_id: str, client_secret: str) -> str:
        """A short-lived access token for valid client credentials (OAuth2 client_credentials)."""
        with self.engine.connect() as conn:
            row = conn.execute(_CLIENT_LOOKUP.where(_CLIENTS.c.client_id == client_id)).first()
        if row is None or not verify_secret(client_secret, row.secret_hash):
            raise _unauthorized("invalid_client", "the client credentials are not valid")
        if row.revoked_at is not None:
            raise _unauthorized("invalid_client", "the client has been revoked")
        _principal(row, client_id=client_id)
        now, s = utcnow(), self.settings
        claims = {
            "iss": s.jwt_issuer,
            "aud": s.jwt_audience,
            "sub": row.id,
            "client_id": client_id,
            "iat": now,
            "exp": now + timedelta(seconds=s.jwt_ttl_seconds),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, s.secret(), algorithm=JWT_ALGORITHM)
