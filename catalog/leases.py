"""Leases: an exclusive right, held by one process for a while, taken in the catalog.

A lease is a row named for what it guards (``compact:<table id>``). Taking it is an insert,
or, when the row has expired, a compare-and-swap on its expiry: exactly one of any number of
processes racing for it wins, on SQLite and PostgreSQL alike. A holder that dies keeps it
only until it expires.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, insert, select, update

from catalog.connection import Connection, CoreConnection
from catalog.definitions import LEASES, utcnow
from catalog.exceptions import LeaseHeld
from lake.core.errors import CommitConflict


def take(db: Connection, name: str, *, holder: str, seconds: float) -> bool:
    """Take lease ``name`` for ``seconds``; False when another holder has it."""

    def work(conn: CoreConnection) -> bool:
        now = utcnow()
        expires = now + timedelta(seconds=seconds)
        row = conn.execute(
            select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == name)
        ).first()
        if row is None:
            conn.execute(
                insert(LEASES).values(name=name, holder=holder, acquired_at=now, expires_at=expires)
            )
            return True
        if row.holder != holder and row.expires_at > now:
            return False
        taken = conn.execute(
            update(LEASES)
            .where(LEASES.c.name == name, LEASES.c.expires_at == row.expires_at)
            .values(holder=holder, acquired_at=now, expires_at=expires)
        )
        return taken.rowcount == 1

    try:
        return db.core_transaction(work)
    except CommitConflict:  # another process inserted or took it at the same moment
        return False


def give_back(db: Connection, name: str, *, holder: str) -> None:
    db.core_transaction(
        lambda conn: conn.execute(
            delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder)
        )
    )


def holder_of(db: Connection, name: str) -> str | None:
    """Who holds lease ``name`` now (None: nobody, or it expired)."""

    def work(conn: CoreConnection) -> str | None:
        row = conn.execute(
            select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == name)
        ).first()
        if row is None or row.expires_at <= utcnow():
            return None
        return row.holder

    return db.core_transaction(work)


@contextmanager
def lease(
    db: Connection, name: str, *, seconds: float, what: str, wait_s: float = 0.0
) -> Iterator[None]:
    """Hold lease ``name`` for the block, waiting up to ``wait_s`` for its holder to finish.

    Raises:
        LeaseHeld: another process holds it; ``what`` names the work, for the message.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + wait_s
    pause = 0.05
    while not take(db, name, holder=holder, seconds=seconds):
        if time.monotonic() + pause > deadline:
            raise LeaseHeld(
                f"Another process is already {what} ({holder_of(db, name) or 'finishing'}); "
                "try again when it is done."
            )
        time.sleep(pause)  # waiting for another process to give the lease back
        pause = min(pause * 2, 1.0)
    try:
        yield
    finally:
        give_back(db, name, holder=holder)
