"""Delta tables written by other engines: ``lake table register`` records them, and every read
(SQL at every version, describe, history, materialize) returns exactly what deltalake's own
reader returns, or refuses in one sentence naming the feature.

The tables are built by ``tests/delta/external.py`` with deltalake's writer (and log entries
written after the Delta protocol where deltalake writes no such thing).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lake.core.errors import (
    ExternalTable,
    PartitionValueInvalid,
    StorageError,
    TableExists,
    TableNotFound,
    UnsupportedLocation,
    UnsupportedTableFeature,
    VersionNotFound,
)
from queries.exceptions import TimeTravelError
from tests.delta import external


@pytest.fixture
def where(backend, lk, tmp_path):
    """``where(name)``: a location for a table another engine writes, on the backend's
    storage (a folder, or a prefix of the test bucket outside the warehouse), with the
    deltalake options to write it."""
    options = lk.storage.delta_options()

    def make(name: str) -> tuple[str, dict[str, str]]:
        if backend.s3 is not None:
            return f"s3://{backend.s3.bucket}/spark-{uuid.uuid4().hex[:8]}/{name}", options
        return str(tmp_path / "spark" / name), options

    return make


def _rows(table: pa.Table, columns: list[str]) -> list[tuple]:
    """Rows as tuples of Python values, in id order (times compared as instants)."""
    columns = ["id", *[c for c in columns if c != "id"]]
    data = table.select(columns).to_pylist()
    return sorted((tuple(r[c] for c in columns) for r in data), key=lambda r: r[0])


def _lake_read(lk, table: str, version: int) -> pa.Table:
    return lk.sql(f"SELECT * FROM {table} VERSION AS OF {version}").table


def _delta_read(uri: str, options: dict[str, str], version: int) -> pa.Table:
    return DeltaTable(uri, version=version, storage_options=options).to_pyarrow_table()


def test_every_version_of_a_table_partitioned_by_every_type_reads_as_deltalake_reads_it(lk, where):
    uri, options = where("parts")
    external.partitioned(uri, options)
    registered = lk.register_table("ext.parts", uri)
    assert (registered.oldest, registered.latest, registered.recorded) == (0, 2, (0, 1, 2))
    columns = ["id", "value", *[c for c in external.PARTITION_TYPES if c != "b"]]
    for version in (0, 1, 2):
        ours, theirs = _lake_read(lk, "ext.parts", version), _delta_read(uri, options, version)
        assert ours.num_rows == theirs.num_rows == [5, 10, 8][version]
        assert _rows(ours, columns) == _rows(theirs, columns)
        assert lk.describe(f"ext.parts@{version}").version.rows_total == theirs.num_rows


def test_binary_partition_values_read_as_the_bytes_written(lk, where):
    # deltalake writes binary partition values as escape text ("\\u0068...") and reads that
    # text back as the bytes (so does DuckDB's delta_scan); the lake decodes it.
    uri, options = where("parts")
    written = external.partitioned(uri, options)
    lk.register_table("ext.parts", uri)
    ours = lk.sql("SELECT id, b FROM ext.parts VERSION AS OF 1").table
    assert _rows(ours, ["id", "b"]) == _rows(written, ["id", "b"])
    found = lk.sql("SELECT count(*) AS n FROM ext.parts WHERE b = 'hello'::BLOB").rows()
    assert found == [{"n": 4}]


def test_partition_filters_and_nulls_select_the_same_rows_as_deltalake(lk, where):
    uri, options = where("parts")
    external.partitioned(uri, options)
    lk.register_table("ext.parts", uri)
    theirs = _delta_read(uri, options, 2).to_pylist()
    checks = {
        "s IS NULL": lambda r: r["s"] is None,
        "s = 'x=y%z'": lambda r: r["s"] == "x=y%z",
        "d = DATE '2024-02-29'": lambda r: str(r["d"]) == "2024-02-29",
        "ts = TIMESTAMPTZ '1970-01-01 00:00:00+00'": lambda r: (
            r["ts"] is not None and r["ts"].timestamp() == 0
        ),
        "dec = 12.30": lambda r: r["dec"] == Decimal("12.30"),
        "i > 1": lambda r: r["i"] is not None and r["i"] > 1,
        "bo IS NULL": lambda r: r["bo"] is None,
        "f < 0": lambda r: r["f"] is not None and r["f"] < 0,
    }
    for condition, keep in checks.items():
        ours = lk.sql(f"SELECT id FROM ext.parts WHERE {condition}").table
        assert sorted(ours.column("id").to_pylist()) == sorted(
            r["id"] for r in theirs if keep(r)
        ), condition


def test_iso_timestamps_and_empty_strings_in_the_log_decode_as_the_protocol_says(lk, where):
    # The protocol allows a timestamp partition value as ISO 8601 in UTC
    # ("1970-01-01T00:00:00.123456Z"), and says an empty string is null for every type.
    from datetime import UTC, datetime

    from deltalake import write_deltalake

    uri, options = where("spelled")
    moments = [datetime(2024, 1, 1, 10, 0, 0, 123456, tzinfo=UTC), datetime(1999, 1, 1, tzinfo=UTC)]
    data = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "ts": pa.array(moments, pa.timestamp("us", "UTC")),
            "s": ["kept", "emptied"],
        }
    )
    write_deltalake(uri, data, partition_by=["ts", "s"], storage_options=options)

    def respell(action: dict) -> dict:
        values = action.get("add", {}).get("partitionValues")
        if values is not None:
            values["ts"] = values["ts"].replace(" ", "T") + "Z"
            if values["s"] == "emptied":
                values["s"] = ""
        return action

    external.rewrite_log_entry(uri, options, 0, respell)
    lk.register_table("ext.spelled", uri)
    ours = lk.sql("SELECT id, ts, s FROM ext.spelled ORDER BY id").rows()
    assert ours == [
        {"id": 1, "ts": moments[0], "s": "kept"},
        {"id": 2, "ts": moments[1], "s": None},
    ]
    theirs = _kernel_read(lk, uri, 0).sort_by("id").select(["id", "ts"]).to_pylist()
    assert [(r["id"], r["ts"]) for r in ours] == [(r["id"], r["ts"]) for r in theirs]


def test_a_cleaned_up_log_registers_the_versions_it_still_has_and_says_which(lk, where):
    uri, options = where("cleaned")
    external.cleaned_log(uri, options)
    registered = lk.register_table("ext.cleaned", uri)
    assert (registered.oldest, registered.latest, registered.recorded) == (5, 6, (5, 6))
    assert [v.version for v in lk.history("ext.cleaned")] == [5, 6]
    for version in (5, 6):
        ours, theirs = _lake_read(lk, "ext.cleaned", version), _delta_read(uri, options, version)
        assert _rows(ours, ["id", "part"]) == _rows(theirs, ["id", "part"])
    with pytest.raises(
        TimeTravelError,
        match=r"Version 2 of ext.cleaned can no longer be read \(VERSION AS OF 2 .*\): its writer "
        "cleaned up the Delta log before version 5; versions 5 to 6 can be read.",
    ):
        lk.sql("SELECT * FROM ext.cleaned VERSION AS OF 2")
    with pytest.raises(VersionNotFound, match="cleaned up the Delta log before version 5"):
        lk.delta(lk.table("ext.cleaned")).snapshot(2)


def test_a_version_only_its_checkpoint_holds_is_recorded_and_read(lk, where):
    uri, options = where("cleaned")
    external.cleaned_log(uri, options, drop_checkpoint_commit=True)
    registered = lk.register_table("ext.cleaned", uri)
    assert registered.recorded == (5, 6)
    ours, theirs = _lake_read(lk, "ext.cleaned", 5), _delta_read(uri, options, 5)
    assert _rows(ours, ["id", "part"]) == _rows(theirs, ["id", "part"])
    assert lk.history("ext.cleaned")[0].operation == "UNKNOWN"


def test_statistics_only_in_a_checkpoint_struct_and_no_statistics_at_all_give_exact_counts(
    lk, where
):
    uri, options = where("parsed")
    external.stats_as_struct(uri, options)
    lk.register_table("ext.parsed", uri)
    assert lk.describe("ext.parsed@2").version.rows_total == 30
    assert lk.sql("SELECT count(*) AS n, sum(id) AS s FROM ext.parsed").rows() == [
        {"n": 30, "s": sum(range(30))}
    ]
    uri, options = where("nostats")
    external.without_statistics(uri, options)
    lk.register_table("ext.nostats", uri)
    assert [v.rows_total for v in lk.history("ext.nostats")] == [7, 10]
    for version in (0, 1):
        ours, theirs = _lake_read(lk, "ext.nostats", version), _delta_read(uri, options, version)
        assert _rows(ours, ["id"]) == _rows(theirs, ["id"])


def test_column_mapping_by_name_reads_every_column_under_its_name_before_and_after_a_rename(
    lk, where
):
    # Neither independent reader gets this table whole: deltalake 1.6.6's to_pyarrow_table
    # returns NULL in every column, and DuckDB's delta_scan (delta-kernel) returns NULL in the
    # partition column. Data columns are compared with delta_scan, all with the rows written.
    uri, options = where("mapped")
    written = external.column_mapped(uri, options)
    lk.register_table("ext.mapped", uri)
    for version, name in ((0, "Name x"), (1, "Name x"), (2, "label")):
        ours, theirs = _lake_read(lk, "ext.mapped", version), _kernel_read(lk, uri, version)
        assert ours.column_names == theirs.column_names == ["id", name, "part"]
        assert ours.num_rows == [3, 4, 4][version]
        assert _rows(ours, ["id", name]) == _rows(theirs, ["id", name])
        assert _rows(ours, ["id", name, "part"]) == _rows(
            written.slice(0, ours.num_rows).rename_columns(["id", name, "part"]),
            ["id", name, "part"],
        )
    assert lk.sql("SELECT label FROM ext.mapped WHERE part = 'q' AND id = 4").rows() == [
        {"label": "d"}
    ]


def test_a_time_filter_on_a_column_mapped_table_skips_files_by_the_columns_own_statistics(
    lk, where
):
    """The log keys file statistics by physical names. After two columns' names were swapped
    under column mapping, ``late``'s statistics are under the name ``early``, which is the
    other column's logical name: skipping files by logical names read ``early``'s range (the
    2020s) for ``late`` and dropped every row of ``WHERE late >= 2030``, without error."""
    uri, options = where("swapped")
    written = external.swapped_names(uri, options)
    lk.register_table("ext.swapped", uri)
    assert _rows(_lake_read(lk, "ext.swapped", 3), ["early", "late"]) == _rows(
        written, ["early", "late"]
    )
    assert _rows(_kernel_read(lk, uri, 3), ["early", "late"]) == _rows(written, ["early", "late"])
    for column, bound, ids in (
        ("late", "2030-01-01", [0, 1]),
        ("late", "2031-01-01", [1]),
        ("early", "2021-01-01", [1]),
        ("early", "2030-01-01", []),
    ):
        found = lk.sql(
            f"SELECT id FROM ext.swapped WHERE {column} >= TIMESTAMPTZ '{bound} 00:00:00+00' "
            "ORDER BY id"
        )
        assert [r["id"] for r in found.rows()] == ids, (column, bound)


@pytest.mark.parametrize(
    "build,feature",
    [
        (lambda uri, o: external.column_mapped(uri, o, mode="id"), "column mapping by field id"),
        (external.nested_column_mapped, "column mapping inside the nested column point"),
    ],
    ids=["column-mapping-id", "column-mapping-nested"],
)
def test_a_table_the_lake_cannot_read_exactly_is_refused_in_one_sentence(lk, where, build, feature):
    uri, options = where("refused")
    build(uri, options)
    with pytest.raises(UnsupportedTableFeature, match=feature) as raised:
        lk.register_table("ext.refused", uri)
    message = str(raised.value)
    assert uri in message and message.count(". ") == 0 and message.endswith(".")
    assert lk.tables() == []


DELETED = [3, 4, 7, 11, 18, 29]


@pytest.mark.parametrize(
    "rows,deleted,how",
    [
        (40, DELETED, {}),
        (40, DELETED, {"stored": True}),
        (40, [*range(5, 25), 33], {"runs": True}),
        # 70,000 rows: a bitmap container (5,000 values) and a second container (past 65,535)
        (70_000, [*range(0, 15_000, 3), *range(65_530, 69_000, 7)], {"stored": True}),
    ],
    ids=["inline", "in-a-file", "runs", "bitmap-two-containers"],
)
def test_rows_deleted_by_deletion_vectors_are_not_read(lk, where, rows, deleted, how):
    uri, options = where("dv")
    external.with_deletion_vector(uri, options, deleted, rows=rows, **how)
    lk.register_table("ext.dv", uri)
    gone = set(deleted)  # once, not once a row: 70,000 sets of 6,000 values took 8 s
    kept = [i for i in range(rows) if i not in gone]
    # the independent reader (delta-kernel) applies the same vector
    assert sorted(_kernel_read(lk, uri, 1).column("id").to_pylist()) == kept
    assert sorted(_lake_read(lk, "ext.dv", 1).column("id").to_pylist()) == kept
    assert lk.sql("SELECT count(*) AS n FROM ext.dv").rows() == [{"n": len(kept)}]
    assert lk.sql("SELECT count(*) AS n FROM ext.dv VERSION AS OF 0").rows() == [{"n": rows}]
    history = lk.history("ext.dv")
    assert [v.rows_total for v in history] == [rows, len(kept)]
    assert history[1].rows_removed == rows - len(kept) and history[1].rows_added == 0
    assert lk.describe("ext.dv").version.rows_total == len(kept)


@pytest.mark.parametrize("kind", ["classic", "multi-part", "v2"])
def test_deletion_vectors_held_only_by_a_checkpoint_are_applied(lk, where, kind):
    uri, options = where("dv")
    external.with_deletion_vector(uri, options, DELETED, stored=True)
    external.checkpoint_by_hand(uri, options, 1, kind=kind)
    external.remove_log_entries(uri, options, [f"{0:020d}.json"])
    registered = lk.register_table("ext.dv", uri)
    assert (registered.oldest, registered.recorded) == (1, (1,))
    kept = [i for i in range(40) if i not in DELETED]
    assert sorted(_kernel_read(lk, uri, 1).column("id").to_pylist()) == kept
    assert sorted(_lake_read(lk, "ext.dv", 1).column("id").to_pylist()) == kept


def test_deletion_vectors_written_after_registration_are_applied_from_their_version(lk, where):
    from deltalake import write_deltalake

    uri, options = where("dv")
    write_deltalake(uri, pa.table({"id": pa.array(range(40), pa.int64())}), storage_options=options)
    lk.register_table("ext.dv", uri)
    assert lk.sql("SELECT count(*) AS n FROM ext.dv").rows() == [{"n": 40}]
    external.delete_with_vector(uri, options, DELETED)
    assert lk.sql("SELECT count(*) AS n FROM ext.dv").rows() == [{"n": 34}]
    assert lk.sql("SELECT count(*) AS n FROM ext.dv VERSION AS OF 0").rows() == [{"n": 40}]


def test_a_deletion_vector_that_does_not_match_its_descriptor_is_refused_not_guessed(lk, where):
    uri, options = where("dv")
    external.with_deletion_vector(uri, options, DELETED)

    def lie(action: dict) -> dict:
        if "add" in action:
            action["add"]["deletionVector"]["cardinality"] = 5
        return action

    external.rewrite_log_entry(uri, options, 1, lie)
    with pytest.raises(StorageError, match="deletion vector .* is not valid .*holds 6 rows"):
        lk.register_table("ext.dv", uri)
    assert lk.tables() == []


def test_the_lake_does_not_write_to_an_external_table_and_vacuums_or_optimizes_it_only_if_owned(
    lk, where
):
    uri, options = where("owned")
    external.cleaned_log(uri, options)
    lk.register_table("ext.owned", uri)
    with pytest.raises(ExternalTable, match="does not write to it"):
        lk.write_table("ext.owned", pa.table({"id": [1], "part": ["p9"]}))
    with pytest.raises(ExternalTable, match="will not optimize it unless"):
        lk.optimize("ext.owned")
    with pytest.raises(ExternalTable, match="will not vacuum it unless"):
        lk.vacuum("ext.owned", retain="0d", apply=True)
    (report,) = lk.vacuum(retain="0d")
    assert report.notes and "external table: not vacuumed" in report.notes[0]
    compacted = lk.optimize("ext.owned", owned=True)
    assert compacted is not None and compacted.version == 7
    ours, theirs = _lake_read(lk, "ext.owned", 7), _delta_read(uri, options, 7)
    assert _rows(ours, ["id", "part"]) == _rows(theirs, ["id", "part"])
    assert sorted(ours.column("id").to_pylist()) == list(range(7))


def test_versions_the_writer_commits_later_are_recorded_and_materialize_pins_one(
    lk, where, tmp_path
):
    from deltalake import write_deltalake

    uri, options = where("growing")
    external.partitioned(uri, options)
    lk.register_table("ext.parts", uri)
    write_deltalake(uri, external.partitioned_rows(100), mode="append", storage_options=options)
    assert lk.sql("SELECT count(*) AS n FROM ext.parts").rows() == [{"n": 13}]
    assert [v.version for v in lk.history("ext.parts")] == [0, 1, 2, 3]
    result = lk.materialize("parts_set", sql="SELECT id, s FROM ext.parts", out=tmp_path / "out")
    assert result.row_count == 13
    assert [(i["table"], i["version"]) for i in result.inputs] == [("ext.parts", 3)]
    assert [p.version for p in lk.pins("ext.parts")] == [3]
    audit = lk.audit(lk.register_model("m", training_set="parts_set").name).to_json()
    assert "ext.parts" in str(audit)
    assert "parts_set" in str(lk.impact("ext.parts@3").to_json())


def test_registering_bad_input_says_what_and_where(lk, where):
    uri, options = where("twice")
    external.cleaned_log(uri, options)
    with pytest.raises(TableNotFound, match="No Delta table at .*_delta_log"):
        lk.register_table("ext.none", uri + "-missing")
    lk.register_table("ext.once", uri)
    again = lk.register_table("ext.once", uri)  # the same again: nothing new to record
    assert again.recorded == ()
    with pytest.raises(TableExists, match="already in the catalog as ext.once"):
        lk.register_table("ext.twice", uri)
    lk.write_table("own.t", pa.table({"id": [1]}))
    with pytest.raises(TableExists, match="Table own.t already exists"):
        lk.register_table("own.t", uri)


def test_the_command_line_registers_and_reads_an_external_table(cli, where):
    uri, options = where("parts")
    external.partitioned(uri, options)
    result = cli("table", "register", "ext.parts", uri, "--output", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["recorded"] == [0, 1, 2] and result.json()["kind"] == "external"
    counted = cli("sql", "SELECT count(*) AS n FROM ext.parts VERSION AS OF 1", "--output", "json")
    assert counted.json()["rows"] == [{"n": 10}]
    refused = cli("vacuum", "ext.parts", "--apply")
    assert refused.exit_code == 1 and "--owned" in refused.stderr


def _kernel_read(lk, uri: str, version: int) -> pa.Table:
    """One version as DuckDB's delta extension (delta-kernel) reads it."""
    import duckdb

    from lake.core.storage import extension_path

    con = duckdb.connect(config={"autoinstall_known_extensions": "false"})
    lk.storage.configure_duckdb(con)
    con.execute(f"LOAD '{extension_path('delta')}'")
    return con.execute(f"SELECT * FROM delta_scan('{uri}', version => {version})").to_arrow_table()


