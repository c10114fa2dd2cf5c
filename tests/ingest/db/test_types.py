"""Every source type, with edge values, through a real server and back, compared exactly."""

from __future__ import annotations

import datetime as dt
import json
import struct
from decimal import Decimal
from urllib.parse import quote

import pyarrow as pa
import pytest

from ingest.db.source import open_source
from ingest.exceptions import SourceValueUnsupported
from tests.ingest.db.fixtures import unique

UTC = dt.UTC


def f32(x: float) -> float:
    """The float32 nearest ``x``, as Python sees a float32 column's value."""
    return struct.unpack("f", struct.pack("f", x))[0]


def extract(url: str, delta_dir=None, **kw) -> tuple[pa.Schema, list[dict]]:
    with open_source(url) as src:
        schema = src.schema(**kw)
        with src.stream(**kw) as ex:
            batches = list(ex)
        assert ex.schema == schema
    rows = sorted((r for b in batches for r in b.to_pylist()), key=lambda r: r["id"])
    if delta_dir is not None:
        # Delta-compatible means delta-rs writes it, appends to it, and reads it back unchanged.
        from deltalake import DeltaTable, write_deltalake

        table = pa.Table.from_batches(batches, schema=schema)
        write_deltalake(str(delta_dir), table)
        write_deltalake(str(delta_dir), table, mode="append")
        back = DeltaTable(str(delta_dir)).to_pyarrow_table().to_pylist()
        assert sorted(back, key=lambda r: r["id"]) == sorted(rows + rows, key=lambda r: r["id"])
    return schema, rows


def check(schema: pa.Schema, rows: list[dict], expected_types: dict, expected_rows: list[dict]):
    assert {f.name: f.type for f in schema} == expected_types
    assert len(rows) == len(expected_rows)
    for got, want in zip(rows, expected_rows, strict=True):
        for name, value in want.items():
            assert got[name] == value, f"column {name}: {got[name]!r} != {value!r}"
            if isinstance(value, (Decimal, dt.datetime)) and value is not None:
                assert str(got[name]) == str(value), name  # same scale, same instant form


# --------------------------------------------------------------------------------------------
# PostgreSQL

PG_TYPES = {
    "id": pa.int32(),
    "i2": pa.int16(),
    "i4": pa.int32(),
    "i8": pa.int64(),
    "money": pa.decimal128(20, 4),
    "big": pa.decimal128(38, 10),
    "free": pa.string(),
    "wide": pa.string(),
    "f4": pa.float32(),
    "f8": pa.float64(),
    "b": pa.bool_(),
    "t": pa.string(),
    "vc": pa.string(),
    "ch": pa.string(),
    "d": pa.date32(),
    "ts": pa.timestamp("us"),
    "tstz": pa.timestamp("us", tz="UTC"),
    "tm": pa.string(),
    "tmtz": pa.string(),
    "iv": pa.string(),
    "u": pa.string(),
    "j": pa.string(),
    "jb": pa.string(),
    "ai": pa.list_(pa.int32()),
    "at": pa.list_(pa.string()),
    "an": pa.list_(pa.decimal128(6, 2)),
    "au": pa.list_(pa.string()),
    "tsa": pa.list_(pa.timestamp("us", tz="UTC")),
    "by": pa.binary(),
    "m": pa.string(),
    "cash": pa.string(),
}


