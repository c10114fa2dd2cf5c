"""Races between processes that the catalog must serialise, with the window held wide open.

A child process stops itself (SIGSTOP, lake/core/failpoints.py ``NAME:stop``) exactly inside
the window, the test does the other side of the race, then lets the child go on (SIGCONT).

* Vacuum vs a new pin: vacuum reads the pins, then deletes files. A pin taken in between (a
  tag, a training set, a model) used to be ignored, and its version lost its files.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pyarrow as pa
import pytest

import catalog.pins as pins_module
from catalog.exceptions import LeaseHeld, VersionNotPinnable
from tests.faults.conftest import assert_one_line_error, child_env, lake_argv

TABLE = "race.t"


def _two_versions(lk) -> None:
    """Version 0, then an overwrite: version 0's files are removed at version 1."""
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    lk.write_table(TABLE, pa.table({"n": [10, 20]}), mode="overwrite")


def _stopped(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    child = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status = os.waitpid(child.pid, os.WUNTRACED)  # returns once the failpoint stopped it
    assert os.WIFSTOPPED(status), "the child reached the failpoint"
    return child


def _resume(child: subprocess.Popen) -> tuple[int, str, str]:
    os.kill(child.pid, signal.SIGCONT)
    out, err = child.communicate(timeout=180)
    return child.returncode, out, err


def _every_pinned_version_reads(lk) -> None:
    for pin in lk.pins(TABLE):
        rows = lk.sql(f"SELECT count(*) AS c FROM {TABLE} VERSION AS OF {pin.version}").rows()
        assert rows[0]["c"] > 0, pin


@pytest.mark.timeout(300)
def test_a_tag_taken_while_a_vacuum_deletes_waits_and_a_version_it_did_not_keep_is_refused(
    backend, lk, monkeypatch
):
    _two_versions(lk)
    vacuum = _stopped(
        lake_argv("vacuum", TABLE, "--retain", "0d", "--apply"),
        child_env(backend, LAKE_FAILPOINT="vacuum_delete:stop"),
    )
    try:
        # The vacuum has read the pins (none) and holds the table's vacuum lease: a pin now
        # must not get in before the files go. Without waiting, it is refused at once.
        monkeypatch.setattr(pins_module, "PIN_WAIT_S", 0.0)
        with pytest.raises(LeaseHeld, match=r"vacuuming race\.t"):
            lk.tag(f"{TABLE}@0", "keep")
    finally:
        code, _, err = _resume(vacuum)
    assert code == 0, err
    monkeypatch.setattr(pins_module, "PIN_WAIT_S", 60.0)
    # Version 0 was not kept and its files are gone: pinning it now is refused in a sentence.
    with pytest.raises(VersionNotPinnable, match=r"Version 0 of race\.t was not kept"):
        lk.tag(f"{TABLE}@0", "keep")
    lk.tag(f"{TABLE}@1", "keep")
    assert [(p.version, p.kind) for p in lk.pins(TABLE)] == [(1, "tag")]
    _every_pinned_version_reads(lk)


@pytest.mark.timeout(300)
def test_a_training_set_that_read_a_version_a_vacuum_then_deleted_is_not_registered(
    backend, lk, tmp_path
):
    _two_versions(lk)
    materialize = _stopped(
        lake_argv(
            "materialize", "old", "--sql", f"SELECT n FROM {TABLE} VERSION AS OF 0",
            "--out", str(tmp_path / "old"),
        ),
        child_env(backend, LAKE_FAILPOINT="materialize_shards:stop"),
    )  # fmt: skip
    try:
        # It has read version 0 and written its shards, nothing is registered: vacuum now
        # sees no pin and deletes version 0's files.
        reports = lk.vacuum(TABLE, retain="0d", apply=True)
        assert reports[0].files, "the vacuum deleted version 0's files"
    finally:
        code, _, err = _resume(materialize)
    assert code == 1
    assert_one_line_error(err, r"Version 0 of race\.t was not kept by the vacuum")
    assert lk.training_sets("old") == []
    assert lk.pins(TABLE) == []
    _every_pinned_version_reads(lk)