def test_an_event_date_that_is_not_the_utc_date_of_event_time_loses_no_rows(lk, where):
    # Written elsewhere with the writer's local date (UTC-4): the 01:00 UTC row is on the
    # 2nd there. The lake skips a file by its _event_date only when the log's range of its
    # _event_time says that date is the rows' UTC day.
    uri, options = where("local_days")
    moments = [datetime(2026, 10, 3, 1, tzinfo=UTC), datetime(2026, 10, 3, 12, tzinfo=UTC)]
    write_deltalake(
        uri,
        pa.table(
            {
                "_event_time": pa.array(moments, pa.timestamp("us", tz="UTC")),
                "_event_date": pa.array([date(2026, 10, 2), date(2026, 10, 3)], pa.date32()),
                "n": [1, 2],
            }
        ),
        partition_by=["_event_date"],
        storage_options=options,
    )
    lk.register_table("ext.local_days", uri)
    for condition in [
        "_event_time >= '2026-10-03'",
        "_event_time >= now() - INTERVAL 3650 DAY AND _event_time > '2026-10-02 23:00'",
    ]:
        query = f"SELECT n FROM ext.local_days WHERE {condition} ORDER BY n"
        assert lk.sql(query).table.column("n").to_pylist() == [1, 2], condition
    noon = "SELECT n FROM ext.local_days WHERE _event_time > '2026-10-03 06:00' ORDER BY n"
    result = lk.sql(noon)
    assert result.table.column("n").to_pylist() == [2]
    assert [(s.files_total, s.files_read) for s in result.scans] == [(2, 1)]  # by statistics


