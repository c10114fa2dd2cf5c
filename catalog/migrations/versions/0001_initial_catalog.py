"""initial catalog

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 19:13:05.440851
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('namespaces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_namespaces')),
    sa.UniqueConstraint('name', name=op.f('uq_namespaces_name'))
    )
    op.create_table('runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('job', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('user', sa.String(length=128), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('code_version', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_kind_started_at'), ['kind', 'started_at'], unique=False)

    op.create_table('schemas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('arrow', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schemas')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_schemas_fingerprint'))
    )
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('namespace', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('version', sa.Text(), nullable=True),
    sa.Column('facets', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources'))
    )
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sources_kind_namespace_name'), ['kind', 'namespace', 'name'], unique=False)

    op.create_table('schema_columns',
    sa.Column('schema_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('nullable', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['schema_id'], ['schemas.id'], name=op.f('fk_schema_columns_schema_id_schemas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schema_id', 'position', name=op.f('pk_schema_columns'))
    )
    op.create_table('tables',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('current_version', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['namespace_id'], ['namespaces.id'], name=op.f('fk_tables_namespace_id_namespaces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tables')),
    sa.UniqueConstraint('namespace_id', 'name', name=op.f('uq_tables_namespace_id_name'))
    )
    op.create_table('training_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sql', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.Column('location', sa.Text(), nullable=True),
    sa.Column('manifest', sa.JSON(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_training_sets_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sets')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_training_sets_name_version'))
    )
    with op.batch_alter_table('training_sets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_sets_content_hash'), ['content_hash'], unique=False)

    op.create_table('ingested_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('start_offset', sa.BigInteger(), nullable=False),
    sa.Column('end_offset', sa.BigInteger(), nullable=False),
    sa.Column('end_line', sa.BigInteger(), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_ingested_files_run_id_runs')),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_ingested_files_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingested_files'))
    )
    with op.batch_alter_table('ingested_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingested_files_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ingested_files_table_id_sha256'), ['table_id', 'sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_ingested_files_table_id_uri'), ['table_id', 'uri'], unique=False)

    op.create_table('models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('training_set_id', sa.Integer(), nullable=True),
    sa.Column('uri', sa.Text(), nullable=True),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_models_run_id_runs')),
    sa.ForeignKeyConstraint(['training_set_id'], ['training_sets.id'], name=op.f('fk_models_training_set_id_training_sets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_models_name_version'))
    )
    op.create_table('pins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_pins_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pins')),
    sa.UniqueConstraint('table_id', 'kind', 'name', name=op.f('uq_pins_table_id_kind_name'))
    )
    with op.batch_alter_table('pins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pins_table_id_version'), ['table_id', 'version'], unique=False)

    op.create_table('schema_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('column', sa.Text(), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('old_type', sa.Text(), nullable=True),
    sa.Column('new_type', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('line', sa.BigInteger(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_schema_changes_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schema_changes'))
    )
    with op.batch_alter_table('schema_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schema_changes_table_id_version'), ['table_id', 'version'], unique=False)

    op.create_table('table_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('committed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('schema_id', sa.Integer(), nullable=True),
    sa.Column('run_id', sa.String(length=36), nullable=True),
    sa.Column('rows_added', sa.BigInteger(), nullable=True),
    sa.Column('rows_removed', sa.BigInteger(), nullable=True),
    sa.Column('rows_changed', sa.BigInteger(), nullable=True),
    sa.Column('files_added', sa.BigInteger(), nullable=True),
    sa.Column('files_removed', sa.BigInteger(), nullable=True),
    sa.Column('bytes_added', sa.BigInteger(), nullable=True),
    sa.Column('rows_total', sa.BigInteger(), nullable=True),
    sa.Column('files_total', sa.BigInteger(), nullable=True),
    sa.Column('bytes_total', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_table_versions_run_id_runs')),
    sa.ForeignKeyConstraint(['schema_id'], ['schemas.id'], name=op.f('fk_table_versions_schema_id_schemas')),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_table_versions_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_table_versions')),
    sa.UniqueConstraint('table_id', 'version', name=op.f('uq_table_versions_table_id_version'))
    )
    with op.batch_alter_table('table_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_table_versions_run_id'), ['run_id'], unique=False)

    op.create_table('watermarks',
    sa.Column('table_id', sa.Integer(), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_watermarks_run_id_runs')),
    sa.ForeignKeyConstraint(['table_id'], ['tables.id'], name=op.f('fk_watermarks_table_id_tables'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('table_id', name=op.f('pk_watermarks'))
    )
    op.create_table('lineage_edges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('table_version_id', sa.Integer(), nullable=True),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('training_set_id', sa.Integer(), nullable=True),
    sa.Column('model_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("direction IN ('input', 'output')", name=op.f('ck_lineage_edges_direction')),
    sa.CheckConstraint('(CASE WHEN table_version_id IS NULL THEN 0 ELSE 1 END + CASE WHEN source_id IS NULL THEN 0 ELSE 1 END + CASE WHEN training_set_id IS NULL THEN 0 ELSE 1 END + CASE WHEN model_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_lineage_edges_one_target')),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_lineage_edges_model_id_models')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_lineage_edges_run_id_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_lineage_edges_source_id_sources')),
    sa.ForeignKeyConstraint(['table_version_id'], ['table_versions.id'], name=op.f('fk_lineage_edges_table_version_id_table_versions')),
    sa.ForeignKeyConstraint(['training_set_id'], ['training_sets.id'], name=op.f('fk_lineage_edges_training_set_id_training_sets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lineage_edges'))
    )
    with op.batch_alter_table('lineage_edges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lineage_edges_model_id_direction'), ['model_id', 'direction'], unique=False)
        batch_op.create_index(batch_op.f('ix_lineage_edges_run_id_direction'), ['run_id', 'direction'], unique=False)
        batch_op.create_index(batch_op.f('ix_lineage_edges_source_id_direction'), ['source_id', 'direction'], unique=False)
        batch_op.create_index(batch_op.f('ix_lineage_edges_table_version_id_direction'), ['table_version_id', 'direction'], unique=False)
        batch_op.create_index(batch_op.f('ix_lineage_edges_training_set_id_direction'), ['training_set_id', 'direction'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('lineage_edges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lineage_edges_training_set_id_direction'))
        batch_op.drop_index(batch_op.f('ix_lineage_edges_table_version_id_direction'))
        batch_op.drop_index(batch_op.f('ix_lineage_edges_source_id_direction'))
        batch_op.drop_index(batch_op.f('ix_lineage_edges_run_id_direction'))
        batch_op.drop_index(batch_op.f('ix_lineage_edges_model_id_direction'))

    op.drop_table('lineage_edges')
    op.drop_table('watermarks')
    with op.batch_alter_table('table_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_table_versions_run_id'))

    op.drop_table('table_versions')
    with op.batch_alter_table('schema_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schema_changes_table_id_version'))

    op.drop_table('schema_changes')
    with op.batch_alter_table('pins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pins_table_id_version'))

    op.drop_table('pins')
    op.drop_table('models')
    with op.batch_alter_table('ingested_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingested_files_table_id_uri'))
        batch_op.drop_index(batch_op.f('ix_ingested_files_table_id_sha256'))
        batch_op.drop_index(batch_op.f('ix_ingested_files_run_id'))

    op.drop_table('ingested_files')
    with op.batch_alter_table('training_sets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_sets_content_hash'))

    op.drop_table('training_sets')
    op.drop_table('tables')
    op.drop_table('schema_columns')
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sources_kind_namespace_name'))

    op.drop_table('sources')
    op.drop_table('schemas')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_kind_started_at'))

    op.drop_table('runs')
    op.drop_table('namespaces')
    op.drop_table('api_tokens')

