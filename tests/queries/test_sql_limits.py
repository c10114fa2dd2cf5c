"""Limits of read-only queries (`lake sql --read-only`, the service, the web console): a time
limit that planning and constant folding cannot outrun, DuckDB memory and threads, a byte cap
on answers, nothing of the lake's configuration readable from SQL, and every bad query one
sentence, never a traceback. On both backend pairs (the shared lake of test_sql.py).

No timing is measured here: a query either is stopped (the error says so) or would have run
for tens of seconds to minutes; the margins are wide enough that only the latter fails them.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lake.core.errors import LakeError
from queries import session
from queries.exceptions import (
    QueryError,
    QueryFailed,
    QueryRefused,
    QuerySyntaxError,
    QueryTimeout,
)
from tests.queries import test_sql

# The shared lake of test_sql.py (one per backend pair), its fixtures used here by name.
shared = test_sql.shared
web_logs = test_sql.web_logs
logs_cli = test_sql.logs_cli

# DuckDB folds this constant before running anything: about 30 s of one core here, 10 s on a
# fast machine. Before queries ran in a worker, no time limit stopped it.
SLOW_CONSTANT = "to_microseconds(list_reduce(range(3000000), (a, b) -> a + b) % 2)"
# Stopped means answered within the limit plus this (process start, a loaded machine);
# unstopped, the same queries run for tens of seconds to minutes.
MARGIN_S = 8.0


def _stopped_in_time(started: float, timeout_s: float) -> bool:
    return time.monotonic() - started < timeout_s + MARGIN_S


# -- time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT count(*) FROM web.logs AT (TIMESTAMP => now() + {SLOW_CONSTANT})",
        f"SELECT count(*) FROM web.logs WHERE _event_time < now() + {SLOW_CONSTANT}",
        f"SELECT {SLOW_CONSTANT} AS n FROM web.logs",
    ],
    ids=["time-travel", "event-time-bound", "select-list"],
)
def test_an_expensive_constant_is_stopped_at_the_time_limit(web_logs, sql):
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match=r"time limit of 1 s and was stopped"):
        web_logs.sql(sql, read_only=True, timeout_s=1)
    assert _stopped_in_time(started, 1)


def test_a_query_that_takes_long_to_plan_is_stopped_at_the_time_limit(web_logs):
    """DuckDB's join planner cannot be interrupted: a chain of 60 joins on a key plans for
    15 s here, and each 20 more multiply that."""
    joins = " ".join(f"JOIN web.logs t{i} ON t{i}.id = t{i - 1}.id" for i in range(1, 100))
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        web_logs.sql(f"SELECT count(*) FROM web.logs t0 {joins}", read_only=True, timeout_s=2)
    assert _stopped_in_time(started, 2)


def test_the_time_limit_of_the_configuration_applies_to_lake_sql_read_only(logs_cli, monkeypatch):
    monkeypatch.setenv("LAKE_QUERY_TIMEOUT", "1")
    started = time.monotonic()
    result = logs_cli(
        "sql",
        "--read-only",
        f"SELECT count(*) FROM web.logs AT (TIMESTAMP => now() + {SLOW_CONSTANT})",
    )
    assert result.exit_code == 1
    assert "time limit of 1 s" in result.stderr and "Traceback" not in result.stderr
    assert _stopped_in_time(started, 1)
    # the flag wins over the environment
    answer = logs_cli(
        "sql", "--read-only", "--timeout", "60", "-o", "json", "SELECT count(*) AS n FROM web.logs"
    )
    assert answer.exit_code == 0, answer.stderr
    assert answer.json()["rows"] == [{"n": 6}]


# -- memory and size -------------------------------------------------------------------------------


def test_a_query_past_its_memory_limit_fails_in_its_worker_not_in_the_caller(web_logs):
    # DuckDB does not count long strings against memory_limit: the worker's address space cap
    # stops this one (2 GB in one value); before, it was built in the caller's process.
    with pytest.raises(QueryFailed, match="memory"):
        web_logs.sql(
            "SELECT length(repeat('x', 2000000000)) AS n FROM web.logs",
            read_only=True,
            memory_limit=64 << 20,
        )
    # and what DuckDB does count fails with its own out-of-memory error
    with pytest.raises(QueryFailed, match="more memory than its limit"):
        web_logs.sql(
            "SELECT count(DISTINCT x) FROM (SELECT range::VARCHAR || 'abc' x FROM range(20000000))",
            read_only=True,
            memory_limit=64 << 20,
            threads=1,
        )


def test_an_answer_is_cut_at_its_byte_cap_as_at_its_row_cap(web_logs):
    result = web_logs.sql(
        "SELECT range AS i, repeat('x', 1000) AS s FROM range(100000)",
        read_only=True,
        max_bytes=1 << 20,
    )
    assert result.truncated
    assert 0 < result.num_rows < 1100 and result.table.nbytes <= 1 << 20
    assert result.table.column("i").to_pylist() == list(range(result.num_rows))
    whole = web_logs.sql("SELECT * FROM web.logs", read_only=True, max_bytes=1 << 20)
    assert not whole.truncated and whole.num_rows == 6
    # the same cap on the lake's own database (not read-only)
    local = web_logs.sql("SELECT repeat('x', 1000) AS s FROM range(100000)", max_bytes=1 << 20)
    assert local.truncated and local.table.nbytes <= 1 << 20


def test_memory_and_threads_are_limits_of_read_only_queries(web_logs):
    with pytest.raises(QueryError, match="apply to read-only queries"):
        web_logs.sql("SELECT 1", memory_limit=1 << 30)
    answer = web_logs.sql(
        "SELECT count(*) AS n FROM web.logs", read_only=True, memory_limit=256 << 20, threads=1
    )
    assert answer.rows() == [{"n": 6}]


def test_a_query_text_longer_than_the_limit_is_refused_before_it_is_parsed(web_logs):
    sql = "SELECT 1 AS x" + " " * 100_000
    with pytest.raises(QueryRefused, match="100,013 characters long"):
        web_logs.sql(sql, read_only=True)


# -- nothing of the lake's configuration ------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM duckdb_secrets()",
        "SELECT * FROM duckdb_settings()",
        "SELECT value FROM duckdb_settings() WHERE name = 'allowed_directories'",
        "SELECT current_setting('allowed_directories') AS d",
        "SELECT current_setting('s3_access_key_id') AS d FROM web.logs",
        "SELECT * FROM pg_settings",
        "SELECT * FROM pg_catalog.pg_settings",
        'SELECT * FROM "DuckDB_Secrets"()',
        "SELECT * FROM which_secret('s3://lake/x', 's3')",
        "SELECT * FROM query('SELECT * FROM duckdb_secrets()')",
        "SELECT * FROM duckdb_databases()",
        "SELECT * FROM duckdb_extensions()",
        "SUMMARIZE SELECT * FROM duckdb_secrets()",
        "DESCRIBE SELECT * FROM duckdb_settings()",
        "WITH s AS (SELECT * FROM duckdb_secrets()) SELECT * FROM s",
        "SELECT list_transform([1], x -> current_setting('TimeZone')) AS l",
    ],
)
def test_duckdb_settings_and_secrets_are_refused_in_read_only_mode(web_logs, shared, sql):
    with pytest.raises(QueryRefused, match="not DuckDB's settings, secrets or catalog"):
        web_logs.sql(sql, read_only=True)


def test_a_lake_table_or_cte_named_like_a_duckdb_view_is_read(lk):
    import pyarrow as pa

    lk.write_table("default.duckdb_events", pa.table({"id": [1, 2]}))
    for sql in (
        "SELECT count(*) AS n FROM duckdb_events",
        "SELECT count(*) AS n FROM default.duckdb_events",
        "WITH pg_settings AS (FROM range(2)) SELECT count(*) AS n FROM pg_settings",
    ):
        assert lk.sql(sql, read_only=True).rows() == [{"n": 2}]


def test_duckdb_own_parse_is_checked_too(web_logs):
    """The second check, on DuckDB's own parse, refuses what the lake's parse might miss."""
    connection = session.locked_connection(web_logs.storage, [])
    try:
        for sql in (
            "SELECT * FROM pg_catalog.pg_settings",
            "SELECT * FROM (SELECT 1) WHERE current_setting('x') IS NULL",
            "FROM duckdb_secrets()",
        ):
            with pytest.raises(QueryRefused):
                session.check_private_names(connection, sql)
        session.check_private_names(connection, "SELECT * FROM range(3)")
        # no folder of the service is among the directories DuckDB lets a query read
        row = connection.execute("SELECT current_setting('allowed_directories')").fetchone()
        assert str(row[0]) in ("[]", "")
    finally:
        connection.close()


def test_what_a_read_only_query_can_see_holds_no_credential(web_logs, shared):
    """The S3 key id and endpoint (s3-postgres) are nowhere a query can reach."""
    for sql in ("SELECT * FROM duckdb_secrets()", "SELECT * FROM pg_settings"):
        try:
            shown = json.dumps(web_logs.sql(sql, read_only=True).to_json())
        except QueryRefused:
            continue
        for name, value in shared.env.items():
            if name.startswith("AWS_") and name not in ("AWS_REGION", "AWS_ALLOW_HTTP"):
                assert value not in shown, name


# -- one sentence, never a traceback ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT " + "(" * 5000 + "1" + ")" * 5000, "nests too deeply"),
        ("SELECT * FROM web.logs VERSION AS OF 99999999999999999999", "past the largest"),
        ("SELECT * FROM web.logs VERSION AS OF " + "9" * 5000, "past the largest"),
        ("SELECT * FROM web.logs TIMESTAMP AS OF '0001-01-01T00:00:00+05:00'", "is not a time"),
        ("SELECT * FROM web.logs TIMESTAMP AS OF '9999-12-31T23:00:00-05:00'", "is not a time"),
    ],
)
def test_extreme_literals_and_nesting_are_one_sentence(web_logs, sql, error):
    for read_only in (False, True):
        with pytest.raises(QuerySyntaxError, match=error) as raised:
            web_logs.sql(sql, read_only=read_only)
        assert "\n" not in str(raised.value) and str(raised.value).endswith(".")


def test_event_time_bounds_at_the_ends_of_time_answer_or_say_why(lk):
    from datetime import UTC, datetime

    import pyarrow as pa

    lk.write_table(
        "web.events",
        pa.table(
            {
                "id": [1, 2],
                "_event_time": pa.array(
                    [datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)],
                    pa.timestamp("us", tz="UTC"),
                ),
            }
        ),
    )
    for sql, count in (
        ("SELECT count(*) AS n FROM web.events WHERE _event_time < '0001-01-01'", 0),
        ("SELECT count(*) AS n FROM web.events WHERE _event_time > '9999-12-31T23:59:59'", 0),
        ("SELECT count(*) AS n FROM web.events WHERE _event_time > '0001-01-01T00:00+05:00'", 2),
    ):
        for read_only in (False, True):
            try:
                assert lk.sql(sql, read_only=read_only).rows() == [{"n": count}]
            except QueryError as error:
                assert "\n" not in str(error)


# -- property-based: whatever the query, an answer or one sentence -----------------------------

_NAMES = st.sampled_from(
    ["web.logs", "ml.labels", "logs", "web.nope", "range(3)", "duckdb_settings()", '"web"."logs"']
)
_LITERALS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=12).map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.datetimes(timezones=st.timezones()).map(lambda d: f"'{d.isoformat()}'"),
    st.sampled_from(["NULL", "now()", "DATE '0001-01-01'", "INTERVAL 1 DAY", "[1, 2]", "{'a': 1}"]),
)


@st.composite
def _queries(draw) -> str:
    name = draw(_NAMES)
    travel = draw(
        st.one_of(
            st.sampled_from(
                [
                    "",
                    "",
                    " VERSION AS OF 0",
                    " AT (VERSION => 1)",
                    " TIMESTAMP AS OF now()",
                    " AT (TIMESTAMP => now() - INTERVAL 1 DAY)",
                ]
            ),
            st.tuples(
                st.sampled_from(
                    [
                        " VERSION AS OF ",
                        " TIMESTAMP AS OF ",
                        " AT (VERSION => ",
                        " AT (TIMESTAMP => ",
                    ]
                ),
                _LITERALS,
            ).map(lambda t: t[0] + t[1] + (")" if t[0].startswith(" AT") else "")),
        )
    )
    column = draw(st.sampled_from(["*", "count(*)", "id", "_event_time", "nope", "1/0"]))
    where = draw(
        st.one_of(
            st.just(""),
            st.just(""),
            st.tuples(
                st.sampled_from(["_event_time", "id", "_event_date", "label"]),
                st.sampled_from(["<", "<=", "=", ">", ">=", "<>"]),
                _LITERALS,
            ).map(lambda t: f" WHERE {t[0]} {t[1]} {t[2]}"),
        )
    )
    depth = draw(st.sampled_from([0, 0, 0, 0, 0, 3, 200]))
    query = f"SELECT {column} FROM {name}{travel}{where}"
    if depth:
        query = "SELECT * FROM " + "(" * depth + query + ")" * depth
    if draw(st.booleans()):
        query += draw(st.sampled_from([" LIMIT 3", " ORDER BY 1", ";", "; SELECT 1", " -- c"]))
    return query


@given(query=_queries())
@settings(
    max_examples=int(os.environ.get("SQL_FUZZ_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_queries_answer_or_fail_with_one_sentence(web_logs, query):
    for read_only in (False, True):
        try:
            web_logs.sql(query, read_only=read_only, timeout_s=20)
            event("answered")
        except LakeError as error:
            event(type(error).__name__)
            message = str(error)
            assert message and "\n" not in message and "Traceback" not in message, message


# -- configuration -------------------------------------------------------------------------------


def test_query_limits_come_from_the_environment_or_lake_toml_with_defaults(tmp_path):
    from lake.core.config import QuerySettings, resolve
    from lake.core.errors import ConfigError

    assert resolve(cwd=tmp_path, environ={}).query == QuerySettings()
    assert QuerySettings() == QuerySettings(
        timeout_s=30.0, memory_limit=2 << 30, threads=2, max_bytes=100 << 20
    )
    (tmp_path / "lake.toml").write_text(
        '[query]\ntimeout = 5\nmemory_limit = "512MiB"\nthreads = 1\nmax_bytes = "1MB"\n'
    )
    limits = resolve(cwd=tmp_path, environ={}).query
    assert (limits.timeout_s, limits.memory_limit, limits.threads, limits.max_bytes) == (
        5.0,
        512 << 20,
        1,
        1_000_000,
    )
    env = {"LAKE_QUERY_TIMEOUT": "2.5", "LAKE_QUERY_MEMORY_LIMIT": "1GB"}
    limits = resolve(cwd=tmp_path, environ=env).query
    assert (limits.timeout_s, limits.memory_limit, limits.threads) == (2.5, 10**9, 1)
    for name, value, phrase in (
        ("LAKE_QUERY_TIMEOUT", "-1", "write seconds"),
        ("LAKE_QUERY_TIMEOUT", "soon", "write seconds"),
        ("LAKE_QUERY_MEMORY_LIMIT", "lots", "write a size"),
        ("LAKE_QUERY_THREADS", "0", "whole number"),
        ("LAKE_QUERY_MAX_BYTES", "-5MB", "write a size"),
    ):
        with pytest.raises(ConfigError, match=phrase) as raised:
            resolve(cwd=tmp_path, environ={name: value})
        assert name in str(raised.value) and "lake.toml" in str(raised.value)


def test_a_statement_whose_time_limit_ran_out_before_it_started_is_still_stopped():
    """What is left of a call's time limit may be a few microseconds (queries.sql hands a
    run again what is left): the timer then interrupted DuckDB before the statement began,
    DuckDB dropped the interrupt (nothing ran yet), and the statement ran with no limit."""
    import threading

    import duckdb

    class StartsAfterTheInterrupt:
        """A DuckDB connection whose statement starts once the timer interrupted it."""

        def __init__(self) -> None:
            self.connection = duckdb.connect()
            self.interrupted = threading.Event()

        def interrupt(self) -> None:
            self.connection.interrupt()
            self.interrupted.set()

        def execute(self, sql: str):
            assert self.interrupted.wait(60), "the timer never fired"
            return self.connection.execute(sql)

        def __getattr__(self, name: str):
            return getattr(self.connection, name)

    with pytest.raises(duckdb.InterruptException):
        session.run(
            StartsAfterTheInterrupt(),  # type: ignore[arg-type]
            "SELECT count(*) AS n FROM range(30000000000) a",
            max_rows=None,
            timeout_s=1e-6,
        )