def test_optimize_leaves_out_the_rows_deletion_vectors_delete_and_every_version_reads_the_same(
    lk, where
):
    """The lake's own compaction commit reads each file as the version holds it: the rows
    its deletion vector deletes are not written into the new file (and its remove names
    the vector, as the protocol asks of a file removed with one)."""
    uri, options = where("dv")
    write_deltalake(uri, pa.table({"id": pa.array(range(40), pa.int64())}), storage_options=options)
    more = pa.table({"id": pa.array(range(40, 50), pa.int64())})
    write_deltalake(uri, more, mode="append", storage_options=options)
    external.delete_with_vector(uri, options, DELETED, version=2)
    lk.register_table("ext.dv", uri)
    compacted = lk.optimize("ext.dv", owned=True)
    assert compacted is not None and compacted.version == 3
    kept = [i for i in range(50) if i not in DELETED]
    for version in (2, 3):
        assert sorted(_lake_read(lk, "ext.dv", version).column("id").to_pylist()) == kept
        assert sorted(_kernel_read(lk, uri, version).column("id").to_pylist()) == kept
    (data_file,) = lk.describe("ext.dv").snapshot.files
    assert data_file.rows == len(kept) and data_file.deleted_rows == ()
    removes = [a["remove"] for a in external.read_log_entry(uri, options, 3) if "remove" in a]
    assert sorted(bool(r.get("deletionVector")) for r in removes) == [False, True]
    assert all(r["dataChange"] is False for r in removes)
    assert (compacted.rows_added, compacted.rows_removed) == (0, 0)


