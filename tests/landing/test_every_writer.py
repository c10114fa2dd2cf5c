"""Every writer lands every type a source can produce, on both backend pairs.

Log ingest, full / incremental / keyed extracts, ``write_table``, ``optimize`` and the
rewrite of a widened table each add columns of every Arrow type their sources produce to
an existing table. After every write, every version of the table is read by three readers
that share no code: the lake (DuckDB over the version's files), deltalake, and DuckDB's own
Delta reader (delta-kernel). They must agree row for row; or the write is refused with one
sentence and the table stays at its last good version.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from lake.core.errors import LakeError
from tests.ingest.db.fixtures import SourceDb, unique

UTC = dt.UTC


# --------------------------------------------------------------------------------------------
# Three readers


def _delta_extension() -> str:
    import duckdb_extension_delta

    [path] = glob.glob(
        str(
            Path(duckdb_extension_delta.__file__).parent
            / "extensions"
            / "*"
            / "delta.duckdb_extension"
        )
    )
    return path


def _canonical(table: pa.Table) -> list[str]:
    """Rows as sorted JSON text: equal values print equal whatever reader typed them."""

    def plain(value: object) -> object:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dt.datetime):
            return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, Decimal):
            return str(value.normalize()) if value == value else "NaN"
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, (dt.date, dt.time, uuid.UUID)):
            return str(value)
        return value

    rows = [json.dumps(plain(row), sort_keys=True) for row in table.to_pylist()]
    return sorted(rows)


def read_everywhere(lk, name: str, only: Sequence[int] | None = None) -> dict[int, list[str]]:
    """Every version of ``name`` (or the ``only`` ones) as read by the lake, deltalake and
    DuckDB's Delta reader, which must agree; the rows of each version."""
    import duckdb
    from deltalake import DeltaTable

    info = lk.table(name)
    versions = [v.version for v in lk.history(name)]
    assert versions == list(range(versions[-1] + 1)), f"versions of {name}: {versions}"
    if only is not None:
        versions = list(only)
    con = duckdb.connect()
    lk.storage.configure_duckdb(con)
    con.execute(f"LOAD '{_delta_extension()}'")
    # a data file never changes: its size and footer are asked of the server once, not once
    # a version (version k reads the files of every version before it)
    con.execute("SET enable_http_metadata_cache = true")
    con.execute("SET parquet_metadata_cache = true")
    # one table moved forward version by version: deltalake reads the log entries after the
    # version it holds, not the whole log again (3x less time over 50 of 150 local versions)
    table = DeltaTable(
        info.location, version=versions[0], storage_options=lk.storage.delta_options()
    )
    seen = {}
    for version in versions:
        by_lake = lk.sql(f"SELECT * FROM {name} VERSION AS OF {version}").table
        table.load_as_version(version)
        assert table.version() == version, f"{name}: deltalake loaded {table.version()}"
        by_deltalake = table.to_pyarrow_table()
        by_duckdb = con.execute(
            f"SELECT * FROM delta_scan('{info.location}', version={version})"
        ).to_arrow_table()
        rows = _canonical(by_lake)
        assert _canonical(by_deltalake) == rows, f"{name}@{version}: deltalake and the lake differ"
        assert _canonical(by_duckdb) == rows, f"{name}@{version}: DuckDB and the lake differ"
        seen[version] = rows
    con.close()
    # A client that starts at the newest version reads its checkpoint, where one moved
    # forward replays the log entries after the version it held: deltalake read fresh too.
    newest = versions[-1]
    fresh = DeltaTable(info.location, version=newest, storage_options=lk.storage.delta_options())
    assert _canonical(fresh.to_pyarrow_table()) == seen[newest], f"{name}@{newest}: fresh"
    return seen


def column_types(lk, name: str) -> dict[str, str]:
    return {c["name"]: c["type"] for c in lk.describe(name).to_json()["columns"]}


