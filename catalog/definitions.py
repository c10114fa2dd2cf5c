"""The catalog's tables, as SQLAlchemy Core ``Table`` objects on one ``MetaData``.

The Delta log owns the list of data files; the catalog owns what Delta does not:
namespaces and tables, the versions the lake has recorded with their schemas and the
drift between them, runs and their lineage (which run consumed and produced which
dataset *versions*, the OpenLineage model), the ledger of ingested files and extract
watermarks, training sets, models, pins and API tokens.

This is the one definition of each table. The write path runs Core statements on these
objects in a Core transaction (``Connection.core_transaction``), so a command that writes
never imports the ORM; the ORM classes of ``catalog.models`` (reads, lineage, the web
catalog) are mapped onto these same objects, and Alembic compares the migrations with
:data:`METADATA`. Importing ``sqlalchemy.orm`` and mapping the classes cost a writing
command 0.15-0.2 s.

Every change to these tables comes with its migration in ``catalog/migrations/versions``:
an existing catalog changes only through the migrations, and a new one is created from
:data:`METADATA` at the newest revision (``catalog.database.create_at_head``); the tests
hold both ways to the same schema.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the catalog stores timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def jsonable(value: Any) -> Any:
    """Round-trip through JSON so the catalog never stores something it cannot read back."""
    return json.loads(json.dumps(value, default=str))


METADATA = MetaData(naming_convention=NAMING)


def _when(name: str, *, nullable: bool = False, default: Any = None) -> Column[datetime]:
    return Column(name, UTCDateTime(), nullable=nullable, default=default)


def _json(name: str, *, default: Any = dict) -> Column[Any]:
    return Column(name, JSON(), nullable=False, default=default)


NAMESPACES = Table(
    "namespaces",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    _when("created_at", default=utcnow),
)

TABLES = Table(
    "tables",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("namespace_id", Integer, ForeignKey("namespaces.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(32), nullable=False),  # logs | extract | ...
    Column("location", Text, nullable=False),
    Column("format", String(16), nullable=False, default="delta"),
    _when("created_at", default=utcnow),
    _json("properties"),
    # The newest Delta version recorded in table_versions; moved by compare-and-swap.
    Column("current_version", BigInteger),
    # The newest version N with every version 0..N recorded (-1: none is), moved with each
    # record; NULL when not known (a catalog migrated from before it, a version row deleted by
    # hand: see VERSIONS_UNRECORDED), and then counted again. A write asks it first: counting
    # the table's version rows grew with the history (1.5 ms at 10,000 versions).
    Column("versions_through", BigInteger, default=-1),
    UniqueConstraint("namespace_id", "name"),
)
"""A lake table: one Delta table in the warehouse."""

SCHEMAS = Table(
    "schemas",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("arrow", Text, nullable=False),  # base64 of the Arrow IPC schema
    _when("created_at", default=utcnow),
)
"""A table schema, stored once per distinct content (its fingerprint)."""

SCHEMA_COLUMNS = Table(
    "schema_columns",
    METADATA,
    Column("schema_id", Integer, ForeignKey("schemas.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("path", Text, nullable=False),  # top-level name, or a.b.c for nested fields
    Column("type", Text, nullable=False),
    Column("nullable", Boolean, nullable=False, default=True),
)

VERSIONS = Table(
    "table_versions",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("table_id", Integer, ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("version", BigInteger, nullable=False),
    _when("committed_at"),
    _when("recorded_at", default=utcnow),
    Column("operation", String(64), nullable=False),
    Column("schema_id", Integer, ForeignKey("schemas.id")),
    Column("run_id", String(36), ForeignKey("runs.id"), index=True),
    Column("rows_added", BigInteger),
    Column("rows_removed", BigInteger),
    Column("rows_changed", BigInteger),
    Column("files_added", BigInteger),
    Column("files_removed", BigInteger),
    Column("bytes_added", BigInteger),
    Column("rows_total", BigInteger),
    Column("files_total", BigInteger),
    Column("bytes_total", BigInteger),
    UniqueConstraint("table_id", "version"),
)
"""One Delta version of a table, as recorded by the catalog."""

VERSIONS_UNRECORDED = {
    "sqlite": (
        "CREATE TRIGGER table_versions_unrecorded AFTER DELETE ON table_versions "
        "BEGIN UPDATE tables SET versions_through = NULL "
        "WHERE id = OLD.table_id AND versions_through >= OLD.version; END",
    ),
    "postgresql": (
        "CREATE FUNCTION table_versions_unrecorded() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE tables SET versions_through = NULL "
        "WHERE id = OLD.table_id AND versions_through >= OLD.version; RETURN OLD; END $$",
        "CREATE TRIGGER table_versions_unrecorded AFTER DELETE ON table_versions "
        "FOR EACH ROW EXECUTE FUNCTION table_versions_unrecorded()",
    ),
}
"""The database's own rule that a version row deleted (by hand: the lake never deletes one)
makes ``tables.versions_through`` unknown, so the next write counts the rows again and
records the version from the Delta log. Created by migration 0005 (and with the tables when
they are created from :data:`METADATA`)."""

for _dialect, _statements in VERSIONS_UNRECORDED.items():
    for _statement in _statements:
        event.listen(VERSIONS, "after_create", DDL(_statement).execute_if(dialect=_dialect))

SCHEMA_CHANGES = Table(
    "schema_changes",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("table_id", Integer, ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("column", Text, nullable=False),
    Column("change", String(16), nullable=False),  # added | widened | conflict | dropped
    Column("old_type", Text),
    Column("new_type", Text),
    Column("source", Text),
    Column("line", BigInteger),
    Column("detail", Text),
    _when("recorded_at", default=utcnow),
    Index(None, "table_id", "version"),
)
"""The drift ledger: each column added, widened or in conflict, where it first appeared."""

RUNS = Table(
    "runs",
    METADATA,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("job", Text, nullable=False),  # e.g. ingest_logs:web.access
    Column("status", String(16), nullable=False),  # running | completed | failed
    _when("started_at", default=utcnow),
    _when("ended_at", nullable=True),
    _json("parameters"),
    Column("user", String(128)),
    Column("host", String(255)),
    Column("code_version", String(64)),
    Column("error", Text),
    _json("stats"),
    Index(None, "kind", "started_at"),
    Index(None, "status", "host"),
)
"""One execution of a job (an ingest, an extract, a materialization, an external job).

