"""The process that makes and drops one test process's throwaway PostgreSQL databases.

Run by :class:`tests.backends.PostgresServer` as ``python pg_databases.py HOST PORT USER``,
it answers one request per line on stdin, in order:

* ``take``: the name of a new, empty database (made ahead of the request), then makes the
  next.
* ``take-catalog``: the same, holding a new lake catalog: a copy of a template database that
  the lake's own first use made (once per process). Making the catalog's tables took each
  s3-postgres test 0.25-0.75 s of the test's own time (DDL synced to disk); the copy is made
  ahead, here. The tests of a catalog's creation ask for ``take``.
* ``drop NAME``: drops it, no answer; a failure is kept for ``close``.
* ``drop-now NAME``: drops it, answers ``ok`` or ``error: …``.
* ``close`` (or the end of stdin): drops the spares and the template, answers ``ok`` or the
  first failure.

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

    template: list[str] = []

    def catalog_template() -> str:
        if not template:
            from catalog.catalog import Catalog  # only a process asked for catalogs pays

            name = f"lake_test_template_{uuid.uuid4().hex[:12]}"
            run(f'CREATE DATABASE "{name}"')
            template.append(name)
            # The lake's own first use makes the catalog, as on any new database.
            Catalog(f"postgresql+psycopg2://{user}@{host}:{port}/{name}").close()
        return template[0]

    def make(kind: str) -> str:
        name = f"lake_test_{uuid.uuid4().hex[:16]}"
        copied = f' TEMPLATE "{catalog_template()}"' if kind == "take-catalog" else ""
        run(f'CREATE DATABASE "{name}"{copied}')
        return name

    def drop(name: str) -> None:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def answer(line: str) -> None:
        sys.stdout.write(line.replace("\n", " ") + "\n")
        sys.stdout.flush()

    failures: list[str] = []
    spares: dict[str, str] = {}
    for line in sys.stdin:
        request, _, name = line.strip().partition(" ")
        if request in ("take", "take-catalog"):
            try:
                answer(spares.pop(request, None) or make(request))
                spares[request] = make(request)
            except Exception as error:  # noqa: BLE001 - psycopg2's, or the catalog's
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
    for leftover in [*spares.values(), *template]:
        try:
            drop(leftover)
        except psycopg2.Error as error:
            failures.append(f"dropping {leftover}: {error}")
    answer(f"error: {failures[0]}" if failures else "ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
