"""String partition values that a folder name must escape (a space, ``%``, ``/``, ``=``,
``:``, non-ASCII, an empty string). The Delta protocol makes ``add.path`` a URI: a file
stored under the folder ``p=a%20b`` is logged as ``p=a%2520b`` and every reader decodes it.
The lake, deltalake and DuckDB's ``delta_scan`` (delta-kernel) must each read every row with
its value, at every version, after an append and after a compaction."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from lake.delta.snapshot import StagedFile
from lake.delta.store import DeltaStore

VALUES = ["a b", "50%", "%20", "x/y", "k=v", "t:1", "é", "plain", "", None]
SCHEMA = pa.schema([("id", pa.int64()), ("p", pa.string())])


def _expected(pairs: list[tuple[int, str | None]]) -> list[tuple[int, str | None]]:
    # An empty string is null, as the protocol says.
    return sorted((i, v or None) for i, v in pairs)


def _staged(folder: Path, pairs: list[tuple[int, str | None]]) -> list[StagedFile]:
    files = []
    for i, value in pairs:
        path = folder / f"staged-{i}.parquet"
        pq.write_table(pa.table({"id": pa.array([i], pa.int64())}), path)
        files.append(StagedFile(path, {"p": value}))
    return files


def _pairs(table: pa.Table) -> list[tuple[int, str | None]]:
    return sorted(zip(table.column("id").to_pylist(), table.column("p").to_pylist(), strict=True))


def _kernel_connection(lk):
    """One DuckDB with the Delta extension for every version's ``delta_scan`` (each call still
    reads its version's log): loading the extensions and the S3 secret was half its cost."""
    import duckdb

    from lake.core.storage import extension_path

    con = duckdb.connect(config={"autoinstall_known_extensions": "false"})
    lk.storage.configure_duckdb(con)
    con.execute(f"LOAD '{extension_path('delta')}'")
    return con


def _kernel(con, uri: str, version: int) -> pa.Table:
    query = f"SELECT id, p FROM delta_scan('{uri}', version => {version})"
    return con.execute(query).to_arrow_table()


def _read_everywhere(lk, con, uri: str, version: int) -> dict[str, list[tuple[int, str | None]]]:
    store = DeltaStore(uri, lk.storage)
    options = lk.storage.delta_options()
    scanned = pa.Table.from_batches(list(store.scan(store.snapshot(version))))
    return {
        "lake store": _pairs(scanned),
        "lake sql": _pairs(lk.sql(f"SELECT id, p FROM ext.escaped VERSION AS OF {version}").table),
        "deltalake": _pairs(
            DeltaTable(uri, version=version, storage_options=options).to_pyarrow_table()
        ),
        "delta_scan": _pairs(_kernel(con, uri, version)),
    }


def test_escaped_partition_values_read_back_everywhere_after_an_append_and_a_compaction(
    lk, backend, tmp_path
):
    """The append after the first went through deltalake's commit (the lake's own commit
    leaves escaped paths to it) and its snapshot was told from the published files, whose
    paths are the folders' text: the lake decoded ``p=a%20b`` to ``p=a b`` and found no
    file (``VersionVacuumed``), where deltalake and delta_scan read the log's
    ``p=a%2520b``."""
    if backend.s3 is not None:
        uri = f"s3://{backend.s3.bucket}/revfallback-{uuid.uuid4().hex[:8]}/escaped"
    else:
        uri = str(tmp_path / "escaped")
    store = DeltaStore(uri, lk.storage)
    first = [(100, "seed"), (101, "a b")]
    store.append(
        _staged(tmp_path, first), schema=SCHEMA, partition_by=["p"], run_id="r0", operation="W"
    )
    second = list(enumerate(VALUES))
    appended = store.append(
        _staged(tmp_path, second),
        schema=SCHEMA,
        partition_by=["p"],
        run_id="r1",
        operation="W",
        base=store.snapshot(),
    )
    assert appended.version == 1
    scanned = pa.Table.from_batches(list(store.scan(store.snapshot())))  # as the append told it
    assert _pairs(scanned) == _expected(first + second)
    # another append into the same folders, so that the compaction has bins of several files
    third = [(200 + i, v) for i, v in enumerate(VALUES)]
    store.append(
        _staged(tmp_path, third),
        schema=SCHEMA,
        partition_by=["p"],
        run_id="r2",
        operation="W",
        base=store.snapshot(),
    )
    lk.register_table("ext.escaped", uri)
    con = _kernel_connection(lk)
    expected = {0: _expected(first), 1: _expected(first + second)}
    expected[2] = expected[3] = _expected(first + second + third)
    for version in (0, 1, 2):
        for reader, pairs in _read_everywhere(lk, con, uri, version).items():
            assert pairs == expected[version], (reader, version)
    compacted = lk.optimize("ext.escaped", owned=True)
    assert compacted is not None and compacted.version == 3
    assert len(lk.describe("ext.escaped").snapshot.files) < len(store.snapshot(2).files)
    for version in (0, 1, 2, 3):
        for reader, pairs in _read_everywhere(lk, con, uri, version).items():
            assert pairs == expected[version], (reader, version)
