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


def test_a_database_taken_with_a_catalog_holds_a_new_one_and_an_empty_one_nothing(pg_server):
    # Most s3-postgres tests start on a copy of a catalog the lake's first use made (made
    # ahead); the tests of that first use get an empty database.
    from catalog.catalog import Catalog

    if pg_server is None:
        unavailable("no PostgreSQL server answers and none could be started")
    server = PostgresServer(pg_server.host, pg_server.port, pg_server.user)
    try:
        with_catalog, empty = server.create_database(catalog=True), server.create_database()
        opened = Catalog(server.url(with_catalog))
        assert opened.migration == "current" and opened.list_tables() == []
        opened.close()
        opened = Catalog(server.url(empty))
        assert opened.migration == "created"
        opened.close()
    finally:
        server.close()
    assert {with_catalog, empty} <= _databases(server)  # the test's own: taken, not dropped
    for name in (with_catalog, empty):  # behind, as every test's: nothing here waits for it
        pg_server.drop_database_later(name)


def test_a_database_is_taken_while_the_drop_of_another_cannot_finish(pg_server):
    """PostgreSQL 15's ``DROP DATABASE`` waits for a checkpoint of the whole server (1-10 s
    on a loaded machine), and a ``take`` asked after a ``drop`` waited for it: every
    s3-postgres test's set-up took the drop of the test before it. Here the drop waits for
    a lock this test holds (a comment on the database, not yet committed): the take is
    answered all the same, the lock still held."""
    if pg_server is None:
        unavailable("no PostgreSQL server answers and none could be started")
    server = PostgresServer(pg_server.host, pg_server.port, pg_server.user)
    held = server.admin()
    try:
        dropped = server.create_database()
        with held.cursor() as cursor:
            # Bounds the hang of the test failing: the server ends the holder's session.
            cursor.execute("SET idle_in_transaction_session_timeout = '60s'")
            held.autocommit = False
            cursor.execute(f'COMMENT ON DATABASE "{dropped}" IS %s', ("held by a test",))
        server.drop_database_later(dropped)
        taken = server.create_database()
        with held.cursor() as cursor:  # the holder's session and its lock are still there
            cursor.execute("SELECT 1")
        assert {dropped, taken} <= _databases(server)
        held.rollback()
        server.drop_database_later(taken)
    finally:
        held.close()
        server.close()
    assert not {dropped, taken} & _databases(server)
