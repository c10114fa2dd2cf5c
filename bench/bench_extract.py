"""Database extract speed: our Postgres full extract against Postgres's own COPY, same run.

Run: ``python -m bench extract --scale 0.1`` (500,000 rows) or ``--scale 1`` (5,000,000).
The headline rows are ``lake: lk.ingest_db full ...``: the whole lake path (source read over
ADBC, Parquet staging, Delta commit, catalog record) into a local lake, and its peak RSS
measured from /proc/self/status VmHWM in a fresh child process.

Baseline: ``COPY table TO STDOUT`` read by psycopg2 (``copy_expert``) into a null sink, the
fastest way the rows can leave the server as text. Ours: ``ingest.db.source`` streaming the
same table into Arrow batches, and into Parquet (zstd, 65,536-row groups), which is what the
lake writes. Target: throughput at least 0.5x COPY's, i.e. ``ratio`` (ours / COPY time) <= 2.

The candidates measured to choose the Postgres path are reported too: psycopg2 row fetching
(server-side cursor) converted to Arrow, and DuckDB's postgres scanner (when its extension
wheel is installed). Peak RSS of a full extract is measured in a fresh process.

scale=1.0 is the full case (5,000,000 rows: int, numeric, text, timestamptz, jsonb); the
runner passes a smaller scale. The table is generated in a fresh database, dropped after.
Each extract pays about 0.1 s of fixed cost (ADBC's connect loads the server's type catalog,
~80 ms, plus the psycopg2 introspection), so ratios at small scales overstate the per-row cost.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import compare, peak_rss_mb

FULL_ROWS = 5_000_000
ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def run(scale: float = 1.0, *, candidates: bool | None = None, repeat: int = 3) -> list[dict]:
    rows = max(10_000, int(FULL_ROWS * scale))
    if candidates is None:  # the rejected candidates take minutes at full scale: small runs only
        candidates = scale <= 0.2
    with _bench_database() as url:
        _make_table(url, rows)
        return _measure_lake(url, rows, repeat=repeat) + _measure(
            url, rows, candidates=candidates, repeat=repeat
        )


def _copy_out(url: str) -> None:
    """The baseline: ``COPY bench TO STDOUT`` (text) read by psycopg2 into a null sink."""
    import psycopg2

    class Null:
        def write(self, data: bytes) -> int:
            return len(data)

    conn = psycopg2.connect(_dsn(url))
    try:
        with conn.cursor() as cur:
            cur.copy_expert("COPY bench TO STDOUT", Null())
    finally:
        conn.close()


_LAKE_EXTRACT = """
import lake, sys
with lake.connect(warehouse=sys.argv[1] + '/wh',
                  catalog='sqlite:///' + sys.argv[1] + '/catalog.db') as lk:
    for _ in range(int(sys.argv[3])):
        report = lk.ingest_db('bench.extract', source=sys.argv[2], table_name='bench', key='id')