def assert_refused_cleanly(lk, name: str, error: LakeError, version_before: int | None) -> None:
    message = str(error)
    assert "\n" not in message and message.endswith("."), message
    after = lk.table(name).current_version if version_before is not None else None
    assert after == version_before, f"{name} moved from {version_before} to {after}: {message}"


# --------------------------------------------------------------------------------------------
# write_table and optimize: every Arrow type


def _arrow_columns() -> dict[str, pa.Array]:
    """One column per Arrow type a Python source can hand the lake, 6 values each (the
    lake gets 3 of them as a slice at offset 2, so nested arrays arrive sliced)."""
    t0 = dt.datetime(2026, 11, 1, 10, 30, 15, 123456)
    return {
        "ts_utc": pa.array([t0.replace(tzinfo=UTC)] * 6, pa.timestamp("us", tz="UTC")),
        "ts_paris": pa.array([t0.replace(tzinfo=UTC)] * 6, pa.timestamp("ms", tz="Europe/Paris")),
        "ts_ntz": pa.array([t0] * 6, pa.timestamp("us")),
        "ts_ns_whole": pa.array([1_700_000_000_000_000_000] * 6, pa.timestamp("ns", tz="UTC")),
        "ts_ns_fraction": pa.array([1_700_000_000_000_000_001] * 6, pa.timestamp("ns")),
        "day": pa.array([dt.date(2026, 11, d) for d in range(1, 7)], pa.date32()),
        "day64": pa.array([dt.date(2026, 11, d) for d in range(1, 7)], pa.date64()),
        "clock": pa.array([dt.time(10, 30)] * 6, pa.time64("us")),
        "wait": pa.array([5] * 6, pa.duration("s")),
        "money": pa.array([Decimal("12.34")] * 6, pa.decimal128(5, 2)),
        "wide_money": pa.array([Decimal("1234567890.0123456789")] * 6, pa.decimal128(38, 10)),
        "decimal256": pa.array([Decimal("1.5")] * 6, pa.decimal256(20, 2)),
        "huge_decimal": pa.array([Decimal("1.5")] * 6, pa.decimal256(40, 2)),
        # a negative scale (hundreds): Parquet and Delta have none, the digits are kept
        "hundreds": pa.array([Decimal("-12300"), Decimal("99999E2")] * 3, pa.decimal128(5, -2)),
        "huge_hundreds": pa.array([Decimal("1E2")] * 6, pa.decimal128(38, -1)),
        "blob": pa.array([b"\x00\x01\xff"] * 6, pa.binary()),
        "large_blob": pa.array([b"\x00" * 10] * 6, pa.large_binary()),
        "fixed": pa.array([b"abcd"] * 6, pa.binary(4)),
        "text": pa.array(["héllo"] * 6, pa.string()),
        "large_text": pa.array(["x" * 1000] * 6, pa.large_string()),
        "view_text": pa.array(["v"] * 6, pa.string_view()),
        "label": pa.array(["a", "b", "a", "b", "a", "b"]).dictionary_encode(),
        "tiny": pa.array([1] * 6, pa.int8()),
        "unsigned": pa.array([2**64 - 1] * 6, pa.uint64()),
        "half": pa.array([1.5] * 6, pa.float16()),
        "flag": pa.array([True, False, None, True, False, None]),
        "nested": pa.array(
            [{"a": i, "b": {"c": f"s{i}", "d": [i, i + 1]}} for i in range(6)],
            pa.struct(
                [
                    ("a", pa.int64()),
                    ("b", pa.struct([("c", pa.string()), ("d", pa.list_(pa.int32()))])),
                ]
            ),
        ),
        "tags": pa.array([["x", "y"], [], None, ["z"], ["x"], ["y"]], pa.large_list(pa.string())),
        "points": pa.array(
            [[{"x": 1.0, "y": 2.0}]] * 6,
            pa.list_(pa.struct([("x", pa.float64()), ("y", pa.float64())])),
        ),
        "attributes": pa.array([[("k", 1), ("j", 2)]] * 6, pa.map_(pa.string(), pa.int64())),
        "nothing": pa.nulls(6),
    }


