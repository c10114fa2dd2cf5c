"""Every way an extract can fail: one sentence, an ingest error, never the password."""

from __future__ import annotations

import sys
import time
import traceback
from urllib.parse import quote

import pytest

from ingest.db.source import open_source
from ingest.exceptions import (
    CursorColumnInvalid,
    CursorColumnMissing,
    DriverMissing,
    ExtractError,
    KeyColumnMissing,
    SourceDatabaseMissing,
    SourceLoginRefused,
    SourceQueryFailed,
    SourceTableMissing,
    SourceUnreachable,
    UnsupportedSource,
)
from lake.core.errors import LakeError
from tests.ingest.db.fixtures import mysql_admin, mysql_url, unique

SECRET = "Sup3r-Secret!pw/@:"


def assert_no_secret(error: BaseException) -> None:
    shown = "".join(traceback.format_exception(error))
    for form in (SECRET, quote(SECRET, safe=""), quote(SECRET)):
        assert form not in shown, f"the password leaked: {shown}"


def raised(url: str, **kw) -> LakeError:
    with pytest.raises(LakeError) as info:
        with open_source(url, **kw) as src:
            src.schema(table="anything")
    assert_no_secret(info.value)
    assert "\n" not in str(info.value)
    return info.value


def pg_url(
    pg_source, *, user: str = "postgres", database: str | None = None, port: int | None = None
) -> str:
    from sqlalchemy import make_url

    u = make_url(pg_source.url)
    u = u.set(username=user, password=SECRET, database=database or u.database, port=port or u.port)
    return u.render_as_string(hide_password=False)


# --------------------------------------------------------------------------------------------
# Connecting


def test_a_refused_connection_is_reported_as_unreachable(pg_source):
    err = raised(pg_url(pg_source, port=1))
    assert type(err) is SourceUnreachable
    assert "did not answer" in str(err)
    err = raised(f"mysql+pymysql://root:{quote(SECRET, safe='')}@127.0.0.1:1/db")
    assert type(err) is SourceUnreachable


def test_an_unknown_host_is_reported_as_unreachable():
    err = raised(f"postgresql+psycopg2://u:{quote(SECRET, safe='')}@no-such-host.invalid/db")
    assert type(err) is SourceUnreachable
    err = raised(f"mysql+pymysql://u:{quote(SECRET, safe='')}@no-such-host.invalid/db")
    assert type(err) is SourceUnreachable


def test_a_silent_server_times_out_quickly():
    # 192.0.2.0/24 is reserved for documentation: nothing ever answers there.
    started = time.monotonic()
    err = raised(f"mysql+pymysql://u:{quote(SECRET, safe='')}@192.0.2.1:3306/db", connect_timeout=1)
    assert type(err) is SourceUnreachable
    assert time.monotonic() - started < 10


def test_a_wrong_password_is_refused_by_name_without_showing_it(mysql_source):
    user = unique("lake_u")
    admin = mysql_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'the-right-one'")
        err = raised(mysql_url("mysql", user=user, password=quote(SECRET, safe="")))
        assert isinstance(err, SourceLoginRefused) and isinstance(err, SourceUnreachable)
        assert f"user '{user}'" in str(err)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def test_an_unknown_postgres_role_is_a_refused_login(pg_source):
    err = raised(pg_url(pg_source, user="no_such_role_lake"))
    assert isinstance(err, SourceLoginRefused)


def test_a_missing_database_is_named(pg_source, mysql_source):
    err = raised(pg_url(pg_source, database="no_such_db_lake"))
    assert isinstance(err, SourceDatabaseMissing) and "'no_such_db_lake'" in str(err)
    err = raised(mysql_url("no_such_db_lake", password=quote(SECRET, safe="")))
    # MariaDB may refuse the login first (root has no password): either names the problem.
    assert isinstance(err, (SourceDatabaseMissing, SourceLoginRefused))
    err = raised(mysql_source.url.rsplit("/", 1)[0] + "/no_such_db_lake")
    assert isinstance(err, SourceDatabaseMissing)


def test_a_missing_or_foreign_sqlite_file_is_a_missing_database(tmp_path):
    err = raised(f"sqlite:///{tmp_path / 'nope.db'}")
    assert isinstance(err, SourceDatabaseMissing)
    assert not (tmp_path / "nope.db").exists()  # never created by looking
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database file at all" * 100)
    err = raised(f"sqlite:///{junk}")
    assert isinstance(err, SourceDatabaseMissing)


def test_a_missing_driver_says_what_to_install(monkeypatch, pg_source):
    err = raised(f"mysql+mysqldb://root:{quote(SECRET, safe='')}@127.0.0.1/db")
    assert isinstance(err, DriverMissing) and "pip install mysqlclient" in str(err)
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql", None)  # as if not installed
    err = raised(pg_url(pg_source))
    assert isinstance(err, DriverMissing) and "adbc-driver-postgresql==1.13.0" in str(err)


