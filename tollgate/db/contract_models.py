"""Contracts: what each tenant bought. Invoices and the API's entitlement gate read these;
usage never stands in for them.

A subscription is active on [starts_at, ends_at) (no end: until cancelled); cancelling sets
`ends_at` to when it takes effect and `cancelled_at` to when it was recorded. A purchase is
a one-time product bought once, with the snapshot window it grants fixed at purchase.
Prices are the ones agreed at signing, in micro-dollars, whatever the catalog says later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tollgate.clock import utcnow
from tollgate.db.models import Base


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # sub_<hex>
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    product_id: Mapped[str] = mapped_column(String(64))
    plan: Mapped[str] = mapped_column(String(32))  # monthly
    price_micros: Mapped[int] = mapped_column(BigInteger)  # per plan period, agreed at signing
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="system")

    __table_args__ = (Index("ix_subscriptions_tenant_product", "tenant_id", "product_id"),)

    def active_at(self, at: datetime) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)


class Purchase(Base):
    __tablename__ = "purchases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # pur_<hex>
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    product_id: Mapped[str] = mapped_column(String(64))
    price_micros: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    purchased_at: Mapped[datetime] = mapped_column()
    # Snapshot versions published up to this time are the buyer's.
    updates_until: Mapped[datetime] = mapped_column()
    # The buyer's Idempotency-Key: a retried POST returns this purchase, never a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="system")

    __table_args__ = (
        Index("ix_purchases_tenant_product", "tenant_id", "product_id"),
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_purchases_idempotency_key"),
    )
