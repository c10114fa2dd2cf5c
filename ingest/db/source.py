"""Reading a database table or query as a bounded stream of Arrow record batches.

The whole public surface of database extracts::

    from ingest.db.source import open_source, describe_source
    from ingest.db.watermark import Watermark

    with open_source("postgresql+psycopg2://user:pw@host/db") as src:
        schema = src.schema(table="orders")              # before any row is read
        with src.stream(table="orders", cursor="updated_at", since=last, key=["id"]) as ex:
            for batch in ex:                              # pa.RecordBatch, <= batch_rows rows
                ...                                       # write it
        next_wm = ex.watermark                            # store it with the run

* PostgreSQL: metadata through SQLAlchemy + psycopg2, rows through ADBC's libpq driver
  (ingest/pg_reader.py). MySQL/MariaDB (PyMySQL, unbuffered cursor) and SQLite (read-only):
  rows through SQLAlchemy, converted per batch (ingest/dbtypes.py).
* Types: ingest/dbtypes.py and docs/types.md. Boundary rule: ingest/watermark.py.
* Every batch has at most ``batch_rows`` rows (default 65,536, the largest row group that
  delta-rs writes safely with nested data) and memory stays bounded whatever the table's size.
* Extracts only read (README "Database extracts"). A ``--query`` must be one query statement
  (ingest/db/statement.py reads it first) and is sent so that the server runs one statement at
  most: Postgres prepares it through the extended protocol before anything runs it; PyMySQL
  never sets the multi-statement flag (a URL's ``client_flag`` cannot turn it on); Python's
  sqlite3 runs one statement per call. Every session and transaction is read-only: Postgres
  ``default_transaction_read_only=on`` and ``SET TRANSACTION READ ONLY`` first in every
  transaction; MySQL/MariaDB ``SET SESSION TRANSACTION READ ONLY`` and ``START TRANSACTION READ
  ONLY`` around every read (a stored function can turn the session's mode off, never a
  running transaction's); SQLite opened ``mode=ro`` with ``PRAGMA query_only``.
* MySQL sessions run in UTC so TIMESTAMP values are instants.
* Every driver error is raised as an ingest/exceptions.py error; no message, and no chained
  cause, contains the password.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.dialects import mysql as sa_mysql
from sqlalchemy.dialects.postgresql.base import PGDialect

from ingest.db.errors import SourceLabel, driver_errors, raise_translated, translated
from ingest.db.introspect import (
    compile_sql,
    duplicate_names,
    mysql_columns,
    pg_columns,
    probe,
    sqlite_columns,
)
from ingest.db.keys import KeyChecker
from ingest.db.pg_reader import (
    SESSION_OPTIONS,
    SINCE_SETTING,
    adbc_uri,
    prepare_only,
    read_only_transaction,
    stream_pg,
    text_settings,
)
from ingest.db.statement import Syntax, one_query
from ingest.db.types import (
    CHECK_PG_NDIMS,
    READ_DOUBLE,
    READ_MONEY,
    READ_TEXT,
    READ_TEXT_ARRAY,
    READ_TIME,
    READ_TIME_ARRAY,
    SourceColumn,
    convert_column,
    schema_of,
)
from ingest.db.watermark import (
    FINGERPRINT_FORMAT,
    BoundaryTracker,
    CursorValue,
    Watermark,
    read_predicate,
)
from ingest.exceptions import (
    CursorColumnInvalid,
    CursorColumnMissing,
    DriverMissing,
    ExtractError,
    InvalidSourceUrl,
    KeyColumnMissing,
    SourceDatabaseMissing,
    SourceQueryFailed,
    SourceTableMissing,
    UnsupportedSource,
)

__all__ = ["DEFAULT_BATCH_ROWS", "Extract", "Source", "describe_source", "open_source"]

DEFAULT_BATCH_ROWS = 65_536
DEFAULT_CONNECT_TIMEOUT = 5.0

_DIALECTS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_PIP_PACKAGES = {
    "psycopg2": "psycopg2-binary",
    "pymysql": "PyMySQL",
    "mysqldb": "mysqlclient",
    "mysqlconnector": "mysql-connector-python",
    "mariadbconnector": "mariadb",
    "adbc_driver_postgresql": "adbc-driver-postgresql==1.13.0",
}
# SQLAlchemy's bind-parameter syntax (":name") inside a user's query must stay literal text.
_BIND_LIKE = re.compile(r"(?<![:\w\x5c]):(\w+)(?!:)")
_PG_COMPILER = PGDialect(paramstyle="named")  # no %% escaping: ADBC takes the SQL as is


# --------------------------------------------------------------------------------------------
# URLs


def _parse(url: str) -> sa.URL:
    try:
        return sa.engine.make_url(url)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        # The driver's message repeats the URL, password included: say why without it.
        raise InvalidSourceUrl(reason="it could not be parsed") from None


def describe_source(url: str) -> dict[str, str | int | None]:
    """dialect, host, port, database and user of a source URL: never its password."""
    u = _parse(url)
    backend = u.get_backend_name()
    dialect = _DIALECTS.get(backend, backend)
    return {
        "dialect": backend,
        "host": u.host,
        "port": u.port or _DEFAULT_PORTS.get(dialect) if dialect != "sqlite" else None,
        "database": u.database,
        "user": u.username,
    }


def _display(u: sa.URL, dialect: str) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{u.database}"
    user = f"{u.username}@" if u.username else ""
    port = u.port or _DEFAULT_PORTS[dialect]
    return f"{u.get_backend_name()}://{user}{u.host or 'localhost'}:{port}/{u.database or ''}"


def _label(u: sa.URL, dialect: str) -> SourceLabel:
    return SourceLabel.build(
        dialect=dialect,
        display=_display(u, dialect),
        user=u.username,
        database=u.database,
        password=None if u.password is None else str(u.password),
    )


# --------------------------------------------------------------------------------------------
# Opening


def open_source(url: str, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT) -> Source:
    """Connect to a source database (PostgreSQL, MySQL/MariaDB or SQLite) and check the login.

    Raises InvalidSourceUrl, UnsupportedSource, DriverMissing, SourceUnreachable (server down,
    unknown host, timeout), SourceLoginRefused, SourceDatabaseMissing.
    """
    u = _parse(url)
    dialect = _DIALECTS.get(u.get_backend_name())
    if dialect is None:
        raise UnsupportedSource(dialect=u.get_backend_name())
    label = _label(u, dialect)
    engine = _engine(u, dialect, connect_timeout)
    pg_uri = None
    if dialect == "postgresql":
        _require("adbc_driver_postgresql")
        pg_uri = adbc_uri(u, connect_timeout=connect_timeout)
    syntax = Syntax(dialect)
    try:
        with engine.connect() as conn:
            if dialect == "mysql":
                # How the server reads strings and double quotes (ingest/db/statement.py).
                mode = conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
                syntax = Syntax.for_mysql(str(mode or ""))
            else:
                conn.exec_driver_sql("PRAGMA schema_version" if dialect == "sqlite" else "SELECT 1")
    except driver_errors() as e:
        engine.dispose()
        raise_translated(e, label, phase="connect")
    return Source(engine=engine, dialect=dialect, label=label, url=u, pg_uri=pg_uri, syntax=syntax)


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise DriverMissing(driver=module, package=_PIP_PACKAGES.get(module, module)) from None


def _engine(u: sa.URL, dialect: str, timeout: float) -> sa.Engine:
    if dialect == "postgresql":
        # psycopg2 for metadata whatever driver the URL names: rows go through ADBC anyway.
        _require("psycopg2")
        options = (str(u.query.get("options", "")) + " " + SESSION_OPTIONS).strip()
        engine = sa.create_engine(
            u.set(drivername="postgresql+psycopg2"),
            connect_args={
                "connect_timeout": max(2, int(round(timeout))),
                "options": options,
                "application_name": "lake-extract",
            },
            pool_pre_ping=False,
        )
        # psycopg2 has sent BEGIN: make this transaction read-only whatever the session says.
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(read_only_transaction()))
        return engine
    if dialect == "mysql":
        driver = u.get_driver_name()
        if driver in ("", "mysqldb") and "+" not in u.drivername:
            u = u.set(drivername=f"{u.get_backend_name()}+pymysql")  # the pinned driver
        elif u.get_driver_name() != "pymysql":
            _create_or_missing(u)
            raise UnsupportedSource(dialect=f"{u.drivername} (use {u.get_backend_name()}+pymysql)")
        _require("pymysql")
        engine = sa.create_engine(
            u,
            connect_args={
                "connect_timeout": timeout,
                "charset": "utf8mb4",
                "init_command": "SET time_zone = '+00:00'",
            },
        )
        sa.event.listen(engine, "do_connect", _mysql_one_statement)
        sa.event.listen(engine, "begin", _mysql_begin_read_only)
        return engine
    path = u.database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise InvalidSourceUrl(reason="a SQLite source must name a database file: sqlite:///path")
    if not os.path.isfile(path):
        raise SourceDatabaseMissing(
            source=f"sqlite:///{path}", database=path, detail="no such file"
        )
    target = f"file:{quote(os.path.abspath(path))}?mode=ro"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(target, uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        return conn

    return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool)


def _mysql_one_statement(
    dialect: sa.Dialect, conn_rec: object, cargs: object, cparams: dict[str, Any]
) -> None:
    """Never ask the server for multi-statement mode, even if the URL's client_flag does."""
    from pymysql.constants import CLIENT

    cparams["client_flag"] = int(cparams.get("client_flag", 0)) & ~CLIENT.MULTI_STATEMENTS


