"""What another engine's ``ALTER TABLE`` asks of every writer of a lake table (PROTOCOL.md's
"Writer Requirements"): CHECK constraints, column invariants, generated and identity columns,
append-only. A row committed against them is a table Spark then refuses or reads wrong: the
lake's writes keep them, or are refused in one sentence with the table unchanged.

The requirements are added with deltalake (``alter.add_constraint``) or by committing the
metaData Spark writes (``tests/delta/external.py``'s ``alter``).
"""

from __future__ import annotations

import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lake.core.errors import ConstraintViolation, UnsupportedTableFeature
from tests.delta import external


def _rows(ids: list[int], values: list[int | None]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "v": pa.array(values, pa.int64())})


def _table(lk, name: str) -> tuple[str, dict[str, str]]:
    """The location of a lake table and the deltalake options to open it."""
    return lk.table(name).location, lk.storage.delta_options()


def _delta_rows(uri: str, options: dict[str, str]) -> tuple[int, list[tuple]]:
    dt = DeltaTable(uri, storage_options=options)
    rows = dt.to_pyarrow_table().to_pylist()
    return dt.version(), sorted(tuple(r.values()) for r in rows)


def test_an_append_breaking_a_check_constraint_another_engine_added_is_refused(lk):
    lk.write_table("ml.scores", _rows([1, 2], [1, 2]))
    uri, options = _table(lk, "ml.scores")
    DeltaTable(uri, storage_options=options).alter.add_constraint({"v_positive": "v > 0"})
    before = _delta_rows(uri, options)
    # A small append is the lake's own log entry, which checked nothing: -5 was committed.
    with pytest.raises(ConstraintViolation, match=r"1 row written to .* breaks .*v_positive"):
        lk.write_table("ml.scores", _rows([3], [-5]))
    with pytest.raises(ConstraintViolation, match="v_positive"):  # null is no pass either
        lk.write_table("ml.scores", _rows([3], [None]))
    assert _delta_rows(uri, options) == before
    lk.write_table("ml.scores", _rows([3], [3]))
    assert _delta_rows(uri, options)[1] == [(1, 1), (2, 2), (3, 3)]
    assert lk.sql("SELECT count(*) AS n FROM ml.scores").table.to_pylist() == [{"n": 3}]


def test_an_overwrite_breaking_a_check_constraint_is_refused(lk):
    lk.write_table("ml.scores", _rows([1, 2], [1, 2]))
    uri, options = _table(lk, "ml.scores")
    DeltaTable(uri, storage_options=options).alter.add_constraint({"v_positive": "v > 0"})
    before = _delta_rows(uri, options)
    with pytest.raises(ConstraintViolation, match="v_positive"):
        lk.write_table("ml.scores", _rows([4, 5], [4, -6]), mode="overwrite")
    assert _delta_rows(uri, options) == before
    lk.write_table("ml.scores", _rows([4], [4]), mode="overwrite")
    assert _delta_rows(uri, options)[1] == [(4, 4)]


def test_an_append_breaking_an_invariant_of_a_nested_field_is_refused(lk):
    # Writer version 2: the lake committed its own entry when no top-level field had one.
    point = pa.struct([("x", pa.int64()), ("y", pa.int64())])
    first = pa.table({"id": pa.array([1], pa.int64()), "p": pa.array([{"x": 1, "y": 1}], point)})
    lk.write_table("ml.points", first)
    uri, options = _table(lk, "ml.points")
    invariant = '{"expression": {"expression": "p.x > 0"}}'
    external.alter(
        uri, options, field_metadata={"p.x": {"delta.invariants": invariant}}, min_writer_version=2
    )
    before = _delta_rows(uri, options)
    bad = pa.table({"id": pa.array([2], pa.int64()), "p": pa.array([{"x": -1, "y": 0}], point)})
    with pytest.raises(ConstraintViolation, match=r"invariant of p\.x \(p\.x > 0\)"):
        lk.write_table("ml.points", bad)
    assert _delta_rows(uri, options) == before


