"""The lake's Parquet encodings, read back from the files the way a reader (DuckDB) sees them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.logs.stage import stage_logs
from lake.core.names import TableName
from lake.delta.encoding import delta_writer_properties, leaf_paths, writer_options

APACHE = Path(__file__).resolve().parents[1] / "data" / "elastic-logs" / "apache_logs"
ROWS = 20_000


def encodings(path: str | Path) -> dict[str, tuple[bool, str, bool]]:
    """Column path -> (dictionary-encoded, codec, has statistics), from the first row group."""
    rg = pq.ParquetFile(path).metadata.row_group(0)
    out = {}
    for i in range(rg.num_columns):
        c = rg.column(i)
        out[c.path_in_schema] = (
            "RLE_DICTIONARY" in c.encodings,
            c.compression,
            c.statistics is not None and c.statistics.has_min_max,
        )
    return out


def log_like_table(n: int = ROWS) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "latency": pa.array([i * 0.37 for i in range(n)], pa.float64()),
            "status": pa.array([(200, 404, 500)[i % 3] for i in range(n)], pa.int64()),
            "ok": pa.array([i % 2 == 0 for i in range(n)]),
            "request": pa.array(
                [{"method": ("GET", "POST")[i % 2], "path": f"/item/{i}"} for i in range(n)]
            ),
            "tags": pa.array([["web", "eu"][: i % 3] for i in range(n)], pa.list_(pa.string())),
            "_raw": pa.array([f"line {i}" for i in range(n)]),
        }
    )


def test_repeating_columns_get_dictionaries_and_unique_ones_do_not(tmp_path):
    table = log_like_table()
    path = tmp_path / "f.parquet"
    pq.write_table(table, path, **writer_options(table, archive=("_raw",)))
    enc = encodings(path)
    dictionary = {col for col, (d, _, _) in enc.items() if d}
    assert dictionary == {"status", "request.method", "tags.list.element"}
    assert pq.read_table(path).equals(table)


def test_archived_raw_text_is_zstd_without_statistics_and_the_rest_lz4(tmp_path):
    table = log_like_table()
    path = tmp_path / "f.parquet"
    pq.write_table(table, path, **writer_options(table, archive=("_raw",)))
    enc = encodings(path)
    assert enc.pop("_raw")[1:] == ("ZSTD", False)
    assert {codec for _, codec, _ in enc.values()} == {"LZ4"}
    # "/item/10" sorts before "/item/2": unique and out of order, the only column without
    assert {col for col, (_, _, stats) in enc.items() if not stats} == {"request.path"}


def test_statistics_are_kept_where_they_can_skip_row_groups(tmp_path):
    table = pa.table(
        {
            "time": [
                f"2026-10-07T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(ROWS)
            ],  # unique, but in order: ranges skip by them
            "trace": [f"{(i * 7919) % ROWS:08x}" for i in range(ROWS)],  # unique, scattered
            "level": [("info", "warn")[i % 2] for i in range(ROWS)],  # repeating
            # scattered too, but with nulls: its null count tells which row groups hold any
            "error": [None if i % 3 == 0 else f"bad line {(i * 7919) % ROWS}" for i in range(ROWS)],
            "bytes": pa.array([(i * 7919) % ROWS for i in range(ROWS)], pa.int64()),
        }
    )
    path = tmp_path / "f.parquet"
    pq.write_table(table, path, **writer_options(table))
    stats = {col: s for col, (_, _, s) in encodings(path).items()}
    assert stats == {"time": True, "trace": False, "level": True, "error": True, "bytes": True}
    rg = pq.ParquetFile(path).metadata.row_group(0)
    assert rg.column(3).statistics.null_count == len(range(0, ROWS, 3))
    assert not encodings(path)["error"][0]  # no dictionary: kept for the null count alone
    assert pq.read_table(path).equals(table)


def test_a_small_first_sample_of_distinct_values_gives_strings_a_dictionary_and_numbers_none():
    options = writer_options(log_like_table(50))
    assert set(options["use_dictionary"]) == {
        "status",
        "request.method",
        "request.path",
        "tags.list.element",
        "_raw",
    }


def test_leaf_paths_name_nested_columns_as_the_parquet_writer_does(tmp_path):
    table = log_like_table(10).append_column(
        "attrs", pa.array([[("k", 1)]] * 10, pa.map_(pa.string(), pa.int64()))
    )
    path = tmp_path / "f.parquet"
    pq.write_table(table, path)
    assert leaf_paths(table.schema) == list(encodings(path))


def test_ingested_logs_are_written_with_these_encodings(tmp_path):
    staged = stage_logs([str(APACHE)], staging_dir=tmp_path / "staging", preset="apache-combined")
    biggest = max(staged.files, key=lambda f: f.path.stat().st_size)
    enc = encodings(biggest.path)
    assert enc["method"][0] and enc["status"][0]  # a handful of values: dictionaries
    assert not enc["_line"][0] and not enc["_event_time"][0]  # one value per row: none
    assert enc["_raw"][1:] == ("ZSTD", False)


def test_tables_written_through_the_lake_skip_dictionaries_on_unique_top_level_columns(tmp_path):
    import lake

    table = log_like_table().drop_columns(["_raw"])
    with lake.connect(
        warehouse=str(tmp_path / "wh"), catalog=f"sqlite:///{tmp_path}/c.db", cwd=tmp_path
    ) as lk:
        lk.write_table("ml.events", table)
        [data_file] = lk.delta(lk.catalog.get_table(TableName.parse("ml.events"))).snapshot().files
        path = lk.storage.duckdb_path(data_file.uri)
        assert lk.sql("SELECT count(*) AS n FROM ml.events").table.column("n")[0].as_py() == ROWS
    enc = encodings(path)
    assert enc["status"][0] and not enc["id"][0] and not enc["latency"][0]
    assert {codec for _, codec, _ in enc.values()} == {"LZ4"}  # pyarrow names LZ4_RAW so


def test_delta_writer_properties_without_a_sample_keep_the_codec():
    props = delta_writer_properties(None, max_row_group_size=65_536)
    assert props.compression == "LZ4_RAW" and props.column_properties is None


def test_a_small_files_strings_get_a_dictionary_and_its_numbers_only_when_they_repeat():
    """Below MIN_SAMPLE values many distinct strings say little (a day's first lines), so
    every string column of a small file is given a dictionary; numbers are judged."""
    n = 100
    table = pa.table(
        {
            "user": [f"user{i}" for i in range(n)],  # every value distinct
            "status": [(200, 404)[i % 2] for i in range(n)],
            "latency": list(range(n)),
            "r": [{"path": f"/p/{i}"} for i in range(n)],
            "_line": list(range(n)),
            "_raw": [f"line {i}" for i in range(n)],
        }
    )
    options = writer_options(table, unique=("_line",), archive=("_raw",))
    assert options["use_dictionary"] == ["user", "status", "r.path"]
    assert list(options["compression"]) == leaf_paths(table.schema)
    assert options["compression"]["_raw"] == "zstd" and options["compression"]["user"] == "lz4"
    assert "_raw" not in options["write_statistics"] and "_line" in options["write_statistics"]