def _mysql_begin_read_only(conn: sa.Connection) -> None:
    """Every transaction starts read-only, and so does the session again.

    A stored function the query calls may turn the session's mode off (MariaDB 10.11 runs
    ``SET @@session.tx_read_only = 0`` inside a read-only transaction); that changes only later
    transactions, and each one is started here, read-only, so nothing the query calls writes.
    """
    conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    conn.exec_driver_sql("START TRANSACTION READ ONLY")


def _create_or_missing(u: sa.URL) -> None:
    """Raise DriverMissing if the URL's DBAPI module cannot be imported."""
    try:
        sa.create_engine(u).dispose()
    except ImportError as e:
        name = (getattr(e, "name", None) or u.get_driver_name()).lower()
        raise DriverMissing(
            driver=u.get_driver_name(),
            package=_PIP_PACKAGES.get(name, _PIP_PACKAGES.get(u.get_driver_name(), name)),
        ) from None
    except sa_exc.NoSuchModuleError:
        raise UnsupportedSource(dialect=u.drivername) from None


# --------------------------------------------------------------------------------------------
# What to read


@dataclass(frozen=True)
class _Target:
    table: str | None
    schema: str | None
    query: str | None

    def selectable(self, names: Sequence[str] = ()) -> sa.FromClause:
        cols = [sa.column(n) for n in names]
        if self.table is not None:
            return sa.table(self.table, *cols, schema=self.schema)
        assert self.query is not None
        body = self.query  # one query, its trailing ';' already dropped (ingest/db/statement.py)
        # A newline before the closing parenthesis, in case the query ends with a -- comment.
        text = sa.text(_BIND_LIKE.sub(r"\\:\1", body) + "\n")
        return text.columns(*cols).subquery("lake_src")

    def describe(self) -> str:
        if self.table is not None:
            return f"table {self.schema + '.' if self.schema else ''}{self.table}"
        return "the query"


