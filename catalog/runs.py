"""Runs: one execution of a job (an ingest, an extract, a write, a materialization...).

A run is recorded ``running`` when it starts, with who ran it where (user, host, process
id, the lake's version) and the dataset versions it reads (``catalog.edges``). It ends
``completed`` or ``failed``: by :func:`finish_run`, or completed by the recording of the
commit it made (``catalog.recording``), whatever its status then. A run whose process
died never ends by itself: :func:`reap_dead_runs` marks failed the runs of this host
whose process is provably gone (:mod:`lake.core.processes`, the record of the process kept
in the run's stats).
"""

from __future__ import annotations

import functools
import getpass
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from catalog.connection import Connection, CoreConnection
from catalog.definitions import RUNS, jsonable, utcnow
from catalog.edges import SourceRef, add_edges
from catalog.exceptions import RunNotFound
from catalog.records import RECORDED_KEY, RunCursor, RunInfo
from lake.core.names import TableVersion
from lake.core.processes import alive, this_process


def start_run(
    db: Connection,
    *,
    kind: str,
    job: str,
    parameters: Mapping[str, Any],
    inputs: Sequence[SourceRef | TableVersion] = (),
    run_id: str | None = None,
    code_version: str | None = None,
) -> str:
    """Record a run as running, with the dataset versions it reads; returns its id (a new
    UUID unless ``run_id`` is given). Reaps this host's dead runs first. ``code_version``
    is what the run's code was (a training job's commit); the lake's own version otherwise.

    Raises:
        VersionNotFound: an input table version is not recorded.
        CommitConflict: a run with ``run_id`` exists already.
    """
    run_id = run_id or str(uuid.uuid4())

    def work(conn: CoreConnection) -> str:
        reap_in(conn)  # in the same transaction: one round of the catalog fewer per write
        add_run(conn, run_id, kind=kind, job=job, parameters=parameters, code_version=code_version)
        add_edges(conn, run_id, "input", inputs)
        return run_id

    db.core_transaction(work)
    return run_id


def reap_dead_runs(db: Connection) -> list[str]:
    """Mark failed the runs of this host whose process is provably gone (killed, or this
    machine restarted since: see :func:`lake.core.processes.alive`), so no run stays
    ``running`` forever; returns their ids.

    Safe against a commit such a run did make: recording it (``lake.landing.sync``) completes
    the run whatever its status. Runs of other hosts and other containers are left alone:
    their processes cannot be checked from here.
    """
    return db.core_transaction(reap_in)


def add_run(
    conn: CoreConnection,
    run_id: str,
    *,
    kind: str,
    job: str,
    parameters: Mapping[str, Any],
    code_version: str | None = None,
) -> None:
    """Enter the run as running, in the caller's transaction (see :func:`start_run`)."""
    conn.execute(
        _INSERT_RUN,
        {
            "id": run_id,
            "kind": kind,
            "job": job,
            "status": "running",
            "parameters": jsonable(parameters),
            "user": _user(),
            "host": socket.gethostname(),
            "code_version": code_version or _code_version(),
            "stats": this_process(),
        },
    )


# The statements of every write, built once: a statement built per call (``.values(...)``,
# ``== value``) had SQLAlchemy walk it for its cache key each time, 0.08-0.1 ms of CPU a
# statement here; these are walked once and take their values as parameters.
_INSERT_RUN = insert(RUNS)
_RUNNING_HERE = select(RUNS.c.id, RUNS.c.stats).where(
    RUNS.c.status == "running", RUNS.c.host == bindparam("b_host")
)
_COMPLETE_RUN = (
    update(RUNS)
    .where(RUNS.c.id == bindparam("b_id"))
    .values(
        stats=bindparam("b_stats", type_=RUNS.c.stats.type),
        status="completed",
        ended_at=bindparam("b_ended_at", type_=RUNS.c.ended_at.type),
        error=None,
    )
)


def reap_in(conn: CoreConnection) -> list[str]:
    """:func:`reap_dead_runs` inside a transaction of the caller's."""
    host = socket.gethostname()
    reaped = []
    running = conn.execute(_RUNNING_HERE, {"b_host": host})
    for run_id, stats in running.all():
        pid = (stats or {}).get("pid")
        if alive(stats) is False:
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id)
                .values(
                    status="failed",
                    ended_at=utcnow(),
                    error=(
                        f"The process (pid {pid} on {host}) ended before the run finished (killed, "
                        f"or the machine restarted); "
                        f"nothing it had not committed is visible. Run the command again."
                    ),
                )
            )
            reaped.append(run_id)
    return reaped