REFUSED_ARROW = {"ts_ns_fraction", "clock", "wait", "huge_decimal", "huge_hundreds", "nothing"}


def _with_ids(name: str, array: pa.Array, first_id: int) -> pa.Table:
    table = pa.table({"id": pa.array(range(first_id, first_id + 6), pa.int64()), name: array})
    return table.slice(2, 3)  # a slice: non-zero offsets, nested children included


def test_write_table_adds_a_column_of_every_arrow_type_or_refuses_it_cleanly(lk):
    lk.write_table("ml.every", pa.table({"id": pa.array([0, 1], pa.int64())}))
    refused = {}
    next_id = 100
    for name, array in _arrow_columns().items():
        before = lk.table("ml.every").current_version
        try:
            lk.write_table("ml.every", _with_ids(name, array, next_id))
        except LakeError as error:
            assert_refused_cleanly(lk, "ml.every", error, before)
            refused[name] = str(error)
        next_id += 10
    assert set(refused) == REFUSED_ARROW, refused
    versions = read_everywhere(lk, "ml.every")
    assert len(versions[max(versions)]) == 2 + 3 * (len(_arrow_columns()) - len(REFUSED_ARROW))
    # the values that came in sliced are the slice's, not the whole array's
    rows = lk.sql("SELECT id, nested, unsigned FROM ml.every WHERE nested IS NOT NULL ORDER BY id")
    assert [r["nested"]["a"] for r in rows.rows()] == [2, 3, 4]
    assert lk.sql("SELECT max(unsigned) AS u FROM ml.every").rows() == [{"u": Decimal(2**64 - 1)}]
    hundreds = lk.sql("SELECT min(hundreds) AS lo, max(hundreds) AS hi FROM ml.every").rows()
    assert hundreds == [{"lo": Decimal(-12300), "hi": Decimal(9999900)}]

    compacted = lk.optimize("ml.every")
    assert compacted is not None
    after = read_everywhere(lk, "ml.every", only=[compacted.version])
    assert after[compacted.version] == versions[compacted.version - 1]
    # The versions before it read the same through the lake after the compaction (their log
    # entries and files are as deltalake and DuckDB read them above: nothing changes them).
    for version, rows in versions.items():
        again = lk.sql(f"SELECT * FROM ml.every VERSION AS OF {version}").table
        assert _canonical(again) == rows, f"ml.every@{version} after the compaction"


def test_write_table_overwrites_with_every_storable_type_at_once(lk):
    columns = {n: a for n, a in _arrow_columns().items() if n not in REFUSED_ARROW}
    table = pa.table({"id": pa.array(range(6), pa.int64()), **columns})
    lk.write_table("ml.wide", table.slice(1, 4))
    lk.write_table("ml.wide", table.slice(2, 3), mode="overwrite")
    versions = read_everywhere(lk, "ml.wide")
    assert [len(v) for v in versions.values()] == [4, 3]


def test_a_sliced_table_with_nested_structs_is_written_not_a_crash(lk):
    nested = pa.struct([("a", pa.int64()), ("b", pa.struct([("c", pa.string())]))])
    big = pa.table(
        {
            "id": pa.array(range(1000), pa.int64()),
            "n": pa.array([{"a": i, "b": {"c": str(i)}} for i in range(1000)], nested),
        }
    )
    lk.write_table("ml.sliced", big.slice(0, 10))
    lk.write_table("ml.sliced", big.slice(100, 100))
    versions = read_everywhere(lk, "ml.sliced")
    assert len(versions[1]) == 110
    got = lk.sql("SELECT min(n.a) AS lo, max(n.a) AS hi FROM ml.sliced WHERE id >= 100").rows()
    assert got == [{"lo": 100, "hi": 199}]


