"""SQL over the lake: parse, pin every table to one version, rewrite, run in DuckDB.

>>> result = lk.sql("SELECT request.method, count(*) FROM web.logs VERSION AS OF 3 GROUP BY 1")
>>> result.table        # a pyarrow.Table
>>> result.versions     # [TableVersion(table=TableName('web', 'logs'), version=3, ...)]

1. :func:`queries.parse.parse_statement` finds every table reference and its time-travel
   clause with sqlglot, with their positions in the query text;
2. :class:`queries.resolve.Resolver` decides which are lake tables (CTEs shadow them,
   DuckDB's own objects and table functions are left alone) and pins each to one version;
3. each lake reference's span is replaced by a subquery over exactly that version's files
   (:func:`queries.scan.scan_sql`); the rest of the text reaches DuckDB as the user wrote it,
   so DuckDB's error positions are mapped back to the user's line and column;
4. :mod:`queries.session` runs it, on the lake's shared DuckDB database or, read-only, on a
   locked one that can read those files and nothing else.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Any

from catalog.store import Catalog
from lake.core.errors import LakeError, VersionVacuumed
from lake.core.names import TableVersion, parse_time
from lake.core.quoting import quote_ident
from lake.core.storage import Storage
from lake.delta.store import DeltaStore
from queries import session
from queries.exceptions import (
    QueryError,
    QueryInvalid,
    QueryRefused,
    UnknownTable,
    VacuumedVersion,
)
from queries.parse import Bound, Statement, TableReference, line_and_column, parse_statement
from queries.resolve import ResolvedTable, Resolver, unknown_time_travel
from queries.scan import Limit, scan_sql, within_days, within_times

if TYPE_CHECKING:
    import pyarrow as pa

# Retries with the slower, NULL-filling scan when a schema column is in no file of a version.
MAX_ROBUST_RETRIES = 8


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    """DuckDB's type name: ``BIGINT``, ``TIMESTAMP WITH TIME ZONE``, ``STRUCT(...)``."""


@dataclass(frozen=True)
class QueryResult:
    """The rows of a query (an Arrow table) and the exact table versions it read."""

    table: pa.Table
    columns: tuple[Column, ...]
    versions: list[TableVersion]
    truncated: bool = False
    """True when ``max_rows`` cut the result short."""
    query: str = field(default="", repr=False)

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
    catalog: Catalog,
    storage: Storage,
    query: str,
    *,
    read_only: bool = False,
    max_rows: int | None = None,
    timeout_s: float | None = None,
) -> QueryResult:
    """Run one SQL statement over the lake.

    Raises:
        QuerySyntaxError: the text is not one valid statement, or a time-travel clause is malformed.
        UnknownTable: a name is neither a lake table, a CTE nor a DuckDB object.
        TimeTravelError: a version that does not exist, or a time before the table existed.
        VacuumedVersion: the version's files were removed by vacuum (a ``VersionVacuumed``).
        QueryRefused: read-only mode refused the statement or a file outside the lake tables.
        QueryTimeout: the query ran past ``timeout_s``.
        QueryInvalid, QueryFailed: DuckDB refused or failed the query.
    """
    if max_rows is not None and max_rows < 0:
        raise QueryInvalid(f"max_rows must be 0 or more, not {max_rows}.")
    if timeout_s is not None and timeout_s <= 0:
        raise QueryInvalid(f"timeout_s must be more than 0 seconds, not {timeout_s}.")
    statement = parse_statement(query)
    if read_only and not statement.reads_only:
        raise QueryRefused(
            f"Read-only mode runs queries only (SELECT, WITH, VALUES, DESCRIBE, SUMMARIZE, PIVOT, "
            f"EXPLAIN); this is a {statement.kind.upper()} statement."
        )
    resolver = Resolver(catalog, storage)
    plan = plan_reads(statement, resolver)
    robust: set[tuple[str, int]] = set()
    connection = (
        session.locked_connection(
            storage, sorted({p for _, paths in plan.reads.values() for p in paths})
        )
        if read_only
        else session.shared_cursor(storage)
    )
    try:
        for _ in range(MAX_ROBUST_RETRIES + 1):
            rewritten = rewrite(statement, plan, robust)
            try:
                fetched = session.run(
                    connection, rewritten.text, max_rows=max_rows, timeout_s=timeout_s
                )
                break
            except Exception as error:  # noqa: BLE001 - every DuckDB error is translated below
                if not is_duckdb_error(error):
                    raise
                retry = needs_robust_scan(error, rewritten, plan, robust)
                if retry is not None:
                    robust.add(retry)
                    continue
                raise translate_error(
                    error, statement, rewritten, plan, resolver, storage, read_only, timeout_s
                ) from error
        else:  # pragma: no cover - each retry adds one table version; the loop ends first
            raise QueryInvalid("The query kept failing on missing columns; report this as a bug.")
    finally:
        connection.close()
    return QueryResult(
        table=fetched.table,
        columns=tuple(
            Column(n, t) for n, t in zip(fetched.table.column_names, fetched.types, strict=False)
        ),
        versions=plan.versions(),
        truncated=fetched.truncated,
        query=query,
    )


