"""What proves the process a run or a lease names is gone (``lake.core.processes``): real
processes of this machine, and records as another machine or container leaves them."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from lake.core.processes import FIELDS, alive, this_process


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
    assert alive(record) is True


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
