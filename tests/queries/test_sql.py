"""SQL over the lake on every backend pair: names, time travel, partitions, types, errors,
read-only mode and the ``lake sql`` command."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lake
from lake.core.errors import LakeError, TableNotFound, VersionNotFound, VersionVacuumed
from lake.core.names import TableName
from lake.landing.commits import TableRun
from queries.exceptions import (
    DataFileUnreadable,
    QueryError,
    QueryFailed,
    QueryInvalid,
    QueryRefused,
    QuerySyntaxError,
    QueryTimeout,
    TimeTravelError,
    UnknownTable,
    VacuumedVersion,
)
from tests.backends import lake_environment
from tests.conftest import BACKENDS, run_cli

REQUEST = pa.struct([("method", pa.string()), ("path", pa.string())])
REQUEST_V1 = pa.struct([("method", pa.string()), ("path", pa.string()), ("query", pa.string())])
UTC = UTC


def _write(lk, name: str, data: pa.Table, *, partition_by=(), mode: str = "append"):
    """A write through the lake's write protocol (partitioned when asked)."""
    table = TableName.parse(name)
    info = lk.catalog.create_table(
        table,
        kind="arrow",
        location=lk.storage.table_uri(table.namespace, table.name),
        exist_ok=True,
    )
    lk.sync_table(info)
    with TableRun.start(lk.catalog, lk.delta(info), info, kind="write", parameters={}) as run:
        landed = run.land(
            data, policy="strict", mode=mode, operation=mode.upper(), partition_by=partition_by
        )
        return landed.version


def _logs_v0() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "ts": pa.array(
                [datetime(2026, 11, d, 10, tzinfo=UTC) for d in (1, 1, 2, 3)],
                pa.timestamp("us", tz="UTC"),
            ),
            "request": pa.array(
                [
                    {"method": "GET", "path": "/a"},
                    {"method": "POST", "path": "/b"},
                    {"method": "GET", "path": "/c"},
                    {"method": "GET", "path": "/d"},
                ],
                REQUEST,
            ),
            "_event_date": pa.array(
                [date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 2), None], pa.date32()
            ),
        }
    )


