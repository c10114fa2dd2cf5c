"""Appends to column-mapped tables (PROTOCOL.md "Writer Requirements for Column Mapping"):
the lake's own commit writes each column under its physical name with its column id as the
Parquet field id, and keys statistics and partition values by physical name. Read back by the
lake, by DuckDB's ``delta_scan`` (delta-kernel) and, for the log, by deltalake, which also
appends to the same table after the lake."""

from __future__ import annotations

import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from lake.core.errors import CommitConflict, UnsupportedTableFeature
from lake.delta.encoding import archived_columns
from lake.delta.snapshot import StagedFile
from lake.delta.store import DeltaStore
from tests.delta import external


def _kernel(lk, uri: str, version: int) -> pa.Table:
    """One version as DuckDB's delta extension (delta-kernel) reads it."""
    import duckdb

    from lake.core.storage import extension_path

    con = duckdb.connect(config={"autoinstall_known_extensions": "false"})
    lk.storage.configure_duckdb(con)
    con.execute(f"LOAD '{extension_path('delta')}'")
    return con.execute(f"SELECT * FROM delta_scan('{uri}', version => {version})").to_arrow_table()


def _rows(table: pa.Table, columns: list[str]) -> list[tuple]:
    data = table.select(columns).to_pylist()
    return sorted((tuple(r[c] for c in columns) for r in data), key=lambda r: r[0])


@pytest.fixture
def mapped(backend, lk, tmp_path):
    """A table deltalake wrote with ``delta.columnMapping.mode`` = ``name`` (physical names
    ``col-<uuid>``, partitioned by ``part``), then ``Name x`` renamed to ``label``
    (:func:`tests.delta.external.column_mapped`): its location and every row written."""
    if backend.s3 is not None:
        uri = f"s3://{backend.s3.bucket}/spark-{uuid.uuid4().hex[:8]}/mapped"
    else:
        uri = str(tmp_path / "spark" / "mapped")
    written = external.column_mapped(uri, lk.storage.delta_options())
    return uri, written.rename_columns(["id", "label", "part"])


def test_an_append_to_a_renamed_column_mapped_table_is_read_under_the_new_names_everywhere(
    lk, tmp_path, mapped
):
    uri, written = mapped
    options = lk.storage.delta_options()
    store = DeltaStore(uri, lk.storage)
    base = store.snapshot()
    assert base.physical_names  # every column is stored as col-<uuid>
    files = []
    for part, ids, labels in (("p", [5, 6], ["e", None]), ("z", [7], ["g"])):
        path = tmp_path / f"staged-{part}.parquet"
        pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "label": labels}), path)
        files.append(StagedFile(path, {"part": part}))
    commit = store.append(
        files,
        schema=base.schema,
        partition_by=base.partition_columns,
        run_id="r-mapped",
        operation="WRITE",
        base=base,
    )
    assert commit.version == base.version + 1 == 3
    told = store.snapshot(commit.version)
    loaded = store.snapshot(commit.version)  # told once: this one is read from the log
    assert told is not loaded
    assert sorted((f.path, dict(f.partition_values), f.rows) for f in told.files) == sorted(
        (f.path, dict(f.partition_values), f.rows) for f in loaded.files
    )

    # deltalake, a writer of column mapping of its own, appends after the lake
    write_deltalake(
        uri,
        pa.table({"id": pa.array([8], pa.int64()), "label": ["h"], "part": ["q"]}),
        mode="append",
        storage_options=options,
    )
    expected = _rows(written, ["id", "label", "part"]) + [
        (5, "e", "p"),
        (6, None, "p"),
        (7, "g", "z"),
        (8, "h", "q"),
    ]
    lk.register_table("ext.mapped", uri)
    ours = lk.sql("SELECT * FROM ext.mapped").table
    assert ours.column_names == ["id", "label", "part"]
    assert _rows(ours, ["id", "label", "part"]) == expected
    # delta_scan reads NULL in this deltalake table's partition column, its own files too
    kernel = _kernel(lk, uri, 4)
    assert kernel.column_names == ["id", "label", "part"]
    assert _rows(kernel, ["id", "label"]) == [(i, label) for i, label, _ in expected]
    assert lk.sql("SELECT id FROM ext.mapped WHERE part = 'z'").rows() == [{"id": 7}]

    # The lake's file, as the protocol asks of it: physical names and field ids
    fields = json.loads(DeltaTable(uri, storage_options=options).schema().to_json())["fields"]
    physical = {f["name"]: f["metadata"]["delta.columnMapping.physicalName"] for f in fields}
    ids = {f["name"]: f["metadata"]["delta.columnMapping.id"] for f in fields}
    adds = [a["add"] for a in external.read_log_entry(uri, options, 3) if "add" in a]
    assert len(adds) == 2
    for add in adds:
        assert set(add["partitionValues"]) == {physical["part"]}
        stats = json.loads(add["stats"])
        assert set(stats["minValues"]) == {physical["id"], physical["label"]}
        fs, root = lk.storage.filesystem_for(uri)
        with fs.open_input_file(f"{root}/{add['path']}") as handle:
            schema = pq.ParquetFile(handle).schema_arrow
        assert schema.names == [physical["id"], physical["label"]]
        assert [int(f.metadata[b"PARQUET:field_id"]) for f in schema] == [ids["id"], ids["label"]]
    z = next(a for a in adds if a["partitionValues"][physical["part"]] == "z")
    assert json.loads(z["stats"])["minValues"][physical["id"]] == 7


