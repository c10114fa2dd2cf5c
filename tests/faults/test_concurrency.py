"""Several OS processes writing one table on S3 + Postgres at once, and a reader watching.

4 writer processes each ingest 10 distinct log files (10 records each) into the same
table, one version per ingest, while a reader process runs ``lake sql "SELECT count(*)"``
in a loop. Every record must arrive exactly once, the table must get 40 versions of
ingests (and at least one auto-compaction among them: 40 files pass the 32 small files
that make one due), the catalog must record each version once with the run that made it,
and the reader must only ever see whole ingests, in order.

40 ingests, not 100 as before: the four processes race from their first commit to their
last either way, and 100 made the test 54 s of the suite's worker time; 40 still passes
the compaction threshold once while the other writers commit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import lake
from lake.landing.commits import AUTO_COMPACT_SMALL_FILES
from tests.faults.conftest import S3_POSTGRES, child_env, ledger_and_outputs, stopped_child

WORKERS = Path(__file__).with_name("workers.py")
PROCESSES = 4
INGESTS = AUTO_COMPACT_SMALL_FILES // PROCESSES + 2
"""Per process: enough that the table passes the files that make an auto-compaction due
while the others still commit (10 with 32 such files)."""
RECORDS = 10
TABLE = "conc.events"


def _files(folder: Path) -> list[list[str]]:
    per_process = []
    for p in range(PROCESSES):
        files = []
        for i in range(INGESTS):
            path = folder / f"p{p}" / f"f{i:02d}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "".join(
                    json.dumps({"ts": "2026-11-20T10:00:00Z", "writer": p, "file": i, "k": k})
                    + "\n"
                    for k in range(RECORDS)
                )
            )
            files.append(str(path))
        per_process.append(files)
    return per_process


def _where_rows_repeat(lk: lake.Lake, table: str) -> str:
    """For a failure's message: the ingests whose rows the table holds more than once, and the
    versions of its log (seen once in a helper's run at load 12-16: 1,660 rows for 1,000)."""
    repeated = lk.sql(
        f"SELECT writer, file, count(*) AS n FROM {table} GROUP BY ALL HAVING n > {RECORDS} "
        "ORDER BY ALL"
    ).rows()
    log = [
        (v.version, v.operation, v.rows_added, v.rows_total, v.files_total)
        for v in lk.history(table)
    ]
    return f"rows repeated: {repeated}; versions (version, operation, added, rows, files): {log}"


@pytest.mark.slow
@pytest.mark.timeout(600)
@S3_POSTGRES
def test_four_processes_ingesting_one_table_lose_nothing_and_readers_see_whole_versions(
    s3_only, lk, tmp_path
):
    backend = s3_only
    env = child_env(backend)
    stop = tmp_path / "writers-done"
    reader = subprocess.Popen(
        [sys.executable, str(WORKERS), "read", TABLE, str(stop)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    writers = [
        subprocess.Popen(
            [sys.executable, str(WORKERS), "ingest", TABLE, *files],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for files in _files(tmp_path / "logs")
    ]
    results = []
    try:
        for writer in writers:
            out, err = writer.communicate(timeout=540)
            assert writer.returncode == 0, err[-3000:]
            results += [json.loads(line) for line in out.splitlines()]
        stop.touch()
        seen, reader_err = reader.communicate(timeout=120)
    finally:
        for process in [*writers, reader]:
            if process.poll() is None:
                process.kill()
    assert reader.returncode == 0, reader_err[-3000:]

    # Every ingest made its own version; all records are there once. The versions between
    # them are auto-compactions (lake.landing.commits.fragmented): no data change.
    assert len(results) == PROCESSES * INGESTS
    versions = sorted(r["version"] for r in results)
    assert len(set(versions)) == PROCESSES * INGESTS
    count = lk.sql(
        f"SELECT count(*) AS n, count(DISTINCT (writer, file, k)) AS d FROM {TABLE}"
    ).rows()[0]
    assert count == {"n": PROCESSES * INGESTS * RECORDS, "d": PROCESSES * INGESTS * RECORDS}, (
        _where_rows_repeat(lk, TABLE)
    )

    # The catalog recorded each version once, with the run that made it, completed.
    history = lk.history(TABLE)
    assert [v.version for v in history] == list(range(len(history)))
    by_version = {r["version"]: r["run_id"] for r in results}
    assert {v.version: v.run_id for v in history if v.version in by_version} == by_version
    compactions = [v for v in history if v.version not in by_version]
    assert compactions, f"{len(results)} small files made an auto-compaction due"
    assert all(v.operation == "OPTIMIZE" and v.rows_added == 0 for v in compactions)
    ingested = [v for v in history if v.version in by_version]
    assert [v.rows_total for v in ingested] == [RECORDS * (i + 1) for i in range(len(ingested))]
    engine = create_engine(backend.catalog_url)
    try:
        with engine.connect() as connection:
            statuses = dict(
                connection.execute(
                    text(
                        "SELECT status, count(*) FROM runs WHERE kind = 'ingest_logs' "
                        "GROUP BY status"
                    )
                ).all()
            )
            ledger = connection.execute(
                text(
                    "SELECT count(*), count(DISTINCT uri), count(DISTINCT version) "
                    "FROM ingested_files WHERE state = 'committed'"
                )
            ).one()
            duplicates = connection.execute(
                text(
                    "SELECT count(*) FROM (SELECT table_id, version FROM table_versions "
                    "GROUP BY 1, 2 HAVING count(*) > 1) d"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert statuses == {"completed": PROCESSES * INGESTS}
    assert tuple(ledger) == (PROCESSES * INGESTS,) * 3
    assert duplicates == 0

    # The reader only ever saw whole ingests, and never went back in time.
    lines = seen.splitlines()
    assert not [line for line in lines if line.startswith("error")], lines[:5]
    counts = [int(line) for line in lines]
    assert counts, "the reader read at least once"
    assert counts == sorted(counts)
    assert all(c % RECORDS == 0 for c in counts)
    assert counts[-1] == PROCESSES * INGESTS * RECORDS


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_two_concurrent_incremental_upserts_retry_their_conflict_without_duplicates(
    s3_only, lk, cli, tmp_path
):
    """The first upsert stops after loading the table (failpoint ``merge``), the second
    commits meanwhile, so the first one's merge must conflict and be retried on the new
    version, deterministically."""
    import sqlite3

    from tests.faults.conftest import lake_argv

    source = tmp_path / "source.db"
    connection = sqlite3.connect(source)
    connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT)")
    connection.executemany(
        "INSERT INTO items VALUES (?, ?, ?)",
        [(i, f"old{i}", "2026-11-20 10:00:00") for i in range(100)],
    )
    connection.commit()
    args = (
        "ingest",
        "db",
        "conc.items",
        "--source",
        f"sqlite:///{source}",
        "--table",
        "items",
        "--mode",
        "incremental",
        "--cursor",
        "updated_at",
        "--key",
        "id",
        "--output",
        "json",
    )
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    connection.executemany(
        "UPDATE items SET v = ?, updated_at = ? WHERE id = ?",
        [(f"new{i}", "2026-11-21 10:00:00", i) for i in range(50)],
    )
    connection.executemany(
        "INSERT INTO items VALUES (?, ?, ?)",
        [(i, f"new{i}", "2026-11-21 10:00:00") for i in range(100, 150)],
    )
    connection.commit()
    connection.close()

    stalled = subprocess.Popen(
        lake_argv(*args),
        env=child_env(s3_only, LAKE_FAILPOINT="merge:stop"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, status = os.waitpid(
            stalled.pid, os.WUNTRACED
        )  # returns once it stopped at the failpoint
        assert os.WIFSTOPPED(status)
        # The winner commits meanwhile, in this process (the stalled one is the child).
        winner = cli(*args)
        assert winner.exit_code == 0, winner.stderr
        os.kill(stalled.pid, signal.SIGCONT)
        out, err = stalled.communicate(timeout=200)
    finally:
        if stalled.poll() is None:
            stalled.kill()
    assert stalled.returncode == 0, err[-3000:]

    rows = lk.sql(
        "SELECT count(*) AS n, count(DISTINCT id) AS d, count(*) FILTER (v LIKE 'new%') AS new "
        "FROM conc.items"
    ).rows()[0]
    assert rows == {"n": 150, "d": 150, "new": 100}
    history = lk.history("conc.items")
    assert [v.version for v in history] == [0, 1, 2]
    runs = {json.loads(out)["run_id"], json.loads(winner.stdout)["run_id"]}
    assert {v.run_id for v in history[1:]} == runs
    assert lk.catalog.watermark(lk.table("conc.items"))[1]["value"] is not None


@pytest.mark.timeout(240)
def test_catalog_writers_racing_for_the_same_names_and_numbers_all_succeed_once(backend, lk):
    """4 processes x 10 rounds: create the same table (exist_ok), start a run, register the
    next version of the same training set. The unique constraints decide the races; the
    losers retry with backoff: one table, 40 distinct versions 1..40, each with its own run."""
    env = child_env(backend)
    racers = [
        subprocess.Popen(
            [sys.executable, str(WORKERS), "catalog-race", "race.t", "race_set", "10"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    got = []
    try:
        for racer in racers:
            out, err = racer.communicate(timeout=200)
            assert racer.returncode == 0, err[-3000:]
            got += [json.loads(line) for line in out.splitlines()]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
    assert len({g["table_id"] for g in got}) == 1
    assert sorted(g["version"] for g in got) == list(range(1, 41))
    assert len({g["run_id"] for g in got}) == 40
    from catalog.registry import training_sets

    assert sorted((s.version, s.run_id) for s in training_sets(lk.catalog, "race_set")) == sorted(
        (g["version"], g["run_id"]) for g in got
    )


@contextmanager
def _stopped_child(argv: list[str], env: dict[str, str]) -> Iterator[Callable[[], dict]]:
    """A worker process held at its failpoint; what the block gets resumes it and returns
    the report its last line prints (it must succeed). Killed if the block fails first."""
    with stopped_child(argv, env) as resume:

        def finish() -> dict:
            done = resume()
            assert done.returncode == 0, done.stderr[-3000:]
            return json.loads(done.stdout.splitlines()[-1])

        yield finish


@pytest.mark.timeout(240)
def test_an_append_racing_a_schema_change_commits_under_the_new_schema(backend, lk, tmp_path):
    """An ingest whose commit loses the race to a commit that changed the table's schema (a
    column added by another writer) decides its schema again and commits; delta-rs refuses
    such a commit ("Metadata changed since last commit") and does not retry it itself."""
    table = "conc.racing"
    first = tmp_path / "first.jsonl"
    first.write_text(json.dumps({"ts": "2026-11-20T10:00:00Z", "writer": 0, "k": 0}) + "\n")
    lk.ingest_logs(table, str(first))
    late = tmp_path / "late.jsonl"
    late.write_text(json.dumps({"ts": "2026-11-20T11:00:00Z", "writer": 1, "k": 1}) + "\n")
    env = child_env(backend, LAKE_FAILPOINT="upload:stop")
    with _stopped_child([sys.executable, str(WORKERS), "ingest", table, str(late)], env) as resume:
        # While the child holds its files, uncommitted, another writer adds a column.
        wide = tmp_path / "wide.jsonl"
        wide.write_text(
            json.dumps({"ts": "2026-11-20T12:00:00Z", "writer": 2, "k": 2, "added": 7}) + "\n"
        )
        lk.ingest_logs(table, str(wide))
        report = resume()
    assert report["version"] == 2
    rows = lk.sql(f"SELECT writer, k, added FROM {table} ORDER BY writer").rows()
    assert rows == [
        {"writer": 0, "k": 0, "added": None},
        {"writer": 1, "k": 1, "added": None},
        {"writer": 2, "k": 2, "added": 7},
    ]
    assert "added" in lk.describe(table).snapshot.schema.names
    assert [v.version for v in lk.history(table)] == [0, 1, 2]


@pytest.mark.timeout(240)
def test_an_append_whose_version_another_writer_took_commits_after_it(backend, lk, tmp_path):
    """The lake writes a small append's log entry itself, only if no writer wrote that
    version first; an append that loses that race commits through deltalake after the
    winner, and both versions are recorded once, by the runs that made them."""
    table = "conc.taken"
    lines = {
        name: json.dumps({"ts": f"2026-11-20T1{i}:00:00Z", "writer": i}) + "\n"
        for i, name in enumerate(("first", "late", "winner"))
    }
    paths = {}
    for name, line in lines.items():
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text(line)
    lk.ingest_logs(table, str(paths["first"]))
    env = child_env(backend, LAKE_FAILPOINT="own_commit:stop")
    with _stopped_child(
        [sys.executable, str(WORKERS), "ingest", table, str(paths["late"])], env
    ) as resume:
        # The child has planned on version 0 and published its file; version 1 is taken now.
        won = lk.ingest_logs(table, str(paths["winner"]))
        assert won.version == 1
        late = resume()
    assert late["version"] == 2
    assert lk.sql(f"SELECT writer FROM {table} ORDER BY writer").rows() == [
        {"writer": 0},
        {"writer": 1},
        {"writer": 2},
    ]
    history = lk.history(table)
    assert [v.version for v in history] == [0, 1, 2]
    assert [v.rows_added for v in history] == [1, 1, 1]
    assert [v.rows_total for v in history] == [1, 2, 3]
    assert history[2].run_id == late["run_id"] and history[1].run_id == won.run_id


@pytest.mark.timeout(240)
def test_a_sync_that_records_a_writers_commit_before_it_leaves_one_record(backend, lk, tmp_path):
    """A ``lake catalog sync`` records an ingest's commit (with what the run prepared)
    between the commit and the ingest's own record; the ingest then finds its version
    recorded: one version row, one output edge, its file range committed once."""
    table = "conc.synced"
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(json.dumps({"ts": "2026-11-20T10:00:00Z", "k": 0}) + "\n")
    second.write_text(
        "".join(json.dumps({"ts": "2026-11-20T11:00:00Z", "k": k}) + "\n" for k in range(1, 4))
    )
    lk.ingest_logs(table, str(first))
    env = child_env(backend, LAKE_FAILPOINT="after_delta_commit:stop")
    with _stopped_child(
        [sys.executable, str(WORKERS), "ingest", table, str(second)], env
    ) as resume:
        with lake.connect() as syncer:  # another process's sync, as far as the catalog knows
            assert [s.recorded for s in syncer.sync()] == [(1,)]
        report = resume()
    assert report["version"] == 1
    history = lk.history(table)
    assert [(v.version, v.rows_added, v.rows_total) for v in history] == [(0, 1, 1), (1, 3, 4)]
    assert lk.run(history[1].run_id).status == "completed"
    info = lk.table(table)
    assert (info.current_version, info.versions_through) == (1, 1)
    ranges, outputs, running = ledger_and_outputs(backend)
    assert ranges == [("committed", 0, 1), ("committed", 1, 3)]
    assert (outputs, running) == (2, 0)
