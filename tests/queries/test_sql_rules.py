"""The SQL layer's small rules, without a lake: parsing, types, partition paths, scans,
position mapping and JSON values."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake.delta.snapshot import DataFile, Snapshot
from queries.exceptions import QuerySyntaxError
from queries.output import json_value, unique_names
from queries.parse import parse_statement
from queries.scan import (
    Limit,
    duckdb_type,
    hive_matches,
    path_partition_values,
    scan_sql,
    within_days,
    within_times,
)
from queries.session import DuckError
from queries.sql import Rewritten

# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "clause,version,moment",
    [
        ("VERSION AS OF 3", 3, None),
        ("AT (VERSION => 3)", 3, None),
        ("FOR VERSION AS OF 3", 3, None),
        (
            "TIMESTAMP AS OF '2026-11-20 10:00:00'",
            None,
            datetime(2026, 11, 20, 10, tzinfo=UTC),
        ),
        (
            "TIMESTAMP AS OF '2026-11-20T12:00:00+02:00'",
            None,
            datetime(2026, 11, 20, 10, tzinfo=UTC),
        ),
        (
            "TIMESTAMP AS OF TIMESTAMP '2026-11-20 10:00:00'",
            None,
            datetime(2026, 11, 20, 10, tzinfo=UTC),
        ),
        (
            "AT (TIMESTAMP => '2026-11-20 10:00:00')",
            None,
            datetime(2026, 11, 20, 10, tzinfo=UTC),
        ),
        ("FOR SYSTEM_TIME AS OF '2026-11-20'", None, datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_each_time_travel_form_is_read_with_its_value(clause, version, moment):
    query = f"SELECT * FROM web.logs {clause} AS t WHERE t.x = 1"
    (ref,) = parse_statement(query).tables
    assert ref.parts == ("web", "logs")
    assert (ref.time_travel.version, ref.time_travel.moment) == (version, moment)
    assert query[ref.start : ref.end] == f"web.logs {clause}"
    assert ref.has_alias and ref.alias is None


@pytest.mark.parametrize(
    ("query", "bounds"),
    [
        (
            "SELECT * FROM web.logs WHERE _event_time >= '2026-10-07' "
            "AND _event_time < '2026-10-08'",
            ((">=", "'2026-10-07'", "2026-10-07"), ("<", "'2026-10-08'", "2026-10-08")),
        ),
        (
            "SELECT * FROM web.logs l JOIN x USING (id) "
            "WHERE l._event_time BETWEEN '2026-10-01' AND now()",
            ((">=", "'2026-10-01'", "2026-10-01"), ("<=", "NOW()", None)),
        ),
        (
            "SELECT * FROM web.logs WHERE status = 500 "
            "AND (_event_time >= '2026-10-07' AND (_event_time < '2026-10-08'))",
            ((">=", "'2026-10-07'", "2026-10-07"), ("<", "'2026-10-08'", "2026-10-08")),
        ),
        (
            "SELECT * FROM web.logs "
            "WHERE (_event_time > '2026-10-07' OR status = 500) AND status = 1",
            (),
        ),
        ("SELECT * FROM web.logs WHERE NOT (_event_time > '2026-10-07' AND status = 1)", ()),
        (
            "SELECT * FROM web.logs WHERE '2026-10-07' < _event_time AND status = 500",
            ((">", "'2026-10-07'", "2026-10-07"),),
        ),
        (
            "SELECT * FROM web.logs WHERE _event_time < TIMESTAMPTZ '2026-10-07 12:00:00+02'",
            (("<", "CAST('2026-10-07 12:00:00+02' AS TIMESTAMPTZ)", "2026-10-07 12:00:00+02"),),
        ),
        # Not a condition every returned row meets, or not on this table: nothing to skip by.
        ("SELECT * FROM web.logs WHERE _event_time > '2026-10-07' OR status = 500", ()),
        ("SELECT * FROM web.logs JOIN x USING (id) WHERE _event_time > '2026-10-07'", ()),
        ("SELECT * FROM web.logs WHERE _event_time > (SELECT max(_event_time) FROM x)", ()),
        ("SELECT * FROM web.logs l WHERE other._event_time > '2026-10-07'", ()),
        # sqlglot reads the column day as date_trunc's part 'DAY': DuckDB does not
        ("SELECT * FROM web.logs WHERE _event_time > date_trunc(day, now())", ()),
    ],
)
def test_event_time_conditions_a_table_must_meet_are_read_from_its_where(query, bounds):
    assert parse_statement(query).tables[0].event_time_bounds == bounds


def test_skipping_by_event_date_keeps_the_days_in_range_and_files_without_a_date():
    def noon(day: str) -> dict:
        moment = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
        return {"_event_time": (moment, moment + timedelta(hours=1))}

    # (date, range of _event_time): the lake's own files, one without a date, one without a
    # range, one whose date is not its rows' UTC day (written elsewhere): only f0 is skipped
    days = [
        ("2026-10-05", noon("2026-10-05")),
        ("2026-10-06", noon("2026-10-06")),
        ("2026-10-07", noon("2026-10-07")),
        (None, noon("2026-10-05")),
        ("2026-10-05", {}),
        ("2026-10-05", noon("2026-10-06")),
    ]
    files = tuple(
        DataFile(
            uri=f"s3://b/t/f{i}",
            path=f"f{i}",
            size=1,
            rows=1,
            partition_values={"_event_date": d},
            time_ranges=ranges,
        )
        for i, (d, ranges) in enumerate(days)
    )
    snapshot = Snapshot(
        "s3://b/t",
        3,
        datetime(2026, 10, 8, tzinfo=UTC),
        pa.schema([]),
        ("_event_date",),
        files,
    )
    kept, paths = within_days(snapshot, [f.uri for f in files], date(2026, 10, 6), None)
    assert paths == [f"s3://b/t/f{i}" for i in range(1, 6)]
    assert [f.path for f in kept.files] == [f"f{i}" for i in range(1, 6)]


def test_bounds_are_read_for_every_top_level_column_of_the_table_but_not_for_nested_fields():
    query = (
        "SELECT * FROM web.logs l WHERE l.ts >= '2026-10-07' AND status = 500 "
        "AND l.request.method = 'GET' AND 5 > bytes"
    )
    (ref,) = parse_statement(query).tables
    assert [(column, bound.operator) for column, bound in ref.bounds] == [
        ("ts", ">="),
        ("status", "="),
        ("bytes", "<"),
    ]
    assert ref.bounds_on("TS") == ((">=", "'2026-10-07'", "2026-10-07"),)


@pytest.mark.parametrize(
    ("condition", "literal"),
    [
        ("ts >= TIMESTAMPTZ '2026-10-07 12:00+05'", "2026-10-07 12:00+05"),
        ("ts >= DATE '2026-10-07'", "2026-10-07"),
        ("ts >= '2026-10-07 12:00'", "2026-10-07 12:00"),
        # Casts that change what the text means are left to DuckDB: a DATE drops the time of
        # day, a TIMESTAMP the offset.
        ("ts >= DATE '2026-10-07 23:00:00'", None),
        ("ts >= '2026-10-07 23:00'::DATE", None),
        ("ts <= CAST('2026-10-07 12:00:00+05' AS TIMESTAMP_US)", None),
        ("ts <= TIMESTAMP '2026-10-07 12:00:00+05'", None),
    ],
)
def test_only_literals_that_keep_their_meaning_are_read_as_times(condition, literal):
    (ref,) = parse_statement(f"SELECT * FROM web.logs WHERE {condition}").tables
    [bound] = ref.bounds_on("ts")
    assert bound.literal == literal


@pytest.mark.parametrize(
    "query",
    [
        # A sample is drawn before WHERE: skipping files would change which rows it draws.
        "SELECT * FROM web.logs TABLESAMPLE reservoir(1 ROWS) REPEATABLE (0) "
        "WHERE ts > '2026-06-01'",
        "SELECT * FROM web.logs USING SAMPLE 10% WHERE ts > '2026-06-01'",
        # Column aliases rename by position: ts here may be another column of the table.
        "SELECT * FROM web.logs AS x(ts, created) WHERE ts > '2026-06-01'",
    ],
)
def test_no_bounds_are_read_where_they_could_change_the_rows(query):
    (ref,) = parse_statement(query).tables
    assert ref.bounds == ()


def _clicks(ranges: list[tuple[str, str] | None]) -> Snapshot:
    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    files = tuple(
        DataFile(
            uri=f"s3://b/t/f{i}",
            path=f"f{i}",
            size=1,
            rows=1,
            time_ranges={} if r is None else {"ts": (moment(r[0]), moment(r[1]))},
        )
        for i, r in enumerate(ranges)
    )
    return Snapshot("s3://b/t", 3, datetime(2026, 10, 8, tzinfo=UTC), pa.schema([]), (), files)


@pytest.mark.parametrize(
    ("low", "high", "kept"),
    [
        # A logged maximum of 12:00:00.000 may stand for 12:00:00.000999: the file stays.
        (
            Limit(datetime(2026, 10, 1, 12, 0, 0, 500, tzinfo=UTC), strict=True),
            None,
            [1, 2, 3],
        ),
        (
            Limit(datetime(2026, 10, 1, 12, 0, 0, 1000, tzinfo=UTC), strict=False),
            None,
            [2, 3],
        ),
        # "< 14:00" cannot meet a file starting at 14:00; "<= 14:00" can.
        (None, Limit(datetime(2026, 10, 1, 14, tzinfo=UTC), strict=True), [0, 1, 3]),
        (None, Limit(datetime(2026, 10, 1, 14, tzinfo=UTC), strict=False), [0, 1, 2, 3]),
    ],
)
def test_skipping_by_file_statistics_allows_for_their_millisecond_precision(low, high, kept):
    snapshot = _clicks(
        [
            ("2026-10-01 10:00", "2026-10-01 10:59"),
            ("2026-10-01 11:00", "2026-10-01 12:00"),
            ("2026-10-01 14:00", "2026-10-01 14:30"),
            None,
        ]
    )
    files, paths = within_times(snapshot, [f.uri for f in snapshot.files], "ts", low, high)
    assert [f.path for f in files.files] == [f"f{i}" for i in kept]
    assert paths == [f"s3://b/t/f{i}" for i in kept]


def test_a_computed_time_is_kept_as_an_expression_and_its_span_ends_at_the_paren():
    query = "SELECT 1 FROM web.logs AT (TIMESTAMP => now() - INTERVAL (1 + 1) DAY) x"
    (ref,) = parse_statement(query).tables
    assert ref.time_travel.expression is not None and "INTERVAL" in ref.time_travel.expression
    assert query[ref.start : ref.end] == "web.logs AT (TIMESTAMP => now() - INTERVAL (1 + 1) DAY)"


def test_an_alias_written_before_at_is_kept_inside_the_replaced_span():
    query = 'SELECT 1 FROM "Web"."Logs" AS x(a, b) AT (VERSION => 1)'
    (ref,) = parse_statement(query).tables
    assert ref.parts == ("web", "logs")
    assert query[ref.start : ref.end] == '"Web"."Logs" AS x(a, b) AT (VERSION => 1)'
    assert ref.alias == "x(a, b)"


@pytest.mark.parametrize(
    "query,message",
    [
        ("SELECT * FROM t VERSION AS OF -1", "versions start at 0"),
        ("SELECT * FROM t VERSION AS OF x", "needs a version number"),
        ("SELECT * FROM t TIMESTAMP AS OF 'yesterday'", "is not a time"),
        (
            "SELECT * FROM t TIMESTAMP AS OF now()",
            "is not a time literal.*AT \\(TIMESTAMP => <expression>\\)",
        ),
        ("SELECT * FROM t BEFORE (VERSION => 1)", "is not supported; write AT \\(VERSION => 3\\)"),
        ("SELECT * FROM t AT (TIMESTAMP => (SELECT max(ts) FROM u))", "must be a constant time"),
        ("SELECT * FROM t x VERSION AS OF 3", "put a table alias after the time-travel clause"),
        ("", "The query is empty"),
        ("-- nothing", "The query is empty"),
        ("SELECT 1; SELECT 2", "holds 2 statements"),
        ("SELECT 'open", "cannot be read"),
        ("EXPLAIN", "EXPLAIN needs a statement"),
    ],
)
def test_malformed_queries_and_clauses_are_one_sentence(query, message):
    with pytest.raises(QuerySyntaxError, match=message) as caught:
        parse_statement(query)
    assert "\n" not in str(caught.value)


def test_explain_is_looked_through_and_positions_stay_in_the_users_text():
    query = "EXPLAIN ANALYZE\nSELECT * FROM web.logs VERSION AS OF 2"
    statement = parse_statement(query)
    (ref,) = statement.tables
    assert statement.kind == "explain" and statement.reads_only
    assert query[ref.start : ref.end] == "web.logs VERSION AS OF 2"
    assert (ref.line, ref.column) == (2, 15)
    with pytest.raises(QuerySyntaxError, match="line 2, column 15: unexpected 'web'"):
        parse_statement("EXPLAIN\nSELECT * FORM web.logs")


def test_cte_names_are_visible_as_duckdb_scopes_them():
    query = (
        "WITH a AS (SELECT * FROM a), b AS (SELECT * FROM a, c), c AS (SELECT 1) "
        "SELECT * FROM a, b, (WITH d AS (SELECT 1) SELECT * FROM d) s, d"
    )
    shadowed = [(ref.name, ref.shadowed) for ref in parse_statement(query).tables]
    assert sorted(shadowed) == sorted(
        [
            ("a", False),  # inside its own (non-recursive) definition: the outer table
            ("a", True),  # b sees a
            ("c", False),  # b does not see c, defined after it
            ("a", True),
            ("b", True),
            ("d", True),  # inside the subquery that defines it
            ("d", False),  # outside it
        ]
    )
    recursive = parse_statement(
        "WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT * FROM r) SELECT * FROM r"
    )
    assert all(ref.shadowed for ref in recursive.tables)


def test_table_roles_and_what_is_not_a_table_reference():
    def roles(query: str) -> list[tuple[str, str]]:
        return [(ref.name, ref.role) for ref in parse_statement(query).tables]

    assert roles("SELECT * FROM range(3), read_parquet('x.parquet'), web.logs") == [
        ("web.logs", "relation")
    ]
    assert roles("DESCRIBE web.logs") == [("web.logs", "statement")]
    assert roles("SUMMARIZE web.logs") == [("web.logs", "statement")]
    assert roles("COPY web.logs TO 'x.csv'") == [("web.logs", "copy")]
    assert roles("COPY web.logs FROM 'x.csv'") == [("web.logs", "target")]
    assert sorted(roles("INSERT INTO a.b SELECT * FROM web.logs")) == [
        ("a.b", "target"),
        ("web.logs", "relation"),
    ]
    assert roles("USE memory") == []
    assert parse_statement("SELECT 1").reads_only
    assert not parse_statement("SET threads = 1").reads_only
    assert not parse_statement("COPY (SELECT 1) TO 'x.csv'").reads_only


def test_full_name_column_qualifiers_are_found_for_removal():
    query = "SELECT web.logs.id, web.logs.request.method, t.request.method FROM web.logs"
    qualifiers = parse_statement(query).qualifiers
    assert [(q.parts, query[q.start : q.end]) for q in qualifiers] == [
        (("web", "logs"), "web."),
        (("web", "logs"), "web."),
        (("t", "request"), "t."),
    ]


# -- positions ---------------------------------------------------------------------------------


def test_positions_in_the_rewritten_text_map_back_to_the_users_text():
    original = "SELECT x FROM t WHERE y = 1"
    # "t" (14-15) became "(SELECT ...)" of 12 characters at 14-26
    rewritten = Rewritten(
        "SELECT x FROM (SELECT 1 x) WHERE y = 1", original, ((14, 15, 14, 26, 0),)
    )
    assert rewritten.original_position(7) == (7, None)  # before the edit
    assert rewritten.original_position(20) == (14, 0)  # inside the replacement: the reference
    assert rewritten.original_position(33) == (22, None)  # after it: shifted back
    assert rewritten.locate(len(b"SELECT x FROM (SELECT 1 ")) == (14, 0)


def test_duckdb_errors_are_read_from_their_json_form():
    connection = duckdb.connect()
    connection.execute("SET errors_as_json = true")
    with pytest.raises(duckdb.Error) as caught:
        connection.execute("SELECT nope FROM range(1)")
    found = DuckError.read(caught.value)
    assert (found.kind, found.position) == ("Binder", 7)
    assert found.message.startswith('Referenced column "nope" not found')
    plain = DuckError.read(
        duckdb.IOException('IO Error: No files found that match the pattern "x"\n\nLINE 1: ...')
    )
    assert (plain.kind, plain.message, plain.position) == (
        "IO",
        'No files found that match the pattern "x"',
        None,
    )


# -- types and partitions ----------------------------------------------------------------------

ARROW_TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint32(),
    pa.float32(),
    pa.float64(),
    pa.bool_(),
    pa.string(),
    pa.large_string(),
    pa.string_view(),
    pa.binary(),
    pa.date32(),
    pa.timestamp("us"),
    pa.timestamp("us", tz="UTC"),
    pa.timestamp("ns"),
    pa.decimal128(10, 2),
    pa.decimal128(38, 0),
    pa.list_(pa.int64()),
    pa.large_list(pa.string()),
    pa.map_(pa.string(), pa.int64()),
    pa.time64("us"),
    pa.struct([("a", pa.int32()), ("B c", pa.list_(pa.timestamp("us", tz="UTC")))]),
]


@pytest.mark.parametrize("arrow_type", ARROW_TYPES, ids=str)
def test_arrow_types_map_to_the_duckdb_type_duckdb_itself_chooses(arrow_type):
    connection = duckdb.connect()
    empty = pa.table({"c": pa.array([], arrow_type)})  # noqa: F841 - read by DuckDB by name
    expected = connection.execute("DESCRIBE SELECT * FROM empty").fetchall()[0][1]
    written = connection.execute(
        f"DESCRIBE SELECT CAST(NULL AS {duckdb_type(arrow_type)}) AS c"
    ).fetchall()[0][1]
    assert written == expected


def test_partition_folders_are_read_as_duckdb_reads_them():
    path = "/wh/env=prod/web/logs/day=2026-11-01/site=a%20b%2Fc/part-0.parquet"
    assert path_partition_values(path) == {"env": "prod", "day": "2026-11-01", "site": "a b/c"}
    assert path_partition_values("/t/day=__HIVE_DEFAULT_PARTITION__/x.parquet") == {"day": None}


def test_hive_paths_are_used_only_when_they_spell_the_logs_values():
    columns = [("day", pa.date32()), ("shard", pa.int32())]

    def file(values):
        return DataFile(uri="", path="", size=1, rows=1, partition_values=values)

    good = "/t/day=2026-11-01/shard=07/p.parquet"
    assert hive_matches(file({"day": "2026-11-01", "shard": "7"}), good, columns)
    assert not hive_matches(file({"day": "2026-11-02", "shard": "7"}), good, columns)
    assert not hive_matches(file({"day": None, "shard": "7"}), good, columns)
    assert hive_matches(
        file({"day": None, "shard": "7"}),
        "/t/day=__HIVE_DEFAULT_PARTITION__/shard=7/p.parquet",
        columns,
    )
    assert not hive_matches(
        file({"day": "2026-11-01", "shard": "7"}), "/t/random/p.parquet", columns
    )
    # whether '+' is a space is the reader's choice: never trusted
    assert not hive_matches(file({"site": "a+b"}), "/t/site=a+b/p.parquet", [("site", pa.string())])


def _snapshot(schema: pa.Schema, partitions: tuple[str, ...], files: list[DataFile]) -> Snapshot:
    return Snapshot(
        uri="/t",
        version=0,
        committed_at=datetime.now(UTC),
        schema=schema,
        partition_columns=partitions,
        files=tuple(files),
    )


def test_partition_values_without_hive_paths_come_from_the_log_typed(tmp_path):
    """A layout that is not hive-style (another writer's random prefixes): values by group."""
    schema = pa.schema(
        [("id", pa.int64()), ("day", pa.date32()), ("ts", pa.timestamp("us", tz="UTC"))]
    )
    files = []
    for name, ids, day, ts in [
        ("a1", [1, 2], "2026-11-01", "2026-11-01 10:00:00"),
        ("b7", [3], None, None),
        ("c3", [4], "2026-11-02", "2026-11-02T08:00:00+02:00"),
    ]:
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"id": pa.array(ids, pa.int64())}), path)
        files.append(
            DataFile(
                uri=str(path),
                path=path.name,
                size=1,
                rows=len(ids),
                partition_values={"day": day, "ts": ts},
            )
        )
    sql = scan_sql(_snapshot(schema, ("day", "ts"), files), [f.uri for f in files])
    assert "hive_partitioning = true" not in sql
    rows = (
        duckdb.connect()
        .execute(f"SET TimeZone = 'UTC'; SELECT * FROM {sql} ORDER BY id")
        .fetchall()
    )
    utc = UTC
    assert rows == [
        (1, date(2026, 11, 1), datetime(2026, 11, 1, 10, tzinfo=utc)),
        (2, date(2026, 11, 1), datetime(2026, 11, 1, 10, tzinfo=utc)),
        (3, None, None),
        (4, date(2026, 11, 2), datetime(2026, 11, 2, 6, tzinfo=utc)),
    ]