def test_postgres_types_round_trip_exactly(pg_source, tmp_path):
    table, mood = unique("types"), unique("mood")
    pg_source.run(
        f"CREATE TYPE {mood} AS ENUM ('sad', 'happy')",
        f"""CREATE TABLE {table} (
            id int PRIMARY KEY, i2 smallint, i4 integer, i8 bigint,
            money numeric(20,4), big numeric(38,10), free numeric, wide numeric(50,5),
            f4 real, f8 double precision, b boolean, t text, vc varchar(10), ch char(3),
            d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval,
            u uuid, j json, jb jsonb, ai int[], at text[], an numeric(6,2)[], au uuid[],
            tsa timestamptz[], by bytea, m {mood}, cash money)""",
        f"""INSERT INTO {table} VALUES (
            1, 32767, 2147483647, 9223372036854775807,
            9999999999999999.9999, 999999999999999999999999999.9999999999,
            123456789012345678901234567890.123456789012345,
            123456789012345678901234567890123456789012345.12345,
            1.5, 1.7976931348623157e308, true, 'héllo wörld ✓ 日本語 🎉', 'abcdefghij', 'ab',
            '9999-12-31', '9999-12-31 23:59:59.999999', '2024-03-31 01:30:00.123456+02',
            '24:00:00', '12:00:00+03', '1 year 2 months 3 days 04:05:06.789',
            'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{{"b": 1,  "a": [1, 2]}}',
            '{{"b": 1, "a": {{"ü": null}}}}', '{{}}', '{{"x",NULL,"ü"}}', '{{1.5,2.25}}',
            '{{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}}', '{{"2024-01-01 00:00:00+00"}}',
            '\\x00ff00', 'happy', 1234.56)""",
        f"""INSERT INTO {table} VALUES (
            2, -32768, -2147483648, -9223372036854775808, -0.0001, -1.5, 'NaN', 0,
            -0.1, 5e-324, false, '', 'a', 'xyz', '0001-01-01', '0001-01-01 00:00:00',
            '1970-01-01 00:00:00+00', '00:00:00.000001', '00:00:00-05:30', '-1 day',
            '00000000-0000-0000-0000-000000000000', '[]', 'null', '{{1,NULL,-3}}', '{{}}',
            '{{}}', '{{}}', '{{}}', '', 'sad', -0.01)""",
        f"INSERT INTO {table} (id) VALUES (3)",
    )
    schema, rows = extract(pg_source.url, tmp_path / "delta", table=table)
    check(
        schema,
        rows,
        PG_TYPES,
        [
            {
                "i2": 32767,
                "i4": 2147483647,
                "i8": 9223372036854775807,
                "money": Decimal("9999999999999999.9999"),
                "big": Decimal("999999999999999999999999999.9999999999"),
                "free": "123456789012345678901234567890.123456789012345",
                "wide": "123456789012345678901234567890123456789012345.12345",
                "f4": 1.5,
                "f8": 1.7976931348623157e308,
                "b": True,
                "t": "héllo wörld ✓ 日本語 🎉",
                "vc": "abcdefghij",
                "ch": "ab ",  # char(n) keeps the padding Postgres gives it
                "d": dt.date(9999, 12, 31),
                "ts": dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                "tstz": dt.datetime(2024, 3, 30, 23, 30, 0, 123456, tzinfo=UTC),
                "tm": "24:00:00.000000",
                "tmtz": "12:00:00+03",
                "iv": "P1Y2M3DT4H5M6.789S",
                "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "j": '{"b": 1,  "a": [1, 2]}',
                "jb": '{"a": {"ü": null}, "b": 1}',
                "ai": [],
                "at": ["x", None, "ü"],
                "an": [Decimal("1.50"), Decimal("2.25")],
                "au": ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
                "tsa": [dt.datetime(2024, 1, 1, tzinfo=UTC)],
                "by": b"\x00\xff\x00",
                "m": "happy",
                "cash": "1234.56",
            },
            {
                "i2": -32768,
                "i4": -2147483648,
                "i8": -9223372036854775808,
                "money": Decimal("-0.0001"),
                "big": Decimal("-1.5000000000"),
                "free": "NaN",
                "wide": "0.00000",
                "f4": f32(-0.1),
                "f8": 5e-324,
                "b": False,
                "t": "",
                "d": dt.date(1, 1, 1),
                "ts": dt.datetime(1, 1, 1),
                "tstz": dt.datetime(1970, 1, 1, tzinfo=UTC),
                "tm": "00:00:00.000001",
                "tmtz": "00:00:00-05:30",
                "iv": "P-1D",
                "j": "[]",
                "jb": "null",
                "ai": [1, None, -3],
                "at": [],
                "an": [],
                "by": b"",
                "m": "sad",
                "cash": "-0.01",
            },
            {name: None for name in PG_TYPES if name != "id"},
        ],
    )


