"""Namespaces and tables: what the lake holds, where each table lives, of what kind.

A table belongs to a namespace (``web`` in ``web.access``), created with its first table.
``current_version`` is the newest version the catalog has recorded (``catalog.recording``
moves it, only forward).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update

from catalog.connection import Connection, CoreConnection
from catalog.definitions import NAMESPACES, TABLES, VERSIONS
from catalog.records import TableInfo
from lake.core.errors import CommitConflict, ExternalTable, TableExists, TableNotFound
from lake.core.names import TableName

EXTERNAL_KIND = "external"
"""A table another engine wrote, registered with ``lake table register``: never written by
the lake (see ``lake.landing.register``)."""


def list_tables(db: Connection) -> list[TableInfo]:
    """Every table, by namespace and name."""

    def work(conn: CoreConnection) -> list[TableInfo]:
        rows = conn.execute(
            _TABLE_ROW.join_from(TABLES, NAMESPACES, TABLES.c.namespace_id == NAMESPACES.c.id)
            .add_columns(NAMESPACES.c.name.label("namespace_name"), TABLES.c.name)
            .order_by(NAMESPACES.c.name, TABLES.c.name)
        )
        return [table_info(row, TableName(row.namespace_name, row.name)) for row in rows]

    return db.core_transaction(work)


def find_tables(db: Connection, names: Collection[TableName]) -> dict[TableName, TableInfo]:
    """The tables among ``names`` that exist, in one query (what a SQL query names: reading
    every table instead costs a lake of many tables on every query)."""
    wanted = set(names)
    if not wanted:
        return {}

    def work(conn: CoreConnection) -> dict[TableName, TableInfo]:
        rows = conn.execute(
            _TABLE_ROW.join_from(TABLES, NAMESPACES, TABLES.c.namespace_id == NAMESPACES.c.id)
            .add_columns(NAMESPACES.c.name.label("namespace_name"), TABLES.c.name)
            .where(
                or_(
                    *(
                        and_(NAMESPACES.c.name == n.namespace, TABLES.c.name == n.name)
                        for n in sorted(wanted)
                    )
                )
            )
        )
        found = (table_info(row, TableName(row.namespace_name, row.name)) for row in rows)
        return {info.name: info for info in found if info.name in wanted}

    return db.core_transaction(work)


def find_table(db: Connection, name: TableName) -> TableInfo | None:
    """The table called ``name``, or None."""

    return db.core_transaction(lambda conn: _found_table(conn, name))


def get_table(db: Connection, name: TableName) -> TableInfo:
    """The table called ``name``.

    Raises:
        TableNotFound: naming the tables that do exist, when few.
    """
    found = find_table(db, name)
    if found is None:
        known = [str(t.name) for t in list_tables(db)]
        hint = (
            f" Known tables: {', '.join(known[:10])}." if known else " The lake has no tables yet."
        )
        raise TableNotFound(f"Table {name} does not exist.{hint}")
    return found


def create_table(
    db: Connection,
    name: TableName,
    *,
    kind: str,
    location: str,
    properties: Mapping[str, Any] | None = None,
    exist_ok: bool = False,
) -> TableInfo:
    """Register a table (and its namespace).

    Raises:
        TableExists: unless ``exist_ok``; an existing table of another kind always raises.
    """

    def work(conn: CoreConnection) -> TableInfo:
        return ensure_table(
            conn, name, kind=kind, location=location, properties=properties, exist_ok=exist_ok
        )

    try:
        return db.core_transaction(work)
    except CommitConflict:
        # Two writers created the namespace or table at once: the other one won.
        found = find_table(db, name)
        if found is None:
            raise
        if found.kind != kind or not exist_ok:
            raise TableExists(f"Table {name} already exists (a {found.kind} table).") from None
        return found


def ensure_table(
    conn: CoreConnection,
    name: TableName,
    *,
    kind: str,
    location: str,
    properties: Mapping[str, Any] | None = None,
    exist_ok: bool = False,
) -> TableInfo:
    """:func:`create_table` inside a transaction of the caller's (a writer's first one).

    Raises:
        TableExists: unless ``exist_ok``; an existing table of another kind always raises.
    """
    existing = _found_table(conn, name, totals=True)
    if existing is not None:
        if existing.kind == EXTERNAL_KIND and kind != EXTERNAL_KIND:
            raise ExternalTable(
                f"Table {name} is an external Delta table (registered from "
                f"{existing.location}) and the lake does not write to it; write to "
                "another table."
            )
        if not exist_ok or existing.kind != kind:
            raise TableExists(
                f"Table {name} already exists (a {existing.kind} table at {existing.location})."
            )
        return existing
    namespace_id = conn.scalar(select(NAMESPACES.c.id).where(NAMESPACES.c.name == name.namespace))
    if namespace_id is None:
        namespace_id = conn.execute(
            insert(NAMESPACES).values(name=name.namespace).returning(NAMESPACES.c.id)
        ).scalar_one()
    row = conn.execute(
        insert(TABLES)
        .values(
            namespace_id=namespace_id,
            name=name.name,
            kind=kind,
            location=location,
            properties=dict(properties or {}),
        )
        .returning(*_TABLE_ROW.selected_columns)
    ).one()
    return table_info(row, name)


_TABLE_ROW = select(
    TABLES.c.id,
    TABLES.c.kind,
    TABLES.c.location,
    TABLES.c.format,
    TABLES.c.created_at,
    TABLES.c.current_version,
    TABLES.c.properties,
    TABLES.c.versions_through,
)
"""The columns of a table's row that :func:`table_info` reads besides its name."""
_FIND_TABLE = _TABLE_ROW.join_from(
    TABLES, NAMESPACES, TABLES.c.namespace_id == NAMESPACES.c.id
).where(NAMESPACES.c.name == bindparam("b_namespace"), TABLES.c.name == bindparam("b_name"))
"""Built once: every write looks its table up (see :mod:`catalog.runs`)."""


