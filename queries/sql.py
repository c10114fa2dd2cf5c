"""SQL over the lake: parse, pin every table to one version, rewrite, run in DuckDB.

>>> result = lk.sql("SELECT request.method, count(*) FROM web.logs VERSION AS OF 3 GROUP BY 1")
>>> result.table        # a pyarrow.Table
>>> result.versions     # [TableVersion(table=TableName('web', 'logs'), version=3, ...)]

One preparation serves every caller (``lake sql``, the HTTP service, training sets):

1. :func:`queries.parse.parse_statement` parses the text once (a plain SELECT by
   :mod:`queries.plain`, any other with sqlglot): every table reference, its time-travel
   clause and its position in the text, and the syntax tree;
2. :func:`prepare` asks :class:`queries.resolve.Resolver` which references are lake tables
   (CTEs shadow them, DuckDB's own objects and table functions are left alone) and pins each
   to one version: a :class:`PreparedQuery`;
3. :meth:`PreparedQuery.run` rewrites the text: each lake reference's span is replaced by a
   subquery over exactly that version's files (:func:`queries.scan.scan_sql`), and the
   caller's own edits are applied (a ``DESCRIBE`` in front, a training set's ordering); the
   rest reaches DuckDB as the user wrote it, so DuckDB's error positions are mapped back to
   the user's line and column. It then runs the caller's step on DuckDB (fetch the rows,
   describe the columns, open a stream), and when DuckDB says a schema column is in no file
   of a version, runs it again with that version's NULL-filling scan: the one bind loop;
4. :mod:`queries.session` gives the DuckDB connection: the lake's shared database or, for a
   read-only query, a locked one that can read those files and nothing else.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import threading
import time as clock
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from lake.core.errors import LakeError, TableLogReplaced, VersionVacuumed
from lake.core.names import TableVersion, parse_time
from lake.core.quoting import quote_ident
from lake.core.storage import Storage
from lake.delta.store import DeltaStore
from queries import session
from queries.exceptions import (
    DataFileUnreadable,
    QueryError,
    QueryInvalid,
    QueryRefused,
    QueryTimeout,
    UnknownTable,
    VacuumedVersion,
)
from queries.parse import parse_statement, with_syntax_tree
from queries.plain import FUNCTIONS
from queries.resolve import ResolvedTable, Resolver, unknown_time_travel
from queries.scan import Limit, scan_sql, within_days, within_times
from queries.statement import (
    Bound,
    Statement,
    TableReference,
    TimeTravel,
    line_and_column,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from catalog.catalog import Catalog
    from catalog.reader import CatalogReader
    from lake.delta.snapshot import Snapshot
    from queries import worker

# Retries with the slower, NULL-filling scan when a schema column is in no file of a version.
MAX_ROBUST_RETRIES = 8

T = TypeVar("T")

Evaluate = Callable[..., datetime]
"""``evaluate(expression, context=...)``: a constant time expression's value, in UTC."""

Edit = tuple[int, int, str]
"""``(start, end, text)``: replace that span of the statement's text (``start == end``
inserts). A caller's own changes to the query, applied with the table rewrites."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    """DuckDB's type name: ``BIGINT``, ``TIMESTAMP WITH TIME ZONE``, ``STRUCT(...)``."""


