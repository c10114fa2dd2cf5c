"""The plain reader (``queries.plain``) reads a query to the statement sqlglot's reading gives,
or declines: never another table, span, alias or bound, and never a query sqlglot refuses."""

from __future__ import annotations

import random
import re

import pytest
from sqlglot.dialects.duckdb import DuckDB

from queries.exceptions import QuerySyntaxError
from queries.parse import parse_statement, with_syntax_tree
from queries.plain import _GRAMMAR, FUNCTIONS, RESERVED, read_plain
from queries.sqlglot_parse import parse_with_sqlglot

TEN_DAYS = (
    "SELECT request.method AS method, status, count(*) AS n, avg(latency_ms) AS latency "
    "FROM web.logs WHERE ts >= '2026-10-05T00:00:00Z' AND ts < '2026-10-15T00:00:00Z' "
    "GROUP BY ALL ORDER BY ALL"
)

PLAIN = [
    TEN_DAYS,
    "SELECT * FROM web.logs",
    "select * from Web.Logs;",
    "SELECT * FROM logs  ;  \n",
    "SELECT count(*) FROM lake.web.logs",
    "SELECT DISTINCT status FROM web.logs l WHERE l.status = 500 ORDER BY 1 DESC NULLS LAST",
    "SELECT l.* FROM web.logs AS l WHERE l.ts BETWEEN '2026-10-01' AND '2026-10-02'",
    "SELECT x FROM t WHERE '2026-10-07' < _event_time AND 5 > bytes AND n = 1.50 AND m = 007",
    "SELECT x FROM t WHERE (ts >= '2026-10-07' AND (status = 200)) AND NOT x = 1",
    "SELECT x FROM t WHERE ts > '2026-10-07' OR status = 500",
    "SELECT x FROM t WHERE other.ts > '2026-10-07' AND t.ts < '2026-10-08'",
    "SELECT x FROM web.logs AS l WHERE logs.ts > '2026-10-07' AND l.ts < '2026-10-08'",
    "SELECT x FROM t WHERE ts > x AND x < ts AND (ts) > '1' AND ts + 1 > '2'",
    "SELECT x FROM t WHERE ts NOT BETWEEN '1' AND '2' AND ts BETWEEN y AND '3'",
    "SELECT x FROM t WHERE ts <> '1' AND ts != '2' AND ts IS NOT NULL AND ts IN ('a', 'b')",
    "SELECT x FROM t WHERE ts LIKE 'a%' AND ts NOT ILIKE 'b%' AND ts NOT IN (1, 2)",
    # strings holding SQL: literals, not names
    "SELECT * FROM web.logs WHERE msg = 'FROM other.t AT (VERSION => 3)'",
    "SELECT 'SELECT * FROM secret.t VERSION AS OF 1 -- x' AS q FROM web.logs",
    "SELECT * FROM web.logs WHERE path = '/* not a comment */' AND q = '-- nor this'",
    "SELECT coalesce(a, b, 0) AS c, round(x, 2), lower(s), upper(s), length(s), abs(-x) "
    "FROM t GROUP BY 1, 2 HAVING sum(n) > 10 AND count(DISTINCT u) > 1 LIMIT 10 OFFSET 5",
    "SELECT date_trunc('day', ts) AS day, min(ts), max(ts), median(x) FROM t GROUP BY ALL",
    "SELECT 'é ü' AS accents, -5 AS negative, 1 - -2, 10 % 3, 4 / 2 FROM t",
    "SELECT\n  status,\n  count(*)\nFROM web.logs\nWHERE _event_time >= '2026-10-07'\n"
    "GROUP BY status",
]

