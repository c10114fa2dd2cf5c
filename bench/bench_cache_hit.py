"""A training-set cache hit on S3 (moto's server) + PostgreSQL: in-process and as a command.

Setup: a warehouse on a loopback S3 server (moto, in a child process), a fresh PostgreSQL
catalog database on 127.0.0.1:5432 (user postgres), the table of ``bench_materialize``
(500,000 rows at scale 0.1) and its 10% slice materialized once to
``s3://bucket/sets/slice``.

In-process (``lk.materialize``, one connected lake): the same query again, and ``--from
NAME@1`` into the prefix that holds version 1; both are cache hits. Target: under 0.5 s.

Whole command: ``lake materialize NAME --sql ... --out s3://...`` (and ``--from NAME@1``)
in a new process, against ``lake --version`` in the same run (start-up alone). Target: a
cache hit dominated by start-up. ``materialize_inside_command_s`` is the time the command
reports for the materialization itself (its ``seconds``); the rest is start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.bench_materialize import FULL_ROWS, QUERY, _rows
from bench.common import compare, median_seconds

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
KEY_ID, SECRET = "bench-key", "bench-secret"


def run(scale: float = 0.1) -> list[dict]:
    import lake

    rows = max(int(FULL_ROWS * scale), 10_000)
    root = Path(tempfile.mkdtemp(prefix="lake-bench-cache-"))
    database = f"lake_bench_cache_{uuid.uuid4().hex[:8]}"
    server, endpoint = _start_s3()
    saved = dict(os.environ)
    try:
        bucket = "lake-bench"
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        os.environ.update(env)
        _create_bucket(endpoint, bucket)
        _create_database(database)
        catalog = f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{database}"
        warehouse = f"s3://{bucket}/warehouse"
        out = f"s3://{bucket}/sets/slice"
        sql = QUERY.format(source="bench.events")
        lk = lake.connect(warehouse=warehouse, catalog=catalog, cwd=root)
        lk.write_table("bench.events", _rows(rows))
        first = lk.materialize("slice", sql=sql, out=out)
        assert lk.materialize("slice", sql=sql, out=out).cached
        assert lk.materialize(from_="slice@1", out=out).cached
        again = median_seconds(lambda: lk.materialize("slice", sql=sql, out=out), repeat=7)
        old = median_seconds(lambda: lk.materialize(from_="slice@1", out=out), repeat=7)
        lk.close()
        size = f"{first.row_count:,} rows, {sum(f.bytes for f in first.files) / 1e6:.1f} MB"
        command_env = {
            **os.environ,
            **env,
            "LAKE_WAREHOUSE": warehouse,
            "LAKE_CATALOG_URL": catalog,
        }
        lake_bin = str(Path(sys.executable).with_name("lake"))

        inside: dict[str, list[float]] = {"same": [], "from": []}

        def command(*args: str, kind: str | None = None) -> None:
            done = subprocess.run(
                [lake_bin, *args], env=command_env, cwd=root, check=True, capture_output=True
            )
            if kind is not None:
                answer = json.loads(done.stdout)
                assert answer["status"] == "cached", answer
                inside[kind].append(answer["seconds"])

        def version() -> None:
            command("--version")

        same = compare(
            f"cache hit on S3 + PostgreSQL, whole command: same query ({size})",
            lambda: command(
                "materialize", "slice", "--sql", sql, "--out", out, "--output", "json", kind="same"
            ),
            version,
            repeat=5,
            baseline_name="lake --version (start-up alone)",
        )
        from_old = compare(
            "cache hit on S3 + PostgreSQL, whole command: --from NAME@1",
            lambda: command(
                "materialize", "--from", "slice@1", "--out", out, "--output", "json", kind="from"
            ),
            version,
            repeat=5,
            baseline_name="lake --version (start-up alone)",
        )
        same["materialize_inside_command_s"] = statistics.median(inside["same"])
        from_old["materialize_inside_command_s"] = statistics.median(inside["from"])
        return [
            _target(f"cache hit on S3 + PostgreSQL, in-process: same query ({size})", again),
            _target("cache hit on S3 + PostgreSQL, in-process: --from NAME@1", old),
            same,
            from_old,
        ]
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.terminate()
        server.wait(timeout=10)
        _drop_database(database)
        shutil.rmtree(root, ignore_errors=True)


def _target(case: str, seconds: float) -> dict:
    return {
        "case": case,
        "ours_s": seconds,
        "baseline_s": 0.5,
        "baseline": "target 0.5 s",
        "ratio": seconds / 0.5,
    }


def _start_s3() -> tuple[subprocess.Popen, str]:
    """moto's S3 server in a child process (deltalake holds the GIL while it waits for the
    network, so a server thread in this process would never answer it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.terminate()
                raise RuntimeError(f"moto's S3 server did not start on port {port}") from None
            time.sleep(0.05)  # a readiness poll on a child process
    return process, f"http://127.0.0.1:{port}"


def _create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)


def _create_database(name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", **PG)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def _drop_database(name: str) -> None:
    import psycopg2

    try:
        connection = psycopg2.connect(dbname="postgres", **PG)
    except psycopg2.Error:
        return
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


if __name__ == "__main__":  # pragma: no cover
    import sys as _sys

    for row in run(float(_sys.argv[1]) if len(_sys.argv) > 1 else 0.1):
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