@dataclass(frozen=True)
class ScanReport:
    """What a query read of one table version, and what the lake skipped before DuckDB saw
    it: files of other days by the ``_event_date`` partition (a bound on ``_event_time``),
    files whose recorded time range misses a bound by the Delta log's statistics."""

    table: str
    version: int
    files_total: int
    bytes_total: int
    files_read: int
    bytes_read: int
    skipped_by_partition: int
    skipped_by_statistics: int

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class QueryResult:
    """The rows of a query (an Arrow table) and the exact table versions it read."""

    table: pa.Table
    columns: tuple[Column, ...]
    versions: list[TableVersion]
    truncated: bool = False
    """True when ``max_rows`` cut the result short."""
    query: str = field(default="", repr=False)
    scans: tuple[ScanReport, ...] = ()
    """Per table version read: files and bytes read and skipped (``lake sql --explain``)."""

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts of Python values (as pyarrow converts them)."""
        return self.table.to_pylist()

    def to_json(self) -> dict[str, Any]:
        """``{"columns": [...], "rows": [{...}], "versions": [...], "truncated": bool}`` with
        JSON-safe values (decimals as strings, times as ISO 8601)."""
        from queries.output import json_document

        return json_document(self)


def run_query(
    catalog: Catalog | CatalogReader,
    storage: Storage,
    query: str,
    *,
    read_only: bool = False,
    max_rows: int | None = None,
    timeout_s: float | None = None,
    max_bytes: int | None = None,
    memory_limit: int | None = None,
    threads: int | None = None,
) -> QueryResult:
    """Run one SQL statement over the lake.

    A read-only query runs under the limits of ``storage.config.query`` (each argument given
    overrides its setting): a wall-clock limit from the text to the last row, every DuckDB
    step in a worker process killed at the limit (:mod:`queries.worker`), DuckDB's memory and
    threads, and a byte cap on the answer. Other queries run in the lake's own DuckDB
    database, limited only by what is given (``timeout_s`` interrupts execution there).

    Raises:
        QuerySyntaxError: the text is not one valid statement, or a time-travel clause is malformed.
        UnknownTable: a name is neither a lake table, a CTE nor a DuckDB object.
        TimeTravelError: a version that does not exist, or a time before the table existed.
        VacuumedVersion: the version's files were removed by vacuum (a ``VersionVacuumed``).
        QueryRefused: read-only mode refused the statement, a file outside the lake tables,
            DuckDB's own settings or secrets, or a text longer than the limit.
        QueryTimeout: the query ran past ``timeout_s``.
        QueryInvalid, QueryFailed: DuckDB refused or failed the query (past its memory too).
    """
    started = clock.monotonic()
    if max_rows is not None and max_rows < 0:
        raise QueryInvalid(f"max_rows must be 0 or more, not {max_rows}.")
    for name, value in (("timeout_s", timeout_s), ("max_bytes", max_bytes)):
        if value is not None and not value > 0:
            raise QueryInvalid(f"{name} must be more than 0, not {value}.")
    for name, value in (("memory_limit", memory_limit), ("threads", threads)):
        if value is not None and value < 1:
            raise QueryInvalid(f"{name} must be 1 or more, not {value}.")
    if not read_only and (memory_limit is not None or threads is not None):
        raise QueryInvalid(
            "memory_limit and threads apply to read-only queries, which run in a worker process "
            "of their own; add read_only (--read-only)."
        )
    limits: worker.Limits | None = None
    if read_only:
        # A worker process per read-only query; other queries start without multiprocessing.
        from queries import worker

        settings = storage.config.query
        timeout_s = timeout_s if timeout_s is not None else settings.timeout_s
        limits = worker.Limits(
            memory_limit=memory_limit or settings.memory_limit,
            threads=threads or settings.threads,
            max_rows=max_rows,
            max_bytes=max_bytes if max_bytes is not None else settings.max_bytes,
        )
        if len(query) > settings.max_sql_chars:
            raise QueryRefused(
                f"The query is {len(query):,} characters long; read-only queries may be at most "
                f"{settings.max_sql_chars:,}."
            )
    deadline = started + timeout_s if timeout_s is not None else None

    def left() -> float | None:
        """The time the call has left: one limit for all of it, every run of the query again
        (below) and of DuckDB's step (a bind error's rerun) included; each had the whole
        limit, so a query run three times could take three times it."""
        if deadline is None:
            return None
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            raise session.ran_past(timeout_s)
        return remaining

    statement = parse_statement(query)
    if read_only:
        if not statement.reads_only:
            raise QueryRefused(
                f"Read-only mode runs queries only (SELECT, WITH, VALUES, DESCRIBE, SUMMARIZE, "
                f"PIVOT, EXPLAIN); this is a {statement.kind.upper()} statement."
            )
    if installs_extension(statement):
        raise QueryRefused(
            "The lake installs no DuckDB extension at run time (INSTALL and UPDATE EXTENSIONS "
            "download from the network); install its duckdb-extension-NAME package, pinned to "
            "the lake's DuckDB, and LOAD the file that package brings."
        )

    def attempt(*, defer: bool, last: bool = False) -> QueryResult | None:
        """The query's result, or None when a check deferred by ``defer`` found a newer
        commit than a version it read, or (unless ``last``) a table it found unknown was
        registered while it ran: its result or error is then not the latest's."""
        left()
        resolver = Resolver(catalog, storage, defer_checks=defer)
        try:
            result = once(resolver)
        except QueryTimeout:
            raise  # the time is spent: running it again would double the limit
        except UnknownTable:
            if not last and resolver.registered_since():
                return None
            if defer and resolver.newer_commit_seen():
                return None
            raise
        except Exception:
            if defer and resolver.newer_commit_seen():
                return None
            raise
        if defer and resolver.newer_commit_seen():
            return None
        return result

    def once(resolver: Resolver) -> QueryResult:
        if read_only:
            private = private_names(statement, resolver)
            if private:
                raise session.private_names_refused(private)
        if limits is not None and deadline is not None and timeout_s is not None:
            evaluate = functools.partial(
                _worker_time, limits=limits, deadline=deadline, timeout_s=timeout_s
            )
            prepared = prepare(resolver, statement, read_only=read_only, evaluate=evaluate)
            paths = tuple(sorted({p for _, paths in prepared.reads.values() for p in paths}))
            from queries import worker

            fetched = prepared.run(
                lambda rewritten: worker.run(
                    storage,
                    paths,
                    rewritten.text,
                    limits=limits,
                    deadline=deadline,
                    timeout_s=timeout_s,
                ),
                timeout_s=timeout_s,
            )
        else:
            prepared = prepare(resolver, statement, read_only=read_only)
            with prepared.cursor(interruptible=timeout_s is not None) as connection:
                fetched = prepared.run(
                    lambda rewritten: session.run(
                        connection,
                        rewritten.text,
                        max_rows=max_rows,
                        max_bytes=max_bytes,
                        timeout_s=left(),
                    ),
                    timeout_s=timeout_s,
                )
        return QueryResult(
            table=fetched.table,
            columns=tuple(
                Column(n, t)
                for n, t in zip(fetched.table.column_names, fetched.types, strict=False)
            ),
            versions=prepared.versions(),
            truncated=fetched.truncated,
            query=query,
            scans=prepared.scan_reports(),
        )

    # A query that only reads pins the latest versions the catalog recorded while the checks
    # for newer commits run beside it, and runs again, pinned after them, if one was newer:
    # nothing it returns or raises is of a version older than the latest when it was called.
    # A statement that may write runs once, after its checks. A name found unknown that the
    # catalog has by the time of the error (another process registered it meanwhile) runs
    # the query again too; a statement refused for an unknown name has not run.
    deferred = attempt(defer=statement.reads_only)
    if deferred is not None:
        return deferred
    fresh = attempt(defer=False)
    if fresh is not None:
        return fresh
    final = attempt(defer=False, last=True)
    assert final is not None
    return final