def test_optimize_rewrites_files_of_a_widened_column_in_its_new_type(lk, where):
    """Files written before a column was widened (``typeWidening``) hold the narrower type;
    the compacted file holds the column's type. deltalake 1.6.6's optimize refused the
    table (an unsupported writer feature), said as a conflict with another writer."""
    import pyarrow.parquet as pq

    uri, options = where("widened")
    written = external.widened(uri, options)
    lk.register_table("ext.widened", uri)
    compacted = lk.optimize("ext.widened", owned=True)
    assert compacted is not None and compacted.version == 4
    expected = _rows(written, ["id", "n"])
    for version in (3, 4):
        assert _rows(_lake_read(lk, "ext.widened", version), ["id", "n"]) == expected
        assert _rows(_kernel_read(lk, uri, version), ["id", "n"]) == expected
    (data_file,) = lk.describe("ext.widened").snapshot.files
    fs, base = lk.storage.filesystem_for(uri)
    with fs.open_input_file(f"{base}/{data_file.path}") as handle:
        assert pq.ParquetFile(handle).schema_arrow.field("n").type == pa.int64()


def test_optimize_of_a_column_mapped_table_is_refused_in_one_sentence(lk, where):
    """Column mapping: new files would need the columns' physical names and field ids,
    which the lake does not write, and deltalake 1.6.6 refuses too (on main its words came
    out as a storage failure). Nothing is committed."""
    uri, options = where("mapped")
    external.column_mapped(uri, options)
    lk.register_table("ext.mapped", uri)
    with pytest.raises(UnsupportedTableFeature, match="uses column mapping, which the lake"):
        lk.optimize("ext.mapped", owned=True)
    assert external.log_names(uri, options)[-1] == f"{2:020d}.json"


