"""kill -9 in the middle of writes, then: a consistent table, a healed catalog, one copy.

A child process runs ``lake ingest logs`` or ``lake materialize`` with ``LAKE_FAILPOINT``
set (lake/failpoints.py): it SIGKILLs itself at that point, as a machine dying there
would. Afterwards the table must read at a whole version, the catalog must heal (on next
use, or by ``lake catalog sync``), running the same command again must leave exactly one
copy of the data, and data files orphaned by the killed write must never be read and must
go with ``lake vacuum --retain 0d --apply``.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
from sqlalchemy import create_engine, text

from tests.faults.conftest import data_files, ledger_and_outputs, run_lake, write_log

TABLE = "crash.events"
FIRST = 5
SECOND = 7


def _count(cli) -> int:
    result = cli(
        "sql",
        f"SELECT count(*) AS n, count(DISTINCT (tag, k)) AS d FROM {TABLE}",
        "--output",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    row = result.json()["rows"][0]
    assert row["n"] == row["d"], "no record twice"
    return row["n"]


def _runs(backend) -> dict[str, int]:
    engine = create_engine(backend.catalog_url)
    try:
        with engine.connect() as connection:
            return dict(
                connection.execute(text("SELECT status, count(*) FROM runs GROUP BY status")).all()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("point", ["upload", "after_delta_commit", "catalog_write"])
@pytest.mark.timeout(180)
def test_an_ingest_killed_at_any_point_heals_and_reruns_into_one_copy(
    point, backend, lk, cli, tmp_path
):
    first = write_log(tmp_path / "first.jsonl", FIRST, "first")
    second = write_log(tmp_path / "second.jsonl", SECOND, "second")
    assert cli("ingest", "logs", TABLE, first).exit_code == 0

    killed = run_lake(backend, "ingest", "logs", TABLE, second, LAKE_FAILPOINT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    # A whole version is readable straight away: the old one, or the new one complete.
    committed = point != "upload"
    assert _count(cli) == FIRST + (SECOND if committed else 0)
    # The catalog heals on next use (reading the history syncs it) ...
    history = cli("history", TABLE, "--output", "json").json()
    assert [v["version"] for v in history] == ([0, 1] if committed else [0])
    if committed:
        assert history[1]["run_id"] is not None and history[1]["rows_added"] == SECOND
    # ... and `lake catalog sync` finds nothing left to do.
    synced = cli("catalog", "sync", "--output", "json").json()
    assert all(s["recorded"] == [] for s in synced)

    again = cli("ingest", "logs", TABLE, second, "--output", "json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["version"] == (None if committed else 1)
    assert _count(cli) == FIRST + SECOND
    assert len(cli("history", TABLE, "--output", "json").json()) == 2

    # Orphans of the killed upload are in no version, and vacuum removes them.
    referenced = {f.path for f in lk.delta(lk.table(TABLE)).snapshot().files}
    orphans = data_files(backend, lk, TABLE) - referenced
    assert len(orphans) == (1 if point == "upload" else 0)
    vacuum = cli("vacuum", TABLE, "--retain", "0d", "--apply", "--output", "json")
    assert vacuum.exit_code == 0, vacuum.stderr
    assert data_files(backend, lk, TABLE) == referenced
    assert _count(cli) == FIRST + SECOND
    assert _runs(backend).get("running", 0) == 0, "no run is left marked running"


@pytest.mark.timeout(180)
def test_an_ingest_right_after_a_killed_one_committed_the_file_skips_it(backend, lk, tmp_path):
    """This thread appended the version before the killed run's commit (the version a
    writer keeps): its next ingest's sync records the killed run's commit and range, and
    the file is skipped, not ingested a second time, even by a stage made before the sync
    on what the thread kept (tried once, to fill the wait for S3's first answers)."""
    zeroth = write_log(tmp_path / "zeroth.jsonl", 3, "zeroth")
    first = write_log(tmp_path / "first.jsonl", FIRST, "first")
    second = write_log(tmp_path / "second.jsonl", SECOND, "second")
    lk.ingest_logs(TABLE, zeroth)
    lk.ingest_logs(TABLE, first)  # appended by this thread: the version it keeps
    killed = run_lake(backend, "ingest", "logs", TABLE, second, LAKE_FAILPOINT="after_delta_commit")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    again = lk.ingest_logs(TABLE, second)

    assert again.version is None
    assert [f.status for f in again.files] == ["skipped"]
    history = lk.history(TABLE)
    assert [(v.version, v.rows_added, v.rows_total) for v in history] == [
        (0, 3, 3),
        (1, FIRST, 3 + FIRST),
        (2, SECOND, 3 + FIRST + SECOND),
    ]
    ranges, _, _ = ledger_and_outputs(backend)
    assert ranges == [("committed", 0, 3), ("committed", 1, FIRST), ("committed", 2, SECOND)]


@pytest.mark.parametrize(
    "point", ["materialize_shards", "materialize_registered", "materialize_install"]
)
@pytest.mark.parametrize("backend", ["local-sqlite"], indirect=True)
@pytest.mark.timeout(180)
def test_a_materialization_killed_at_any_point_reruns_into_one_training_set(
    point, backend, lk, cli, tmp_path
):
    assert (
        cli("ingest", "logs", TABLE, write_log(tmp_path / "first.jsonl", FIRST, "first")).exit_code
        == 0
    )
    out = tmp_path / "set"
    args = ("materialize", "crash_set", "--sql", f"SELECT tag, k FROM {TABLE}", "--out", str(out))

    killed = run_lake(backend, *args, LAKE_FAILPOINT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # A folder without a manifest is not a training set; one with a manifest is complete.
    manifest = out / ".lake" / "manifest.json"
    assert not manifest.exists()

    again = cli(*args, "--output", "json")
    assert again.exit_code == 0, again.stderr
    assert manifest.exists()
    listed = json.loads(manifest.read_text())
    shards = sorted(p.name for p in out.iterdir() if p.name != ".lake")
    assert shards == sorted(str(f["path"]) for f in listed["files"])
    rows = cli(
        "sql", f"SELECT count(*) AS n FROM read_parquet('{out}/*.parquet')", "--output", "json"
    )
    assert rows.json()["rows"][0]["n"] == FIRST
    from catalog.registry import training_sets

    assert [s.version for s in training_sets(lk.catalog, "crash_set")] == [1]
    assert _runs(backend).get("running", 0) == 0, "no run is left marked running"
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".lake"], (
        os.listdir(out)
    )
    assert os.listdir(out / ".lake") == ["manifest.json"], "no journal or temporary file is left"


@pytest.mark.parametrize("point", ["after_delta_commit", "catalog_write"])
@pytest.mark.timeout(180)
def test_an_ingest_run_again_at_once_after_a_kill_heals_in_its_own_start(
    point, backend, lk, cli, tmp_path
):
    """No sync in between: the rerun's first transaction marks the killed run failed (its
    process is gone) before its sync records that run's commit, which completes the run
    and commits its file range, so the rerun skips the file (one copy, one run each)."""
    first = write_log(tmp_path / "first.jsonl", FIRST, "first")
    second = write_log(tmp_path / "second.jsonl", SECOND, "second")
    assert cli("ingest", "logs", TABLE, first).exit_code == 0
    killed = run_lake(backend, "ingest", "logs", TABLE, second, LAKE_FAILPOINT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    again = cli("ingest", "logs", TABLE, second, "--output", "json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["version"] is None, "the killed run's commit holds the file"
    assert _count(cli) == FIRST + SECOND
    history = lk.history(TABLE)
    assert [(v.version, v.rows_added, v.rows_total) for v in history] == [
        (0, FIRST, FIRST),
        (1, SECOND, FIRST + SECOND),
    ]
    assert lk.run(history[1].run_id).status == "completed"
    info = lk.table(TABLE)
    assert (info.current_version, info.versions_through) == (1, 1)
    ranges, outputs, _ = ledger_and_outputs(backend)
    assert ranges == [("committed", 0, FIRST), ("committed", 1, SECOND)]
    assert outputs == 2
    assert _runs(backend).get("running", 0) == 0