def _logs_v1() -> pa.Table:
    """Two more rows, a new column and a new struct field (schema evolution)."""
    return pa.table(
        {
            "id": pa.array([5, 6], pa.int64()),
            "ts": pa.array(
                [datetime(2026, 11, 3, 12, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")
            ),
            "request": pa.array(
                [
                    {"method": "PUT", "path": "/e", "query": "q=1"},
                    {"method": "GET", "path": "/f", "query": None},
                ],
                REQUEST_V1,
            ),
            "_event_date": pa.array([date(2026, 11, 3)] * 2, pa.date32()),
            "status": pa.array([201, 404], pa.int32()),
        }
    )


@dataclass
class SharedLake:
    lk: lake.Lake
    env: dict[str, str]

    @property
    def secrets(self) -> list[str]:
        return [v for k, v in self.env.items() if k == "AWS_SECRET_ACCESS_KEY"]


@pytest.fixture(scope="module", params=BACKENDS)
def shared(request, tmp_path_factory, s3_server, pg_server) -> Iterator[SharedLake]:
    """One lake per backend pair for the tests that only read it (built once: writes are the
    slow part of these tests). web.logs is partitioned by _event_date: version 0 has 4 rows,
    version 1 has 6 and a new column and struct field; ml.labels has versions 0 and 1."""
    root = tmp_path_factory.mktemp("sql")
    with lake_environment(request.param, root, s3_server, pg_server) as env:
        lk = lake.connect(environ=env, cwd=root)
        try:
            _write(lk, "web.logs", _logs_v0(), partition_by=["_event_date"])
            _write(lk, "web.logs", _logs_v1(), partition_by=["_event_date"])
            lk.write_table("ml.labels", pa.table({"id": [1, 2], "label": ["good", "bad"]}))
            lk.write_table("ml.labels", pa.table({"id": [5], "label": ["good"]}))
            yield SharedLake(lk, env)
        finally:
            lk.close()


@pytest.fixture
def web_logs(shared) -> lake.Lake:
    return shared.lk


@pytest.fixture
def logs_cli(shared, monkeypatch, tmp_path):
    """``lake ...`` in-process against the shared lake, configured by the environment."""
    monkeypatch.chdir(tmp_path)
    for key, value in shared.env.items():
        monkeypatch.setenv(key, value)
    return run_cli


def _values(result, column: str) -> list:
    return result.table.column(column).to_pylist()


# -- names and nested fields -----------------------------------------------------------------


def test_a_lake_table_is_read_by_its_name_at_its_latest_version_with_nested_fields(web_logs):
    result = web_logs.sql(
        "SELECT t.request.method AS m, request.path AS p, t.id FROM web.logs t ORDER BY t.id"
    )
    assert _values(result, "m") == ["GET", "POST", "GET", "GET", "PUT", "GET"]
    assert _values(result, "p") == ["/a", "/b", "/c", "/d", "/e", "/f"]
    assert [str(v) for v in result.versions] == ["web.logs@1"]
    recorded = web_logs.history("web.logs")[1]
    assert result.versions[0].committed_at == recorded.committed_at


def test_a_column_qualified_by_the_full_table_name_works_as_in_duckdb(web_logs):
    result = web_logs.sql(
        "SELECT web.logs.id, logs.request.method AS m FROM web.logs WHERE web.logs.id = 2"
    )
    assert result.rows() == [{"id": 2, "m": "POST"}]


def test_a_bare_name_means_the_default_namespace_only_when_that_table_exists(lk):
    lk.write_table("default.events", pa.table({"x": [1, 2]}))
    lk.write_table("ml.labels", pa.table({"x": [9]}))
    assert lk.sql("SELECT sum(x) AS s FROM events").rows() == [{"s": 3}]
    with pytest.raises(
        UnknownTable,
        match=(
            r"Table labels \(line 1, column 15\) is neither a lake table"
            r".*default\.events, ml\.labels"
        ),
    ):
        lk.sql("SELECT * FROM labels")


# -- time travel -----------------------------------------------------------------------------


def test_every_time_travel_syntax_reads_the_version_it_names(web_logs):
    history = web_logs.history("web.logs")
    t0 = history[0].committed_at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    forms = {
        "web.logs VERSION AS OF 0": 0,
        "web.logs AT (VERSION => 0)": 0,
        f"web.logs TIMESTAMP AS OF '{t0}'": 0,
        f"web.logs AT (TIMESTAMP => '{t0}')": 0,
        f"web.logs AT (TIMESTAMP => TIMESTAMP '{t0}' + INTERVAL 0 SECOND)": 0,
        f"web.logs FOR SYSTEM_TIME AS OF '{t0}'": 0,
        "web.logs AT (TIMESTAMP => now())": 1,
        "web.logs VERSION AS OF 1": 1,
    }
    for clause, version in forms.items():
        result = web_logs.sql(f"SELECT count(*) AS n FROM {clause}")
        assert result.rows() == [{"n": 4 if version == 0 else 6}], clause
        assert [v.version for v in result.versions] == [version], clause


def test_one_query_reads_the_same_table_at_two_versions_in_a_self_join(web_logs):
    result = web_logs.sql(
        """
        SELECT new.id, old.id IS NULL AS added
        FROM web.logs AS new
        LEFT JOIN web.logs VERSION AS OF 0 AS old ON old.id = new.id
        ORDER BY new.id
        """
    )
    assert _values(result, "added") == [False, False, False, False, True, True]
    assert [str(v) for v in result.versions] == ["web.logs@1", "web.logs@0"]


def test_time_travel_works_inside_subqueries_ctes_joins_and_unions(web_logs):
    result = web_logs.sql(
        """
        WITH old AS (SELECT id FROM web.logs AT (VERSION => 0))
        SELECT 'cte' AS src, count(*) AS n FROM old JOIN ml.labels VERSION AS OF 0 USING (id)
        UNION ALL
        SELECT 'sub', count(*) FROM (SELECT * FROM ml.labels) l
        WHERE l.id IN (SELECT id FROM web.logs)
        ORDER BY src
        """
    )
    assert result.rows() == [{"src": "cte", "n": 2}, {"src": "sub", "n": 3}]
    assert sorted(str(v) for v in result.versions) == [
        "ml.labels@0",
        "ml.labels@1",
        "web.logs@0",
        "web.logs@1",
    ]


def test_a_timestamp_without_offset_is_utc_whatever_the_local_time_zone(web_logs, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        t1 = web_logs.history("web.logs")[1].committed_at.astimezone(UTC)
        naive = t1.replace(tzinfo=None).isoformat(sep=" ")
        with_offset = t1.astimezone(timezone(timedelta(hours=2))).isoformat(sep=" ")
        before = (t1 - timedelta(milliseconds=1)).replace(tzinfo=None).isoformat(sep=" ")
        assert (
            web_logs.sql(f"SELECT 1 FROM web.logs TIMESTAMP AS OF '{naive}' LIMIT 0")
            .versions[0]
            .version
            == 1
        )
        assert (
            web_logs.sql(f"SELECT 1 FROM web.logs TIMESTAMP AS OF '{with_offset}' LIMIT 0")
            .versions[0]
            .version
            == 1
        )
        assert (
            web_logs.sql(f"SELECT 1 FROM web.logs TIMESTAMP AS OF '{before}' LIMIT 0")
            .versions[0]
            .version
            == 0
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_time_before_the_table_existed_is_an_error_never_version_0(web_logs):
    with pytest.raises(
        TimeTravelError,
        match=(
            r"Table web\.logs did not exist at 2020-01-01T00:00:00\+00:00 "
            r".*first version was committed at"
        ),
    ) as caught:
        web_logs.sql("SELECT * FROM web.logs TIMESTAMP AS OF '2020-01-01 00:00:00'")
    assert isinstance(caught.value, VersionNotFound)


@pytest.mark.parametrize("read_only", [False, True])
def test_a_time_later_than_now_is_refused_never_the_latest_version(web_logs, tmp_path, read_only):
    # The latest version answered a time after now: the same query pinned to it read other
    # rows once a version was written before that time.
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    for clause in (f"TIMESTAMP AS OF '{later}'", f"AT (TIMESTAMP => TIMESTAMPTZ '{later}+00')"):
        with pytest.raises(TimeTravelError, match=r"later than now .*VERSION AS OF"):
            web_logs.sql(f"SELECT count(*) FROM web.logs {clause}", read_only=read_only)
    with pytest.raises(TimeTravelError, match=r"later than now"):
        web_logs.materialize(
            "later", sql="SELECT * FROM web.logs", out=tmp_path / "later", as_of=f"{later}Z"
        )
    assert not (tmp_path / "later" / ".lake").exists()


def test_a_version_that_does_not_exist_names_the_latest(web_logs):
    with pytest.raises(
        TimeTravelError,
        match=(
            r"Version 7 of web\.logs does not exist \(VERSION AS OF 7 at line 1, column 15\); "
            r"the latest is 1\."
        ),
    ):
        web_logs.sql("SELECT * FROM web.logs VERSION AS OF 7")


@pytest.mark.parametrize("read_only", [False, True])
def test_a_vacuumed_version_is_a_clear_error_and_newer_versions_still_read(lk, read_only):
    lk.write_table("ml.labels", pa.table({"id": [1, 2]}))
    lk.write_table("ml.labels", pa.table({"id": [3]}), mode="overwrite")
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    assert lk.delta(info).vacuum(retain_hours=0, keep_versions=[], apply=True)
    with pytest.raises(
        VacuumedVersion,
        match=r"Version 0 of ml\.labels can no longer be read: vacuum removed its data files",
    ) as caught:
        lk.sql("SELECT * FROM ml.labels VERSION AS OF 0", read_only=read_only)
    assert isinstance(caught.value, VersionVacuumed)
    assert lk.sql("SELECT id FROM ml.labels").rows() == [{"id": 3}]


@pytest.mark.parametrize("read_only", [False, True])
def test_a_data_file_of_the_latest_version_deleted_outside_the_lake_is_not_blamed_on_vacuum(
    lk, read_only
):
    lk.write_table("ml.labels", pa.table({"id": [1, 2]}))
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    [data_file] = lk.describe("ml.labels").snapshot.files
    fs, base = lk.storage.filesystem_for(info.location)
    fs.delete_file(f"{base.rstrip('/')}/{data_file.path}")
    with pytest.raises(
        DataFileUnreadable,
        match=r"Version 0 of ml\.labels, its latest, cannot be read: a data file of it is "
        r"missing .* deleted outside the lake",
    ) as caught:
        lk.sql("SELECT * FROM ml.labels", read_only=read_only)
    assert not isinstance(caught.value, VersionVacuumed)


def test_a_commit_the_catalog_missed_is_recorded_and_read(lk):
    from deltalake import write_deltalake

    lk.write_table("ml.labels", pa.table({"id": [1]}))
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    write_deltalake(
        info.location,
        pa.table({"id": [2]}),
        mode="append",
        storage_options=lk.storage.delta_options(),
    )

    result = lk.sql("SELECT count(*) AS n FROM ml.labels")

    assert result.rows() == [{"n": 2}]
    assert [v.version for v in result.versions] == [1]
    assert lk.catalog.get_table(info.name).current_version == 1


def test_a_query_naming_a_column_only_a_missed_commit_added_reads_that_commit(lk):
    """On S3 a read runs while its check for a newer commit is still out: the version the
    catalog recorded fails to bind ``label``, and the answer must still be the newer one's,
    not that error."""
    from deltalake import write_deltalake

    lk.write_table("ml.labels", pa.table({"id": [1]}))
    assert lk.sql("SELECT count(*) AS n FROM ml.labels").rows() == [{"n": 1}]
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    write_deltalake(
        info.location,
        pa.table({"id": [2], "label": ["b"]}),
        mode="append",
        schema_mode="merge",
        storage_options=lk.storage.delta_options(),
    )

    result = lk.sql("SELECT id, label FROM ml.labels ORDER BY id")

    assert result.rows() == [{"id": 1, "label": None}, {"id": 2, "label": "b"}]
    assert [v.version for v in result.versions] == [1]


def test_a_query_reads_commits_made_since_its_last_run_by_another_lake_or_process(lk):
    """DuckDB's caches of the files a query read must not hide a newer version: each query
    pins the latest version again (another Lake object, another process, deltalake)."""
    from deltalake import write_deltalake

    query = "SELECT count(*) AS n, sum(id) AS total FROM ml.labels"
    lk.write_table("ml.labels", pa.table({"id": [1, 2]}))
    assert lk.sql(query).rows() == [{"n": 2, "total": 3}]

    with lake.connect() as other:
        other.write_table("ml.labels", pa.table({"id": [10]}))
    assert lk.sql(query).rows() == [{"n": 3, "total": 13}]

    _overwrite_labels_in_another_process()
    assert lk.sql(query).rows() == [{"n": 1, "total": 100}]

    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    write_deltalake(
        info.location,
        pa.table({"id": [1000, 2000]}),
        mode="overwrite",
        storage_options=lk.storage.delta_options(),
    )
    result = lk.sql(query)
    assert result.rows() == [{"n": 2, "total": 3000}]
    assert [v.version for v in result.versions] == [3]


def test_a_repeated_query_reads_each_new_version_its_files_and_its_scan_report(lk):
    """A Lake keeps the rewrite of a query it ran at the same table versions, but pins the
    versions anew on every call: of two identical queries with a write between them, the
    second reads the new version, its files and reports them (a write by this Lake, another
    Lake, another process)."""
    query = "SELECT count(*) AS n, sum(id) AS total FROM ml.labels"
    lk.write_table("ml.labels", pa.table({"id": [1, 2]}))
    first, again = lk.sql(query), lk.sql(query)
    assert first.rows() == again.rows() == [{"n": 2, "total": 3}]
    assert first.scans == again.scans
    assert [(s.version, s.files_total) for s in again.scans] == [(0, 1)]

    lk.write_table("ml.labels", pa.table({"id": [3]}))
    result = lk.sql(query)
    assert result.rows() == [{"n": 3, "total": 6}]
    assert [(s.version, s.files_total) for s in result.scans] == [(1, 2)]

    with lake.connect() as other:
        other.write_table("ml.labels", pa.table({"id": [4]}))
    result = lk.sql(query)
    assert result.rows() == [{"n": 4, "total": 10}]
    assert [(s.version, s.files_total) for s in result.scans] == [(2, 3)]

    _overwrite_labels_in_another_process()
    result = lk.sql(query)
    assert result.rows() == [{"n": 1, "total": 100}]
    assert [v.version for v in result.versions] == [3]
    assert [(s.version, s.files_total, s.files_read) for s in result.scans] == [(3, 1, 1)]
    # the older versions still read as they did, pinned or by the kept rewrite
    assert lk.sql(query + " VERSION AS OF 1").rows() == [{"n": 3, "total": 6}]
    assert lk.sql(query).rows() == [{"n": 1, "total": 100}]


def test_a_repeated_query_shows_a_column_another_lake_added(lk):
    """A schema change is a new version: ``SELECT *`` run again shows the new column."""
    query = "SELECT * FROM ml.labels ORDER BY id"
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    assert lk.sql(query).column_names == ["id"]
    assert lk.sql(query).column_names == ["id"]
    with lake.connect() as other:
        other.write_table("ml.labels", pa.table({"id": [2], "label": ["b"]}))
    result = lk.sql(query)
    assert result.column_names == ["id", "label"]
    assert result.rows() == [{"id": 1, "label": None}, {"id": 2, "label": "b"}]


def test_a_repeated_query_reads_a_table_created_since_it_was_unknown(lk):
    """Which names are lake tables is read from the catalog at every query, for the names
    the query holds only: a table another Lake created since is read, one it was not told of
    is still an error naming the lake's tables."""
    query = "SELECT count(*) AS n FROM ml.later"
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    for _ in range(2):
        with pytest.raises(UnknownTable, match="Lake tables: ml.labels"):
            lk.sql(query)
    with lake.connect() as other:
        other.write_table("ml.later", pa.table({"id": [1, 2]}))
    assert lk.sql(query).rows() == [{"n": 2}]
    assert lk.sql(query).rows() == [{"n": 2}]
    with pytest.raises(UnknownTable, match="ml.labels, ml.later"):
        lk.sql("SELECT * FROM ml.nope")


def test_a_repeated_query_asks_the_catalog_and_the_log_once_each(lk, monkeypatch):
    """A repeated read makes one catalog statement (its table's row, read again at every
    query) and one check for a newer commit (on S3 one HEAD of the next log entry): the
    round trips a warm query costs besides DuckDB's work (bench_peers' docstring)."""
    from catalog.reader import CatalogReader
    from lake.delta import log

    query = "SELECT count(*) AS n FROM ml.labels"
    lk.write_table("ml.labels", pa.table({"id": [1, 2]}))
    assert lk.sql(query).rows() == [{"n": 2}]
    statements: list[str] = []
    checks: list[int] = []
    read_rows, has_commit_after = CatalogReader._rows, log.has_commit_after

    def counted_rows(self, sql, parameters=()):
        statements.append(sql)
        return read_rows(self, sql, parameters)

    def counted_check(storage, table_uri, version):
        checks.append(version)
        return has_commit_after(storage, table_uri, version)

    monkeypatch.setattr(CatalogReader, "_rows", counted_rows)
    monkeypatch.setattr(log, "has_commit_after", counted_check)
    for _ in range(3):
        assert lk.sql(query).rows() == [{"n": 2}]
    assert len(statements) == 3
    assert all(sql.startswith("SELECT t.id, n.name, t.name") for sql in statements)
    assert checks == [0, 0, 0]


def test_a_catalog_row_changed_since_the_last_query_is_read_by_the_next(lk):
    """The catalog row a query pins its table from is read during the call, never taken from
    an earlier query: here the row of ``ml.a`` is made to point at ``ml.b``'s folder, at the
    same version, behind the Lake's back (as another tool editing the catalog would), so no
    newer commit in ``ml.a``'s log tells it. (``ml.b``'s version has the rows, files and
    bytes recorded of ``ml.a``'s: a version whose totals differ from the record is refused as
    another table's, see test_a_table_re_created_at_its_location_is_not_read_as_the_versions_
    recorded.)"""
    from sqlalchemy import text

    query = "SELECT sum(id) AS n FROM ml.a"
    lk.write_table("ml.a", pa.table({"id": [1]}))
    lk.write_table("ml.b", pa.table({"id": [2]}))
    assert lk.sql(query).rows() == lk.sql(query).rows() == [{"n": 1}]
    a = lk.catalog.get_table(TableName.parse("ml.a"))
    b = lk.catalog.get_table(TableName.parse("ml.b"))
    assert a.current_version == b.current_version == 0
    with lk.catalog.engine.begin() as connection:
        connection.execute(
            text("UPDATE tables SET location = :location WHERE id = :id"),
            {"location": b.location, "id": a.id},
        )

    result = lk.sql(query)
    assert result.rows() == [{"n": 2}]
    assert [(v.version, v.table_id) for v in result.versions] == [(0, a.id)]


def test_a_commit_missed_in_the_folder_a_catalog_row_moved_to_is_read(lk):
    """The check for a newer commit is of the folder the catalog row names during the call,
    not of the one the last query read: here the row of ``ml.a`` is moved to ``ml.b``'s
    folder behind the Lake's back (as another tool editing the catalog would), whose log
    has a commit the catalog never recorded, while ``ml.a``'s old folder has none. (A check
    sent before the catalog read, aimed at the last query's folder and version, was tried
    on S3 to overlap its round trip: it must not be trusted for another folder; see
    bench/bench_optimized_read.py.)"""
    from deltalake import write_deltalake
    from sqlalchemy import text

    query = "SELECT sum(id) AS n FROM ml.a"
    lk.write_table("ml.a", pa.table({"id": [1]}))
    lk.write_table("ml.b", pa.table({"id": [2]}))
    assert lk.sql(query).rows() == lk.sql(query).rows() == [{"n": 1}]
    a = lk.catalog.get_table(TableName.parse("ml.a"))
    b = lk.catalog.get_table(TableName.parse("ml.b"))
    write_deltalake(
        b.location,
        pa.table({"id": [40]}),
        mode="append",
        storage_options=lk.storage.delta_options(),
    )
    with lk.catalog.engine.begin() as connection:
        connection.execute(
            text("UPDATE tables SET location = :location WHERE id = :id"),
            {"location": b.location, "id": a.id},
        )

    result = lk.sql(query)
    assert result.rows() == [{"n": 42}]
    assert [(v.version, v.table_id) for v in result.versions] == [(1, a.id)]


def _registering_after_lookup(monkeypatch, names: list[str]) -> list[str]:
    """A failpoint: after a query's lookup of its names (once per try), another Lake
    registers the first of ``names`` not registered yet, as another process may between a
    query's lookup and its error. Returns the names registered, in order."""
    from queries.resolve import Resolver

    original = Resolver.look_up
    tries: list[Resolver] = []  # held, so that no try's id is reused
    registered: list[str] = []

    def look_up(self, refs):
        original(self, refs)
        if any(t is self for t in tries):
            return
        tries.append(self)
        with lake.connect() as other:
            for name in names:
                if other.catalog.find_table(TableName.parse(name)) is None:
                    other.write_table(name, pa.table({"id": [1, 2, 3]}))
                    registered.append(name)
                    return

    monkeypatch.setattr(Resolver, "look_up", look_up)
    return registered


def test_a_table_registered_while_a_query_ran_is_read_not_called_unknown(lk, monkeypatch):
    """A table another process registers between a query's lookup of its names and DuckDB's
    error for the name left to it: the error named the table unknown and listed it among
    the lake's tables in the same sentence. The query now runs again and reads it."""
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    registered = _registering_after_lookup(monkeypatch, ["ml.later"])
    assert lk.sql("SELECT count(*) AS n FROM ml.later").rows() == [{"n": 3}]
    assert registered == ["ml.later"]


def test_an_unknown_table_error_never_lists_the_table_it_calls_unknown(lk, monkeypatch):
    """When a table the query names is registered under every try (three names, one per
    try), the last try's error says so and what to do instead of contradicting itself."""
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    names = ["ml.a", "ml.b", "ml.c"]
    registered = _registering_after_lookup(monkeypatch, names)
    with pytest.raises(UnknownTable) as raised:
        lk.sql("SELECT count(*) AS n FROM ml.a, ml.b, ml.c")
    assert registered == names
    message = str(raised.value)
    assert message.startswith("Table ml.c (line 1, column ")
    assert message.endswith("ml.c was registered while the query ran: run it again."), message


def test_a_query_run_again_has_what_is_left_of_its_time_limit_not_all_of_it(lk, monkeypatch):
    """A query whose first try found a table registered meanwhile runs again; the first try
    spent its whole time limit (the failpoint moves the query's clock past it, as a slow
    first try would): the second try had the limit afresh and answered, so a call could
    take several times its limit. It stops at the limit."""
    import time

    import queries.sql
    from queries.exceptions import QueryTimeout

    lk.write_table("ml.labels", pa.table({"id": [1]}))
    registered = _registering_after_lookup(monkeypatch, ["ml.later"])

    class Clock:
        skipped = 0.0

        def monotonic(self) -> float:
            return time.monotonic() + self.skipped

    clock = Clock()
    monkeypatch.setattr(queries.sql, "clock", clock)
    look_up = queries.sql.Resolver.look_up

    def spending(self, refs):
        look_up(self, refs)  # the failpoint above: registers ml.later on the first try
        if registered and not clock.skipped:
            clock.skipped = 60.0

    monkeypatch.setattr(queries.sql.Resolver, "look_up", spending)
    with pytest.raises(QueryTimeout, match="ran past its time limit of 30 s"):
        lk.sql("SELECT count(*) AS n FROM ml.later", timeout_s=30)
    assert registered == ["ml.later"]
    assert lk.sql("SELECT count(*) AS n FROM ml.later", timeout_s=30).rows() == [{"n": 3}]


def test_a_repeated_time_travel_to_a_moment_reads_the_version_of_that_moment(lk):
    """The same text may pin another version at each call (``now()``): the kept rewrite is
    the version's, never the text's."""
    query = "SELECT count(*) AS n FROM ml.labels AT (TIMESTAMP => now())"
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    assert lk.sql(query).rows() == [{"n": 1}]
    with lake.connect() as other:
        other.write_table("ml.labels", pa.table({"id": [2]}))
    result = lk.sql(query)
    assert result.rows() == [{"n": 2}]
    assert [v.version for v in result.versions] == [1]


def _catalog_connections(backend) -> int:
    """The connections to the test's catalog: this process's open files of the SQLite
    database, or the server's sessions on the PostgreSQL database."""
    if backend.pg is None:
        database = os.path.realpath(backend.catalog_url.removeprefix("sqlite:///"))
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{fd}") == database
            except OSError:
                pass  # closed since it was listed
        return count
    connection = backend.pg.admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (backend.database,)
            )
            return cursor.fetchone()[0]
    finally:
        connection.close()


def test_queries_on_short_lived_threads_leave_no_catalog_connection_each(lk, backend):
    """The service runs queries on a thread pool that retires idle threads and starts new
    ones: the catalog reads of a query must not keep a connection per thread that ever ran
    one (20 threads left 20 more PostgreSQL sessions, or open files of the SQLite catalog)."""
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    query = "SELECT count(*) AS n FROM ml.labels"
    assert lk.sql(query).rows() == [{"n": 1}]
    before = _catalog_connections(backend)
    results = []

    def one() -> None:
        results.append(lk.sql(query).rows())

    for _ in range(20):
        worker = threading.Thread(target=one)
        worker.start()
        worker.join()
    assert results == [[{"n": 1}]] * 20
    assert _catalog_connections(backend) <= before + 1


def test_a_file_outside_the_lake_that_changes_in_place_is_read_again(lk):
    """Only lake tables' data files are immutable: a query that also names another file
    lets DuckDB check whether that file changed."""
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    outside = lk.storage.join(lk.storage.warehouse, "outside.parquet")
    fs, path = lk.storage.filesystem_for(outside)
    query = (
        f"SELECT (SELECT count(*) FROM read_parquet('{lk.storage.duckdb_path(outside)}')) AS side, "
        "count(*) AS n FROM ml.labels"
    )
    pq.write_table(pa.table({"x": [1, 2]}), path, filesystem=fs)
    assert lk.sql(query).rows() == [{"side": 2, "n": 1}]
    pq.write_table(pa.table({"x": list(range(50))}), path, filesystem=fs)
    assert lk.sql(query).rows() == [{"side": 50, "n": 1}]


def test_settings_a_statement_changes_do_not_reach_the_next_query_on_a_kept_cursor(lk):
    """Cursors a read ran on are kept for the next read: a SET, even a global one, must not
    change what later queries see (times in UTC, errors located)."""
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    at = (
        "SELECT strftime(TIMESTAMPTZ '2026-01-01 00:00:00+00', '%H') AS h, count(*) AS n "
        "FROM ml.labels"
    )
    assert lk.sql(at).rows() == [{"h": "00", "n": 1}]
    assert lk.sql("SELECT current_setting('TimeZone') AS tz").rows() == [{"tz": "UTC"}]
    lk.sql("SET GLOBAL TimeZone = 'Asia/Tokyo'")
    lk.sql("SET TimeZone = 'Asia/Tokyo'")
    assert lk.sql(at).rows() == [{"h": "00", "n": 1}]
    assert lk.sql("SELECT current_setting('TimeZone') AS tz").rows() == [{"tz": "UTC"}]
    with pytest.raises(QueryInvalid, match="line 1, column 8"):
        lk.sql("SELECT no_such_column FROM ml.labels")
    assert lk.sql(at).rows() == [{"h": "00", "n": 1}]


@pytest.mark.parametrize(
    "query,extension",
    [("SELECT * FROM delta_scan('x')", "delta"), ("SELECT st_point(1, 2) AS p", "spatial")],
)
def test_a_function_of_an_extension_the_lake_does_not_load_is_not_answered_with_install_advice(
    web_logs, query, extension
):
    """DuckDB's own hint says to INSTALL the extension or switch auto-install on: a download
    at run time, which the lake itself never makes (its extensions come from pinned packages)."""
    with pytest.raises(QueryInvalid) as refused:
        web_logs.sql(query)
    message = str(refused.value)
    assert f"exists in DuckDB's {extension} extension, which the lake does not load" in message
    assert "INSTALL" not in message and "auto" not in message
    assert message.count(";") == 0 and message.endswith(".")


@pytest.mark.parametrize(
    "statement",
    [
        "INSTALL spatial",
        "force install httpfs FROM 'http://extensions.example.org'",
        "-- refresh\nUPDATE EXTENSIONS",
        "UPDATE EXTENSIONS (httpfs)",
    ],
)
def test_lake_sql_refuses_to_install_extensions_at_run_time(lk, statement):
    """Trusted ``lake sql`` runs what the user types, but an INSTALL downloads the extension
    from DuckDB's repository (or any URL): the lake downloads nothing at run time but from
    package registries, so it is refused before DuckDB sees it, in one sentence."""
    with pytest.raises(QueryRefused) as refused:
        lk.sql(statement)
    message = str(refused.value)
    assert message.startswith("The lake installs no DuckDB extension at run time")
    assert "duckdb-extension-" in message and message.count(".") <= 2
    # an UPDATE of a DuckDB table that happens to be called extensions is a plain update
    lk.sql("CREATE OR REPLACE TABLE extensions AS SELECT 1 AS a")
    try:
        lk.sql("UPDATE extensions SET a = 2")
        assert lk.sql("SELECT a FROM extensions").rows() == [{"a": 2}]
    finally:
        lk.sql("DROP TABLE extensions")


# -- what is and is not a lake table ----------------------------------------------------------


def test_cte_names_shadow_lake_tables_and_duckdb_objects_are_left_alone(lk):
    lk.write_table("default.t", pa.table({"x": [1, 2, 3]}))
    result = lk.sql(
        """
        WITH t AS (SELECT x * 10 AS x FROM t)  -- inside its own definition, t is the lake table
        SELECT (SELECT sum(x)::BIGINT FROM t) AS from_cte,
               (SELECT count(*) FROM range(5)) AS from_function,
               (SELECT count(*) FROM information_schema.schemata
                WHERE catalog_name = 'memory' AND schema_name = 'main') AS from_duckdb
        """
    )
    assert result.rows() == [{"from_cte": 60, "from_function": 5, "from_duckdb": 1}]
    assert [str(v.table) for v in result.versions] == ["default.t"]


def test_an_unknown_table_is_an_error_naming_the_lake_tables(web_logs):
    with pytest.raises(
        UnknownTable,
        match=(
            r"Table web\.nothing \(line 2, column 6\) is neither a lake table, a CTE nor a "
            r"DuckDB table\. Lake tables: ml\.labels, web\.logs\."
        ),
    ) as caught:
        web_logs.sql("SELECT *\nFROM web.nothing")
    assert isinstance(caught.value, TableNotFound)
    assert (caught.value.line, caught.value.column) == (2, 6)
    with pytest.raises(
        UnknownTable,
        match=r"nothing \(line 1, column 15\) is not a lake table, so VERSION AS OF 1 cannot apply",
    ):
        web_logs.sql("SELECT * FROM nothing VERSION AS OF 1")


def test_lake_tables_cannot_be_changed_with_sql(web_logs):
    for statement in (
        "INSERT INTO web.logs SELECT * FROM web.logs",
        "DELETE FROM web.logs",
        "DROP TABLE web.logs",
    ):
        with pytest.raises(
            QueryRefused,
            match=r"web\.logs .* is a lake table: SQL reads lake tables but does not change them",
        ):
            web_logs.sql(statement)


# -- partitions and types --------------------------------------------------------------------


def test_partition_values_come_from_the_log_with_their_types_and_nulls(lk):
    data = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "day": pa.array(
                [date(2026, 11, 1), None, date(2026, 11, 2), date(2026, 11, 2)], pa.date32()
            ),
            "site": pa.array(["a b/c", "x", None, "100%"], pa.string()),
            "shard": pa.array([7, 7, None, 8], pa.int32()),
        }
    )
    _write(lk, "web.parts", data, partition_by=["day", "site", "shard"])
    result = lk.sql("SELECT * FROM web.parts ORDER BY id")
    assert result.table.to_pylist() == data.to_pylist()
    assert [c.type for c in result.columns] == ["BIGINT", "DATE", "VARCHAR", "INTEGER"]
    assert lk.sql("SELECT id FROM web.parts WHERE day IS NULL").rows() == [{"id": 2}]
    assert lk.sql("SELECT id FROM web.parts WHERE site = 'a b/c' AND shard = 7").rows() == [
        {"id": 1}
    ]


def test_a_filter_on_the_partition_column_prunes_files(web_logs):
    # max(id), not count(*): DuckDB answers a count over files it trusts from their footers,
    # with no scan left to show in the plan
    plan = web_logs.sql(
        "EXPLAIN ANALYZE SELECT max(id) FROM web.logs "
        "WHERE _event_date BETWEEN DATE '2026-11-01' AND DATE '2026-11-02'"
    )
    text = "\n".join(_values(plan, "explain_value"))
    # version 1 has four files (one per day, NULL included); the filter opens two
    assert "Scanning Files: 2/4" in text and "Total Files Read: 2" in text
    counted = web_logs.sql(
        "SELECT count(*) AS n FROM web.logs "
        "WHERE _event_date BETWEEN DATE '2026-11-01' AND DATE '2026-11-02'"
    )
    assert counted.rows() == [{"n": 3}]


def test_columns_added_by_schema_evolution_are_null_in_old_files_and_types_follow_the_schema(
    web_logs,
):
    result = web_logs.sql("SELECT id, status, request FROM web.logs ORDER BY id")
    assert _values(result, "status") == [None, None, None, None, 201, 404]
    assert _values(result, "request")[0] == {"method": "GET", "path": "/a", "query": None}
    assert [c.type for c in result.columns] == [
        "BIGINT",
        "INTEGER",
        'STRUCT("method" VARCHAR, path VARCHAR, query VARCHAR)',
    ]
    old = web_logs.sql("SELECT * FROM web.logs VERSION AS OF 0 LIMIT 0")
    assert old.column_names == ["id", "ts", "request", "_event_date"]
    assert old.columns[1].type == "TIMESTAMP WITH TIME ZONE"


def test_a_schema_column_that_no_file_holds_reads_as_null(lk):
    from deltalake import DeltaTable
    from deltalake.schema import Field

    lk.write_table("ml.labels", pa.table({"id": [1, 2]}))
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    DeltaTable(info.location, storage_options=lk.storage.delta_options()).alter.add_columns(
        [Field("note", "string")]
    )
    result = lk.sql("SELECT id, note FROM ml.labels ORDER BY id")
    assert result.rows() == [{"id": 1, "note": None}, {"id": 2, "note": None}]
    assert [c.type for c in result.columns] == ["BIGINT", "VARCHAR"]


def test_an_empty_version_returns_zero_rows_with_the_right_columns(lk):
    from deltalake import DeltaTable

    lk.write_table("ml.labels", pa.table({"id": [1, 2], "label": ["a", "b"]}))
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    DeltaTable(info.location, storage_options=lk.storage.delta_options()).delete()
    result = lk.sql("SELECT * FROM ml.labels")
    assert result.num_rows == 0
    assert [(c.name, c.type) for c in result.columns] == [("id", "BIGINT"), ("label", "VARCHAR")]
    assert result.versions[0].version == 1


# -- read-only mode and limits -----------------------------------------------------------------


def test_read_only_mode_reads_lake_tables_and_refuses_everything_else(web_logs, shared, tmp_path):
    assert web_logs.sql("SELECT count(*) AS n FROM web.logs", read_only=True).rows() == [{"n": 6}]
    refused = {
        "SELECT * FROM read_csv('/etc/passwd')": "Read-only mode refused this at line 1, column 15",
        f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'": "Read-only mode runs queries only",
        f"ATTACH '{tmp_path / 'x.duckdb'}' AS x": "Read-only mode runs queries only",
        "SET threads = 1": "Read-only mode runs queries only",
        "INSTALL httpfs": "Read-only mode runs queries only",
        "SELECT * FROM read_text('/etc/hostname')": "file system operations are disabled",
    }
    for statement, message in refused.items():
        with pytest.raises(QueryRefused, match=message):
            web_logs.sql(statement, read_only=True)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "x.duckdb").exists()
    for probe in (
        "SELECT * FROM duckdb_secrets()",
        "SELECT current_setting('s3_secret_access_key') AS s",
    ):
        try:
            shown = json.dumps(web_logs.sql(probe, read_only=True).to_json())
        except QueryError:  # refused, or not available without httpfs: nothing shown either way
            continue
        for secret in shared.secrets:
            assert secret not in shown


