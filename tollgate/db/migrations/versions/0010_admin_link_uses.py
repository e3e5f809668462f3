"""admin_link_uses: seller sign-in links that have been used (each signs in once)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 00:30:00
"""

import sqlalchemy as sa
from alembic import op

import tollgate.db.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_link_uses",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("used_at", tollgate.db.models.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_admin_link_uses_used_at", "admin_link_uses", ["used_at"])


def downgrade() -> None:
    op.drop_index("ix_admin_link_uses_used_at", table_name="admin_link_uses")
    op.drop_table("admin_link_uses")
