"""The extract query reader (ingest/db/statement.py): one query, read as each server reads it."""

from __future__ import annotations

import pytest

from ingest.db.statement import Syntax, one_query
from ingest.exceptions import SourceQueryRefused

PG, MY, LITE = Syntax("postgresql"), Syntax("mysql"), Syntax("sqlite")


@pytest.mark.parametrize(
    ("syntax", "query", "body"),
    [
        (PG, "SELECT 1;", "SELECT 1"),
        (PG, "SELECT 1 ; -- done\n;", "SELECT 1"),
        (PG, "SELECT ';' AS a, $$;)$$ AS b, $x$ ' $x$ AS c", None),
        (PG, "SELECT E'\\';' AS a", None),
        (PG, "SELECT 'a\\' AS a", None),  # standard strings: the backslash is a character
        (PG, 'SELECT 1 AS "a;)""b"', None),
        (PG, "SELECT a$$b FROM t", None),  # a name holding '$', not a dollar quote
        (PG, "SELECT $1", None),
        (PG, "/* a /* nested ; */ comment */ SELECT 1", None),
        (PG, "(SELECT 1) UNION (SELECT 2)", None),
        (MY, "SELECT '\\';' AS a, \"b;\" AS b, `c;` AS c # ;\n", None),
        (MY, "SELECT 1--1", None),
        (MY, "SELECT 1 /*+ hint ; */", None),
        (Syntax.for_mysql("ANSI_QUOTES"), 'SELECT 1 AS "a\\"', None),
        (Syntax.for_mysql("NO_BACKSLASH_ESCAPES"), "SELECT 'a\\' AS a", None),
        (LITE, 'SELECT [a;b], `c;`, "d;" FROM t', None),
        (LITE, "SELECT 'a\\' AS a", None),
    ],
)
def test_one_query_is_accepted_and_its_trailing_semicolon_dropped(syntax, query, body):
    assert one_query(query, syntax) == (body or query.strip())


@pytest.mark.parametrize(
    ("syntax", "query", "reason"),
    [
        (PG, "SELECT 1; DELETE FROM t", "more than one statement"),
        (PG, "SELECT 1 AS x) q; DELETE FROM t; SELECT * FROM (SELECT 1", "did not open"),
        (PG, "SELECT (1", "open"),
        (PG, "SELECT (1; DELETE FROM t)", "inside parentheses"),
        (PG, "SELECT 'a", "unterminated string"),
        (PG, "SELECT $q$ a", "unterminated"),
        (PG, "SELECT E'\\'; DELETE FROM t; '", None),  # one string: fine, no second statement
        (PG, "SELECT 'a\\'; DELETE FROM t; SELECT '", "more than one statement"),
        (PG, "SELECT x$$; DELETE FROM t; $$", "more than one statement"),
        (PG, "SELECT 1$$;$$", "ambiguous"),
        (PG, "SELECT 1 -- c\r; DELETE FROM t", "carriage return"),
        (PG, "/* /* */ ; DELETE FROM t", "unterminated"),
        (PG, "SELECT 1 \x0b", "control character"),
        (PG, "-- only", "no SQL"),
        (MY, "SELECT 'a\\'; DELETE FROM t; '", None),
        (MY, "SELECT 1 /*! ; DELETE FROM t */", "executable comment"),
        (MY, "SELECT 1 /*M!100000 ; DELETE FROM t */", "executable comment"),
        (MY, "SELECT 1 --x\n; DELETE FROM t", "more than one statement"),
        (Syntax.for_mysql("NO_BACKSLASH_ESCAPES"), "SELECT 'a\\'; DELETE FROM t; '", "more"),
        (LITE, "SELECT 'a\\'; DELETE FROM t; '", "more than one statement"),
        (LITE, "SELECT [a", "unterminated"),
    ],
)
def test_more_than_one_statement_or_an_escape_from_the_subquery_is_refused(syntax, query, reason):
    if reason is None:
        assert one_query(query, syntax) == query
        return
    with pytest.raises(SourceQueryRefused, match=reason):
        one_query(query, syntax)


def test_a_dollar_quote_after_a_number_cannot_hide_a_second_statement():
    with pytest.raises(SourceQueryRefused, match="ambiguous"):
        one_query("SELECT 1$$ ' $$; DELETE FROM t; SELECT ' AS x", PG)