def test_the_locked_connection_refuses_set_attach_copy_and_files_by_itself(web_logs, tmp_path):
    """Below the statement check: DuckDB's own settings refuse, whatever reaches it."""
    import duckdb

    from queries import session

    connection = session.locked_connection(web_logs.storage, [])
    try:
        for statement in (
            "SET threads = 1",
            "SET enable_external_access = true",
            f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
            f"ATTACH '{tmp_path / 'x.duckdb'}' AS x",
            "INSTALL httpfs",
            "SELECT * FROM read_csv('/etc/passwd')",
        ):
            with pytest.raises(duckdb.Error):
                connection.execute(statement)
    finally:
        connection.close()
    assert not (tmp_path / "out.csv").exists()


def test_a_row_limit_truncates_and_a_time_limit_interrupts(web_logs):
    limited = web_logs.sql("SELECT * FROM web.logs ORDER BY id", max_rows=2)
    assert limited.truncated and _values(limited, "id") == [1, 2]
    assert not web_logs.sql("SELECT * FROM web.logs", max_rows=6).truncated
    with pytest.raises(QueryTimeout, match="time limit of 0.2 s"):
        web_logs.sql(
            "SELECT count(*) FROM range(1000000000000) a, web.logs", timeout_s=0.2, read_only=True
        )