assert report.rows == int(sys.argv[4]), report
"""


def _measure_lake(url: str, rows: int, *, repeat: int) -> list[dict]:
    """Our whole path: ``lk.ingest_db`` full into a local lake (source read, staging, Delta commit,
    catalog record), against COPY. Each timed extract is the first into a fresh lake; the second
    case is a nightly re-extract of an unchanged table, which also compares it by key with the
    version before (rows added/removed/changed)."""
    import shutil

    import lake

    base = Path(tempfile.mkdtemp(prefix="lake-bench-extract-"))
    counter = iter(range(1_000_000))

    def fresh() -> None:
        folder = base / f"lake-{next(counter)}"
        with lake.connect(
            warehouse=str(folder / "wh"), catalog=f"sqlite:///{folder / 'catalog.db'}"
        ) as lk:
            report = lk.ingest_db("bench.extract", source=url, table_name="bench", key="id")
        assert report.rows == rows and report.version == 0, report
        shutil.rmtree(folder)

    nightly = base / "nightly"

    def again() -> None:
        with lake.connect(
            warehouse=str(nightly / "wh"), catalog=f"sqlite:///{nightly / 'catalog.db'}"
        ) as lk:
            report = lk.ingest_db("bench.extract", source=url, table_name="bench", key="id")
        assert report.rows == rows and report.rows_changed in (0, None), report

    try:
        results = [
            compare("lake: lk.ingest_db full, first extract", fresh, lambda: _copy_out(url),
                    baseline_name="COPY TO STDOUT", repeat=repeat, rows=rows),
            compare("lake: lk.ingest_db full, re-extract + diff by key", again,
                    lambda: _copy_out(url), baseline_name="COPY TO STDOUT", repeat=repeat,
                    rows=rows),
        ]  # fmt: skip
        for r in results:
            r["throughput_vs_copy"] = r["baseline_s"] / r["ours_s"] if r["ours_s"] else float("nan")
            r["rows_per_s"] = rows / r["ours_s"] if r["ours_s"] else float("nan")
        # Peak memory of our path, each in a fresh child process (bench.common.peak_rss_mb):
        # a first extract, and a nightly re-extract (its lake made by an earlier, unmeasured child).
        for case, nightly_run in (
            ("peak RSS: lk.ingest_db full, first extract", False),
            ("peak RSS: lk.ingest_db full, re-extract + diff by key", True),
        ):
            samples = []
            for i in range(max(1, min(repeat, 2))):
                folder = base / f"rss-{int(nightly_run)}-{i}"
                folder.mkdir()
                if nightly_run:
                    peak_rss_mb(_LAKE_EXTRACT, str(folder), url, "1", str(rows))
                samples.append(peak_rss_mb(_LAKE_EXTRACT, str(folder), url, "1", str(rows)))
                shutil.rmtree(folder)
            results.append(
                {"case": case, "ours_s": None, "baseline_s": None, "ratio": None,
                 "peak_rss_mb": statistics.median(samples), "limit_mb": 1024, "rows": rows}
            )  # fmt: skip
        return results
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _measure(url: str, rows: int, *, candidates: bool, repeat: int) -> list[dict]:
    import pyarrow.parquet as pq

    from ingest.db.source import open_source

    def copy_out() -> None:
        _copy_out(url)

    def ours_arrow() -> None:
        with open_source(url) as src:
            n = sum(b.num_rows for b in src.stream(table="bench"))
        assert n == rows, n

    def ours_parquet() -> None:
        with tempfile.TemporaryDirectory() as d, open_source(url) as src:
            ex = src.stream(table="bench")
            with pq.ParquetWriter(Path(d) / "out.parquet", ex.schema, compression="zstd") as w:
                for b in ex:
                    w.write_batch(b, row_group_size=65_536)

    extra = {"rows": rows}
    results = [
        compare("pg full extract -> Arrow (ADBC)", ours_arrow, copy_out,
                baseline_name="COPY TO STDOUT", repeat=repeat, **extra),
        compare("pg full extract -> Arrow -> Parquet", ours_parquet, copy_out,
                baseline_name="COPY TO STDOUT", repeat=repeat, **extra),
    ]  # fmt: skip
    if candidates:
        results.append(
            compare("candidate: psycopg2 rows -> Arrow", lambda: _psycopg2_rows(url, rows),
                    copy_out, baseline_name="COPY TO STDOUT", repeat=repeat, **extra)
        )  # fmt: skip
        duck = _duckdb_scanner(url, rows)
        if duck is not None:
            results.append(
                compare("candidate: DuckDB postgres scanner -> Arrow", duck, copy_out,
                        baseline_name="COPY TO STDOUT", repeat=repeat, **extra)
            )  # fmt: skip
    for r in results:
        r["throughput_vs_copy"] = r["baseline_s"] / r["ours_s"] if r["ours_s"] else float("nan")
        r["rows_per_s"] = rows / r["ours_s"] if r["ours_s"] else float("nan")

    # Peak memory of a whole extract (Arrow only, and into Parquet), each in a fresh process.
    for case, body in (
        ("peak RSS: pg full extract -> Arrow", "for b in src.stream(table='bench'): pass"),
        (
            "peak RSS: pg full extract -> Parquet",
            "import pyarrow.parquet as pq, tempfile, os\n"
            "ex = src.stream(table='bench')\n"
            "d = tempfile.mkdtemp()\n"
            "out = os.path.join(d, 'o.parquet')\n"
            "with pq.ParquetWriter(out, ex.schema, compression='zstd') as w:\n"
            "    for b in ex: w.write_batch(b, row_group_size=65536)",
        ),
    ):
        code = (
            "from ingest.db.source import open_source\n"
            f"with open_source({url!r}) as src:\n"
            + "".join(f"    {line}\n" for line in body.splitlines())
        )
        samples = [peak_rss_mb(code) for _ in range(max(1, repeat))]
        results.append(
            {"case": case, "ours_s": None, "baseline_s": None, "ratio": None,
             "peak_rss_mb": statistics.median(samples), "limit_mb": 1024, "rows": rows}
        )  # fmt: skip
    return results


# --------------------------------------------------------------------------------------------
# Candidates (measured to choose the fast path; not used by the lake)


def _psycopg2_rows(url: str, rows: int) -> None:
    """Server-side cursor, 65,536 rows at a time, converted to Arrow per column."""
    import psycopg2
    import pyarrow as pa

    types = [
        pa.int32(),
        pa.decimal128(18, 4),
        pa.string(),
        pa.timestamp("us", tz="UTC"),
        pa.string(),
    ]
    conn = psycopg2.connect(_dsn(url))
    n = 0
    try:
        with conn.cursor(name="bench") as cur:
            cur.itersize = 65_536
            cur.execute("SELECT id, amount, label, updated_at, payload::text FROM bench")
            while batch := cur.fetchmany(65_536):
                cols = list(zip(*batch, strict=True))
                arrays = [pa.array(c, t) for c, t in zip(cols, types, strict=True)]
                n += len(arrays[0])
    finally:
        conn.close()
    assert n == rows


def _duckdb_scanner(url: str, rows: int) -> Callable[[], None] | None:
    """DuckDB 1.5.5's postgres scanner, if its extension wheel is installed (FACTS: rename)."""
    try:
        import duckdb
        import duckdb_extension_postgres
    except ImportError:
        return None
    src = (
        Path(duckdb_extension_postgres.__file__).parent
        / "extensions"
        / "v1.5.5"
        / "postgres.duckdb_extension"
    )
    if not src.exists():
        return None
    ext_dir = Path(tempfile.mkdtemp(prefix="lake-duck-"))
    ext = ext_dir / "postgres_scanner.duckdb_extension"
    ext.write_bytes(src.read_bytes())

    def scan() -> None:
        con = duckdb.connect(
            config={
                "autoinstall_known_extensions": "false",
                "autoload_known_extensions": "false",
            }
        )
        try:
            con.execute("SET enable_progress_bar = false")
            con.execute(f"LOAD '{ext}'")
            con.execute(f"ATTACH '{_dsn(url)}' AS pg (TYPE postgres, READ_ONLY)")
            reader = con.execute("SELECT * FROM pg.public.bench").to_arrow_reader(65_536)
            n = sum(b.num_rows for b in reader)
        finally:
            con.close()
        assert n == rows

    return scan


