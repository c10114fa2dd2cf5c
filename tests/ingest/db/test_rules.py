"""The pure rules of database extracts: type mapping, schema changes, the watermark boundary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from ingest.db.keys import KeyChecker
from ingest.db.source import _Target, describe_source
from ingest.db.types import (
    MySqlField,
    PgType,
    SqliteProfile,
    canonical_time_text,
    decimal_type,
    mysql_column,
    pg_column,
    pg_numeric_typmod,
    sqlite_affinity,
    sqlite_column,
    time_text,
)
from ingest.db.watermark import BoundaryTracker, Watermark, fingerprint, read_predicate
from ingest.exceptions import (
    CursorColumnInvalid,
    CursorHasNaN,
    CursorHasNulls,
    DuplicateKey,
    InvalidSourceUrl,
    KeyHasNulls,
)

UTC = dt.UTC

# --------------------------------------------------------------------------------------------
# Decimals and Postgres typmods


@pytest.mark.parametrize(
    ("precision", "scale", "expected"),
    [
        (10, 2, pa.decimal128(10, 2)),
        (20, 4, pa.decimal128(20, 4)),
        (38, 0, pa.decimal128(38, 0)),
        (39, 0, None),  # too wide for decimal128 (and Delta): exact text instead
        (None, None, None),  # unbounded NUMERIC: exact text
        (5, -2, pa.decimal128(7, 0)),  # Postgres 15: rounded to hundreds
        (3, 5, pa.decimal128(5, 5)),  # Postgres 15: only fractions below 0.01
    ],
)
def test_decimal_type_holds_every_value_of_the_declared_numeric(precision, scale, expected):
    assert decimal_type(precision, scale) == expected


@pytest.mark.parametrize(
    ("typmod", "expected"),
    [(-1, (None, None)), ((20 << 16 | 4) + 4, (20, 4)), ((5 << 16 | (-2 & 0x7FF)) + 4, (5, -2))],
)
def test_postgres_numeric_typmods_decode_to_precision_and_scale(typmod, expected):
    assert pg_numeric_typmod(typmod) == expected


# --------------------------------------------------------------------------------------------
# Postgres mapping


def _pg(name, display=None, **kw):
    return PgType(name=name, display=display or name, **kw)


@pytest.mark.parametrize(
    ("pg_type", "arrow", "read_as"),
    [
        (_pg("int2"), pa.int16(), "native"),
        (_pg("int4"), pa.int32(), "native"),
        (_pg("int8"), pa.int64(), "native"),
        (_pg("numeric", precision=20, scale=4), pa.decimal128(20, 4), "native"),
        (_pg("numeric"), pa.string(), "text"),
        (_pg("float4"), pa.float32(), "native"),
        (_pg("float8"), pa.float64(), "native"),
        (_pg("bool"), pa.bool_(), "native"),
        (_pg("varchar"), pa.string(), "native"),
        (_pg("date"), pa.date32(), "native"),
        (_pg("timestamp"), pa.timestamp("us"), "native"),
        (_pg("timestamptz"), pa.timestamp("us", tz="UTC"), "native"),
        (_pg("time"), pa.string(), "time"),
        (_pg("uuid"), pa.string(), "text"),
        (_pg("jsonb"), pa.string(), "native"),
        (_pg("bytea"), pa.binary(), "native"),
        (_pg("mood", kind="e"), pa.string(), "text"),
        (_pg("interval"), pa.string(), "text"),
        (_pg("money"), pa.string(), "money"),
        (_pg("_int4", element=_pg("int4")), pa.list_(pa.int32()), "native"),
        (_pg("_text", element=_pg("text")), pa.list_(pa.string()), "native"),
        (
            _pg("_numeric", element=_pg("numeric", precision=6, scale=2)),
            pa.list_(pa.decimal128(6, 2)),
            "text[]",
        ),
        (_pg("_uuid", element=_pg("uuid")), pa.list_(pa.string()), "text[]"),
        (_pg("posint", kind="d", base=_pg("int4")), pa.int32(), "native"),
    ],
)
def test_postgres_types_map_to_delta_compatible_arrow_types(pg_type, arrow, read_as):
    col = pg_column("c", pg_type)
    assert col.arrow_type == arrow
    assert col.read_as == read_as


def test_postgres_columns_read_as_text_cannot_be_cursors():
    assert pg_column("c", _pg("int8")).cursor_ok
    assert not pg_column("c", _pg("mood", kind="e")).cursor_ok  # enum order is not text order
    assert not pg_column("c", _pg("numeric")).cursor_ok  # '10' < '9' as text


# --------------------------------------------------------------------------------------------
# MySQL mapping


@pytest.mark.parametrize(
    ("field", "arrow"),
    [
        (MySqlField(1, 4), pa.int8()),
        (MySqlField(1, 3, unsigned=True), pa.int16()),
        (MySqlField(1, 1), pa.bool_()),  # TINYINT(1)
        (MySqlField(2, 6), pa.int16()),
        (MySqlField(2, 5, unsigned=True), pa.int32()),
        (MySqlField(9, 8, unsigned=True), pa.int32()),
        (MySqlField(3, 11), pa.int32()),
        (MySqlField(3, 10, unsigned=True), pa.int64()),
        (MySqlField(8, 20), pa.int64()),
        (MySqlField(8, 20, unsigned=True), pa.decimal128(20, 0)),
        (MySqlField(246, 22, scale=4), pa.decimal128(20, 4)),  # DECIMAL(20,4): 20 + '.' + '-'
        (MySqlField(246, 11, scale=0), pa.decimal128(10, 0)),
        (MySqlField(246, 11, scale=2, unsigned=True), pa.decimal128(10, 2)),
        (MySqlField(246, 67, scale=10), pa.string()),  # DECIMAL(65,10)
        (MySqlField(4, 12), pa.float32()),
        (MySqlField(5, 22), pa.float64()),
        (MySqlField(16, 1), pa.bool_()),
        (MySqlField(16, 10), pa.int64()),
        (MySqlField(16, 64), pa.decimal128(20, 0)),
        (MySqlField(13, 4), pa.int16()),  # YEAR
        (MySqlField(10, 10), pa.date32()),
        (MySqlField(12, 26), pa.timestamp("us")),
        (MySqlField(7, 26), pa.timestamp("us", tz="UTC")),
        (MySqlField(11, 17), pa.string()),  # TIME
        (MySqlField(253, 40), pa.string()),
        (MySqlField(253, 40, binary=True), pa.binary()),
        (MySqlField(252, 65535), pa.string()),  # TEXT
        (MySqlField(252, 65535, binary=True), pa.binary()),  # BLOB
        (MySqlField(245, 0), pa.string()),  # JSON
        (MySqlField(254, 4, enum_or_set=True), pa.string()),
    ],
)
def test_mysql_types_map_to_delta_compatible_arrow_types(field, arrow):
    assert mysql_column("c", field).arrow_type == arrow


def test_mysql_tinyint1_refuses_values_other_than_0_and_1():
    from ingest.db.types import convert_column
    from ingest.exceptions import SourceValueUnsupported

    col = mysql_column("flag", MySqlField(1, 1))
    assert convert_column(col, [0, 1, None]).to_pylist() == [False, True, None]
    with pytest.raises(
        SourceValueUnsupported, match=r"Column 'flag' holds 2, which a tinyint\(1\)"
    ):
        convert_column(col, [0, 2])


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=999999), "23:59:59.999999"),
        (dt.timedelta(hours=838, minutes=59, seconds=59), "838:59:59.000000"),
        (-dt.timedelta(hours=838, minutes=59, seconds=59), "-838:59:59.000000"),
        (-dt.timedelta(microseconds=1), "-00:00:00.000001"),
    ],
)
def test_mysql_time_becomes_fixed_width_text_including_negative_and_long_durations(td, text):
    assert time_text(td) == text


def test_postgres_time_text_is_padded_to_the_same_fixed_width():
    arr = pa.array(["24:00:00", "10:00:00.5", None])
    assert canonical_time_text(arr).to_pylist() == ["24:00:00.000000", "10:00:00.500000", None]
    lists = pa.array([["01:02:03"], None, []], pa.list_(pa.string())).slice(1)
    assert canonical_time_text(lists).to_pylist() == [None, []]


# --------------------------------------------------------------------------------------------
# SQLite mapping


@pytest.mark.parametrize(
    ("declared", "affinity"),
    [
        ("INTEGER", "INTEGER"),
        ("BIGINT", "INTEGER"),
        ("NVARCHAR(70)", "TEXT"),
        ("CLOB", "TEXT"),
        ("BLOB", "BLOB"),
        ("", "BLOB"),
        ("DOUBLE PRECISION", "REAL"),
        ("NUMERIC(10,2)", "NUMERIC"),
        ("DATETIME", "NUMERIC"),
    ],
)
def test_sqlite_affinity_follows_sqlites_own_rules(declared, affinity):
    assert sqlite_affinity(declared) == affinity


@pytest.mark.parametrize("declared", ["DATETIME", "TIMESTAMP", "DATE"])
def test_a_sqlite_time_column_read_as_text_cannot_be_a_cursor(declared):
    # '2026-01-01T12:00:00Z' is no time SQLite's ISO check takes, so the column is read as
    # text, whose order is not time order: '2026-01-01 15:00:00' (CURRENT_TIMESTAMP's form)
    # sorts before it and was never extracted past that watermark.
    column = sqlite_column("updated_at", declared, SqliteProfile(texts=2, iso_datetimes=1))
    assert column.arrow_type == pa.string() and not column.cursor_ok
    assert "declared " + declared in (column.unordered or "")
    iso = SqliteProfile(texts=2, iso_dates=2, iso_datetimes=2)
    assert sqlite_column("updated_at", declared, iso).cursor_ok  # typed, time order
    assert sqlite_column("note", "TEXT", SqliteProfile(texts=2)).cursor_ok  # text is text


@pytest.mark.parametrize(
    ("declared", "profile", "arrow"),
    [
        ("INTEGER", SqliteProfile(integers=5, min_int=-3, max_int=9), pa.int64()),
        ("INTEGER", SqliteProfile(), pa.int64()),
        ("NUMERIC(10,2)", SqliteProfile(integers=2, reals=3, decimal_fits=5), pa.decimal128(10, 2)),
        # 0.125 does not fit NUMERIC(10,2): the stored doubles are kept as doubles.
        ("NUMERIC(10,2)", SqliteProfile(reals=3, decimal_fits=2), pa.float64()),
        ("REAL", SqliteProfile(integers=1, reals=1, min_int=1, max_int=1), pa.float64()),
        # An integer beyond 2**53 is not exact as a double: text keeps it.
        ("", SqliteProfile(integers=1, reals=1, min_int=2**60, max_int=2**60), pa.string()),
        ("BOOLEAN", SqliteProfile(integers=2, min_int=0, max_int=1), pa.bool_()),
        ("BOOLEAN", SqliteProfile(integers=2, min_int=0, max_int=2), pa.int64()),
        ("DATETIME", SqliteProfile(texts=4, iso_datetimes=4), pa.timestamp("us")),
        ("DATETIME", SqliteProfile(texts=4, iso_datetimes=3), pa.string()),
        ("DATE", SqliteProfile(texts=2, iso_dates=2, iso_datetimes=2), pa.date32()),
        ("TEXT", SqliteProfile(texts=2), pa.string()),
        ("INTEGER", SqliteProfile(integers=2, texts=1), pa.string()),  # mixed: text
        ("BLOB", SqliteProfile(blobs=2), pa.binary()),
        ("", SqliteProfile(blobs=1, texts=1, integers=1), pa.binary()),  # mixed with bytes
    ],
)
def test_sqlite_columns_take_the_declared_type_when_the_stored_values_agree(
    declared, profile, arrow
):
    assert sqlite_column("c", declared, profile).arrow_type == arrow


def test_sqlite_mixed_columns_keep_every_value_as_text():
    from ingest.db.types import convert_column

    col = sqlite_column("c", "INTEGER", SqliteProfile(integers=1, reals=1, texts=1))
    assert not col.cursor_ok
    assert convert_column(col, [7, 0.1, "x", None]).to_pylist() == ["7", "0.1", "x", None]


def test_sqlite_declared_decimals_read_reals_as_the_decimal_that_was_meant():
    from ingest.db.types import convert_column

    col = sqlite_column(
        "Total", "NUMERIC(10,2)", SqliteProfile(integers=1, reals=2, decimal_fits=3)
    )
    got = convert_column(col, [0.99, 1, 13.86, None]).to_pylist()
    assert got == [Decimal("0.99"), Decimal("1.00"), Decimal("13.86"), None]


# --------------------------------------------------------------------------------------------
# Watermarks


def _batch(ids, cursors, cursor_type=None):
    cursor_type = cursor_type or pa.int64()
    return pa.record_batch({"id": pa.array(ids, pa.int64()), "c": pa.array(cursors, cursor_type)})


def _run(batches, since, *, dedupe):
    tracker = BoundaryTracker(
        "c", arrow_type=batches[0].schema.field("c").type, since=since, dedupe=dedupe
    )
    delivered = [r["id"] for b in batches for r in tracker.admit(b).to_pylist()]
    return delivered, tracker.watermark()


def test_watermark_is_the_largest_cursor_read_whatever_the_batch_order():
    delivered, wm = _run([_batch([1, 2], [5, 9]), _batch([3], [7])], None, dedupe=False)
    assert delivered == [1, 2, 3]
    assert wm == Watermark("c", 9)


def test_with_a_key_rows_at_the_watermark_are_read_again_for_an_idempotent_merge():
    since = Watermark("c", 9)
    delivered, wm = _run([_batch([2, 4, 5], [9, 9, 12])], since, dedupe=False)
    assert delivered == [2, 4, 5]
    assert wm == Watermark("c", 12)


def test_without_a_key_rows_already_delivered_at_the_watermark_are_dropped_and_new_ones_kept():
    first, wm1 = _run([_batch([1, 2], [5, 9])], None, dedupe=True)
    assert first == [1, 2] and len(wm1.boundary) == 1
    # Row 3 arrives later with the same cursor as the old maximum: it must be delivered once.
    second, wm2 = _run([_batch([2, 3], [9, 9])], wm1, dedupe=True)
    assert second == [3]
    assert wm2.value == 9 and len(wm2.boundary) == 2
    third, wm3 = _run([_batch([2, 3, 4], [9, 9, 10])], wm2, dedupe=True)
    assert third == [4]
    assert wm3.value == 10


def test_identical_rows_at_the_boundary_count_as_a_multiset():
    _, wm = _run([_batch([7, 7], [3, 3])], None, dedupe=True)
    assert len(wm.boundary) == 2 and wm.boundary[0] == wm.boundary[1]
    again, _ = _run([_batch([7, 7, 7], [3, 3, 3])], wm, dedupe=True)
    assert again == [7]  # a third identical copy is new


def test_an_empty_incremental_read_keeps_the_previous_watermark():
    since = Watermark("c", 9, ("ab",))
    tracker = BoundaryTracker("c", arrow_type=pa.int64(), since=since, dedupe=True)
    assert tracker.watermark() is since


def test_the_exact_rule_drops_rows_below_the_watermark_that_a_coarser_sql_filter_let_through():
    since = Watermark("c", dt.datetime(2024, 1, 1, 12, 0))
    batch = _batch(
        [1, 2], [dt.datetime(2024, 1, 1, 3, 0), dt.datetime(2024, 1, 1, 12, 0)], pa.timestamp("us")
    )
    delivered, wm = _run([batch], since, dedupe=False)
    assert delivered == [2]


def test_a_null_cursor_is_refused_because_such_rows_could_never_be_picked_up():
    tracker = BoundaryTracker("c", arrow_type=pa.int64(), since=None, dedupe=False)
    with pytest.raises(CursorHasNulls, match="cursor column 'c' holds NULLs"):
        tracker.admit(_batch([1, 2], [1, None]))


def test_a_nan_cursor_is_refused_because_no_watermark_orders_it():
    # Postgres orders NaN above every number, so `c >= watermark` reads it, but Arrow's
    # comparisons are false for NaN and its max skips it: a row whose cursor is NaN was
    # silently never delivered once a watermark existed.
    for since in (None, Watermark("c", 1.5)):
        tracker = BoundaryTracker("c", arrow_type=pa.float64(), since=since, dedupe=False)
        with pytest.raises(CursorHasNaN, match="cursor column 'c' holds NaN in the source"):
            tracker.admit(_batch([1, 2], [2.0, float("nan")], pa.float64()), source="the source")


def test_a_watermark_from_another_column_is_refused():
    with pytest.raises(CursorColumnInvalid, match="watermark is on column 'other'"):
        BoundaryTracker("c", arrow_type=pa.int64(), since=Watermark("other", 1), dedupe=False)


def test_cursor_types_without_a_total_order_are_refused():
    with pytest.raises(CursorColumnInvalid, match="no total order"):
        BoundaryTracker("c", arrow_type=pa.bool_(), since=None, dedupe=False)


@pytest.mark.parametrize(
    "value",
    [
        42,
        Decimal("12345.6700"),
        0.1,
        "01HZY",
        dt.date(2024, 2, 29),
        dt.datetime(2024, 1, 1, 12, 0, 0, 123456),
        dt.datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
    ],
)
def test_watermarks_survive_a_json_round_trip_exactly(value):
    import json

    wm = Watermark("c", value, ("00ff",))
    back = Watermark.from_dict(json.loads(json.dumps(wm.to_dict())))
    assert back == wm and type(back.value) is type(value)


def test_a_watermark_can_be_rebuilt_from_the_catalogs_cursor_and_value():
    wm = Watermark("updated_at", dt.datetime(2024, 1, 1, tzinfo=UTC), ("ab",))
    value = {k: v for k, v in wm.to_dict().items() if k != "column"}
    assert value["type"] == "datetime"
    assert Watermark.from_dict(value, column="updated_at") == wm


def test_fingerprints_do_not_depend_on_column_order_but_on_every_value():
    assert fingerprint(["a", "b"], [1, "x"]) == fingerprint(["b", "a"], ["x", 1])
    assert fingerprint(["a", "b"], [1, "x"]) != fingerprint(["a", "b"], [1, "y"])
    assert fingerprint(["a"], [1]) != fingerprint(["a"], [1.0])
    aware = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert fingerprint(["t"], [aware]) == fingerprint(["t"], [aware.astimezone(UTC)])


def test_exact_numbers_are_fingerprinted_by_value_and_old_watermarks_still_match():
    assert fingerprint(["a"], [Decimal("1.2500")]) == fingerprint(["a"], [Decimal("1.25")])
    assert fingerprint(["a"], [Decimal("5.00")]) == fingerprint(["a"], [5])
    assert fingerprint(["a"], [Decimal("1.25")]) != fingerprint(["a"], [Decimal("1.26")])
    assert fingerprint(["a"], [Decimal("5")]) != fingerprint(["a"], [5.0])
    assert fingerprint(["a"], [5.0], by="widened") == fingerprint(["a"], [5])
    assert fingerprint(["a"], [5.5], by="widened") == fingerprint(["a"], [5.5])
    # A boundary stored before (decimals hashed as written) still drops the row it names.
    schema = pa.schema([("seq", pa.int64()), ("d", pa.decimal128(6, 4))])
    rows = pa.record_batch(
        [pa.array([1, 1]), pa.array([Decimal("1.2500")] * 2, schema[1].type)], schema=schema
    )
    old = fingerprint(["seq", "d"], [1, Decimal("1.2500")], by="written")
    assert old != fingerprint(["seq", "d"], [1, Decimal("1.2500")])
    since = Watermark("seq", 1, (old,), ("seq", "d"))
    tracker = BoundaryTracker("seq", arrow_type=pa.int64(), since=since, dedupe=True)
    assert tracker.admit(rows).num_rows == 1 and tracker.rows_skipped == 1


@pytest.mark.parametrize(
    "dialect", [postgresql.psycopg2.dialect(), mysql.pymysql.dialect(), sqlite.pysqlite.dialect()]
)
def test_the_incremental_predicate_binds_the_watermark_and_quotes_identifiers(dialect):
    t = sa.table("Orders", sa.column("Updated At"))
    stmt = sa.select(t.c["Updated At"]).where(
        read_predicate(t.c["Updated At"], sa.bindparam("lake_since", "2024-01-01'; DROP"))
    )
    sql = str(stmt.compile(dialect=dialect))
    assert "DROP" not in sql and "IS NULL" in sql
    q = dialect.identifier_preparer.quote("Updated At")
    assert f"{q} >=" in sql and dialect.identifier_preparer.quote("Orders") in sql


def test_a_users_query_keeps_colons_and_percent_signs_as_written():
    from ingest.db.introspect import compile_sql
    from ingest.db.source import _PG_COMPILER

    query = "SELECT a FROM t WHERE b LIKE 'x%' AND c = '10:30 :name' AND d::int = 1 -- end"
    src = _Target(None, None, query).selectable(["a"])
    sql = compile_sql(sa.select(src.c.a).select_from(src), _PG_COMPILER)
    assert query in sql
    assert sql.rstrip().endswith(") AS lake_src")


# --------------------------------------------------------------------------------------------
# Keys and source descriptions


def test_key_checker_reports_duplicated_keys_with_examples():
    checker = KeyChecker(["a", "b"])
    checker.add(pa.record_batch({"a": [1, 2], "b": ["x", "y"]}))
    checker.add(pa.record_batch({"a": [1, 3], "b": ["x", "z"]}))
    with pytest.raises(DuplicateKey, match=r"\(a, b\) is not unique.*\(1, 'x'\)") as info:
        checker.check()
    assert info.value.examples == [(1, "x")]


def test_key_checker_refuses_null_keys():
    with pytest.raises(KeyHasNulls, match="key column 'a' holds NULLs"):
        KeyChecker(["a"]).add(pa.record_batch({"a": [1, None]}))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg2://etl:s3cr%40t@db.internal:6543/sales?sslmode=require",
            {
                "dialect": "postgresql",
                "host": "db.internal",
                "port": 6543,
                "database": "sales",
                "user": "etl",
            },
        ),
        (
            "mysql+pymysql://root:pw@127.0.0.1/shop",
            {
                "dialect": "mysql",
                "host": "127.0.0.1",
                "port": 3306,
                "database": "shop",
                "user": "root",
            },
        ),
        (
            "sqlite:///data/app.db",
            {
                "dialect": "sqlite",
                "host": None,
                "port": None,
                "database": "data/app.db",
                "user": None,
            },
        ),
    ],
)
def test_describe_source_names_the_source_without_its_password(url, expected):
    described = describe_source(url)
    assert described == expected
    assert "s3cr" not in repr(described) and "pw" not in repr(described.values())


def test_an_unparsable_url_is_refused_without_echoing_it():
    with pytest.raises(InvalidSourceUrl) as info:
        describe_source("not a url :: hunter2")
    assert "hunter2" not in str(info.value)
