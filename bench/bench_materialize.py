"""Materializing a training set: a 10% slice of a 5,000,000-row table (at scale 1.0).

Ours: ``lk.materialize`` end to end (pin the version, run the query with the ordering rule,
write deterministic Parquet shards, hash the content and every file, register the version
with its lineage and pins, write the manifest), into a fresh folder each time.
Baseline: DuckDB's own ``COPY (query) TO 'x.parquet'`` over a plain Parquet copy of the same
rows (one file, the same row groups), in the same codec (zstd), no ordering, no hashing, no
catalog. Target: ratio within 1.25.

Cache hit: the same call again with the output present and intact (sizes and sha256 of every
file checked). Target: under 0.5 s. The same for ``--from NAME@1`` into the folder that holds
version 1 (history is never overwritten, so the old version's folder is a cache hit).

Splits: the same slice with ``--split train=0.8,validation=0.1,test=0.1 --split-key event_id``
against the same DuckDB COPY, in the same run.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.common import compare, median_seconds

FULL_ROWS = 5_000_000
QUERY = "SELECT * FROM {source} WHERE user_id % 10 = 0"


def _rows(n: int):
    import duckdb

    return (
        duckdb.connect()
        .execute(
            f"""SELECT i AS event_id, (i * 7919) % 100000 AS user_id,
                   TIMESTAMP '2026-01-01' + to_seconds(i) AS event_time,
                   ['view', 'click', 'buy', 'share'][1 + (i % 4)::INT] AS event,
                   (i % 1000) / 10.0 AS value, 'country_' || (i % 50)::VARCHAR AS country,
                   md5(i::VARCHAR) AS session
            FROM range({n}) t(i)"""
        )
        .to_arrow_table()
    )


def run(scale: float = 1.0) -> list[dict]:
    import duckdb
    import pyarrow.parquet as pq

    import lake

    rows = max(int(FULL_ROWS * scale), 10_000)
    root = Path(tempfile.mkdtemp(prefix="lake-bench-materialize-"))
    try:
        table = _rows(rows)
        plain = root / "plain.parquet"
        pq.write_table(table, plain, row_group_size=65_536, compression="zstd")
        lk = lake.connect(
            warehouse=str(root / "warehouse"), catalog=f"sqlite:///{root / 'catalog.db'}"
        )
        lk.write_table("bench.events", table)
        del table
        sql = QUERY.format(source="bench.events")
        baseline_sql = QUERY.format(source=f"read_parquet('{plain}')")
        counter = iter(range(1_000_000))

        def ours() -> None:
            i = next(counter)
            out = root / f"ours-{i}"
            lk.materialize(f"slice_{i}", sql=sql, out=out)
            shutil.rmtree(out)

        def baseline() -> None:
            out = root / "baseline.parquet"
            connection = duckdb.connect()
            connection.execute(
                f"COPY ({baseline_sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
            )
            connection.close()
            out.unlink()

        result = compare(
            f"materialize a 10% slice of {rows:,} rows",
            ours,
            baseline,
            repeat=5,
            baseline_name="duckdb COPY (query) TO parquet",
            rows=rows,
            target_ratio=1.25,
        )
        split_counter = iter(range(1_000_000))

        def ours_split() -> None:
            i = next(split_counter)
            out = root / f"split-{i}"
            lk.materialize(
                f"split_{i}",
                sql=sql,
                out=out,
                split="train=0.8,validation=0.1,test=0.1",
                split_key="event_id",
            )
            shutil.rmtree(out)

        split_result = compare(
            f"materialize a 10% slice of {rows:,} rows, split train/validation/test",
            ours_split,
            baseline,
            repeat=5,
            baseline_name="duckdb COPY (query) TO parquet",
            rows=rows,
            target_ratio=1.25,
        )
        cached_out = root / "cached"
        first = lk.materialize("cached", sql=sql, out=cached_out)
        hit = median_seconds(lambda: lk.materialize("cached", sql=sql, out=cached_out), repeat=7)
        assert lk.materialize("cached", sql=sql, out=cached_out).cached
        old = median_seconds(lambda: lk.materialize(from_="cached@1", out=cached_out), repeat=7)
        assert lk.materialize(from_="cached@1", out=cached_out).cached
        lk.close()
        return [
            result,
            split_result,
            {
                "case": "--from NAME@1 into its own intact folder (a cache hit)",
                "ours_s": old,
                "baseline_s": 0.5,
                "baseline": "target 0.5 s",
                "ratio": old / 0.5,
            },
            {
                "case": (
                    f"materialize cache hit ({first.row_count:,} rows, "
                    f"{sum(f.bytes for f in first.files) / 1e6:.1f} MB)"
                ),
                "ours_s": hit,
                "baseline_s": 0.5,
                "baseline": "target 0.5 s",
                "ratio": hit / 0.5,
            },
        ]
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    import sys

    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1):
        print(row)
