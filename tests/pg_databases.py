"""The process that makes and drops one test process's throwaway PostgreSQL databases.

Run by :class:`tests.backends.PostgresServer` as ``python pg_databases.py HOST PORT USER``,
it answers one request per line on stdin, in order:

* ``take``: the name of a new database (made ahead of the request), then makes the next.
* ``drop NAME``: drops it, no answer; a failure is kept for ``close``.
* ``drop-now NAME``: drops it, answers ``ok`` or ``error: …``.
* ``close`` (or the end of stdin): drops the spare, answers ``ok`` or the first failure.

Why a process and not a thread of the test process: libpq reads the environment
(``getenv``) while it connects, and the tests change it (``monkeypatch.setenv``) from the
main thread. glibc's ``setenv`` beside another thread's ``getenv`` is a use-after-free: a
worker segfaulted in ``psycopg2.connect`` (in CI, and in the next full run on the same
machine), and pytest-xdist's ``loadgroup`` never handed the dead worker's tests on, so the
run hung until CI stopped it.
"""

from __future__ import annotations

import sys
import uuid

import psycopg2


def main(host: str, port: str, user: str) -> None:
    def run(statement: str) -> None:
        connection = psycopg2.connect(host=host, port=port, user=user, dbname="postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def make() -> str:
        name = f"lake_test_{uuid.uuid4().hex[:16]}"
        run(f'CREATE DATABASE "{name}"')
        return name

    def drop(name: str) -> None:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def answer(line: str) -> None:
        sys.stdout.write(line.replace("\n", " ") + "\n")
        sys.stdout.flush()

    failures: list[str] = []
    spare: str | None = None
    for line in sys.stdin:
        request, _, name = line.strip().partition(" ")
        if request == "take":
            try:
                answer(spare or make())
                spare = make()
            except psycopg2.Error as error:
                spare = None
                answer(f"error: {error}")
        elif request == "drop":
            try:
                drop(name)
            except psycopg2.Error as error:
                failures.append(f"dropping {name}: {error}")
        elif request == "drop-now":
            try:
                drop(name)
                answer("ok")
            except psycopg2.Error as error:
                answer(f"error: dropping {name}: {error}")
        elif request == "close":
            break
        else:
            failures.append(f"unknown request {line!r}")
    if spare is not None:
        try:
            drop(spare)
        except psycopg2.Error as error:
            failures.append(f"dropping {spare}: {error}")
    answer(f"error: {failures[0]}" if failures else "ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
