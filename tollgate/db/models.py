"""The metadata database: tenants, keys, OAuth2 clients, usage ledger, audit, jobs, status.

SQLite by default, PostgreSQL when the URL says so; the schema is owned by the Alembic
migrations in `tollgate/db/migrations`, which must match these models.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from tollgate.clock import utcnow


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended
    # None means every region; otherwise the only regions whose rows it may receive.
    allowed_regions: Mapped[list | None] = mapped_column(JSON, default=None)
    # When the tenant went onto its tier: a trial tier's days count from here.
    tier_since: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiKey(Base):
    """An API key `tg_<key id>_<secret>`: only a hash of the secret is stored."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class OAuthClient(Base):
    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class UsageRecord(Base):
    """One delivery, rated when it happened. The delivery id is the key: a delivery is
    recorded once. Its amount is `units` x `unit_price_micros` (micro-dollars), the price in
    force under the tenant's contract then, so recomputing an invoice never re-prices it."""

    __tablename__ = "usage_ledger"

    delivery_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # query | records | messages | export
    units: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="delivered")
    compute_ms: Mapped[float] = mapped_column(default=0.0)
    route: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # query | push | export
    channel: Mapped[str] = mapped_column(String(16), default="query", server_default="query")
    # None only on records written before deliveries were rated: billing rates those at the
    # catalog price in force on their day.
    unit_price_micros: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Why that price: list | trial | subscription | purchase | empty (None: as list).
    price_basis: Mapped[str | None] = mapped_column(String(16), default=None)
    # The subscription or purchase the delivery was made under.
    contract_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # The delivery trail (tollgate.usage.Trail): what was delivered. None on records written
    # before deliveries carried it.
    schema_version: Mapped[str | None] = mapped_column(String(16), default=None)
    # The published snapshot served (batch answers, exports); None for live products.
    snapshot_version: Mapped[str | None] = mapped_column(String(32), default=None)
    # The data's newest time when delivered (a live product's watermark).
    watermark_at: Mapped[datetime | None] = mapped_column(default=None)
    freshness_seconds: Mapped[float | None] = mapped_column(default=None)
    quality_status: Mapped[str | None] = mapped_column(String(16), default=None)

    __table_args__ = (
        Index("ix_usage_ledger_tenant_time", "tenant_id", "occurred_at"),
        # Created by migration 0002 for billing's per-day rollups across tenants.
        Index("ix_usage_ledger_occurred_at", "occurred_at"),
    )


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16))  # success | failure | denied
    details: Mapped[dict | None] = mapped_column(JSON, default=None)


class ExportJob(Base):
    __tablename__ = "export_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    product_id: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))  # csv | parquet | jsonl
    params: Mapped[dict] = mapped_column(JSON)  # date range, filters, snapshot version
    status: Mapped[str] = mapped_column(String(16), default="queued")
    rows_total: Mapped[int | None] = mapped_column(BigInteger, default=None)
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    checksum: Mapped[str | None] = mapped_column(String(128), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # Which API process runs the job, until when: one runner per job across replicas.
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)


class ProductStatus(Base):
    """The quality gate's verdict per product, which the API reports to buyers."""

    __tablename__ = "product_status"

    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="healthy")  # healthy|degraded|halted
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    current_version: Mapped[str | None] = mapped_column(String(32), default=None)
    failed_version: Mapped[str | None] = mapped_column(String(32), default=None)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
