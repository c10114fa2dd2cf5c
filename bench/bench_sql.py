"""SQL over lake tables (``Lake.sql``) against DuckDB on a plain Parquet copy of the same rows.

Cases (medians of alternating runs in one process; ratio = ours / baseline, lower is better):

* ``group by`` / ``10-day range (partition)`` / ``1-day range (ts stats)``: ``lk.sql`` over
  ``bench.logs`` (realistic nested web logs, 30 days, partitioned by ``_event_date``, written
  through the lake's write protocol) against DuckDB reading one Parquet file that DuckDB
  wrote from the same rows with its own defaults (``COPY ... TO 'f.parquet'``: snappy,
  122,880-row groups). Target <= 1.25. The rows ``(vs DuckDB zstd copy)`` compare with a
  copy written zstd in 65,536-row groups instead (the lake's codec before it chose LZ4).
  Our side includes everything a user waits for: the catalog lookup, the check for commits
  the catalog missed, parsing and rewriting, DuckDB, and the Arrow result.
* ``... (same Delta files)``: the same query through ``lk.sql`` against DuckDB reading the
  very files of that version. It isolates what the SQL layer costs from what the file layout
  and the Parquet writer cost (delta-rs writes one file per day, with its own encodings).
* ``ingested logs: ...``: the same rows as raw JSON lines through ``lake ingest logs``
  (event time from ``ts``, laid out by day, ``_raw`` kept), queried through ``lk.sql``, against
  DuckDB on one Parquet file that DuckDB wrote from that table's rows (its defaults again).
  Target <= 1.25.
* ``after N appends + optimize``: N appends of 100 rows, compacted by ``Lake.optimize``,
  against the same rows written in one go (both through ``lk.sql``). Target <= 1.5. The row
  ``before optimize`` shows what compaction buys.

What ``lk.sql`` adds to DuckDB on a warm ``Lake`` (issue 18, counted with callgrind; see
``bench.bench_peers`` for the figures): parsing (cached per text), pinning (snapshots cached
per version, one existence check for a newer commit) and rewriting are tens of microseconds;
a cursor kept from the previous read saves the 0.3-0.4 ms of setting up a new one; on S3 a
statement that reads only the latest versions of lake tables trusts DuckDB's caches of
their files (no HEAD per file). What remains between the lake and DuckDB on its own file is
the Parquet files themselves (encodings and row groups of the writer).

``run(scale=1.0)``: 5,000,000 rows and 1,000 appends; ``python -m bench`` runs scale 0.1.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.common import compare

ROWS_PER_SCALE = 5_000_000
APPENDS_PER_SCALE = 1_000
APPEND_ROWS = 100
DAYS = 30
REPEAT = 7
DUCKDB_DEFAULTS = "FORMAT parquet"
DUCKDB_ZSTD = "FORMAT parquet, ROW_GROUP_SIZE 65536, COMPRESSION zstd"

QUERIES = {
    "group by": (
        "SELECT request.method, status, count(*) AS n, avg(latency_ms) AS latency "
        "FROM {t} GROUP BY ALL ORDER BY ALL"
    ),
    "10-day range (partition)": (
        "SELECT client.country, count(*) AS n, sum(bytes) AS bytes FROM {t} "
        "WHERE _event_date BETWEEN DATE '2026-10-05' AND DATE '2026-10-14' "
        "GROUP BY ALL ORDER BY ALL"
    ),
    "1-day range (ts stats)": (
        "SELECT request.path, count(*) AS n FROM {t} "
        "WHERE ts >= TIMESTAMPTZ '2026-10-07 00:00:00+00' "
        "AND ts < TIMESTAMPTZ '2026-10-08 00:00:00+00' "
        "GROUP BY ALL ORDER BY n DESC, request.path LIMIT 10"
    ),
}


def logs_sql(rows: int, *, offset: int = 0) -> str:
    """DuckDB SQL generating ``rows`` deterministic nested web-log rows over DAYS days."""
    span_us = DAYS * 86_400 * 10**6
    total = max(rows + offset, 1)
    ts = (
        "TIMESTAMPTZ '2026-10-01 00:00:00+00' + "
        f"to_microseconds(((i::HUGEINT * {span_us}) // {total})::BIGINT)"
    )
    pick = "[{values}][1 + (hash(i, {seed}) % {n})::BIGINT]"
    return f"""