The id is a UUID, so an OpenLineage ``runId`` can be kept as it is."""

SOURCES = Table(
    "sources",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # file | database | external
    Column("namespace", Text, nullable=False),  # file:// , s3://bucket, postgresql://host:5432/db
    Column("name", Text, nullable=False),  # path, table or query name
    Column("version", Text),  # sha256, watermark range, ...
    _json("facets"),
    _when("created_at", default=utcnow),
    Index(None, "kind", "namespace", "name"),
    Index(None, "name"),
)
"""A dataset outside the lake, at one version: a file (with its sha256), a database
extract (query and watermark range), or a dataset named by an OpenLineage event."""

EDGES = Table(
    "lineage_edges",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(36), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("table_version_id", Integer, ForeignKey("table_versions.id")),
    Column("source_id", Integer, ForeignKey("sources.id")),
    Column("training_set_id", Integer, ForeignKey("training_sets.id")),
    Column("model_id", Integer, ForeignKey("models.id")),
    CheckConstraint(
        "(CASE WHEN table_version_id IS NULL THEN 0 ELSE 1 END"
        " + CASE WHEN source_id IS NULL THEN 0 ELSE 1 END"
        " + CASE WHEN training_set_id IS NULL THEN 0 ELSE 1 END"
        " + CASE WHEN model_id IS NULL THEN 0 ELSE 1 END) = 1",
        name="one_target",
    ),
    CheckConstraint("direction IN ('input', 'output')", name="direction"),
    Index(None, "run_id", "direction"),
    Index(None, "table_version_id", "direction"),
    Index(None, "source_id", "direction"),
    Index(None, "training_set_id", "direction"),
    Index(None, "model_id", "direction"),
)
"""A run consumed (input) or produced (output) exactly one dataset version."""

INGESTED = Table(
    "ingested_files",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("table_id", Integer, ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(36), ForeignKey("runs.id"), nullable=False, index=True),
    Column("uri", Text, nullable=False),
    Column("sha256", String(64), nullable=False),  # of bytes [0, end_offset)
    Column("start_offset", BigInteger, nullable=False, default=0),
    Column("end_offset", BigInteger, nullable=False),
    Column("end_line", BigInteger, nullable=False),  # lines consumed up to end_offset
    Column("records", BigInteger, nullable=False, default=0),
    Column("state", String(16), nullable=False),  # pending | committed
    Column("version", BigInteger),
    Index(None, "table_id", "uri"),
    Index(None, "table_id", "sha256"),
)
"""What an ingest consumed of one source file: the ledger that makes re-ingest a no-op
and lets a grown log ingest only its new records."""

WATERMARKS = Table(
    "watermarks",
    METADATA,
    Column("table_id", Integer, ForeignKey("tables.id", ondelete="CASCADE"), primary_key=True),
    Column("cursor", Text, nullable=False),
    _json("value", default=None),  # {"type": ..., "value": ...}
    Column("version", BigInteger, nullable=False),
    Column("run_id", String(36), ForeignKey("runs.id"), nullable=False),
    _when("updated_at", default=utcnow),
)
"""How far an incremental extract has read its source, per table."""

TRAINING_SETS = Table(
    "training_sets",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("sql", Text, nullable=False),
    Column("content_hash", String(64), nullable=False, index=True),
    Column("row_count", BigInteger, nullable=False),
    Column("location", Text),
    _json("manifest"),
    Column("run_id", String(36), ForeignKey("runs.id")),
    _when("created_at", default=utcnow),
    UniqueConstraint("name", "version"),
    Index(None, "run_id"),
)
"""A materialized slice: a SQL query over exact table versions, written as Parquet."""

MODELS = Table(
    "models",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("version", String(64), nullable=False),
    Column("training_set_id", Integer, ForeignKey("training_sets.id")),
    Column("uri", Text),
    _json("metrics"),
    Column("run_id", String(36), ForeignKey("runs.id")),
    _when("created_at", default=utcnow),
    UniqueConstraint("name", "version"),
    Index(None, "training_set_id"),
)

PINS = Table(
    "pins",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("table_id", Integer, ForeignKey("tables.id", ondelete="CASCADE"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # tag | training_set | model
    Column("name", String(256), nullable=False),
    _when("created_at", default=utcnow),
    UniqueConstraint("table_id", "kind", "name"),
    Index(None, "table_id", "version"),
    Index(None, "kind", "name"),
)
"""A table version that vacuum must keep: a tag, or an input of a training set or model."""

API_TOKENS = Table(
    "api_tokens",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("name", String(128)),
    Column("role", String(16), nullable=False),  # read | write | admin
    Column("token_hash", String(64), nullable=False, unique=True),
    _when("created_at", default=utcnow),
    _when("last_used_at", nullable=True),
    _when("revoked_at", nullable=True),
)

LEASES = Table(
    "leases",
    METADATA,
    Column("name", String(256), primary_key=True),
    Column("holder", String(128), nullable=False),
    _when("acquired_at", default=utcnow),
    _when("expires_at"),
)
"""An exclusive right to do one thing to the lake for a while (e.g. compact a table),
held by one process; taken by a compare-and-swap, so it works on every catalog backend.
A lease past ``expires_at`` is free again: a killed holder cannot keep it."""


__all__ = [
    "API_TOKENS",
    "EDGES",
    "INGESTED",
    "LEASES",
    "METADATA",
    "MODELS",
    "NAMESPACES",
    "NAMING",
    "PINS",
    "RUNS",
    "SCHEMAS",
    "SCHEMA_CHANGES",
    "SCHEMA_COLUMNS",
    "SOURCES",
    "TABLES",
    "TRAINING_SETS",
    "UTCDateTime",
    "VERSIONS",
    "VERSIONS_UNRECORDED",
    "WATERMARKS",
    "jsonable",
    "utcnow",
]