def test_an_appended_generated_column_must_hold_its_expressions_value(lk):
    lk.write_table("ml.scaled", _rows([1], [10]))
    uri, options = _table(lk, "ml.scaled")
    external.alter(
        uri,
        options,
        field_metadata={"v": {"delta.generationExpression": "id * 10"}},
        min_writer_version=4,
    )
    before = _delta_rows(uri, options)
    with pytest.raises(ConstraintViolation, match=r"v GENERATED AS \(id \* 10\)"):
        lk.write_table("ml.scaled", _rows([2], [7]))
    # Left out, the column is null in the lake's rows: refused, not computed by a guess.
    with pytest.raises(ConstraintViolation, match="does not compute"):
        lk.write_table("ml.scaled", pa.table({"id": pa.array([2], pa.int64())}))
    assert _delta_rows(uri, options) == before
    lk.write_table("ml.scaled", _rows([2], [20]))
    assert _delta_rows(uri, options)[1] == [(1, 10), (2, 20)]


def test_writes_adding_rows_to_a_table_with_an_identity_column_are_refused(lk):
    lk.write_table("ml.keyed", _rows([1, 2], [1, 2]))
    uri, options = _table(lk, "ml.keyed")
    identity = {
        "delta.identity.start": 1,
        "delta.identity.step": 1,
        "delta.identity.highWaterMark": 2,
        "delta.identity.allowExplicitInsert": False,
    }
    external.alter(uri, options, field_metadata={"id": identity}, min_writer_version=6)
    before = _delta_rows(uri, options)
    for mode in ("append", "overwrite"):
        with pytest.raises(UnsupportedTableFeature, match="identity column id"):
            lk.write_table("ml.keyed", _rows([2], [3]), mode=mode)
    assert _delta_rows(uri, options) == before


def test_an_append_only_table_refuses_what_removes_rows_and_takes_appends(lk, tmp_path):
    source = tmp_path / "source.db"
    with sqlite3.connect(source) as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        con.executemany("INSERT INTO t VALUES (?, ?)", [(1, 1), (2, 2)])
    url = f"sqlite:///{source}"
    lk.ingest_db("crm.t", source=url, table_name="t", mode="incremental", cursor="id", key="id")
    uri, options = _table(lk, "crm.t")
    DeltaTable(uri, storage_options=options).alter.set_table_properties(
        {"delta.appendOnly": "true"}
    )
    before = _delta_rows(uri, options)
    with sqlite3.connect(source) as con:
        con.execute("INSERT INTO t VALUES (3, 3)")
    # Was "Another writer committed ... at the same time ...; run the command again".
    with pytest.raises(UnsupportedTableFeature, match=r"append-only .* an overwrite"):
        lk.ingest_db("crm.t", source=url, table_name="t", mode="full")
    with pytest.raises(UnsupportedTableFeature, match=r"append-only .* a merge"):
        lk.ingest_db("crm.t", source=url, table_name="t", mode="incremental", cursor="id", key="id")
    assert _delta_rows(uri, options) == before


def test_an_append_only_table_takes_appends_and_compactions(lk):
    lk.write_table("ml.events", _rows([1], [1]))
    uri, options = _table(lk, "ml.events")
    DeltaTable(uri, storage_options=options).alter.set_table_properties(
        {"delta.appendOnly": "true"}
    )
    lk.write_table("ml.events", _rows([2], [2]))
    with pytest.raises(UnsupportedTableFeature, match=r"append-only .* an overwrite"):
        lk.write_table("ml.events", _rows([3], [3]), mode="overwrite")
    # A compaction rearranges files (dataChange false), which the protocol allows.
    assert lk.optimize("ml.events") is not None
    assert _delta_rows(uri, options)[1] == [(1, 1), (2, 2)]