def installs_extension(statement: Statement) -> bool:
    """``INSTALL``/``FORCE INSTALL`` or ``UPDATE EXTENSIONS``: a download at run time."""
    if statement.kind == "install":
        return True
    if statement.kind != "update":
        return False
    from sqlglot import exp

    # sqlglot reads UPDATE EXTENSIONS as an UPDATE of a table "extensions" with nothing to
    # SET, which no UPDATE of a table can be
    tree = with_syntax_tree(statement).tree
    return isinstance(tree, exp.Update) and not tree.args.get("expressions")


def private_names(statement: Statement, resolver: Resolver) -> list[str]:
    """The functions and tables ``statement`` names that show DuckDB's own state (settings,
    secrets, catalog) or run SQL from a string: refused in read-only mode. (A lake table may
    have such a name: it is a lake table.)"""
    resolver.look_up(statement.tables)
    found = _private_functions(statement)
    found += [
        ref.parts[-1]
        for ref in statement.tables
        if session.is_private_name(ref.parts[-1], function=False)
        and not ref.shadowed
        and resolver.lake_name(ref) is None
    ]
    return [name.lower() for name in found]


def _private_functions(statement: Statement) -> list[str]:
    """The private functions (:func:`queries.session.is_private_name`) ``statement`` calls,
    among those sqlglot does not know (its ``Anonymous`` nodes). A statement the plain reader
    read calls only :data:`queries.plain.FUNCTIONS`, none of them private: it needs no
    sqlglot tree (sqlglot's imports are 0.1 s of a new process's first read-only query)."""
    if statement.parsed is None and not any(
        session.is_private_name(name, function=True) for name in FUNCTIONS
    ):
        return []
    from sqlglot import exp

    return [
        node.name
        for node in with_syntax_tree(statement).tree.find_all(exp.Anonymous)
        if session.is_private_name(node.name, function=True)
    ]


def _worker_time(
    expression: str, context: str, *, limits: worker.Limits, deadline: float, timeout_s: float
) -> datetime:
    from queries import worker

    return worker.constant_time(
        expression, context=context, limits=limits, deadline=deadline, timeout_s=timeout_s
    )


# -- preparing ------------------------------------------------------------------------------