def finish_run(
    db: Connection,
    run_id: str,
    *,
    status: str,
    error: str | None = None,
    stats: Mapping[str, Any] | None = None,
) -> bool:
    """End a run as ``status`` (``completed`` or ``failed``) with its error and more stats;
    returns whether the run's status changed (so its end is announced once).

    A run that has ended already keeps its status, error and end time, except that
    ``completed`` always applies (a run reaped as failed whose commit did land); an unknown
    run is ignored.
    """

    def work(conn: CoreConnection) -> bool:
        run = conn.execute(select(RUNS.c.status, RUNS.c.stats).where(RUNS.c.id == run_id)).first()
        if run is None:
            return False
        values: dict[str, Any] = {}
        if stats:
            values["stats"] = {**(run.stats or {}), **jsonable(stats)}
        changed = False
        if run.status == "running" or status == "completed":
            changed = run.status != status
            values.update(status=status, ended_at=utcnow(), error=error)
        if values:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(values))
        return changed

    return db.core_transaction(work)


def complete_run(
    conn: CoreConnection,
    run_id: str,
    stats: Mapping[str, Any] | None,
    ended_at: datetime | None,
    version: int,
    *,
    recorded_by: str | None = None,
) -> None:
    """Complete the run (in the caller's transaction) whose row held ``stats`` and ``ended_at``:
    it committed ``version``; ``recorded_by`` names the call that recorded it (kept under
    :data:`RECORDED_KEY`, see ``catalog.recording.record_commit``)."""
    kept = dict(stats or {})
    kept.pop("pending", None)
    kept["version"] = version
    if recorded_by is not None:
        kept[RECORDED_KEY] = recorded_by
    conn.execute(
        _COMPLETE_RUN, {"b_id": run_id, "b_stats": kept, "b_ended_at": ended_at or utcnow()}
    )


SHORTEST_RUN_PREFIX = 6
"""The fewest leading characters of a run id that name the run, as tables show them (like
git's abbreviated commits): ``lake runs --id 3f2a9c1b``."""


def get_run(db: Connection, run_id: str) -> RunInfo:
    """The run with this id, or the one run whose id starts with it (at least
    :data:`SHORTEST_RUN_PREFIX` characters).

    Raises:
        RunNotFound: no run has this id, or a prefix names more than one.
    """

    def work(conn: CoreConnection) -> RunInfo:
        row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
        if row is None and len(run_id) >= SHORTEST_RUN_PREFIX and "%" not in run_id:
            found = conn.execute(
                select(RUNS).where(RUNS.c.id.startswith(run_id, autoescape=True)).limit(2)
            ).all()
            if len(found) > 1:
                raise RunNotFound(run_id, ambiguous=True)
            row = found[0] if found else None
        if row is None:
            raise RunNotFound(run_id)
        return run_info(row)

    return db.core_transaction(work)


def list_runs(
    db: Connection,
    *,
    limit: int = 100,
    offset: int = 0,
    kind: str | None = None,
    after: RunCursor | None = None,
    before: RunCursor | None = None,
) -> list[RunInfo]:
    """Runs, the latest started first, then by id (of one ``kind``, when given): skipping
    ``offset``, or the ``limit`` runs just after ``after`` (older) or just before ``before``
    (newer) in that order, still listed latest first. A cursor is a run's key, so runs added
    meanwhile shift nothing: a page after a cursor holds the same runs however many start."""
    key = (RUNS.c.started_at, RUNS.c.id)

    def work(conn: CoreConnection) -> list[RunInfo]:
        query = select(RUNS)
        if kind:
            query = query.where(RUNS.c.kind == kind)
        if before is not None:
            query = query.where(
                (key[0] > before.started_at)
                | ((key[0] == before.started_at) & (key[1] < before.run_id))
            ).order_by(key[0], key[1].desc())
            return [run_info(r) for r in conn.execute(query.limit(limit))][::-1]
        if after is not None:
            query = query.where(
                (key[0] < after.started_at)
                | ((key[0] == after.started_at) & (key[1] > after.run_id))
            )
        query = query.order_by(key[0].desc(), key[1])
        return [run_info(r) for r in conn.execute(query.limit(limit).offset(offset))]

    return db.core_transaction(work)


def run_info(row: Any) -> RunInfo:
    """What the catalog hands out for a run's row (an ORM ``Run`` or a Core row of its
    columns)."""
    return RunInfo(
        id=row.id,
        kind=row.kind,
        job=row.job,
        status=row.status,
        started_at=row.started_at,
        ended_at=row.ended_at,
        parameters=dict(row.parameters or {}),
        user=row.user,
        host=row.host,
        code_version=row.code_version,
        error=row.error,
        stats=dict(row.stats or {}),
    )


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER")


@functools.cache
def _code_version() -> str | None:
    """Read once a process: reading the installed package's metadata took 1.8 ms, 6% of a
    100-row append."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"lake {version('lake')}"
    except PackageNotFoundError:
        return None


__all__ = [
    "RUNS",
    "RunInfo",
    "add_run",
    "finish_run",
    "get_run",
    "list_runs",
    "complete_run",
    "reap_dead_runs",
    "reap_in",
    "run_info",
    "start_run",
]
