"""Whether the process a record names is provably gone: the one rule for the lake's runs
(``catalog.runs``, ``catalog.ledger``) and the writers' leases on S3 training-set prefixes
(``queries.outputs``).

A host name and a pid prove nothing: container replicas share host name patterns, two
containers can have the same host name and both run as pid 1, and pids are used again. A
record therefore names its process as the kernel knows it (:func:`this_process`):

* ``boot_id``: the running kernel's boot (``/proc/sys/kernel/random/boot_id``, a random
  UUID each boot): another machine, or this one restarted, has another; containers share
  their machine's;
* ``pid_namespace`` and ``time_namespace``: the inodes of ``/proc/self/ns/pid`` and
  ``/proc/self/ns/time``: a pid means something only in its pid namespace, and a start
  time only in its time namespace;
* ``pid`` and ``started``: the process and its start time (field 22 of
  ``/proc/PID/stat``, clock ticks since boot): a pid used again has another start time;
* ``machine_id``, ``host`` and ``boot_time``: a keyed hash of ``/etc/machine-id`` (made
  once when the system is installed, kept across boots), the host name, and the boot's
  wall-clock time (``btime`` of ``/proc/stat``): what tells this machine restarted from
  another machine.

A record's process is **gone** (False) when

* its boot and namespaces are this process's own and no process has its pid, or the one
  that has it started at another time (the pid was used again), or has ended (a zombie);
* or it ran on this machine before it last started: its machine id and host name are
  ours, its boot is not, both it and this process are in the machine's initial pid
  namespace (``pid:[4026531836]`` on every Linux: not in a container) and in one time
  namespace, and it started (its boot's time plus its start time) before this boot began.
  No process outlives the boot it ran in: a run interrupted by a reboot or a power cut is
  reaped, a lease or a claim of it let go.

It is **alive** (True) when that process is there with that start time, or when it is
there and its start time cannot be read (another user's, under ``hidepid``). Anything else
is **unknown** (None), and the caller waits for what does not depend on the process (a
lease's expiry, a claim's age): another machine (another machine id or host name); a
process of another boot that started after this boot began (no earlier boot of this
machine held it: it is another machine's, with our id and name); a process in a container
(its machine id is its image's, the same in every container of it on every machine, and
its boot id its machine's: a container restarted gets another pid namespace, and its runs
are left running); a record without these fields (written by a lake before them).

A POSIX system without ``/proc`` (macOS, the BSDs) shows none of these: there a record of
this host name, written on such a system, is gone when no process has its pid, and alive
otherwise (a pid used again keeps a dead run running, the safe side).

What the rule trusts: a machine id unique to its machine, as ``machine-id(5)`` requires.
A virtual machine cloned without a new one (``virt-sysprep``, or an image shipped with an
empty ``/etc/machine-id``, makes one) that kept its host name too, or a container with
its image's machine id in the machine's pid namespace (``--pid=host``) under the host
name of another such machine, is taken for that machine restarted: a process there that
started before this machine's boot is taken for gone while it may run.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import socket
from collections.abc import Mapping
from typing import Any

FIELDS = (
    "pid",
    "host",
    "machine_id",
    "boot_id",
    "boot_time",
    "pid_namespace",
    "time_namespace",
    "started",
)
"""The keys of a record (:func:`this_process`)."""
INITIAL_PID_NAMESPACE = "pid:[4026531836]"
"""``/proc/self/ns/pid`` of a machine's own processes (the kernel's ``PROC_PID_INIT_INO``,
the same on every Linux); a container with a pid namespace of its own has another."""
_PLACE = ("boot_id", "pid_namespace", "time_namespace")
_APPLICATION = b"lake.core.processes"


def this_process() -> dict[str, Any]:
    """This process as a record keeps it (the keys of :data:`FIELDS`; a value this system
    does not show is None)."""
    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "machine_id": _machine_id(),
        **_place(),
        "boot_time": _boot_time_once(),
        "started": _started_self(pid),
    }


def alive(record: Mapping[str, Any] | None) -> bool | None:
    """Whether the process ``record`` names (a :func:`this_process` of some process, maybe
    inside a larger record) still lives: True, False (provably gone) or None (unknown);
    see the module's docstring."""
    record = record or {}
    pid, started = record.get("pid"), record.get("started")
    place = _place()
    if not isinstance(pid, int) or pid <= 0:
        return None
    if place["boot_id"] is None or place["pid_namespace"] is None:
        return _by_pid_alone(record, pid)
    if not isinstance(started, int):
        return None
    if record.get("boot_id") != place["boot_id"]:
        return False if _of_an_earlier_boot_here(record, started) else None
    if any(record.get(key) != value for key, value in place.items()):
        return None
    if not _pid_taken(pid):
        return False
    found = _stat(pid)
    if found is None:
        return True  # there, and its start time cannot be read
    state, now_started = found
    return now_started == started and state != "Z"