@dataclass
class PreparedQuery:
    """A parsed statement with every lake table it reads pinned to one version: what
    :func:`run_query` and a training set (:mod:`queries.training`) both run."""

    statement: Statement
    resolver: Resolver
    read_only: bool
    lake: dict[int, ResolvedTable]
    """Index in ``statement.tables`` -> the lake table version it reads."""
    reads: dict[TableVersion, tuple[ResolvedTable, list[str]]]
    """Each version read -> the version and DuckDB's paths of its files, in query order."""
    unaliased: set[tuple[str, str]]
    """(namespace, table) of lake tables read without alias: ``ns.t.col`` qualifiers apply."""
    robust: set[TableVersion] = field(default_factory=set)
    """Versions read with the NULL-filling scan (a schema column is in none of their files)."""
    pruned: dict[TableVersion, tuple[set[str], set[str], set[str]]] = field(default_factory=dict)
    """Per version, in the last rewrite: paths read, skipped by partition, by statistics."""
    latest_only: bool = True
    """Every lake table is read at its latest version (no time travel)."""
    _kept: _Kept | None = field(default=None, repr=False)
    """The kept rewrite the last :meth:`rewrite` used or made (None: not keepable)."""

    def scan_reports(self) -> tuple[ScanReport, ...]:
        """What the last rewrite reads of each version, in query order: a file one reference
        reads and another skips counts as read."""
        kept = self._kept
        if kept is not None and kept.reports is not None:
            return kept.reports
        reports = []
        for pinned, (resolved, paths) in self.reads.items():
            sizes = dict(zip(paths, (f.size for f in resolved.snapshot.files), strict=True))
            read, by_partition, by_statistics = self.pruned.get(pinned, (set(paths), set(), set()))
            by_partition = by_partition - read
            reports.append(
                ScanReport(
                    table=str(pinned.table),
                    version=pinned.version,
                    files_total=len(sizes),
                    bytes_total=sum(sizes.values()),
                    files_read=len(read),
                    bytes_read=sum(sizes.get(p, 0) for p in read),
                    skipped_by_partition=len(by_partition),
                    skipped_by_statistics=len(by_statistics - read - by_partition),
                )
            )
        if kept is not None:
            kept.reports = tuple(reports)
        return tuple(reports)

    evaluate: Evaluate = session.constant_time
    """Computes a constant time expression (a time-travel clause, an ``_event_time`` bound)."""

    @property
    def storage(self) -> Storage:
        return self.resolver.storage

    def versions(self) -> list[TableVersion]:
        """Every table version the statement reads, once each, in query order."""
        return list(self.reads)

    def resolved(self) -> list[ResolvedTable]:
        """The pinned tables, once per version, in query order."""
        return [resolved for resolved, _ in self.reads.values()]

    def references(self) -> list[tuple[TableReference, ResolvedTable]]:
        """Each lake table reference, in the order of the text, with the version it reads."""
        order = sorted(self.lake, key=lambda index: self.statement.tables[index].start)
        return [(self.statement.tables[index], self.lake[index]) for index in order]

    def connect(
        self, *, temp_directory: str | None = None, threads: int | None = None
    ) -> duckdb.DuckDBPyConnection:
        """A connection to run this statement on: a cursor of the lake's shared database, or
        for a read-only statement a database locked to the files it reads (spilling to
        ``temp_directory``, a private empty folder, when given; on ``threads`` threads, when
        given)."""
        if self.read_only:
            paths = sorted({p for _, paths in self.reads.values() for p in paths})
            return session.locked_connection(
                self.storage, paths, temp_directory=temp_directory, threads=threads
            )
        return session.shared_cursor(self.storage, lake_files_only=self.lake_files_only)

    def cursor(
        self, *, interruptible: bool = False
    ) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """:meth:`connect`'s connection for the time of a ``with`` block: a shared cursor is
        kept for the next read when this statement only reads and no timer may interrupt it
        (``interruptible``)."""
        if self.read_only:
            return contextlib.closing(self.connect())
        return session.reading_cursor(
            self.storage,
            lake_files_only=self.lake_files_only,
            reusable=self.statement.reads_only and not interruptible,
        )

    @property
    def lake_files_only(self) -> bool:
        """The statement reads the latest versions of lake tables and nothing else that
        could be a file: every table it names is a lake table or a CTE, and it calls no table
        function. (An older version's files may since have been vacuumed: reading one must
        fail as :class:`~queries.exceptions.VacuumedVersion`, not succeed from a cache.)"""
        return (
            self.latest_only
            and self.statement.reads_only
            and self.statement.names_only
            and bool(self.lake)
            and all(
                index in self.lake or ref.shadowed
                for index, ref in enumerate(self.statement.tables)
            )
        )

    def run(
        self,
        step: Callable[[Rewritten], T],
        *,
        edits: Sequence[Edit] = (),
        timeout_s: float | None = None,
    ) -> T:
        """Rewrite the statement (with ``edits``) and run ``step`` on it; DuckDB's errors
        become one :class:`~queries.exceptions.QueryError` pointing into the user's text.

        This is the one bind loop: when DuckDB says a column of our own scan is missing (a
        schema column no file of that version contains), that version switches to the
        NULL-filling scan and ``step`` runs again; the switch holds for later runs.
        """
        for _ in range(MAX_ROBUST_RETRIES + 1):
            rewritten = self.rewrite(edits)
            try:
                return step(rewritten)
            except Exception as error:  # noqa: BLE001 - every DuckDB error is translated below
                if not is_duckdb_error(error):
                    raise
                retry = self._needs_robust_scan(error, rewritten)
                if retry is None:
                    raise self.translate(error, rewritten, timeout_s=timeout_s) from error
                self.robust.add(retry)
        raise QueryInvalid(  # pragma: no cover - each retry adds one version; the loop ends first
            "The query kept failing on missing columns; report this as a bug."
        )

    def rewrite(
        self, edits: Sequence[Edit] = (), *, scans: Mapping[TableVersion, str] | None = None
    ) -> Rewritten:
        """The text DuckDB runs: lake references replaced by scans of their versions'
        files, ``ns.`` of ``ns.t.col`` dropped where ``t`` is read without alias, and
        ``edits`` applied. ``scans`` replaces the scan of a version by other SQL giving the
        same rows (the Ray engine's broadcast copy of a small table)."""
        key = self._rewrite_key(edits) if scans is None else None
        kept = _kept_rewrite(self.storage, key) if key is not None else None
        if kept is not None and not _same_objects(kept.anchors, self._anchors()):
            kept = None  # another snapshot object under a reused id: made anew below
        if kept is not None:
            self._kept = kept
            self.pruned = dict(kept.pruned)  # a rewrite starts a new dict: the sets stay shared
            return kept.rewritten
        self._kept = None
        changes: list[tuple[int, int, str, int]] = []
        self.pruned = {}
        for index, ref in enumerate(self.statement.tables):
            resolved = self.lake.get(index)
            if resolved is not None:
                scan = (scans or {}).get(resolved.pinned)
                changes.append((ref.start, ref.end, self._replacement(index, scan), index))
        for qualifier in self.statement.qualifiers:
            if qualifier.parts in self.unaliased:
                changes.append((qualifier.start, qualifier.end, "", -1))
        changes += [(start, end, text, -1) for start, end, text in edits]
        changes.sort()
        text = self.statement.text
        pieces, mapped, cursor, length = [], [], 0, 0
        for start, end, replacement, index in changes:
            if start < cursor:  # overlapping spans cannot come from one parse tree
                raise QueryInvalid(
                    "The query could not be rewritten (overlapping table references)."
                )
            pieces.append(text[cursor:start])
            length += start - cursor
            mapped.append((start, end, length, length + len(replacement), index))
            pieces.append(replacement)
            length += len(replacement)
            cursor = end
        pieces.append(text[cursor:])
        rewritten = Rewritten("".join(pieces), text, tuple(mapped))
        if key is not None:
            kept = _Kept(rewritten, dict(self.pruned), self._anchors())
            self._kept = _keep_rewrite(self.storage, key, kept)
        return rewritten

    def _rewrite_key(self, edits: Sequence[Edit]) -> tuple | None:
        """What :meth:`rewrite`'s text depends on, once every table is pinned: the text, the
        edits, each lake reference's version (with its table's id, commit time and
        location: a version's files and schema never change) and which versions are read
        robustly, and the very snapshot and path list each reads (the Ray engine rewrites
        copies holding a part of a version's files). None when a bound on ``_event_time``
        is computed (``now()``): its days are evaluated at each rewrite."""
        for index in self.lake:
            if any(b.literal is None for b in self.statement.tables[index].event_time_bounds):
                return None
        return (
            self.statement.text,
            tuple(tuple(edit) for edit in edits),
            frozenset(self.robust),
            tuple(
                (i, r.pinned, r.info.location, id(r.snapshot), id(self.reads[r.pinned][1]))
                for i, r in sorted(self.lake.items())
            ),
        )

    def _anchors(self) -> tuple[object, ...]:
        """The objects whose ids :meth:`_rewrite_key` holds: kept with the rewrite, so an id
        cannot be reused while it is kept, and compared by identity when it is found."""
        return tuple(
            x for _, r in sorted(self.lake.items()) for x in (r.snapshot, self.reads[r.pinned][1])
        )

    def translate(
        self, error: BaseException, rewritten: Rewritten, *, timeout_s: float | None = None
    ) -> QueryError | TableLogReplaced | DataFileUnreadable:
        """One sentence for a DuckDB error met running ``rewritten``."""
        found = session.DuckError.read(error)
        kind = found.kind.lower()
        # A locked database refuses a missing file's path as a pattern it may not glob:
        # "permission" there is a vacuumed version as often as a file outside the lake.
        if kind in ("io", "http", "permission") and self.reads:
            vacuumed = self._vacuumed()
            if vacuumed is not None:
                return vacuumed
        files = self._files_named(found.message)
        if files and kind in ("io", "http", "invalid input"):
            version, name = next(iter(files.values()))
            said = _named(session.trim_message(found.message), files)
            return DataFileUnreadable(
                f"{version} cannot be read: its data file {name} is damaged or its storage "
                f"failed ({said}); try again, and if it persists restore that file from a backup."
            )
        offset = rewritten.locate(found.position)[0] if found.position is not None else None
        where = line_and_column(self.statement.text, offset) if offset is not None else None
        ref = next(
            (
                r
                for i, r in enumerate(self.statement.tables)
                if i not in self.lake and offset is not None and r.start <= offset < r.end
            ),
            None,
        )
        if kind == "catalog" and ref is not None and where is not None:
            # DuckDB could not find a name we left to it (not a lake table, not a CTE)
            return UnknownTable(
                f"Table {ref.name} (line {where[0]}, column {where[1]}) is neither a lake table, "
                f"a CTE nor a DuckDB table. {self.resolver.known_phrase()}",
                line=where[0],
                column=where[1],
            )
        translated = session.translate(
            error,
            locate=lambda _position: where,
            read_only=self.read_only,
            timeout_s=timeout_s,
            secrets=self.storage.config.secrets,
        )
        if files:  # the warehouse's location is no business of the query's reader
            return type(translated)(
                _named(str(translated), files), line=translated.line, column=translated.column
            )
        return translated

    def _files_named(self, message: str) -> dict[str, tuple[str, str]]:
        """The data files of the versions read that DuckDB's ``message`` names by path, each
        with its version (``web.logs@3``) and its name within the table."""
        named = {}
        for pinned, (resolved, paths) in self.reads.items():
            root = resolved.info.location.rstrip("/") + "/"
            for path in paths:
                if path in message:
                    inside = path[len(root) :] if path.startswith(root) else path.rsplit("/")[-1]
                    named[path] = (f"{pinned.table}@{pinned.version}", inside)
        return named

    def files_read(self, index: int) -> tuple[Snapshot, list[str]]:
        """The version a lake reference (index in ``statement.tables``) reads, with only the
        files its bounds can match (data skipping), and their DuckDB paths."""
        ref, resolved = self.statement.tables[index], self.lake[index]
        snapshot, paths = resolved.snapshot, self.reads[resolved.pinned][1]
        read, by_partition, by_statistics = self.pruned.setdefault(
            resolved.pinned, (set(), set(), set())
        )
        if ref.event_time_bounds and "_event_time" in snapshot.schema.names:
            before = set(paths)
            days = _event_days(ref.event_time_bounds, self.evaluate)
            snapshot, paths = within_days(snapshot, paths, *days)
            by_partition.update(before - set(paths))
        before = set(paths)
        if ref.bounds:
            import pyarrow as pa

            for column in snapshot.schema:
                if not (pa.types.is_timestamp(column.type) and column.type.tz):
                    continue  # the log keeps time ranges of times with a zone only
                bounds = ref.bounds_on(column.name)
                if bounds:
                    low, high = _literal_times(bounds)
                    snapshot, paths = within_times(snapshot, paths, column.name, low, high)
        by_statistics.update(before - set(paths))
        read.update(paths)
        return snapshot, list(paths)

    # -- internals ---------------------------------------------------------------------------

    def _replacement(self, index: int, scan: str | None = None) -> str:
        ref, resolved = self.statement.tables[index], self.lake[index]
        if scan is None:
            snapshot, paths = self.files_read(index)
            scan = scan_sql(snapshot, paths, robust=resolved.pinned in self.robust)
        binding = quote_ident(resolved.pinned.table.name)
        if ref.role == "statement":  # DESCRIBE / SUMMARIZE take a query
            return f"SELECT * FROM {scan} AS {binding}"
        if ref.role == "copy":  # COPY (query) TO ...
            return f"(SELECT * FROM {scan} AS {binding})"
        if ref.alias is not None:
            return f"{scan} AS {ref.alias}"
        return scan if ref.has_alias else f"{scan} AS {binding}"

    def _needs_robust_scan(self, error: BaseException, rewritten: Rewritten) -> TableVersion | None:
        """The table version to re-read with NULL-filling when DuckDB says a column of our
        own scan is missing (a schema column no file of that version contains)."""
        found = session.DuckError.read(error)
        if found.kind.lower() != "binder" or found.position is None:
            return None
        _offset, table = rewritten.locate(found.position)
        if table is None or table not in self.lake:
            return None
        pinned = self.lake[table].pinned
        return None if pinned in self.robust else pinned

    def _vacuumed(self) -> VacuumedVersion | TableLogReplaced | DataFileUnreadable | None:
        """Which version lost files to vacuum, when a read failed (checked only then: the
        check costs one request per file on S3). Files missing from a version this process
        had cached are vacuum's doing only when the log still holds that version: a table
        made again at the location since has other files (:meth:`Resolver.check_log`)."""
        for resolved, _ in self.reads.values():
            try:
                DeltaStore(resolved.info.location, self.storage).check_files(resolved.snapshot)
            except VersionVacuumed:
                try:
                    self.resolver.check_log(resolved)
                except TableLogReplaced as replaced:
                    return replaced
                latest = resolved.info.current_version
                pinned = resolved.pinned
                if latest == pinned.version:
                    # Vacuum keeps every file of the latest version: one is gone otherwise.
                    return DataFileUnreadable(
                        f"Version {pinned.version} of {pinned.table}, its latest, cannot be "
                        f"read: a data file of it is missing from the warehouse, which vacuum "
                        f"never does to the latest version (it was deleted outside the lake); "
                        f"restore the table's files from a backup."
                    )
                newer = (
                    f" (the latest is {latest})"
                    if latest is not None and latest != pinned.version
                    else ""
                )
                return VacuumedVersion(
                    f"Version {pinned.version} of {pinned.table} can no longer be read: vacuum "
                    f"removed its data files. Query a newer version{newer}, and pin the versions "
                    f"you need before vacuuming."
                )
        return None


