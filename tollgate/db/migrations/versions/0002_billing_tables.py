"""billing tables: usage rollups, invoices, costs, margins; ledger index by time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:15:00
"""

import sqlalchemy as sa
from alembic import op

import tollgate.db.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COST_USD = sa.Numeric(20, 8)


def _computed_at() -> sa.Column:
    return sa.Column("computed_at", tollgate.db.models.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    # Billing reads the ledger by time range (a day, a month) across tenants.
    op.create_index("ix_usage_ledger_occurred_at", "usage_ledger", ["occurred_at"])
    op.create_table(
        "usage_daily",
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("compute_ms", sa.Float(), nullable=False),
        _computed_at(),
        sa.PrimaryKeyConstraint("usage_date", "tenant_id", "product_id"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(96), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        _computed_at(),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_invoices_tenant_id", "invoices", ["tenant_id"])
    op.create_index("ix_invoices_month", "invoices", ["month"])
    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.String(96), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("price_model", sa.String(32), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price_usd", sa.Numeric(20, 6), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", "line_no"),
    )
    op.create_table(
        "tenant_costs",
        sa.Column("cost_date", sa.Date(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("compute_ms", sa.Float(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("compute_usd", COST_USD, nullable=False),
        sa.Column("transfer_usd", COST_USD, nullable=False),
        sa.Column("api_calls_usd", COST_USD, nullable=False),
        sa.Column("storage_usd", COST_USD, nullable=False),
        sa.Column("cost_usd", COST_USD, nullable=False),
        _computed_at(),
        sa.PrimaryKeyConstraint("cost_date", "tenant_id"),
    )
    op.create_table(
        "tenant_margins",
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", COST_USD, nullable=False),
        sa.Column("margin_usd", COST_USD, nullable=False),
        sa.Column("cost_ratio", sa.Float(), nullable=True),
        sa.Column("is_flagged", sa.Boolean(), nullable=False),
        _computed_at(),
        sa.PrimaryKeyConstraint("month", "tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("tenant_margins")
    op.drop_table("tenant_costs")
    op.drop_table("invoice_lines")
    op.drop_index("ix_invoices_month", table_name="invoices")
    op.drop_index("ix_invoices_tenant_id", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("usage_daily")
    op.drop_index("ix_usage_ledger_occurred_at", table_name="usage_ledger")
