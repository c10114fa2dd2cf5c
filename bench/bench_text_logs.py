"""Text logs with a preset: the lake against plain DuckDB doing the same parse, same run.

Issue 18's text-log target: ``lake ingest logs T f --preset apache-combined`` at >= 0.8x the
throughput of plain DuckDB parsing the same lines with the preset's own regex (the lake's time
<= 1.25x DuckDB's). Sides, each alternating with the others, medians:

* **plain DuckDB**: ``COPY (SELECT <typed groups of regexp_extract(line, <the preset's
  regex>, [names])> FROM read_csv(f, columns={'line': 'VARCHAR'}, delim=<a byte never in the
  file>, quote='', escape='')) TO 'x.parquet'``, the time read to TIMESTAMPTZ with
  ``try_strptime`` (the preset's format), ``status``/``bytes`` to BIGINT ("-" null), the
  optional groups' empty strings null: the columns the lake gives, nothing more.
* **DuckDB same work** (``duckdb_same_work``): that parse plus what the lake keeps besides
  (each line's text as ``_raw``, its number as ``_line``, one folder per event day). Still
  less: no sha256, no ``_error``, no drift ledger, no Delta commit.
* **DuckLake** 1.5.5 with its catalog in a DuckDB file (``ducklake_duckdb``): ``CREATE
  TABLE dl.logs AS`` the plain DuckDB SELECT.
* **the lake** on the embedded default (local folder + SQLite): ``Lake.ingest_logs(...,
  preset=...)`` in-process, and ``lake ingest logs`` as a whole command.

Cases (``scale`` 1.0 = 1,000,000 Apache combined lines over 7 days, about 210 MB; RFC 3164
syslog lines with ``--syslog``): in-process (start-up left out) and whole process. Each row
also carries CPU-seconds (``*_cpu_s``: the process's own for in-process sides, the child's
for whole-process ones): these machines are shared, and CPU time is what load disturbs least.

``python -m bench.bench_text_logs [SCALE] [--syslog]`` runs it alone and prints JSON.

Profile of the in-process ingest of 1M Apache lines (174 MB, 7 days; December 2026, ``py-spy
record --threads --native``, ``perf record``, and each thread's CPU read from
``/proc/self/task``; the machine's load was 9-45 throughout, so CPU-seconds, not wall):

* Before: 5.6-6.3 CPU-s against 3.7-3.9 for DuckDB's whole COPY (which runs the same RE2
  regex on both cores). Per thread: the main thread 4.0-4.3 (the critical path), the Parquet
  writer 0.8-0.9, the reader (read, sha256, line cutting) 0.5-0.6. Of the main thread's
  staging: RE2's submatch search 59% (``re2::BitState``: a preset has more than four groups,
  which rules out RE2's one-pass engine, so Arrow's ``extract_regex`` backtracks over every
  byte; DuckDB's ``regexp_extract`` does the same, 0.39 CPU-s per 200k lines on one thread
  against Arrow's 0.43); reading the time (DuckDB ``strptime``) 11%; one filter per day, each
  a copy of the chunk with ``_raw``, because a line that did not parse (null time) cut the
  day's run and slices were then refused 11%; nulling all 11 groups with ``if_else``
  wherever a chunk held one unmatched record 8%; empty optional groups to null 4%.
* Changed (``ingest.logs.textlogs``): a chunk's records are parsed in slices on a thread
  per core (Arrow's RE2 kernel and DuckDB release the GIL; the time parser keeps a DuckDB
  cursor per thread); the access-log presets (``apache-combined``, ``nginx-combined``) split
  their fields at their delimiters wherever a strict regex without groups (a DFA: 0.06 CPU-s
  per 200k lines) proves the split is the regex's own parse, and the preset's regex reads
  the rest (0.43 -> 0.25 CPU-s per 200k lines for the groups; a property test holds both
  ways to each other on odd lines); a group's nulls come from the struct's validity
  (``flatten``); empty optional groups become null by a new validity bitmap, no copy; a
  string group's column is its text, joined once after the slices; and in
  ``ingest.logs.stage._add`` a chunk whose days' runs are cut by records without a time is
  still written as slices (up to 65 runs a chunk), not one copy per day.
* After: 4.9-5.1 CPU-s (same load, alternating); per thread: the two parsing threads 1.8-1.9
  together, the main thread 1.2-1.3, writer 0.85, reader 0.55. What is left: the split and
  the strict test 1.0, DuckDB's ``strptime`` of the time 0.4, the writer's zstd of ``_raw``
  and LZ4 of the rest 0.85 (work DuckDB's COPY does not do), the catalog, plan and commit
  about 0.5 of the main thread.
* Tried and dropped: rewriting the access-log time as ISO 8601 with Arrow's string kernels
  and casting (0.066 CPU-s per 200k against DuckDB's 0.077: seven kernels, each a pass and
  an allocation, cost what ``%b`` costs DuckDB); capturing fewer groups per pass so RE2 can
  use its one-pass engine (the preset's request alternative is not one-pass; three passes
  of four groups on a one-pass form 0.49 s against 0.40 for one); Arrow's own ``strptime``
  with ``%b %z`` (0.10 against DuckDB's 0.075).

Measured before/after in one run (main's code and this one side by side, alternating with
DuckDB's COPY in a process, medians of 3; 1M Apache lines; load 35-59, so the wall times
are noise and the CPU-seconds are the figures; the lead's quiet rerun replaces these):

==========================  ============  ============  ===========================
CPU-seconds                 before        after         ratio to DuckDB (4.08)
==========================  ============  ============  ===========================
in-process ingest           7.12          5.99          1.75x -> 1.47x
``lake ingest logs``        6.67          5.51          1.63x -> 1.35x
==========================  ============  ============  ===========================

On two idle cores the wall time is at best the CPU-seconds over two, when the threads keep
both cores busy (DuckDB's COPY runs on both); before, the main thread alone (4.0-4.3 CPU-s)
bounded the lake's wall; after, no thread holds more than about 1.3. Target (time <= 1.25x
DuckDB's) not yet met by CPU: the rest is the work DuckDB leaves out (``_raw`` compressed,
sha256, the catalog and the commit).

Start-up of the whole command (December 2026, second round): the command paid 1.0-1.1 CPU-s
before its first line, now about 0.75 (``bench_write_startup``: Alembic no longer walks
the migrations on a new catalog, typer no longer imports pydantic, the log ingest's own
constants no longer make pyarrow import pandas; DuckDB still imports ``pyarrow.dataset``,
and with it pandas, to read the times). ``--before=PATH`` runs the whole command of another
checkout too, alternating. Same-run figures against main before that round (the machine
was shared by other helpers' suites, load in brackets; medians of 3, 1M lines):

==========================  =============  =============  =============
whole command               plain DuckDB   before         after
==========================  =============  =============  =============
wall [load 2.8-5.8]         4.72 s         6.89 s, 0.69x  6.07 s, 0.78x
CPU-s [load 2.8-5.8]        3.06           3.81 (1.25x)   3.45 (1.13x)
wall [load 5.9-6.4]         5.59 s         7.42 s, 0.75x  6.93 s, 0.81x
CPU-s [load 5.9-6.4]        3.24           4.01 (1.24x)   3.78 (1.17x)
wall [load 6.5-6.9], of 5   2.31 s         3.56 s, 0.65x  3.32 s, 0.70x
CPU-s [load 6.5-6.9], of 5  3.02           3.62 (1.20x)   3.39 (1.12x)
==========================  =============  =============  =============

(x: throughput against DuckDB's.) One run of this bench with ``--before`` at load 4.3-5.6
gave the opposite CPU order for the whole command (4.75 after, 4.03 before, medians of 3
with the in-process sides between them): at that load three rounds do not settle it. On a
quiet machine the whole command's gap to the in-process ingest is its start-up, about
0.3 s less than before; whether that reaches the 0.8x target quiet is not measured here.

Third round of the whole command's start-up (December 2026; the profile is in
``bench_write_startup``'s docstring). With every module imported first, ``main()`` of a
1,000-line ingest is 0.10 CPU-s of main thread, and an in-process 1M-line ingest run first
in a process whose modules are imported costs about 0.1 CPU-s more than the next runs: the
whole command's gap to the in-process figure is its imports. Changed: DuckDB reads the
access-log times from the bare Arrow C stream (handed a pyarrow table it imported
``pyarrow.dataset`` and pandas); ``_line``, each record's error and its failed flag are
built without ``pa.array`` of a Python list (its pandas probe; the errors and flags only
when a record fails, which the bench's file has: the first fix alone left pandas imported
at 1M lines); the garbage collector is paused until the stage starts; fewer imports. The
1M-line command now imports neither pandas nor ``pyarrow.dataset``
(``tests/faces/test_cli_startup.py`` holds it, with a failing record).

Measured (the machine shared with two other helpers' suites all along; CPU-s are the
figures, walls are load):

======================================================  ================  ================
whole command, 1M Apache lines (median CPU-s)           before            after
======================================================  ================  ================
``bench_text_logs 1 --before``, load 2.2-3.3, of 3      4.16 (wall 5.50)  4.10 (wall 4.52)
``bench_text_logs 1 --before``, load 9.0-12.9, of 3     4.39              4.31
alternating, 6 each, load 9-11 (before the last fix)    4.61-4.65         4.53-4.59
======================================================  ================  ================

DuckDB's COPY in the same runs: 3.45 and 3.73 CPU-s (wall 1.85 and 5.71 s); the CPU ratio
went 1.21x -> 1.19x and 1.18x -> 1.16x. At this load the spread between runs (+-0.3 CPU-s)
is larger than what changed, so the 1M figures do not resolve it; the 1,000-line command,
alternating ten times each at load 8-12, does: 1.02 -> 0.78 CPU-s (median; minimum 0.95 ->
0.77). On the quiet machine of the last round (2.46 s against DuckDB's 1.71, 0.70x), that
would take the whole command to about 2.25 s, 0.76x: the 0.8x target (2.14 s) is not met by
start-up work in the faces, stages and core alone. What is left is about 0.2 CPU-s of
SQLAlchemy, its ORM and the catalog's models (not changed here: the catalog's write path is
another helper's) and 0.14 of pyarrow, numpy, DuckDB and deltalake, which the ingest uses.
Not rerun on a quiet machine here: the lead's rerun replaces these.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_peers import (
    duckdb_process,
    ducklake_attach,
    lake_command,
    lake_env,
)

LINES_PER_SCALE = 1_000_000
DAYS = 7
REPEAT = 3
START = datetime(2026, 10, 1, tzinfo=UTC)
NEVER = "\\x01"  # the delimiter read_csv is given: a byte no log line holds

_PATHS = (
    "/",
    "/index.html",
    "/favicon.ico",
    "/robots.txt",
    "/static/css/site.css",
    "/static/js/app.js",
    "/images/logo.png",
    "/api/v1/items",
    "/api/v1/items/{n}",
    "/api/v1/search?q=item{n}&page={p}",
    "/blog/2026/10/post-{n}.html",
    "/wp-login.php",
    "/products/{n}?ref=home",
)
_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "-",
)
_REFERRERS = ("-", "-", "https://www.example.com/", "https://www.google.com/", "{self}")
_STATUS = (200, 200, 200, 200, 200, 200, 304, 301, 302, 404, 404, 403, 500, 503, 206)
_METHODS = ("GET",) * 12 + ("POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS")
_HOSTS = ("web-1", "web-2", "db-1", "cache-1", "mail")
_PROGRAMS = (
    ("sshd", "Accepted publickey for deploy from 10.1.{a}.{b} port {p} ssh2"),
    ("sshd", "Failed password for invalid user admin from 203.0.113.{b} port {p} ssh2"),
    ("CRON", "(root) CMD (/usr/lib/sysstat/sa1 1 1)"),
    ("kernel", "[{p}.{b}] eth0: link up, 1000 Mbps, full duplex"),
    ("systemd", "Started Session {p} of user deploy."),
    ("postfix/smtpd", "connect from unknown[198.51.100.{b}]"),
    ("nginx", "worker process {p} exited on signal 9"),
)


# --------------------------------------------------------------------------------------------
# Data


def generate_apache(path: Path, lines: int, days: int = DAYS, *, seed: int = 18) -> int:
    """``lines`` Apache combined access-log lines in time order over ``days`` days: clients
    from a few thousand addresses, most without a user, queries, 304s without bytes ("-"),
    agents with spaces and parentheses, a few zones other than UTC; about one line in 2,000
    a request Apache could not read (``"-" 408 -``) and one in 20,000 a line that is not an
    access-log line at all (both as real servers write them)."""
    rng = random.Random(seed)
    span = days * 86_400
    zones = (("+0000", 0),) * 8 + (("-0700", -7), ("+0200", 2))
    out = []
    for i in range(lines):
        t = START + timedelta(seconds=i * span / max(lines, 1))
        zone, hours = zones[i % len(zones)]
        local = t + timedelta(hours=hours)
        stamp = local.strftime("%d/%b/%Y:%H:%M:%S ") + zone
        ip = f"{10 + i % 7}.{rng.randrange(256)}.{rng.randrange(32)}.{rng.randrange(256)}"
        if i % 20_000 == 19_999:
            out.append(f"[{stamp}] client {ip} sent a request the server could not read")
            continue
        if i % 2_000 == 1_999:
            out.append(f'{ip} - - [{stamp}] "-" 408 - "-" "-"')
            continue
        user = "-" if rng.random() < 0.95 else f"user{rng.randrange(500)}"
        n, p = rng.randrange(5000), rng.randrange(1, 20)
        path_ = rng.choice(_PATHS).format(n=n, p=p)
        status = rng.choice(_STATUS)
        size = "-" if status in (304, 204) else str(rng.randrange(200, 250_000))
        ref = rng.choice(_REFERRERS).replace("{self}", f"https://shop.example.com{path_}")
        out.append(
            f'{ip} - {user} [{stamp}] "{rng.choice(_METHODS)} {path_} HTTP/1.1" {status} '
            f'{size} "{ref}" "{rng.choice(_AGENTS)}"'
        )
    path.write_text("\n".join(out) + "\n")
    return path.stat().st_size


def generate_syslog(path: Path, lines: int, days: int = DAYS, *, seed: int = 3164) -> int:
    """``lines`` RFC 3164 syslog lines as Linux writes them to /var/log/syslog (no priority,
    no year, a day padded with a space), over ``days`` days."""
    rng = random.Random(seed)
    span = days * 86_400
    out = []
    for i in range(lines):
        t = START + timedelta(seconds=i * span / max(lines, 1))
        stamp = f"{t:%b} {t.day:2d} {t:%H:%M:%S}"
        program, text = rng.choice(_PROGRAMS)
        pid = "" if program == "kernel" else f"[{rng.randrange(100, 40000)}]"
        message = text.format(a=rng.randrange(256), b=rng.randrange(256), p=rng.randrange(60000))
        out.append(f"{stamp} {rng.choice(_HOSTS)} {program}{pid}: {message}")
    path.write_text("\n".join(out) + "\n")
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# DuckDB doing the same parse


def parse_select(source: Path, preset_name: str, *, same_work: bool = False) -> str:
    """The SELECT that parses ``source`` as the preset does: its regex through
    ``regexp_extract``, its types (integers, the time to TIMESTAMPTZ by the preset's
    formats, "-" and empty optional groups null). ``same_work`` adds ``_raw``, ``_line`` and
    the event day (what the lake keeps besides, for ``PARTITION_BY``)."""
    from ingest.logs.textlogs import PRESETS

    preset = PRESETS[preset_name]
    names = list(re.compile(preset.pattern).groupindex)
    regex = preset.pattern.replace("'", "''")
    year = START.year

    def column(name: str) -> str:
        value = f"r.{name}"
        if name in preset.optional:
            value = f"nullif({value}, '{preset.nil}')" if preset.nil else f"nullif({value}, '')"
        if name in preset.ints:
            return f"TRY_CAST(nullif({value}, '-') AS BIGINT) AS {name}"
        if name == preset.time:
            reads = []
            for fmt in preset.time_formats:
                if "%Y" in fmt or "%y" in fmt:
                    reads.append(f"try_strptime(trim({value}), '{fmt}')::TIMESTAMPTZ")
                else:
                    reads.append(
                        f"try_strptime(trim({value}) || ' {year}', '{fmt} %Y')::TIMESTAMPTZ"
                    )
            return f"COALESCE({', '.join(reads)}) AS {name}"
        return f"{value} AS {name}"

    columns = ", ".join(column(n) for n in names)
    lines = (
        f"read_csv('{source}', columns={{'line': 'VARCHAR'}}, delim='{NEVER}', quote='', "
        "escape='', header=false, auto_detect=false)"
    )
    extra = ""
    if same_work:
        extra = ", line AS _raw, row_number() OVER () AS _line"
    inner = f"SELECT regexp_extract(line, '{regex}', {names!r}) AS r{extra} FROM {lines}"
    select = f"SELECT {columns}"
    if same_work:
        select += f", _raw, _line, CAST({preset.time} AS DATE) AS _event_date"
        return f"SELECT * FROM ({select} FROM ({inner}))"
    return f"{select} FROM ({inner})"


def duckdb_copy_sql(source: Path, target: Path, preset: str) -> str:
    return f"SET TimeZone = 'UTC'; COPY ({parse_select(source, preset)}) TO '{target}'"


def same_work_sql(source: Path, target: Path, preset: str) -> str:
    return (
        f"SET TimeZone = 'UTC'; COPY ({parse_select(source, preset, same_work=True)}) "
        f"TO '{target}' (FORMAT parquet, PARTITION_BY (_event_date))"
    )


def ducklake_sql(source: Path, folder: Path, preset: str) -> str:
    return (
        ducklake_attach("duckdb", folder, None)
        + f"; SET TimeZone = 'UTC'; CREATE TABLE dl.logs AS {parse_select(source, preset)}"
    )


# --------------------------------------------------------------------------------------------
# Timing


def _timed_process(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
    """(wall seconds, CPU seconds of the child) of one whole process."""
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _timed_here(action: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) of ``action``."""
    cpu0, start = time.process_time(), time.perf_counter()
    action()
    return time.perf_counter() - start, time.process_time() - cpu0