# -- errors ----------------------------------------------------------------------------------


def test_errors_are_one_sentence_with_the_position_in_the_users_text(web_logs):
    cases = [
        (
            "SELECT * FORM web.logs",
            QuerySyntaxError,
            r"SQL syntax error at line 1, column 15: unexpected 'web'",
        ),
        (
            "SELECT id,, ts FROM web.logs",
            QuerySyntaxError,
            r"SQL syntax error at line 1, column 11: syntax error at or near \",\"",
        ),
        (
            "SELECT * FROM web.logs t VERSION AS OF 0",
            QuerySyntaxError,
            r"line 1, column 26: unexpected 'VERSION'; put a table alias after",
        ),
        (
            "SELECT * FROM web.logs VERSION AS OF 0\nWHERE nope = 1",
            QueryInvalid,
            r"line 2, column 7: Referenced column \"nope\" not found",
        ),
        (
            "SELECT CAST('x' AS INTEGER) FROM web.logs",
            QueryFailed,
            r"line 1, column 8 while converting a value: Could not convert string 'x' to INT32",
        ),
        (
            "SELECT CAST(request.path AS INTEGER) FROM web.logs",
            QueryFailed,
            r"failed while converting a value: Could not convert string '/\w' to INT32",
        ),
        (
            "SELECT 'é' AS e, nope FROM web.logs",
            QueryInvalid,
            r"line 1, column 18: Referenced column \"nope\"",
        ),
        (
            "SELECT no_such_function(1)",
            QueryInvalid,
            r"line 1, column 8: Scalar Function with name no_such_function does not exist",
        ),
        ("SELECT 1; SELECT 2", QuerySyntaxError, "one statement at a time"),
        ("SELECT * FROM web.logs VERSION AS OF -1", QuerySyntaxError, "versions start at 0"),
    ]
    for query, kind, message in cases:
        with pytest.raises(kind, match=message) as caught:
            web_logs.sql(query)
        assert isinstance(caught.value, QueryError) and isinstance(caught.value, LakeError)
        assert "\n" not in str(caught.value), query


