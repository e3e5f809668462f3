"""Access tables of the API: stored answers of requests sent with an `Idempotency-Key`, and
the seller sign-in links already used.

A key is one tenant's: its first request's answer is kept for `expires_at` (24 h) and
replayed to every retry of the same request; while the first is being answered the row is
`pending` until `locked_until`, after which a retry may take it over (its process died).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tollgate.db.models import Base


class IdempotentAnswer(Base):
    __tablename__ = "idempotency_keys"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # SHA-256 of what was asked (method, path, query, schema version, body).
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # pending | done
    # The ledger id the answer is billed under: one per key per lifetime, so a key reused
    # after it expired is a new, billed, delivery.
    delivery_id: Mapped[str] = mapped_column(String(128))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    headers: Mapped[dict | None] = mapped_column(default=None)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column()
    locked_until: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)


class UsedAdminLink(Base):
    """A seller sign-in link that has signed someone in: each link signs in once. Rows older
    than a link's lifetime are of no more use (the link has expired anyway) and are pruned."""

    __tablename__ = "admin_link_uses"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime] = mapped_column(index=True)