def alternate(
    sides: dict[str, Callable[[int], tuple[float, float]]], repeat: int
) -> dict[str, tuple[float, float]]:
    """Each side's (median wall, median CPU) over ``repeat`` rounds, sides alternating."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for attempt in range(repeat):
        for name, side in sides.items():
            samples[name].append(side(attempt))
    return {
        name: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
        for name, s in samples.items()
    }


def result_row(case: str, times: dict[str, tuple[float, float]], **extra: Any) -> dict[str, Any]:
    base, base_cpu = times["duckdb"]
    ours, ours_cpu = times["lake_sqlite"]
    out: dict[str, Any] = {
        "case": case,
        "ours_s": ours,
        "baseline_s": base,
        "baseline": "plain DuckDB regexp_extract",
        "ratio": ours / base if base else float("nan"),
        "throughput_vs_duckdb": round(base / ours, 3) if ours else float("nan"),
        "cpu_ratio": round(ours_cpu / base_cpu, 3) if base_cpu else float("nan"),
    }
    for name, (wall, cpu) in times.items():
        out[f"{name}_cpu_s"] = round(cpu, 3)
        if name in ("duckdb", "lake_sqlite"):
            continue
        out[f"{name}_s"] = round(wall, 3)
        out[f"{name}_ratio"] = round(wall / base, 3) if base else float("nan")
    out.update(extra)
    return out


# --------------------------------------------------------------------------------------------
# Cases


def text_case(
    folder: Path,
    source: Path,
    preset: str,
    lines: int,
    *,
    repeat: int = REPEAT,
    before: Path | None = None,
) -> list[dict[str, Any]]:
    import duckdb

    import lake

    label = f"{preset}, {lines:,} lines"
    size_mb = round(source.stat().st_size / 1e6, 1)

    def fresh(name: str, attempt: int) -> Path:
        # A new path per attempt: the process keeps each table's loaded Delta log by
        # location, and a folder deleted and made again under it fails to commit.
        place = folder / f"{name}-{attempt}-{time.monotonic_ns()}"
        place.mkdir(parents=True)
        return place

    def in_duckdb(sql: Callable[[Path], str]) -> Callable[[int], tuple[float, float]]:
        def side(attempt: int) -> tuple[float, float]:
            place = fresh("duckdb", attempt)
            con = duckdb.connect()
            took = _timed_here(lambda: con.execute(sql(place)).fetchall())
            con.close()
            return took

        return side

    def lake_here(attempt: int) -> tuple[float, float]:
        place = fresh("lake", attempt)
        lk = lake.connect(
            warehouse=str(place / "warehouse"), catalog=f"sqlite:///{place / 'catalog.db'}"
        )
        took = _timed_here(lambda: lk.ingest_logs("web.access", [str(source)], preset=preset))
        lk.close()
        return took

    in_process = alternate(
        {
            "duckdb": in_duckdb(lambda p: duckdb_copy_sql(source, p / "0.parquet", preset)),
            "duckdb_same_work": in_duckdb(lambda p: same_work_sql(source, p / "out", preset)),
            "ducklake_duckdb": in_duckdb(lambda p: ducklake_sql(source, p, preset)),
            "lake_sqlite": lake_here,
        },
        repeat,
    )
    rows = [result_row(f"{label}, in-process", in_process, mb=size_mb)]

    def process(sql: Callable[[Path], str]) -> Callable[[int], tuple[float, float]]:
        def side(attempt: int) -> tuple[float, float]:
            return _timed_process(duckdb_process(sql(fresh("duckdb-p", attempt))))

        return side

    def lake_process(attempt: int) -> tuple[float, float]:
        place = fresh("lake-p", attempt)
        env = lake_env(place / "warehouse", f"sqlite:///{place / 'catalog.db'}")
        argv = [*lake_command(), "ingest", "logs", "web.access", str(source), "--preset", preset]
        return _timed_process(argv, env=env, cwd=place)

    def lake_before(attempt: int) -> tuple[float, float]:
        # The same command with another checkout's lake (its own .venv), bytecode compiled
        # into this run's folder (warmed below), so nothing is written into that checkout.
        place = fresh("lake-before", attempt)
        env = lake_env(place / "warehouse", f"sqlite:///{place / 'catalog.db'}")
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache-before")
        python = str(before / ".venv" / "bin" / "python")  # type: ignore[operator]
        argv = [python, "-m", "lake", "ingest", "logs", "web.access", str(source)]
        return _timed_process([*argv, "--preset", preset], env=env, cwd=place)

    sides = {
        "duckdb": process(lambda p: duckdb_copy_sql(source, p / "0.parquet", preset)),
        "ducklake_duckdb": process(lambda p: ducklake_sql(source, p, preset)),
        "lake_sqlite": lake_process,
    }
    if before is not None:
        lake_before(-1)
        sides["lake_before"] = lake_before
    whole = alternate(sides, repeat)
    rows.append(result_row(f"{label}, whole process", whole, mb=size_mb))
    return rows


def run(
    scale: float = 1.0, *, syslog: bool = False, before: str | None = None
) -> list[dict[str, Any]]:
    """The Apache combined case at ``scale`` (and the syslog one with ``syslog``); with
    ``before`` (a checkout of the lake with its own ``.venv``) its whole command runs too,
    alternating with this one's."""
    checkout = Path(before).resolve() if before else None
    lines = max(int(LINES_PER_SCALE * scale), 1000)
    folder = Path(tempfile.mkdtemp(prefix="lake-bench-text-"))
    rows: list[dict[str, Any]] = [
        {"case": "load (1-minute average, start)", "load": os.getloadavg()[0]}
    ]
    try:
        source = folder / "access.log"
        generate_apache(source, lines)
        rows += text_case(folder, source, "apache-combined", lines, before=checkout)
        if syslog:
            source = folder / "syslog"
            generate_syslog(source, lines)
            rows += text_case(folder, source, "syslog", lines)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows.append({"case": "load (1-minute average, end)", "load": os.getloadavg()[0]})
    return rows


if __name__ == "__main__":
    # python -m bench.bench_text_logs [SCALE] [--syslog] [--before=PATH]
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    before = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--before=")), None)
    found = run(float(args[0]) if args else 0.1, syslog="--syslog" in sys.argv, before=before)
    print(json.dumps(found, indent=2, default=str))