# -- the command line -----------------------------------------------------------------------------


def test_lake_sql_prints_json_with_columns_rows_and_versions(web_logs, logs_cli):
    result = logs_cli(
        "sql",
        "SELECT id, ts, request, 1.50::DECIMAL(5,2) AS price FROM web.logs VERSION AS OF 0 "
        "WHERE id = 1",
        "--output",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert document["columns"] == [
        {"name": "id", "type": "BIGINT"},
        {"name": "ts", "type": "TIMESTAMP WITH TIME ZONE"},
        {"name": "request", "type": 'STRUCT("method" VARCHAR, path VARCHAR)'},
        {"name": "price", "type": "DECIMAL(5,2)"},
    ]
    assert document["rows"] == [
        {
            "id": 1,
            "ts": "2026-11-01T10:00:00+00:00",
            "request": {"method": "GET", "path": "/a"},
            "price": "1.50",
        }
    ]
    recorded = web_logs.history("web.logs")[0]
    assert document["versions"] == [
        {"table": "web.logs", "version": 0, "committed_at": recorded.committed_at.isoformat()}
    ]
    assert (document["row_count"], document["truncated"]) == (1, False)


def test_lake_sql_writes_csv_and_parquet_and_shows_a_truncated_table(web_logs, logs_cli, tmp_path):
    csv = logs_cli("sql", "SELECT id, request FROM web.logs WHERE id <= 2 ORDER BY id", "-o", "csv")
    assert csv.exit_code == 0, csv.stderr
    assert csv.stdout.splitlines() == [
        '"id","request"',
        '1,"{""method"":""GET"",""path"":""/a"",""query"":null}"',
        '2,"{""method"":""POST"",""path"":""/b"",""query"":null}"',
    ]
    out = tmp_path / "logs.parquet"
    parquet = logs_cli("sql", "SELECT * FROM web.logs", "--output", "parquet", "--out", str(out))
    assert parquet.exit_code == 0, parquet.stderr
    assert pq.read_table(out).num_rows == 6
    missing = logs_cli("sql", "SELECT 1", "--output", "parquet")
    assert missing.exit_code == 1 and "give a file with --out PATH" in missing.stderr
    shown = logs_cli("sql", "SELECT * FROM range(100)")
    assert shown.exit_code == 0
    assert "100 rows; showing 40" in shown.stdout.replace("\n", " ")
    read = logs_cli("sql", "SELECT count(*) FROM web.logs")
    assert "Read web.logs@1" in read.stdout
    piped = logs_cli("sql", "-", "--output", "csv", input="SELECT 42 AS x")
    assert piped.stdout == '"x"\n42\n'


def test_a_map_keeps_its_json_shape_when_it_is_empty(web_logs, logs_cli):
    """A map with text keys is a JSON object, but an empty one was answered [] (Arrow gives
    maps as lists of pairs) in lake sql's JSON, CSV and table, the service and the console:
    a program reading row["m"]["k"] failed on the empty ones. A map keyed otherwise is an
    array of {key, value}, empty or not."""
    sql = (
        "SELECT m, n, MAP {'a'::ENUM('a', 'b'): 1} AS e FROM (VALUES (MAP {'k': 1}, MAP {1: 2}), "
        "(map_from_entries([]::STRUCT(k VARCHAR, v INT)[]), "
        "map_from_entries([]::STRUCT(k INT, v INT)[]))) t(m, n)"
    )
    document = logs_cli("sql", sql, "--output", "json")
    assert document.exit_code == 0, document.stderr
    assert document.json()["rows"] == [
        {"m": {"k": 1}, "n": [{"key": 1, "value": 2}], "e": {"a": 1}},
        {"m": {}, "n": [], "e": {"a": 1}},
    ]
    csv = logs_cli("sql", sql, "--output", "csv")
    assert csv.stdout.splitlines()[1:] == [
        '"{""k"":1}","[{""key"":1,""value"":2}]","{""a"":1}"',
        '"{}","[]","{""a"":1}"',
    ]


def test_a_parquet_answer_with_repeated_column_names_reads_back_in_pyarrow(
    web_logs, logs_cli, tmp_path
):
    """`lake sql -o parquet` wrote a result's repeated names as they were: pyarrow, pandas and
    polars then refused the file ("Multiple matches for FieldRef.Name(a)"), exit 0. Its
    columns are named as CSV and JSON name them (a, a_1: DuckDB's rule, the lake's one), as the
    console's download was."""
    out = tmp_path / "dup.parquet"
    written = logs_cli(
        "sql", "SELECT 1 AS a, 2 AS a, 3 AS b", "--output", "parquet", "--out", str(out)
    )
    assert written.exit_code == 0, written.stderr
    assert pq.read_table(out).to_pylist() == [{"a": 1, "a_1": 2, "b": 3}]


def test_lake_sql_says_on_stderr_when_a_csv_or_parquet_answer_was_cut(web_logs, logs_cli, tmp_path):
    """`lake sql --read-only -o csv` cut the answer at the byte limit (query.max_bytes,
    100 MiB by default) and wrote the first rows with exit 0 and no word anywhere: a CSV
    has no room for the JSON's "truncated", and the table's note was the only one."""
    sql = "SELECT i, repeat('x', 1000) AS s FROM range(5000) t(i)"
    csv = logs_cli("sql", sql, "--read-only", "--max-bytes", "1MB", "--output", "csv")
    assert csv.exit_code == 0, csv.stderr
    written = len(csv.stdout.splitlines()) - 1
    assert 0 < written < 5000
    assert f"only its first {written:,} rows" in csv.stderr
    out = tmp_path / "cut.parquet"
    parquet = logs_cli("sql", sql, "--max-rows", "10", "--output", "parquet", "--out", str(out))
    assert pq.read_table(out).num_rows == 10 and "only its first 10 rows" in parquet.stderr
    whole = logs_cli("sql", "SELECT 1 AS x", "--read-only", "--output", "csv")
    assert whole.stdout == '"x"\n1\n' and whole.stderr == ""


def test_the_end_of_day_time_24_00_is_answered_as_24_00_in_every_output(web_logs, logs_cli):
    """DuckDB (and Postgres) hold TIME '24:00:00', the end of a day, unequal to 00:00:00:
    `lake sql` answered it as "00:00:00" in JSON and the table (Arrow's conversion wraps it
    to midnight) and as "<value out of range: 86400000000>" in CSV, with no error."""
    sql = (
        "SELECT id, TIME '24:00:00' AS t, TIME '10:00:00.5' AS u FROM web.logs "
        "VERSION AS OF 0 WHERE id = 1"
    )
    document = logs_cli("sql", sql, "--output", "json").json()
    assert document["rows"] == [{"id": 1, "t": "24:00:00", "u": "10:00:00.500000"}]
    csv = logs_cli("sql", sql, "--output", "csv")
    assert csv.stdout.splitlines() == ['"id","t","u"', '1,"24:00:00.000000",10:00:00.500000']
    table = logs_cli("sql", sql)
    assert "24:00:00" in table.stdout and "00:00:00 " not in table.stdout
    nested = (
        "SELECT [TIME '24:00:00', NULL, TIME '01:00:00'] AS l, {'t': TIME '24:00:00'} AS s, "
        "MAP {'end': TIME '24:00:00'} AS m, [[TIME '24:00:00']] AS ll, NULL::TIME[] AS n, "
        "MAP {TIME '24:00:00': 1} AS k"
    )
    assert logs_cli("sql", nested, "--output", "json").json()["rows"] == [
        {
            "l": ["24:00:00", None, "01:00:00"],
            "s": {"t": "24:00:00"},
            "m": {"end": "24:00:00"},
            "ll": [["24:00:00"]],
            "n": None,
            "k": [{"key": "24:00:00", "value": 1}],
        }
    ]
    csv = logs_cli("sql", nested, "--output", "csv").stdout
    assert "24:00:00" in csv and "00:00:00" not in csv.replace("24:00:00", "")


def test_float32_values_are_answered_as_their_shortest_decimal_in_every_output(web_logs, logs_cli):
    """A FLOAT (float32) 0.1 was answered in JSON and the table as 0.10000000149011612 (the
    float32 widened to a double), where the CSV and DuckDB say 0.1: a float32 is given as the
    shortest decimal that reads back as the same float32, nested too."""
    sql = (
        "SELECT 0.1::FLOAT AS f, 16777217::FLOAT AS big, 3.4028235e38::FLOAT AS top, "
        "1e-45::FLOAT AS tiny, '-0.0'::FLOAT AS z, 'nan'::FLOAT AS n, NULL::FLOAT AS x, "
        "[0.1::FLOAT, NULL] AS l, {'g': 2.2::FLOAT} AS s, 0.1::DOUBLE AS d "
        "FROM web.logs VERSION AS OF 0 WHERE id = 1"
    )
    document = logs_cli("sql", sql, "--output", "json").json()
    assert document["rows"] == [
        {
            "f": 0.1, "big": 16777216.0, "top": 3.4028235e38, "tiny": 1e-45, "z": -0.0,
            "n": "NaN", "x": None, "l": [0.1, None], "s": {"g": 2.2}, "d": 0.1,
        }
    ]  # fmt: skip
    assert "0.1000000" not in logs_cli("sql", sql, "--output", "json").stdout
    table = logs_cli("sql", sql).stdout
    assert "0.1" in table and "0.1000000" not in table and "2.2000000" not in table
    csv = logs_cli("sql", sql, "--output", "csv").stdout
    assert "0.1000000" not in csv and "2.2000000" not in csv


def test_float32_shortest_text_reads_back_as_the_same_float32():
    """The shortest decimal of a float32 matches numpy's (Dragon4) and reads back exactly."""
    import random
    import struct

    np = pytest.importorskip("numpy")
    from queries.output import float32_value

    rng = random.Random(7)
    bits = [rng.getrandbits(32) for _ in range(20_000)] + [1, 0x00800000, 0x7F7FFFFF, 0x3F800000]
    for b in bits:
        (v,) = struct.unpack("<f", struct.pack("<I", b))
        if v != v or v in (float("inf"), float("-inf")):
            continue
        shortest = float32_value(v)
        assert struct.unpack("<f", struct.pack("<f", shortest))[0] == v
        assert shortest == float(str(np.float32(v))), hex(b)


def test_infinite_and_bc_dates_are_answered_as_duckdb_writes_them_in_every_output(
    web_logs, logs_cli
):
    """DuckDB's DATE and TIMESTAMP hold infinities and years before 1 and after 9999, which
    Python's cannot: JSON and the table failed with an OverflowError traceback, and the CSV
    wrote "<value out of range: -2147483647>" or a wrong timestamp. Such values are given as
    DuckDB's text of them; the others as before."""
    sql = (
        "SELECT '-infinity'::DATE AS d, '0044-03-15 (BC)'::DATE AS bc, "
        "'infinity'::TIMESTAMP AS t, '-infinity'::TIMESTAMPTZ AS tz, "
        "'0044-03-15 (BC) 10:00:00.5'::TIMESTAMP AS bt, '10000-01-01'::DATE AS far, "
        "['infinity'::DATE, DATE '2020-01-02'] AS l, DATE '2020-01-01' AS ok "
        "FROM web.logs VERSION AS OF 0 WHERE id = 1"
    )
    document = logs_cli("sql", sql, "--output", "json").json()
    assert document["rows"] == [
        {
            "d": "-infinity", "bc": "0044-03-15 (BC)", "t": "infinity", "tz": "-infinity",
            "bt": "0044-03-15 (BC) 10:00:00.5", "far": "10000-01-01",
            "l": ["infinity", "2020-01-02"], "ok": "2020-01-01",
        }
    ]  # fmt: skip
    csv = logs_cli("sql", sql, "--output", "csv")
    assert csv.stdout.splitlines()[1] == (
        '"-infinity","0044-03-15 (BC)","infinity","-infinity","0044-03-15 (BC) 10:00:00.5",'
        '"10000-01-01","[""infinity"",""2020-01-02""]",2020-01-01'
    )
    narrow = (  # few columns, so the table does not fold the text
        "SELECT '-infinity'::DATE AS d, '0044-03-15 (BC)'::DATE AS bc "
        "FROM web.logs VERSION AS OF 0 WHERE id = 1"
    )
    table = logs_cli("sql", narrow)
    assert table.exit_code == 0, table.stderr
    assert "-infinity" in table.stdout and "0044-03-15 (BC)" in table.stdout


def test_nanoseconds_unions_and_unnamed_structs_are_answered_whole_in_every_output(
    web_logs, logs_cli
):
    """A TIMESTAMP_NS column crashed lake sql's JSON, CSV and table with a TypeError
    traceback (its bounds check overflowed int64); a TIME_NS lost its last three digits in
    JSON and the table (10:00:00.123456789 as 10:00:00.123456) while the CSV kept them; a
    union's FLOAT and TIME members were widened and wrapped (0.1 as 0.10000000149011612,
    24:00:00 as 00:00:00) in every output; an unnamed struct (ROW(1, 2): two fields named
    "") crashed every output with a ValueError traceback. Values are answered as DuckDB
    holds them; repeated field names get a suffix, as repeated column names do."""
    sql = (
        "SELECT '2024-01-01 10:00:00.123456789'::TIMESTAMP_NS AS tn, "
        "'1900-01-01 10:00:00.000000001'::TIMESTAMP_NS AS early, "
        "'10:00:00.123456789'::TIME_NS AS t, union_value(f := 0.1::FLOAT) AS u, "
        "union_value(e := '24:00:00'::TIME) AS ue, ROW(1, 'x') AS r, "
        "'-infinity'::TIMESTAMP_NS AS inf FROM web.logs VERSION AS OF 0 WHERE id = 1"
    )
    document = logs_cli("sql", sql, "--output", "json")
    assert document.exit_code == 0, document.stderr
    assert document.json()["rows"] == [
        {
            "tn": "2024-01-01T10:00:00.123456789", "early": "1900-01-01T10:00:00.000000001",
            "t": "10:00:00.123456789", "u": 0.1, "ue": "24:00:00", "r": {"": 1, "_1": "x"},
            "inf": "-infinity",
        }
    ]  # fmt: skip
    csv = logs_cli("sql", sql, "--output", "csv")
    assert csv.exit_code == 0, csv.stderr
    assert csv.stdout.splitlines()[1] == (
        "2024-01-01 10:00:00.123456789,1900-01-01 10:00:00.000000001,10:00:00.123456789,"
        '"0.1","24:00:00","{"""":1,""_1"":""x""}","-infinity"'
    )
    narrow = (  # few columns, so the table does not fold the text
        "SELECT '2024-01-01 10:00:00.123456789'::TIMESTAMP_NS AS tn, ROW(1, 2) AS r "
        "FROM web.logs VERSION AS OF 0 WHERE id = 1"
    )
    table = logs_cli("sql", narrow)
    assert table.exit_code == 0, table.stderr
    assert "2024-01-01T10:00:00.123456789" in table.stdout and '{"":1,"_1":2}' in table.stdout


def test_json_decimals_are_plain_digits_with_their_scale_never_exponents(web_logs, logs_cli):
    """A DECIMAL(18,10) 0.0000001000 was answered in JSON as "1.000E-7" and a zero as
    "0E-10" (Python's text of a Decimal), where the CSV and DuckDB say 0.0000001000 and
    0.0000000000 and the documented form is plain digits with the column's scale."""
    sql = (
        "SELECT 0.0000001000::DECIMAL(18,10) AS a, 0::DECIMAL(18,10) AS z, "
        "-12.50::DECIMAL(5,2) AS n, [0::DECIMAL(4,3)] AS l FROM web.logs VERSION AS OF 0 "
        "WHERE id = 1"
    )
    document = logs_cli("sql", sql, "--output", "json").json()
    assert document["rows"] == [
        {"a": "0.0000001000", "z": "0.0000000000", "n": "-12.50", "l": ["0.000"]}
    ]


def test_lake_sql_errors_are_one_line_and_exit_1(web_logs, logs_cli):
    result = logs_cli("sql", "SELECT * FROM web.logs VERSION AS OF 9")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: Version 9 of web.logs does not exist (VERSION AS OF 9 at line 1, column 15); "
        "the latest is 1."
    )
    assert result.stdout == ""