def test_appends_to_a_table_whose_columns_another_engine_renamed_and_dropped_read_back_right(
    lk,
):
    """Spark turned column mapping on (each field's physical name its old name, struct fields
    too), renamed ``v`` to ``value``, dropped ``gone`` and added a new ``gone`` (a long, under
    a physical name of its own). The append's file names its columns ``v`` and ``col-...``
    with their ids: such appends were refused (and before that the file named them ``value``
    and ``gone``, and the row read back NULL). The old ``gone``'s text must not come back
    under the new one."""
    point = pa.struct([("x", pa.int64()), ("tags", pa.list_(pa.struct([("k", pa.string())])))])
    old = pa.table(
        {
            "id": pa.array([1], pa.int64()),
            "v": pa.array([10], pa.int64()),
            "gone": ["x"],
            "point": pa.array([{"x": 1, "tags": [{"k": "a"}]}], point),
        }
    )
    lk.write_table("ml.renamed", old)
    uri, options = _table(lk, "ml.renamed")
    external.rename_column(uri, options, "v", "value")
    external.change_mapped_columns(uri, options, drop=("gone",), add=(("gone", "long"),))
    appended = pa.table(
        {
            "id": pa.array([2], pa.int64()),
            "value": pa.array([20], pa.int64()),
            "point": pa.array([{"x": 2, "tags": [{"k": "b"}, None]}], point),
            "gone": pa.array([7], pa.int64()),
        }
    )
    lk.write_table("ml.renamed", appended)
    expected = [
        {"id": 1, "value": 10, "point": {"x": 1, "tags": [{"k": "a"}]}, "gone": None},
        {"id": 2, "value": 20, "point": {"x": 2, "tags": [{"k": "b"}, None]}, "gone": 7},
    ]
    assert lk.sql("SELECT * FROM ml.renamed ORDER BY id").table.to_pylist() == expected
    assert _kernel_rows(lk, uri) == expected
    version = DeltaTable(uri, storage_options=options).version()
    (add,) = [a["add"] for a in external.read_log_entry(uri, options, version) if "add" in a]
    fs, root = lk.storage.filesystem_for(uri)
    with fs.open_input_file(f"{root}/{add['path']}") as handle:
        written = pq.ParquetFile(handle).schema_arrow
    # ids as rename_column numbered them: id 1, v 2, gone 3, point 4 (x 5, tags 6, k 7)
    assert written.names[:3] == ["id", "v", "point"] and written.names[3].startswith("col-")
    assert [f.metadata[b"PARQUET:field_id"] for f in written] == [b"1", b"2", b"4", b"8"]
    tags = written.field("point").type.field("tags")
    assert tags.metadata[b"PARQUET:field_id"] == b"6"
    assert tags.type.value_type.field("k").metadata[b"PARQUET:field_id"] == b"7"
    # An overwrite goes through deltalake's writer, which is not shown to keep the mapping.
    with pytest.raises(UnsupportedTableFeature, match=r"columnMapping\.mode = name.* an overwrite"):
        lk.write_table("ml.renamed", appended, mode="overwrite")
    # So does an append adding a column (deltalake's schema merge).
    with pytest.raises(UnsupportedTableFeature, match="an append that adds columns") as raised:
        lk.write_table("ml.renamed", appended.append_column("new", pa.array([1], pa.int64())))
    message = str(raised.value)
    assert uri in message and message.count(". ") == 0 and message.endswith(".")
    assert DeltaTable(uri, storage_options=options).version() == version
    assert lk.sql("SELECT * FROM ml.renamed ORDER BY id").table.to_pylist() == expected


def _kernel_rows(lk, uri: str) -> list[dict]:
    """The latest version as DuckDB's delta extension (delta-kernel) reads it, by id."""
    import duckdb

    from lake.core.storage import extension_path

    con = duckdb.connect(config={"autoinstall_known_extensions": "false"})
    lk.storage.configure_duckdb(con)
    con.execute(f"LOAD '{extension_path('delta')}'")
    return (
        con.execute(f"SELECT * FROM delta_scan('{uri}') ORDER BY id").to_arrow_table().to_pylist()
    )