SELECT {ts} AS ts,
  {{'method': {pick.format(values="'GET','GET','GET','POST','PUT','DELETE','HEAD'", seed=1, n=7)},
    'path': '/api/v1/items/' || (hash(i, 2) % 500)::VARCHAR,
    'query': CASE WHEN hash(i, 3) % 3 = 0
                  THEN 'q=' || (hash(i, 4) % 1000)::VARCHAR END}} AS request,
  {pick.format(values="200,200,200,200,201,301,404,500", seed=5, n=8)}::INTEGER AS status,
  (100 + hash(i, 6) % 100000)::BIGINT AS bytes,
  (hash(i, 7) % 100000) / 1000.0 AS latency_ms,
  (1 + hash(i, 8) % 100000)::BIGINT AS user_id,
  {{'ip': '10.0.' || (i % 256)::VARCHAR || '.' || (i % 200)::VARCHAR,
    'country': {pick.format(values="'US','DE','FR','IN','BR'", seed=9, n=5)}}} AS client,
  CAST({ts} AS DATE) AS _event_date
FROM range({offset}, {offset + rows}) r(i)
"""


def run(scale: float = 1.0) -> list[dict]:
    import duckdb

    import lake
    from lake.core.names import TableName
    from lake.landing.commits import TableRun

    rows = max(int(ROWS_PER_SCALE * scale), 10_000)
    appends = max(int(APPENDS_PER_SCALE * scale), 10)
    folder = Path(tempfile.mkdtemp(prefix="bench-sql-"))
    generator = duckdb.connect()
    generator.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
    try:
        lk = lake.connect(
            warehouse=str(folder / "warehouse"),
            catalog=f"sqlite:///{folder / 'catalog.db'}",
            cwd=folder,
        )
        # -- the big table, through the write protocol, partitioned by day
        name = TableName("bench", "logs")
        info = lk.catalog.create_table(
            name, kind="logs", location=lk.storage.table_uri("bench", "logs")
        )
        # batches of 65,536 rows: deltalake aborts on larger nested row groups (FACTS)
        reader = generator.execute(logs_sql(rows)).to_arrow_reader(65_536)
        with TableRun.start(
            lk.catalog, lk.delta(info), info, kind="write", parameters={}
        ) as table_run:
            table_run.land(
                reader,
                policy="strict",
                mode="append",
                operation="WRITE",
                partition_by=["_event_date"],
            )
        plain, plain_zstd = folder / "plain.parquet", folder / "plain-zstd.parquet"
        generator.execute(f"COPY ({logs_sql(rows)}) TO '{plain}' ({DUCKDB_DEFAULTS})")
        generator.execute(f"COPY ({logs_sql(rows)}) TO '{plain_zstd}' ({DUCKDB_ZSTD})")
        files = [
            lk.storage.duckdb_path(f.uri)
            for f in lk.delta(lk.catalog.get_table(name)).snapshot().files
        ]
        same_files = (
            "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "], union_by_name = true, "
            "hive_partitioning = true, hive_types = {'_event_date': 'DATE'})"
        )
        baseline = duckdb.connect()
        baseline.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")

        def ours(query: str):
            return lambda: lk.sql(query.format(t="bench.logs"))

        def plain_duckdb(query: str, source: str):
            return lambda: baseline.execute(query.format(t=source)).to_arrow_table()

        results = []
        for case, query in QUERIES.items():
            check_ours = ours(query)().table.to_pylist()
            check_plain = plain_duckdb(query, f"read_parquet('{plain}')")().to_pylist()
            assert _rounded(check_ours) == _rounded(check_plain), f"{case}: results differ"
            results.append(
                compare(
                    case,
                    ours(query),
                    plain_duckdb(query, f"read_parquet('{plain}')"),
                    repeat=REPEAT,
                    baseline_name="DuckDB on one Parquet file",
                    rows=rows,
                    files=len(files),
                    target=1.25,
                )
            )
            results.append(
                compare(
                    f"{case} (vs DuckDB zstd copy)",
                    ours(query),
                    plain_duckdb(query, f"read_parquet('{plain_zstd}')"),
                    repeat=REPEAT,
                    baseline_name="DuckDB on one zstd Parquet file",
                    rows=rows,
                )
            )
            results.append(
                compare(
                    f"{case} (same Delta files)",
                    ours(query),
                    plain_duckdb(query, same_files),
                    repeat=REPEAT,
                    baseline_name="DuckDB on the version's files",
                    rows=rows,
                )
            )
        results += _ingested(lk, generator, folder, rows)
        results += _appends(lk, generator, appends)
        return results
    finally:
        generator.close()
        shutil.rmtree(folder, ignore_errors=True)


INGESTED_QUERIES = {
    "group by": QUERIES["group by"],
    "10-day range (partition)": QUERIES["10-day range (partition)"],
    "1-day range (event time)": (
        "SELECT request.path, count(*) AS n FROM {t} "
        "WHERE _event_time >= TIMESTAMPTZ '2026-10-07 00:00:00+00' "
        "AND _event_time < TIMESTAMPTZ '2026-10-08 00:00:00+00' "
        "GROUP BY ALL ORDER BY n DESC, request.path LIMIT 10"
    ),
}


def _ingested(lk, generator, folder: Path, rows: int) -> list[dict]:
    """The same rows as raw JSON lines through ``lake ingest logs`` (event time ``ts``, laid
    out by day, ``_raw`` and the other lake columns kept), queried through ``lk.sql``,
    against DuckDB on one Parquet file DuckDB wrote from that table's rows."""
    import duckdb

    jsonl = folder / "logs.jsonl"
    generator.execute(
        f"COPY (SELECT * EXCLUDE (_event_date) FROM ({logs_sql(rows)})) TO '{jsonl}' (FORMAT json)"
    )
    lk.ingest_logs("bench.ingested", [str(jsonl)], time_field="ts")
    jsonl.unlink()
    files = [
        lk.storage.duckdb_path(f.uri)
        for f in lk.delta(lk.catalog.get_table(_name("bench.ingested"))).snapshot().files
    ]
    plain, plain_zstd = folder / "ingested.parquet", folder / "ingested-zstd.parquet"
    baseline = duckdb.connect()
    baseline.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
    rows_sql = (
        "SELECT * FROM read_parquet([" + ", ".join(f"'{f}'" for f in files) + "], "
        "hive_partitioning = true, hive_types = {'_event_date': 'DATE'})"
    )
    baseline.execute(f"COPY ({rows_sql}) TO '{plain}' ({DUCKDB_DEFAULTS})")
    baseline.execute(f"COPY ({rows_sql}) TO '{plain_zstd}' ({DUCKDB_ZSTD})")
    results = []
    for case, query in INGESTED_QUERIES.items():

        def ours(q: str = query):
            return lk.sql(q.format(t="bench.ingested"))

        def theirs(q: str = query, source: Path = plain):
            return baseline.execute(q.format(t=f"read_parquet('{source}')")).to_arrow_table()

        assert _rounded(ours().table.to_pylist()) == _rounded(theirs().to_pylist()), (
            f"ingested {case}: results differ"
        )
        results.append(
            compare(
                f"ingested logs: {case}",
                ours,
                theirs,
                repeat=REPEAT,
                baseline_name="DuckDB on one Parquet file",
                rows=rows,
                files=len(files),
                target=1.25,
            )
        )
        results.append(
            compare(
                f"ingested logs: {case} (vs DuckDB zstd copy)",
                ours,
                lambda q=query: theirs(q, plain_zstd),
                repeat=REPEAT,
                baseline_name="DuckDB on one zstd Parquet file",
                rows=rows,
            )
        )
    baseline.close()
    return results


