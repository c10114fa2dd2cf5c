"""What columns a table or query returns, per dialect, before any row is read.

Each function runs a ``LIMIT 0`` probe of the exact selectable the extract will read (so a
table and an arbitrary query are described the same way), reads the driver's result metadata,
and asks ingest/dbtypes.py for the mapping. Postgres adds its catalog (type names, domains,
array elements, declared typmods); SQLite has no result types at all, so its columns are
profiled: one aggregate pass over the source counts the storage classes actually present.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ingest.db.types import (
    MySqlField,
    PgType,
    SourceColumn,
    SqliteProfile,
    mysql_column,
    pg_column,
    pg_numeric_typmod,
    sqlite_column,
    sqlite_profile_sql,
)

# PyMySQL's column flags (pymysql.constants.FLAG).
_MY_UNSIGNED, _MY_ENUM, _MY_SET = 32, 256, 2048
_MY_BINARY_CHARSET = 63
_PG_NUMERIC_OID = 1700
# Profile at most this many columns per SQLite query (SQLite allows 2,000 result columns).
_SQLITE_COLUMNS_PER_PASS = 100


def compile_sql(stmt: sa.Executable, dialect: sa.Dialect) -> str:
    """SQL text of ``stmt`` with its (constant) parameters inlined."""
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def raw_execute(conn: sa.Connection, sql: str) -> Any:
    """Run compiled SQL on the DBAPI cursor (metadata SQLAlchemy does not expose)."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    # No parameters, but "format"/"pyformat" drivers only undo the compiler's %% when given some.
    args: Any = {} if conn.dialect.paramstyle in ("pyformat", "named") else ()
    cur.execute(sql, args)
    return cur


def probe(selectable: sa.FromClause) -> sa.Select[Any]:
    return sa.select(sa.literal_column("*")).select_from(selectable).limit(0)


def duplicate_names(names: Sequence[str]) -> list[str]:
    return sorted(n for n, count in Counter(names).items() if count > 1)


# --------------------------------------------------------------------------------------------
# PostgreSQL


def pg_columns(conn: sa.Connection, selectable: sa.FromClause) -> list[SourceColumn]:
    cur = raw_execute(conn, compile_sql(probe(selectable), conn.dialect))
    desc = list(cur.description)
    cur.close()
    names = [d.name for d in desc]

    # Declared types and typmods of plain table columns: numeric(p,s) inside arrays needs the
    # typmod, and a domain column comes over the wire as its base type without the domain's.
    rels = sorted({d.table_oid for d in desc if d.table_oid})
    declared: dict[tuple[int, int], tuple[int, int]] = {}
    if rels:
        rows = conn.execute(
            sa.text(
                "SELECT attrelid, attnum, atttypid, atttypmod FROM pg_catalog.pg_attribute "
                "WHERE attrelid = ANY(:rels) AND attnum > 0"
            ),
            {"rels": rels},
        ).all()
        declared = {(int(r[0]), int(r[1])): (int(r[2]), int(r[3])) for r in rows}

    wire = [(int(d.type_code), _pg_typmod_from_description(d)) for d in desc]
    columns = [declared.get((d.table_oid, d.table_column)) if d.table_oid else None for d in desc]
    catalog = _pg_types(conn, {oid for oid, _ in wire} | {c[0] for c in columns if c})
    # The declared type only where it is what the wire carries, or a domain over it.
    roots = [
        c if c is not None and _pg_stands_for(catalog, c[0], w[0]) else w
        for c, w in zip(columns, wire, strict=True)
    ]
    pairs = sorted(_pg_typmod_pairs(catalog, roots))
    rows = conn.execute(
        sa.text(
            "SELECT u.o, u.m, format_type(u.o, NULLIF(u.m, -1)) "
            "FROM unnest(CAST(:oids AS oid[]), CAST(:mods AS int[])) AS u(o, m)"
        ),
        {"oids": [p[0] for p in pairs], "mods": [p[1] for p in pairs]},
    ).all()
    display = {(int(r[0]), int(r[1])): str(r[2]) for r in rows}
    return [
        pg_column(name, _pg_type(catalog, display, oid, mod))
        for name, (oid, mod) in zip(names, roots, strict=True)
    ]


def _pg_typmod_from_description(d: Any) -> int:
    """psycopg2 decodes only numeric typmods (into precision/scale); rebuild them."""
    if int(d.type_code) != _PG_NUMERIC_OID or d.internal_size in (None, -1):
        return -1
    scale = d.scale if d.scale < 1024 else d.scale - 2048  # 11-bit signed since Postgres 15
    return ((d.precision << 16) | (scale & 0x7FF)) + 4


def _pg_stands_for(catalog: dict[int, dict[str, Any]], oid: int, wire_oid: int) -> bool:
    """Whether type ``oid`` is ``wire_oid`` or a domain (of domains) over it."""
    while oid != wire_oid:
        row = catalog.get(oid)
        if row is None or row["typtype"] != "d" or not row["typbasetype"]:
            return False
        oid = int(row["typbasetype"])
    return True


