"""index for finding running runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 07:00:00

Every run start and every sync looks for this host's runs still marked running, to mark
failed those whose process died; without the index that is a full scan of ``runs``.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs_status_host"), ["status", "host"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_status_host"))