def _staged(tmp_path, ids: list[int]) -> list[StagedFile]:
    path = tmp_path / f"staged-{ids[0]}.parquet"
    labels = [f"l{i}" for i in ids]
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "label": labels}), path)
    return [StagedFile(path, {"part": "p"})]


def test_an_append_that_lost_its_version_commits_after_an_append_and_not_after_a_rename(
    lk, tmp_path, mapped
):
    """deltalake's commit would not keep the files' physical names: the lake commits again
    on its own, after another writer's append (no conflict, as the protocol says); after a
    rename (a change of metadata) it refuses, and removes the files it wrote."""
    uri, _ = mapped
    options = lk.storage.delta_options()
    store = DeltaStore(uri, lk.storage)
    base = store.snapshot()
    other = pa.table({"id": pa.array([8], pa.int64()), "label": ["h"], "part": ["q"]})
    write_deltalake(uri, other, mode="append", storage_options=options)  # takes version 3
    commit = store.append(
        _staged(tmp_path, [5]),
        schema=base.schema,
        partition_by=base.partition_columns,
        run_id="r-late",
        operation="WRITE",
        base=base,
    )
    assert commit.version == 4
    assert _rows(_kernel(lk, uri, 4), ["id", "label"])[-2:] == [(5, "l5"), (8, "h")]

    base = store.snapshot()
    files_before = external.table_files(uri, options)
    external.change_mapped_columns(uri, options, rename={"label": "tag"})  # version 5
    with pytest.raises(CommitConflict, match="run the command again"):
        store.append(
            _staged(tmp_path, [6]),
            schema=base.schema,
            partition_by=base.partition_columns,
            run_id="r-renamed",
            operation="WRITE",
            base=base,
        )
    assert external.log_names(uri, options)[-1] == f"{5:020d}.json"
    assert external.table_files(uri, options) == files_before


