"""contracts: subscriptions and purchases; deliveries rated when they happen

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:00:00
"""

import sqlalchemy as sa
from alembic import op

import tollgate.db.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC_DATETIME = tollgate.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("starts_at", UTC_DATETIME, nullable=False),
        sa.Column("ends_at", UTC_DATETIME, nullable=True),
        sa.Column("cancelled_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_subscriptions_tenant_product", "subscriptions", ["tenant_id", "product_id"])
    op.create_table(
        "purchases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("purchased_at", UTC_DATETIME, nullable=False),
        sa.Column("updates_until", UTC_DATETIME, nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_purchases_idempotency_key"),
    )
    op.create_index("ix_purchases_tenant_product", "purchases", ["tenant_id", "product_id"])

    # A tenant's tier began when the tenant was created (no tier change existed before).
    op.add_column("tenants", sa.Column("tier_since", UTC_DATETIME, nullable=True))
    op.execute("UPDATE tenants SET tier_since = created_at")
    with op.batch_alter_table("tenants") as batch:
        batch.alter_column("tier_since", existing_type=UTC_DATETIME, nullable=False)

    # Deliveries recorded so far keep a NULL price: billing rates them at the catalog price
    # in force on their day, as it did before.
    op.add_column(
        "usage_ledger",
        sa.Column("channel", sa.String(16), nullable=False, server_default="query"),
    )
    op.execute("UPDATE usage_ledger SET channel = 'push' WHERE kind = 'messages'")
    op.execute("UPDATE usage_ledger SET channel = 'export' WHERE kind = 'export'")
    # Added, never altered: the ledger is the largest table, and SQLite would copy it whole.
    op.add_column("usage_ledger", sa.Column("unit_price_micros", sa.BigInteger(), nullable=True))
    op.add_column("usage_ledger", sa.Column("price_basis", sa.String(16), nullable=True))
    op.add_column("usage_ledger", sa.Column("contract_id", sa.String(64), nullable=True))

    op.add_column("invoice_lines", sa.Column("channel", sa.String(16), nullable=True))
    op.add_column("invoice_lines", sa.Column("price_basis", sa.String(16), nullable=True))
    op.add_column("invoice_lines", sa.Column("contract_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice_lines") as batch:
        batch.drop_column("contract_id")
        batch.drop_column("price_basis")
        batch.drop_column("channel")
    with op.batch_alter_table("usage_ledger") as batch:
        batch.drop_column("contract_id")
        batch.drop_column("price_basis")
        batch.drop_column("unit_price_micros")
        batch.drop_column("channel")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("tier_since")
    op.drop_index("ix_purchases_tenant_product", table_name="purchases")
    op.drop_table("purchases")
    op.drop_index("ix_subscriptions_tenant_product", table_name="subscriptions")
    op.drop_table("subscriptions")
