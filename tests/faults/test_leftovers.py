"""A run killed with SIGKILL leaves its staging folder in the temporary directory; the next
run that stages removes it (its lock died with the process), never a live run's folder."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3

import pytest

from lake.landing.staging import LOCK_NAME, StagingFolder, remove_abandoned
from tests.faults.conftest import run_lake, write_log


def _staging(tmp: str) -> list[str]:
    return sorted(e for e in os.listdir(tmp) if e.startswith(("lake-stage-", "lake-extract-")))


@pytest.mark.timeout(240)
def test_folders_of_killed_ingests_and_extracts_are_removed_by_the_next_run(backend, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log = tmp_path / "a.jsonl"
    log.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(100)))
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE t (id INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    killed = run_lake(
        backend, "ingest", "logs", "left.logs", str(log), TMPDIR=str(tmp), LAKE_FAILPOINT="upload"
    )
    assert killed.returncode == -signal.SIGKILL
    assert [name.split("-")[1] for name in _staging(str(tmp))] == ["stage"]
    killed = run_lake(
        backend, "ingest", "db", "left.db", "--source", f"sqlite:///{source}", "--table", "t",
        TMPDIR=str(tmp), LAKE_FAILPOINT="upload",
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    # The extract removed the dead ingest's folder before staging, then died with its own.
    assert [name.split("-")[1] for name in _staging(str(tmp))] == ["extract"]
    done = run_lake(backend, "ingest", "logs", "left.logs", str(log), TMPDIR=str(tmp))
    assert done.returncode == 0, done.stderr
    assert _staging(str(tmp)) == []


@pytest.mark.parametrize("backend", ["local-sqlite"], indirect=True)  # a local folder either way
@pytest.mark.timeout(240)
def test_the_spill_folder_of_a_killed_materialize_is_removed_by_the_next_run(backend, tmp_path):
    """A training set's query may spill to a private folder under $TMPDIR; a killed run left
    it there for ever (the CI runs' kill tests left three)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log = write_log(tmp_path / "a.jsonl", 20, "a")
    assert run_lake(backend, "ingest", "logs", "left.logs", log).returncode == 0
    args = ("materialize", "left_set", "--sql", "SELECT * FROM left.logs")

    def spills() -> list[str]:
        return [e for e in os.listdir(tmp) if e.startswith("lake-spill-")]

    killed = run_lake(
        backend, *args, "--out", str(tmp_path / "killed"), TMPDIR=str(tmp),
        LAKE_FAILPOINT="materialize_shards",
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(spills()) == 1
    done = run_lake(backend, *args, "--out", str(tmp_path / "set"), TMPDIR=str(tmp))
    assert done.returncode == 0, done.stderr
    assert spills() == []


def test_a_live_runs_folder_is_never_removed(tmp_path):
    with StagingFolder("lake-stage-") as live:
        moved = tmp_path / live.name
        os.rename(live, moved)  # into a directory of our own, with its lock still held
        try:
            with open(moved / LOCK_NAME) as lock:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert remove_abandoned(str(tmp_path)) == []
            assert moved.is_dir()
        finally:
            os.rename(moved, live)


def _locked(folder) -> bool:
    with open(folder / LOCK_NAME) as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


def test_a_process_takes_its_emptied_staging_folder_again_still_locked():
    with StagingFolder("lake-stage-") as first:
        (first / "_event_date=2026-10-01").mkdir(exist_ok=True)  # kept from an earlier run
        (first / "_event_date=2026-10-01" / "part-a.parquet").write_bytes(b"staged")
        (first / "part-00000.parquet").write_bytes(b"staged")
    assert _locked(first)  # kept for the next run: never taken for a killed run's
    # Other workers' killed runs may leave folders in the shared temporary directory.
    assert str(first) not in remove_abandoned(str(first.parent)) and first.exists()
    with StagingFolder("lake-stage-") as second:
        assert second == first
        assert [p.name for p in second.rglob("*") if p.is_file()] == [LOCK_NAME]
        assert _locked(second)


def test_a_folder_kept_in_one_temporary_directory_is_not_taken_once_it_changed(
    tmp_path, monkeypatch
):
    """The temporary directory decides the file system staged files are on (a local table
    takes them by hard link, or copies them from another): a folder kept before it changed
    must not be taken after (a test of the copy staged in the old one and passed unproved)."""
    import tempfile

    with StagingFolder("lake-stage-") as before:
        pass  # kept, idle, in the directory of before
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with StagingFolder("lake-stage-") as after:
        assert after.parent == tmp_path and after != before
    monkeypatch.undo()
    with StagingFolder("lake-stage-") as again:
        assert again == before


def test_a_forked_child_stages_in_a_folder_of_its_own():
    from tests.forking import in_a_forked_child

    with StagingFolder("lake-stage-") as parents:
        pass  # kept, idle, when the child is forked

    def child() -> tuple[str, bool]:
        with StagingFolder("lake-stage-") as own:
            pass
        return str(own), own.exists()  # a child keeps none: it may leave past the exit hook

    own, kept = in_a_forked_child(child)
    assert own != str(parents) and not kept
    with StagingFolder("lake-stage-") as again:
        assert again == parents and _locked(again)


def test_a_staging_folder_closed_twice_is_kept_once_and_never_emptied_under_its_next_run():
    """close() is an exit hook's as well as a with block's: a second close of a folder kept
    idle must neither empty it while the next run stages in it nor keep it a second time
    (two runs would then stage in one folder, writing the same part file names)."""
    folder = StagingFolder("lake-stage-")
    folder.close()
    folder.close()
    with StagingFolder("lake-stage-") as taken:
        assert taken == folder.path
        (taken / "part-00000.parquet").write_bytes(b"staged by this run")
        folder.close()  # late: the folder is another run's now
        assert (taken / "part-00000.parquet").read_bytes() == b"staged by this run"
        with StagingFolder("lake-stage-") as other:
            assert other != taken
