"""indexes for audit, impact and retention

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:00:00

``lake impact`` goes from training sets to the models trained on them, ``lake impact
--source URI`` starts from a source's name, and vacuum and the registry list the pins of
one training set or model: without these indexes each is a full scan of its table
(measured in bench/bench_lineage.py).
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_training_set_id"), ["training_set_id"], unique=False)
    with op.batch_alter_table("pins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pins_kind_name"), ["kind", "name"], unique=False)
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sources_name"), ["name"], unique=False)
    with op.batch_alter_table("training_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_sets_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("training_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_sets_run_id"))
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sources_name"))
    with op.batch_alter_table("pins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pins_kind_name"))
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_models_training_set_id"))