def _name(text: str):  # noqa: ANN202
    from lake.core.names import TableName

    return TableName.parse(text)


def _appends(lk, generator, appends: int) -> list[dict]:
    """Many small appends, compacted, against the same rows written at once."""
    total = appends * APPEND_ROWS
    for start in range(0, total, APPEND_ROWS):
        lk.write_table(
            "bench.small", generator.execute(logs_sql(APPEND_ROWS, offset=start)).to_arrow_table()
        )
    lk.write_table("bench.once", generator.execute(logs_sql(total)).to_arrow_table())
    query = QUERIES["group by"]
    before = compare(
        f"after {appends} appends, before optimize",
        lambda: lk.sql(query.format(t="bench.small")),
        lambda: lk.sql(query.format(t="bench.once")),
        repeat=3,
        baseline_name="same rows written at once",
        rows=total,
    )
    lk.optimize("bench.small")
    small, once = (
        lk.sql(query.format(t=t)).table.to_pylist() for t in ("bench.small", "bench.once")
    )
    assert _rounded(small) == _rounded(once), "compaction changed the rows"
    after = compare(
        f"after {appends} appends + optimize",
        lambda: lk.sql(query.format(t="bench.small")),
        lambda: lk.sql(query.format(t="bench.once")),
        repeat=REPEAT,
        baseline_name="same rows written at once",
        rows=total,
        target=1.5,
    )
    return [after, before]


def _rounded(rows: list[dict]) -> list[dict]:
    """Float sums differ in their last digits with the order DuckDB's threads add them."""
    return [{k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()} for row in rows]


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1), indent=2, default=str))
