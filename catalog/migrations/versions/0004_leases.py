"""leases: exclusive rights held for a while (compaction of a table)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 21:45:00

deltalake 1.6.6 commits two compactions of the same files made at once by two processes,
and the table then holds their rows twice; a lease in the catalog lets one compact at a
time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
