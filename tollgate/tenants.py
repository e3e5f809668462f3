"""Tenants, their API keys and OAuth2 clients: the seller's side of access control.

Each function is one unit of work: it validates, changes the metadata DB, writes an
`audit_log` row and commits. A refused change raises a `TollgateError` after recording
the attempt as a failure, so the audit log shows who tried what even when it did not happen.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tollgate.audit import audited
from tollgate.catalog import Catalog, get_catalog
from tollgate.clock import utcnow
from tollgate.db.models import ApiKey, OAuthClient, Tenant
from tollgate.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from tollgate.keys import NewKey, key_id_of, new_api_key, new_client_secret

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CLIENT_ID_PREFIX = "tgc_"
CLIENT_ID = re.compile(r"^tgc_[A-Za-z0-9]{1,60}$")


def create_tenant(
    session: Session,
    tenant_id: str,
    name: str,
    tier: str,
    allowed_regions: list[str] | None = None,
    *,
    catalog: Catalog | None = None,
    actor: str = "system",
) -> Tenant:
    """A new active tenant on `tier`; `allowed_regions` None means every region."""
    catalog = catalog or get_catalog()
    with audited(session, actor, "tenant.create", tenant_id, tenant_id) as details:
        if not TENANT_ID.match(tenant_id):
            raise InvalidRequest(
                f"tenant id {tenant_id!r} must be 2-63 lowercase letters, digits or '-'"
            )
        if tier not in catalog.tiers:
            tiers = ", ".join(catalog.tiers)
            raise InvalidRequest(f"unknown tier {tier!r} (catalog tiers: {tiers})")
        regions = _check_regions(catalog, allowed_regions)
        if session.get(Tenant, tenant_id) is not None:
            raise AlreadyExists(f"tenant {tenant_id!r} already exists")
        tenant = Tenant(
            id=tenant_id, name=name, tier=tier, status="active", allowed_regions=regions
        )
        session.add(tenant)
        try:
            session.flush()
        except IntegrityError:
            # Another process created it between our check and our insert.
            raise AlreadyExists(f"tenant {tenant_id!r} already exists") from None
        details.update(tier=tier, allowed_regions=regions)
    return tenant


def _check_regions(catalog: Catalog, regions: list[str] | None) -> list[str] | None:
    if regions is None:
        return None
    unknown = [r for r in regions if r not in catalog.regions]
    if unknown:
        raise InvalidRequest(
            f"unknown region {unknown[0]!r} (catalog regions: {', '.join(catalog.regions)})"
        )
    if not regions:
        raise InvalidRequest("allowed regions must name at least one region")
    # Catalog order, no repeats: the stored list reads the same however it was typed.
    return [r for r in catalog.regions if r in regions]


def get_tenant(session: Session, tenant_id: str) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.id)))


def suspend_tenant(session: Session, tenant_id: str, *, actor: str = "system") -> Tenant:
    """Suspended tenants keep their keys, but the API refuses them until reactivated."""
    return _set_status(session, tenant_id, "suspended", "tenant.suspend", actor)


def reactivate_tenant(session: Session, tenant_id: str, *, actor: str = "system") -> Tenant:
    return _set_status(session, tenant_id, "active", "tenant.reactivate", actor)


def _set_status(session: Session, tenant_id: str, status: str, action: str, actor: str) -> Tenant:
    with audited(session, actor, action, tenant_id, tenant_id):
        tenant = get_tenant(session, tenant_id)
        if tenant.status == status:
            raise Conflict(f"tenant {tenant_id!r} is already {status}")
        tenant.status = status
    return tenant


def issue_key(
    session: Session,
    tenant_id: str,
    name: str = "",
    expires_at: datetime | None = None,
    *,
    actor: str = "system",
) -> NewKey:
    """A new API key for an active tenant. Only its hash is stored: show `plaintext` once."""
    key = new_api_key()
    with audited(session, actor, "key.issue", key.key_id, tenant_id) as details:
        tenant = get_tenant(session, tenant_id)
        if tenant.status != "active":
            raise Conflict(f"tenant {tenant_id!r} is {tenant.status}; reactivate it first")
        if expires_at is not None and expires_at <= utcnow():
            raise InvalidRequest(f"expiry {expires_at.isoformat()} is in the past")
        session.add(
            ApiKey(
                key_id=key.key_id,
                tenant_id=tenant_id,
                name=name,
                secret_hash=key.secret_hash,
                expires_at=expires_at,
            )
        )
        details.update(name=name, expires_at=expires_at.isoformat() if expires_at else None)
    return key


def revoke_key(session: Session, key: str, *, actor: str = "system") -> ApiKey:
    """Revoke an API key given by its key id or as the whole key. Only the key id is ever
    recorded or shown: input that is neither is refused without being repeated anywhere."""
    key_id = key_id_of(key)
    target = key_id or "(not a key id)"
    with audited(session, actor, "key.revoke", target, None) as details:
        if key_id is None:
            raise InvalidRequest(
                "give the key id (12 letters and digits) or the whole key (tg_<key id>_<secret>)"
            )
        details["given_as"] = "key id" if key.strip() == key_id else "whole key"
        row = session.get(ApiKey, key_id)
        if row is None:
            raise NotFound(f"no API key {key_id!r}")
        if row.revoked_at is not None:
            raise Conflict(
                f"API key {key_id!r} was already revoked at {row.revoked_at:%Y-%m-%d %H:%M}"
            )
        row.revoked_at = utcnow()
    return row


def list_keys(session: Session, tenant_id: str | None = None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.tenant_id, ApiKey.created_at)
    if tenant_id is not None:
        get_tenant(session, tenant_id)
        query = query.where(ApiKey.tenant_id == tenant_id)
    return list(session.scalars(query))


def create_oauth_client(
    session: Session, tenant_id: str, *, actor: str = "system"
) -> tuple[str, str]:
    """(client id, client secret) for the OAuth2 client-credentials grant; secret shown once."""
    client_id = CLIENT_ID_PREFIX + secrets.token_hex(8)
    secret, secret_hash = new_client_secret()
    with audited(session, actor, "client.create", client_id, tenant_id):
        tenant = get_tenant(session, tenant_id)
        if tenant.status != "active":
            raise Conflict(f"tenant {tenant_id!r} is {tenant.status}; reactivate it first")
        session.add(OAuthClient(client_id=client_id, tenant_id=tenant_id, secret_hash=secret_hash))
    return client_id, secret


def revoke_oauth_client(session: Session, client_id: str, *, actor: str = "system") -> OAuthClient:
    """Revoke an OAuth2 client: its tokens, streams and download links stop working at once
    (within the API's one-second credential cache)."""
    valid = CLIENT_ID.match(client_id.strip())
    target = client_id.strip() if valid else "(not a client id)"
    with audited(session, actor, "client.revoke", target, None):
        if not valid:
            raise InvalidRequest(f"give the client id ({CLIENT_ID_PREFIX}...)")
        client = session.get(OAuthClient, target)
        if client is None:
            raise NotFound(f"no OAuth2 client {target!r}")
        if client.revoked_at is not None:
            raise Conflict(
                f"OAuth2 client {target!r} was already revoked at "
                f"{client.revoked_at:%Y-%m-%d %H:%M}"
            )
        client.revoked_at = utcnow()
    return client


def list_oauth_clients(session: Session, tenant_id: str) -> list[OAuthClient]:
    get_tenant(session, tenant_id)
    query = select(OAuthClient).where(OAuthClient.tenant_id == tenant_id)
    return list(session.scalars(query.order_by(OAuthClient.created_at)))