DECLINED = [
    # quoted names: sqlglot keeps their case and their meaning
    'SELECT * FROM "web"."logs"',
    'SELECT * FROM web."select"',
    'SELECT "x" FROM t',
    "SELECT * FROM `web`.logs",
    # CTEs: a name may be the CTE, not a lake table
    "WITH logs AS (SELECT 1 AS x) SELECT * FROM logs",
    "WITH t AS (SELECT * FROM web.logs) SELECT * FROM t",
    # time travel, every form, and aliases that look like its words
    "SELECT * FROM web.logs VERSION AS OF 3",
    "SELECT * FROM web.logs AT (VERSION => 3)",
    "SELECT * FROM web.logs TIMESTAMP AS OF '2026-11-20'",
    "SELECT * FROM web.logs FOR SYSTEM_TIME AS OF '2026-11-20'",
    "SELECT * FROM web.logs AS l AT (TIMESTAMP => now())",
    "SELECT * FROM web.logs at",
    "SELECT * FROM web.logs version",
    # comments
    "SELECT * FROM web.logs -- FROM other.t",
    "SELECT * /* FROM other.t */ FROM web.logs",
    "SELECT * FROM web.logs WHERE x = 1 --",
    # several statements, or none
    "SELECT * FROM a; SELECT * FROM b",
    "SELECT * FROM a;;",
    "",
    " ;",
    # joins, subqueries, table functions, samples, column aliases
    "SELECT * FROM a, b",
    "SELECT * FROM a JOIN b USING (id)",
    "SELECT * FROM a WHERE x IN (SELECT x FROM b)",
    "SELECT (SELECT max(x) FROM b) FROM a",
    "SELECT * FROM read_parquet('f.parquet')",
    "SELECT * FROM 'f.parquet'",
    "SELECT * FROM web.logs USING SAMPLE 10%",
    "SELECT * FROM web.logs AS x(ts, created) WHERE ts > '2026-06-01'",
    # computed constants sqlglot would spell out, and casts
    "SELECT * FROM t WHERE ts > now()",
    "SELECT * FROM t WHERE ts > current_date",
    "SELECT * FROM t WHERE ts > '2026-10-07'::DATE",
    "SELECT * FROM t WHERE ts > TIMESTAMPTZ '2026-10-07'",
    "SELECT * FROM t WHERE ts = -5",
    "SELECT * FROM t WHERE ts BETWEEN '1' AND upper('2')",
    # three-part columns, strings sqlglot reads otherwise, other syntax
    "SELECT web.logs.x FROM web.logs",
    "SELECT * FROM t WHERE s = 'it''s'",
    "SELECT * FROM t WHERE s = E'a\\nb'",
    "SELECT * FROM t WHERE s = 'a\\'",
    "SELECT * FROM t WHERE x == 1",
    "SELECT a || b FROM t",
    "SELECT a::INT FROM t",
    "SELECT a[1] FROM t",
    "SELECT count(*) OVER () FROM t",
    "SELECT * EXCLUDE (x) FROM t",
    "SELECT avg(a, b) FROM t",
    "SELECT lower(DISTINCT s) FROM t",
    "SELECT 1e3 FROM t",
    # sqlglot reads a name as date_trunc's part ('TS'), so a constant: DuckDB reads a column
    "SELECT * FROM t WHERE date_trunc(ts, '2026-10-07') > ts",
    "SELECT * FROM t WHERE ts = date_trunc(_event_time, 500)",
    "SELECT date_trunc(day, ts) FROM t",
    "SELECT * FROM t LIMIT 10 OFFSET 5 LIMIT 1",
    "FROM t SELECT x",
    "EXPLAIN SELECT * FROM t",
    "SELECT * FROM t WHERE x = 1 AND",
    "SELECT x y z FROM t",
    "SELECT * FROM t\u00a0WHERE x = 1",
]


def _full(query: str):
    try:
        return parse_with_sqlglot(query)
    except QuerySyntaxError as error:
        return error


@pytest.mark.parametrize("query", PLAIN)
def test_a_plain_query_is_read_without_sqlglot_to_sqlglots_statement(query):
    plain = read_plain(query)
    assert plain is not None
    assert plain == _full(query)


@pytest.mark.parametrize("query", DECLINED)
def test_what_the_plain_reader_cannot_prove_it_leaves_to_sqlglot(query):
    assert read_plain(query) is None
    full = _full(query)
    if isinstance(full, QuerySyntaxError):
        with pytest.raises(QuerySyntaxError, match=re.escape(str(full))):
            parse_statement(query)
    else:
        assert parse_statement(query) == full


def test_a_plain_statement_with_its_syntax_tree_is_sqlglots_reading():
    query = PLAIN[5]
    plain, full = parse_statement(query), parse_with_sqlglot(query)
    assert plain.parsed is None
    with pytest.raises(RuntimeError, match="with_syntax_tree"):
        plain.tree  # noqa: B018 - the property raises
    treed = with_syntax_tree(plain)
    assert treed == plain and treed.tree == full.tree
    assert [(t.token_type, t.text, t.start) for t in treed.tokens] == [
        (t.token_type, t.text, t.start) for t in full.tokens
    ]
    assert with_syntax_tree(treed) is treed


def test_every_word_sqlglot_reads_as_a_keyword_is_reserved():
    dialect = DuckDB()
    words = {
        word.lower()
        for keyword in dialect.tokenizer_class.KEYWORDS
        for word in keyword.split()
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", word)
    }
    words |= {t.name.lower() for t in dialect.parser_class.NO_PAREN_FUNCTIONS}
    # Words read as a function without parentheses by their text, not by a token type:
    # ``connect_by_root x`` (a column name to the plain reader, an error or a call to sqlglot).
    words |= {
        w.lower()
        for w in dialect.parser_class.NO_PAREN_FUNCTION_PARSERS
        if re.fullmatch(r"[A-Za-z_]+", w)
    }
    assert words <= RESERVED
    assert _GRAMMAR <= RESERVED
    assert not set(FUNCTIONS) & RESERVED