def test_optimize_of_a_table_partitioned_by_a_double_is_the_lakes_own_commit(lk, where):
    """Partition values of types a snapshot does not keep in the log's own text (a double)
    were left to deltalake's optimize, which committed a compaction whose answer was lost
    twice: the lake's own commit compacts the table, with the values as the log spells
    them (here from a checkpoint, which holds them as a map)."""
    uri, options = where("floats")
    for first in (0, 3):
        rows = pa.table({"id": pa.array(range(first, first + 3), pa.int64()), "f": [1.5] * 3})
        write_deltalake(uri, rows, mode="append", partition_by=["f"], storage_options=options)
    DeltaTable(uri, storage_options=options).create_checkpoint()
    lk.register_table("ext.floats", uri)
    compacted = lk.optimize("ext.floats", owned=True)
    assert compacted is not None and compacted.version == 2
    entry = external.read_log_entry(uri, options, 2)
    assert next(a["commitInfo"] for a in entry if "commitInfo" in a)["clientVersion"] == "lake"
    (add,) = [a["add"] for a in entry if "add" in a]
    assert add["partitionValues"] == {"f": "1.5"} and add["path"].startswith("f=1.5/")
    for version in (1, 2):
        ours = _lake_read(lk, "ext.floats", version)
        assert _rows(ours, ["id", "f"]) == [(i, 1.5) for i in range(6)]
    assert _rows(_delta_read(uri, options, 2), ["id", "f"]) == [(i, 1.5) for i in range(6)]
    assert len(lk.describe("ext.floats").snapshot.files) == 1


def test_optimize_of_files_spelling_equal_partition_values_apart_reads_as_before(lk, where):
    """Writers spell one value their own ways: an int as ``1`` or ``01``, a time with a
    space or a ``T`` and ``Z``, a null as no value or an empty string. Such files are one
    bin; the new file takes the first one's folder and spelling, and every version reads
    the same rows and values by the lake, deltalake and delta_scan as before."""
    import io
    from urllib.parse import quote

    import pyarrow.parquet as pq

    uri, options = where("spelled")
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    rows = pa.table(
        {
            "id": pa.array([0, 1], pa.int64()),
            "i": pa.array([1, 2], pa.int64()),
            "ts": pa.array([moment] * 2, pa.timestamp("us", tz="UTC")),
            "s": pa.array([None] * 2, pa.string()),
        }
    )
    write_deltalake(uri, rows, partition_by=["i", "ts", "s"], storage_options=options)
    spellings = [
        {"i": "01", "ts": "2026-01-01T00:00:00.000000Z", "s": ""},
        {"i": "1", "ts": "2026-01-01 00:00:00", "s": None},
    ]
    for version, values in enumerate(spellings, 1):
        folder = "/".join(f"{k}={v or '__HIVE_DEFAULT_PARTITION__'}" for k, v in values.items())
        key = f"{folder}/part-{version}.parquet"
        data = io.BytesIO()
        pq.write_table(pa.table({"id": pa.array([10 * version], pa.int64())}), data)
        external.write_file(uri, options, key, data.getvalue())
        add = {
            "path": quote(key, safe="/="),
            "partitionValues": values,
            "size": len(data.getvalue()),
            "modificationTime": 1,
            "dataChange": True,
            "stats": json.dumps({"numRecords": 1}),
        }
        info = {"timestamp": 1, "operation": "WRITE", "clientVersion": "test"}
        external.write_log_entry(uri, options, version, [{"commitInfo": info}, {"add": add}])
    lk.register_table("ext.spelled", uri)
    columns = ["id", "i", "ts", "s"]
    before = {v: _rows(_delta_read(uri, options, v), columns) for v in (0, 1, 2)}
    compacted = lk.optimize("ext.spelled", owned=True)
    assert compacted is not None and compacted.version == 3
    entry = external.read_log_entry(uri, options, 3)
    assert len([a for a in entry if "remove" in a]) == 3  # the i=2 file is not in the bin
    (add,) = [a["add"] for a in entry if "add" in a]
    logged = [
        a["add"]["partitionValues"]
        for v in (0, 1, 2)
        for a in external.read_log_entry(uri, options, v)
        if "add" in a
    ]
    assert add["partitionValues"] in logged and add["partitionValues"]["i"] in ("1", "01")
    assert add["path"].rpartition("/")[0] in {
        a["add"]["path"].rpartition("/")[0]
        for v in (0, 1, 2)
        for a in external.read_log_entry(uri, options, v)
        if "add" in a and a["add"]["partitionValues"] == add["partitionValues"]
    }
    expected = {**before, 3: before[2]}
    i_ts_s = [(1, moment, None), (2, moment, None), (1, moment, None), (1, moment, None)]
    assert expected[3] == [(n, *v) for n, v in zip((0, 1, 10, 20), i_ts_s, strict=True)]
    for version in (0, 1, 2, 3):
        read = {
            "lake": _lake_read(lk, "ext.spelled", version),
            "deltalake": _delta_read(uri, options, version),
            "delta_scan": _kernel_read(lk, uri, version),
        }
        for reader, table in read.items():
            assert _rows(table, columns) == expected[version], (reader, version)


def test_optimize_of_a_table_partitioned_by_every_type_keeps_each_value_as_its_log_spells_it(
    lk, where
):
    """Escaped folders (a space, a slash, a percent sign), times, decimals, bytes, doubles
    and nulls: each new file goes into the folder of the files it replaces, with their
    partition values as their log entries spell them, and every version reads as before,
    by the lake and by deltalake."""
    uri, options = where("typed")
    external.partitioned(uri, options)
    lk.register_table("ext.typed", uri)
    before = {
        a["add"]["path"].rpartition("/")[0]: a["add"]["partitionValues"]
        for version in (0, 1, 2)
        for a in external.read_log_entry(uri, options, version)
        if "add" in a
    }
    files_before = len(lk.describe("ext.typed").snapshot.files)
    compacted = lk.optimize("ext.typed", owned=True)
    assert compacted is not None and compacted.version == 3
    entry = external.read_log_entry(uri, options, 3)
    assert next(a["commitInfo"] for a in entry if "commitInfo" in a)["clientVersion"] == "lake"
    adds = [a["add"] for a in entry if "add" in a]
    assert adds, entry
    for add in adds:
        assert before[add["path"].rpartition("/")[0]] == add["partitionValues"], add
    assert any("%25" in add["path"] for add in adds), adds  # an escaped folder was compacted
    assert len(lk.describe("ext.typed").snapshot.files) == files_before - len(adds)
    columns = ["id", "value", *[c for c in external.PARTITION_TYPES if c != "b"]]
    expected = _rows(_delta_read(uri, options, 2), columns)
    for version in (2, 3):
        ours, theirs = _lake_read(lk, "ext.typed", version), _delta_read(uri, options, version)
        assert _rows(ours, columns) == _rows(theirs, columns) == expected
    # bytes as the lake decodes them (deltalake hands back its escape text for some)
    assert _rows(_lake_read(lk, "ext.typed", 3), ["id", "b"]) == _rows(
        _lake_read(lk, "ext.typed", 2), ["id", "b"]
    )