def _pg_types(conn: sa.Connection, oids: set[int]) -> dict[int, dict[str, Any]]:
    """pg_type rows for ``oids`` and, transitively, their array elements and domain bases."""
    catalog: dict[int, dict[str, Any]] = {}
    todo = set(oids)
    while todo:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT oid, typname, typtype, typcategory, typelem, typbasetype, typtypmod "
                    "FROM pg_catalog.pg_type WHERE oid = ANY(:oids)"
                ),
                {"oids": sorted(todo)},
            )
            .mappings()
            .all()
        )
        todo = set()
        for r in rows:
            catalog[int(r["oid"])] = dict(r)
        for r in rows:
            for ref in (r["typelem"], r["typbasetype"]):
                if ref and int(ref) not in catalog:
                    todo.add(int(ref))
    return catalog


def _pg_typmod_pairs(
    catalog: dict[int, dict[str, Any]], roots: list[tuple[int, int]]
) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    stack = list(roots)
    while stack:
        oid, mod = stack.pop()
        if (oid, mod) in out or oid not in catalog:
            continue
        out.add((oid, mod))
        row = catalog[oid]
        if row["typtype"] == "d" and row["typbasetype"]:
            stack.append((int(row["typbasetype"]), int(row["typtypmod"])))
        if row["typcategory"] == "A" and row["typelem"]:
            stack.append((int(row["typelem"]), mod))
    return out


def _pg_type(
    catalog: dict[int, dict[str, Any]], display: dict[tuple[int, int], str], oid: int, mod: int
) -> PgType:
    row = catalog.get(oid)
    if row is None:  # a type we cannot see: read it as text
        return PgType(name="unknown", display=display.get((oid, mod), f"oid {oid}"), kind="p")
    base = element = None
    if row["typtype"] == "d" and row["typbasetype"]:
        base = _pg_type(catalog, display, int(row["typbasetype"]), int(row["typtypmod"]))
    if row["typcategory"] == "A" and row["typelem"]:
        element = _pg_type(catalog, display, int(row["typelem"]), mod)
    precision, scale = pg_numeric_typmod(mod) if row["typname"] == "numeric" else (None, None)
    return PgType(
        name=str(row["typname"]),
        display=display.get((oid, mod), str(row["typname"])),
        kind=str(row["typtype"]),
        precision=precision,
        scale=scale,
        element=element,
        base=base,
    )


# --------------------------------------------------------------------------------------------
# MySQL / MariaDB


def mysql_columns(conn: sa.Connection, selectable: sa.FromClause) -> list[SourceColumn]:
    cur = raw_execute(conn, compile_sql(probe(selectable), conn.dialect))
    # PyMySQL keeps the protocol's column definitions (flags, charset) only here.
    fields = list(cur._result.fields)
    cur.close()
    return [
        mysql_column(
            f.name,
            MySqlField(
                type_code=f.type_code,
                length=f.length,
                scale=f.scale,
                unsigned=bool(f.flags & _MY_UNSIGNED),
                binary=f.charsetnr == _MY_BINARY_CHARSET,
                enum_or_set=bool(f.flags & (_MY_ENUM | _MY_SET)),
            ),
        )
        for f in fields
    ]


# --------------------------------------------------------------------------------------------
# SQLite


def sqlite_columns(
    conn: sa.Connection, selectable: sa.FromClause, *, table: str | None
) -> list[SourceColumn]:
    cur = raw_execute(conn, compile_sql(probe(selectable), conn.dialect))
    names = [d[0] for d in cur.description]
    cur.close()
    declared: dict[str, str] = {}
    if table is not None:
        quoted = conn.dialect.identifier_preparer.quote(table)
        for row in conn.exec_driver_sql(f"PRAGMA table_xinfo({quoted})").all():
            declared[str(row[1])] = str(row[2] or "")
    if duplicate_names(names):
        return [sqlite_column(n, declared.get(n, ""), SqliteProfile()) for n in names]
    profiles: dict[str, SqliteProfile] = {}
    prep = conn.dialect.identifier_preparer
    for start in range(0, len(names), _SQLITE_COLUMNS_PER_PASS):
        chunk = names[start : start + _SQLITE_COLUMNS_PER_PASS]
        exprs: list[str] = []
        for n in chunk:
            exprs += sqlite_profile_sql(prep.quote(n), declared.get(n, ""))
        stmt = sa.select(*[sa.literal_column(e) for e in exprs]).select_from(selectable)
        row = conn.execute(stmt).one()
        width = len(exprs) // len(chunk)
        for i, n in enumerate(chunk):
            profiles[n] = SqliteProfile(*row[i * width : (i + 1) * width])
    return [sqlite_column(n, declared.get(n, ""), profiles[n]) for n in names]
