"""The catalog's tables, as SQLAlchemy 2 models.

The Delta log owns the list of data files; the catalog owns what Delta does not:
namespaces and tables, the versions the lake has recorded with their schemas and the
drift between them, runs and their lineage (which run consumed and produced which
dataset *versions*, the OpenLineage model), the ledger of ingested files and extract
watermarks, training sets, models, pins and API tokens.

Every change to these models comes with its migration in ``catalog/migrations/versions``:
an existing catalog changes only through the migrations, and a new one is created from
these models at the newest revision (``catalog.database.create_at_head``); the tests hold
both ways to the same schema.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Namespace(Base):
    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Table(Base):
    """A lake table: one Delta table in the warehouse."""

    __tablename__ = "tables"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # logs | extract | ...
    location: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16), default="delta")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The newest Delta version recorded in table_versions; moved by compare-and-swap.
    current_version: Mapped[int | None] = mapped_column(BigInteger)
    # The newest version N with every version 0..N recorded (-1: none is), moved with each
    # record; NULL when not known (a catalog migrated from before it, a version row deleted by
    # hand: see VERSIONS_UNRECORDED), and then counted again. A write asks it first: counting
    # the table's version rows grew with the history (1.5 ms at 10,000 versions).
    versions_through: Mapped[int | None] = mapped_column(BigInteger, default=-1)

    namespace: Mapped[Namespace] = relationship(lazy="joined")


class Schema(Base):
    """A table schema, stored once per distinct content (its fingerprint)."""

    __tablename__ = "schemas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    arrow: Mapped[str] = mapped_column(Text)  # base64 of the Arrow IPC schema
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchemaColumn(Base):
    __tablename__ = "schema_columns"

    schema_id: Mapped[int] = mapped_column(
        ForeignKey("schemas.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text)  # top-level name, or a.b.c for nested fields
    type: Mapped[str] = mapped_column(Text)
    nullable: Mapped[bool] = mapped_column(default=True)


class TableVersion(Base):
    """One Delta version of a table, as recorded by the catalog."""

    __tablename__ = "table_versions"
    __table_args__ = (UniqueConstraint("table_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(BigInteger)
    committed_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    operation: Mapped[str] = mapped_column(String(64))
    schema_id: Mapped[int | None] = mapped_column(ForeignKey("schemas.id"))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    rows_added: Mapped[int | None] = mapped_column(BigInteger)
    rows_removed: Mapped[int | None] = mapped_column(BigInteger)
    rows_changed: Mapped[int | None] = mapped_column(BigInteger)
    files_added: Mapped[int | None] = mapped_column(BigInteger)
    files_removed: Mapped[int | None] = mapped_column(BigInteger)
    bytes_added: Mapped[int | None] = mapped_column(BigInteger)
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    files_total: Mapped[int | None] = mapped_column(BigInteger)
    bytes_total: Mapped[int | None] = mapped_column(BigInteger)


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
they are created from these models)."""

for _dialect, _statements in VERSIONS_UNRECORDED.items():
    for _statement in _statements:
        event.listen(
            TableVersion.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect)
        )


class SchemaChange(Base):
    """The drift ledger: each column added, widened or in conflict, where it first appeared."""

    __tablename__ = "schema_changes"
    __table_args__ = (Index(None, "table_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(BigInteger)
    column: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(String(16))  # added | widened | conflict | dropped
    old_type: Mapped[str | None] = mapped_column(Text)
    new_type: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Run(Base):
    """One execution of a job (an ingest, an extract, a materialization, an external job).

    The id is a UUID, so an OpenLineage ``runId`` can be kept as it is.
    """

    __tablename__ = "runs"
    __table_args__ = (Index(None, "kind", "started_at"), Index(None, "status", "host"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    job: Mapped[str] = mapped_column(Text)  # e.g. ingest_logs:web.access
    status: Mapped[str] = mapped_column(String(16))  # running | completed | failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user: Mapped[str | None] = mapped_column(String(128))
    host: Mapped[str | None] = mapped_column(String(255))
    code_version: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Source(Base):
    """A dataset outside the lake, at one version: a file (with its sha256), a database
    extract (query and watermark range), or a dataset named by an OpenLineage event."""

    __tablename__ = "sources"
    __table_args__ = (Index(None, "kind", "namespace", "name"), Index(None, "name"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # file | database | external
    namespace: Mapped[str] = mapped_column(Text)  # file:// , s3://bucket, postgresql://host:5432/db
    name: Mapped[str] = mapped_column(Text)  # path, table or query name
    version: Mapped[str | None] = mapped_column(Text)  # sha256, watermark range, ...
    facets: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LineageEdge(Base):
    """A run consumed (input) or produced (output) exactly one dataset version."""

    __tablename__ = "lineage_edges"
    __table_args__ = (
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

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))
    table_version_id: Mapped[int | None] = mapped_column(ForeignKey("table_versions.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    training_set_id: Mapped[int | None] = mapped_column(ForeignKey("training_sets.id"))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))


class IngestedFile(Base):
    """What an ingest consumed of one source file: the ledger that makes re-ingest a no-op
    and lets a grown log ingest only its new records."""

    __tablename__ = "ingested_files"
    __table_args__ = (Index(None, "table_id", "uri"), Index(None, "table_id", "sha256"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))  # of bytes [0, end_offset)
    start_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    end_offset: Mapped[int] = mapped_column(BigInteger)
    end_line: Mapped[int] = mapped_column(BigInteger)  # lines consumed up to end_offset
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16))  # pending | committed
    version: Mapped[int | None] = mapped_column(BigInteger)


class Watermark(Base):
    """How far an incremental extract has read its source, per table."""

    __tablename__ = "watermarks"

    table_id: Mapped[int] = mapped_column(
        ForeignKey("tables.id", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[str] = mapped_column(Text)
    value: Mapped[dict[str, Any]] = mapped_column()  # {"type": ..., "value": ...}
    version: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingSet(Base):
    """A materialized slice: a SQL query over exact table versions, written as Parquet."""

    __tablename__ = "training_sets"
    __table_args__ = (UniqueConstraint("name", "version"), Index(None, "run_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    sql: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    row_count: Mapped[int] = mapped_column(BigInteger)
    location: Mapped[str | None] = mapped_column(Text)
    manifest: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version"), Index(None, "training_set_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    training_set_id: Mapped[int | None] = mapped_column(ForeignKey("training_sets.id"))
    uri: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pin(Base):
    """A table version that vacuum must keep: a tag, or an input of a training set or model."""

    __tablename__ = "pins"
    __table_args__ = (
        UniqueConstraint("table_id", "kind", "name"),
        Index(None, "table_id", "version"),
        Index(None, "kind", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # tag | training_set | model
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))  # read | write | admin
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Lease(Base):
    """An exclusive right to do one thing to the lake for a while (e.g. compact a table),
    held by one process; taken by a compare-and-swap, so it works on every catalog backend.
    A lease past ``expires_at`` is free again: a killed holder cannot keep it."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
