"""Usage alerts by webhook: a tenant's endpoints, the events for it, and every delivery
attempt (the delivery log), as tollgate.webhooks writes them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tollgate.clock import utcnow
from tollgate.db.models import Base
from tollgate.db.ops_models import LOG_ID


class WebhookEndpoint(Base):
    """Where a tenant wants its events, signed with the endpoint's own secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # we_...
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    # The Standard Webhooks signing secret (whsec_<base64>): needed to sign, so kept whole.
    secret: Mapped[str] = mapped_column(String(128))
    # Event types it receives; None: every type.
    event_types: Mapped[list | None] = mapped_column(default=None)
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when deleted, or when the receiver answered 410 Gone: nothing more is sent.
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    disabled_reason: Mapped[str | None] = mapped_column(String(200), default=None)


class WebhookEvent(Base):
    """One event for one tenant. Its id is the `webhook-id` of every attempt to deliver it,
    on every endpoint: the receiver's idempotency key."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_...
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(64))
    # The exact body sent (and signed): {"type", "timestamp", "data"}.
    body: Mapped[str] = mapped_column(Text)
    # Events that must happen once (a threshold in a period) carry a key; a second emit
    # with the same key adds nothing.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("tenant_id", "dedupe_key", name="uq_webhook_events_dedupe"),)


class WebhookDelivery(Base):
    """One event on its way to one endpoint: pending until a 2xx, retried with backoff."""

    __tablename__ = "webhook_deliveries"

    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    # A sender that took it holds it until then (several API processes share the work).
    locked_until: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)


class WebhookAttempt(Base):
    """One attempt to deliver an event to an endpoint: the endpoint's delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(LOG_ID, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(40))
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column()
    # The receiver's status; None when it never answered (refused, timed out, bad address).
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | failed
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    duration_ms: Mapped[float] = mapped_column(default=0.0)

    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),)
