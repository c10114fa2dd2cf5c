"""Real backends for the test suite: a loopback S3 server and a PostgreSQL server.

S3 is moto's server mode, in a process of its own on a free loopback port. PostgreSQL is the
server at 127.0.0.1:5432 (user postgres) when it answers, else a throwaway server that
pytest-postgresql starts from the machine's PostgreSQL binaries. Each test gets its own
database (removed afterwards) and its own bucket (gone with the server).

Without a backend the tests that need it are skipped, except with ``CI=true``: then a
missing backend fails the run.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PG_HOST = os.environ.get("LAKE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("LAKE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("LAKE_TEST_PG_USER", "postgres")
S3_KEY_ID = "lake-test-key"
S3_SECRET = "lake-test-secret-do-not-leak"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip, or fail under CI=true, because a backend is missing."""
    if in_ci():
        pytest.fail(f"backend unavailable under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class S3Server:
    endpoint: str
    bucket: str

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": S3_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def with_new_bucket(self) -> S3Server:
        """This server with a bucket of its own, made now (empty).

        moto lists a prefix by walking every key of the bucket: in one bucket shared by all
        of a worker's tests, each listing of a table's log grew with the keys of the tests
        before it (a bucket holding 12,000 other keys made the S3 tests of
        tests/landing/test_file_stats.py 1.5-1.8x slower)."""
        bucket = f"lake-test-{uuid.uuid4().hex[:12]}"
        _client_of(self.endpoint).create_bucket(Bucket=bucket)
        return S3Server(endpoint=self.endpoint, bucket=bucket)

    def folder_markers(self, prefix: str) -> list[str]:
        """The empty "folder" objects (keys ending in ``/``) under ``prefix`` (``s3://bucket/
        path`` or a key prefix in the test bucket): what pyarrow's S3 deletes leave behind."""
        if prefix.startswith("s3://"):
            prefix = prefix[len("s3://") :].partition("/")[2]
        pages = self.client().get_paginator("list_objects_v2")
        return sorted(
            item["Key"]
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix.rstrip("/") + "/")
            for item in page.get("Contents", [])
            if item["Key"].endswith("/")
        )


_CLIENTS: dict[str, object] = {}


def _client_of(endpoint: str):  # noqa: ANN202 - a botocore client
    """One botocore client per server, for making buckets (a client takes ~50 ms to make)."""
    if endpoint not in _CLIENTS:
        import boto3

        _CLIENTS[endpoint] = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
        )
    return _CLIENTS[endpoint]


@contextmanager
def start_s3(requests_log: Path | None = None) -> Iterator[S3Server]:
    """moto's S3 server in its own process (``tests/s3_server.py``).

    Not in a thread of the test process: deltalake holds the GIL while it waits for the
    server, so an in-process server would never answer it. ``requests_log``: a file the
    server writes a line per request to (see :func:`logged_requests`).
    """
    import time

    port = _free_port()
    sink = open(requests_log, "wb") if requests_log is not None else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("s3_server.py")), "-H", "127.0.0.1"]
        + ["-p", str(port)]
        + (["--log-requests"] if requests_log is not None else []),
        stdout=sink,
        stderr=sink,
    )
    if requests_log is not None:
        sink.close()  # the server holds its own copy
    try:
        deadline = time.monotonic() + 30
        while not _port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto's S3 server did not start on port {port}")
            time.sleep(0.05)  # waiting for a child process to listen: a readiness poll
        s3 = S3Server(
            endpoint=f"http://127.0.0.1:{port}", bucket=f"lake-test-{uuid.uuid4().hex[:12]}"
        )
        s3.create_bucket(s3.bucket)
        yield s3
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a loaded machine: do not leave it behind
            process.kill()
            process.wait()


_REQUEST = re.compile(rb"(GET|PUT|HEAD|POST|DELETE) (/\S*) HTTP/1\.1")


