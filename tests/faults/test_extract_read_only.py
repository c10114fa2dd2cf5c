"""Extracts only read: no --query can change the source database, on any dialect.

Each escape is tried against a real source (PostgreSQL at 127.0.0.1:5432, MariaDB at
127.0.0.1:3306, a SQLite file) holding a ``victim`` table and, where the dialect has them,
functions that write. After every attempt the source is exactly as before: same rows, nothing
in the log tables, no sequence advanced. Three locks are tested separately: the query reader
(ingest/db/statement.py), the server's one-statement rule (tested with the reader switched
off) and the read-only session and transaction (functions and writable CTEs pass the reader).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import ingest.db.source as source_module
from ingest.db.source import open_source
from ingest.exceptions import ExtractError, SourceQueryRefused
from lake.core.errors import LakeError
from tests.ingest.db.fixtures import SourceDb, unique

DIALECTS = ["postgresql", "mysql", "sqlite"]


def _setup(db: SourceDb) -> dict[str, str]:
    """victim(id) = 1, 2, 3, plus what each dialect can write with; returns the names."""
    n = {"victim": unique("victim"), "log": unique("log"), "seq": unique("seq")}
    n.update(f=unique("f_write"), flip=unique("f_flip"))
    v, log = n["victim"], n["log"]
    if db.dialect == "postgresql":
        db.run(
            f"CREATE TABLE {v} (id int)",
            f"INSERT INTO {v} VALUES (1), (2), (3)",
            f"CREATE TABLE {log} (n int)",
            f"CREATE SEQUENCE {n['seq']}",
            f"CREATE FUNCTION {n['f']}(x int) RETURNS int LANGUAGE plpgsql AS "
            f"$$BEGIN INSERT INTO {log} VALUES (x); RETURN x; END$$",
            f"CREATE FUNCTION {n['flip']}(x int) RETURNS int LANGUAGE plpgsql AS "
            "$$BEGIN PERFORM set_config('default_transaction_read_only', 'off', false); "
            "RETURN x; END$$",
        )
    elif db.dialect == "mysql":
        db.run(
            f"CREATE TABLE {v} (id INT) ENGINE=InnoDB",
            f"INSERT INTO {v} VALUES (1), (2), (3)",
            # MyISAM: no transactions, so only a read-only session/transaction can stop it.
            f"CREATE TABLE {log} (n INT) ENGINE=MyISAM",
            f"CREATE FUNCTION {n['f']}(x INT) RETURNS INT MODIFIES SQL DATA "
            f"BEGIN INSERT INTO {log} VALUES (x); RETURN x; END",
            f"CREATE FUNCTION {n['flip']}(x INT) RETURNS INT MODIFIES SQL DATA "
            "BEGIN SET @@session.tx_read_only = 0; RETURN x; END",
        )
    else:
        db.run(f"CREATE TABLE {v} (id INTEGER)", f"INSERT INTO {v} VALUES (1), (2), (3)")
        db.run(f"CREATE TABLE {log} (n INTEGER)")
    return n


def _state(db: SourceDb, n: dict[str, str]) -> tuple:
    rows = sorted(r[0] for r in _all(db, f"SELECT id FROM {n['victim']}"))
    logged = _all(db, f"SELECT count(*) FROM {n['log']}")[0][0]
    seq = None
    if db.dialect == "postgresql":
        seq = _all(db, f"SELECT last_value, is_called FROM {n['seq']}")[0]
    return rows, logged, seq


def _all(db: SourceDb, sql: str) -> list:
    engine = db.engine()
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _escapes(dialect: str, n: dict[str, str]) -> list[str]:
    v, log, f = n["victim"], n["log"], n["f"]
    delete = f"DELETE FROM {v} WHERE id = 2"
    common = [
        # The issue's report: close the subquery, commit, open a read-write transaction.
        f"SELECT 1 AS x) q; COMMIT; BEGIN READ WRITE; {delete}; COMMIT; "
        "SELECT * FROM (SELECT 1 AS x",
        f"SELECT 1 AS x; {delete}",
        f"SELECT 1 AS x;\n{delete};",
        f"SELECT 1 AS x) q; {delete}; --",
        f"SELECT 'a;b' AS x; {delete}",
        f"SELECT 'it''s' AS x; {delete}",
        f"SELECT 1 AS x /* ; */; {delete}",
        f"SELECT 1 AS x -- comment\n; {delete}",
        f"SELECT * FROM {v}) q UNION ALL SELECT 1 FROM (SELECT 1",
        f"{delete}",
        f"INSERT INTO {log} VALUES (1)",
    ]
    if dialect == "postgresql":
        return common + [
            f"SELECT $$it's$$ AS x; {delete}",
            f"SELECT $t$;$t$ AS x; {delete}",
            f"SELECT E'\\'' AS x; {delete}; SELECT '",
            f"SELECT 1 AS x -- comment\r; {delete}",
            f"SELECT 1 AS x /* nested /* */ ; */; {delete}",
            f"WITH d AS ({delete} RETURNING id) SELECT id AS x FROM d",
            f"SELECT {f}(id) AS x FROM {v}",
            f"SELECT nextval('{n['seq']}') AS x",
            f"SELECT x FROM (SELECT {f}(id) AS x FROM {v}) s",
        ]
    if dialect == "mysql":
        return common + [
            f"SELECT '\\'' AS x; {delete}; SELECT '",
            f"SELECT 1 AS x # comment\n; {delete}",
            f"SELECT 1 AS x /*!50000 ; {delete} */",
            f"SELECT 1 AS x /*M!100000 ; {delete} */",
            f"SELECT {f}(id) AS x FROM {v}",
            f"SELECT x FROM (SELECT {f}(id) AS x FROM {v}) s",
            f"SELECT * FROM {v} WHERE {f}(id) > 0",
        ]
    return common + [
        f"SELECT [a;b] AS x FROM (SELECT 1 AS [a;b]); {delete}",
        "SELECT 1 AS x; ATTACH DATABASE ':memory:' AS other",
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.timeout(300)
def test_no_extract_query_changes_the_source_or_the_lake(dialect, lk, request):
    db: SourceDb = request.getfixturevalue(
        {"postgresql": "pg_source", "mysql": "mysql_source", "sqlite": "sqlite_source"}[dialect]
    )
    n = _setup(db)
    before = _state(db, n)
    assert before[0] == [1, 2, 3]
    for i, query in enumerate(_escapes(dialect, n)):
        with pytest.raises(LakeError) as caught:
            lk.ingest_db(f"ro.t{i}", source=db.url, query=query)
        assert isinstance(caught.value, ExtractError), (query, caught.value)
        message = str(caught.value)
        assert "\n" not in message.strip() and "Traceback" not in message
        assert _state(db, n) == before, query
    # A refused extract may leave its table registered, never a version of it.
    assert [t.current_version for t in lk.tables()] == [None] * len(lk.tables())
    # And the source still extracts normally afterwards.
    report = lk.ingest_db("ro.ok", source=db.url, query=f"SELECT id FROM {n['victim']};")
    assert report.rows == 3
    assert _state(db, n) == before


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.timeout(180)
def test_with_the_query_reader_switched_off_the_server_still_runs_one_read_only_statement(
    dialect, request, monkeypatch
):
    """The second and third locks alone: the text reaches the server as the user gave it."""
    db: SourceDb = request.getfixturevalue(
        {"postgresql": "pg_source", "mysql": "mysql_source", "sqlite": "sqlite_source"}[dialect]
    )
    n = _setup(db)
    before = _state(db, n)
    monkeypatch.setattr(source_module, "one_query", lambda query, syntax: query.strip().rstrip(";"))
    url = db.url
    if dialect == "mysql":
        url += "?client_flag=65536"  # CLIENT.MULTI_STATEMENTS asked for by the URL: ignored
    for query in _escapes(dialect, n):
        with pytest.raises(ExtractError), open_source(url) as src:
            with src.stream(query=query) as ex:
                list(ex)
        assert _state(db, n) == before, query


@pytest.mark.timeout(120)
def test_a_function_that_turns_the_session_read_write_cannot_make_a_later_read_write(
    pg_source, mysql_source
):
    """MariaDB lets a stored function run SET SESSION tx_read_only = 0 inside a read-only
    transaction (Postgres: set_config of the session default): the next read on the same
    connection must still be read-only."""
    for db in (pg_source, mysql_source):
        n = _setup(db)
        before = _state(db, n)
        with open_source(db.url) as src:
            flipped = f"SELECT {n['flip']}(id) AS x FROM {n['victim']}"
            with src.stream(query=flipped) as ex:
                assert sorted(r["x"] for b in ex for r in b.to_pylist()) == [1, 2, 3]
            with (
                pytest.raises(ExtractError),
                src.stream(query=f"SELECT {n['f']}(id) AS x FROM {n['victim']}") as ex,
            ):
                list(ex)
        assert _state(db, n) == before


@pytest.mark.timeout(60)
def test_a_refused_query_names_why_in_one_sentence(sqlite_source):
    with open_source(sqlite_source.url) as src:
        with pytest.raises(SourceQueryRefused, match=r"more than one statement"):
            src.columns(query="SELECT 1 AS x; SELECT 2 AS y")
