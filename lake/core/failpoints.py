"""Named crash points: a test hook for the fault-injection suite (tests/faults), nothing more.

``LAKE_FAILPOINT=NAME`` makes the process kill itself with SIGKILL the first time it
reaches the point called ``NAME`` (no cleanup, no ``finally``: a machine dying there).
``LAKE_FAILPOINT=NAME:stop`` stops it with SIGSTOP instead, so a test can change the
world (take a server away) before it sends SIGCONT. ``NAME@N`` fires on the N-th visit.

The variable is read once, at import; unset, :func:`failpoint` is one comparison. The
points, in the order a write reaches them:

* ``prepare``: a write is about to prepare its commit in the catalog (a log ingest has
  planned and parsed its files; nothing of it is in the catalog's ledger yet);
* ``upload``: after each data file is copied into the table's location (before the commit);
* ``own_commit``: a small append has published its files and is about to write its own log
  entry (``lake.delta.store``; another writer may take that version meanwhile);
* ``compaction_commit``: a compaction has written its new files and is about to write its
  own log entry (``lake.delta.store``; other writers may commit meanwhile);
* ``merge``: a merge (upsert) has loaded the table and is about to merge into it;
* ``checkpoint``: an append's Delta checkpoint is about to be written, on the upkeep thread
  after the append returned (``lake.core.background``);
* ``after_delta_commit``: the Delta commit is made, the catalog has not recorded it;
* ``catalog_write``: inside the catalog transaction that records a version, before it commits;
* ``materialize_shards``: a training set's shards are written, nothing is registered;
* ``training_set_location_checked``: inside the transaction that registers a training set,
  its output folder found free, the version not yet inserted (``catalog.registry``);
* ``materialize_registered``: registered in the catalog, files not yet moved into place;
* ``materialize_upload``: on S3, every byte of a shard sent, its upload not yet completed
  (the lease is renewed next, then the upload completed: a writer stopped here until its
  lease expired never completes it);
* ``materialize_install``: shards moved into the output folder (on S3: uploaded, the prefix's
  lease held), the manifest not yet written.
* ``vacuum_delete``: a vacuum has read the pins and planned, holding the table's vacuum
  lease, and is about to delete files.
* ``files_listed``: ``lake ingest files`` has listed the files and read none of them.
* ``object_write``: ``lake ingest files`` has opened a file to store and read none of it
  (no object of it is written yet).
* ``ray_ingest_task``: a Ray task of ``lake ingest logs --engine ray`` has staged its file and
  copied it into the warehouse's staging folder, and is about to return.

``LAKE_FAILPOINT_ONCE=PATH`` makes a point fire only in the process that creates ``PATH``
first: a task that Ray retries in a fresh worker process then dies once, not on every try.
Processes the lake starts elsewhere (Ray tasks) get both variables from :func:`environment`.
"""

from __future__ import annotations

import os
import signal

VARIABLES = ("LAKE_FAILPOINT", "LAKE_FAILPOINT_ONCE")
_SPEC = os.environ.get("LAKE_FAILPOINT") or None
_ONCE = os.environ.get("LAKE_FAILPOINT_ONCE") or None
_visits: dict[str, int] = {}


def _parse(spec: str) -> tuple[str, int, str]:
    target, _, action = spec.partition(":")
    name, _, nth = target.partition("@")
    return name, int(nth) if nth else 1, action or "kill"


_ARMED = _parse(_SPEC) if _SPEC else None


def failpoint(name: str) -> None:
    """Die (or stop) here when ``LAKE_FAILPOINT`` names this point; else do nothing."""
    if _ARMED is None or _ARMED[0] != name:
        return
    _visits[name] = _visits.get(name, 0) + 1
    if _visits[name] != _ARMED[1]:
        return
    if _ONCE is not None:
        try:
            os.close(os.open(_ONCE, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return  # another process fired it already
    os.kill(os.getpid(), signal.SIGSTOP if _ARMED[2] == "stop" else signal.SIGKILL)


def environment() -> dict[str, str]:
    """The failpoint variables of this process's environment, for a process it starts on a
    cluster (empty when none is set)."""
    return {name: os.environ[name] for name in VARIABLES if os.environ.get(name)}