def _named(message: str, files: Mapping[str, tuple[str, str]]) -> str:
    """``message`` with each data file's path given as the file's name in its table version."""
    for path in sorted(files, key=len, reverse=True):
        version, name = files[path]
        message = message.replace(path, f"{name} of {version}")
    return message


def prepare(
    resolver: Resolver,
    statement: Statement,
    *,
    read_only: bool = False,
    travel: Mapping[int, TimeTravel] | None = None,
    evaluate: Evaluate = session.constant_time,
) -> PreparedQuery:
    """Pin every lake table ``statement`` reads to one version.

    ``travel`` replaces the time-travel clause of references (by index in
    ``statement.tables``): a rebuild reads exactly the versions it recorded. ``evaluate``
    computes constant time expressions (in a worker, for a read-only query).

    Raises:
        UnknownTable: a time-travel clause on a name that is not a lake table.
        QueryRefused: the statement writes to a lake table.
        TimeTravelError: a version that does not exist, or a time before the table existed.
    """
    prepared = PreparedQuery(
        statement, resolver, read_only, lake={}, reads={}, unaliased=set(), evaluate=evaluate
    )
    resolver.look_up(statement.tables)
    for index, ref in enumerate(statement.tables):
        name = resolver.lake_name(ref)
        if name is None:
            if ref.time_travel is not None:
                raise unknown_time_travel(ref, resolver.known_phrase())
            continue
        if ref.role == "target":
            raise QueryRefused(
                f"{name} (line {ref.line}, column {ref.column}) is a lake table: SQL reads lake "
                f"tables but does not change them; write with lake ingest, Lake.write_table or a "
                f"materialization.",
                line=ref.line,
                column=ref.column,
            )
        where = f" at line {ref.line}, column {ref.column}"
        clause = travel[index] if travel is not None and index in travel else ref.time_travel
        if clause is not None:
            prepared.latest_only = False
        resolved = resolver.resolve(
            name,
            clause,
            where=where,
            evaluate=lambda expression, ref=ref, where=where: evaluate(
                expression,
                context=f"{ref.time_travel.clause if ref.time_travel else expression}{where}",
            ),
        )
        prepared.lake[index] = resolved
        if resolved.pinned not in prepared.reads:
            prepared.reads[resolved.pinned] = (resolved, _duckdb_paths(resolver.storage, resolved))
        if not ref.has_alias:
            prepared.unaliased.add((name.namespace, name.name))
    return prepared