def test_an_unsupported_database_is_refused():
    err = raised(f"oracle://u:{quote(SECRET, safe='')}@host/db")
    assert isinstance(err, UnsupportedSource)


# --------------------------------------------------------------------------------------------
# Tables, queries, columns


def _table(db) -> str:
    name = unique("Orders")
    db.run(f"CREATE TABLE {db.quote(name)} (id INT, amount INT, updated_at INT)")
    return name


def test_a_missing_table_suggests_the_name_that_differs_only_in_case(any_source):
    name = _table(any_source)
    with open_source(any_source.url) as src, pytest.raises(SourceTableMissing) as info:
        src.schema(table=name.lower() + "x")
    assert name in info.value.suggestions or name.lower() in info.value.suggestions
    assert "did you mean" in str(info.value)


def test_a_missing_cursor_column_lists_the_columns_there_are(any_source):
    name = _table(any_source)
    with open_source(any_source.url) as src, pytest.raises(CursorColumnMissing) as info:
        src.stream(table=name, cursor="modified")
    assert "'modified'" in str(info.value) and "updated_at" in str(info.value)


def test_a_missing_key_column_is_named(any_source):
    name = _table(any_source)
    with open_source(any_source.url) as src, pytest.raises(KeyColumnMissing, match="order_id"):
        src.stream(table=name, key=["id", "order_id"])


def test_a_broken_query_reports_the_servers_own_words(any_source):
    with open_source(any_source.url) as src, pytest.raises(SourceQueryFailed) as info:
        src.schema(query="SELEC id FROM nowhere")
    assert "syntax" in str(info.value).lower() or "near" in str(info.value).lower()
    assert "\n" not in str(info.value)


def test_a_query_returning_two_columns_of_one_name_is_refused(any_source):
    name = _table(any_source)
    query = f"SELECT id, amount AS id FROM {any_source.quote(name)}"
    with open_source(any_source.url) as src:
        if any_source.dialect == "sqlite":  # SQLite renames the second one itself
            assert src.schema(query=query).names == ["id", "id:1"]
            return
        with pytest.raises(SourceQueryFailed, match="distinct alias|Duplicate column"):
            src.schema(query=query)


def test_a_cursor_whose_values_do_not_sort_like_the_source_is_refused(pg_source):
    mood = unique("mood")
    table = unique("feelings")
    pg_source.run(
        f"CREATE TYPE {mood} AS ENUM ('sad', 'happy')", f"CREATE TABLE {table} (m {mood})"
    )
    with open_source(pg_source.url) as src, pytest.raises(CursorColumnInvalid, match="do not sort"):
        src.stream(table=table, cursor="m")


@pytest.mark.parametrize("json_type", ["json", "jsonb"])
def test_a_postgres_json_cursor_is_refused_before_a_first_run_stores_a_watermark(
    pg_source, json_type
):
    # Its text sorts neither as jsonb does nor at all for json: a first run would store a
    # watermark that every later run fails on at the server.
    table = unique("docs")
    pg_source.run(f"CREATE TABLE {table} (id int, j {json_type})")
    with open_source(pg_source.url) as src, pytest.raises(CursorColumnInvalid, match="do not sort"):
        src.stream(table=table, cursor="j")


def test_a_connection_lost_in_the_middle_of_a_read_is_translated(pg_source):
    table = unique("big")
    # Larger than what the reader and the sockets hold ahead, so the server is still sending.
    pg_source.run(
        f"CREATE TABLE {table} AS SELECT g AS id, repeat('x', 100) AS pad "
        "FROM generate_series(1, 500000) g"
    )
    with open_source(pg_source.url) as src:
        ex = src.stream(table=table, batch_rows=1000)
        next(ex)
        pg_source.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'lake-extract' AND pid <> pg_backend_pid() "
            "AND query LIKE 'COPY%'"
        )
        with pytest.raises(ExtractError) as info:
            for _ in ex:
                pass
        assert isinstance(info.value, (SourceUnreachable, SourceQueryFailed))


def test_errors_while_streaming_never_show_the_password(pg_source):
    table = unique("edge")
    pg_source.run(
        f"CREATE TABLE {table} (id int, at timestamptz)",
        f"INSERT INTO {table} VALUES (1, 'infinity')",
    )
    with open_source(pg_url(pg_source)) as src:  # trust auth: the password is ignored, not checked
        for kw in ({"table": table}, {"query": f"SELECT id, 1/0 AS boom FROM {table}"}):
            with pytest.raises(ExtractError) as info:
                list(src.stream(**kw))
            assert_no_secret(info.value)
            assert "\n" not in str(info.value)