def test_optimize_of_a_table_another_engine_wrote_all_in_zstd_keeps_statistics(lk, where):
    """Engines that compress every column with zstd (Trino's default; Spark's with
    ``parquet.compression.codec=zstd``) write statistics for each: the compacted file keeps
    them, which readers skip the file by. Only a column the lake archives (zstd and no
    statistics, such as a log's ``_raw``) is written so again."""
    from deltalake import WriterProperties

    uri, options = where("zstd")
    for first in (0, 10, 20):
        rows = pa.table({"id": pa.array(range(first, first + 10), pa.int64())})
        write_deltalake(
            uri,
            rows,
            mode="append",
            storage_options=options,
            writer_properties=WriterProperties(compression="ZSTD"),
        )
    lk.register_table("ext.zstd", uri)
    compacted = lk.optimize("ext.zstd", owned=True)
    assert compacted is not None and compacted.version == 3
    [add] = [a["add"] for a in external.read_log_entry(uri, options, 3) if "add" in a]
    stats = json.loads(add["stats"])
    assert (stats["minValues"], stats["maxValues"]) == ({"id": 0}, {"id": 29})
    assert sorted(_kernel_read(lk, uri, 3).column("id").to_pylist()) == list(range(30))


def _copy_folder(backend, source: str, target: str) -> None:
    """Copy a table's files key by key, as a tool that takes names literally does (aws s3
    cp, rclone, Spark): ``target`` may hold characters deltalake would read otherwise."""
    if backend.s3 is None:
        import shutil

        shutil.copytree(source, target)
        return
    s3 = backend.s3.client()
    bucket, _, prefix = source[len("s3://") :].partition("/")
    target_prefix = target[len("s3://") :].partition("/")[2]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for item in page.get("Contents", []):
            s3.copy_object(
                Bucket=bucket,
                Key=target_prefix + item["Key"][len(prefix) :],
                CopySource={"Bucket": bucket, "Key": item["Key"]},
            )


def test_a_location_holding_a_percent_sign_is_refused_not_read_as_another_folder(
    lk, backend, where
):
    """deltalake takes a location as a URL and decodes it (twice, in its log reader): the
    Delta table in the folder named "a%20b" was read from the folder "a b", another table,
    while the lake's own readers took the name literally."""
    ours, options = where("a%20b/t")
    other = ours.replace("a%20b", "a b")
    write_deltalake(other, pa.table({"id": [1, 2, 3]}), storage_options=options)
    written, _ = where("plain/t")
    write_deltalake(written, pa.table({"id": [7]}), storage_options=options)
    _copy_folder(backend, written, ours)

    with pytest.raises(StorageError) as refused:
        lk.register_table("ext.pct", ours)

    assert str(refused.value) == (
        f"The location {ours} holds '%' and two hex digits, which deltalake reads as an "
        f"escape (a%20b as 'a b', a%2Fb as 'a/b') while the lake's other readers take it "
        f"literally, so they would read different objects; move the table to a location "
        f"without '%' before two hex digits."
    )
    assert [t.name for t in lk.tables()] == []


@pytest.mark.parametrize("odd", ["x/../t", "x/./t", "x//t"])
def test_an_s3_location_with_an_empty_or_dot_segment_is_refused_not_resolved(
    lk, backend, where, odd
):
    """deltalake resolves "x/../t" to "t" (another table) and refuses "x//t" in its own
    words, while S3 and the lake's other readers take the key literally."""
    if backend.s3 is None:
        pytest.skip("a local path means the same folder to every reader")
    written, options = where("plain/t")
    write_deltalake(written, pa.table({"id": [7]}), storage_options=options)
    base = written[: -len("/plain/t")]
    write_deltalake(f"{base}/t", pa.table({"id": [1, 2, 3]}), storage_options=options)
    _copy_folder(backend, written, f"{base}/{odd}")

    with pytest.raises(StorageError) as refused:
        lk.register_table("ext.dots", f"{base}/{odd}")

    assert str(refused.value) == (
        f"The location {base}/{odd} has an empty, '.' or '..' segment, which deltalake "
        f"resolves (a/../b as 'b') or refuses while S3 and the lake's other readers take the "
        f"key literally; move the table to a location without such segments."
    )
    assert [t.name for t in lk.tables()] == []


def test_a_file_url_names_the_folder_its_escapes_spell(lk, backend, where):
    """file:///x/a%20b is the folder "a b" (deltalake prints a table's URI so); the lake
    took the escape literally and found no table."""
    if backend.s3 is not None:
        pytest.skip("a file:// URL names a local folder")
    from urllib.parse import quote

    written, options = where("a b/t")
    write_deltalake(written, pa.table({"id": [7]}), storage_options=options)

    registered = lk.register_table("ext.spaced", "file://" + quote(written))

    assert registered.table.location == written
    assert lk.sql("SELECT id FROM ext.spaced").table.to_pylist() == [{"id": 7}]


