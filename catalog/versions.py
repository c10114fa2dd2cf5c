"""Recorded versions: each Delta version of a table the catalog has recorded, with its
operation, row, file and byte counts, schema and the run that made it.

Versions are recorded by ``catalog.recording`` and never change afterwards; a version the
catalog has not recorded yet is recorded by ``lake.landing.sync`` from the Delta log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update

from catalog.connection import Connection, CoreConnection
from catalog.definitions import NAMESPACES, TABLES, VERSIONS
from catalog.records import VersionInfo
from catalog.tables import TableInfo
from lake.core.errors import VersionNotFound
from lake.core.names import TableName


def find_version(db: Connection, table: TableInfo, version: int) -> VersionInfo | None:
    """The recorded ``version`` of ``table``, or None."""

    def work(conn: CoreConnection) -> VersionInfo | None:
        row = conn.execute(
            select(VERSIONS).where(VERSIONS.c.table_id == table.id, VERSIONS.c.version == version)
        ).first()
        return version_info(row, table.name) if row else None

    return db.core_transaction(work)


def get_version(db: Connection, table: TableInfo, version: int) -> VersionInfo:
    """The recorded ``version`` of ``table``.

    Raises:
        VersionNotFound: the version is not recorded (naming the latest one).
    """
    found = find_version(db, table, version)
    if found is None:
        raise VersionNotFound(
            f"Version {version} of {table.name} is not recorded; the latest is "
            f"{table.current_version if table.current_version is not None else 'none'}."
        )
    return found


def recorded_versions(db: Connection, table: TableInfo) -> set[int]:
    """The numbers of the table's recorded versions."""

    def work(conn: CoreConnection) -> set[int]:
        return set(conn.scalars(select(VERSIONS.c.version).where(VERSIONS.c.table_id == table.id)))

    return db.core_transaction(work)


def recorded_through(db: Connection, table: TableInfo) -> int | None:
    """The newest version N with every version 0..N recorded, or None (see the facade): the
    table's ``versions_through`` when known; counted from its version rows and kept there
    when not."""

    def work(conn: CoreConnection) -> int | None:
        kept = conn.scalar(select(TABLES.c.versions_through).where(TABLES.c.id == table.id))
        if kept is not None:
            return int(kept) if kept >= 0 else None
        count, newest = conn.execute(
            select(func.count(), func.max(VERSIONS.c.version)).where(
                VERSIONS.c.table_id == table.id
            )
        ).one()
        through = -1
        if count and count == newest + 1:  # versions are unique per table: no gap below
            through = int(newest)
        elif count:
            recorded = sorted(
                conn.scalars(select(VERSIONS.c.version).where(VERSIONS.c.table_id == table.id))
            )
            for version in recorded:
                if version != through + 1:
                    break
                through = version
        _advance_through(conn, table.id, through)
        return through if through >= 0 else None

    return db.core_transaction(work)


def mark_recorded_through(db: Connection, table: TableInfo, version: int) -> None:
    """Keep that every version 0..``version`` of the table is recorded (a sync that found
    or filled every gap); a newer mark is left as it is."""
    db.core_transaction(lambda conn: _advance_through(conn, table.id, version))


def _advance_through(conn: CoreConnection, table_id: int, version: int) -> None:
    # Only forward: version rows are never deleted by the lake, so a complete prefix only
    # grows, and a concurrent writer's larger mark stays.
    conn.execute(
        update(TABLES)
        .where(
            TABLES.c.id == table_id,
            or_(TABLES.c.versions_through.is_(None), TABLES.c.versions_through < version),
        )
        .values(versions_through=version)
    )


def versions(db: Connection, table: TableInfo) -> list[VersionInfo]:
    """Every recorded version of the table, oldest first."""

    def work(conn: CoreConnection) -> list[VersionInfo]:
        rows = conn.execute(
            select(VERSIONS).where(VERSIONS.c.table_id == table.id).order_by(VERSIONS.c.version)
        )
        return [version_info(r, table.name) for r in rows]

    return db.core_transaction(work)


def current_versions(db: Connection) -> dict[TableName, VersionInfo]:
    """The current recorded version of every table that has one, in one query (for
    listings that show each table's rows, size and last write)."""

    def work(conn: CoreConnection) -> dict[TableName, VersionInfo]:
        rows = conn.execute(
            select(
                VERSIONS,
                NAMESPACES.c.name.label("namespace_name"),
                TABLES.c.name.label("table_name"),
            )
            .join(TABLES, TABLES.c.id == VERSIONS.c.table_id)
            .join(NAMESPACES, NAMESPACES.c.id == TABLES.c.namespace_id)
            .where(VERSIONS.c.version == TABLES.c.current_version)
        )
        found = {}
        for row in rows:
            name = TableName(row.namespace_name, row.table_name)
            found[name] = version_info(row, name)
        return found

    return db.core_transaction(work)


def version_at(db: Connection, table: TableInfo, moment: datetime) -> VersionInfo:
    """The newest recorded version committed at or before ``moment`` with no earlier version
    committed after it: writers' clocks differ, and a commit time that goes back (version 2
    stamped before version 1) counts as just after the one before, as Delta readers take it,
    for a version holds the rows of every version before it.

    Raises:
        VersionNotFound: the table had no version then.
    """
    first_later = (
        select(func.min(VERSIONS.c.version))
        .where(VERSIONS.c.table_id == table.id, VERSIONS.c.committed_at > moment)
        .scalar_subquery()
    )

    def work(conn: CoreConnection) -> VersionInfo | None:
        row = conn.execute(
            select(VERSIONS)
            .where(
                VERSIONS.c.table_id == table.id,
                VERSIONS.c.committed_at <= moment,
                or_(first_later.is_(None), VERSIONS.c.version < first_later),
            )
            .order_by(VERSIONS.c.version.desc())
            .limit(1)
        ).first()
        return version_info(row, table.name) if row else None

    found = db.core_transaction(work)
    if found is None:
        raise VersionNotFound(
            f"{table.name} had no version at {moment.isoformat()}: it was created later."
        )
    return found


def version_record(values: Mapping[str, Any], name: TableName) -> VersionInfo:
    """What the catalog hands out for a version row it has just written from ``values``."""
    return VersionInfo(table=name, **{k: values.get(k) for k in _INFO_FIELDS})


_INFO_FIELDS = (
    "version",
    "committed_at",
    "operation",
    "run_id",
    "rows_added",
    "rows_removed",
    "rows_changed",
    "files_added",
    "files_removed",
    "bytes_added",
    "rows_total",
    "files_total",
    "bytes_total",
    "schema_id",
)


def version_info(row: Any, name: TableName) -> VersionInfo:
    """What the catalog hands out for a version's row (an ORM ``TableVersion`` or a Core
    row of its columns)."""
    return VersionInfo(
        table=name,
        version=row.version,
        committed_at=row.committed_at,
        operation=row.operation,
        run_id=row.run_id,
        rows_added=row.rows_added,
        rows_removed=row.rows_removed,
        rows_changed=row.rows_changed,
        files_added=row.files_added,
        files_removed=row.files_removed,
        bytes_added=row.bytes_added,
        rows_total=row.rows_total,
        files_total=row.files_total,
        bytes_total=row.bytes_total,
        schema_id=row.schema_id,
    )


__all__ = [
    "VERSIONS",
    "VersionInfo",
    "current_versions",
    "find_version",
    "get_version",
    "mark_recorded_through",
    "recorded_through",
    "recorded_versions",
    "version_at",
    "version_info",
    "version_record",
    "versions",
]
