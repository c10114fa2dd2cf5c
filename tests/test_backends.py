"""The suite's own PostgreSQL databases (tests/backends.py, tests/pg_databases.py)."""

from __future__ import annotations

import threading

from tests.backends import PostgresServer, unavailable


def _databases(server: PostgresServer) -> set[str]:
    connection = server.admin()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'lake_test_%'")
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def test_test_databases_are_made_and_dropped_by_no_thread_of_the_test_process(pg_server):
    # libpq reads the environment as it connects and the tests change it from the main
    # thread: a thread of this process that connected beside them segfaulted xdist workers.
    if pg_server is None:
        unavailable("no PostgreSQL server answers and none could be started")
    server = PostgresServer(pg_server.host, pg_server.port, pg_server.user)
    threads = set(threading.enumerate())
    try:
        later, now = server.create_database(), server.create_database()
        assert {later, now} <= _databases(server)
        server.drop_database_later(later)
        server.drop_database(now)
        assert now not in _databases(server)
        assert set(threading.enumerate()) <= threads
    finally:
        server.close()
    assert not {later, now} & _databases(server)
