"""File statistics for the Delta log (lake/delta/stats.py)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from lake.delta.stats import file_stats, stat_json


def test_a_date_before_the_year_1_leaves_its_column_without_min_max_instead_of_failing(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"d": pa.array([-800_000, 0], pa.date32()), "n": [1, 2]}), path)
    stats = file_stats(
        pq.ParquetFile(path).metadata, pa.schema([("d", pa.date32()), ("n", pa.int64())])
    )
    assert "d" not in stats["minValues"] and stats["minValues"]["n"] == 1


def _as_pyarrow_reads_them(path, schema: pa.Schema) -> dict[str, object]:
    """min and max as ``Statistics.min``/``max`` give them (pyarrow's scalars)."""
    metadata = pq.ParquetFile(path).metadata
    found: dict[str, object] = {}
    for i, field in enumerate(schema):
        column = metadata.row_group(0).column(i).statistics
        found[field.name] = (stat_json(column.min, field.type), stat_json(column.max, field.type))
    return found


def test_timestamps_of_every_unit_and_zone_get_the_bounds_pyarrow_reads(tmp_path):
    moments = [-1, 0, 1, 999, 1_000, -1_000_001, 176_497_920_012, 20_000_000_000]
    schema = pa.schema(
        [
            ("utc_us", pa.timestamp("us", tz="UTC")),
            ("paris_ms", pa.timestamp("ms", tz="Europe/Paris")),
            ("naive_s", pa.timestamp("s")),
            ("utc_ns", pa.timestamp("ns", tz="UTC")),
            ("naive_ns", pa.timestamp("ns")),
        ]
    )
    columns = [pa.array(moments, pa.int64()).cast(field.type) for field in schema]
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), path)
    stats = file_stats(pq.ParquetFile(path).metadata, schema)
    expected = _as_pyarrow_reads_them(path, schema)
    for name, (low, high) in expected.items():
        assert (stats["minValues"][name], stats["maxValues"][name]) == (low, high), name
