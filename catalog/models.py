"""The catalog's tables as SQLAlchemy 2 ORM classes, for the reads, the lineage walks and
the web catalog that query by class.

Each class is mapped onto its ``Table`` in ``catalog.definitions``, the one definition of
each table (columns, constraints, indexes and the metadata Alembic compares with); this
module adds only the mapping and the relationships. The write path never imports it: it
runs Core statements on the tables (importing the ORM and mapping these classes cost a
writing command 0.15-0.2 s).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped, relationship

from catalog import definitions as d
from catalog.definitions import NAMING, VERSIONS_UNRECORDED, UTCDateTime, jsonable, utcnow


class Base(DeclarativeBase):
    metadata = d.METADATA


class Namespace(Base):
    __table__ = d.NAMESPACES

    id: Mapped[int]
    name: Mapped[str]
    created_at: Mapped[datetime]


class Table(Base):
    """A lake table: one Delta table in the warehouse."""

    __table__ = d.TABLES

    id: Mapped[int]
    namespace_id: Mapped[int]
    name: Mapped[str]
    kind: Mapped[str]  # logs | extract | ...
    location: Mapped[str]
    format: Mapped[str]
    created_at: Mapped[datetime]
    properties: Mapped[dict[str, Any]]
    current_version: Mapped[int | None]
    versions_through: Mapped[int | None]

    namespace: Mapped[Namespace] = relationship(lazy="joined")


class Schema(Base):
    """A table schema, stored once per distinct content (its fingerprint)."""

    __table__ = d.SCHEMAS

    id: Mapped[int]
    fingerprint: Mapped[str]
    arrow: Mapped[str]  # base64 of the Arrow IPC schema
    created_at: Mapped[datetime]


class SchemaColumn(Base):
    __table__ = d.SCHEMA_COLUMNS

    schema_id: Mapped[int]
    position: Mapped[int]
    path: Mapped[str]  # top-level name, or a.b.c for nested fields
    type: Mapped[str]
    nullable: Mapped[bool]


class TableVersion(Base):
    """One Delta version of a table, as recorded by the catalog."""

    __table__ = d.VERSIONS

    id: Mapped[int]
    table_id: Mapped[int]
    version: Mapped[int]
    committed_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    operation: Mapped[str]
    schema_id: Mapped[int | None]
    run_id: Mapped[str | None]
    rows_added: Mapped[int | None]
    rows_removed: Mapped[int | None]
    rows_changed: Mapped[int | None]
    files_added: Mapped[int | None]
    files_removed: Mapped[int | None]
    bytes_added: Mapped[int | None]
    rows_total: Mapped[int | None]
    files_total: Mapped[int | None]
    bytes_total: Mapped[int | None]


class SchemaChange(Base):
    """The drift ledger: each column added, widened or in conflict, where it first appeared."""

    __table__ = d.SCHEMA_CHANGES

    id: Mapped[int]
    table_id: Mapped[int]
    version: Mapped[int]
    column: Mapped[str]
    change: Mapped[str]  # added | widened | conflict | dropped
    old_type: Mapped[str | None]
    new_type: Mapped[str | None]
    source: Mapped[str | None]
    line: Mapped[int | None]
    detail: Mapped[str | None]
    recorded_at: Mapped[datetime]


class Run(Base):
    """One execution of a job (an ingest, an extract, a materialization, an external job).

    The id is a UUID, so an OpenLineage ``runId`` can be kept as it is.
    """

    __table__ = d.RUNS

    id: Mapped[str]
    kind: Mapped[str]
    job: Mapped[str]  # e.g. ingest_logs:web.access
    status: Mapped[str]  # running | completed | failed
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    parameters: Mapped[dict[str, Any]]
    user: Mapped[str | None]
    host: Mapped[str | None]
    code_version: Mapped[str | None]
    error: Mapped[str | None]
    stats: Mapped[dict[str, Any]]


class Source(Base):
    """A dataset outside the lake, at one version: a file (with its sha256), a database
    extract (query and watermark range), or a dataset named by an OpenLineage event."""

    __table__ = d.SOURCES

    id: Mapped[int]
    kind: Mapped[str]  # file | database | external
    namespace: Mapped[str]  # file:// , s3://bucket, postgresql://host:5432/db
    name: Mapped[str]  # path, table or query name
    version: Mapped[str | None]  # sha256, watermark range, ...
    facets: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class LineageEdge(Base):
    """A run consumed (input) or produced (output) exactly one dataset version."""

    __table__ = d.EDGES

    id: Mapped[int]
    run_id: Mapped[str]
    direction: Mapped[str]
    table_version_id: Mapped[int | None]
    source_id: Mapped[int | None]
    training_set_id: Mapped[int | None]
    model_id: Mapped[int | None]


class IngestedFile(Base):
    """What an ingest consumed of one source file: the ledger that makes re-ingest a no-op
    and lets a grown log ingest only its new records."""

    __table__ = d.INGESTED

    id: Mapped[int]
    table_id: Mapped[int]
    run_id: Mapped[str]
    uri: Mapped[str]
    sha256: Mapped[str]
    start_offset: Mapped[int]
    end_offset: Mapped[int]
    end_line: Mapped[int]  # lines consumed up to end_offset
    records: Mapped[int]
    state: Mapped[str]  # pending | committed
    version: Mapped[int | None]


class Watermark(Base):
    """How far an incremental extract has read its source, per table."""

    __table__ = d.WATERMARKS

    table_id: Mapped[int]
    cursor: Mapped[str]
    value: Mapped[dict[str, Any]]  # {"type": ..., "value": ...}
    version: Mapped[int]
    run_id: Mapped[str]
    updated_at: Mapped[datetime]


class TrainingSet(Base):
    """A materialized slice: a SQL query over exact table versions, written as Parquet."""

    __table__ = d.TRAINING_SETS

    id: Mapped[int]
    name: Mapped[str]
    version: Mapped[int]
    sql: Mapped[str]
    content_hash: Mapped[str]
    row_count: Mapped[int]
    location: Mapped[str | None]
    manifest: Mapped[dict[str, Any]]
    run_id: Mapped[str | None]
    created_at: Mapped[datetime]


class Model(Base):
    __table__ = d.MODELS

    id: Mapped[int]
    name: Mapped[str]
    version: Mapped[str]
    training_set_id: Mapped[int | None]
    uri: Mapped[str | None]
    metrics: Mapped[dict[str, Any]]
    run_id: Mapped[str | None]
    created_at: Mapped[datetime]


class Pin(Base):
    """A table version that vacuum must keep: a tag, or an input of a training set or model."""

    __table__ = d.PINS

    id: Mapped[int]
    table_id: Mapped[int]
    version: Mapped[int]
    kind: Mapped[str]  # tag | training_set | model
    name: Mapped[str]
    created_at: Mapped[datetime]


class ApiToken(Base):
    __table__ = d.API_TOKENS

    id: Mapped[int]
    name: Mapped[str | None]
    role: Mapped[str]  # read | write | admin
    token_hash: Mapped[str]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Lease(Base):
    """An exclusive right to do one thing to the lake for a while (e.g. compact a table),
    held by one process; taken by a compare-and-swap, so it works on every catalog backend.
    A lease past ``expires_at`` is free again: a killed holder cannot keep it."""

    __table__ = d.LEASES

    name: Mapped[str]
    holder: Mapped[str]
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


__all__ = [
    "NAMING",
    "VERSIONS_UNRECORDED",
    "UTCDateTime",
    "jsonable",
    "utcnow",
]