# -- what repeated queries keep ----------------------------------------------------------------
#
# A query run again at the same table versions is rewritten to the same text: each Lake (its
# Storage) keeps its last KEPT_REWRITES rewrites, keyed by PreparedQuery._rewrite_key, with
# the files each reads and skips and the scan reports. The key holds the versions the
# resolver pinned for this very call (the catalog read and the check for a newer commit run
# on every query, before the key is known), so a new version, a schema change (a new
# version) or a table registered elsewhere gives another key: a kept rewrite is never of an
# older version than the one pinned. (Parsing is kept by queries.parse, snapshots by
# queries.resolve.)

KEPT_REWRITES = 64  # as many as snapshots are kept (queries.resolve): they hold them


@dataclass
class _Kept:
    rewritten: Rewritten
    pruned: dict[TableVersion, tuple[set[str], set[str], set[str]]]
    anchors: tuple[object, ...]
    reports: tuple[ScanReport, ...] | None = None


_rewrites: weakref.WeakKeyDictionary[Storage, OrderedDict[tuple, _Kept]] = (
    weakref.WeakKeyDictionary()
)
_paths: weakref.WeakKeyDictionary[Storage, OrderedDict[tuple, tuple[Snapshot, list[str]]]] = (
    weakref.WeakKeyDictionary()
)
_kept_lock = threading.Lock()


