"""Start-up of the command line against a bare Python start-up, in the same run.

Goals (issue 17): a command that touches only the catalog (``lake tables``, ``lake history T``
(the table's versions), ``lake runs``) under 10x a bare ``python -c pass`` (same interpreter),
``lake sql`` on a small table under 20x; ``lake --help`` answers at once. Issue 18: the first
10-day query in a new process at most 2x DuckLake's (here on one ingest of ``scale`` x 1M
lines; ``bench_peers`` times it after the 100-row appends).

Every row is a median of processes alternating with their baseline; the 1-minute load
average is printed at the start and the end: read it before believing a figure (2 shared
cores). Each command runs on the embedded default (a local folder + SQLite, what the goals
are about) and on S3 (moto's server, loopback) + PostgreSQL (127.0.0.1:5432) when present.

The processes run without ``PYTHONDONTWRITEBYTECODE``, as an installed lake runs (its modules
compiled once): with it set, as on these machines, every start compiles the lake's own
modules again (about 0.15 s of a ``lake sql``).

What a start costs (``python -X importtime``, quiet machine, December 2026) and what was done:
SQLAlchemy and the catalog's models ~200 ms -> a plain-SQL reader (``catalog.reader``) and
catalog URLs read without SQLAlchemy (``lake.core.catalog_url``); typer's coercion of every
option through pydantic ~65 ms -> values that need no coercion are taken as they are; typer
building all 26 commands before running one ~20 ms -> ``main()`` builds only the one named;
pandas ~125 ms, imported by ``pa.table()`` asking whether deltalake's add actions were a pandas
frame -> ``RecordBatchReader.from_stream``; pyarrow.compute and multiprocessing -> imported by
the writes and read-only queries that use them; deltalake and pyarrow.fs for ``lake history``
-> one existence check of the next commit file. What is left of ``lake sql``: sqlglot
(~70 ms), pyarrow with numpy (~85 ms), DuckDB (~45 ms), typer (~30 ms), rich (~20 ms).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import compare, drop_pg_database, moto_s3_server, pg_database, pg_url, process_env

LAKE = str(Path(sys.executable).with_name("lake"))
APACHE = Path(__file__).resolve().parent.parent / "tests" / "data" / "elastic-logs" / "apache_logs"
REPEAT = 9
SMALL_QUERY = "SELECT status, count(*) FROM web.access GROUP BY 1"


def run(scale: float = 1.0) -> list[dict]:
    rows: list[dict[str, Any]] = [
        {"case": "load (1-minute average, start)", "load": os.getloadavg()[0]}
    ]
    env = process_env()

    def bare() -> None:
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True, env=env)

    def command(*args: str, cwd: Path, env: dict[str, str]) -> Callable[[], None]:
        return lambda: subprocess.run(
            [LAKE, *args], capture_output=True, check=True, cwd=cwd, env=env
        )

    with tempfile.TemporaryDirectory() as folder:
        rows.append(
            compare(
                "lake --help",
                command("--help", cwd=Path(folder), env=env),
                bare,
                baseline_name="python -c pass",
                repeat=REPEAT,
            )
        )
        for pair, settings in _backend_pairs(Path(folder)):
            place = Path(folder, pair)
            place.mkdir()
            pair_env = process_env(**settings)
            _small_lake(place, pair_env)
            cases = [
                ("lake tables", ("tables",), "< 10x"),
                ("lake history T (its versions)", ("history", "web.access"), "< 10x"),
                ("lake runs", ("runs",), "< 10x"),
                ("lake sql on a 1,000-row table", ("sql", SMALL_QUERY), "< 20x"),
            ]
            for case, args, goal in cases:
                rows.append(
                    compare(
                        f"{case} ({pair})",
                        command(*args, cwd=place, env=pair_env),
                        bare,
                        baseline_name="python -c pass",
                        repeat=REPEAT,
                        goal=goal,
                    )
                )
        rows.append(_first_query(Path(folder), scale, env))
    rows.append({"case": "load (1-minute average, end)", "load": os.getloadavg()[0]})
    return rows


def _small_lake(place: Path, env: dict[str, str]) -> None:
    lines = APACHE.read_text().splitlines(keepends=True)[:1000]
    Path(place, "access.log").write_text("".join(lines))
    for args in (
        ("init",),
        ("ingest", "logs", "web.access", "access.log", "--preset", "apache-combined"),
    ):
        subprocess.run([LAKE, *args], capture_output=True, check=True, cwd=place, env=env)


def _backend_pairs(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    yield "local folder + SQLite", {}
    with contextlib.ExitStack() as stack:
        try:
            bucket = f"lake-bench-{uuid.uuid4().hex[:8]}"
            s3 = stack.enter_context(moto_s3_server(bucket))
            database = stack.enter_context(_pg_database())
        except Exception as error:  # noqa: BLE001 - reported, and the other pair still runs
            print(f"bench_cli: S3 + PostgreSQL skipped: {error}", file=sys.stderr)
            return
        yield (
            "S3 (moto) + PostgreSQL",
            {
                "LAKE_WAREHOUSE": f"s3://{bucket}/bench",
                "LAKE_CATALOG_URL": pg_url(database),
                **s3,
            },
        )


@contextlib.contextmanager
def _pg_database() -> Iterator[str]:
    name = pg_database()
    try:
        yield name
    finally:
        drop_pg_database(name)


def _first_query(folder: Path, scale: float, env: dict[str, str]) -> dict[str, Any]:
    """The first 10-day GROUP BY of a new process (imports, catalog, planning, the query):
    the lake's Python API against DuckLake (DuckDB and SQLite catalogs) and plain DuckDB over
    one Parquet file, on the same rows."""
    from bench.bench_peers import (
        LINES_PER_SCALE,
        QUERY_10_DAYS,
        duckdb_process,
        ducklake_attach,
        generate,
        run_process,
        timed_alternately,
    )

    lines = max(int(LINES_PER_SCALE * scale), 1000)
    source = folder / "logs-60d.jsonl"
    generate(source, lines, 60)
    plain = folder / "plain.parquet"
    run_process(duckdb_process(f"COPY (SELECT * FROM read_json('{source}')) TO '{plain}'"))
    for kind in ("duckdb", "sqlite"):
        place = folder / f"ducklake-{kind}"
        place.mkdir()
        attach = ducklake_attach(kind, place, None)
        run_process(
            duckdb_process(f"{attach}; CREATE TABLE dl.logs AS SELECT * FROM read_json('{source}')")
        )
    place = folder / "lake-first-query"
    place.mkdir()
    lake_env = dict(env, LAKE_WAREHOUSE=str(place / "warehouse"))
    lake_env["LAKE_CATALOG_URL"] = f"sqlite:///{place / 'catalog.db'}"
    subprocess.run(
        [LAKE, "ingest", "logs", "web.logs", str(source)],
        capture_output=True,
        check=True,
        cwd=place,
        env=lake_env,
    )
    lake_code = f"import lake; lake.connect().sql({QUERY_10_DAYS.format(t='web.logs')!r})"
    sides = {
        "duckdb": lambda _: run_process(
            duckdb_process(QUERY_10_DAYS.format(t=f"'{plain}'")), env=env
        ),
        "lake_sqlite": lambda _: run_process(
            [sys.executable, "-c", lake_code], env=lake_env, cwd=place
        ),
        **{
            f"ducklake_{kind}": (
                lambda _, kind=kind: run_process(
                    duckdb_process(
                        ducklake_attach(kind, folder / f"ducklake-{kind}", None)
                        + "; "
                        + QUERY_10_DAYS.format(t="dl.logs")
                    ),
                    env=env,
                )
            )
            for kind in ("duckdb", "sqlite")
        },
    }
    for side in sides.values():  # warm the page cache and the bytecode
        side(0)
    times = timed_alternately(sides, REPEAT)
    best_ducklake = min(times["ducklake_duckdb"], times["ducklake_sqlite"])
    shutil.rmtree(place, ignore_errors=True)
    return {
        "case": "first 10-day query in a new process (Python API, embedded default)",
        "ours_s": times["lake_sqlite"],
        "baseline_s": best_ducklake,
        "baseline": "DuckLake (faster catalog)",
        "ratio": times["lake_sqlite"] / best_ducklake,
        "goal": "<= 2x",
        "lines": lines,
        "ducklake_duckdb_s": times["ducklake_duckdb"],
        "ducklake_sqlite_s": times["ducklake_sqlite"],
        "plain_duckdb_s": times["duckdb"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.1), indent=2))