@pytest.mark.parametrize("odd", ["q?x", "h#x", "b[a]x"])
def test_a_location_holding_a_url_or_pattern_character_is_refused(lk, backend, where, odd):
    """A table in "q?x" or "h#x" was registered locally with no version (deltalake's history
    of it is empty) and not found on S3 (pyarrow's S3 client); DuckDB globbed "b[a]x/..."
    on S3 and so read "bax/..." (here: no such file)."""
    if odd == "b[a]x" and backend.s3 is None:
        pytest.skip("DuckDB reads a local path with '[' as it is")
    written, options = where("plain/t")
    write_deltalake(written, pa.table({"id": [7]}), storage_options=options)
    base = written[: -len("/plain/t")]
    _copy_folder(backend, written, f"{base}/{odd}/t")
    expected = {
        "q?x": "holds '?' or '#', which deltalake's history and pyarrow's S3 client take for "
        "the start of a URL's query or fragment, so the table's versions would not be found; "
        "move the table to a location without '?' and '#'.",
        "b[a]x": "holds '[', ']' or '*', which DuckDB reads in an S3 path as a pattern (b[a]x "
        "matches bax), so it would read other objects; move the table to a location without "
        "'[', ']' and '*'.",
    }

    with pytest.raises(StorageError) as refused:
        lk.register_table("ext.odd", f"{base}/{odd}/t")

    said = expected.get(odd, expected["q?x"])
    assert str(refused.value) == f"The location {base}/{odd}/t {said}"
    assert [t.name for t in lk.tables()] == []


@pytest.mark.parametrize(
    ("odd", "avoid"), [("a%20b", "'%' before two hex digits"), ("x/../a b", "such segments")]
)
def test_a_table_registered_before_its_location_was_refused_is_not_read_from_another_folder(
    lk, backend, where, odd, avoid
):
    """A catalog made before the refusal holds an external table at "a%20b/t" (or, on S3,
    "x/../a b/t"): sync recorded the versions of the Delta table in "a b/t", another table,
    and a query said vacuum had removed version 0's files; at "x/../a b/t" sync told the user
    to delete the table's own log entry."""
    from catalog.tables import EXTERNAL_KIND
    from lake.core.names import TableName
    from lake.landing.sync import OLDEST_KEY

    if "/" in odd and backend.s3 is None:
        pytest.skip("a local path is normalized: every reader resolves '..' the same way")
    written, options = where("plain/t")
    write_deltalake(written, pa.table({"id": [7]}), storage_options=options)
    base = written[: -len("/plain/t")]
    write_deltalake(f"{base}/a b/t", pa.table({"id": [1, 2, 3]}), storage_options=options)
    ours = f"{base}/{odd}/t"
    _copy_folder(backend, written, ours)
    # What register_table recorded before it checked locations.
    lk.catalog.create_table(
        TableName.parse("ext.old"), kind=EXTERNAL_KIND, location=ours, properties={OLDEST_KEY: 0}
    )

    lk.write_table("ml.fine", pa.table({"id": [5]}))

    assert lk.sql("SELECT id FROM ml.fine").table.to_pylist() == [{"id": 5}]
    assert "ext.old" in [str(t.name) for t in lk.tables()]
    for use in (lambda: lk.sync("ext.old"), lambda: lk.sql("SELECT id FROM ext.old")):
        with pytest.raises(UnsupportedLocation) as refused:
            use()
        assert str(refused.value).startswith(f"The table location {ours} ")
        assert str(refused.value).endswith(
            f"; move the table to a location without {avoid} and register it there under "
            f"another name."
        )


def test_a_time_before_a_commit_whose_clock_ran_ahead_reads_no_version_after_it(lk, where):
    """Writers on several machines stamp commits with their own clocks, so a log's commit
    times can go back (here version 2 at :25 after version 1 at :30). Version 2 holds version
    1's rows, so it cannot be the version current at :27, when version 1 was not committed
    yet; Delta readers count a commit that goes back as made just after the one before it."""
    from datetime import timedelta

    uri, options = where("skew")
    for i in range(3):
        write_deltalake(uri, pa.table({"x": [i]}), mode="append", storage_options=options)
    start = datetime(2026, 11, 20, 10, 0, 20, tzinfo=UTC)
    fs, path = lk.storage.filesystem_for(uri)
    for version, seconds in ((0, 0), (1, 10), (2, 5)):
        entry = f"{path}/_delta_log/{version:020d}.json"
        with fs.open_input_stream(entry) as stream:
            actions = [json.loads(line) for line in stream.read().decode().splitlines() if line]
        for action in actions:
            if "commitInfo" in action:
                moment = start + timedelta(seconds=seconds)
                action["commitInfo"]["timestamp"] = int(moment.timestamp() * 1000)
        with fs.open_output_stream(entry) as out:
            out.write("".join(json.dumps(a) + "\n" for a in actions).encode())
    lk.register_table("ext.skew", uri)

    def read_at(seconds: int) -> tuple[list[int], int]:
        moment = (start + timedelta(seconds=seconds)).isoformat()
        result = lk.sql(f"SELECT x FROM ext.skew TIMESTAMP AS OF '{moment}' ORDER BY x")
        return [r["x"] for r in result.rows()], result.versions[0].version

    assert read_at(7) == ([0], 0)  # not version 2, which holds x = 1, committed at :30
    assert read_at(10) == ([0, 1, 2], 2)  # every commit up to version 2 is in the past
    assert (
        lk.describe(f"ext.skew@{(start + timedelta(seconds=7)).isoformat()}").version.version == 0
    )


@pytest.mark.parametrize(
    "protocol,named",
    [
        ({"minReaderVersion": 4, "minWriterVersion": 7, "writerFeatures": []}, "reader version 4"),
        (
            {
                "minReaderVersion": 3,
                "minWriterVersion": 7,
                "readerFeatures": ["futureThing"],
                "writerFeatures": ["futureThing"],
            },
            "futureThing",
        ),
    ],
    ids=["reader-version-4", "unknown-reader-feature"],
)
def test_a_commit_raising_the_protocol_past_the_reader_is_refused_as_unsupported(
    lk, where, protocol, named
):
    """A commit after registration whose protocol asks for a reader version or feature
    deltalake does not know: every read is refused (deltalake opens no version of such a
    log), as a feature the lake cannot read, in one sentence; it was reported as "Storage
    failed for reading the log of ...", which sends the user to look at the storage."""
    uri, options = where("raised")
    write_deltalake(uri, pa.table({"id": [1, 2]}), storage_options=options)
    lk.register_table("ext.raised", uri)
    external.write_log_entry(
        uri, options, 1, [{"protocol": protocol}, {"commitInfo": {"timestamp": 1}}]
    )

    for read in (
        lambda: lk.sql("SELECT count(*) AS n FROM ext.raised"),
        lambda: lk.describe("ext.raised"),
    ):
        with pytest.raises(UnsupportedTableFeature, match=named) as raised:
            read()
        message = str(raised.value)
        assert uri in message and message.count(". ") == 0 and message.endswith(".")