def test_event_time_ranges_skip_other_days_and_return_exactly_the_rows_in_range(lk, tmp_path):
    start = datetime(2026, 10, 1, 22, 0, tzinfo=UTC)
    lines = [
        json.dumps({"ts": (start + timedelta(minutes=30 * i)).isoformat(), "n": i}) + "\n"
        for i in range(200)
    ]
    log = tmp_path / "events.jsonl"
    log.write_text("".join(lines))
    lk.ingest_logs("app.events", str(log))
    days = (
        lk.sql("SELECT count(DISTINCT _event_date) AS d FROM app.events")
        .table.column("d")[0]
        .as_py()
    )
    assert days >= 4

    ranges = [
        "_event_time >= TIMESTAMPTZ '2026-10-02 23:30:00+00' "
        "AND _event_time < '2026-10-03 00:30:00'",
        # An offset that moves the bound across midnight UTC.
        "_event_time > TIMESTAMPTZ '2026-10-03 01:00:00+05' "
        "AND _event_time <= TIMESTAMPTZ '2026-10-03 04:00:00+05'",
        "_event_time BETWEEN '2026-10-04' AND '2026-10-04 00:00:00'",
        "_event_time < now() AND _event_time >= '2026-10-05'",
        # Before midnight: the next day's files are skipped, its first row must not be lost.
        "_event_time >= '2026-10-02' AND _event_time < '2026-10-03'",
        "_event_time > '2026-10-02 12:00' AND _event_time < DATE '2026-10-03'",
        "_event_time <= '2026-10-03' AND _event_time > '2026-10-02 22:00'",
        "n >= 0 AND (_event_time >= '2026-10-02' AND (_event_time < '2026-10-03'))",
    ]
    for condition in ranges:
        skipped = (
            lk.sql(f"SELECT n FROM app.events WHERE {condition} ORDER BY n")
            .table.column("n")
            .to_pylist()
        )
        # OR false: the same rows, but not a condition the lake can skip files by.
        full = (
            lk.sql(f"SELECT n FROM app.events WHERE ({condition}) OR false ORDER BY n")
            .table.column("n")
            .to_pylist()
        )
        assert skipped == full, condition
        assert skipped, condition


