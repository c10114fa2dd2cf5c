"""The catalog's everyday reads in plain SQL over the database's own driver (``sqlite3``,
``psycopg2``), without SQLAlchemy: what commands that only look at the catalog use, so they
start in a fraction of the time (importing SQLAlchemy and the models costs about 10 times a
bare Python start-up).

A :class:`CatalogReader` answers only what it can answer quickly and surely: the tables, the
current and recorded versions, the runs. Everything else, and every unusual case, goes to the
full :class:`catalog.catalog.Catalog` it is given (built on first need): a name or id not
found (whose error names what does exist), a catalog that needs migrating or cannot be
reached, a driver other than SQLite's or psycopg2, any driver error. The full catalog then
answers with its own errors, retries and translations, so those rules stay in one place.

The answers are the same objects with the same values as the full catalog's
(``tests/catalog/test_reader.py`` holds the two to that on both backends); each read's SQL
is written once, below.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.records import RunCursor, RunInfo, TableInfo, TrainingSetInfo, VersionInfo
from lake.core.catalog_url import CatalogUrl
from lake.core.names import TableName

if TYPE_CHECKING:
    from catalog.catalog import Catalog

HEAD_REVISION = "0005"
"""The newest migration in catalog/migrations/versions (checked against the scripts by a
test). Comparing with it lets a command skip importing Alembic when nothing is to do; a
catalog at another revision is left to the full catalog, which migrates it."""
READER_FAILURES = 3
"""Reads failed in a row after which a reader leaves every read to the full catalog."""

_TABLE = (
    "SELECT t.id, n.name, t.name, t.kind, t.location, t.format, t.created_at, "
    "t.current_version, t.properties FROM tables t JOIN namespaces n ON n.id = t.namespace_id"
)
LIST_TABLES = _TABLE + " ORDER BY n.name, t.name"
FIND_TABLE = _TABLE + " WHERE n.name = ? AND t.name = ?"

_VERSION = (
    "SELECT v.version, v.committed_at, v.operation, v.run_id, v.rows_added, v.rows_removed, "
    "v.rows_changed, v.files_added, v.files_removed, v.bytes_added, v.rows_total, "
    "v.files_total, v.bytes_total, v.schema_id FROM table_versions v"
)
VERSIONS = _VERSION + " WHERE v.table_id = ? ORDER BY v.version"
FIND_VERSION = _VERSION + " WHERE v.table_id = ? AND v.version = ?"
CURRENT_VERSIONS = (
    _VERSION.replace("SELECT ", "SELECT n.name, t.name, ", 1)
    + " JOIN tables t ON t.id = v.table_id JOIN namespaces n ON n.id = t.namespace_id"
    " WHERE v.version = t.current_version"
)

_RUN = (
    'SELECT id, kind, job, status, started_at, ended_at, parameters, "user", host, '
    "code_version, error, stats FROM runs"
)
FIND_RUN = _RUN + " WHERE id = ?"
LIST_RUNS = _RUN + " ORDER BY started_at DESC, id LIMIT ? OFFSET ?"
LIST_RUNS_OF_KIND = _RUN + " WHERE kind = ? ORDER BY started_at DESC, id LIMIT ? OFFSET ?"

_TRAINING_SET = (
    'SELECT id, name, version, "sql", content_hash, row_count, location, run_id, created_at, '
    "manifest FROM training_sets"
)
TRAINING_SETS = _TRAINING_SET + " WHERE name = ? ORDER BY version"

REVISION = "SELECT version_num FROM alembic_version"


class CatalogReader:
    """Reads of the catalog at ``url``; what it cannot answer, ``full()`` (the full catalog,
    built when first needed) answers. A connection per read running at once, opened when
    first needed and kept for the next read."""

    def __init__(self, url: str, full: Callable[[], Catalog]) -> None:
        self.url = url
        self._full = full
        self._usable = True  # False for good once a check fails, or reads in a row
        # The first check found no catalog, or one at an older schema: the full catalog
        # creates or migrates it when it opens, so the reader checks once more after that
        # (a Lake made on an empty warehouse read everything through the ORM for good).
        self._check_again = False
        self._checked_again = False
        self._failures = 0  # reads failed in a row
        # Connections not in use, taken by one read at a time: as many as reads ran at once
        # (the service's threads), not one per thread that ever read. A connection kept per
        # thread outlived its thread (a thread pool retires idle threads and starts new
        # ones), and each new thread opened another: a service leaked a PostgreSQL
        # connection, or an open file of the SQLite catalog, per thread it ever ran.
        self._idle: list[tuple[Any, Any, str]] = []
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def full(self) -> Catalog:
        """The full catalog (opened, created or migrated on first use)."""
        catalog = self._full()
        if self._check_again:
            self._check_again, self._checked_again, self._usable = False, True, True
        return catalog

    def close(self) -> None:
        with self._lock:
            opened, self._opened, self._idle = self._opened, [], []
        for connection in opened:
            connection.close()

    # -- tables ------------------------------------------------------------------------------

    def list_tables(self) -> list[TableInfo]:
        rows = self._rows(LIST_TABLES)
        if rows is None:
            return self.full().list_tables()
        return [_table(row) for row in rows]

    def find_tables(self, names: Collection[TableName]) -> dict[TableName, TableInfo]:
        """The tables among ``names`` that exist (one query)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        where = " OR ".join(["(n.name = ? AND t.name = ?)"] * len(wanted))
        parameters = tuple(part for n in wanted for part in (n.namespace, n.name))
        rows = self._rows(f"{_TABLE} WHERE {where}", parameters)
        if rows is None:
            return self.full().find_tables(wanted)
        found = (_table(row) for row in rows)
        return {info.name: info for info in found if info.name in set(wanted)}

    def find_table(self, name: TableName) -> TableInfo | None:
        rows = self._rows(FIND_TABLE, (name.namespace, name.name))
        if rows is None:
            return self.full().find_table(name)
        return _table(rows[0]) if rows else None

    def get_table(self, name: TableName) -> TableInfo:
        """Raises TableNotFound (from the full catalog, naming the tables that exist)."""
        found = self.find_table(name)
        return found if found is not None else self.full().get_table(name)

    # -- versions ----------------------------------------------------------------------------

    def versions(self, table: TableInfo) -> list[VersionInfo]:
        rows = self._rows(VERSIONS, (table.id,))
        if rows is None:
            return self.full().versions(table)
        return [_version(row, table.name) for row in rows]

    def find_version(self, table: TableInfo, version: int) -> VersionInfo | None:
        rows = self._rows(FIND_VERSION, (table.id, version))
        if rows is None:
            return self.full().find_version(table, version)
        return _version(rows[0], table.name) if rows else None

    def get_version(self, table: TableInfo, version: int) -> VersionInfo:
        """Raises VersionNotFound (from the full catalog)."""
        found = self.find_version(table, version)
        return found if found is not None else self.full().get_version(table, version)

    def current_versions(self) -> dict[TableName, VersionInfo]:
        rows = self._rows(CURRENT_VERSIONS)
        if rows is None:
            return self.full().current_versions()
        found = {}
        for namespace, name, *version in rows:
            table = TableName(namespace, name)
            found[table] = _version(version, table)
        return found

    def version_at(self, table: TableInfo, moment: datetime) -> VersionInfo:
        # Comparing times is the database type's business (SQLAlchemy's on SQLite): left there.
        return self.full().version_at(table, moment)

    # -- runs --------------------------------------------------------------------------------

    def list_runs(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        kind: str | None = None,
        after: RunCursor | None = None,
        before: RunCursor | None = None,
    ) -> list[RunInfo]:
        """As ``Catalog.list_runs``; a page by cursor is the full catalog's (its times are
        compared as each database stores them)."""
        if after is not None or before is not None:
            return self.full().list_runs(
                limit=limit, offset=offset, kind=kind, after=after, before=before
            )
        rows = (
            self._rows(LIST_RUNS_OF_KIND, (kind, limit, offset))
            if kind
            else self._rows(LIST_RUNS, (limit, offset))
        )
        if rows is None:
            return self.full().list_runs(limit=limit, offset=offset, kind=kind)
        return [_run(row) for row in rows]

    def get_run(self, run_id: str) -> RunInfo:
        """The run with this id; a prefix, and an unknown id (RunNotFound), the full
        catalog's."""
        rows = self._rows(FIND_RUN, (run_id,))
        if rows:
            return _run(rows[0])
        return self.full().get_run(run_id)

    # -- training sets -----------------------------------------------------------------------

    def training_sets(self, name: str) -> list[TrainingSetInfo] | None:
        """Every version of training set ``name``, oldest first (as
        ``catalog.registry.training_sets``): what a cache hit of ``lake materialize`` reads.
        None when this reader cannot answer: the caller asks the registry (which this module
        does not import: the registry needs the full catalog, which imports this module)."""
        rows = self._rows(TRAINING_SETS, (name,))
        return None if rows is None else [_training_set(row) for row in rows]

    def training_sets_at(self, locations: Collection[str]) -> list[TrainingSetInfo] | None:
        """The versions recorded at any of ``locations``, by name and version (as
        ``catalog.registry.training_sets_at``); None when this reader cannot answer."""
        wanted = sorted(set(locations))
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        rows = self._rows(
            f"{_TRAINING_SET} WHERE location IN ({marks}) ORDER BY name, version", tuple(wanted)
        )
        return None if rows is None else [_training_set(row) for row in rows]

    # -- the connection ----------------------------------------------------------------------

    def _rows(self, sql: str, parameters: tuple = ()) -> list[tuple] | None:
        """The rows of one query, or None when this reader cannot answer (the caller asks
        the full catalog)."""
        opened = self._connection()
        if opened is None:
            return None
        connection, errors, placeholder = opened
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql.replace("?", placeholder), parameters)
                rows = cursor.fetchall()
            finally:
                cursor.close()
        except errors:
            # The full catalog retries, translates and explains this read. The connection
            # goes (a server restart or an idle timeout ends it), the reader stays: the next
            # read opens another, and only failures in a row switch it off.
            with self._lock:
                if connection in self._opened:
                    self._opened.remove(connection)
                self._failures += 1
                if self._failures >= READER_FAILURES:
                    self._usable = False
            with contextlib.suppress(Exception):
                connection.close()
            return None
        with self._lock:
            self._failures = 0
            if connection in self._opened:  # not closed meanwhile (close)
                self._idle.append(opened)
        return rows

    def _connection(self) -> tuple[Any, Any, str] | None:
        """A connection no other read is using, its driver's error class and its
        placeholder (handed back by :meth:`_rows`); None when the catalog is not one this
        reader can read."""
        if not self._usable:
            return None
        with self._lock:
            if self._idle:
                return self._idle.pop()
        opened = _open(self.url)
        if opened is None:
            self._not_ready()
            return None
        connection, errors, _ = opened
        with self._lock:
            self._opened.append(connection)
        try:
            cursor = connection.cursor()
            cursor.execute(REVISION)
            row = cursor.fetchone()
            cursor.close()
        except errors:
            row = None
        if row is None or row[0] != HEAD_REVISION:
            with self._lock:
                self._opened.remove(connection)
            connection.close()
            self._not_ready()
            return None
        return opened

    def _not_ready(self) -> None:
        self._usable = False
        self._check_again = not self._checked_again


