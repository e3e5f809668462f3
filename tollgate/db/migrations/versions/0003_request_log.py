"""request log: one row per answered API request, for the SLA report

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import tollgate.db.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("occurred_at", tollgate.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("product_id", sa.String(64), nullable=True),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("freshness_seconds", sa.Float(), nullable=True),
        sa.Column("within_sla", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_request_log_occurred_at", "request_log", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_request_log_occurred_at", table_name="request_log")
    op.drop_table("request_log")