def test_a_row_giving_a_not_null_column_no_value_is_refused_in_our_words(lk):
    lk.write_table("ml.strict", _rows([1], [1]))
    uri, options = _table(lk, "ml.strict")
    external.alter(uri, options, not_null=("id",))
    before = _delta_rows(uri, options)
    # Was pyarrow's ArrowInvalid ("Column 'id' is declared non-nullable but contains nulls").
    with pytest.raises(ConstraintViolation, match="column id is NOT NULL"):
        lk.write_table("ml.strict", _rows([None], [2]))  # type: ignore[list-item]
    with pytest.raises(ConstraintViolation, match="column id is NOT NULL"):
        lk.write_table("ml.strict", pa.table({"v": pa.array([3], pa.int64())}))
    assert _delta_rows(uri, options) == before
    lk.write_table("ml.strict", _rows([2], [2]))
    assert _delta_rows(uri, options)[1] == [(1, 1), (2, 2)]


def test_extracts_and_log_ingests_breaking_a_check_constraint_are_refused(lk, tmp_path):
    source = tmp_path / "source.db"
    with sqlite3.connect(source) as con:
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        con.executemany("INSERT INTO t VALUES (?, ?)", [(1, 1), (2, 2)])
    url, how = f"sqlite:///{source}", {"mode": "incremental", "cursor": "id", "key": "id"}
    lk.ingest_db("crm.t", source=url, table_name="t", **how)
    uri, options = _table(lk, "crm.t")
    DeltaTable(uri, storage_options=options).alter.add_constraint({"v_positive": "v > 0"})
    with sqlite3.connect(source) as con:
        con.execute("INSERT INTO t VALUES (3, -3)")
    # deltalake's merge refused it, told as a storage failure.
    with pytest.raises(ConstraintViolation, match="v_positive"):
        lk.ingest_db("crm.t", source=url, table_name="t", **how)
    with sqlite3.connect(source) as con:
        con.execute("UPDATE t SET v = 3 WHERE id = 3")
    assert lk.ingest_db("crm.t", source=url, table_name="t", **how).rows_added == 1

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text('{"ts": "2026-11-01T10:00:00Z", "n": 1}\n')
    lk.ingest_logs("web.events", [str(logs)])
    uri, options = _table(lk, "web.events")
    DeltaTable(uri, storage_options=options).alter.add_constraint({"n_positive": "n > 0"})
    (logs / "b.jsonl").write_text('{"ts": "2026-11-01T11:00:00Z", "n": -1}\n')
    with pytest.raises(ConstraintViolation, match="n_positive"):
        lk.ingest_logs("web.events", [str(logs)])
    assert DeltaTable(uri, storage_options=options).to_pyarrow_table()["n"].to_pylist() == [1]


def test_a_grown_log_file_an_append_only_table_cannot_take_is_refused_with_advice_it_can_follow(
    lk, tmp_path
):
    """A file whose last ingest ended inside a record (here a torn last line) is read again
    whole, its rows replaced: a removal an append-only table refuses. The refusal told the
    user to "append to it instead", which is what they were doing."""
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.jsonl"
    app.write_text('{"ts": "2026-11-01T10:00:00Z", "n": 1}\n{"ts": "2026-11-01T10:00:01Z", "n"')
    lk.ingest_logs("web.events", [str(logs)])
    uri, options = _table(lk, "web.events")
    DeltaTable(uri, storage_options=options).alter.set_table_properties(
        {"delta.appendOnly": "true"}
    )

    def table_now() -> tuple[int, list[str]]:
        dt = DeltaTable(uri, storage_options=options)
        return dt.version(), sorted(dt.to_pyarrow_table()["_raw"].to_pylist())

    before = table_now()
    assert len(before[1]) == 2  # the torn last line is a record of its own
    with app.open("a") as f:
        f.write(': 2}\n{"ts": "2026-11-01T10:00:02Z", "n": 3}\n')
    with pytest.raises(UnsupportedTableFeature) as refused:
        lk.ingest_logs("web.events", [str(logs)])
    message = str(refused.value)
    assert "append-only" in message and "reading a log file again whole" in message
    assert "append to it instead" not in message
    assert message.count(". ") == 0 and message.endswith("."), message  # one sentence
    assert ",," not in message and message.count("which removes rows") == 1, message
    assert table_now() == before  # nothing committed, readable as it was