@pytest.mark.parametrize(
    ("sql_type", "value", "match"),
    [
        ("timestamptz", "'infinity'", "'infinity'"),
        ("date", "'-infinity'", "'infinity'"),
        ("date", "'0044-03-15 BC'", "BC date"),
        ("timestamp", "'0044-03-15 12:00 BC'", "BC date"),
        ("timestamptz", "'0001-01-01 00:00+00 BC'", "BC date"),
        ("date", "'10000-01-01'", "past the year 9999"),
        ("numeric(10,2)", "'NaN'", "'nan'"),
        ("int[]", "'{{1,2},{3,4}}'", "2-dimensional array"),
        # Inside arrays too, where they would land as wrapped integers no reader can convert.
        ("timestamptz[]", "'{2024-01-01,infinity}'", "an element that is 'infinity'"),
        ("date[]", "'{NULL,-infinity}'", "an element that is 'infinity'"),
        ("timestamp[]", "'{\"0044-03-15 BC\"}'", "an element .* BC date"),
        ("date[]", "'{10000-01-01}'", "an element .* past the year 9999"),
    ],
)
def test_postgres_values_without_a_lossless_arrow_form_are_refused(
    pg_source, sql_type, value, match
):
    table = unique("edge")
    pg_source.run(
        f"CREATE TABLE {table} (id int, v {sql_type})", f"INSERT INTO {table} VALUES (1, {value})"
    )
    with (
        open_source(pg_source.url) as src,
        pytest.raises(SourceValueUnsupported, match=match) as info,
    ):
        list(src.stream(table=table))
    assert info.value.column == "v"


def test_postgres_dates_at_the_years_1_and_9999_land_and_a_bc_date_is_refused_by_ingest(
    pg_source, lk
):
    from lake.core.errors import LakeError

    edge = unique("years")
    pg_source.run(
        f"CREATE TABLE {edge} (id int, d date, t timestamp)",
        f"INSERT INTO {edge} VALUES (1, '0001-01-01', '0001-01-01 00:00'), "
        "(2, '9999-12-31', '9999-12-31 23:59:59.999999')",
    )
    report = lk.ingest_db("edge.years", source=pg_source.url, table_name=edge)
    assert report.rows == 2
    pg_source.run(f"INSERT INTO {edge} VALUES (3, '0044-03-15 BC', NULL)")
    with pytest.raises(LakeError, match=r"Column 'd' holds .*BC date.*cast or filter it"):
        lk.ingest_db("edge.years", source=pg_source.url, table_name=edge)
    assert lk.sql("SELECT count(*) AS n FROM edge.years").rows() == [{"n": 2}]


def test_postgres_text_read_values_do_not_depend_on_the_databases_date_style_or_float_digits(
    pg_source,
):
    # Settings a production database may have (ALTER DATABASE ... SET), given here in the URL:
    # ranges, composites and geometric types are read as their text, which these would make
    # locale-shaped ('01/02/2024') or cut to 15 digits (0.30000000000000004 -> 0.3).
    table, pair = unique("styled"), unique("pair")
    pg_source.run(
        f"CREATE TYPE {pair} AS (at date, x double precision)",
        f"CREATE TABLE {table} (id int, r daterange, tr tsrange, c {pair}, p point)",
        f"""INSERT INTO {table} VALUES (1, '[2024-02-01,2024-03-01)',
            '[2024-02-01 10:00,2024-02-01 11:00)', ROW('2024-02-01', 0.1::float8 + 0.2::float8),
            point(0.1::float8 + 0.2::float8, 1e-300))""",
    )
    options = quote("-c DateStyle=SQL,DMY -c extra_float_digits=0")
    _, rows = extract(f"{pg_source.url}?options={options}", table=table)
    assert rows[0]["r"] == "[2024-02-01,2024-03-01)"
    assert rows[0]["tr"] == '["2024-02-01 10:00:00","2024-02-01 11:00:00")'
    assert rows[0]["c"] == "(2024-02-01,0.30000000000000004)"
    assert rows[0]["p"] == "(0.30000000000000004,1e-300)"
    # The database's day/month order still reads the query's own date literals.
    _, rows = extract(
        f"{pg_source.url}?options={options}",
        query="SELECT 1 AS id, CAST('01/02/2024' AS date) AS d",
    )
    assert rows[0]["d"] == dt.date(2024, 2, 1)


