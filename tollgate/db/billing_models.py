"""Billing results derived from the usage ledger: daily rollups, invoices, costs, margins.

Every table here is recomputable: billing replaces a day's or a month's rows wholesale, so
rerunning a rollup or an invoice over the same ledger gives the same rows. Money billed to
tenants is integer cents; costs of serving are fractions of a cent, so they are Numeric.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from tollgate.clock import utcnow
from tollgate.db.models import Base

COST_USD = Numeric(20, 8)


class UsageDaily(Base):
    """Usage per tenant, product and UTC day (one row per delivered product per day)."""

    __tablename__ = "usage_daily"

    usage_date: Mapped[date] = mapped_column(Date, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    compute_ms: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invoice(Base):
    """One tenant's invoice for one calendar month (`YYYY-MM`)."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)  # "<tenant>:<YYYY-MM>"
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    total_cents: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceLine(Base):
    """A charge: a contract's fee (a subscription's active days, a purchase), or the
    deliveries of one product on one channel at one unit price under one basis."""

    __tablename__ = "invoice_lines"

    invoice_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64))
    price_model: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price_usd: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(String(16), default=None)  # None: a fee
    price_basis: Mapped[str | None] = mapped_column(String(16), default=None)
    contract_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # The ledger's unit (query | records | messages | export) of a deliveries line: with
    # the month, tenant, product, channel, unit price, basis and contract it names the
    # deliveries behind the line.
    kind: Mapped[str | None] = mapped_column(String(16), default=None)
    # A credit line's evidence (tollgate.billing.credits): the deliveries and periods.
    evidence: Mapped[dict | None] = mapped_column(JSON, default=None)


class TenantCost(Base):
    """The measured cost of serving one tenant on one UTC day, by component."""

    __tablename__ = "tenant_costs"

    cost_date: Mapped[date] = mapped_column(Date, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    compute_ms: Mapped[float] = mapped_column(Float)
    stored_bytes: Mapped[int] = mapped_column(BigInteger)
    compute_usd: Mapped[Decimal] = mapped_column(COST_USD)
    transfer_usd: Mapped[Decimal] = mapped_column(COST_USD)
    api_calls_usd: Mapped[Decimal] = mapped_column(COST_USD)
    storage_usd: Mapped[Decimal] = mapped_column(COST_USD)
    cost_usd: Mapped[Decimal] = mapped_column(COST_USD)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class TenantMargin(Base):
    """Revenue (the month's invoice) against cost of serving, per tenant and month."""

    __tablename__ = "tenant_margins"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[Decimal] = mapped_column(COST_USD)
    margin_usd: Mapped[Decimal] = mapped_column(COST_USD)
    cost_ratio: Mapped[float | None] = mapped_column(Float, default=None)  # None: no revenue
    is_flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