def _by_pid_alone(record: Mapping[str, Any], pid: int) -> bool | None:
    """On a POSIX system without ``/proc`` (macOS, the BSDs), which has no containers of its
    own: a process of this host name written by a system like this one is gone when no
    process has its pid (a pid used again leaves it alive: the safe side). Left unreaped,
    a laptop's run killed or cut by a restart stayed ``running`` for ever."""
    if os.name != "posix" or record.get("boot_id") is not None:
        return None  # Windows' os.kill(pid, 0) is a CTRL_C_EVENT; a Linux record
    if record.get("host") != socket.gethostname():
        return None
    return _pid_taken(pid)


def _pid_taken(pid: int) -> bool:
    """Whether some process of this pid namespace has ``pid`` (another user's too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # there, another user's
    return True


def _of_an_earlier_boot_here(record: Mapping[str, Any], started: int) -> bool:
    """Whether ``record`` (of another boot) names a process of this machine that started
    before this boot began (the second case of **gone** in the module's docstring)."""
    place = _place()
    machine_id, boot_time = record.get("machine_id"), record.get("boot_time")
    if machine_id is None or machine_id != _machine_id():
        return False
    if record.get("host") != socket.gethostname() or not isinstance(boot_time, int):
        return False
    if not record.get("pid_namespace") == place["pid_namespace"] == INITIAL_PID_NAMESPACE:
        return False
    if record.get("time_namespace") != place["time_namespace"]:
        return False
    now_boot = _boot_time()  # read again: a clock set after start-up moves it
    if now_boot is None:
        return False
    return boot_time + started / os.sysconf("SC_CLK_TCK") < now_boot


@functools.cache
def _place() -> dict[str, str | None]:
    """The boot and namespaces of this process (the same in a forked child: read once)."""
    return {
        "boot_id": _read("/proc/sys/kernel/random/boot_id"),
        "pid_namespace": _link("/proc/self/ns/pid"),
        "time_namespace": _link("/proc/self/ns/time"),
    }


@functools.cache
def _machine_id() -> str | None:
    """This machine's id as records keep it: not ``/etc/machine-id`` itself, which
    ``machine-id(5)`` asks never to expose (the catalog and the leases are shared), but a
    keyed hash of it for the lake alone, as ``sd_id128_get_machine_app_specific`` makes
    (None when it is absent, empty or not yet made: "uninitialized")."""
    found = _read("/etc/machine-id")
    if found is None or found == "uninitialized":
        return None
    return hmac.new(found.encode("ascii"), _APPLICATION, hashlib.sha256).hexdigest()[:32]


def _boot_time() -> int | None:
    """The wall-clock time this machine booted (``btime`` of ``/proc/stat``, seconds since
    the epoch); it moves when the clock is set."""
    text = _read("/proc/stat")
    for line in (text or "").splitlines():
        if line.startswith("btime "):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


@functools.cache
def _boot_time_once() -> int | None:
    """:func:`_boot_time` for this process's records, read once: reading ``/proc/stat``
    took 0.1 ms (a line per CPU), and a run is recorded on every write."""
    return _boot_time()


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


__all__ = ["FIELDS", "INITIAL_PID_NAMESPACE", "alive", "this_process"]
