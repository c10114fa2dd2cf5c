"""File statistics for the Delta log (lake/delta/stats.py)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from lake.delta.stats import file_stats


def test_a_date_before_the_year_1_leaves_its_column_without_min_max_instead_of_failing(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"d": pa.array([-800_000, 0], pa.date32()), "n": [1, 2]}), path)
    stats = file_stats(
        pq.ParquetFile(path).metadata, pa.schema([("d", pa.date32()), ("n", pa.int64())])
    )
    assert "d" not in stats["minValues"] and stats["minValues"]["n"] == 1
