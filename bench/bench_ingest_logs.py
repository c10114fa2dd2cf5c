"""Raw-log ingest throughput against DuckDB, and peak memory on a large file.

Cases (each side run at least 3 times in the same process, medians reported):

* ``jsonl_nested``: ``lk.ingest_logs`` into a fresh embedded lake (parse, stage, publish,
  Delta commit, catalog record) on generated nested web logs versus DuckDB's own
  ``COPY (SELECT * FROM read_json(file)) TO 'out.parquet'`` on the same file.
  ``ratio`` is our time over DuckDB's, like every bench row (target <= 2, i.e. at least
  half DuckDB's throughput; ``throughput_vs_duckdb`` is its inverse). DuckDB's side
  samples types from 20,480 lines, keeps no raw text, no line numbers, no errors, and
  writes snappy; ours reads types from every line, keeps ``_raw`` (zstd) and writes the
  scanned columns LZ4 (:mod:`lake.delta.encoding`).
* ``peak_rss``: peak resident memory of a subprocess that stages one large file (target:
  under 1.5 GB for 2 GB).

``run(scale=1.0)`` is sized so ``python -m bench`` stays within a few minutes (200,000 lines,
a 200 MB file for memory); ``run(scale=FULL_SCALE)`` is the full case (2,000,000 lines,
about 500 MB; a 2 GB file for memory).

Nested time fields (2026-12-06): ECS-style lines whose ``event.created`` is a time in whole
seconds (pyarrow guesses those as timestamps; with fractions it does not) had every chunk
read twice, because the reader hint named top-level time fields only. 300,000 such lines,
``lk.ingest_logs`` in a fresh process, old and new code alternating three times in one run
(load 3.7): pyarrow reads per ingest 12 -> 7, CPU 1.23-1.26 -> 0.98-1.04 s (medians 1.24 ->
0.99, -20%), the same rows and types.

Drift lines wherever chunks fall (2026-12-06): a column new in a chunk and typed double has
its first value parsed, and when that is an int, its first float searched by text (RE2 over
the records, in windows from 1,024). ``lake ingest logs`` of bench_peers' 60-day file (1M
lines, 153 MB) in fresh processes, main and this code alternating, user+sys CPU medians:
6 rounds at load 11-12, 2.47 -> 2.39 s; 5 rounds at load 5-6, 2.41 -> 2.32 s (within
noise: latency_ms is a float from its first line, so no search runs). The same file with
one ``bytes`` value written as a float at line 100,000 (a search of most of the first
16 MiB chunk), 4 rounds at load 11-12: 2.60 -> 2.59 s; in-process, the search of a 16 MiB
chunk without a hit took 33 ms, a hit in the first window 0.5 ms.

Escapes in values (2026-12-06, review): PHP writes every ``/`` as ``\\/``, Python's json every
non-ASCII letter as ``\\u00e9``; the search took any line with an escape and a float anywhere
as a candidate, so such logs had every line parsed. In-process, the search over 110,000
lines (14 MB, a ``\\u00e9`` in each message) without a hit: CPU 360-370 ms -> 22 ms with
candidates limited to a key written with an escape (load 7-9). ``stage_logs`` in-process
(CPU, best of 3, load 8-9), 15 MB with ``\\/`` in every line and 10 int columns each a float
at the last line: before the merge 0.24 s, the merge 4.0 s, now 0.47 s; 30 columns (15 MB):
0.27, 8.7, 0.95 s. What remains is one RE2 pass a widened column (about 22 ms a 14 MB chunk).
A new struct whose 10 int fields (their key also a float in a sibling struct on every line)
become float at the chunk's last line, 15 MB: 0.26 s before the merge, 4.0 s with it (a
search a field, every line a candidate, for lines the ledger never shows: a new column is
"added" once), 0.25 s now that only paths inside the table's own columns are searched.
The table's struct (``db``, in the existing schema) whose int fields widen at the chunk's
last line, each key also a float in another struct on every line (every line a candidate),
load 6-12: 1 field, 11 MB: 1.28 s before the merge (one Python parse of the chunk, for the
struct and the field), 1.7 s with it (that parse, and the search's parse of every line),
0.85 s now (the struct, whose own lines the ledger never shows, is not looked for); 10
fields, 15 MB: 1.5, 4.7 (a search a field), 1.1 s (one search for all, each candidate
parsed once).

String bounds of the columns staged without Parquet statistics (2026-12-06,
``lake.delta.stats.BoundedWriter``), bench_peers' 1M-line 60-day file (153 MB, 60 files):
``pyarrow.compute.min_max`` over the staged ``user_id`` and ``_raw`` (156 MB) took 0.053 and
0.059 CPU-s (medians of 7, load 6 and 10); over every top-level string column (``_source``
and the all-null ``_error`` too) 0.077. ``lake ingest logs`` in fresh processes, the branch
without and with the bounds alternating, 6 rounds, user+sys medians: 4.10 -> 4.08 s (load
24-43, rounds 3.5-4.5 s): not told apart, the bounds being about 1.5% of the whole. A
100-row ``write_table`` (median of 60 in a process, 6 processes alternating): 4.9 -> 4.6 ms
CPU, noise.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL_SCALE = 10.0
LINES_PER_SCALE = 200_000
RSS_BYTES_PER_SCALE = 200 << 20
REPEATS = 3

_METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
_PATHS = ("/api/v1/users", "/api/v1/orders", "/static/app.js", "/login", "/api/v2/search")
_COUNTRIES = ("DE", "US", "FR", "BR", "IN", "JP")
_LEVELS = ("info", "info", "info", "warn", "error")
_TAGS = ("[]", '["web"]', '["api","eu"]', '["edge","canary","us"]')


def generate(path: Path, lines: int, *, seed: int = 7) -> int:
    """Write ``lines`` nested JSON web-log lines (about 250 bytes each); return bytes written."""
    r = random.Random(seed)
    base = 1_700_000_000_000  # ms
    out = []
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        for i in range(lines):
            ms = base + i * 450 + r.randrange(450)
            t = time.gmtime(ms // 1000)
            ts = (
                f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:"
                f"{t.tm_min:02d}:{t.tm_sec:02d}.{ms % 1000:03d}Z"
            )
            user = r.randrange(1, 1_000_000) if r.random() < 0.8 else None
            line = (
                f'{{"@timestamp":"{ts}","level":"{r.choice(_LEVELS)}",'
                f'"request":{{"method":"{r.choice(_METHODS)}","path":"{r.choice(_PATHS)}/'
                f'{r.randrange(100000)}"}},'
                f'"response":{{"status":{r.choice((200, 200, 200, 201, 301, 404, 500))},'
                f'"bytes":{r.randrange(200000)},"duration_ms":{r.random() * 300:.3f}}},'
                f'"client":{{"ip":"{r.randrange(256)}.{r.randrange(256)}.{r.randrange(256)}.'
                f'{r.randrange(256)}","geo":{{"country":"{r.choice(_COUNTRIES)}",'
                f'"lat":{r.uniform(-90, 90):.2f},"lon":{r.uniform(-180, 180):.2f}}}}},'
                f'"tags":{r.choice(_TAGS)},"user_id":{json.dumps(user)}}}\n'
            )
            out.append(line)
            if len(out) >= 10_000:
                chunk = "".join(out)
                size += len(chunk)
                f.write(chunk)
                out.clear()
        chunk = "".join(out)
        size += len(chunk)
        f.write(chunk)
    return size


def _median_time(fn, repeats: int) -> float:  # noqa: ANN001 - a callable
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _throughput_case(tmp: Path, lines: int, repeats: int) -> dict:
    import duckdb

    import lake

    data = tmp / "web.jsonl"
    size = generate(data, lines)
    con = duckdb.connect()
    out = tmp / "duckdb.parquet"
    staging = tmp / "staging"
    ours_times, base_times = [], []
    records = 0
    for _ in range(repeats):  # interleaved, so machine noise hits both sides alike
        start = time.perf_counter()
        con.execute(
            "COPY (SELECT * FROM read_json(?)) TO '" + str(out).replace("'", "''") + "'",
            [str(data)],
        )
        base_times.append(time.perf_counter() - start)
        shutil.rmtree(staging, ignore_errors=True)
        # The whole user path: a fresh embedded lake, parse + stage + publish + commit + catalog.
        with lake.connect(
            warehouse=str(staging / "warehouse"), catalog=f"sqlite:///{staging}/catalog.db"
        ) as lk:
            lk.init()
            start = time.perf_counter()
            report = lk.ingest_logs("web.bench", [str(data)])
            ours_times.append(time.perf_counter() - start)
        records = report.records_read
    con.close()
    ours, base = statistics.median(ours_times), statistics.median(base_times)
    return {
        "case": "jsonl_nested",
        "lines": lines,
        "mb": round(size / 1e6, 1),
        "records": records,
        "ours_s": round(ours, 3),
        "baseline_s": round(base, 3),
        "ratio": round(ours / base, 3),
        "throughput_vs_duckdb": round(base / ours, 3),
        "ours_mb_s": round(size / 1e6 / ours, 1),
        "baseline_mb_s": round(size / 1e6 / base, 1),
        "target": "ratio <= 2 (throughput >= 0.5x)",
    }


# VmHWM, not ru_maxrss: ru_maxrss survives fork+exec and may report the parent's peak.
_RSS_CHILD = r"""
import sys, time
from ingest.logs.stage import stage_logs
start = time.perf_counter()
staged = stage_logs([sys.argv[1]], staging_dir=sys.argv[2])
took = time.perf_counter() - start
with open("/proc/self/status") as f:
    rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(staged.records_read, rss_kb, took)
