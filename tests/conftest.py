"""Fixtures: every behaviour test runs on each backend pair.

``local-sqlite``: a warehouse folder in tmp_path and a SQLite catalog file.
``s3-postgres``: a prefix in a bucket of the test's own on a loopback S3 server and a fresh
PostgreSQL database.

Tests get a lake through ``lk`` (the Python API) and ``cli`` (the command line, run
in-process with the same environment); both see the same configuration, set in the
environment exactly as a user would set it.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.backends import PostgresServer, S3Server, start_postgres, start_s3, unavailable

pytest_plugins = ["tests.ingest.db.fixtures", "tests.ray_cluster", "tests.scheduling"]

BACKENDS = ["local-sqlite", "s3-postgres"]
DATA = Path(__file__).parent / "data"

TEST_KNOBS = "LAKE_TEST_"
"""Settings of the tests themselves (``LAKE_TEST_PG_PORT``, ``LAKE_TEST_FUZZ_EXAMPLES``): kept,
as a test module reads them when it is imported, after this file has run."""

# Nothing a test does may read the developer's own settings.
for _name in list(os.environ):
    if (_name.startswith("LAKE_") and not _name.startswith(TEST_KNOBS)) or _name.startswith("AWS_"):
        os.environ.pop(_name)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server | None]:
    # Only a failure to start is an unavailable backend: one in the server's teardown, after
    # the tests, once made this fixture yield a second time (a pytest error of its own).
    with contextlib.ExitStack() as stack:
        try:
            server: S3Server | None = stack.enter_context(start_s3())
        except Exception as error:  # noqa: BLE001 - reported as an unavailable backend
            print(f"loopback S3 server could not start: {error}")
            server = None
        yield server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer | None]:
    with start_postgres() as server:
        yield server


@dataclass
class Backend:
    name: str
    warehouse: str
    catalog_url: str
    env: dict[str, str] = field(default_factory=dict)
    s3: S3Server | None = None
    pg: PostgresServer | None = None
    database: str | None = None

    @property
    def secrets(self) -> list[str]:
        return [v for k, v in self.env.items() if k == "AWS_SECRET_ACCESS_KEY"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, monkeypatch, s3_server, pg_server) -> Iterator[Backend]:
    """A fresh, empty lake configuration on one backend pair, set in the environment."""
    monkeypatch.chdir(tmp_path)
    if request.param == "local-sqlite":
        chosen = Backend(
            name=request.param,
            warehouse=str(tmp_path / "warehouse"),
            catalog_url=f"sqlite:///{tmp_path / 'catalog.db'}",
        )
    else:
        if s3_server is None:
            unavailable("the loopback S3 server (moto) could not start")
        if pg_server is None:
            unavailable("no PostgreSQL at 127.0.0.1:5432 and no pg_ctl to start one")
        # A new catalog already made (see tests/pg_databases.py), unless the test is about
        # making one.
        empty = request.node.get_closest_marker("empty_catalog_database") is not None
        database = pg_server.create_database(catalog=not empty)
        s3 = s3_server.with_new_bucket()  # see S3Server.with_new_bucket
        chosen = Backend(
            name=request.param,
            warehouse=f"s3://{s3.bucket}/{uuid.uuid4().hex[:12]}",
            catalog_url=pg_server.url(database),
            env=s3.env(),
            s3=s3,
            pg=pg_server,
            database=database,
        )
    chosen.env.update({"LAKE_WAREHOUSE": chosen.warehouse, "LAKE_CATALOG_URL": chosen.catalog_url})
    for key, value in chosen.env.items():
        monkeypatch.setenv(key, value)
    yield chosen
    if chosen.database and chosen.pg:
        chosen.pg.drop_database_later(chosen.database)


@pytest.fixture
def lk(backend):
    """The Python API on the test's backend pair."""
    import lake

    with lake.connect() as connected:
        yield connected


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self):
        import json

        return json.loads(self.stdout)


@pytest.fixture
def cli(backend):
    """Run ``lake ...`` in-process, with the backend's environment."""
    return run_cli


def run_cli(*args: str, input: str | None = None) -> CliResult:
    from typer.testing import CliRunner

    from lake.faces.cli import app

    argv = list(args) if len(args) != 1 or " " not in args[0] else shlex.split(args[0])
    result = CliRunner().invoke(app, argv, input=input, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)
