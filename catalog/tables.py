"""Namespaces and tables: what the lake holds, where each table lives, of what kind.

A table belongs to a namespace (``web`` in ``web.access``), created with its first table.
``current_version`` is the newest version the catalog has recorded (``catalog.recording``
moves it, only forward).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from catalog import models as m
from catalog.connection import Connection
from catalog.records import TableInfo
from lake.core.errors import CommitConflict, ExternalTable, TableExists, TableNotFound
from lake.core.names import TableName

EXTERNAL_KIND = "external"
"""A table another engine wrote, registered with ``lake table register``: never written by
the lake (see ``lake.landing.register``)."""


def list_tables(db: Connection) -> list[TableInfo]:
    """Every table, by namespace and name."""

    def work(session: Session) -> list[TableInfo]:
        rows = session.scalars(
            select(m.Table).join(m.Namespace).order_by(m.Namespace.name, m.Table.name)
        )
        return [table_info(row) for row in rows]

    return db.transaction(work)


def find_tables(db: Connection, names: Collection[TableName]) -> dict[TableName, TableInfo]:
    """The tables among ``names`` that exist, in one query (what a SQL query names: reading
    every table instead costs a lake of many tables on every query)."""
    wanted = set(names)
    if not wanted:
        return {}

    def work(session: Session) -> dict[TableName, TableInfo]:
        rows = session.scalars(
            select(m.Table)
            .join(m.Namespace)
            .where(
                or_(
                    *(
                        and_(m.Namespace.name == n.namespace, m.Table.name == n.name)
                        for n in sorted(wanted)
                    )
                )
            )
        )
        found = (table_info(row) for row in rows)
        return {info.name: info for info in found if info.name in wanted}

    return db.transaction(work)


def find_table(db: Connection, name: TableName) -> TableInfo | None:
    """The table called ``name``, or None."""

    def work(session: Session) -> TableInfo | None:
        row = table_row(session, name)
        return table_info(row) if row else None

    return db.transaction(work)


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

    def work(session: Session) -> TableInfo:
        return ensure_table(
            session, name, kind=kind, location=location, properties=properties, exist_ok=exist_ok
        )

    try:
        return db.transaction(work)
    except CommitConflict:
        # Two writers created the namespace or table at once: the other one won.
        found = find_table(db, name)
        if found is None:
            raise
        if found.kind != kind or not exist_ok:
            raise TableExists(f"Table {name} already exists (a {found.kind} table).") from None
        return found


def ensure_table(
    session: Session,
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
    existing = _found_table(session, name)
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
    namespace = session.scalar(select(m.Namespace).where(m.Namespace.name == name.namespace))
    if namespace is None:
        namespace = m.Namespace(name=name.namespace)
        session.add(namespace)
        session.flush()
    row = m.Table(
        namespace_id=namespace.id,
        name=name.name,
        kind=kind,
        location=location,
        properties=dict(properties or {}),
    )
    session.add(row)
    session.flush()
    return table_info(row)


def _found_table(session: Session, name: TableName) -> TableInfo | None:
    """The table called ``name``, read by a Core statement (a writer's first look: the ORM's
    loading was most of its cost)."""
    tables, namespaces = m.Table.__table__, m.Namespace.__table__
    row = (
        session.connection()
        .execute(
            select(
                tables.c.id,
                tables.c.kind,
                tables.c.location,
                tables.c.format,
                tables.c.created_at,
                tables.c.current_version,
                tables.c.properties,
                tables.c.versions_through,
            )
            .join_from(tables, namespaces, tables.c.namespace_id == namespaces.c.id)
            .where(namespaces.c.name == name.namespace, tables.c.name == name.name)
        )
        .first()
    )
    return table_info(row, name) if row is not None else None


def set_table_properties(db: Connection, table_id: int, properties: Mapping[str, Any]) -> None:
    """Merge ``properties`` into the table's properties (a key given replaces its value)."""

    def work(session: Session) -> None:
        row = session.get(m.Table, table_id)
        assert row is not None
        row.properties = {**(row.properties or {}), **properties}

    db.transaction(work)


def table_row(session: Session, name: TableName) -> m.Table | None:
    """The table's row, or None."""
    return session.scalar(
        select(m.Table)
        .join(m.Namespace)
        .where(m.Namespace.name == name.namespace, m.Table.name == name.name)
    )


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
    "table_row",
]
