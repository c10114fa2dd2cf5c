"""The Ray engines' overhead: ``lake materialize --engine ray`` against the local engine on the
same slice, in the same run (a filter and a broadcast join over 5,000,000 rows in 16 files at
scale 1.0, about 10% kept), and ``lake ingest logs --engine ray`` against the local ingest of
the same files (1,000,000 nested JSON lines, about 256 MB, in 8 files at scale 1.0; once with
the same types in every file, once with one file widening a column, which the driver has
staged again from the state the files before it left).

On a 2-core machine a cluster cannot be faster: what this measures is what the engine adds
(starting and reaching Ray, one DuckDB per task, moving the task results through Ray's object
store to the driver, ordering them again there) and how the work is split (rows and bytes per
task). Ray is started once, in this process, before the timings (its start is reported on its
own row): a real cluster is already running when a command reaches it. The model the figures
support is in ``bench/RAY.md``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import compare

FULL_ROWS = 5_000_000
FILES = 16
QUERY = (
    "SELECT e.event_id, e.user_id, e.event_time, e.event, e.value * 2 AS doubled, c.region "
    "FROM bench.events e JOIN bench.countries c USING (country) WHERE e.user_id % 10 = 0"
)


def _rows(start: int, n: int):
    import duckdb

    return (
        duckdb.connect()
        .execute(
            f"""SELECT i AS event_id, (i * 7919) % 100000 AS user_id,
                   TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i) AS event_time,
                   ['view', 'click', 'buy', 'share'][1 + (i % 4)::INT] AS event,
                   (i % 1000) / 10.0 AS value, 'country_' || (i % 50)::VARCHAR AS country
            FROM range({start}, {start + n}) t(i)"""
        )
        .to_arrow_table()
    )


def run(scale: float = 1.0) -> list[dict]:
    import pyarrow as pa

    import lake

    # before Ray is imported: it reads them then
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:  # pragma: no cover - the ray extra is not installed
        return []
    rows = max(int(FULL_ROWS * scale), 16_000)
    root = Path(tempfile.mkdtemp(prefix="lake-bench-ray-"))
    started_ray = False
    try:
        lk = lake.connect(
            warehouse=str(root / "warehouse"), catalog=f"sqlite:///{root / 'catalog.db'}"
        )
        per_file = rows // FILES
        for number in range(FILES):
            lk.write_table("bench.events", _rows(number * per_file, per_file))
        lk.write_table(
            "bench.countries",
            pa.table(
                {
                    "country": [f"country_{i}" for i in range(50)],
                    "region": [["eu", "us", "apac"][i % 3] for i in range(50)],
                }
            ),
        )
        started = time.perf_counter()
        if not ray.is_initialized():
            ray.init(
                num_cpus=os.cpu_count() or 2,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
            )
            started_ray = True
        ray_start = time.perf_counter() - started
        counter = iter(range(1_000_000))
        notes: list[str] = []

        def materialize(engine: str) -> None:
            i = next(counter)
            out = root / f"{engine}-{i}"
            result = lk.materialize(f"slice_{engine}_{i}", sql=QUERY, out=out, engine=engine)
            notes.extend(result.notes)
            shutil.rmtree(out)

        result = compare(
            f"materialize a 10% slice of {rows:,} rows ({FILES} files) + broadcast join",
            lambda: materialize("ray"),
            lambda: materialize("local"),
            repeat=5,
            baseline_name="same slice, --engine local",
            rows=rows,
        )
        last = notes[-1] if notes else ""
        result["work_split"] = last
        split = re.search(r"tasks ([0-9.]+) s, ordering and writing ([0-9.]+) s", last)
        if split:
            result["ray_tasks_s"] = float(split.group(1))
            result["ray_order_write_s"] = float(split.group(2))
        result["overhead_s"] = result["ours_s"] - result["baseline_s"]
        ingests = [_ingest_case(lk, root / "logs", scale, drift=drift) for drift in (False, True)]
        lk.close()
        return [
            result,
            *ingests,
            {
                "case": "start a local Ray in-process (once; a cluster is already running)",
                "ours_s": ray_start,
                "baseline_s": float("nan"),
                "baseline": "-",
                "ratio": float("nan"),
            },
        ]
    finally:
        if started_ray:
            ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)


LOG_FILES = 8
LOG_LINES = 1_000_000


def _ingest_case(lk, folder: Path, scale: float, *, drift: bool) -> dict:  # noqa: ANN001
    """``lake ingest logs`` of the same files with both engines, alternating, each into a
    table of its own (a table skips content it holds already)."""
    import statistics

    from bench.bench_ingest_logs import generate

    folder = folder / ("drift" if drift else "same")
    folder.mkdir(parents=True, exist_ok=True)
    per_file = max(int(LOG_LINES * scale / LOG_FILES), 2_000)
    paths = []
    size = 0
    for number in range(LOG_FILES):
        path = folder / f"app-{number}.jsonl"
        generate(path, per_file, seed=number)
        if drift and number == LOG_FILES // 2:  # response.bytes: int before, float from here
            path.write_text(path.read_text().replace('"bytes":1', '"bytes":1.5', 50))
        size += path.stat().st_size
        paths.append(str(path))
    counter = iter(range(1_000_000))
    engines: list[dict] = []

    def ingest(engine: str) -> None:
        table = f"logs.{'drift' if drift else 'same'}_{engine}_{next(counter)}"
        report = lk.ingest_logs(table, paths, engine=engine)
        if report.engine is not None:
            engines.append(dict(report.engine))

    result = compare(
        f"ingest logs: {per_file * LOG_FILES:,} JSON lines, {size / 1e6:,.0f} MB in {LOG_FILES} "
        f"files, {'one file widening a column' if drift else 'same types in every file'}",
        lambda: ingest("ray"),
        lambda: ingest("local"),
        repeat=3,
        baseline_name="same files, --engine local",
        rows=per_file * LOG_FILES,
    )
    result["overhead_s"] = result["ours_s"] - result["baseline_s"]
    last = engines[-1]
    first = [t for t in last["tasks"] if t["step"] == "parse" and t["round"] == 0]
    rows, nbytes = [t["rows"] for t in first], [t["bytes"] for t in first]
    seconds = [t["seconds"] for t in last["tasks"]]
    result["work_split"] = (
        f"{len(last['tasks'])} task(s) in {last['rounds']} round(s); rows per task "
        f"{min(rows):,}-{max(rows):,}, bytes {min(nbytes):,}-{max(nbytes):,}, seconds "
        f"{min(seconds):.3f}-{max(seconds):.3f}"
    )
    result["ray_tasks_s"] = statistics.median(e["seconds_tasks"] for e in engines)
    result["ray_conform_s"] = statistics.median(e["seconds_conform"] for e in engines)
    result["ray_join_s"] = statistics.median(e["seconds_join"] for e in engines)
    return result


if __name__ == "__main__":  # pragma: no cover
    import sys

    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1):
        print(row)