# -- planning -------------------------------------------------------------------------------


@dataclass
class Plan:
    lake: dict[int, ResolvedTable]
    """Index in ``statement.tables`` -> the lake table version it reads."""
    reads: dict[tuple[str, int], tuple[ResolvedTable, list[str]]]
    """(table, version) -> the version and DuckDB's paths of its files, in query order."""
    unaliased: set[tuple[str, str]]
    """(namespace, table) of lake tables read without alias: ``ns.t.col`` qualifiers apply."""

    def versions(self) -> list[TableVersion]:
        return [resolved.pinned for resolved, _ in self.reads.values()]


def plan_reads(statement: Statement, resolver: Resolver) -> Plan:
    plan = Plan(lake={}, reads={}, unaliased=set())
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
        resolved = resolver.resolve(
            name,
            ref.time_travel,
            where=where,
            evaluate=lambda expression, ref=ref, where=where: session.constant_time(
                expression,
                context=f"{ref.time_travel.clause if ref.time_travel else expression}{where}",
            ),
        )
        plan.lake[index] = resolved
        key = (str(name), resolved.pinned.version)
        if key not in plan.reads:
            paths = [resolver.storage.duckdb_path(f.uri) for f in resolved.snapshot.files]
            plan.reads[key] = (resolved, paths)
        if not ref.has_alias:
            plan.unaliased.add((name.namespace, name.name))
    return plan


# -- rewriting ------------------------------------------------------------------------------


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


def rewrite(statement: Statement, plan: Plan, robust: set[tuple[str, int]]) -> Rewritten:
    edits: list[tuple[int, int, str, int]] = []
    for index, ref in enumerate(statement.tables):
        resolved = plan.lake.get(index)
        if resolved is not None:
            edits.append((ref.start, ref.end, _replacement(ref, resolved, plan, robust), index))
    for qualifier in statement.qualifiers:
        if qualifier.parts in plan.unaliased:
            edits.append((qualifier.start, qualifier.end, "", -1))
    edits.sort()
    pieces, mapped, cursor, length = [], [], 0, 0
    for start, end, replacement, index in edits:
        if start < cursor:  # overlapping spans cannot come from one parse tree
            raise QueryInvalid("The query could not be rewritten (overlapping table references).")
        pieces.append(statement.text[cursor:start])
        length += start - cursor
        mapped.append((start, end, length, length + len(replacement), index))
        pieces.append(replacement)
        length += len(replacement)
        cursor = end
    pieces.append(statement.text[cursor:])
    return Rewritten("".join(pieces), statement.text, tuple(mapped))


def _replacement(
    ref: TableReference, resolved: ResolvedTable, plan: Plan, robust: set[tuple[str, int]]
) -> str:
    key = (str(resolved.pinned.table), resolved.pinned.version)
    snapshot, paths = resolved.snapshot, plan.reads[key][1]
    if ref.event_time_bounds and "_event_time" in snapshot.schema.names:
        snapshot, paths = within_days(snapshot, paths, *_event_days(ref.event_time_bounds))
    if ref.bounds:
        import pyarrow as pa

        for column in snapshot.schema:
            bounds = ref.bounds_on(column.name)
            if bounds and pa.types.is_timestamp(column.type) and column.type.tz:
                low, high = _literal_times(bounds)
                snapshot, paths = within_times(snapshot, paths, column.name, low, high)
    scan = scan_sql(snapshot, paths, robust=key in robust)
    binding = quote_ident(resolved.pinned.table.name)
    if ref.role == "statement":  # DESCRIBE / SUMMARIZE take a query
        return f"SELECT * FROM {scan} AS {binding}"
    if ref.role == "copy":  # COPY (query) TO ...
        return f"(SELECT * FROM {scan} AS {binding})"
    if ref.alias is not None:
        return f"{scan} AS {ref.alias}"
    return scan if ref.has_alias else f"{scan} AS {binding}"