# --------------------------------------------------------------------------------------------
# The table


def _dsn(url: str) -> str:
    from sqlalchemy import make_url

    u = make_url(url)
    parts = {
        "host": u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": u.database,
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v)


class _bench_database:  # noqa: N801 - used as a context manager
    def __enter__(self) -> str:
        from sqlalchemy import make_url

        self.name = f"lake_bench_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{self.name}"')
        return make_url(ADMIN_URL).set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: Any) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(_dsn(ADMIN_URL))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()


def _make_table(url: str, rows: int) -> None:
    import psycopg2

    started = time.perf_counter()
    conn = psycopg2.connect(_dsn(url))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                """CREATE TABLE bench AS SELECT
                     g::int AS id,
                     (g * 1.2345)::numeric(18,4) AS amount,
                     'name-' || g || '-ünïcode' AS label,
                     timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' AS updated_at,
                     jsonb_build_object('k', g, 'tags', jsonb_build_array('a', 'b')) AS payload
                   FROM generate_series(1, %s) g""",
                (rows,),
            )
            # Set hint bits and visibility now, so that no timed read pays for them.
            cur.execute("VACUUM (FREEZE, ANALYZE) bench")
    finally:
        conn.close()
    print(
        f"bench_extract: {rows:,} rows generated in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