def test_postgres_domain_columns_keep_their_base_types_precision(pg_source, tmp_path):
    # The wire reports a domain column as its base type with no typmod, so a numeric(10,2)
    # domain looked unbounded and landed as text; arrays of such a domain too.
    table, price, price2, code = unique("doms"), unique("price"), unique("price2"), unique("code")
    pg_source.run(
        f"CREATE DOMAIN {price} AS numeric(10,2) CHECK (VALUE >= 0)",
        f"CREATE DOMAIN {price2} AS {price}",
        f"CREATE DOMAIN {code} AS varchar(4)",
        f"CREATE TABLE {table} (id int PRIMARY KEY, p {price}, pp {price2}, "
        f"ps {price}[], c {code}, n numeric(10,2))",
        f"INSERT INTO {table} VALUES (1, 12.34, 0.5, ARRAY[1.25, NULL]::{price}[], 'ab', 1.5)",
        f"INSERT INTO {table} (id) VALUES (2)",
    )
    schema, rows = extract(pg_source.url, tmp_path / "delta", table=table)
    check(
        schema,
        rows,
        {
            "id": pa.int32(),
            "p": pa.decimal128(10, 2),
            "pp": pa.decimal128(10, 2),
            "ps": pa.list_(pa.decimal128(10, 2)),
            "c": pa.string(),
            "n": pa.decimal128(10, 2),
        },
        [
            {
                "id": 1,
                "p": Decimal("12.34"),
                "pp": Decimal("0.50"),
                "ps": [Decimal("1.25"), None],
                "c": "ab",
                "n": Decimal("1.50"),
            },
            {"id": 2, "p": None, "pp": None, "ps": None, "c": None, "n": None},
        ],
    )
    query_schema, _ = extract(pg_source.url, query=f"SELECT id, p, ps FROM {table}")
    assert query_schema.field("p").type == pa.decimal128(10, 2)
    assert query_schema.field("ps").type == pa.list_(pa.decimal128(10, 2))


def test_postgres_inet_text_always_keeps_the_netmask_in_columns_and_arrays(pg_source):
    # docs/types.md promises CAST(c AS text): changing to psql's form would mix two spellings
    # of one address in a table extracted before and after.
    table = unique("nets")
    pg_source.run(
        f"CREATE TABLE {table} (id int PRIMARY KEY, ip inet, net cidr, ips inet[])",
        f"INSERT INTO {table} VALUES (1, '10.0.0.1', '10.0.0.0/8', "
        "ARRAY['10.0.0.1', '10.0.0.1/24', NULL]::inet[])",
    )
    schema, rows = extract(pg_source.url, table=table)
    assert schema.field("ip").type == pa.string()
    assert rows == [
        {
            "id": 1,
            "ip": "10.0.0.1/32",
            "net": "10.0.0.0/8",
            "ips": ["10.0.0.1/32", "10.0.0.1/24", None],
        }
    ]


def test_postgres_query_columns_are_typed_like_table_columns(pg_source):
    schema, rows = extract(
        pg_source.url,
        query="SELECT 1 AS id, CAST(12.5 AS numeric(8,3)) AS amount, now() AS at, "
        "ARRAY['a'] AS tags, CAST('x' AS text) AS t WHERE 'a%' LIKE 'a%'",
    )
    assert schema.field("amount").type == pa.decimal128(8, 3)
    assert schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("tags").type == pa.list_(pa.string())
    assert rows[0]["amount"] == Decimal("12.500")


# --------------------------------------------------------------------------------------------
# MySQL / MariaDB

MYSQL_TYPES = {
    "id": pa.int32(),
    "ti": pa.int8(),
    "tiu": pa.int16(),
    "si": pa.int16(),
    "siu": pa.int32(),
    "mi": pa.int32(),
    "miu": pa.int32(),
    "i": pa.int32(),
    "iu": pa.int64(),
    "bi": pa.int64(),
    "biu": pa.decimal128(20, 0),
    "money": pa.decimal128(20, 4),
    "big": pa.decimal128(38, 10),
    "wide": pa.string(),
    "f": pa.float32(),
    "d": pa.float64(),
    "flag": pa.bool_(),
    "bit1": pa.bool_(),
    "bits": pa.int64(),
    "bit64": pa.decimal128(20, 0),
    "yr": pa.int16(),
    "dt": pa.date32(),
    "dtm": pa.timestamp("us"),
    "ts": pa.timestamp("us", tz="UTC"),
    "tm": pa.string(),
    "ch": pa.string(),
    "vc": pa.string(),
    "tx": pa.string(),
    "bl": pa.binary(),
    "vb": pa.binary(),
    "bn": pa.binary(),
    "js": pa.string(),
    "en": pa.string(),
    "st": pa.string(),
}


