"""The process that makes and drops one test process's throwaway PostgreSQL databases.

Run by :class:`tests.backends.PostgresServer` as ``python pg_databases.py HOST PORT USER``,
it answers one request per line on stdin, in order:

* ``take``: the name of a new, empty database (made ahead of the request), then makes the
  next.
* ``take-catalog``: the same, holding a new lake catalog: a copy of a template database that
  the lake's own first use made (once per process). Making the catalog's tables took each
  s3-postgres test 0.25-0.75 s of the test's own time (DDL synced to disk); the copy is made
  ahead, here. The tests of a catalog's creation ask for ``take``.
* ``drop NAME``: drops it in the background, no answer; a failure is kept for ``close``.
* ``drop-now NAME``: drops it, answers ``ok`` or ``error: …``.
* ``close`` (or the end of stdin): waits for the background drops, drops the spares and the
  template, answers ``ok`` or the first failure.

A drop is not made in the order of the requests: PostgreSQL 15's ``DROP DATABASE`` waits for
a checkpoint of the whole server (1-10 s on a loaded 2-core machine), and a ``take`` read
after a ``drop`` waited for it, so an s3-postgres test's set-up took the previous test's
drop (23 catalog tests: 119 s of set-up for 34 s of tests). Drops run on ``DROPPERS``
threads of this process, several at once (their checkpoints are shared), beside the takes.

Why a process and not a thread of the test process: libpq reads the environment
(``getenv``) while it connects, and the tests change it (``monkeypatch.setenv``) from the
main thread. glibc's ``setenv`` beside another thread's ``getenv`` is a use-after-free: a
worker segfaulted in ``psycopg2.connect`` (in CI, and in the next full run on the same
machine), and pytest-xdist's ``loadgroup`` never handed the dead worker's tests on, so the
run hung until CI stopped it.
"""

from __future__ import annotations

import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2

DROPPERS = 16
"""Drops at once, per test process: the drops waiting for one checkpoint share the next, so
the drops keep up with the tests only when many wait at once. With 4, 30 tests of 0.3 s
each left a backlog that the worker's last test waited for in ``close``: 61-66 s, 5-9 s with
16 (load 20); 16 drops took 25 s 4 at a time, 14-25 s 8 at a time, 3-6 s all at once. The
worst case is 16 connections a worker, of PostgreSQL's 100."""


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
    kept = threading.Lock()

    def drop_in_background(name: str) -> None:
        try:
            drop(name)
        except Exception as error:  # noqa: BLE001 - kept for close, as a drop's answer
            with kept:
                failures.append(f"dropping {name}: {error}")

    droppers = ThreadPoolExecutor(DROPPERS, thread_name_prefix="drop")
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
            droppers.submit(drop_in_background, name)
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
    for spare in spares.values():
        droppers.submit(drop_in_background, spare)
    droppers.shutdown(wait=True)
    for leftover in template:  # last: no copy of it is being made now
        drop_in_background(leftover)
    answer(f"error: {failures[0]}" if failures else "ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
