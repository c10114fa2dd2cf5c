"""Real source databases for the database-extract tests.

Each test session gets its own uniquely named PostgreSQL and MariaDB databases (dropped at the
end), plus Chinook loaded from tests/data/chinook into two more. PostgreSQL comes from the
suite's ``pg_server`` fixture (tests/conftest.py); MariaDB is the server at 127.0.0.1:3306
(user root, empty password) or TEST_MYSQL_HOST/PORT/USER. A missing server skips the
tests that need it, and fails them under CI=true (tests/backends.py).

The fixtures are registered for the whole suite (``pytest_plugins`` in tests/conftest.py);
import only the helpers (``unique``, ``SourceDb``...) from here.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.backends import unavailable

CHINOOK = Path(__file__).resolve().parents[2] / "data" / "chinook"
MYSQL_HOST = os.environ.get("TEST_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("TEST_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("TEST_MYSQL_USER", "root")

# Chinook's 11 tables and their row counts (ORIGIN.md), by the SQLite/MySQL spelling.
CHINOOK_COUNTS = {
    "Album": 347,
    "Artist": 275,
    "Customer": 59,
    "Employee": 8,
    "Genre": 25,
    "Invoice": 412,
    "InvoiceLine": 2240,
    "MediaType": 5,
    "Playlist": 18,
    "PlaylistTrack": 8715,
    "Track": 3503,
}


def pg_name(name: str) -> str:
    """Chinook's Postgres script spells names in snake_case: InvoiceLine -> invoice_line."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


@dataclass
class SourceDb:
    """One throwaway source database and a way to run SQL in it."""

    dialect: str  # "postgresql", "mysql" or "sqlite"
    url: str

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=sa.pool.NullPool)

    def run(self, *statements: str | tuple[str, Any]) -> None:
        """Execute statements (text, or (text, params)) in one committed transaction."""
        engine = self.engine()
        try:
            with engine.begin() as conn:
                for s in statements:
                    sql, params = (s, None) if isinstance(s, str) else s
                    conn.execute(sa.text(sql), params)
        finally:
            engine.dispose()

    def scalar(self, sql: str) -> Any:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql)).scalar()
        finally:
            engine.dispose()

    def quote(self, name: str) -> str:
        engine = self.engine()
        try:
            return engine.dialect.identifier_preparer.quote(name)
        finally:
            engine.dispose()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture(scope="session")
def pg_source(pg_server) -> Iterator[SourceDb]:
    """A fresh PostgreSQL database for this session."""
    if pg_server is None:
        unavailable("no PostgreSQL at 127.0.0.1:5432 and no pg_ctl to start one")
    name = pg_server.create_database()
    try:
        yield SourceDb("postgresql", pg_server.url(name))
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def chinook_pg(pg_server) -> Iterator[SourceDb]:
    """Chinook loaded from its Postgres script into a fresh database."""
    if pg_server is None:
        unavailable("no PostgreSQL at 127.0.0.1:5432 and no pg_ctl to start one")
    name = pg_server.create_database()
    try:
        script = (CHINOOK / "Chinook_PostgreSql.sql").read_text(encoding="utf-8")
        # The script makes and enters its own 'chinook' database: run the rest in ours.
        script = re.sub(r"(?im)^\s*(DROP DATABASE|CREATE DATABASE|\\c)\b.*$", "", script)
        import psycopg2

        conn = psycopg2.connect(
            host=pg_server.host, port=pg_server.port, user=pg_server.user, dbname=name
        )
        try:
            with conn, conn.cursor() as cur:
                cur.execute(script)
        finally:
            conn.close()
        yield SourceDb("postgresql", pg_server.url(name))
    finally:
        pg_server.drop_database(name)


# --------------------------------------------------------------------------------------------
# MariaDB / MySQL


def mysql_admin(database: str | None = None, **kwargs: Any) -> Any:
    import pymysql

    return pymysql.connect(
        host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password="", database=database,
        charset="utf8mb4", autocommit=True, **kwargs,
    )  # fmt: skip


@contextmanager
def _mysql_database() -> Iterator[str]:
    try:
        with socket.create_connection((MYSQL_HOST, MYSQL_PORT), timeout=1):
            pass
    except OSError:
        unavailable(f"no MariaDB/MySQL at {MYSQL_HOST}:{MYSQL_PORT}")
    name = unique("lake_test")
    admin = mysql_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def mysql_url(database: str, *, user: str = MYSQL_USER, password: str = "") -> str:
    auth = f"{user}:{password}" if password else user
    return f"mysql+pymysql://{auth}@{MYSQL_HOST}:{MYSQL_PORT}/{database}"


@pytest.fixture(scope="session")
def mysql_source() -> Iterator[SourceDb]:
    """A fresh MariaDB/MySQL database for this session."""
    with _mysql_database() as name:
        yield SourceDb("mysql", mysql_url(name))


@pytest.fixture(scope="session")
def chinook_mysql() -> Iterator[SourceDb]:
    """Chinook loaded from its MySQL script into a fresh database."""
    from pymysql.constants import CLIENT

    with _mysql_database() as name:
        script = (CHINOOK / "Chinook_MySql.sql").read_text(encoding="utf-8")
        script = re.sub(r"(?im)^\s*(DROP DATABASE|CREATE DATABASE|USE)\b.*$", "", script)
        conn = mysql_admin(name, client_flag=CLIENT.MULTI_STATEMENTS)
        try:
            with conn.cursor() as cur:
                cur.execute(script)
                while cur.nextset():
                    pass
        finally:
            conn.close()
        yield SourceDb("mysql", mysql_url(name))


# --------------------------------------------------------------------------------------------
# SQLite


@pytest.fixture(scope="session")
def sqlite_source(tmp_path_factory) -> SourceDb:
    """A fresh SQLite file for this session."""
    path = tmp_path_factory.mktemp("extract") / "source.db"
    import sqlite3

    sqlite3.connect(path).close()
    return SourceDb("sqlite", f"sqlite:///{path}")


@pytest.fixture(scope="session")
def chinook_sqlite() -> SourceDb:
    """Chinook's ready SQLite file (the extractor opens sources read-only)."""
    return SourceDb("sqlite", f"sqlite:///{CHINOOK / 'Chinook_Sqlite.sqlite'}")


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
def any_source(request) -> SourceDb:
    """Each of the three source dialects in turn."""
    fixture = {"postgresql": "pg_source", "mysql": "mysql_source", "sqlite": "sqlite_source"}
    return request.getfixturevalue(fixture[request.param])