def logged_requests(requests_log: Path, start: int = 0) -> tuple[int, list[tuple[str, str]]]:
    """The requests in a :func:`start_s3` server's log after byte ``start``: where the log
    ends now, and each request's method and path with its query (``GET /bucket?list-type=2
    &prefix=...`` is a listing). moto colours the lines of some answers (206, 404): the
    request is matched, not the line's quotes."""
    data = requests_log.read_bytes()[start:]
    found = [(m.decode(), p.decode()) for m, p in _REQUEST.findall(data)]
    return start + len(data), found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A PostgreSQL server and the throwaway databases of the tests on it.

    ``CREATE DATABASE`` (a copy of the template, synced to disk) took 0.2-2 s and ``DROP
    DATABASE`` (a checkpoint of the whole server) 1-10 s on a loaded 2-core machine, paid by
    every s3-postgres test. So a process of its own (``tests/pg_databases.py``, where the
    docstring says why not a thread) makes the next database ahead while a test runs and drops
    a test's database after it, in the background: each test still gets a database made fresh
    from the template, and no test waits for the disk."""

    host: str
    port: int
    user: str
    _helper: subprocess.Popen[str] | None = field(default=None, init=False, repr=False)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self):
        import psycopg2

        connection = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres"
        )
        connection.autocommit = True
        return connection

    def create_database(self, *, catalog: bool = False) -> str:
        """The name of a new database (made ahead, see the class): empty, or with
        ``catalog`` holding a new lake catalog (the lake's first use already made it)."""
        return self._ask("take-catalog" if catalog else "take")

    def drop_database(self, name: str) -> None:
        """Drop ``name`` now (for a test that must know it is gone)."""
        self._ask(f"drop-now {name}")

    def drop_database_later(self, name: str) -> None:
        """Drop ``name`` in the background; a failure is raised by :meth:`close`."""
        self._tell(f"drop {name}")

    def close(self) -> None:
        """Drop the spare database, wait for every drop, and raise the first that failed."""
        if self._helper is None:
            return
        try:
            self._ask("close")
        finally:
            self._helper.wait(timeout=60)
            self._helper = None

    def _tell(self, request: str) -> None:
        if self._helper is None:
            self._helper = subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).with_name("pg_databases.py")),
                    self.host,
                    str(self.port),
                    self.user,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert self._helper.stdin is not None
        self._helper.stdin.write(request + "\n")
        self._helper.stdin.flush()

    def _ask(self, request: str) -> str:
        self._tell(request)
        assert self._helper is not None and self._helper.stdout is not None
        answer = self._helper.stdout.readline().rstrip("\n")
        if not answer:
            raise RuntimeError(f"the test databases' process ended on {request!r}")
        if answer.startswith("error: "):
            raise RuntimeError(f"test databases: {answer.removeprefix('error: ')}")
        return answer


@contextmanager
def start_postgres() -> Iterator[PostgresServer | None]:
    """The local server if it answers, else a throwaway one; None when neither is possible."""
    if _port_open(PG_HOST, PG_PORT):
        server = PostgresServer(PG_HOST, PG_PORT, PG_USER)
        try:
            yield server
        finally:
            server.close()
        return
    pg_ctl = shutil.which("pg_ctl") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))), None
    )
    if pg_ctl is None:
        yield None
        return
    from pytest_postgresql.executor import PostgreSQLExecutor

    port = _free_port()
    datadir = tempfile.mkdtemp(prefix="lake-pg-")
    executor = PostgreSQLExecutor(
        executable=pg_ctl,
        host="127.0.0.1",
        port=port,
        datadir=datadir,
        unixsocketdir=datadir,
        logfile=os.path.join(datadir, "log"),
        startparams="-w",
        dbname="postgres",
        user="postgres",
        password="",
        postgres_options="",
    )
    executor.start()
    server = PostgresServer("127.0.0.1", port, "postgres")
    try:
        yield server
    finally:
        server.close()
        executor.stop()
        shutil.rmtree(datadir, ignore_errors=True)


@contextmanager
def lake_environment(
    pair: str, root: Path, s3: S3Server | None, pg: PostgresServer | None
) -> Iterator[dict[str, str]]:
    """The settings of a new, empty lake on the backend pair ``pair`` ("local-sqlite" or
    "s3-postgres"), for fixtures that build one lake for several tests that only read it;
    ``root`` holds its local files. A PostgreSQL catalog's database is dropped afterwards."""
    if pair == "local-sqlite":
        yield {
            "LAKE_WAREHOUSE": str(root / "warehouse"),
            "LAKE_CATALOG_URL": f"sqlite:///{root / 'catalog.db'}",
        }
        return
    if s3 is None:
        unavailable("the loopback S3 server (moto) could not start")
    if pg is None:
        unavailable("no PostgreSQL at 127.0.0.1:5432 and no pg_ctl to start one")
    database = pg.create_database(catalog=True)
    own = s3.with_new_bucket()
    try:
        yield {
            **own.env(),
            "LAKE_WAREHOUSE": f"s3://{own.bucket}/{uuid.uuid4().hex[:12]}",
            "LAKE_CATALOG_URL": pg.url(database),
        }
    finally:
        pg.drop_database_later(database)
