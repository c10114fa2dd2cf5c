"""DuckDB connections for queries, running a statement under limits, and DuckDB's errors.

Two kinds of connection, both opened by :func:`lake.core.duckdb.connect` (nothing installed or
loaded at run time, times in UTC, no progress bar) and set up by
:meth:`lake.core.storage.Storage.configure_duckdb` only (no network, the S3 secret):

* **shared** (the default): one in-memory DuckDB database per :class:`~lake.core.storage.Storage`
  (that is, per ``Lake``), created on first use; each query runs on its own cursor. Opening
  a database and loading httpfs costs 20-100 ms, more than most queries.
* **locked** (``read_only=True``, for the HTTP service): a fresh database per query that,
  once set up, can read the query's own files and nothing else: ``allowed_paths`` is the
  exact file list of the table versions the query reads, ``enable_external_access=false``
  closes every other file, network, extension and ATTACH path, and ``lock_configuration``
  stops ``SET``/``RESET``/``PRAGMA`` from undoing it. Credentials live only in the session
  secret (redacted): the plain settings httpfs fills from ``AWS_*`` variables are blanked.

Every DuckDB error is turned into one :class:`~queries.exceptions.QueryError` sentence;
``errors_as_json`` gives the error's kind and its byte position in the SQL DuckDB ran.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lake.core import duckdb as lake_duckdb
from lake.core.storage import Storage
from queries.exceptions import (
    QueryError,
    QueryFailed,
    QueryInvalid,
    QueryRefused,
    QuerySyntaxError,
    QueryTimeout,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from duckdb.sqltypes import DuckDBPyType

BATCH_ROWS = 100_000
INTERRUPT_AGAIN_S = 0.01
"""How often a statement past its time limit is interrupted again (see :func:`run`)."""
# Parquet footers are cached: a Delta data file is written once and never changed in place,
# and a table version lists tens to thousands of them (one query re-read them all).
_DATABASE_SETTINGS = "SET GLOBAL parquet_metadata_cache = true"
# Per connection: times in UTC (whatever an earlier statement set globally), errors with
# their kind and position, no progress bar (DuckDB draws it on stdout, into the CSV or JSON
# a command is writing there).
_LOCAL_SETTINGS = (
    "SET SESSION TimeZone = 'UTC'; SET errors_as_json = true; SET enable_progress_bar = false"
)
# A statement that reads lake tables' files and nothing else runs on a database of its own
# that trusts its caches of them (Parquet footers, data blocks) without asking the file system
# or S3 whether each file changed: a Delta data file is written once under a new name and never
# changed in place, and a version's file list comes from the log, checked for newer commits
# before every query. On S3 the check was one HEAD per file and query (8 files: 37 ms of a
# 44 ms query on moto). A database of its own because DuckDB's setting is global: set on a
# cursor, it made every later statement trust its cache of a user's file changed in place.
_TRUST_CACHE = "SET GLOBAL validate_external_file_cache = 'NO_VALIDATION'"
# Per lake, its shared databases: validating (False) and trusting lake files (True).
_shared: weakref.WeakKeyDictionary[Storage, dict[bool, duckdb.DuckDBPyConnection]] = (
    weakref.WeakKeyDictionary()
)
# Configured cursors a read ran on, kept for the next read: setting a new cursor up is four
# statements, 0.3-0.4 ms of CPU, 5-7% of a 6 ms query. Per database.
_idle: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, list[duckdb.DuckDBPyConnection]] = (
    weakref.WeakKeyDictionary()
)
IDLE_CURSORS = 4
_shared_lock = threading.Lock()


@dataclass(frozen=True)
class DuckError:
    """A DuckDB error, read from its JSON form."""

    kind: str
    """DuckDB's exception type: ``Binder``, ``Catalog``, ``IO``, ``Permission``..."""
    message: str
    position: int | None
    """Byte offset in the SQL text DuckDB ran, when DuckDB knows it."""
    subtype: str | None = None
    name: str | None = None
    entry_type: str | None = None

    @classmethod
    def read(cls, error: BaseException) -> DuckError:
        text = str(error)
        prefix, _, rest = text.partition(": ")
        try:
            found = json.loads(rest)
        except ValueError:
            found = None
        if not isinstance(found, dict):
            kind = prefix.removesuffix(" Error") if rest else type(error).__name__
            return cls(kind=kind, message=(rest or text).split("\n\nLINE ")[0], position=None)
        position = found.get("position")
        return cls(
            kind=str(found.get("exception_type") or prefix.removesuffix(" Error")),
            message=str(found.get("exception_message") or text),
            position=int(position) if position is not None and str(position).isdigit() else None,
            subtype=found.get("error_subtype"),
            name=found.get("name"),
            entry_type=found.get("type"),
        )