def _target(syntax: Syntax, table: str | None, query: str | None) -> _Target:
    if (table is None) == (query is None):
        raise ExtractError(
            "Give exactly one of a table or a query to extract (--table or --query)."
        )
    if query is not None:
        if not query.strip():
            raise ExtractError("The extract query is empty; give a SELECT statement in --query.")
        return _Target(None, None, one_query(query, syntax))
    assert table is not None
    if syntax.dialect != "sqlite" and "." in table:
        schema, name = table.split(".", 1)
        return _Target(name, schema, None)
    return _Target(table, None, None)


def _mysql_exact(collation: str) -> bool:
    """Whether a MySQL/MariaDB collation compares strings byte for byte: ``binary``, and the
    ``_bin`` collations that do not pad (MariaDB's ``_nopad_bin``, MySQL 8's ``_0900_bin``);
    the other ``_bin`` ones hold ``'b' = 'b '``."""
    return collation == "binary" or (
        collation.endswith("_bin") and ("_nopad_" in collation or "_0900_" in collation)
    )


# --------------------------------------------------------------------------------------------
# The source


class Source:
    """An open source database. Use :func:`open_source`; close it (or use ``with``)."""

    def __init__(
        self, *, engine: sa.Engine, dialect: str, label: SourceLabel, url: sa.URL,
        pg_uri: str | None, syntax: Syntax | None = None,
    ) -> None:  # fmt: skip
        self._engine = engine
        self._syntax = syntax or Syntax(dialect)
        self._label = label
        self._url = url
        self._pg_uri = pg_uri
        self._plans: dict[_Target, list[SourceColumn]] = {}
        self.dialect = dialect

    @property
    def description(self) -> dict[str, str | int | None]:
        """dialect, host, port, database and user, for the run's record (no password)."""
        return describe_source(self._url.render_as_string(hide_password=True))

    def __repr__(self) -> str:
        return f"Source({self._label.display})"

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    # -- schema ---------------------------------------------------------------------------

    def schema(self, *, table: str | None = None, query: str | None = None) -> pa.Schema:
        """The Arrow schema an extract of ``table`` or ``query`` will have, before reading rows.

        Fields are nullable and carry no metadata; :meth:`columns` also gives each source
        type's name. For SQLite this scans the source once (its columns hold whatever was
        stored; see ingest/dbtypes.py). Raises SourceTableMissing, SourceQueryFailed.
        """
        return schema_of(self.columns(table=table, query=query))

    def columns(self, *, table: str | None = None, query: str | None = None) -> list[SourceColumn]:
        """The extracted columns: name, Arrow type and the source's own type name."""
        return list(self._plan(_target(self._syntax, table, query)))

    def _plan(self, target: _Target) -> list[SourceColumn]:
        if target in self._plans:
            return self._plans[target]
        # An explicit begin: the read-only transaction starts before the driver-level probes.
        with translated(self._label), self._engine.connect() as conn, conn.begin():
            if target.table is not None:
                self._check_table(conn, target)
            src = target.selectable()
            if self.dialect == "postgresql":
                if target.query is not None:
                    # The server parses the probe as one statement before psycopg2 (which
                    # sends text through the simple protocol) may run it.
                    assert self._pg_uri is not None
                    prepare_only(self._pg_uri, compile_sql(probe(src), _PG_COMPILER))
                cols = pg_columns(conn, src)
            elif self.dialect == "mysql":
                cols = mysql_columns(conn, src)
            else:
                cols = sqlite_columns(conn, src, table=target.table)
        dups = duplicate_names([c.name for c in cols])
        if dups:
            raise SourceQueryFailed(
                source=self._label.display,
                detail=f"{target.describe()} returns more than one column named "
                f"{', '.join(dups)}, give each a distinct alias",
            )
        self._plans[target] = cols
        return cols

    def _check_table(self, conn: sa.Connection, target: _Target) -> None:
        assert target.table is not None
        insp = sa.inspect(conn)
        names = set(insp.get_table_names(schema=target.schema))
        names |= set(insp.get_view_names(schema=target.schema))
        if self.dialect == "postgresql":
            names |= set(insp.get_materialized_view_names(schema=target.schema))
        if target.table in names:
            return
        same_case = [n for n in names if n.lower() == target.table.lower()]
        close = difflib.get_close_matches(target.table, sorted(names), n=3, cutoff=0.6)
        suggestions = list(dict.fromkeys(same_case + close))
        if target.schema:
            suggestions = [f"{target.schema}.{s}" for s in suggestions]
        raise SourceTableMissing(
            source=self._label.display,
            table=(f"{target.schema}." if target.schema else "") + target.table,
            suggestions=suggestions,
        )

    # -- rows -----------------------------------------------------------------------------

    def stream(
        self,
        *,
        table: str | None = None,
        query: str | None = None,
        cursor: str | None = None,
        since: Watermark | None = None,
        key: Sequence[str] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        dedupe: bool | None = None,
    ) -> Extract:
        """Rows of ``table`` or ``query`` as an iterator of Arrow record batches.

        Without ``cursor``: every row (a full extract). With ``cursor``: also tracks the next
        watermark; with ``since`` too, reads only the rows at or past it (see
        ingest/watermark.py for the boundary rule, which depends on whether ``key`` is given).
        With ``key``: checks that the key is unique and NOT NULL in the rows read (the caller
        merges by it). Nothing is read until the first batch is asked for. ``dedupe`` (default:
        only without a key) drops rows re-read at the old watermark that the last run delivered
        unchanged (by fingerprint); with a key it spares re-merging them, so a night without
        changes reads nothing new.

        Raises (before reading) SourceTableMissing, SourceQueryFailed, CursorColumnMissing,
        CursorColumnInvalid, KeyColumnMissing; (while reading) SourceValueUnsupported,
        CursorHasNulls, SourceQueryFailed, SourceUnreachable; (at the end) DuplicateKey,
        KeyHasNulls.
        """
        if batch_rows < 1:
            raise ExtractError(f"batch_rows must be at least 1, not {batch_rows}.")
        if since is not None and cursor is None:
            cursor = since.column
        target = _target(self._syntax, table, query)
        columns = self._plan(target)
        by_name = {c.name: c for c in columns}
        names = [c.name for c in columns]
        if key:
            missing = [k for k in key if k not in by_name]
            if missing:
                raise KeyColumnMissing(columns=missing, available=names)
        tracker = None
        cursor_col = None
        if cursor is not None:
            cursor_col = by_name.get(cursor)
            if cursor_col is None:
                raise CursorColumnMissing(column=cursor, available=names)
            if not cursor_col.cursor_ok:
                raise CursorColumnInvalid(
                    column=cursor,
                    reason=cursor_col.unordered
                    or f"its values ({cursor_col.source_type}, read as "
                    f"{cursor_col.arrow_type}) do not sort as the source sorts them",
                )
            tracker = BoundaryTracker(
                cursor,
                arrow_type=cursor_col.arrow_type,
                since=since,
                dedupe=not key if dedupe is None else dedupe,
                columns=names,
                keyed=bool(key),
                reread=self._reread(columns, since, key),
            )
        reader = self._read(target, columns, cursor_col, since, batch_rows)
        return Extract(
            schema=schema_of(columns),
            batches=reader,
            tracker=tracker,
            keys=KeyChecker(key) if key else None,
            label=self._label,
        )

    def blind_keys(
        self, *, table: str | None = None, query: str | None = None, key: Sequence[str]
    ) -> dict[str, str]:
        """The ``key`` columns the source compares otherwise than byte for byte, each with the
        name of its comparison: a MySQL/MariaDB collation other than ``binary`` and the NO PAD
        ``_bin`` ones (``_ci`` ignores case and accents, a PAD SPACE one trailing spaces),
        Postgres ``citext`` or a nondeterministic collation, a SQLite unique index's
        ``NOCASE`` or ``RTRIM``. Under such a key the source
        holds one row where a merge byte for byte sees two keys (``'a'`` and ``'A'``).

        Read from the columns' own metadata (no row is read)."""
        target = _target(self._syntax, table, query)
        by_name = {c.name: c for c in self._plan(target)}
        texts = [k for k in key if k in by_name and pa.types.is_string(by_name[k].arrow_type)]
        if not texts:
            return {}
        if self.dialect == "sqlite":
            return self._sqlite_blind_keys(target, texts)
        src = target.selectable(texts)
        empty = sa.select(*[src.c[k] for k in texts]).select_from(src).limit(0).subquery("lake_k")
        # One row of NULLs of the columns' own types (an outer join with no row): a text
        # carried as Arrow strings (uuid, json...) may have no max() to aggregate by.
        one = sa.select(sa.literal(1).label("lake_one")).subquery("lake_one")
        nulls = one.outerjoin(empty, sa.true())
        with translated(self._label), self._engine.connect() as conn, conn.begin():
            if self.dialect == "mysql":
                names = sa.select(*[sa.func.collation(empty.c[k]) for k in texts])
                found = conn.execute(names.select_from(nulls)).one()
                blind = {k: str(c) for k, c in zip(texts, found, strict=True)}
                return {k: c for k, c in blind.items() if not _mysql_exact(c)}
            # pg_collation_for refuses a type without collations (uuid, json): ask those first.
            types = sa.select(*[sa.cast(sa.func.pg_typeof(empty.c[k]), sa.Integer) for k in texts])
            oids = conn.execute(types.select_from(nulls)).one()
            collatable = {
                int(r[0])
                for r in conn.execute(
                    sa.text(
                        "SELECT oid FROM pg_catalog.pg_type "
                        "WHERE oid = ANY(:o) AND typcollation <> 0"
                    ),
                    {"o": [int(o) for o in oids]},
                )
            }
            texts = [k for k, o in zip(texts, oids, strict=True) if int(o) in collatable]
            if not texts:
                return {}
            names = sa.select(*[sa.func.pg_collation_for(empty.c[k]) for k in texts])
            found = conn.execute(names.select_from(nulls)).one()
            deterministic = sa.text(
                "SELECT collisdeterministic FROM pg_catalog.pg_collation "
                "WHERE oid = to_regcollation(:c)"
            )
            blind = {}
            for k, collation in zip(texts, found, strict=True):
                if by_name[k].padded:
                    # char(n) arrives padded to n, but compares without trailing spaces: its
                    # keys read padded to 3 and, after the column grew, to 5 are one key.
                    blind[k] = "bpchar"
                elif by_name[k].source_type.split(".")[-1] == "citext":
                    blind[k] = by_name[k].source_type
                elif collation is not None:
                    if conn.execute(deterministic, {"c": collation}).scalar() is False:
                        blind[k] = str(collation)
            return blind

    def _sqlite_blind_keys(self, target: _Target, texts: Sequence[str]) -> dict[str, str]:
        """SQLite compares a column by the collation its unique index declares (``NOCASE``,
        ``RTRIM``): such an index makes ``'a'`` and ``'A'`` one key. A --query's columns
        carry no index: they are taken as compared by bytes."""
        if target.table is None:
            return {}
        blind: dict[str, str] = {}
        with translated(self._label), self._engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            for index in conn.exec_driver_sql(f"PRAGMA index_list({quote(target.table)})"):
                if not index[2]:  # not unique
                    continue
                for info in conn.exec_driver_sql(f"PRAGMA index_xinfo({quote(index[1])})"):
                    column, collation, is_key = info[2], str(info[4] or "BINARY"), info[5]
                    if is_key and column in texts and collation.upper() != "BINARY":
                        blind[column] = collation
        return blind

    def same_in_source(self, comparison: str, pairs: Sequence[tuple[str, str]]) -> list[bool]:
        """Whether the source holds each pair of strings equal under ``comparison`` (a name
        that :meth:`blind_keys` gave), asked of it in one session."""
        with translated(self._label), self._engine.connect() as conn, conn.begin():
            if self.dialect == "mysql":
                charset = conn.execute(
                    sa.text(
                        "SELECT CHARACTER_SET_NAME FROM information_schema.COLLATIONS "
                        "WHERE COLLATION_NAME = :c"
                    ),
                    {"c": comparison},
                ).scalar_one()
                # Names the server itself gave, checked against its own list above.
                side = f"CONVERT(:{{}} USING {charset}) COLLATE {comparison}"
                sql = f"SELECT {side.format('a')} = {side.format('b')}"
            elif self.dialect == "sqlite":  # a collation name SQLite's index list gave
                quoted = '"' + comparison.replace('"', '""') + '"'
                sql = f"SELECT :a = :b COLLATE {quoted}"
            elif comparison.split(".")[-1] in ("citext", "bpchar"):
                sql = f"SELECT CAST(:a AS {comparison}) = CAST(:b AS {comparison})"
            else:  # a collation name as pg_collation_for quoted it
                sql = f"SELECT CAST(:a AS text) COLLATE {comparison} = CAST(:b AS text)"
            statement = sa.text(sql)
            return [bool(conn.execute(statement, {"a": a, "b": b}).scalar()) for a, b in pairs]

    def _reread(
        self, columns: list[SourceColumn], since: Watermark | None, key: Sequence[str] | None
    ) -> list[str]:
        """The columns whose values may read differently now than when ``since`` was stored
        (see watermark.FINGERPRINT_FORMAT); only asked when that could duplicate rows."""
        if key or since is None or since.format >= FINGERPRINT_FORMAT:
            return []
        if self.dialect == "mysql":
            return [c.name for c in columns if c.read_as == READ_DOUBLE]
        # Postgres cursors are never read as text: only a boundary can be in doubt.
        if self.dialect != "postgresql" or not since.boundary or self._pg_text_as_before():
            return []
        # Any text may hold dates or floats printed by the session: casts in a view or a
        # query, and the types read as their text (ranges, composites, points).
        return [c.name for c in columns if _holds_text(c.arrow_type)]

    def _pg_text_as_before(self) -> bool:
        """Whether a session without this version's settings prints dates and floats as one
        with them does: ISO dates, and every float digit (PostgreSQL 12 prints the shortest
        exact form for any extra_float_digits above 0)."""
        # The URL's own options, as the session had them then; read-only as every session.
        uri = adbc_uri(
            self._url,
            connect_timeout=DEFAULT_CONNECT_TIMEOUT,
            options="-c default_transaction_read_only=on",
        )
        with translated(self._label, phase="connect"):
            style, digits, version = text_settings(uri)
        return style.startswith("ISO") and (digits == 3 or (version >= 120000 and digits > 0))

    def _read(
        self, target: _Target, columns: list[SourceColumn], cursor: SourceColumn | None,
        since: Watermark | None, batch_rows: int,
    ) -> Iterator[pa.RecordBatch]:  # fmt: skip
        src = target.selectable([c.name for c in columns])
        if self.dialect == "postgresql":
            return self._read_pg(src, columns, cursor, since, batch_rows)
        stmt = sa.select(*[_row_select(src.c[c.name], c) for c in columns]).select_from(src)
        if cursor is not None and since is not None:
            col, value = _row_bound(self.dialect, src.c[cursor.name], cursor, since.value)
            stmt = stmt.where(read_predicate(col, sa.bindparam("lake_since", value)))
        return self._read_rows(stmt, columns, batch_rows)

    def _read_pg(
        self, src: sa.FromClause, columns: list[SourceColumn], cursor: SourceColumn | None,
        since: Watermark | None, batch_rows: int,
    ) -> Iterator[pa.RecordBatch]:  # fmt: skip
        exprs: list[sa.ColumnElement[Any]] = [_pg_select(src.c[c.name], c) for c in columns]
        ndims_at: dict[int, int] = {}
        for i, c in enumerate(columns):
            if c.check == CHECK_PG_NDIMS:
                ndims_at[i] = len(exprs)
                exprs.append(sa.func.array_ndims(src.c[c.name]).label(f"lake_ndims_{i}"))
        stmt = sa.select(*exprs).select_from(src)
        since_text = None
        if cursor is not None and since is not None:
            col: sa.ColumnElement[Any] = src.c[cursor.name]
            type_sql = cursor.source_type
            if pa.types.is_string(cursor.arrow_type) and cursor.padded:
                # The value as read: char(n) arrives padded but casts (and compares) unpadded,
                # and its octet_length alone counts the padding. Byte order, as below.
                text = sa.cast(col, sa.Text)
                padding = sa.func.octet_length(col) - sa.func.octet_length(text)
                col, type_sql = (text + sa.func.repeat(" ", padding)).collate("C"), "text"
            elif pa.types.is_string(cursor.arrow_type):
                # Byte order, as Arrow and Python compare; the column's collation may differ.
                # The column itself, so that an index under "C" serves the bound.
                col, type_sql = col.collate("C"), "text"
            bound = sa.literal_column(
                f"(SELECT CAST(current_setting('{SINCE_SETTING}') AS {type_sql}))"
            )
            stmt = stmt.where(read_predicate(col, bound))
            since_text = _pg_text(since.value)
        assert self._pg_uri is not None
        return stream_pg(
            uri=self._pg_uri,
            sql=compile_sql(stmt, _PG_COMPILER),
            since_text=since_text,
            columns=columns,
            ndims_at=ndims_at,
            batch_rows=batch_rows,
        )

    def _read_rows(
        self, stmt: sa.Select[Any], columns: list[SourceColumn], batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        schema = schema_of(columns)
        with self._engine.connect() as conn:
            done = False
            try:
                result = conn.execution_options(yield_per=batch_rows).execute(stmt)
                for rows in result.partitions(batch_rows):
                    values = list(zip(*rows, strict=True)) if rows else []
                    arrays = [convert_column(c, v) for c, v in zip(columns, values, strict=True)]
                    yield pa.RecordBatch.from_arrays(arrays, schema=schema)
                done = True
            finally:
                if not done:
                    _abandon(conn)


def _abandon(conn: sa.Connection) -> None:
    """Drop a connection in the middle of a result without reading the rest of it.

    PyMySQL would read an unbuffered result to its end on close (all of a big table): mark it
    finished and drop the connection; the server aborts the query when the socket closes.
    """
    raw = conn.connection.dbapi_connection
    pending = getattr(raw, "_result", None)
    if pending is not None and hasattr(pending, "unbuffered_active"):
        pending.unbuffered_active = False
    conn.invalidate()


def _holds_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or (pa.types.is_list(t) and pa.types.is_string(t.value_type))


def _row_select(col: sa.ColumnElement[Any], c: SourceColumn) -> sa.ColumnElement[Any]:
    if c.read_as == READ_DOUBLE:
        # '+ 0E0' (a DOUBLE) rather than CAST(.. AS DOUBLE), which MySQL before 8.0.17 lacks.
        return (col + sa.literal_column("0E0")).label(c.name)
    return col


def _pg_select(col: sa.ColumnElement[Any], c: SourceColumn) -> sa.ColumnElement[Any]:
    if c.read_as in (READ_TEXT, READ_TIME):
        return sa.cast(col, sa.Text).label(c.name)
    if c.read_as in (READ_TEXT_ARRAY, READ_TIME_ARRAY):
        return sa.cast(col, sa.ARRAY(sa.Text)).label(c.name)
    if c.read_as == READ_MONEY:
        return sa.cast(sa.cast(col, sa.Numeric), sa.Text).label(c.name)
    return col.label(c.name)


def _pg_text(value: CursorValue) -> str:
    """A watermark as Postgres input text (exact for every cursor type)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _row_bound(
    dialect: str, col: sa.ColumnElement[Any], cursor: SourceColumn, value: CursorValue
) -> tuple[sa.ColumnElement[Any], object]:
    """(column expression, bound value) for MySQL/SQLite: at least every row past ``value``.

    The exact rule is applied afterwards on Arrow values (BoundaryTracker); here the SQL only
    has to select a superset, in the source's own representation.
    """
    t = cursor.arrow_type
    if dialect == "mysql":
        if pa.types.is_string(t) and isinstance(value, str):
            # The UTF-8 bytes, compared as binary strings: code point order, as Python's, and
            # no padding (a _bin collation pads with spaces, so 'a\t' < 'a' there).
            text = sa.cast(col, sa_mysql.CHAR(charset="utf8mb4"))
            return sa.cast(text, sa_mysql.BINARY()), value.encode("utf-8")
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return col, value.astimezone(dt.UTC).replace(tzinfo=None)
        return col, value
    # SQLite stores dates as ISO text: compare by the date prefix, a superset of the exact rule.
    if isinstance(value, dt.datetime):
        return col, value.date().isoformat()
    if isinstance(value, dt.date):
        return col, value.isoformat()
    if isinstance(value, Decimal):
        # Stored as a double: the next double below can only widen the selection.
        return col, math.nextafter(float(value), -math.inf)
    if isinstance(value, str):
        return col.collate("BINARY"), value
    return col, value


# --------------------------------------------------------------------------------------------
# The extract


class Extract(Iterator[pa.RecordBatch]):
    """An extract in progress: iterate it for batches, then read :attr:`watermark`.

    ``schema`` is known before the first batch. Errors found at the end (a duplicate key) are
    raised by the last ``next()``, so a caller that commits only after exhausting the iterator
    never commits them. Closing early cancels the read.
    """

    def __init__(
        self, *, schema: pa.Schema, batches: Iterator[pa.RecordBatch],
        tracker: BoundaryTracker | None, keys: KeyChecker | None, label: SourceLabel,
    ) -> None:  # fmt: skip
        self.schema = schema
        self.rows = 0
        self._batches = batches
        self._tracker = tracker
        self._keys = keys
        self._label = label
        self._finished = False
        self._closed = False
        #: The error that stopped this extract, if one did. A writer that consumes the extract
        #: in Rust (write_deltalake on a RecordBatchReader) keeps only the message: re-raise this.
        self.failure: BaseException | None = None

    @property
    def rows_skipped(self) -> int:
        """Rows re-read at the old watermark and dropped as already delivered (no key)."""
        return self._tracker.rows_skipped if self._tracker else 0

    @property
    def watermark(self) -> Watermark | None:
        """The watermark to store after this extract (None without a cursor)."""
        if not self._finished:
            raise ExtractError(
                "The extract's watermark is known only once every batch has been read; "
                "iterate the extract to its end first."
            )
        return self._tracker.watermark() if self._tracker else None

    def __iter__(self) -> Extract:
        return self

    def __next__(self) -> pa.RecordBatch:
        while True:
            if self._closed:
                raise StopIteration
            try:
                with translated(self._label):
                    batch = next(self._batches)
                if self._tracker is not None:
                    batch = self._tracker.admit(batch, source=self._label.display)
                if self._keys is not None:
                    self._keys.add(batch)
            except StopIteration:
                self._closed = True
                if self._keys is not None:
                    try:
                        self._keys.check()
                    except ExtractError as e:
                        self.failure = e
                        raise
                self._finished = True
                raise
            except BaseException as e:
                self.failure = e
                self.close()
                raise
            self.rows += batch.num_rows
            if batch.num_rows:
                return batch

    def close(self) -> None:
        """Stop reading (cancels the query); safe to call twice."""
        if not self._closed:
            self._closed = True
            close = getattr(self._batches, "close", None)
            if close is not None:
                with translated(self._label):
                    close()

    def __enter__(self) -> Extract:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()
