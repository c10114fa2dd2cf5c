"""The HTTP service's read endpoints under 50 concurrent clients on loopback, against the
same catalog queries issued directly through SQLAlchemy by 50 threads.

Setup: a fresh PostgreSQL catalog database (``LAKE_BENCH_PG``; SQLite if none answers) and
a local warehouse, filled through the lake itself: ``TABLES`` tables x ``VERSIONS`` writes
(one run each). ``lake serve`` runs as a child process on a free loopback port.

Load: the three read endpoints in turn (``GET /api/v1/tables``, ``/api/v1/runs?limit=50``,
``/api/v1/tables/{t}/versions``), each with its bearer token, from 50 concurrent async
clients, until ``requests`` answers or ``TIME_LIMIT_S``. Baseline: the same three queries
(tables joined to namespaces; the newest 50 runs; one table's versions) with SQLAlchemy Core
on the catalog's engine, from 50 threads, the same count. Each round measures both; the
figures are medians over the rounds. ``ratio`` = service time / SQLAlchemy time for the same
number of requests (so SQLAlchemy's requests per second over the service's). A second row
loads ``GET /health`` (no token, no catalog) the same way: the HTTP stack's own ceiling.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CLIENTS = 50
TABLES, VERSIONS = 10, 3
ROUNDS = 3
TIME_LIMIT_S = 60.0
PG = os.environ.get("LAKE_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")


def run(scale: float = 0.1) -> list[dict]:
    import pyarrow as pa
    import sqlalchemy as sa

    import lake

    requests = max(300, int(3_000 * scale))
    root = Path(tempfile.mkdtemp(prefix="lake-bench-service-"))
    catalog_url, drop = _catalog(root)
    env = {**os.environ, "LAKE_WAREHOUSE": str(root / "warehouse"), "LAKE_CATALOG_URL": catalog_url}
    env.pop("LAKE_OPENLINEAGE_URL", None)
    process = None
    try:
        with lake.connect(warehouse=env["LAKE_WAREHOUSE"], catalog=catalog_url, cwd=root) as lk:
            for t in range(TABLES):
                for v in range(VERSIONS):
                    lk.write_table(
                        f"bench.t{t:02d}", pa.table({"id": list(range(v * 10, v * 10 + 10))})
                    )
            token = lk.create_token(role="read", name="bench").secret
            table_id = lk.catalog.get_table(lake.core.names.TableName("bench", "t00")).id
        process, url = _start(env)
        paths = ["/api/v1/tables", "/api/v1/runs?limit=50", "/api/v1/tables/bench.t00/versions"]
        engine = _engine(catalog_url)
        queries = [
            sa.text(
                "SELECT t.*, n.name AS namespace FROM tables t "
                "JOIN namespaces n ON n.id = t.namespace_id ORDER BY n.name, t.name"
            ),
            sa.text("SELECT * FROM runs ORDER BY started_at DESC, id LIMIT 50"),
            sa.text("SELECT * FROM table_versions WHERE table_id = :t ORDER BY version").bindparams(
                t=table_id
            ),
        ]
        service_rounds, direct_rounds, health_rounds = [], [], []
        asyncio.run(_http_load(url, paths, token, CLIENTS))  # warm-up: connections, imports
        _sql_load(engine, queries, CLIENTS)
        for _ in range(ROUNDS):
            service_rounds.append(asyncio.run(_http_load(url, paths, token, requests)))
            health_rounds.append(asyncio.run(_http_load(url, ["/health"], token, requests)))
            direct_rounds.append(_sql_load(engine, queries, requests))
        engine.dispose()
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        drop()
        shutil.rmtree(root, ignore_errors=True)
    ours = _summary(service_rounds)
    base = _summary(direct_rounds)
    health = _summary(health_rounds)
    return [
        {
            "case": f"service read endpoints, {CLIENTS} clients",
            "ours_s": ours["seconds"],
            "baseline_s": base["seconds"],
            "baseline": "SQLAlchemy direct, 50 threads",
            "ratio": ours["seconds"] / base["seconds"],
            "requests": ours["requests"],
            "rps": round(ours["rps"]),
            "p50_ms": round(ours["p50_ms"], 1),
            "p99_ms": round(ours["p99_ms"], 1),
            "baseline_rps": round(base["rps"]),
            "baseline_p99_ms": round(base["p99_ms"], 1),
            "errors": ours["errors"],
            "catalog": "postgresql" if catalog_url.startswith("postgresql") else "sqlite",
        },
        {
            # No catalog, no token: what FastAPI + uvicorn alone answer here; shows how much of
            # the gap to SQLAlchemy is the HTTP stack rather than the lake's handlers.
            "case": f"GET /health (HTTP stack only), {CLIENTS} clients",
            "ours_s": health["seconds"],
            "baseline_s": base["seconds"],
            "baseline": "SQLAlchemy direct, 50 threads",
            "ratio": health["seconds"] / base["seconds"],
            "rps": round(health["rps"]),
            "p99_ms": round(health["p99_ms"], 1),
        },
    ]


def _catalog(root: Path):  # noqa: ANN202
    import sqlalchemy as sa

    name = f"lake_bench_service_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        return f"sqlite:///{root / 'catalog.db'}", lambda: None

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG}/{name}", drop


def _engine(url: str):  # noqa: ANN202
    from catalog.database import open_engine

    return open_engine(url)  # the pool the service's catalog uses


def _start(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "lake", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    if "listening on " not in line:
        process.kill()
        raise RuntimeError(f"lake serve did not start: {line!r}")
    threading.Thread(target=lambda: process.stdout and process.stdout.read(), daemon=True).start()
    return process, line.split("listening on ")[1].split()[0]


async def _http_load(url: str, paths: list[str], token: str, count: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + TIME_LIMIT_S
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            nonlocal issued, errors
            while issued < count and time.perf_counter() < deadline:
                path = paths[issued % len(paths)]
                issued += 1
                start = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "latencies": latencies, "errors": errors}


def _sql_load(engine, queries: list, count: int) -> dict:  # noqa: ANN001
    latencies: list[float] = []
    lock = threading.Lock()
    issued = [0]
    deadline = time.perf_counter() + TIME_LIMIT_S

    def worker() -> None:
        while True:
            with lock:
                if issued[0] >= count or time.perf_counter() >= deadline:
                    return
                query = queries[issued[0] % len(queries)]
                issued[0] += 1
            start = time.perf_counter()
            with engine.connect() as connection:
                connection.execute(query).fetchall()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for future in [pool.submit(worker) for _ in range(CLIENTS)]:
            future.result()
    return {"seconds": time.perf_counter() - started, "latencies": latencies, "errors": 0}


def _summary(rounds: list[dict]) -> dict:
    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "seconds": statistics.median(r["seconds"] for r in rounds),
        "requests": len(rounds[0]["latencies"]),
        "rps": statistics.median(len(r["latencies"]) / r["seconds"] for r in rounds),
        "p50_ms": statistics.median(p(r["latencies"], 0.50) for r in rounds),
        "p99_ms": statistics.median(p(r["latencies"], 0.99) for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
    }
