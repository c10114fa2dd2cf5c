"""A small append's checkpoint is written after the append returns (lake.core.background) on a
local disk, inside it on S3, before the lake closes or the process exits; a process killed
before it leaves every version readable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pyarrow as pa
import pyarrow.fs as pafs

from lake.core import background
from tests.faults.conftest import child_env

CHECKPOINT = f"{10:020d}.checkpoint.parquet"


def _rows(start: int) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + 5), pa.int64())})


def _log_names(lk, name: str) -> set[str]:
    fs, base = lk.storage.filesystem_for(lk.table(name).location)
    return {i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{base}/_delta_log"))}


def test_an_append_returns_before_its_checkpoint_is_written_and_close_waits_for_it(lk):
    """On a local disk; on S3 the append writes it before returning (on moto a checkpoint's
    requests beside the next appends' raised their median 21 -> 31 ms; bench_appends)."""
    with background.paused():
        for i in range(11):  # version 10 is due a checkpoint
            lk.write_table("ml.upkeep", _rows(5 * i))
        if lk.storage.is_s3:
            assert CHECKPOINT in _log_names(lk, "ml.upkeep")
            assert background.pending() == 0
            return
        assert CHECKPOINT not in _log_names(lk, "ml.upkeep")
        assert background.pending() == 1
        # Readable without it, at every version.
        assert lk.sql("SELECT count(*) AS n FROM ml.upkeep").rows() == [{"n": 55}]
    background.drain()
    assert background.pending() == 0
    assert CHECKPOINT in _log_names(lk, "ml.upkeep")
    store = lk.delta(lk.table("ml.upkeep"))
    for version in (0, 9, 10):
        assert store.snapshot(version).rows == 5 * (version + 1)
    assert lk.sql("SELECT count(*) AS n FROM ml.upkeep VERSION AS OF 10").rows() == [{"n": 55}]


_APPENDS = """
import pyarrow as pa, lake
lk = lake.connect()  # never closed: the process's exit waits for the checkpoint
for i in range(11):
    lk.write_table("ml.upkeep", pa.table({"id": pa.array(range(5 * i, 5 * i + 5), pa.int64())}))
print("appended", flush=True)
"""


def _appends_in_a_child(backend, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _APPENDS],
        env=child_env(backend, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_process_that_exits_without_closing_the_lake_writes_its_checkpoint(backend, lk):
    done = _appends_in_a_child(backend)
    assert done.returncode == 0, done.stderr[-3000:]
    assert CHECKPOINT in _log_names(lk, "ml.upkeep")
    assert [v.version for v in lk.history("ml.upkeep")] == list(range(11))


def test_a_process_killed_before_its_checkpoint_leaves_every_version_readable(backend, lk):
    done = _appends_in_a_child(backend, LAKE_FAILPOINT="checkpoint")
    assert done.returncode == -9, done.stderr[-3000:]
    assert CHECKPOINT not in _log_names(lk, "ml.upkeep")
    assert [v.version for v in lk.history("ml.upkeep")] == list(range(11))
    lk.write_table("ml.upkeep", _rows(55))
    assert lk.sql("SELECT count(*) AS n FROM ml.upkeep").rows() == [{"n": 60}]
    store = lk.delta(lk.table("ml.upkeep"))
    assert [store.snapshot(v).rows for v in (9, 10, 11)] == [50, 55, 60]


def _last_checkpoint(lk, name: str) -> int:
    fs, base = lk.storage.filesystem_for(lk.table(name).location)
    with fs.open_input_stream(f"{base}/_delta_log/_last_checkpoint") as stream:
        return json.loads(stream.read())["version"]


def test_a_checkpoint_due_while_the_tables_last_one_waits_replaces_it(lk):
    with background.paused():
        for i in range(11):  # this table's job is the one the paused thread holds
            lk.write_table("ml.first", _rows(5 * i))
        for i in range(21):  # version 10's job waits behind it; version 20 falls due meanwhile
            lk.write_table("ml.upkeep", _rows(5 * i))
    background.drain()
    assert f"{20:020d}.checkpoint.parquet" in _log_names(lk, "ml.upkeep")
    assert _last_checkpoint(lk, "ml.upkeep") == 20
    assert lk.sql("SELECT count(*) AS n FROM ml.upkeep").rows() == [{"n": 105}]


_MORE_APPENDS = """
import pyarrow as pa, lake
lk = lake.connect()
for i in range(11, 21):
    lk.write_table("ml.upkeep", pa.table({"id": pa.array(range(5 * i, 5 * i + 5), pa.int64())}))
lk.close()
"""


def test_a_late_checkpoint_does_not_turn_the_tables_last_checkpoint_back(backend, lk):
    with background.paused():
        for i in range(11):  # version 10's checkpoint waits
            lk.write_table("ml.upkeep", _rows(5 * i))
        # Another process appends up to version 20 and writes its checkpoint meanwhile.
        done = subprocess.run(
            [sys.executable, "-c", _MORE_APPENDS],
            env=child_env(backend),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert _last_checkpoint(lk, "ml.upkeep") == 20
    background.drain()
    assert _last_checkpoint(lk, "ml.upkeep") == 20
    assert lk.sql("SELECT count(*) AS n FROM ml.upkeep").rows() == [{"n": 105}]


_FORKS = """
import os, sys
import pyarrow as pa, lake
from lake.core import background
lk = lake.connect()
with background.paused():
    for i in range(11):  # version 10's checkpoint waits for the gate
        lk.write_table("ml.upkeep", pa.table({"id": pa.array(range(5 * i, 5 * i + 5), pa.int64())}))
    child = os.fork()
    if child == 0:
        sys.exit(7)  # a normal exit of the child: its exit handlers run
    print(child, flush=True)
    _, status = os.waitpid(child, 0)
print("child exited", os.waitstatus_to_exitcode(status), flush=True)
"""


def test_a_child_forked_while_a_checkpoint_waits_exits(backend, lk):
    parent = subprocess.Popen(
        [sys.executable, "-c", _FORKS],
        env=child_env(backend),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline())
    try:
        out, err = parent.communicate(timeout=60)  # a hang, not a time: the child never exits
    except subprocess.TimeoutExpired as hung:
        os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.communicate()
        raise AssertionError(
            "the forked child never exited: it waited for the parent's jobs"
        ) from hung
    assert parent.returncode == 0, err[-3000:]
    assert out.strip() == "child exited 7"
    assert CHECKPOINT in _log_names(lk, "ml.upkeep")


def test_a_checkpoint_waiting_while_its_table_is_made_anew_in_place_writes_nothing(lk):
    from deltalake import DeltaTable, write_deltalake

    from lake.core.objects import delete_tree

    with background.paused():
        for i in range(11):  # version 10's checkpoint waits
            lk.write_table("ml.upkeep", _rows(5 * i))
        location = lk.table("ml.upkeep").location
        options = lk.storage.delta_options()
        delete_tree(lk.storage, location)
        for i in range(11):  # another table, at the same place, up to its own version 10
            write_deltalake(
                location, _rows(100 * i).slice(0, 1), mode="append", storage_options=options
            )
    background.drain()
    assert CHECKPOINT not in _log_names(lk, "ml.upkeep")
    made = DeltaTable(location, storage_options=options)
    assert made.version() == 10
    assert sorted(made.to_pyarrow_dataset().to_table()["id"].to_pylist()) == [
        100 * i for i in range(11)
    ]


_PANICS = """
from lake.core import background

class Panic(BaseException):  # as pyo3's PanicException, a Rust panic in deltalake
    pass

def panics():
    raise Panic("a panic in the job")

ran = []
background.submit(("test", "panics"), panics)
background.submit(("test", "after"), lambda: ran.append("after"))
background.drain()
print("drained", ran, flush=True)
"""


def test_a_job_that_panics_neither_stops_the_jobs_after_it_nor_the_exit():
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PANICS],
            capture_output=True,
            text=True,
            timeout=60,  # a hang, not a time: drain waited forever for a thread that was gone
            check=False,
        )
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(
            "drain never returned: the upkeep thread died with the panic"
        ) from hung
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "drained ['after']"
    assert "a panic in the job" in done.stderr  # logged, as a failed job is


def _appends_in_a_pool_process(environment: dict[str, str]) -> None:
    import os

    import lake

    os.environ.update(environment)  # the forkserver's own is the first test's
    lk = lake.connect()  # never closed: the process's end waits for the checkpoint
    for i in range(11):
        lk.write_table("ml.upkeep", _rows(5 * i))


def test_a_multiprocessing_process_that_appends_writes_its_checkpoint(backend, lk):
    import multiprocessing

    # multiprocessing's forkserver (and fork) children leave by os._exit: no exit handlers.
    # (A fork child of a process that used deltalake cannot write: its runtime panics.)
    context = multiprocessing.get_context("forkserver")
    process = context.Process(target=_appends_in_a_pool_process, args=(child_env(backend),))
    process.start()
    process.join()
    assert process.exitcode == 0
    assert [v.version for v in lk.history("ml.upkeep")] == list(range(11))
    assert CHECKPOINT in _log_names(lk, "ml.upkeep")
