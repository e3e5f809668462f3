"""A tenant's webhook endpoints: registered (URL checked, a secret made), listed, deleted,
and their delivery logs. Every read and change is scoped to one tenant: another tenant's
endpoint is not found."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tollgate.audit import audited
from tollgate.clock import utcnow
from tollgate.db.webhook_models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from tollgate.errors import Conflict, InvalidRequest, NotFound
from tollgate.webhooks.addresses import check_url
from tollgate.webhooks.events import EVENT_TYPES, event_body, new_event_id

MAX_ENDPOINTS = 10  # per tenant
# Sent on request to one endpoint, whatever types it receives; not subscribable.
TEST_EVENT = "webhook.test"


def new_secret() -> str:
    """A Standard Webhooks symmetric secret: 32 random bytes, base64, `whsec_` prefixed."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create_endpoint(
    session: Session,
    tenant_id: str,
    url: str,
    *,
    event_types: Sequence[str] | None = None,
    description: str = "",
    actor: str,
    allowed_networks: Sequence[str] = (),
) -> WebhookEndpoint:
    """Register an endpoint (committed, audited); raises InvalidRequest for a URL that is
    not http(s), points at an internal address the seller has not allowed, or for an
    unknown event type."""
    unknown = sorted(set(event_types or ()) - set(EVENT_TYPES))
    if unknown:
        raise InvalidRequest(f"unknown event types: {', '.join(unknown)}", "unknown_event_type")
    check_url(url, allowed_networks)
    if len(active_endpoints(session, tenant_id)) >= MAX_ENDPOINTS:
        raise InvalidRequest(
            f"a tenant may have {MAX_ENDPOINTS} endpoints", "too_many_webhook_endpoints"
        )
    endpoint = WebhookEndpoint(
        id=f"we_{secrets.token_hex(10)}",
        tenant_id=tenant_id,
        url=url,
        secret=new_secret(),
        event_types=sorted(set(event_types)) if event_types else None,
        description=description[:200],
        created_at=utcnow(),
    )
    with audited(session, actor, "webhook.create", endpoint.id, tenant_id) as details:
        session.add(endpoint)
        details.update(url=url, event_types=endpoint.event_types)
    return endpoint


def active_endpoints(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
    e = WebhookEndpoint
    query = select(e).where(e.tenant_id == tenant_id, e.disabled_at.is_(None))
    return list(session.scalars(query.order_by(e.created_at, e.id)))


def get_endpoint(session: Session, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    """The tenant's endpoint (deleted ones too, for their logs); NotFound otherwise."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.tenant_id != tenant_id:
        raise NotFound(f"no webhook endpoint {endpoint_id!r}", "webhook_not_found")
    return endpoint


def send_test_event(session: Session, tenant_id: str, endpoint_id: str, actor: str) -> str:
    """Queue a `webhook.test` event for one of the tenant's active endpoints (committed,
    audited): the sender signs, delivers, retries and logs it like any other event. Its
    event id. NotFound for another tenant's endpoint; Conflict for a disabled one."""
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    if endpoint.disabled_at is not None:
        raise Conflict(
            f"webhook endpoint {endpoint_id!r} is disabled ({endpoint.disabled_reason})",
            "webhook_disabled",
        )
    at = utcnow()
    event_id = new_event_id()
    data = {"endpoint_id": endpoint_id, "message": "A test event: this endpoint receives."}
    with audited(session, actor, "webhook.test", endpoint_id, tenant_id) as details:
        session.add(
            WebhookEvent(
                id=event_id,
                tenant_id=tenant_id,
                type=TEST_EVENT,
                body=event_body(TEST_EVENT, data, at),
                created_at=at,
            )
        )
        session.add(
            WebhookDelivery(
                event_id=event_id,
                endpoint_id=endpoint_id,
                status="pending",
                attempts=0,
                next_attempt_at=at,
            )
        )
        details.update(event_id=event_id)
    return event_id


def delete_endpoint(session: Session, tenant_id: str, endpoint_id: str, actor: str) -> None:
    """Stop sending to an endpoint (its log stays readable)."""
    endpoint = get_endpoint(session, tenant_id, endpoint_id)
    with audited(session, actor, "webhook.delete", endpoint_id, tenant_id):
        if endpoint.disabled_at is None:
            endpoint.disabled_at = utcnow()
            endpoint.disabled_reason = "deleted"


def delivery_log(
    session: Session, tenant_id: str, endpoint_id: str, limit: int = 100
) -> list[WebhookAttempt]:
    """The endpoint's attempts, newest first."""
    get_endpoint(session, tenant_id, endpoint_id)
    a = WebhookAttempt
    query = select(a).where(a.endpoint_id == endpoint_id).order_by(a.id.desc()).limit(limit)
    return list(session.scalars(query))
