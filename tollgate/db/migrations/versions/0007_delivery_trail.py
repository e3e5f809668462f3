"""delivery trail: what each ledger record delivered; the unit of an invoice line

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 15:00:00
"""

import sqlalchemy as sa
from alembic import op

import tollgate.db.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TRAIL = ("schema_version", "snapshot_version", "watermark_at", "freshness_seconds",
          "quality_status")  # fmt: skip


def upgrade() -> None:
    # Plain ADD COLUMN: nullable columns need no table rebuild, however long the ledger.
    when = tollgate.db.models.UTCDateTime(timezone=True)
    op.add_column("usage_ledger", sa.Column("schema_version", sa.String(16), nullable=True))
    op.add_column("usage_ledger", sa.Column("snapshot_version", sa.String(32), nullable=True))
    op.add_column("usage_ledger", sa.Column("watermark_at", when, nullable=True))
    op.add_column("usage_ledger", sa.Column("freshness_seconds", sa.Double(), nullable=True))
    op.add_column("usage_ledger", sa.Column("quality_status", sa.String(16), nullable=True))
    op.add_column("invoice_lines", sa.Column("kind", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice_lines") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("usage_ledger") as batch:
        for name in reversed(_TRAIL):
            batch.drop_column(name)