_FIND_TABLE_TO_WRITE = _FIND_TABLE.add_columns(
    VERSIONS.c.rows_total, VERSIONS.c.files_total, VERSIONS.c.bytes_total
).outerjoin(
    VERSIONS,
    and_(VERSIONS.c.table_id == TABLES.c.id, VERSIONS.c.version == TABLES.c.current_version),
)
""":data:`_FIND_TABLE` with the totals recorded for the current version (one statement: a
writer checks the version it writes on against them, see ``catalog.records.check_base``)."""


def _found_table(
    conn: CoreConnection, name: TableName, *, totals: bool = False
) -> TableInfo | None:
    """The table called ``name``, or None; ``totals``: with :attr:`TableInfo.recorded_totals`."""
    statement = _FIND_TABLE_TO_WRITE if totals else _FIND_TABLE
    row = conn.execute(statement, {"b_namespace": name.namespace, "b_name": name.name}).first()
    if row is None:
        return None
    info = table_info(row, name)
    if totals and row.current_version is not None:
        info = replace(info, recorded_totals=(row.rows_total, row.files_total, row.bytes_total))
    return info


def set_table_properties(db: Connection, table_id: int, properties: Mapping[str, Any]) -> None:
    """Merge ``properties`` into the table's properties (a key given replaces its value)."""

    def work(conn: CoreConnection) -> None:
        kept = conn.scalar(select(TABLES.c.properties).where(TABLES.c.id == table_id))
        conn.execute(
            update(TABLES)
            .where(TABLES.c.id == table_id)
            .values(properties={**(kept or {}), **properties})
        )

    db.core_transaction(work)


def table_info(row: Any, name: TableName | None = None) -> TableInfo:
    """What the catalog hands out for a table's row (an ORM row, or a Core row of the
    table's columns with its ``name``)."""
    return TableInfo(
        id=row.id,
        name=name if name is not None else TableName(row.namespace.name, row.name),
        kind=row.kind,
        location=row.location,
        format=row.format,
        created_at=row.created_at,
        current_version=row.current_version,
        properties=dict(row.properties or {}),
        versions_through=row.versions_through,
    )


__all__ = [
    "TableInfo",
    "create_table",
    "ensure_table",
    "find_table",
    "get_table",
    "list_tables",
    "set_table_properties",
    "table_info",
]
