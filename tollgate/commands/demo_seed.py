"""The demo's buyers and what they bought, created once: a rerun finds them and creates
nothing twice. Keys are kept in an owner-only file so they can be shown again."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from tollgate import contracts
from tollgate import tenants as service
from tollgate.catalog import Catalog
from tollgate.clock import utcnow
from tollgate.db.contract_models import Subscription
from tollgate.db.models import ApiKey, OAuthClient, Tenant
from tollgate.keys import parse_api_key, verify_secret

ACTOR = "demo"


# One buyer per tier; initech shows data residency (it may only receive EU and US-East rows).
# acme is on a 14-day trial (its deliveries cost nothing); globex pays per query and per
# record; initech also subscribes to the region-activity feed ($25,000 a month).
@dataclass(frozen=True)
class DemoTenant:
    id: str
    name: str
    tier: str
    regions: list[str] | None = None
    oauth_client: bool = False


DEMO_TENANTS = (
    DemoTenant("acme-trial", "Acme Corp", "trial"),
    DemoTenant("globex-standard", "Globex Corporation", "standard"),
    DemoTenant("initech-premium", "Initech", "premium", ["US-East", "EU"], oauth_client=True),
)
# (tenant, product) subscriptions the demo keeps active.
DEMO_SUBSCRIPTIONS = (("initech-premium", "region-activity"),)


def seed_tenants(session: Session, catalog: Catalog, keys_file: Path) -> dict:
    """Create missing demo tenants, keys and clients; returns the credentials file content."""
    saved = json.loads(keys_file.read_text()) if keys_file.exists() else {}
    tenants: dict = saved.get("tenants", {})
    clients: dict = saved.get("oauth_clients", {})
    for t in DEMO_TENANTS:
        if session.get(Tenant, t.id) is None:
            service.create_tenant(
                session, t.id, t.name, t.tier, t.regions, catalog=catalog, actor=ACTOR
            )
        if not _key_still_valid(session, t.id, tenants.get(t.id)):
            key = service.issue_key(session, t.id, "demo", actor=ACTOR)
            tenants[t.id] = {"tier": t.tier, "key_id": key.key_id, "api_key": key.plaintext}
        if t.oauth_client and not _client_still_valid(session, t.id, clients.get(t.id)):
            client_id, secret = service.create_oauth_client(session, t.id, actor=ACTOR)
            clients[t.id] = {"client_id": client_id, "client_secret": secret}
    seed_subscriptions(session, catalog)
    content = {"tenants": tenants, "oauth_clients": clients}
    _write_private(keys_file, json.dumps(content, indent=2) + "\n")
    return content


def seed_subscriptions(session: Session, catalog: Catalog) -> list[Subscription]:
    """Subscribe the demo tenants that have no active subscription yet (from now on)."""
    now = utcnow()
    made = []
    for tenant_id, product_id in DEMO_SUBSCRIPTIONS:
        current = [
            s
            for s in contracts.list_subscriptions(session, tenant_id)
            if s.product_id == product_id and contracts.subscription_status(s, now) == "active"
        ]
        if not current:
            made.append(
                contracts.create_subscription(
                    session, tenant_id, product_id, catalog=catalog, actor=ACTOR
                )
            )
    return made


def _key_still_valid(session: Session, tenant_id: str, entry: dict | None) -> bool:
    parsed = parse_api_key(entry.get("api_key", "")) if entry else None
    row = session.get(ApiKey, parsed[0]) if parsed else None
    return bool(
        row
        and row.tenant_id == tenant_id
        and row.revoked_at is None
        and verify_secret(parsed[1], row.secret_hash)
    )


def _client_still_valid(session: Session, tenant_id: str, entry: dict | None) -> bool:
    row = session.get(OAuthClient, entry.get("client_id", "")) if entry else None
    return bool(
        row
        and row.tenant_id == tenant_id
        and row.revoked_at is None
        and verify_secret(entry.get("client_secret", ""), row.secret_hash)
    )


def _write_private(path: Path, text: str) -> None:
    """Write atomically, readable by the owner only (0600) from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