def test_a_bound_naming_a_column_where_sqlglot_reads_a_word_skips_no_rows(lk, tmp_path):
    # DuckDB reads date_trunc(day, ...) with the column day ('month' here); sqlglot reads it
    # as date_trunc('DAY', ...), a constant bound of 2026-10-03 that skipped the 1st's rows.
    start = datetime(2026, 10, 1, 22, 0, tzinfo=UTC)
    log = tmp_path / "events.jsonl"
    log.write_text(
        "".join(
            json.dumps({"ts": (start + timedelta(hours=6 * i)).isoformat(), "n": i, "day": "month"})
            + "\n"
            for i in range(12)
        )
    )
    lk.ingest_logs("app.events", str(log))
    condition = "_event_time >= date_trunc(day, TIMESTAMPTZ '2026-10-03 12:00')"
    rows = lk.sql(f"SELECT n FROM app.events WHERE {condition} ORDER BY n").table
    assert rows.column("n").to_pylist() == list(range(12))


def test_time_ranges_on_any_timestamp_column_skip_files_by_their_delta_statistics(lk):
    hour = datetime(2026, 10, 1, 10, tzinfo=UTC)
    batches = [
        [hour, hour + timedelta(minutes=59)],
        # Delta keeps statistics to the millisecond: this file's maximum is logged as 12:00:00.000.
        [hour + timedelta(hours=2), hour + timedelta(hours=2, microseconds=999)],
        [hour + timedelta(hours=4), hour + timedelta(hours=4, minutes=30)],
    ]
    for n, times in enumerate(batches):
        lk.write_table(
            "app.clicks",
            pa.table(
                {"ts": pa.array(times, pa.timestamp("us", tz="UTC")), "batch": [n] * len(times)}
            ),
        )
    query = (
        "SELECT ts, batch FROM app.clicks WHERE ts > '2026-10-01 12:00:00.0005' "
        "AND ts < TIMESTAMPTZ '2026-10-01 14:00:00+00' ORDER BY ts"
    )
    expected = [(batches[1][1], 1)]
    assert [tuple(r.values()) for r in lk.sql(query).table.to_pylist()] == expected

    # The first and last files cannot hold such rows: with them gone, the query still answers.
    snapshot = lk.delta(lk.catalog.get_table(TableName.parse("app.clicks"))).snapshot()
    fs, base = lk.storage.filesystem_for(snapshot.uri)
    for data_file in snapshot.files:
        batch = (
            pq.read_table(fs.open_input_file(f"{base.rstrip('/')}/{data_file.path}"))
            .column("batch")[0]
            .as_py()
        )
        if batch != 1:
            fs.delete_file(f"{base.rstrip('/')}/{data_file.path}")
    assert [tuple(r.values()) for r in lk.sql(query).table.to_pylist()] == expected
    with pytest.raises(LakeError):
        lk.sql("SELECT count(*) FROM app.clicks")  # the deleted files are really gone