def test_mysql_types_round_trip_exactly(mysql_source, tmp_path):
    table = unique("types")
    mysql_source.run(
        f"""CREATE TABLE {table} (
            id INT PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT,
            siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
            bi BIGINT, biu BIGINT UNSIGNED, money DECIMAL(20,4), big DECIMAL(38,10),
            wide DECIMAL(65,30), f FLOAT, d DOUBLE, flag TINYINT(1), bit1 BIT(1), bits BIT(10),
            bit64 BIT(64), yr YEAR, dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, tm TIME(6),
            ch CHAR(3), vc VARCHAR(20), tx TEXT, bl BLOB, vb VARBINARY(10), bn BINARY(3),
            js JSON, en ENUM('sad','happy'), st SET('a','b','c')
        ) CHARACTER SET utf8mb4""",
        # TIMESTAMP is stored in UTC and shown in the session's zone: insert at +02:00.
        "SET time_zone = '+02:00'",
        f"""INSERT INTO {table} VALUES (
            1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
            9223372036854775807, 18446744073709551615, 9999999999999999.9999,
            9999999999999999999999999999.9999999999,
            12345678901234567890123456789012345.123456789012345678901234567890,
            1.1, 1.7976931348623157e308, 1, b'1', b'1111111111',
            b'1111111111111111111111111111111111111111111111111111111111111111', 2155,
            '9999-12-31', '9999-12-31 23:59:59.999999', '2024-03-31 01:30:00.123456',
            '838:59:59.000000', 'ab', 'héllo ✓ 日本語 🎉', 'text', x'00ff00', x'0001', x'000100',
            '{{"b": 1, "a": [1, 2]}}', 'happy', 'a,c')""",
        f"""INSERT INTO {table} VALUES (
            2, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
            -0.0001, -1.5, 0, -0.1, 5e-324, 0, b'0', b'0', b'0', 1901, '1000-01-01',
            '1000-01-01 00:00:00', '1970-01-01 02:00:01', '-838:59:59.000000', '', '', '',
            x'', x'', x'000000', '[]', 'sad', '')""",
        f"INSERT INTO {table} (id) VALUES (3)",
    )
    schema, rows = extract(mysql_source.url, tmp_path / "delta", table=table)
    check(
        schema,
        rows,
        MYSQL_TYPES,
        [
            {
                "ti": 127,
                "tiu": 255,
                "si": 32767,
                "siu": 65535,
                "mi": 8388607,
                "miu": 16777215,
                "i": 2147483647,
                "iu": 4294967295,
                "bi": 9223372036854775807,
                "biu": Decimal("18446744073709551615"),
                "money": Decimal("9999999999999999.9999"),
                "big": Decimal("9999999999999999999999999999.9999999999"),
                "wide": "12345678901234567890123456789012345.123456789012345678901234567890",
                "f": f32(1.1),
                "d": 1.7976931348623157e308,
                "flag": True,
                "bit1": True,
                "bits": 1023,
                "bit64": Decimal(2**64 - 1),
                "yr": 2155,
                "dt": dt.date(9999, 12, 31),
                "dtm": dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
                "ts": dt.datetime(2024, 3, 30, 23, 30, 0, 123456, tzinfo=UTC),
                "tm": "838:59:59.000000",
                "ch": "ab",
                "vc": "héllo ✓ 日本語 🎉",
                "tx": "text",
                "bl": b"\x00\xff\x00",
                "vb": b"\x00\x01",
                "bn": b"\x00\x01\x00",
                "en": "happy",
                "st": "a,c",
            },
            {
                "ti": -128,
                "bi": -9223372036854775808,
                "biu": Decimal(0),
                "money": Decimal("-0.0001"),
                "big": Decimal("-1.5000000000"),
                "f": f32(-0.1),
                "d": 5e-324,
                "flag": False,
                "bit1": False,
                "bits": 0,
                "yr": 1901,
                "dt": dt.date(1000, 1, 1),
                "ts": dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
                "tm": "-838:59:59.000000",
                "tx": "",
                "bl": b"",
                "bn": b"\x00\x00\x00",
                "js": "[]",
                "en": "sad",
                "st": "",
            },
            {name: None for name in MYSQL_TYPES if name != "id"},
        ],
    )
    # The JSON text as the server keeps it (MySQL normalizes it, MariaDB stores it as written).
    assert json.loads(rows[0]["js"]) == {"a": [1, 2], "b": 1}