# Words sqlglot's duckdb parser matches by their text inside an expression (``BETWEEN
# SYMMETRIC``, ``LAMBDA x: ...``) or reads as a function without parentheses
# (``CONNECT_BY_ROOT x``): as names, sqlglot refuses the query, so the plain reader must too.
_TEXT_WORDS = ["connect_by_root", "lambda", "symmetric", "asymmetric"]
_TEXT_WORD_PLACES = [
    "SELECT {w} FROM t",
    "SELECT x + {w} FROM t",
    "SELECT count({w}) FROM t WHERE ts > '2026-10-07'",
    "SELECT * FROM t WHERE x BETWEEN {w} AND 1",
    "SELECT * FROM t WHERE x IN (1, {w}) AND ts > '2026-10-07'",
    "SELECT * FROM t WHERE ts > '2026-10-07' HAVING {w}",
    "SELECT * FROM t {w} WHERE {w}.ts > '2026-10-07'",
]


@pytest.mark.parametrize("word", _TEXT_WORDS)
def test_words_sqlglot_reads_by_their_text_are_left_to_sqlglot(word):
    for place in _TEXT_WORD_PLACES:
        for spelled in (word, word.upper()):
            query = place.format(w=spelled)
            plain = read_plain(query)
            assert plain is None or plain == _full(query), query
    assert read_plain(f"SELECT {word} FROM t") is None


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_a_plain_query_calls_is_read_as_sqlglot_reads_it(function):
    arguments = ["x", "'day'", "2", "t.y", "DISTINCT x", "*"]
    for count in range(5):
        for first in range(len(arguments)):
            given = (arguments[first:] + arguments[:first])[:count]
            query = f"SELECT {function}({', '.join(given)}) AS v FROM t WHERE v = 1"
            plain = read_plain(query)
            if plain is not None:
                assert plain == _full(query), query


# Pieces a random query is made of: the grammar's words and the traps around it.
_PIECES = [
    *("SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "HAVING", "LIMIT", "OFFSET"),
    *("ALL", "DISTINCT", "AS", "AND", "OR", "NOT", "IS", "NULL", "TRUE", "BETWEEN", "IN"),
    *("LIKE", "ASC", "DESC", "NULLS LAST", "AT", "VERSION", "JOIN", "WITH", "OVER", "::"),
    *("web.logs", "logs", "t", "l", "ts", "l.ts", "x", "a.b.c", "status", "_event_time"),
    *("count(*)", "avg(x)", "date_trunc('day', ts)", "now()", "max(", "coalesce(a,"),
    *("'2026-10-07'", "'it''s'", "'FROM t'", "1", "-1", "2.5", "007"),
    *("(", ")", ",", ".", "*", ";", "=", "<", ">=", "<>", "+", "-", "/", "%", "--", "/*"),
    *('"x"', "\n"),
]


def _random_query(rng: random.Random) -> str:
    head = rng.choice(["SELECT * FROM web.logs", "SELECT x, count(*) FROM t", "SELECT"])
    return " ".join([head, *rng.choices(_PIECES, k=rng.randint(0, 14))])


def test_random_queries_are_read_as_sqlglot_reads_them_or_declined():
    rng = random.Random(18)
    read = 0
    for _ in range(4000):
        query = _random_query(rng)
        plain = read_plain(query)
        if plain is not None:
            read += 1
            assert plain == _full(query), query
    assert read > 100  # the plain reader is exercised, not only its declines


_COLUMNS = ["ts", "l.ts", "logs.ts", "other.ts", "status", "x", "(ts)", "ts + 1", "request.m"]
_VALUES = [
    *("'2026-10-07'", "'2026-10-07T10:00:00Z'", "'x'", "500", "1.5", "007", "-1", "NULL"),
    *("TRUE", "now()", "count(*)", "abs(2)", "x", "l.x", "(1)", "1 + 1", "'a' 'b'"),
]


def _random_condition(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth < 3 and roll < 0.25:
        joiner = rng.choice([" AND ", " AND ", " OR "])
        return joiner.join(_random_condition(rng, depth + 1) for _ in range(rng.randint(2, 3)))
    if depth < 3 and roll < 0.35:
        return f"{rng.choice(['', 'NOT '])}({_random_condition(rng, depth + 1)})"
    column, value = rng.choice(_COLUMNS), rng.choice(_VALUES)
    if roll < 0.45:
        other = rng.choice(_VALUES)
        return f"{column} {rng.choice(['', 'NOT '])}BETWEEN {value} AND {other}"
    operator = rng.choice(["=", "<", "<=", ">", ">=", "<>", "!="])
    return f"{value} {operator} {column}" if rng.random() < 0.3 else f"{column} {operator} {value}"


def test_random_where_clauses_give_sqlglots_bounds_or_are_declined():
    rng = random.Random(18)
    bounded = 0
    for _ in range(3000):
        table = rng.choice(["web.logs", "web.logs l", "web.logs AS l", "logs"])
        query = f"SELECT * FROM {table} WHERE {_random_condition(rng)}"
        plain = read_plain(query)
        if plain is not None:
            assert plain == _full(query), query
            bounded += bool(plain.tables[0].bounds)
    assert bounded > 100