def test_time_conditions_whose_casts_change_the_literal_return_the_rows_duckdb_returns(lk):
    day = datetime(2026, 10, 7, tzinfo=UTC)
    for n, hour in enumerate((1, 9, 20)):
        lk.write_table(
            "app.visits",
            pa.table(
                {
                    "created": pa.array([day - timedelta(days=200)], pa.timestamp("us", tz="UTC")),
                    "ts": pa.array([day + timedelta(hours=hour)], pa.timestamp("us", tz="UTC")),
                    "n": [n],
                }
            ),
        )
    for condition in [
        "ts >= DATE '2026-10-07 23:00:00'",  # the date alone: all three rows
        "ts <= CAST('2026-10-07 12:00:00+05' AS TIMESTAMP_US)",  # the offset dropped: 12:00 UTC
        "ts >= TIMESTAMPTZ '2026-10-07 12:00:00+05'",
    ]:
        skipped = lk.sql(f"SELECT n FROM app.visits WHERE {condition} ORDER BY n").table
        full = lk.sql(f"SELECT n FROM app.visits WHERE ({condition}) OR false ORDER BY n").table
        assert skipped.column("n").to_pylist() == full.column("n").to_pylist(), condition
        assert skipped.num_rows, condition
    renamed = "SELECT n FROM app.visits AS v(ts, created) WHERE ts < '2026-06-01' ORDER BY n"
    assert lk.sql(renamed).table.column("n").to_pylist() == [0, 1, 2]  # ts is "created" here


def test_a_file_changed_in_place_is_read_anew_between_lake_queries(web_logs, tmp_path):
    # Lake data files never change in place, a user's file may: trusting DuckDB's file caches
    # for lake tables must not make it trust them for every other file.
    scores = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"v": [1]}), scores)
    read = f"SELECT sum(v)::INTEGER AS s FROM read_parquet('{scores}')"
    assert web_logs.sql(read).rows() == [{"s": 1}]
    assert web_logs.sql("SELECT count(*) AS n FROM web.logs").rows() == [{"n": 6}]
    pq.write_table(pa.table({"v": [2, 3, 4, 5]}), scores)
    assert web_logs.sql("SELECT count(*) AS n FROM web.logs").rows() == [{"n": 6}]
    assert web_logs.sql(read).rows() == [{"s": 14}]


def _overwrite_labels_in_another_process() -> None:
    """``ml.labels`` overwritten with one row (id 100) by a process of its own, as far as
    the test's Lake knows: a commit it did not make."""
    import os
    import subprocess
    import sys

    subprocess.run(
        [
            sys.executable,
            "-c",
            "import lake, pyarrow as pa; "
            "lake.connect().write_table('ml.labels', pa.table({'id': [100]}), mode='overwrite')",
        ],
        check=True,
        env=dict(os.environ),
        cwd=os.getcwd(),
    )