def _kept_rewrite(storage: Storage, key: tuple) -> _Kept | None:
    with _kept_lock:
        kept = _rewrites.get(storage)
        found = kept.get(key) if kept is not None else None
        if found is not None:
            kept.move_to_end(key)  # type: ignore[union-attr]
        return found


def _keep_rewrite(storage: Storage, key: tuple, value: _Kept) -> _Kept:
    with _kept_lock:
        kept = _rewrites.setdefault(storage, OrderedDict())
        kept[key] = value
        while len(kept) > KEPT_REWRITES:
            kept.popitem(last=False)
    return value


def _same_objects(kept: tuple[object, ...], now: tuple[object, ...]) -> bool:
    return len(kept) == len(now) and all(a is b for a, b in zip(kept, now, strict=True))


def _duckdb_paths(storage: Storage, resolved: ResolvedTable) -> list[str]:
    """DuckDB's paths of a version's files (one per file: a table of a thousand appends
    spelled a thousand of them per query), kept per Lake like its rewrites."""
    key = (resolved.pinned, resolved.info.location)
    with _kept_lock:
        kept = _paths.setdefault(storage, OrderedDict())
        found = kept.get(key)
        # Only for the very snapshot they were read from: a table made again at its location
        # by another tool (queries.resolve reads its log anew) may name other files.
        if found is not None and found[0] is resolved.snapshot:
            kept.move_to_end(key)
            return found[1]
    paths = [storage.duckdb_path(f.uri) for f in resolved.snapshot.files]
    with _kept_lock:
        kept[key] = (resolved.snapshot, paths)
        while len(kept) > KEPT_REWRITES:
            kept.popitem(last=False)
    return paths


