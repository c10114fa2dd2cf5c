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

from sqlalchemy import delete, select, update

from catalog import models as m
from catalog.connection import Connection
from catalog.exceptions import LeaseHeld
from lake.core.errors import CommitConflict


def take(db: Connection, name: str, *, holder: str, seconds: float) -> bool:
    """Take lease ``name`` for ``seconds``; False when another holder has it."""

    def work(session) -> bool:  # noqa: ANN001
        now = m.utcnow()
        expires = now + timedelta(seconds=seconds)
        row = session.get(m.Lease, name)
        if row is None:
            session.add(m.Lease(name=name, holder=holder, acquired_at=now, expires_at=expires))
            session.flush()
            return True
        if row.holder != holder and row.expires_at > now:
            return False
        taken = session.execute(
            update(m.Lease)
            .where(m.Lease.name == name, m.Lease.expires_at == row.expires_at)
            .values(holder=holder, acquired_at=now, expires_at=expires)
        )
        return taken.rowcount == 1

    try:
        return db.transaction(work)
    except CommitConflict:  # another process inserted or took it at the same moment
        return False


def give_back(db: Connection, name: str, *, holder: str) -> None:
    db.transaction(
        lambda session: session.execute(
            delete(m.Lease).where(m.Lease.name == name, m.Lease.holder == holder)
        )
    )


def holder_of(db: Connection, name: str) -> str | None:
    """Who holds lease ``name`` now (None: nobody, or it expired)."""

    def work(session) -> str | None:  # noqa: ANN001
        row = session.scalar(select(m.Lease).where(m.Lease.name == name))
        if row is None or row.expires_at <= m.utcnow():
            return None
        return row.holder

    return db.transaction(work)


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