def test_a_scan_of_hive_paths_reads_partitions_from_paths_and_robust_mode_fills_missing_columns(
    tmp_path,
):
    schema = pa.schema([("id", pa.int64()), ("day", pa.date32()), ("note", pa.string())])
    folder = tmp_path / "day=2026-11-01"
    folder.mkdir()
    pq.write_table(
        pa.table({"id": pa.array([1], pa.int32())}), folder / "p.parquet"
    )  # a narrower type
    files = [
        DataFile(
            uri=str(folder / "p.parquet"),
            path="x",
            size=1,
            rows=1,
            partition_values={"day": "2026-11-01"},
        )
    ]
    snapshot = _snapshot(schema, ("day",), files)
    fast = scan_sql(snapshot, [files[0].uri])
    assert "hive_partitioning = true" in fast
    connection = duckdb.connect()
    with pytest.raises(duckdb.BinderException, match='does not have a column named "note"'):
        connection.execute(f"SELECT * FROM {fast}")
    robust = scan_sql(snapshot, [files[0].uri], robust=True)
    relation = connection.execute(f"SELECT * FROM {robust}")
    assert relation.fetchall() == [(1, date(2026, 11, 1), None)]
    assert [str(d[1]) for d in relation.description] == ["BIGINT", "DATE", "VARCHAR"]


