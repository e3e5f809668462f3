"""export leases: which API process runs an export job, and until when

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 11:30:00
"""

import sqlalchemy as sa
from alembic import op

import tollgate.db.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("export_jobs", sa.Column("lease_owner", sa.String(128), nullable=True))
    op.add_column(
        "export_jobs",
        sa.Column("lease_expires_at", tollgate.db.models.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("export_jobs") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
