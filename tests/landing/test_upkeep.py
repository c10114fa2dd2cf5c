"""A small append's checkpoint is written after the append returns (lake.core.background) on a
local disk, inside it on S3, before the lake closes or the process exits; a process killed
before it leaves every version readable."""

from __future__ import annotations

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
