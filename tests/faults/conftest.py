"""Helpers of the fault-injection suite: lakes in child processes, and their checks.

The backend fixtures (``backend``, ``lk``, ``cli``) come from tests/conftest.py. A child
process gets exactly the backend's environment plus what a test adds (for example
``LAKE_FAILPOINT``, see lake/failpoints.py), never the developer's own settings.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from lake.core.names import TableName

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Proc:
    returncode: int
    stdout: str
    stderr: str


def child_env(backend, **extra: str) -> dict[str, str]:
    """The backend's environment for a child process, plus ``extra``.

    Without PYTHONDONTWRITEBYTECODE (set on these machines), as an installed lake runs and as
    the benches run (bench/common.py): with it, every child compiled the lake's own modules
    again (69 files for an ingest: 1.45 CPU-s a child, 1.16 with them compiled once), and
    this suite starts some 150 children. Their bytecode goes where Python puts it, in the
    ``__pycache__`` folders git ignores."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAKE_", "AWS_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(backend.env)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def ledger_and_outputs(backend) -> tuple[list[tuple[object, ...]], int, int]:
    """The catalog's ingested-file ranges (state, version, records, in entry order), its
    count of output lineage edges and of runs still running, read straight from its
    database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(backend.catalog_url)
    try:
        with engine.connect() as connection:
            ranges = connection.execute(
                text("SELECT state, version, records FROM ingested_files ORDER BY id")
            ).all()
            outputs = connection.execute(
                text("SELECT count(*) FROM lineage_edges WHERE direction = 'output'")
            ).scalar_one()
            running = connection.execute(
                text("SELECT count(*) FROM runs WHERE status = 'running'")
            ).scalar_one()
    finally:
        engine.dispose()
    return [tuple(r) for r in ranges], outputs, running


def data_files(backend, lk, table: str) -> set[str]:
    """Every Parquet file under the table's location, relative to it."""
    from lake.core.names import TableName

    location = lk.catalog.get_table(TableName.parse(table)).location.rstrip("/")
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        client = backend.s3.client()
        keys = [
            item["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=prefix + "/"
            )
            for item in page.get("Contents", [])
        ]
        return {
            k[len(prefix) + 1 :] for k in keys if k.endswith(".parquet") and "_delta_log" not in k
        }
    root = Path(location)
    return {
        str(p.relative_to(root)) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts
    }


def write_log(path: Path, records: int, tag: object, *, field: str = "tag") -> str:
    """A JSON-lines file of ``records`` events of one instant, each with ``field`` = ``tag``
    and ``k`` its number, so a count by both tells a doubled record from a lost one."""
    path.write_text(
        "".join(
            json.dumps({"ts": "2026-11-20T10:00:00Z", field: tag, "k": k}) + "\n"
            for k in range(records)
        )
    )
    return str(path)


def lake_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "lake", *args]


@contextmanager
def stopped_child(argv: list[str], env: dict[str, str]) -> Iterator[Callable[[], Proc]]:
    """A child process held at its failpoint (``LAKE_FAILPOINT=NAME:stop`` in ``env``);
    what the block gets resumes it and returns how it ended. Killed if the block fails
    first."""
    child = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status = os.waitpid(child.pid, os.WUNTRACED)  # returns once the failpoint stopped it
    assert os.WIFSTOPPED(status), "the child reached the failpoint"

    def resume() -> Proc:
        os.kill(child.pid, signal.SIGCONT)
        out, err = child.communicate(timeout=200)
        return Proc(child.returncode, out, err)

    try:
        yield resume
    finally:
        if child.poll() is None:
            child.kill()


def run_lake(backend, *args: str, timeout: float = 120, **extra: str) -> Proc:
    """``lake ARGS`` in a child process (a real OS process: it can be killed)."""
    done = subprocess.run(
        lake_argv(*args),
        env=child_env(backend, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Proc(done.returncode, done.stdout, done.stderr)


def in_process(*args: str) -> Proc:
    """``lake ARGS`` in this process, with the backend's environment (the ``cli`` fixture's
    runner), as a :class:`Proc`: for a command the test needs no process of its own for
    (nothing kills, stops or proxies it), which spares a process start (1-2 CPU-s each)."""
    from tests.conftest import run_cli

    result = run_cli(*args)
    return Proc(result.exit_code, result.stdout, result.stderr)


def assert_one_line_error(stderr: str, pattern: str | None = None) -> str:
    """A LakeError as the CLI prints it: one line, no traceback."""
    import re

    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    if pattern is not None:
        assert re.search(pattern, lines[0], re.IGNORECASE), lines[0]
    return lines[0]


S3_POSTGRES = pytest.mark.parametrize("backend", ["s3-postgres"], indirect=True)
"""For cases that exist only with a remote warehouse and a server catalog (outages, secrets
in S3 and Postgres settings, many processes on one S3 table)."""


@pytest.fixture
def s3_only(backend):
    assert backend.name == "s3-postgres", "mark the test with S3_POSTGRES"
    return backend


def runs_in_log(backend, lk, table: str) -> dict[int, str | None]:
    """Each log entry's version of ``table`` and the run id its commitInfo carries, read
    straight from moto."""
    location = lk.catalog.get_table(TableName.parse(table)).location
    bucket, _, prefix = location[len("s3://") :].partition("/")
    client = backend.s3.client()
    runs = {}
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_delta_log/")
    for item in listed.get("Contents", []):
        name = item["Key"].rsplit("/", 1)[1]
        if not name.endswith(".json"):
            continue
        body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
        infos = [json.loads(line).get("commitInfo") for line in body.splitlines() if line]
        info = next(i for i in infos if i is not None)
        runs[int(name[: -len(".json")])] = info.get("lake.run_id")
    return runs


def assert_in_doubt(result: Proc, version: int, table: str) -> str:
    """``result`` (a lake command) failed with one line saying its commit of ``version`` is
    in doubt (its PUT may still land) and to sync ``table``; returns the line."""
    assert result.returncode == 1, result.stderr
    line = assert_one_line_error(result.stderr, r"in doubt")
    assert f"version {version}" in line and "may still land" in line, line
    assert f"lake catalog sync {table}" in line, line
    return line


def synced_runs(backend, lk, table: str) -> dict[int, str | None]:
    """``lake catalog sync table`` (in this process, straight to the server) succeeds; then
    each log entry's version and run id."""
    synced = in_process("catalog", "sync", table)
    assert synced.returncode == 0, synced.stderr
    return runs_in_log(backend, lk, table)
