"""Reading a query, once: :func:`parse_statement` (see :mod:`queries.statement` for what it
finds and why two readers). sqlglot is imported only for the queries the plain reader
declines, and for :func:`with_syntax_tree`."""

from __future__ import annotations

import functools

from queries.exceptions import QuerySyntaxError
from queries.plain import read_plain
from queries.statement import (
    EVENT_TIME,
    MAX_VERSION,
    Bound,
    ColumnQualifier,
    Statement,
    TableReference,
    TimeTravel,
    line_and_column,
)

__all__ = [
    "EVENT_TIME",
    "MAX_VERSION",
    "Bound",
    "ColumnQualifier",
    "Statement",
    "TableReference",
    "TimeTravel",
    "line_and_column",
    "parse_statement",
    "with_syntax_tree",
]


@functools.lru_cache(maxsize=256)
def parse_statement(text: str) -> Statement:
    """Parse one DuckDB statement (``EXPLAIN [ANALYZE]`` prefixes are looked through).

    A pure function of the text, so results are cached: dashboards and pipelines re-run the
    same statements, and parsing is about 1.5 ms of a 10 ms query.

    Raises:
        QuerySyntaxError: the text is empty, is not valid SQL, holds several statements,
            or a time-travel clause is malformed, or nests too deeply for the parser.
    """
    plain = read_plain(text)
    if plain is not None:
        return plain
    return _with_sqlglot(text)


def with_syntax_tree(statement: Statement) -> Statement:
    """``statement`` with sqlglot's tree and tokens (:attr:`Statement.tree`): itself when
    sqlglot read it, else sqlglot's reading of its text, the same statement."""
    if statement.parsed is not None:
        return statement
    return _with_sqlglot(statement.text)


@functools.lru_cache(maxsize=64)
def _with_sqlglot(text: str) -> Statement:
    from queries.sqlglot_parse import parse_with_sqlglot

    try:
        return parse_with_sqlglot(text)
    except RecursionError:
        raise QuerySyntaxError(
            "The query nests too deeply to be read (parentheses, subqueries or expressions "
            "inside one another); flatten it, for instance with WITH ... AS (...)."
        ) from None
