"""What reading a query finds: its statement and the tables it names, with their
time-travel clauses, positions and bounds. :func:`queries.parse.parse_statement` reads it.

Two readers give the same :class:`Statement`:

* :mod:`queries.plain` reads the plainest queries (one ``SELECT`` over one named table, no
  time travel, no CTE, comment or quoted name: what dashboards and first queries are) with
  a small grammar of its own, and declines anything else;
* :mod:`queries.sqlglot_parse` reads every query with sqlglot (dialect ``duckdb``).

sqlglot costs a new process 0.1-0.15 s of imports, most of a first query's start beside
DuckDB's own; so ``parse_statement`` asks the plain reader first and sqlglot only when it
declines. A plain statement has no sqlglot tree: what needs one (training sets, the Ray
engine, read-only checks) takes :func:`queries.parse.with_syntax_tree`, sqlglot's reading
of the same text. ``tests/queries/test_plain_parse.py`` holds the two readers to the same
statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from datetime import datetime

    from sqlglot import exp
    from sqlglot.tokens import Token

Role = Literal["relation", "statement", "copy", "target"]

EVENT_TIME = "_event_time"

MAX_VERSION = 2**63 - 1
"""The largest version number a table can have (a signed 64-bit integer, as Delta's)."""


@dataclass(frozen=True)
class TimeTravel:
    """What a time-travel clause asks for: a version, a time, or a time still to compute."""

    clause: str
    """The clause in canonical spelling, for messages: ``VERSION AS OF 3``."""
    version: int | None = None
    moment: datetime | None = None
    expression: str | None = None
    """A constant DuckDB expression (``AT (TIMESTAMP => now() - INTERVAL 1 DAY)``) that
    evaluates to the time; None when the time was a literal."""


class Bound(NamedTuple):
    """``column <operator> sql``; ``literal`` is the text of a time literal that means the
    same read as an ISO time with UTC as the default zone: ``'...'``, ``TIMESTAMPTZ '...'``,
    or ``DATE '...'`` holding a date alone. None for anything else, computed bounds such as
    ``now()`` included: a ``TIMESTAMP`` cast drops an offset, a ``DATE`` cast a time of day,
    and the lake leaves such bounds to DuckDB."""

    operator: str
    sql: str
    literal: str | None


@dataclass(frozen=True)
class TableReference:
    """One name in a FROM (or DESCRIBE, COPY ...) of the query."""

    parts: tuple[str, ...]
    """The name as written, lower case: ``("web", "logs")`` or ``("logs",)``."""
    start: int
    end: int
    """The span of the query text the reference covers (name and time-travel clause;
    the alias too when it stands inside), end exclusive."""
    alias: str | None
    """The alias to repeat in the replacement when it lay inside the span, as SQL."""
    has_alias: bool
    role: Role
    time_travel: TimeTravel | None
    shadowed: bool
    """A CTE of this name is visible here, so the name is the CTE, not a lake table."""
    line: int
    column: int
    bounds: tuple[tuple[str, Bound], ...] = ()
    """Conditions the query puts on this table's top-level columns in the WHERE of the SELECT
    that reads it, as (column in lower case, bound):
    ``("ts", Bound(">=", "TIMESTAMPTZ '2026-10-07'", "2026-10-07"))``.
    Each is necessary for a row to be returned (top-level ``AND`` terms only), so the scan
    may skip files that cannot hold such rows (see :mod:`queries.sql`)."""

    @property
    def name(self) -> str:
        return ".".join(self.parts)

    def bounds_on(self, column: str) -> tuple[Bound, ...]:
        column = column.lower()
        return tuple(bound for name, bound in self.bounds if name == column)

    @property
    def event_time_bounds(self) -> tuple[Bound, ...]:
        return self.bounds_on(EVENT_TIME)


@dataclass(frozen=True)
class ColumnQualifier:
    """``web.logs.col``: a column qualified by a two-part table name. DuckDB binds an
    unaliased table by its last name part, so ``web.`` is removed (``start``-``end``)
    when ``web.logs`` turns out to be a lake table read without alias."""

    parts: tuple[str, str]
    start: int
    end: int


@dataclass(frozen=True)
class Statement:
    """One statement, parsed once: what every later step (pinning, rewriting, a training
    set's ordering rule) reads instead of parsing the text again."""

    text: str
    kind: str
    """The statement type in lower case: ``select``, ``describe``, ``explain``, ``copy``..."""
    reads_only: bool
    """True for statements that only read (allowed in read-only mode)."""
    tables: tuple[TableReference, ...]
    qualifiers: tuple[ColumnQualifier, ...]
    offset: int = 0
    """Where the statement after ``EXPLAIN [ANALYZE]`` starts in ``text`` (0 without one)."""
    names_only: bool = False
    """Every table the statement reads is named (``ns.t``, ``t``, a CTE): none is a table
    function (``read_csv(...)``) or a quoted path (``'f.parquet'`` is a reference, but not a
    lake table's name). What :mod:`queries.sql` needs to know whether every file read is a
    lake table's."""
    parsed: tuple[Any, tuple[Any, ...]] | None = field(default=None, compare=False, repr=False)
    """sqlglot's tree and tokens when sqlglot read the statement; None from the plain reader
    (:func:`queries.parse.with_syntax_tree` gives the statement with them)."""

    @property
    def tree(self) -> exp.Expression:
        """sqlglot's tree of the statement (the one after ``EXPLAIN [ANALYZE]``). Shared by
        every caller of the cached parse: read it, never change it. Only for a statement
        sqlglot read (see :func:`queries.parse.with_syntax_tree`)."""
        return self._sqlglot()[0]

    @property
    def tokens(self) -> tuple[Token, ...]:
        """The tokens of that statement; their positions are offsets into
        ``text[offset:]``."""
        return self._sqlglot()[1]

    def _sqlglot(self) -> tuple[Any, tuple[Any, ...]]:
        if self.parsed is None:
            raise RuntimeError(
                "This statement was read without sqlglot; take "
                "queries.parse.with_syntax_tree(statement) for its tree and tokens."
            )
        return self.parsed


def line_and_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column