def test_mysql_float_columns_keep_every_bit_of_the_stored_single_precision_value(mysql_source):
    # The server prints FLOAT with 6 significant digits (1234567 -> '1234570'): a float32
    # holds 7 to 9, which the lake must keep.
    import random

    rng = random.Random(7)
    values = [f32(v) for v in (1234567, 16777215, 0.000123456789, 1.17549435e-38, 3.4e38)]
    values += [f32(rng.uniform(-1e6, 1e6)) for _ in range(50)]
    table = unique("floats")
    mysql_source.run(
        f"CREATE TABLE {table} (id INT PRIMARY KEY, f FLOAT, fu FLOAT UNSIGNED, f72 FLOAT(7,2))",
        *[
            (f"INSERT INTO {table} VALUES (:i, :v, :a, :v2)", {"i": i, "v": v, "a": abs(v),
                                                               "v2": round(v % 10000, 2)})
            for i, v in enumerate(values)
        ],
    )  # fmt: skip
    schema, rows = extract(mysql_source.url, table=table)
    assert schema.field("f").type == pa.float32()
    assert [r["f"] for r in rows] == values
    assert [r["fu"] for r in rows] == [abs(v) for v in values]
    assert [r["f72"] for r in rows] == [f32(round(v % 10000, 2)) for v in values]
    # As an incremental cursor too: the rows past a float watermark, none lost or repeated.
    with open_source(mysql_source.url) as src, src.stream(table=table, cursor="f") as ex:
        list(ex)
    assert ex.watermark.value == max(values)


def test_mysql_tinyint1_holding_other_values_is_refused_not_folded_into_true(mysql_source):
    table = unique("flags")
    mysql_source.run(
        f"CREATE TABLE {table} (id INT, flag TINYINT(1))",
        f"INSERT INTO {table} VALUES (1, 1), (2, 2)",
    )
    with (
        open_source(mysql_source.url) as src,
        pytest.raises(SourceValueUnsupported, match="holds 2"),
    ):
        list(src.stream(table=table))


# --------------------------------------------------------------------------------------------
# SQLite

SQLITE_TYPES = {
    "id": pa.int64(),
    "i": pa.int64(),
    "r": pa.float64(),
    "money": pa.decimal128(20, 4),
    "flag": pa.bool_(),
    "t": pa.string(),
    "b": pa.binary(),
    "d": pa.date32(),
    "ts": pa.timestamp("us"),
    "mixed": pa.string(),
    "dirty": pa.string(),
    "odd_date": pa.string(),
}


def test_sqlite_types_round_trip_exactly_and_mixed_columns_lose_nothing(sqlite_source, tmp_path):
    import sqlite3

    table = unique("types")
    path = sqlite_source.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute(
            f"""CREATE TABLE {table} (id INTEGER PRIMARY KEY, i INTEGER, r REAL,
            money NUMERIC(20,4), flag BOOLEAN, t TEXT, b BLOB, d DATE, ts DATETIME, mixed,
            dirty INTEGER, odd_date DATE)"""
        )
        conn.executemany(
            f"INSERT INTO {table} VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    1,
                    2**63 - 1,
                    1.5,
                    "12345.6789",
                    1,
                    "héllo ✓ 🎉",
                    b"\x00\xff\x00",
                    "2024-02-29",
                    "2024-01-01 12:34:56.123456",
                    1,
                    5,
                    "2024-01-01",
                ),
                (
                    2,
                    -(2**63),
                    -0.1,
                    "-0.0001",
                    0,
                    "",
                    b"",
                    "0001-01-01",
                    "2024-01-01T00:00:00",
                    "x",
                    "oops",
                    "2024-02-30",
                ),
                (3, None, None, None, None, None, None, None, None, 2.5, None, None),
            ],  # fmt: skip
        )
    schema, rows = extract(sqlite_source.url, tmp_path / "delta", table=table)
    check(
        schema,
        rows,
        SQLITE_TYPES,
        [
            {
                "i": 2**63 - 1,
                "r": 1.5,
                "money": Decimal("12345.6789"),
                "flag": True,
                "t": "héllo ✓ 🎉",
                "b": b"\x00\xff\x00",
                "d": dt.date(2024, 2, 29),
                "ts": dt.datetime(2024, 1, 1, 12, 34, 56, 123456),
                "mixed": "1",
                "dirty": "5",
                "odd_date": "2024-01-01",
            },
            {
                "i": -(2**63),
                "r": -0.1,
                "money": Decimal("-0.0001"),
                "flag": False,
                "t": "",
                "b": b"",
                "d": dt.date(1, 1, 1),
                "ts": dt.datetime(2024, 1, 1),
                "mixed": "x",
                "dirty": "oops",  # text in an INTEGER column: the column becomes text
                "odd_date": "2024-02-30",  # not a date: kept as written
            },
            {"i": None, "money": None, "flag": None, "ts": None, "mixed": "2.5"},
        ],
    )