"""


def _rss_case(tmp: Path, target_bytes: int) -> dict:
    data = tmp / "large.jsonl"
    per_line = 290
    size = generate(data, max(1, target_bytes // per_line))
    staging = tmp / "staging-rss"
    repo = Path(__file__).resolve().parent.parent
    res = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(data), str(staging)],
        capture_output=True,
        text=True,
        cwd=repo,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(f"the peak-RSS child failed: {res.stderr.strip()[-2000:]}")
    records, rss_kb, took = res.stdout.split()
    shutil.rmtree(staging, ignore_errors=True)
    data.unlink()
    return {
        "case": "peak_rss",
        "mb": round(size / 1e6, 1),
        "records": int(records),
        "ours_s": round(float(took), 3),
        "peak_rss_mb": round(int(rss_kb) / 1024, 1),
        "target": "< 1536 MB",
    }


def run(scale: float = 1.0) -> list[dict]:
    """Benchmark rows; ``scale=FULL_SCALE`` gives the full 2M-line and 2 GB cases."""
    lines = max(1000, int(LINES_PER_SCALE * scale))
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        rows = [_throughput_case(Path(tmp), lines, REPEATS)]
        rows.append(_rss_case(Path(tmp), int(RSS_BYTES_PER_SCALE * scale)))
    return rows


if __name__ == "__main__":
    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(json.dumps(row))
