"""Webhook events: what a tenant can be told, stored once with a stable id.

`emit` writes the event and a pending delivery for each of the tenant's active endpoints
that wants its type, in one transaction; an event with a `dedupe_key` the tenant already
has (a threshold already crossed this period) adds nothing, so every threshold fires once
per period however many requests or processes see it cross.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from tollgate.catalog import Catalog
from tollgate.clock import utcnow
from tollgate.db.models import Tenant
from tollgate.db.webhook_models import WebhookDelivery, WebhookEndpoint, WebhookEvent

# type -> what it says (the payload's `data` is documented in the README).
EVENT_TYPES = {
    "usage.rate_limit.80": "80% of the hourly rate limit used this hour",
    "usage.rate_limit.100": "the whole hourly rate limit used this hour",
    "usage.quota.80": "80% of the tier's monthly request quota used this month",
    "usage.quota.100": "the tier's monthly request quota used this month",
    "usage.spend_cap.80": "80% of the tier's monthly spend cap reached this month",
    "usage.spend_cap.100": "the tier's monthly spend cap reached this month",
    "invoice.issued": "a month's invoice is final",
    "credit.granted": "a month's invoice credits the tenant for missed SLAs",
    "product.degraded": "a product the tenant may use is degraded",
    "product.halted": "a product the tenant may use is halted",
    "product.recovered": "a product the tenant may use is healthy again",
    "schema.deprecated": "a schema version of a product the tenant may use is deprecated",
}


def new_event_id() -> str:
    return f"msg_{secrets.token_urlsafe(18)}"


def event_body(event_type: str, data: dict, at: datetime) -> str:
    """The payload as Standard Webhooks recommends: type, ISO timestamp, data; minified."""
    stamp = at.isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"type": event_type, "timestamp": stamp, "data": data},
        separators=(",", ":"),
        sort_keys=True,
        default=str,
    )


def emit_in(
    conn: Connection,
    tenant_id: str,
    event_type: str,
    data: dict,
    dedupe_key: str | None = None,
    at: datetime | None = None,
) -> str | None:
    """Record an event for `tenant_id` within the caller's transaction; its id, or None
    when `dedupe_key` was already used (nothing added)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    at = at or utcnow()
    event_id = new_event_id()
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        WebhookEvent.__table__
    )
    row = {
        "id": event_id,
        "tenant_id": tenant_id,
        "type": event_type,
        "body": event_body(event_type, data, at),
        "dedupe_key": dedupe_key,
        "created_at": at,
    }
    added = conn.execute(
        insert.values(row).on_conflict_do_nothing().returning(WebhookEvent.id)
    ).first()
    if added is None:
        return None
    e = WebhookEndpoint
    endpoints = conn.execute(
        select(e.id, e.event_types).where(e.tenant_id == tenant_id, e.disabled_at.is_(None))
    ).all()
    wanted = [
        {"event_id": event_id, "endpoint_id": eid, "status": "pending", "attempts": 0,
         "next_attempt_at": at}
        for eid, types in endpoints
        if types is None or event_type in types
    ]  # fmt: skip
    if wanted:
        conn.execute(WebhookDelivery.__table__.insert(), wanted)
    return event_id


def emit(
    engine: Engine,
    tenant_id: str,
    event_type: str,
    data: dict,
    dedupe_key: str | None = None,
    at: datetime | None = None,
) -> str | None:
    """`emit_in` in a transaction of its own."""
    with engine.begin() as conn:
        return emit_in(conn, tenant_id, event_type, data, dedupe_key, at)


def emit_to_product_users(
    engine: Engine,
    catalog: Catalog,
    product_id: str,
    event_type: str,
    data: dict,
    dedupe_key: str | None = None,
) -> int:
    """Emit to every tenant whose tier may use `product_id`; how many got it."""
    tiers = catalog.tiers_with(product_id)
    with engine.begin() as conn:
        tenants = conn.scalars(select(Tenant.id).where(Tenant.tier.in_(tiers))).all()
        return sum(
            emit_in(conn, t, event_type, data, dedupe_key) is not None for t in sorted(tenants)
        )