# --------------------------------------------------------------------------------------------
# Database extracts: every PostgreSQL type, full, incremental and keyed


PG_COLUMNS = {
    "c_timestamptz": ("timestamptz", "'2026-11-01 10:00:00.123456+02'"),
    "c_timestamp": ("timestamp", "'2026-11-01 10:00:00.654321'"),
    "c_date": ("date", "'2026-11-01'"),
    "c_time": ("time", "'10:30:00'"),
    "c_money": ("numeric(5,2)", "123.45"),
    "c_wide": ("numeric(38,10)", "1234567890.0123456789"),
    "c_unbounded": ("numeric", "'NaN'"),
    "c_bytes": ("bytea", "'\\x00ff10'::bytea"),
    "c_text": ("text", "repeat('é', 5000)"),
    "c_ints": ("integer[]", "ARRAY[1, 2, NULL]"),
    "c_texts": ("text[]", "ARRAY['a', 'b']"),
    "c_json": ("jsonb", "'{\"a\": [1, 2]}'"),
    "c_flag": ("boolean", "true"),
    "c_uuid": ("uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"),
    "c_interval": ("interval", "'1 day 2 hours'"),
    "c_real": ("real", "1.5"),
    "c_small": ("smallint", "7"),
}


def _pg_table(pg: SourceDb) -> str:
    table = unique("every")
    pg.run(
        f"CREATE TABLE {table} (id int PRIMARY KEY, updated_at timestamptz NOT NULL)",
        f"INSERT INTO {table} SELECT g, now() - interval '1 day' FROM generate_series(1, 3) g",
    )
    return table


def _add_pg_columns(pg: SourceDb, table: str) -> None:
    for column, (sql_type, value) in PG_COLUMNS.items():
        pg.run(
            f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}",
            f"UPDATE {table} SET {column} = {value}, updated_at = now()",
        )
    pg.run(
        f"INSERT INTO {table} (id, updated_at, {', '.join(PG_COLUMNS)}) "
        f"SELECT 4, now(), {', '.join(v for _, v in PG_COLUMNS.values())}"
    )


@pytest.mark.parametrize("how", ["full", "keyed", "incremental"])
def test_extracts_add_a_column_of_every_postgres_type(lk, pg_source, how):
    table = _pg_table(pg_source)
    options = {
        "full": {"mode": "full", "key": ["id"]},
        "keyed": {"mode": "incremental", "cursor": "updated_at", "key": ["id"]},
        "incremental": {"mode": "incremental", "cursor": "updated_at"},
    }[how]
    name = f"crm.{table}"
    lk.ingest_db(name, source=pg_source.url, table_name=table, **options)
    _add_pg_columns(pg_source, table)
    report = lk.ingest_db(name, source=pg_source.url, table_name=table, **options)
    assert report.version == 1
    assert {d["column"] for d in report.drift if d["change"] == "added"} == set(PG_COLUMNS)
    versions = read_everywhere(lk, name)
    latest = [json.loads(r) for r in versions[1]]
    expected_rows = {"full": 4, "keyed": 4, "incremental": 7}[how]  # appends re-read rows
    assert len(latest) == expected_rows
    row = next(r for r in latest if r["id"] == 4)
    assert row["c_timestamp"] == "2026-11-01T10:00:00.654321"  # wall-clock, no zone
    assert row["c_timestamptz"] == "2026-11-01T08:00:00.123456+00:00"
    assert row["c_money"] == "123.45" and row["c_bytes"] == "00ff10"
    assert row["c_ints"] == [1, 2, None] and row["c_unbounded"] == "NaN"

    # A column widens at the source: the table's rows are rewritten in the wider type.
    pg_source.run(
        f"ALTER TABLE {table} ALTER COLUMN c_small TYPE bigint",
        f"UPDATE {table} SET c_small = 9000000000, updated_at = now() WHERE id = 4",
    )
    report = lk.ingest_db(name, source=pg_source.url, table_name=table, **options)
    assert report.version == 2
    assert [(d["column"], d["change"]) for d in report.drift] == [("c_small", "widened")]
    versions = read_everywhere(lk, name)
    values = {json.loads(r)["id"]: json.loads(r)["c_small"] for r in versions[2]}
    assert values[4] == 9000000000
    assert column_types(lk, name)["c_small"] == "int64"