def _literal_times(bounds: tuple[Bound, ...]) -> tuple[Limit | None, Limit | None]:
    """The tightest lower and upper limit among the literal ``bounds`` (computed ones such
    as ``now()`` are left to DuckDB). (None, None) when a literal is not a time: then
    nothing is skipped and DuckDB reports the error."""
    try:
        return _time_limits(bounds)
    except (LakeError, ValueError):
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


def _event_days(bounds: tuple[Bound, ...]) -> tuple[date | None, date | None]:
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
            day = session.constant_time(expression, context=expression).date()
            if operator in _LOWER:
                lows.append(day - timedelta(days=1))
            if operator in _UPPER:
                highs.append(day + timedelta(days=1))
    except (LakeError, ValueError):
        return None, None
    return (max(lows) if lows else None), (min(highs) if highs else None)


# -- errors ---------------------------------------------------------------------------------


def is_duckdb_error(error: BaseException) -> bool:
    import duckdb

    return isinstance(error, duckdb.Error)


def needs_robust_scan(
    error: BaseException, rewritten: Rewritten, plan: Plan, robust: set[tuple[str, int]]
) -> tuple[str, int] | None:
    """The table version to re-read with NULL-filling when DuckDB says a column of our own
    scan is missing (a schema column no file of that version contains)."""
    found = session.DuckError.read(error)
    if found.kind.lower() != "binder" or found.position is None:
        return None
    _offset, table = rewritten.locate(found.position)
    if table is None or table not in plan.lake:
        return None
    pinned = plan.lake[table].pinned
    key = (str(pinned.table), pinned.version)
    return None if key in robust else key


def translate_error(
    error: BaseException,
    statement: Statement,
    rewritten: Rewritten,
    plan: Plan,
    resolver: Resolver,
    storage: Storage,
    read_only: bool,
    timeout_s: float | None,
) -> QueryError:
    found = session.DuckError.read(error)
    kind = found.kind.lower()
    if kind in ("io", "http") and plan.reads:
        vacuumed = _vacuumed(plan, storage)
        if vacuumed is not None:
            return vacuumed
    offset = rewritten.locate(found.position)[0] if found.position is not None else None
    where = line_and_column(statement.text, offset) if offset is not None else None
    ref = next(
        (
            r
            for i, r in enumerate(statement.tables)
            if i not in plan.lake and offset is not None and r.start <= offset < r.end
        ),
        None,
    )
    if kind == "catalog" and ref is not None and where is not None:
        # DuckDB could not find a name we left to it (not a lake table, not a CTE)
        return UnknownTable(
            f"Table {ref.name} (line {where[0]}, column {where[1]}) is neither a lake table, a CTE "
            f"nor a DuckDB table. {resolver.known_phrase()}",
            line=where[0],
            column=where[1],
        )
    return session.translate(
        error,
        locate=lambda _position: where,
        read_only=read_only,
        timeout_s=timeout_s,
        secrets=storage.config.secrets,
    )


def _vacuumed(plan: Plan, storage: Storage) -> VacuumedVersion | None:
    """Which version lost files to vacuum, when a read failed (checked only then: the check
    costs one request per file on S3)."""
    for resolved, _ in plan.reads.values():
        try:
            DeltaStore(resolved.info.location, storage).check_files(resolved.snapshot)
        except VersionVacuumed:
            latest = resolved.info.current_version
            pinned = resolved.pinned
            newer = (
                f" (the latest is {latest})"
                if latest is not None and latest != pinned.version
                else ""
            )
            return VacuumedVersion(
                f"Version {pinned.version} of {pinned.table} can no longer be read: vacuum "
                f"removed its data files. Query a newer version{newer}, and pin the versions you "
                f"need before vacuuming."
            )
    return None
