"""Whether the process a record names is provably gone: the one rule for the lake's runs
(``catalog.runs``, ``catalog.ledger``) and the writers' leases on S3 training-set prefixes
(``queries.outputs``).

A host name and a pid prove nothing: container replicas share host name patterns, two
containers can have the same host name and both run as pid 1, and pids are used again. A
record therefore names its process as the kernel knows it (:func:`this_process`):

* ``boot_id``: the running kernel's boot (``/proc/sys/kernel/random/boot_id``, a random
  UUID each boot): another machine, or this one restarted, has another;
* ``pid_namespace`` and ``time_namespace``: the inodes of ``/proc/self/ns/pid`` and
  ``/proc/self/ns/time``: a pid means something only in its pid namespace, and a start
  time only in its time namespace;
* ``pid`` and ``started``: the process and its start time (field 22 of
  ``/proc/PID/stat``, clock ticks since boot): a pid used again has another start time.

A record's process is **gone** (False) only when its boot and namespaces are this
process's own and no process has its pid, or the one that has it started at another time
(the pid was used again), or has ended (a zombie). It is **alive** (True) when that
process is there with that start time, or when it is there and its start time cannot be
read (another user's, under ``hidepid``). Anything else is **unknown** (None): another
machine or container, this machine restarted (on the same host name that cannot be told
from another machine with that name), a record without these fields (written by a lake
before them). The caller then waits for what does not depend on the process: a lease's
expiry, a claim's age.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

FIELDS = ("pid", "boot_id", "pid_namespace", "time_namespace", "started")
"""The keys of a record (:func:`this_process`)."""
_PLACE = ("boot_id", "pid_namespace", "time_namespace")


def this_process() -> dict[str, Any]:
    """This process as a record keeps it (the keys of :data:`FIELDS`; a value this system
    does not show is None)."""
    pid = os.getpid()
    return {"pid": pid, **_place(), "started": _started_self(pid)}


def alive(record: Mapping[str, Any] | None) -> bool | None:
    """Whether the process ``record`` names (a :func:`this_process` of some process, maybe
    inside a larger record) still lives: True, False (provably gone) or None (unknown);
    see the module's docstring."""
    record = record or {}
    pid, started = record.get("pid"), record.get("started")
    place = _place()
    if not isinstance(pid, int) or pid <= 0 or not isinstance(started, int):
        return None
    if place["boot_id"] is None or place["pid_namespace"] is None:
        return None  # no /proc here: nothing can be proved
    if any(record.get(key) != value for key, value in place.items()):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # there, another user's
    found = _stat(pid)
    if found is None:
        return True  # there, and its start time cannot be read
    state, now_started = found
    return now_started == started and state != "Z"


@functools.cache
def _place() -> dict[str, str | None]:
    """The boot and namespaces of this process (the same in a forked child: read once)."""
    return {
        "boot_id": _read("/proc/sys/kernel/random/boot_id"),
        "pid_namespace": _link("/proc/self/ns/pid"),
        "time_namespace": _link("/proc/self/ns/time"),
    }


@functools.cache
def _started_self(pid: int) -> int | None:
    """This process's start time (by pid: a forked child reads its own)."""
    found = _stat(pid)
    return found[1] if found is not None else None


def _stat(pid: int) -> tuple[str, int] | None:
    """The state and start time of process ``pid`` (None: not readable)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    # "PID (COMM) STATE ...": COMM may hold spaces and parentheses; the fields after the
    # last ")" are fields 3 on, the start time the 22nd.
    fields = text.rpartition(")")[2].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as file:
            return file.read().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


__all__ = ["FIELDS", "alive", "this_process"]