def test_a_recorded_version_whose_log_entry_was_cleaned_up_is_refused_naming_the_table(
    lk, where, cli
):
    """Recorded while the log held it, then cleaned up by the writer's log retention: the
    refusal named the table's storage location ("Version 2 of s3://bucket/... can no longer
    be read"), and said nothing of what to do."""
    uri, options = where("retained")
    for i in range(6):
        write_deltalake(uri, pa.table({"id": [i]}), mode="append", storage_options=options)
    lk.register_table("ext.retained", uri)
    DeltaTable(uri, storage_options=options).create_checkpoint()
    external.remove_log_entries(uri, options, [f"{v:020d}.json" for v in range(5)])

    said = (
        r"Version 2 of ext\.retained.* can no longer be read: its writer cleaned up the Delta "
        r"log before version 5 \(log retention\); only version 5 can be read: read it, or put "
        r"the cleaned-up log entries back from a backup\.$"
    )
    with pytest.raises(TimeTravelError, match=said) as refused:
        lk.sql("SELECT * FROM ext.retained VERSION AS OF 2")
    assert uri not in str(refused.value)
    with pytest.raises(VersionNotFound, match=said) as refused:
        lk.describe("ext.retained@2")
    assert uri not in str(refused.value)
    for argv in (
        ("sql", "SELECT * FROM ext.retained VERSION AS OF 2"),
        ("describe", "ext.retained@2"),
    ):
        result = cli(*argv)
        assert result.exit_code == 1 and uri not in result.stderr, result.stderr
        assert re.search(said, result.stderr.strip().removeprefix("error: ")), result.stderr
    assert lk.sql("SELECT count(*) AS n FROM ext.retained VERSION AS OF 5").rows() == [{"n": 6}]


def test_a_partition_value_that_is_no_value_of_its_column_is_refused_naming_the_file(
    lk, where, cli
):
    """Another engine's commit gives a file of an integer partition column the value 'nine':
    the refusal was "Storage failed for reading the log of <location>: Kernel error: Failed to
    parse value 'nine' as 'long'", naming neither the table, the file nor the column."""
    uri, options = where("badpart")
    write_deltalake(
        uri, pa.table({"id": [1, 2], "n": [7, 8]}), partition_by=["n"], storage_options=options
    )
    lk.register_table("ext.badpart", uri)
    write_deltalake(uri, pa.table({"id": [3], "n": [9]}), mode="append", storage_options=options)
    [added] = [a["add"] for a in external.read_log_entry(uri, options, 1) if "add" in a]

    def spelled_nine(action: dict) -> dict:
        if "add" in action:
            action["add"]["partitionValues"]["n"] = "nine"
        return action

    external.rewrite_log_entry(uri, options, 1, spelled_nine)

    said = (
        rf"^Version 1 of table ext\.{{name}} gives the file {re.escape(added['path'])} the "
        r"partition value 'nine' in column n, which is not a long: the engine that wrote it "
        r"broke the Delta protocol; correct the value in _delta_log/00000000000000000001\.json, "
        r"or rewrite the file with that engine\.$"
    )
    with pytest.raises(PartitionValueInvalid, match=said.format(name="badpart")):
        lk.sql("SELECT count(*) AS n FROM ext.badpart")
    result = cli("sql", "SELECT count(*) AS n FROM ext.badpart")
    assert result.exit_code == 1
    assert re.search(said.format(name="badpart"), result.stderr.removeprefix("error: ").strip())
    with pytest.raises(PartitionValueInvalid, match=said.format(name="badpart")):
        lk.history("ext.badpart")
    assert lk.sql("SELECT count(*) AS n FROM ext.badpart VERSION AS OF 0").rows() == [{"n": 2}]
    # Registered under another name: refused the same way, nothing recorded.
    with pytest.raises(PartitionValueInvalid, match=said.format(name="copy")):
        lk.register_table("ext.copy", uri)
    assert [str(t.name) for t in lk.tables()] == ["ext.badpart"]


def test_a_table_with_in_commit_timestamps_has_their_times(lk, where):
    # The second writer's clock was a day behind: its commitInfo timestamp says so, its
    # in-commit timestamp (the commit's time, as the protocol says) is 1 ms after the first.
    uri, options = where("ict")
    first = int(datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp() * 1000)
    day = 24 * 3600 * 1000
    external.in_commit_timestamps(uri, options, [(first, first), (first - day, first + 1)])
    lk.register_table("ext.ict", uri)
    times = {v.version: v.committed_at for v in lk.history("ext.ict")}
    assert times == {
        0: datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        1: datetime(2026, 11, 20, 10, 0, 0, 1000, tzinfo=UTC),
    }
    assert lk.describe("ext.ict@1").version.committed_at == times[1]
    assert lk.sql(
        "SELECT count(*) AS n FROM ext.ict TIMESTAMP AS OF '2026-11-20T10:00:00.0005Z'"
    ).table.to_pylist() == [{"n": 1}]


def test_vacuum_keeps_the_deletion_vector_files_a_kept_version_needs(lk, where):
    # deltalake's vacuum deleted the live vector (no add action names its file): the table
    # could no longer be read at its latest version, by the lake or by Spark.
    uri, options = where("dv")
    external.with_deletion_vector(uri, options, DELETED, stored=True)
    external.write_file(uri, options, "part-left-by-a-dead-writer.parquet", b"PAR1")
    lk.register_table("ext.dv", uri)
    vector = next(n for n in external.table_files(uri, options) if "deletion_vector_" in n)
    (planned,) = lk.vacuum("ext.dv", retain="0d", owned=True)
    assert [path for path, _ in planned.files] == ["part-left-by-a-dead-writer.parquet"]
    (done,) = lk.vacuum("ext.dv", retain="0d", apply=True, owned=True)
    assert [path for path, _ in done.files] == ["part-left-by-a-dead-writer.parquet"]
    assert vector in external.table_files(uri, options)
    assert "part-left-by-a-dead-writer.parquet" not in external.table_files(uri, options)
    assert lk.sql("SELECT count(*) AS n FROM ext.dv").rows() == [{"n": 40 - len(DELETED)}]
