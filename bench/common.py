"""Timing helpers shared by the benchmark cases.

These machines are shared and noisy: every case times our path and its baseline in
the same run, alternating, several times, and reports medians and their ratio.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
"""The benches' PostgreSQL server (as the tests': trust authentication)."""


def process_env(**settings: str) -> dict[str, str]:
    """The environment of a user's shell for a timed process: none of this machine's LAKE_ and
    AWS_ settings, plus ``settings``; and without PYTHONDONTWRITEBYTECODE (set on these
    machines), so the lake's modules are compiled once, as an installed lake's are, not again
    at every start (about 0.15 s of a small query)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAKE_", "AWS_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(settings)
    return env


@contextlib.contextmanager
def moto_s3_server(
    bucket: str, log: Path | None = None, *, light: bool = False
) -> Iterator[dict[str, str]]:
    """moto's S3 server in a child process (in this one it would share the GIL with the
    writer it serves: deltalake holds it while it waits for the network), with ``bucket``
    made; yields the AWS_ settings that point the lake at it. ``log``: where its request
    log goes (one line per request), to count requests. ``light``: the tests' server
    (``tests/s3_server.py``: moto without its per-request listing of its own package and
    without a log line per request; about half of moto's CPU per request), whose log has
    no request lines."""
    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(log or os.devnull, "wb") as sink:
        program = (
            [str(Path(__file__).resolve().parent.parent / "tests" / "s3_server.py")]
            if light
            else ["-m", "moto.server"]
        )
        server = subprocess.Popen(
            [sys.executable, *program, "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink,
            stderr=sink,
        )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto's S3 server did not start on port {port}")
            time.sleep(0.05)  # a child process starting to listen: a readiness poll
        boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        ).create_bucket(Bucket=bucket)
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


def pg_database(prefix: str = "lake_bench") -> str:
    """A new, empty PostgreSQL database; its name."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    connection = psycopg2.connect(dbname="postgres", **PG)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return name


def drop_pg_database(name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", **PG)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def pg_url(name: str) -> str:
    return f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def median_seconds(action: Callable[[], Any], *, repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def compare(
    case: str,
    ours: Callable[[], Any],
    baseline: Callable[[], Any],
    *,
    repeat: int = 5,
    warmup: int = 1,
    baseline_name: str = "baseline",
    **extra: Any,
) -> dict[str, Any]:
    """Time both sides alternately; ratio = ours / baseline (lower is better; 1.0 = as fast)."""
    for _ in range(warmup):
        baseline()
        ours()
    ours_s, base_s = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        baseline()
        base_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        ours()
        ours_s.append(time.perf_counter() - start)
    ours_median, base_median = statistics.median(ours_s), statistics.median(base_s)
    return {
        "case": case,
        "ours_s": ours_median,
        "baseline_s": base_median,
        "baseline": baseline_name,
        "ratio": ours_median / base_median if base_median else float("nan"),
        **extra,
    }


def peak_rss_mb(code: str, *args: str, env: dict[str, str] | None = None) -> float:
    """Peak resident memory of a fresh Python process running ``code`` (``args`` in its
    ``sys.argv``), in MB.

    Read from ``VmHWM`` in ``/proc/self/status``: ``ru_maxrss`` survives ``exec`` and would
    report the parent's peak when the parent was larger.
    """
    wrapped = (
        code
        + "\nimport sys\n"
        + "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        + "sys.stdout.write('\\nPEAK_RSS_KB=%s\\n' % hwm)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapped, *args], capture_output=True, text=True, env=env, check=True
    )
    line = [out for out in result.stdout.splitlines() if out.startswith("PEAK_RSS_KB=")][-1]
    return int(line.split("=")[1]) / 1024
