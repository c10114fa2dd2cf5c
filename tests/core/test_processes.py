"""What proves the process a run or a lease names is gone (``lake.core.processes``): real
processes of this machine, and records as another machine or container, or this machine
before it restarted, leaves them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from lake.core.processes import FIELDS, INITIAL_PID_NAMESPACE, alive, this_process
from tests.boots import earlier_boot

DAY = 86400


@pytest.fixture
def here() -> dict:
    """This process's record, on a machine where an earlier boot can be proved: a process
    of the machine itself (not in a container) with a machine id."""
    record = this_process()
    if record["pid_namespace"] != INITIAL_PID_NAMESPACE or record["machine_id"] is None:
        pytest.skip("not a process of the machine itself, or no /etc/machine-id")
    return record


def _before_this_boot(record: dict, **changes: object) -> dict:
    """``record`` as a boot of this machine before this one left it."""
    return {**record, **earlier_boot(record), **changes}


def _record_of_a_process_that_exited() -> dict:
    """The record a child made of itself before it exited (the state a kill -9 leaves)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from lake.core.processes import this_process; "
            "print(json.dumps(this_process()))",
        ],
        text=True,
        capture_output=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_this_process_is_alive_and_its_record_names_every_field():
    record = this_process()
    assert sorted(record) == sorted(FIELDS)
    assert isinstance(record["started"], int) and record["boot_id"]
    with open("/proc/stat", encoding="ascii") as stat:
        btime = next(int(line.split()[1]) for line in stat if line.startswith("btime "))
    assert record["boot_time"] == btime
    assert alive(record) is True


def test_the_machine_id_is_kept_as_a_hash_never_as_it_is():
    """machine-id(5): the id is confidential; the catalog and the S3 leases are shared."""
    with open("/etc/machine-id", encoding="ascii") as file:
        machine_id = file.read().strip()
    record = this_process()
    assert len(record["machine_id"]) == 32 and machine_id not in json.dumps(record)


def test_a_process_of_an_earlier_boot_of_this_machine_is_gone_even_with_its_pid_alive_now(here):
    """A run interrupted by a reboot or a power cut: its pid is held now (by this process,
    at its very start time), which proves nothing of another boot. It was unknown, so the
    run stayed running for ever and its claims held for 24 hours."""
    assert alive(_before_this_boot(here)) is False
    assert alive(_before_this_boot(_record_of_a_process_that_exited())) is False


def test_a_process_that_started_after_this_boot_is_of_another_machine_whatever_its_ids():
    """A clone or a container with this machine's id and host name and another boot: a
    process started after this boot began cannot be of an earlier one of this machine."""
    record = this_process()
    hz = os.sysconf("SC_CLK_TCK")
    other = {**record, "boot_id": str(uuid.uuid4()), "boot_time": record["boot_time"] - 10}
    assert alive({**other, "started": 11 * hz}) is None
    assert alive({**other, "boot_time": record["boot_time"] + 60, "started": 1}) is None
    if record["pid_namespace"] == INITIAL_PID_NAMESPACE and record["machine_id"] is not None:
        # The same record a second before this boot: this machine's, gone.
        assert alive({**other, "started": 9 * hz}) is False


def test_a_process_of_another_boot_elsewhere_is_unknown_however_long_ago(here):
    """Another machine (another machine id, another host name), a container (its pid
    namespace; its machine id is its image's), a time namespace of its own, or a record
    without a machine id or a boot time (written before them): no proof of this machine."""
    before = _before_this_boot(here)
    assert alive({**before, "machine_id": uuid.uuid4().hex}) is None
    assert alive({**before, "host": "elsewhere"}) is None
    assert alive({**before, "pid_namespace": "pid:[4026532001]"}) is None
    assert alive({**before, "time_namespace": "time:[4026532002]"}) is None
    assert alive({**before, "machine_id": None}) is None
    assert alive({**before, "boot_time": None}) is None
    assert alive({key: value for key, value in before.items() if key != "boot_time"}) is None


def test_a_process_of_this_machine_and_namespace_that_exited_is_gone():
    assert alive(_record_of_a_process_that_exited()) is False


def test_a_pid_used_again_by_a_process_started_later_is_gone():
    """The record's pid is held now (by this process), but by one started at another time."""
    record = this_process()
    assert alive({**record, "started": record["started"] - 1}) is False


def test_a_process_of_another_machine_or_container_with_this_host_name_is_unknown():
    """Same host name and a pid that is not here prove nothing: another boot (another
    machine, or this one before it restarted) or another pid namespace."""
    gone = _record_of_a_process_that_exited()
    assert alive({**gone, "boot_id": str(uuid.uuid4())}) is None
    assert alive({**gone, "pid_namespace": "pid:[1]"}) is None
    assert alive({**gone, "time_namespace": "time:[1]"}) is None


def test_a_record_without_a_start_time_is_unknown_whatever_its_pid():
    """A record of a lake before these fields (host and pid only)."""
    gone = _record_of_a_process_that_exited()
    assert alive({"pid": gone["pid"]}) is None
    assert alive({"pid": gone["pid"], "pid_namespace": gone["pid_namespace"]}) is None
    assert alive(None) is None


def test_without_proc_a_process_of_this_host_is_gone_when_its_pid_is_free(monkeypatch):
    """macOS and the BSDs have no /proc: their records name a pid and a host alone, and a
    run whose process was killed there must still be reaped (it stayed running for ever)."""
    import socket

    from lake.core import processes

    no_proc = {"boot_id": None, "pid_namespace": None, "time_namespace": None}
    monkeypatch.setattr(processes, "_place", lambda: no_proc)
    exited = {
        **_record_of_a_process_that_exited(),
        **no_proc,
        "started": None,
        "host": socket.gethostname(),
    }
    assert alive(exited) is False
    assert alive({**exited, "pid": os.getpid()}) is True
    assert alive({**exited, "host": "another-host"}) is None
    # A record a Linux machine wrote names its boot: a pid means nothing here.
    assert alive({**exited, "boot_id": str(uuid.uuid4())}) is None