def test_an_append_to_a_table_setting_a_mapping_its_protocol_does_not_declare_is_refused(lk):
    """Readers honour ``delta.columnMapping.mode`` only under a protocol declaring the
    feature: which names the files need cannot be told, so nothing is written."""
    lk.write_table("ml.undeclared", pa.table({"id": pa.array([1], pa.int64()), "v": [1]}))
    uri, options = lk.table("ml.undeclared").location, lk.storage.delta_options()
    version = external.rename_column(uri, options, "v", "value")
    external.rewrite_log_entry(
        uri,
        options,
        version,
        lambda a: (
            {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}} if "protocol" in a else a
        ),
    )
    files_before = external.table_files(uri, options)
    rows = pa.table({"id": pa.array([2], pa.int64()), "value": [2]})
    with pytest.raises(UnsupportedTableFeature, match="without the columnMapping feature") as e:
        lk.write_table("ml.undeclared", rows)
    message = str(e.value)
    assert uri in message and message.count(". ") == 0 and message.endswith(".")
    assert external.table_files(uri, options) == files_before
    assert external.log_names(uri, options)[-1] == f"{version:020d}.json"


def test_a_log_ingest_into_a_partitioned_table_another_engine_renamed_keeps_its_encodings(
    lk, tmp_path
):
    """The log stage's own files (partitioned by day, ``_raw`` archived: zstd, no
    statistics) are written again under the physical names, archived columns still so."""
    first = tmp_path / "first.jsonl"
    first.write_text('{"ts": "2026-10-05T10:00:00Z", "n": 1}\n')
    lk.ingest_logs("app.days", str(first))
    uri, options = lk.table("app.days").location, lk.storage.delta_options()
    version = external.rename_column(uri, options, "n", "count")
    second = tmp_path / "second.jsonl"
    second.write_text('{"ts": "2026-10-06T10:00:00Z", "count": 2}\n')
    lk.ingest_logs("app.days", str(second))
    found = lk.sql("SELECT _event_date, count FROM app.days ORDER BY count").rows()
    assert [(str(r["_event_date"]), r["count"]) for r in found] == [
        ("2026-10-05", 1),
        ("2026-10-06", 2),
    ]
    kernel = _kernel(lk, uri, version + 1).sort_by("count")
    assert kernel.column("count").to_pylist() == [1, 2]
    assert [str(d) for d in kernel.column("_event_date").to_pylist()] == [
        "2026-10-05",
        "2026-10-06",
    ]
    (add,) = [a["add"] for a in external.read_log_entry(uri, options, version + 1) if "add" in a]
    assert add["partitionValues"] == {"_event_date": "2026-10-06"}
    fs, root = lk.storage.filesystem_for(uri)
    with fs.open_input_file(f"{root}/{add['path']}") as handle:
        parquet = pq.ParquetFile(handle)
        assert "n" in parquet.schema_arrow.names and "count" not in parquet.schema_arrow.names
        assert "_raw" in archived_columns(parquet.metadata)


def test_an_append_to_a_mapped_table_under_databricks_features_is_the_lakes_own_commit(
    lk, tmp_path, mapped
):
    """Databricks turns deletion vectors on with column mapping (protocol 3/7): files added
    without a vector ask nothing more of the writer, so the lake's own commit takes them."""
    uri, written = mapped
    options = lk.storage.delta_options()
    protocol = {
        "minReaderVersion": 3,
        "minWriterVersion": 7,
        "readerFeatures": ["columnMapping", "deletionVectors"],
        "writerFeatures": ["appendOnly", "invariants", "columnMapping", "deletionVectors"],
    }
    external.rewrite_log_entry(
        uri, options, 0, lambda a: {"protocol": protocol} if "protocol" in a else a
    )
    store = DeltaStore(uri, lk.storage)
    base = store.snapshot()
    commit = store.append(
        _staged(tmp_path, [5]),
        schema=base.schema,
        partition_by=base.partition_columns,
        run_id="r-databricks",
        operation="WRITE",
        base=base,
    )
    assert commit.version == 3
    expected = [(i, label) for i, label, _ in _rows(written, ["id", "label", "part"])]
    assert _rows(_kernel(lk, uri, 3), ["id", "label"]) == [*expected, (5, "l5")]