@dataclass(frozen=True)
class Rewritten:
    text: str
    original: str
    edits: tuple[tuple[int, int, int, int, int], ...]
    """(original start, original end, new start, new end, table index or -1), in text order."""

    def original_position(self, position: int) -> tuple[int, int | None]:
        """(offset in the user's text, index of the table reference it falls in or None)."""
        starts = [e[2] for e in self.edits]
        i = bisect.bisect_right(starts, position) - 1
        if i < 0:
            return position, None
        o_start, o_end, n_start, n_end, table = self.edits[i]
        if position < n_end:
            return o_start, table if table >= 0 else None
        return o_end + (position - n_end), None

    def locate(self, byte_position: int) -> tuple[int, int | None]:
        """DuckDB's byte position in the rewritten text -> (offset in the user's text, index
        of the lake reference whose replacement it falls in, or None)."""
        chars = len(self.text.encode("utf-8")[:byte_position].decode("utf-8", errors="ignore"))
        return self.original_position(chars)


def _literal_times(bounds: tuple[Bound, ...]) -> tuple[Limit | None, Limit | None]:
    """The tightest lower and upper limit among the literal ``bounds`` (computed ones such
    as ``now()`` are left to DuckDB). (None, None) when a literal is not a time: then
    nothing is skipped and DuckDB reports the error."""
    try:
        return _time_limits(bounds)
    except (LakeError, ValueError, OverflowError):
        return None, None


def _time_limits(bounds: tuple[Bound, ...]) -> tuple[Limit | None, Limit | None]:
    """:func:`_literal_times`, raising when a literal is not a time."""
    lows: list[Limit] = []
    highs: list[Limit] = []
    for operator, _, literal in bounds:
        if literal is None:
            continue
        moment = parse_time(literal)
        if operator in _LOWER:
            lows.append(Limit(moment, strict=operator == ">"))
        if operator in _UPPER:
            highs.append(Limit(moment, strict=operator == "<"))
    # The latest lower limit, strict before inclusive at the same moment; the earliest upper.
    low = max(lows, key=lambda x: (x.moment, x.strict)) if lows else None
    high = min(highs, key=lambda x: (x.moment, not x.strict)) if highs else None
    return low, high


_LOWER = (">", ">=", "=")
_UPPER = ("<", "<=", "=")


def _event_days(
    bounds: tuple[Bound, ...], evaluate: Evaluate = session.constant_time
) -> tuple[date | None, date | None]:
    """The first and last ``_event_date`` (the UTC date of ``_event_time``) rows meeting
    ``bounds`` can have. A computed bound (``now() - INTERVAL 1 DAY``) is evaluated here, a
    moment before DuckDB evaluates it, so its day gets a day's margin. (None, None) when a
    bound cannot be computed: then nothing is skipped and DuckDB reports the error."""
    try:
        low, high = _time_limits(bounds)
        lows = [low.moment.date()] if low else []
        highs = [high.moment.date()] if high else []
        if high and high.strict and high.moment.time() == time(0):
            highs = [highs[0] - timedelta(days=1)]  # "before midnight" ends with the day before
        for operator, expression, literal in bounds:
            if literal is not None:
                continue
            day = evaluate(expression, context=expression).date()
            if operator in _LOWER:
                lows.append(day - timedelta(days=1))
            if operator in _UPPER:
                highs.append(day + timedelta(days=1))
    except (LakeError, ValueError, OverflowError):
        return None, None
    return (max(lows) if lows else None), (min(highs) if highs else None)


# -- errors ---------------------------------------------------------------------------------


def is_duckdb_error(error: BaseException) -> bool:
    return session.is_duckdb_error(error)