def test_a_scan_unifies_files_by_name_only_when_a_version_has_more_than_one(tmp_path):
    """One file has nothing to unify with (DuckDB's binding of union_by_name is a cost of
    every query over a compacted table); several may differ in columns and must be unified."""
    schema = pa.schema([("id", pa.int64()), ("note", pa.string())])
    pq.write_table(pa.table({"id": [1], "note": ["a"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"note": ["b"], "id": [2]}), tmp_path / "b.parquet")
    files = [
        DataFile(uri=str(tmp_path / name), path=name, size=1, rows=1)
        for name in ("a.parquet", "b.parquet")
    ]
    one = scan_sql(_snapshot(schema, (), files[:1]), [files[0].uri])
    both = scan_sql(_snapshot(schema, (), files), [f.uri for f in files])
    assert "union_by_name" not in one
    assert "union_by_name = true" in both
    connection = duckdb.connect()
    assert connection.execute(f"SELECT * FROM {one}").fetchall() == [(1, "a")]
    assert connection.execute(f"SELECT * FROM {both} ORDER BY id").fetchall() == [
        (1, "a"),
        (2, "b"),
    ]


def test_the_kept_column_list_of_a_scan_is_the_one_of_its_schema_and_physical_names(tmp_path):
    """The cast list is kept per schema object: the same schema with other physical names
    (column mapping), or another schema, never gets a list made for another."""
    schema = pa.schema([("id", pa.int64()), ("note", pa.string())])
    pq.write_table(pa.table({"col-1": [1], "note": ["a"]}), tmp_path / "a.parquet")
    files = [DataFile(uri=str(tmp_path / "a.parquet"), path="a.parquet", size=1, rows=1)]
    plain = _snapshot(schema, (), files)
    mapped = Snapshot(
        uri="/t",
        version=0,
        committed_at=plain.committed_at,
        schema=schema,
        partition_columns=(),
        files=tuple(files),
        physical_names={"id": "col-1"},
    )
    first = scan_sql(plain, [files[0].uri])
    assert '"lake_files"."id"' in first
    assert scan_sql(plain, [files[0].uri]) == first
    assert '"lake_files"."col-1"' in scan_sql(mapped, [files[0].uri])
    assert scan_sql(plain, [files[0].uri]) == first
    wider = pa.schema([("id", pa.int64()), ("note", pa.string()), ("n", pa.float64())])
    assert "AS DOUBLE" in scan_sql(_snapshot(wider, (), files), [files[0].uri])
    rows = duckdb.connect().execute(f"SELECT * FROM {scan_sql(mapped, [files[0].uri])}")
    assert rows.fetchall() == [(1, "a")]


def test_an_empty_version_scans_to_no_rows_with_typed_columns():
    schema = pa.schema([("id", pa.int64()), ("tags", pa.list_(pa.string()))])
    relation = duckdb.connect().execute(f"SELECT * FROM {scan_sql(_snapshot(schema, (), []), [])}")
    assert relation.fetchall() == []
    assert [str(d[1]) for d in relation.description] == ["BIGINT", "VARCHAR[]"]


# -- JSON values ---------------------------------------------------------------------------------


def test_json_values_lose_nothing_and_stay_valid_json():
    interval = pa.array(
        [pa.MonthDayNano([1, 2, 3_500_000_000])], pa.month_day_nano_interval()
    ).to_pylist()[0]
    cases = [
        (Decimal("12.50"), "12.50"),
        (float("nan"), "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (datetime(2026, 11, 20, 10, tzinfo=UTC), "2026-11-20T10:00:00+00:00"),
        (date(2026, 11, 20), "2026-11-20"),
        (b"\xaa", "qg=="),
        (interval, "P1M2DT3.5S"),
        ({"a": Decimal("1.0"), "b": [1, None]}, {"a": "1.0", "b": [1, None]}),
        ([("k", 1)], {"k": 1}),
        ([(1, "a")], [{"key": 1, "value": "a"}]),
        (1.5, 1.5),
        (None, None),
    ]
    for value, expected in cases:
        assert json_value(value) == expected, value


def test_repeated_column_names_are_named_apart_as_duckdb_names_them():
    """One rule for every output: `lake sql` named repeated columns a, a_2 while a training
    set (its query a subquery, which DuckDB names itself) had a, a_1. The lake's rule is
    DuckDB's, checked here against DuckDB on every list of up to four names from a few that
    collide (case-blind, and with the suffixes themselves)."""
    import itertools

    import duckdb

    assert unique_names(["a", "a", "b", "a"]) == ["a", "a_1", "b", "a_2"]
    assert unique_names(["a", "a", "A", "a_1"]) == ["a", "a_1", "A_2", "a_1_1"]
    assert unique_names(["", ""]) == ["", "_1"]
    pool = ["a", "A", "a_1", "A_1", "a_2", "a_1_1", "b"]
    connection = duckdb.connect()
    for size in range(1, 5):
        for names in itertools.product(pool, repeat=size):
            select = ", ".join(f'{i} AS "{n}"' for i, n in enumerate(names))
            duckdbs = connection.sql(f"SELECT * FROM (SELECT {select})").columns
            assert unique_names(list(names)) == duckdbs, names