@dataclass(frozen=True)
class Fetched:
    table: pa.Table
    types: tuple[str, ...]
    """DuckDB's type of each column (``BIGINT``, ``STRUCT(...)``)."""
    truncated: bool


def shared_cursor(storage: Storage, *, lake_files_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new cursor on the lake's shared database (created and configured on first use).

    ``lake_files_only``: the cursor runs one statement that reads no file but lake tables'
    data files (immutable), so DuckDB's file caches are used without validating them; any
    other file a statement names is checked for changes as DuckDB does by default."""
    with _shared_lock:
        cursor = _database(storage, lake_files_only).cursor()
    cursor.execute(_LOCAL_SETTINGS)
    return cursor


@contextlib.contextmanager
def reading_cursor(
    storage: Storage, *, lake_files_only: bool = False, reusable: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of the lake's shared database, as :func:`shared_cursor`, for one statement.

    ``reusable``: the statement only reads (a SELECT cannot change the cursor's settings)
    and nothing may interrupt it later (no timer): after it ran without error, the cursor is
    kept, settings and all, for the next such statement instead of closed."""
    cursor = None
    with _shared_lock:
        database = _database(storage, lake_files_only)
        idle = _idle.setdefault(database, [])
        if reusable and idle:
            cursor = idle.pop()
    if cursor is None:
        cursor = shared_cursor(storage, lake_files_only=lake_files_only)
    kept = False
    try:
        yield cursor
        if reusable:
            with _shared_lock:
                # not when the database was closed (close_shared) while the statement ran
                kept_database = _shared.get(storage, {}).get(lake_files_only)
                if kept_database is database and len(idle) < IDLE_CURSORS:
                    idle.append(cursor)
                    kept = True
    finally:
        if not kept:
            cursor.close()


def _database(storage: Storage, lake_files_only: bool) -> duckdb.DuckDBPyConnection:
    """The lake's shared database (validating, or trusting lake files), created and configured
    on first use (hold _shared_lock)."""
    import duckdb

    databases = _shared.setdefault(storage, {})
    database = databases.get(lake_files_only)
    if database is None:
        database = lake_duckdb.connect()
        try:
            database.execute(_DATABASE_SETTINGS)
            if lake_files_only:
                database.execute(_TRUST_CACHE)
            storage.configure_duckdb(database)
        except duckdb.Error as error:
            database.close()
            raise QueryFailed(
                f"DuckDB could not be prepared to read the warehouse: {trim_message(str(error))}."
            ) from error
        databases[lake_files_only] = database
    return database


def forget_lake_files(storage: Storage) -> None:
    """Drop what the lake's trusting database cached of lake tables' files (footers, data
    blocks): another table was made at a table's location, whose files may have the old ones'
    names (another tool's ``part-00000-...``). The next statement gets a new database;
    statements running on the old one finish on it, and it is freed after them."""
    with _shared_lock:
        database = _shared.get(storage, {}).pop(True, None)
        if database is not None:
            _idle.pop(database, None)


def close_shared(storage: Storage) -> None:
    """Close the lake's shared databases now (they are otherwise freed with its ``Storage``)."""
    with _shared_lock:
        databases = list(_shared.pop(storage, {}).values())
        idle = [c for database in databases for c in _idle.pop(database, [])]
    for cursor in idle:
        cursor.close()
    for database in databases:
        database.close()


def locked_connection(
    storage: Storage,
    allowed_paths: Sequence[str],
    *,
    memory_limit: int | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
    secrets: Sequence[str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A new database that can read ``allowed_paths`` and nothing else, its settings locked.
    ``secrets`` are the configuration's secret values (by default read from it again).

    ``temp_directory`` is where DuckDB may spill past ``memory_limit`` (bytes); DuckDB lists
    it among the directories queries may read, so give a private, empty one (without it,
    DuckDB would name ``.tmp`` in the working folder)."""
    import duckdb

    from lake.core.quoting import quote_literal

    connection = lake_duckdb.connect(
        persistent_secrets=False,
        memory_limit=f"{memory_limit}B" if memory_limit is not None else None,
        threads=threads,
        temp_directory=temp_directory if temp_directory is not None else "",
    )
    try:
        connection.execute(_DATABASE_SETTINGS)
        # A database of its own that reads only ``allowed_paths``, lake tables' files: its
        # caches are trusted as the shared trusting database's are (_TRUST_CACHE). On S3 a
        # materialize's DESCRIBE and its query otherwise sent a HEAD per file each.
        connection.execute(_TRUST_CACHE)
        storage.configure_duckdb(connection)
        # httpfs copies AWS_* environment variables into plain settings, which any query can
        # read with current_setting(); the session secret carries the credentials instead.
        if secrets is None:
            secrets = storage.config.secrets
        for name in _credential_settings(connection, secrets):
            connection.execute(f"SET {name} = ''")
        connection.execute(_LOCAL_SETTINGS)
        connection.execute(
            "SET allowed_paths = [" + ", ".join(quote_literal(p) for p in allowed_paths) + "]"
        )
        connection.execute("SET enable_external_access = false")
        connection.execute("SET allow_community_extensions = false")
        connection.execute("SET lock_configuration = true")
    except duckdb.Error as error:
        connection.close()
        raise QueryFailed(
            f"DuckDB could not be locked down for a read-only query: {trim_message(str(error))}."
        ) from error
    return connection


def run(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    max_rows: int | None,
    timeout_s: float | None,
    max_bytes: int | None = None,
) -> Fetched:
    """Run ``sql`` and fetch at most ``max_rows`` rows and ``max_bytes`` bytes of Arrow data
    (streaming: DuckDB stops producing once they are read). A timer interrupts DuckDB's
    execution after ``timeout_s`` (not its planning: see :mod:`queries.worker`).

    Raises:
        QueryRefused: not even the first row fits in ``max_bytes``.
        duckdb.Error, DuckDBFailure: untranslated (the latter: DuckDB's error raised by
            pyarrow while the answer is read); the caller knows the query and translates it.
    """
    import pyarrow as pa

    done = threading.Event()

    def stop() -> None:
        # An interrupt that reaches DuckDB before the statement started is lost (nothing
        # runs yet): with what little is left of a call's time limit (queries.sql), the
        # timer fired first and the statement then ran without any. Sent again until the
        # run ends, it stops the statement once it runs.
        if done.wait(timeout_s):
            return
        while not done.is_set():
            connection.interrupt()
            done.wait(INTERRUPT_AGAIN_S)

    timer = threading.Thread(target=stop, daemon=True) if timeout_s else None
    if timer is not None:
        timer.start()
    try:
        connection.execute(sql)
        description = connection.description or []
        types = tuple(str(column[1]) for column in description)
        check_result_types([(str(column[0]), column[1]) for column in description])
        batch_rows = BATCH_ROWS if max_rows is None else max(1, min(BATCH_ROWS, max_rows + 1))
        reader = connection.to_arrow_reader(batch_rows)
        batches, rows, size, truncated = [], 0, 0, False
        try:
            for batch in reader:
                if max_bytes is not None and size + batch.nbytes > max_bytes:
                    batch = batch.slice(0, _rows_within(batch, max_bytes - size))
                    truncated = True
                    if rows == 0 and batch.num_rows == 0 and max_rows != 0:
                        # An answer cut to no rows reads as an empty result to any client that
                        # does not check the truncation flag (an HTTP header).
                        raise QueryRefused(
                            f"The first row of the answer alone is over the {max_bytes:,}-byte "
                            "limit of an answer: select fewer or shorter columns, or raise the "
                            "limit (--max-bytes, [query] max_bytes)."
                        )
                batches.append(batch)
                rows += batch.num_rows
                if max_bytes is not None:  # nbytes walks every buffer: a tenth of a small result
                    size += batch.nbytes
                if max_rows is not None and rows > max_rows:
                    truncated = True
                if truncated:
                    break
        except OSError as error:
            # DuckDB's errors while the answer is read (out of memory in a worker whose
            # address space is capped) come through pyarrow's reader as an OSError with
            # DuckDB's text: read like DuckDB's own, not as the worker's unexpected failure.
            if not str(error).partition(": ")[0].endswith(" Error"):
                raise
            raise DuckDBFailure(str(error)) from error
        table = pa.Table.from_batches(batches, schema=reader.schema)
        if max_rows is not None and table.num_rows > max_rows:
            table = table.slice(0, max_rows)
        return Fetched(table=table, types=types, truncated=truncated)
    finally:
        done.set()
        if timer is not None:
            timer.join()  # no interrupt of its may reach the connection's next statement


def ran_past(timeout_s: float | None) -> QueryTimeout:
    """The error of a query stopped at its time limit of ``timeout_s``."""
    limit = f" of {timeout_s:g} s" if timeout_s else ""
    return QueryTimeout(
        f"The query ran past its time limit{limit} and was stopped; narrow it (a WHERE on a "
        f"partition column, fewer columns) or allow more time."
    )


_LOSSY_TYPES = {
    # DuckDB's Arrow export drops the offset: 10:00+02 and 10:00+05, unequal in DuckDB,
    # both come out as 10:00.
    "time with time zone": "whose offset DuckDB drops when it hands the rows on (10:00+02 "
    "would read 10:00): cast it, e.g. CAST({name} AS VARCHAR), or convert it to TIME in UTC",
    # DuckDB's Arrow export gives its internal bytes for these two: a BIGNUM (VARINT)
    # 123456789012345678901234567890 comes out as 16 bytes, a BIT '0101' as 04 f5.
    "bignum": "which DuckDB hands on as its internal bytes, not the number: cast it, e.g. "
    "CAST({name} AS VARCHAR), or to a DECIMAL or HUGEINT that holds its values",
    "bit": "which DuckDB hands on as its internal bytes ('0101' would read as the bytes 04 f5): "
    "cast it, e.g. CAST({name} AS VARCHAR)",
    # DuckDB's Arrow export gives a UHUGEINT as a signed 128-bit decimal: every value from
    # 2**127 up wraps negative (340282366920938463463374607431768211455 read -1).
    "uhugeint": "which DuckDB hands on as a signed 128-bit number, so values from 2^127 up "
    "would read negative: cast it, e.g. CAST({name} AS VARCHAR), or to a HUGEINT or "
    "DECIMAL(38, 0) that holds its values",
}


def check_result_types(columns: Sequence[tuple[str, DuckDBPyType | str]]) -> None:
    """Refuse a result whose values Arrow would not carry as DuckDB has them (``columns``:
    name and DuckDB type, as a type or its text; a nested type's members are looked into,
    never its field names).

    Raises:
        QueryRefused: naming the first such column and the cast to write instead.
    """
    import duckdb

    for name, kind in columns:
        typ = duckdb.sqltype(kind) if isinstance(kind, str) else kind
        lossy = _lossy_member(typ)
        if lossy is not None:
            raise QueryRefused(
                f"The result's column {name} is of type {typ}, "
                + _LOSSY_TYPES[lossy].format(name=name)
                + "."
            )


def _lossy_member(typ: DuckDBPyType) -> str | None:
    """The id of the first type in ``typ`` (itself or a member) Arrow would not carry."""
    from duckdb.sqltypes import DuckDBPyType

    if typ.id in _LOSSY_TYPES:
        return typ.id
    if typ.id in ("struct", "union", "map", "list", "array"):
        for _, member in typ.children:
            if isinstance(member, DuckDBPyType):  # an array's size is an int
                found = _lossy_member(member)
                if found is not None:
                    return found
    return None


def _rows_within(batch: pa.RecordBatch, budget: int) -> int:
    """How many first rows of ``batch`` fit in ``budget`` bytes."""
    low, high = 0, batch.num_rows
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def constant_time(expression: str, *, context: str) -> datetime:
    """Evaluate a constant time expression (``now() - INTERVAL 1 DAY``) in a database that
    can reach nothing outside itself. A time without offset is UTC. (Read-only queries
    evaluate it in a worker process instead, under their time limit: :mod:`queries.worker`.)

    Raises:
        QueryInvalid: the expression is not a time.
    """
    import duckdb

    connection = time_connection()
    try:
        value = evaluate_time(connection, expression)
    except duckdb.Error as error:
        raise not_a_time(error, context) from error
    finally:
        connection.close()
    return read_time(value, context)


def time_connection(
    *, memory_limit: int | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """A database for constant expressions: no file, network or extension."""
    return lake_duckdb.connect(
        external_access=False,
        memory_limit=f"{memory_limit}B" if memory_limit is not None else None,
        threads=threads,
    )


def evaluate_time(connection: duckdb.DuckDBPyConnection, expression: str) -> object:
    """The value of ``expression`` cast to a time with zone (None for NULL).

    Raises:
        duckdb.Error: untranslated (see :func:`not_a_time`).
    """
    row = connection.execute(f"SELECT CAST(({expression}) AS TIMESTAMP WITH TIME ZONE)").fetchone()
    return row[0] if row else None


def not_a_time(error: BaseException, context: str) -> QueryInvalid:
    return QueryInvalid(
        f"{context} is not a time DuckDB can compute: "
        f"{trim_message(DuckError.read(error).message)}."
    )


def read_time(value: object, context: str) -> datetime:
    """An evaluated time in UTC.

    Raises:
        QueryInvalid: it is NULL (or not a time).
    """
    if not isinstance(value, datetime):
        raise QueryInvalid(f"{context} evaluates to NULL, not a time.")
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as error:
        raise QueryInvalid(f"{context} is a time out of range ({value}).") from error


# -- what SQL may not see -----------------------------------------------------------------------

# DuckDB's hint for a function of an extension that is not loaded says to INSTALL it or to
# switch auto-install on: a download at run time, which the lake itself never makes.
_INSTALL_ADVICE = re.compile(
    r"but it exists in the (\w+) extension\.?;? Please try install.*$", re.S
)
_NOT_LOADED = (
    r"but it exists in DuckDB's \1 extension, which the lake does not load (it loads only the "
    r"extensions its pinned packages bring)"
)

_PRIVATE_FUNCTIONS = frozenset(
    {"current_setting", "getvariable", "getenv", "which_secret", "query", "query_table"}
)
_PRIVATE_TABLES = frozenset({"pg_settings"})
_PRIVATE_PREFIXES = ("duckdb_", "pragma_")


def is_private_name(name: str, *, function: bool) -> bool:
    """Whether a function or table name shows DuckDB's own state: its settings (where
    credentials and folders are), secrets, databases, extensions, or runs SQL from a string.
    Read-only queries may not name them."""
    name = name.lower()
    return name.startswith(_PRIVATE_PREFIXES) or name in (
        _PRIVATE_FUNCTIONS if function else _PRIVATE_TABLES
    )


def private_names_refused(names: Sequence[str]) -> QueryRefused:
    shown = ", ".join(sorted(set(names)))
    return QueryRefused(
        f"Read-only mode refused {shown}: queries read lake tables, not DuckDB's settings, "
        f"secrets or catalog."
    )


def check_private_names(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    """DuckDB's own parse of ``sql`` names no private function or table (the second check,
    after the lake's parse; statements DuckDB cannot serialize rely on the first).

    Raises:
        QueryRefused: it does.
    """
    row = lake_duckdb.execute_on_text(connection, "SELECT json_serialize_sql({})", sql).fetchone()
    try:
        tree = json.loads(row[0]) if row else {}
    except ValueError:
        return
    if not isinstance(tree, dict) or tree.get("error"):
        return
    functions: list[str] = []
    tables: list[str] = []
    ctes: set[str] = set()
    stack: list[object] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "function_name" and isinstance(value, str):
                    functions.append(value.lower())
                elif key == "table_name" and isinstance(value, str):
                    tables.append(value.lower())
                else:
                    if key == "cte_map" and isinstance(value, dict):
                        entries = value.get("map") or []
                        ctes.update(str(e.get("key", "")).lower() for e in entries if e)
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    found = [name for name in functions if is_private_name(name, function=True)]
    found += [name for name in tables if name not in ctes and is_private_name(name, function=False)]
    if found:
        raise private_names_refused(found)


class DuckDBFailure(Exception):
    """DuckDB's error, as text, from a worker process (read like DuckDB's own errors)."""


def is_duckdb_error(error: BaseException) -> bool:
    import duckdb

    return isinstance(error, (duckdb.Error, DuckDBFailure))


def translate(
    error: BaseException,
    *,
    locate: Callable[[int], tuple[int, int] | None],
    read_only: bool,
    timeout_s: float | None,
    secrets: Sequence[str] = (),
) -> QueryError:
    """One sentence for a DuckDB error; ``locate`` maps DuckDB's byte position to the line
    and column of the user's query."""
    found = DuckError.read(error)
    message = trim_message(found.message)
    for secret in secrets:
        message = message.replace(secret, "****")
    where = locate(found.position) if found.position is not None else None
    line, column = where if where else (None, None)
    at = f" at line {line}, column {column}" if where else ""
    kind = found.kind.lower()
    if kind == "interrupt":
        return ran_past(timeout_s)
    if kind == "permission" or (
        kind == "invalid input" and "configuration has been locked" in message
    ):
        if read_only:
            return QueryRefused(
                f"Read-only mode refused this{at}: it reads lake tables and nothing else "
                f"({message}).",
                line=line,
                column=column,
            )
        return QueryRefused(f"DuckDB refused this{at}: {message}.", line=line, column=column)
    if kind == "parser":
        return QuerySyntaxError(f"SQL syntax error{at}: {message}.", line=line, column=column)
    if kind in ("binder", "catalog"):
        message = _INSTALL_ADVICE.sub(_NOT_LOADED, message)
        return QueryInvalid(f"The query is not valid{at}: {message}.", line=line, column=column)
    if kind == "out of memory":
        return QueryFailed(
            f"The query needed more memory than its limit and was stopped ({message}); narrow "
            f"it (fewer columns, a WHERE, smaller groups) or allow more memory (--memory-limit)."
        )
    doing = {
        "io": "reading data",
        "http": "reading data",
        "conversion": "converting a value",
        "out of range": "computing a value",
    }
    if kind in doing:
        return QueryFailed(
            f"The query failed{at} while {doing[kind]}: {message}.", line=line, column=column
        )
    return QueryFailed(
        f"The query failed{at} ({found.kind} error): {message}.", line=line, column=column
    )


def _credential_settings(
    connection: duckdb.DuckDBPyConnection, secrets: Sequence[str]
) -> list[str]:
    """Settings holding a credential: httpfs's key, secret and token settings, and any
    setting whose value is one of the configuration's secrets."""
    rows = connection.execute("SELECT name, value FROM duckdb_settings()").fetchall()
    suffixes = ("_access_key_id", "_secret_access_key", "_session_token", "_secret", "_key_id")
    return [
        name
        for name, value in rows
        if value
        and (name.endswith(suffixes) or value in secrets)
        and name.replace("_", "").isalnum()
    ]


def trim_message(text: str, limit: int = 400) -> str:
    """DuckDB's message as one line: its own lines joined, the query echo dropped."""
    text = text.split("\n\nLINE ")[0]
    lines = [part.strip() for part in text.splitlines() if part.strip()]
    joined = "; ".join(lines).rstrip(".!")
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."
