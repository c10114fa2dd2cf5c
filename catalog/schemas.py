"""Schemas and their drift.

A schema is stored once per distinct content (:func:`describe_schema` fingerprints it) and
each recorded version names its schema. Drift is the ledger of how a table's columns
changed: each column added, widened or in conflict, with the version and the source
(and line) where the change first appeared.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from catalog.connection import Connection, CoreConnection
from catalog.definitions import SCHEMA_CHANGES, SCHEMA_COLUMNS, SCHEMAS
from catalog.tables import TableInfo
from lake.core.errors import CatalogError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class SchemaChangeInfo:
    version: int
    column: str
    change: str
    old_type: str | None
    new_type: str | None
    source: str | None
    line: int | None
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def describe_schema(schema: pa.Schema) -> tuple[str, str, list[tuple[str, str, bool]]]:
    """(fingerprint, base64 Arrow IPC, flattened columns) of a schema.

    The fingerprint hashes names, types (JSON text columns as ``json``) and nullability,
    not other metadata, so the same schema written twice is stored once.
    """
    # Every append records its table's schema, nearly always the one recorded before: an
    # equal schema (field metadata, the JSON marks, included) is described as it was.
    for described, found in _described:
        if described.equals(schema, check_metadata=True):
            return found[0], found[1], list(found[2])
    found = _describe(schema)
    _described[:] = [(schema, found), *_described[: _DESCRIBED - 1]]
    return found[0], found[1], list(found[2])


_DESCRIBED = 8
_described: list[tuple[pa.Schema, tuple[str, str, list[tuple[str, str, bool]]]]] = []
"""The schemas described last, newest first (see :func:`describe_schema`)."""


def _describe(schema: pa.Schema) -> tuple[str, str, list[tuple[str, str, bool]]]:
    import pyarrow as pa

    from lake.delta.types import column_type

    columns: list[tuple[str, str, bool]] = []

    def walk(prefix: str, f: pa.Field) -> None:
        # Postgres text cannot hold NUL; the Arrow schema below keeps the exact name.
        path = f"{prefix}{f.name}".replace("\x00", "\ufffd")
        columns.append((path, column_type(f), f.nullable))
        if pa.types.is_struct(f.type):
            for i in range(f.type.num_fields):
                walk(f"{path}.", f.type.field(i))

    for f in schema:
        walk("", f)
    canonical = json.dumps(columns, separators=(",", ":"))
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    plain = pa.schema([pa.field(f.name, f.type, f.nullable) for f in schema])
    arrow_b64 = base64.b64encode(plain.serialize().to_pybytes()).decode()
    return fingerprint, arrow_b64, columns


def intern_schema(
    conn: CoreConnection, fingerprint: str, arrow_b64: str, columns: list[tuple[str, str, bool]]
) -> int:
    """The id of the stored schema with this fingerprint, stored now if it is new (what
    :func:`describe_schema` gives); a concurrent writer storing it first is no error."""
    found = conn.execute(select(SCHEMAS.c.id).where(SCHEMAS.c.fingerprint == fingerprint)).scalar()
    if found is not None:
        return found
    try:
        with conn.begin_nested():
            schema_id = conn.execute(
                insert(SCHEMAS)
                .values(fingerprint=fingerprint, arrow=arrow_b64)
                .returning(SCHEMAS.c.id)
            ).scalar_one()
            if columns:
                conn.execute(
                    insert(SCHEMA_COLUMNS),
                    [
                        {
                            "schema_id": schema_id,
                            "position": i,
                            "path": path,
                            "type": type_,
                            "nullable": nullable,
                        }
                        for i, (path, type_, nullable) in enumerate(columns)
                    ],
                )
            return schema_id
    except IntegrityError:
        found = conn.scalar(select(SCHEMAS.c.id).where(SCHEMAS.c.fingerprint == fingerprint))
        assert found is not None
        return found


def schema(db: Connection, schema_id: int) -> pa.Schema:
    """The stored schema with this id, as Arrow.

    Raises:
        CatalogError: no schema has this id.
    """
    import pyarrow as pa

    def work(conn: CoreConnection) -> str:
        arrow = conn.scalar(select(SCHEMAS.c.arrow).where(SCHEMAS.c.id == schema_id))
        if arrow is None:
            raise CatalogError(f"Schema {schema_id} is not in the catalog.")
        return arrow

    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(db.core_transaction(work))))


def record_drift(
    conn: CoreConnection, table_id: int, version: int, events: Iterable[Mapping[str, Any]]
) -> None:
    """Add the drift events a version brought (dicts with column, change, old_type,
    new_type, source, line, detail) in the caller's transaction."""
    rows = [
        {
            "table_id": table_id,
            "version": version,
            "column": str(event.get("column")),
            "change": str(event.get("change")),
            "old_type": event.get("old_type"),
            "new_type": event.get("new_type"),
            "source": event.get("source"),
            "line": event.get("line"),
            "detail": event.get("detail"),
        }
        for event in events
    ]
    if rows:
        conn.execute(insert(SCHEMA_CHANGES), rows)


def schema_changes(db: Connection, table: TableInfo) -> list[SchemaChangeInfo]:
    """The table's drift ledger, in the order the changes were recorded."""

    def work(conn: CoreConnection) -> list[SchemaChangeInfo]:
        rows = conn.execute(
            select(SCHEMA_CHANGES)
            .where(SCHEMA_CHANGES.c.table_id == table.id)
            .order_by(SCHEMA_CHANGES.c.version, SCHEMA_CHANGES.c.id)
        )
        return [
            SchemaChangeInfo(
                version=r.version,
                column=r.column,
                change=r.change,
                old_type=r.old_type,
                new_type=r.new_type,
                source=r.source,
                line=r.line,
                detail=r.detail,
            )
            for r in rows
        ]

    return db.core_transaction(work)


__all__ = [
    "SCHEMAS",
    "SchemaChangeInfo",
    "describe_schema",
    "intern_schema",
    "record_drift",
    "schema",
    "schema_changes",
]
