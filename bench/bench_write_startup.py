"""Start-up of the commands that write, as whole processes, against ``lake --version`` and
``python -c pass`` in the same run; optionally beside another checkout of the lake.

Issue 18: a whole command should approach the in-process speed, and what separates them is
start-up (imports, connecting, a new catalog). Cases, each a new process on the embedded
default (local folder + SQLite), medians of processes alternating with the baselines:

* ``ingest logs`` of a 100-line JSON file into a new catalog (what every first ingest and
  every bench of a whole ingest pays), and of a new 100-line file into an existing table;
* ``ingest logs --preset apache-combined`` of 1,000 Apache lines into a new catalog;
* ``materialize`` of a training set already in its folder (a cache hit).

Each row carries the wall seconds and the CPU seconds of the child (what load disturbs
least; these machines are shared). ``python -m bench.bench_write_startup [--before PATH]``:
with ``--before`` the same commands also run with the checkout at PATH (its own ``.venv``),
alternating with this one, for a before/after in one run. Compiled bytecode goes to a
folder of the run for both sides (warmed by a first run), so neither writes into a
checkout and neither compiles at start.

Where a writing command's start-up went (``python -X importtime``, a profile of the whole
command, December 2026): SQLAlchemy with the catalog's ORM models ~0.2 CPU-s (what a write
to the catalog needs), Alembic walking the four migrations on a new catalog ~0.2, pandas
~0.1 (imported by pyarrow to ask whether a Python value handed to ``pa.scalar``,
``pa.array`` or a compute function is a pandas object; also by ``pyarrow.dataset``, which
DuckDB imports to scan any Arrow object), pyarrow with numpy ~0.09, typer's coercion of
lists and flags through pydantic ~0.05, sqlglot ~0.07 (a materialization), DuckDB ~0.03.
Changed: a new catalog is created from the models at head and stamped (a test holds it to
the schema the migrations make); lists of texts and flags are taken as typed; the log
ingest's constants are Arrow scalars made without the probe (``lake.core.arrow_values``),
the Delta statistics of a timestamp are read from its raw count, and the writer options
list a schema's columns without ``Schema.empty_table``: a JSON ingest no longer imports
pandas, pydantic or Alembic (``tests/faces/test_cli_startup.py`` holds it). A text-log
ingest still imported pandas then: DuckDB reads its times and imported ``pyarrow.dataset``
(see the third round below).

Measured 2026-12-06 (``--before`` = main before this work; the machine was shared, load in
brackets; CPU seconds are the steadier figure):

=================================================  ===============  ===============
case (median of 7; wall s / CPU-s of the process)  before           after
=================================================  ===============  ===============
``lake --version``                                 0.24 / 0.10      0.23 / 0.10
ingest logs, 100 JSON lines, new catalog           2.30 / 1.07      1.51 / 0.67
ingest logs, 100 JSON lines, existing table        1.25 / 0.85      0.80 / 0.67
ingest logs --preset apache-combined, 1,000 lines  1.54 / 1.06      1.15 / 0.84
materialize, cache hit (local + SQLite)            0.84 / 0.55      0.46 / 0.33
=================================================  ===============  ===============

Load 6.8 at the start, 7.6 at the end (two other helpers' suites and benches), so the wall
times are the load's as much as ours; the CPU seconds moved by about +-0.05 between runs.
An earlier run at load 4.1-4.9 (one round each, before the cache hit read the catalog in
plain SQL): 0.86 -> 0.56, 0.71 -> 0.54, 0.90 -> 0.75 and 0.49 -> 0.47 CPU-s.

What is left of a writing command's start-up: SQLAlchemy and the ORM models (~0.2 CPU-s;
writing the catalog in plain SQL, as ``catalog.reader`` reads it, would remove it: not done
here), pyarrow with numpy, DuckDB and (text logs) pandas through ``pyarrow.dataset``, typer
and rich. Tried and dropped: telling pyarrow's pandas probe that pandas is absent until it
is imported (its state is private, and ``TimestampScalar.as_py`` returns a pandas
``Timestamp`` for nanoseconds when pandas is there: answers would change).

Third round (December 2026, ``python -X importtime``, ``gc.callbacks``, a profile of
``main()`` with every module imported first, and CPU-seconds of alternating processes):

* pandas in a text-log ingest, 0.13-0.15 s: handed any pyarrow object (a table, a
  ``RecordBatchReader``, even a plain object with ``__arrow_c_stream__``), DuckDB 1.5.5
  imports ``pyarrow.dataset`` to offer it filters, and that imports pandas. Handed the bare
  Arrow C stream (a PyCapsule), it scans it without (``lake.core.duckdb.arrow_view``; a
  stream is read once, so one query per view). ``_line`` of a text log came from
  ``pa.array`` of a list, whose probe imported pandas too; it is now packed with
  ``array('q')``. ``tests/faces/test_cli_startup.py`` holds a preset ingest to starting
  without pandas and ``pyarrow.dataset``.
* The garbage collector, 50-60 ms of a 1,000-line ingest: run every 700 new objects, it
  walked the ~1,500 modules' objects some 200 times before the first record. Raising the
  threshold to 10,000 or 50,000 left 25-45 ms (each young collection then walks more than
  the caches hold); pausing it while the command starts leaves 5 ms
  (``lake.core.collection``: the log stage resumes it before its first record with
  start-up's objects frozen; a timer resumes it after 2 s in a command that never does).
* typer built the options of all three ``ingest`` commands to run one: the app now holds
  only the named command of a group (3-10 ms); ``urllib.request`` (http, ssl, email) is no
  longer imported to unquote a ``file://`` source, nor ``tomllib`` without a ``lake.toml``.
* What is left, with every module imported first (``main()`` alone): 0.10 CPU-s on the
  main thread for a 1,000-line text ingest, 0.04 of it in the catalog's nine transactions
  (SQLite, SQLAlchemy compiling each statement once per process, the ORM's mappers
  configured on first use: 9 ms). Imports are most of a writing command: of about 0.47 s
  (``-X importtime``, minimum of 8 runs, self times) SQLAlchemy is 0.15 and the catalog's
  modules 0.04 (``catalog.models`` 0.03), pyarrow with numpy 0.085, DuckDB 0.03, rich 0.02
  (the report's table), typer 0.01, deltalake 0.01; the lake's own modules 0.04 in all.
* What the ORM costs each writing command (not changed here; the catalog's write path is
  another helper's): importing ``sqlalchemy.orm`` and the models about 0.10-0.12 CPU-s on
  top of SQLAlchemy's core (0.12), plus 9 ms configuring the mappers and the first compile
  of each ORM statement; writing the catalog in plain SQL, as ``catalog.reader`` reads it,
  would take off all of it but the SQLite driver.
* Tried and dropped: jemalloc with transparent huge pages for the 1M-line ingest
  (``JE_ARROW_MALLOC_CONF=thp:always``: 226,000 -> 90,000 page faults, but system time
  0.70 -> 1.27 s); Arrow's ``strptime`` for the access-log time of small files to skip
  DuckDB's import and connect (30 + 10-20 ms): its ``%b``/``%z`` would need proving equal to
  DuckDB's on every input first (not done); a plain-text table instead of rich's for the
  report (0.02 s, but the output must stay byte for byte what rich draws).

Measured 2026-12-06 (``--before`` = main before the third round; load 4.7-4.9 from other
helpers' suites, so the CPU seconds are the figures; medians of 7):

=================================================  ===============  ===============
case (wall s / CPU-s of the process)               before           after
=================================================  ===============  ===============
``lake --version``                                 0.15 / 0.105     0.14 / 0.107
ingest logs, 100 JSON lines, new catalog           0.95 / 0.75      0.88 / 0.66
ingest logs, 100 JSON lines, existing table        0.90 / 0.68      0.96 / 0.65
ingest logs --preset apache-combined, 1,000 lines  0.97 / 0.94      0.73 / 0.70
materialize, cache hit (local + SQLite)            0.38 / 0.377     0.35 / 0.331
=================================================  ===============  ===============

A 1,000-line text ingest into an existing table, old and new alternating ten times at
load 7: 0.91 -> 0.73 CPU-s (median; minimum 0.86 -> 0.68) with the pandas change alone;
with the whole round, at load 8-12: 1.02 -> 0.78 (minimum 0.95 -> 0.77), and a 100-line
JSON ingest into an existing table 0.72 -> 0.66 (minimum 0.67 -> 0.62). The table above
was taken before the last fix (a failing record's error and flag arrays, which imported
pandas; the 1,000-line file here has no such record).

Fourth round (December 2026): the ORM is gone from every writing command. The tables are
Core ``Table`` objects on one ``MetaData`` (``catalog.definitions``; the ORM classes of
``catalog.models`` map onto them, Alembic compares with them), and tables, versions, runs,
edges, the ledger, schemas, leases, recording, pins and the registry run Core statements in
``engine.begin()`` transactions (``Connection.core_transaction``); ``sqlalchemy.orm`` is
imported lazily by the lineage walks, OpenLineage, tokens and the web catalog.
``tests/faces/test_cli_startup.py`` holds ingest logs, ingest files, materialize, model
register, tag and vacuum to starting without ``sqlalchemy.orm`` and ``catalog.models`` on
both backend pairs. Measured 2026-12-06 (``--before`` = main before it; the machine was
shared by several helpers' suites: load 14.8 at the start, 36 at the end, so the wall
times are the load's and only the CPU seconds say anything; medians of 7):

=================================================  ===============  ===============
case (wall s / CPU-s of the process)               before           after
=================================================  ===============  ===============
``lake --version``                                 1.52 / 0.179     1.61 / 0.186
ingest logs, 100 JSON lines, new catalog           7.08 / 1.11      9.19 / 0.93
ingest logs, 100 JSON lines, existing table        6.68 / 0.98      4.98 / 0.81
ingest logs --preset apache-combined, 1,000 lines  7.37 / 1.01      7.09 / 0.89
materialize, cache hit (local + SQLite)            2.18 / 0.47      1.95 / 0.49
=================================================  ===============  ===============

Importing the write path alone (``catalog.catalog`` and the log pipeline, five processes
alternating, load 21): 0.84 -> 0.74 CPU-s (minimum), 1.01 -> 0.79 (median). The cache hit
imported no SQLAlchemy before either. Left: SQLAlchemy's Core itself (~0.1-0.2 s), which
only plain DB-API SQL (as ``catalog.reader`` reads) would remove.

Fifth round (December 2026; ``perf stat`` of whole commands, ``/proc/<pid>/task/*/stat``,
``-X importtime``, ``strace -f``). Found: (1) numpy, which pyarrow and DuckDB import, loads
OpenBLAS, whose worker thread (one per core beyond the first) spins ~0.1 CPU-s waiting for
work the lake never gives it: at load 1, ``lake sql`` of a count 316 -> 207 ms of task-clock
with ``OPENBLAS_NUM_THREADS=1``, a 100-line ingest 0.46 -> 0.37 CPU-s. The command line now
asks for one thread unless the environment says otherwise (``lake.core.blas``); the Python
API leaves the caller's environment alone. (2) ``--read-only`` (and the HTTP service's
queries) imported sqlglot for the private-function check of every query: a plain query calls
only ``queries.plain.FUNCTIONS``, none private. (3) Any DuckDB query with a bound parameter
makes DuckDB 1.5.5's client import pandas (0.15-0.25 s): each read-only query's worker did,
for ``json_serialize_sql(?)``, and an ingest with ``--time-format``; the text now goes in as
a literal (``lake.core.duckdb.execute_on_text``). ``lake sql --read-only`` of a count, all
its processes: 609 -> 419 ms of task-clock. (4) A new catalog's tables are created without a
look-up each (~4 ms). ``tests/faces/test_cli_startup.py`` holds each. Measured 2026-12-06
(``--before`` = main; load 9.1 at the start, 17.7 at the end: other helpers' suites; medians
of 7; a read-only query's CPU here is the command's own, its worker is not its child):

=================================================  ===============  ===============
case (wall s / CPU-s of the process)               before           after
=================================================  ===============  ===============
``lake --help``                                    0.15 / 0.133     0.16 / 0.131
``lake sql`` of a count, 100 rows                  0.54 / 0.283     0.43 / 0.238
``lake sql --read-only`` of the same               1.46 / 0.299     0.99 / 0.197
ingest logs, 100 JSON lines, new catalog           0.94 / 0.457     0.86 / 0.428
ingest logs, 100 JSON lines, existing table        0.74 / 0.447     0.57 / 0.395
ingest logs --preset apache-combined, 1,000 lines  0.80 / 0.535     0.78 / 0.472
materialize, cache hit (local + SQLite)            0.36 / 0.275     0.34 / 0.247
ingest logs, 1M JSON lines over 60 days            2.43 / 2.424     2.41 / 2.401
=================================================  ===============  ===============

Plain DuckDB's COPY of the 1M lines in the same rounds: 0.95 s / 1.00 CPU-s; the 1M-line
change is within noise (an earlier run at load 6-12: 2.33 -> 2.40). Where the 1M-line
command's main thread goes (``time.thread_time`` around its steps, same file): imports 0.34
CPU-s, the catalog before staging 0.05, staging 0.14 (the rest of staging is on its
threads), landing 0.035, the end 0.03. Left: SQLAlchemy's Core ~0.155 CPU-s of every
writing command's imports (the largest single item; only DB-API writes would remove it),
pyarrow with numpy ~0.07, pyarrow.compute ~0.03, typer ~0.03, deltalake ~0.025, rich ~0.02,
the lake's own modules ~0.045 (about 0.3 ms per dataclass made at import); and all of them
run on one core before staging starts, while the other is idle.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import process_env

HERE = Path(__file__).resolve().parent.parent
APACHE = HERE / "tests" / "data" / "elastic-logs" / "apache_logs"
REPEAT = 7


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _json_lines(path: Path, lines: int, seed: int) -> None:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "timestamp": f"2026-10-0{1 + i % 5}T10:{i % 60:02d}:00Z",
                    "status": (200, 404, 500)[(i + seed) % 3],
                    "latency_ms": (i * 7 + seed) % 1000 / 10,
                    "user": {"id": i + seed, "country": "fr"},
                    "path": f"/items/{i % 13}",
                }
            )
            + "\n"
            for i in range(lines)
        )
    )


def run(
    scale: float = 1.0, *, before: str | None = None, big_lines: int = 0
) -> list[dict[str, Any]]:
    """Every case for this checkout (and the one at ``before``); ``scale`` is unused (the
    inputs are small on purpose: start-up is what is timed). ``big_lines``: also a whole
    ``ingest logs`` of that many JSON lines over 60 days (``bench_peers``' file), against
    plain DuckDB's COPY of it to Parquet in a process of its own."""
    folder = Path(tempfile.mkdtemp(prefix="lake-bench-write-startup-"))
    trees = {"after": HERE, **({"before": Path(before).resolve()} if before else {})}
    rows: list[dict[str, Any]] = [
        {"case": "load (1-minute average, start)", "load": os.getloadavg()[0]}
    ]
    counter = iter(range(10**9))
    try:
        apache = folder / "access.log"
        apache.write_text("".join(APACHE.read_text().splitlines(keepends=True)[:1000]))
        small = folder / "small.jsonl"
        _json_lines(small, 100, 0)

        def env_of(side: str, place: Path) -> dict[str, str]:
            return process_env(
                LAKE_WAREHOUSE=str(place / "warehouse"),
                LAKE_CATALOG_URL=f"sqlite:///{place / 'catalog.db'}",
                PYTHONPYCACHEPREFIX=str(folder / f"pycache-{side}"),
            )

        def lake(side: str) -> list[str]:
            return [str(trees[side] / ".venv" / "bin" / "python"), "-m", "lake"]

        def fresh(side: str) -> Path:
            place = folder / f"{side}-{next(counter)}"
            place.mkdir()
            return place

        # Lakes that already hold the table and a training set, one per side.
        homes: dict[str, Path] = {}
        for side in trees:
            home = homes[side] = fresh(side)
            env = env_of(side, home)
            for args in (
                ("ingest", "logs", "web.app", str(small)),
                ("ingest", "logs", "web.frozen", str(small)),  # never appended to: cache hits
                ("materialize", "slice", "--sql", "SELECT * FROM web.frozen", "--out", "set"),
            ):
                subprocess.run(
                    [*lake(side), *args], env=env, cwd=home, check=True, capture_output=True
                )

        def new_catalog(*args: str) -> Callable[[str], tuple[float, float]]:
            def side(name: str) -> tuple[float, float]:
                place = fresh(name)
                return _timed([*lake(name), *args], env_of(name, place), place)

            return side

        def into_existing(name: str) -> tuple[float, float]:
            home = homes[name]
            source = home / f"more-{next(counter)}.jsonl"
            _json_lines(source, 100, next(counter))
            args = ("ingest", "logs", "web.app", str(source))
            return _timed([*lake(name), *args], env_of(name, home), home)

        def cache_hit(name: str) -> tuple[float, float]:
            home = homes[name]
            args = ("materialize", "slice", "--sql", "SELECT * FROM web.frozen", "--out", "set")
            return _timed([*lake(name), *args], env_of(name, home), home)

        def in_home(*args: str) -> Callable[[str], tuple[float, float]]:
            def side(name: str) -> tuple[float, float]:
                return _timed([*lake(name), *args], env_of(name, homes[name]), homes[name])

            return side

        count = "SELECT count(*) AS n FROM web.frozen"
        cases: dict[str, Callable[[str], tuple[float, float]]] = {
            "lake --version": new_catalog("--version"),
            "lake --help": new_catalog("--help"),
            "lake sql count(*), 100 rows": in_home("sql", count),
            "lake sql --read-only count(*), 100 rows": in_home("sql", count, "--read-only"),
            "ingest logs, 100 JSON lines, new catalog": new_catalog(
                "ingest", "logs", "web.app", str(small)
            ),
            "ingest logs, 100 JSON lines, existing table": into_existing,
            "ingest logs --preset apache-combined, 1,000 lines, new catalog": new_catalog(
                "ingest", "logs", "web.access", str(apache), "--preset", "apache-combined"
            ),
            "materialize, cache hit": cache_hit,
        }
        bare_env = process_env(PYTHONPYCACHEPREFIX=str(folder / "pycache-bare"))

        def bare() -> tuple[float, float]:
            return _timed([sys.executable, "-c", "pass"], bare_env, folder)

        baselines = {case: ("python -c pass", bare) for case in cases}
        if big_lines:
            from bench.bench_peers import duckdb_process, generate

            big = folder / "big.jsonl"
            generate(big, big_lines, 60)
            case = f"ingest logs, {big_lines:,} JSON lines over 60 days, new catalog"
            cases[case] = new_catalog("ingest", "logs", "web.logs", str(big))
            copy = f"COPY (SELECT * FROM read_json('{big}')) TO '{folder / 'plain.parquet'}'"
            baselines[case] = (
                "plain DuckDB COPY",
                lambda: _timed(duckdb_process(copy), bare_env, folder),
            )

        for case, command in cases.items():
            baseline_name, baseline = baselines[case]
            for side in trees:  # warm the bytecode folder and the page cache
                command(side)
            samples: dict[str, list[tuple[float, float]]] = {"bare": [], **{s: [] for s in trees}}
            for _ in range(REPEAT):
                samples["bare"].append(baseline())
                for side in trees:
                    samples[side].append(command(side))
            row: dict[str, Any] = {"case": case}
            base = statistics.median(w for w, _ in samples["bare"])
            row[f"{baseline_name}_s"] = round(base, 3)
            row[f"{baseline_name}_cpu_s"] = round(
                statistics.median(c for _, c in samples["bare"]), 3
            )
            for side, found in samples.items():
                if side == "bare":
                    continue
                wall = statistics.median(w for w, _ in found)
                row[f"{side}_s"] = round(wall, 3)
                row[f"{side}_cpu_s"] = round(statistics.median(c for _, c in found), 3)
                row[f"{side}_x_baseline"] = round(wall / base, 2) if base else float("nan")
            rows.append(row)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows.append({"case": "load (1-minute average, end)", "load": os.getloadavg()[0]})
    return rows


if __name__ == "__main__":
    # python -m bench.bench_write_startup [--before PATH] [--big-lines N]
    chosen = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--before=")), None)
    if "--before" in sys.argv:
        chosen = sys.argv[sys.argv.index("--before") + 1]
    lines = int(sys.argv[sys.argv.index("--big-lines") + 1]) if "--big-lines" in sys.argv else 0
    print(json.dumps(run(before=chosen, big_lines=lines), indent=2, default=str))