def test_an_incremental_extract_refuses_a_changed_type_and_keeps_the_table(lk, pg_source):
    table = _pg_table(pg_source)
    pg_source.run(f"ALTER TABLE {table} ADD COLUMN note int", f"UPDATE {table} SET note = 1")
    name = f"crm.{table}"
    options = {"mode": "incremental", "cursor": "updated_at", "key": ["id"]}
    lk.ingest_db(name, source=pg_source.url, table_name=table, **options)
    pg_source.run(
        f"ALTER TABLE {table} ALTER COLUMN note TYPE text",
        f"UPDATE {table} SET note = 'x', updated_at = now()",
    )
    with pytest.raises(LakeError, match=r"'note'.*--mode full") as error:
        lk.ingest_db(name, source=pg_source.url, table_name=table, **options)
    assert_refused_cleanly(lk, name, error.value, 0)
    read_everywhere(lk, name)


# --------------------------------------------------------------------------------------------
# Log ingest: every type JSON gives, and both widenings


def test_log_ingest_adds_every_json_type_and_rewrites_widened_columns(lk, tmp_path):
    def lines(path: Path, records: list[dict]) -> str:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return str(path)

    t = "2026-11-0{}T10:00:00Z"
    lk.ingest_logs("app.events", lines(tmp_path / "a.jsonl", [{"ts": t.format(1), "n": 1}]))
    every = {
        "ts": t.format(2),
        "n": 2,
        "f": 1.5,
        "s": "text",
        "b": True,
        "obj": {"x": 1, "y": {"z": "deep"}},
        "ints": [1, 2],
        "objs": [{"k": "v"}],
        "nothing": None,
        "empty": [],
    }
    lk.ingest_logs("app.events", lines(tmp_path / "b.jsonl", [every]))
    widened = {"ts": t.format(3), "n": 2.5, "obj": {"x": 1.25}}
    lk.ingest_logs("app.events", lines(tmp_path / "c.jsonl", [widened]))
    conflict = {"ts": t.format(4), "n": "many", "ints": ["a"]}
    lk.ingest_logs("app.events", lines(tmp_path / "d.jsonl", [conflict]))
    versions = read_everywhere(lk, "app.events")
    assert [len(v) for v in versions.values()] == [1, 2, 3, 4]
    columns = column_types(lk, "app.events")
    assert columns["n"] == "json" and columns["f"] == "double" and columns["b"] == "bool"
    assert columns["ints"] == "list<element: json>"
    got = lk.sql("SELECT n, ints, obj.x AS x FROM app.events ORDER BY _event_time").rows()
    # int, then float (1 -> 1.0), then JSON text of the float: the raw line keeps "1".
    assert [r["n"] for r in got] == ["1.0", "2.0", "2.5", '"many"']
    # A list's elements became JSON text, the old ones included.
    assert [r["ints"] for r in got] == [None, ["1", "2"], None, ['"a"']]
    assert [r["x"] for r in got] == [None, 1.0, 1.25, None]


def test_a_column_write_table_adds_is_in_the_drift_ledger(lk):
    lk.write_table("ml.labels", pa.table({"id": pa.array([1], pa.int64())}))
    lk.write_table(
        "ml.labels",
        pa.table({"id": pa.array([2], pa.int64()), "label": ["cat"]}),
        source="feedback-form",
    )
    history = lk.schema("ml.labels", history=True)["history"]
    assert [
        (h["column"], h["change"], h["new_type"], h["source"], h["version"]) for h in history
    ] == [("label", "added", "string", "feedback-form", 1)]