def full_catalog(catalog: Catalog | CatalogReader) -> Catalog:
    """The full catalog behind a reader (what writes need), or the catalog itself."""
    return catalog.full() if isinstance(catalog, CatalogReader) else catalog


def _open(text: str) -> tuple[Any, Any, str] | None:
    try:
        url = CatalogUrl.parse(text)
    except ValueError:
        return None
    if url.drivername == "sqlite":
        return _open_sqlite(url)
    if url.drivername in ("postgresql", "postgresql+psycopg2"):
        return _open_postgres(url)
    return None


def _open_sqlite(url: CatalogUrl) -> tuple[Any, Any, str] | None:
    import sqlite3

    database = url.database
    # An in-memory or missing database is the full catalog's to create; a URL with options
    # asks for what SQLAlchemy does with them.
    if not database or database == ":memory:" or url.query or not Path(database).is_file():
        return None
    try:
        # The same wait for a writer's lock as the full catalog's (catalog.database).
        connection = sqlite3.connect(
            database, timeout=30, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error:
        return None
    return connection, sqlite3.Error, "?"


def _open_postgres(url: CatalogUrl) -> tuple[Any, Any, str] | None:
    import psycopg2

    arguments: dict[str, Any] = {
        key: value
        for key, value in {
            "user": url.username,
            "password": url.password,
            "host": url.host,
            "port": url.port,
            "dbname": url.database,
        }.items()
        if value is not None
    }
    if any(not isinstance(value, str) for value in url.query.values()):
        return None
    # As catalog.database.open_engine connects, the URL's options on top.
    arguments = {"connect_timeout": 5, "application_name": "lake", **arguments, **url.query}
    try:
        connection = psycopg2.connect(**arguments)
        connection.autocommit = True  # a reader never holds a transaction open
    except psycopg2.Error:
        return None
    return connection, psycopg2.Error, "%s"


def _time(value: Any) -> datetime | None:
    """A stored time as the full catalog returns it (``catalog.models.UTCDateTime``): aware,
    in UTC. SQLite holds SQLAlchemy's text form, naive UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(value: Any) -> Any:
    """A JSON column as SQLAlchemy's JSON type returns it (psycopg2 parses it already)."""
    return json.loads(value) if isinstance(value, str) else value


def _table(row: tuple) -> TableInfo:
    id_, namespace, name, kind, location, format_, created_at, current, properties = row
    return TableInfo(
        id=id_,
        name=TableName(namespace, name),
        kind=kind,
        location=location,
        format=format_,
        created_at=_time(created_at),
        current_version=current,
        properties=dict(_json(properties) or {}),
    )


def _version(row: Any, name: TableName) -> VersionInfo:
    version, committed_at, operation, run_id, *counts, schema_id = row
    return VersionInfo(name, version, _time(committed_at), operation, run_id, *counts, schema_id)


def _training_set(row: tuple) -> TrainingSetInfo:
    id_, name, version, sql, content_hash, row_count, location, run_id, created_at, manifest = row
    return TrainingSetInfo(
        id=id_,
        name=name,
        version=version,
        sql=sql,
        content_hash=content_hash,
        row_count=row_count,
        location=location,
        run_id=run_id,
        created_at=_time(created_at),
        manifest=dict(_json(manifest) or {}),
    )


def _run(row: tuple) -> RunInfo:
    id_, kind, job, status, started, ended, parameters, user, host, code, error, stats = row
    return RunInfo(
        id=id_,
        kind=kind,
        job=job,
        status=status,
        started_at=_time(started),
        ended_at=_time(ended),
        parameters=dict(_json(parameters) or {}),
        user=user,
        host=host,
        code_version=code,
        error=error,
        stats=dict(_json(stats) or {}),
    )


__all__ = ["HEAD_REVISION", "CatalogReader", "full_catalog"]
