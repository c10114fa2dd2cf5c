"""Writes that replace or rewrite files, whose commit's answer was lost.

An overwrite, a replacement of rows by key or by line, a merge and a compaction commit
through deltalake. When the PUT of their log entry is stored but its answer lost, the
client sends it again and the server refuses it (the entry exists: this run's own).
deltalake then took the refusal for another writer's commit and either committed the same
actions again one version later or reported a conflict with itself; the writer must find
the version is its own (or say the commit is in doubt) and make it once. A loopback HTTP
proxy in front of the real moto server (tests/faults/s3_faults.py) loses the answer.

Only the command under the fault runs in a child process (behind the proxy); the versions
before it are made in this process (``lk``, or the CLI in-process: ``cli``), straight to
moto, which spares a process start (2-4 s under load) each.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from lake.core.names import TableName
from tests.faults.conftest import (
    S3_POSTGRES,
    assert_in_doubt,
    in_process,
    run_lake,
    runs_in_log,
    synced_runs,
    write_log,
)
from tests.faults.s3_faults import HeldThenRefused, LostAnswer, S3FaultProxy

TABLE = "doubt.events"


def _source(path, rows: list[tuple[int, str, int]]) -> str:
    """A SQLite source table ``t(id, name, updated_at)`` holding ``rows``."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT, updated_at INTEGER)"
        )
        db.execute("DELETE FROM t")
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    return f"sqlite:///{path}"


def _lose_version(backend, version: int, *args: str):
    entry = f"_delta_log/{version:020d}.json"
    with S3FaultProxy(backend.s3.endpoint, LostAnswer(entry)) as proxy:
        done = run_lake(backend, *args, AWS_ENDPOINT_URL=proxy.endpoint)
    puts = [status for method, path, status in proxy.seen if method == "PUT" and entry in path]
    return done, puts


def _history(lk) -> list[tuple[int, int | None, int | None]]:
    return [(v.version, v.rows_added, v.rows_total) for v in lk.history(TABLE)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_an_overwrite_whose_answer_was_lost_is_made_once_and_reported_made(
    s3_only, lk, cli, tmp_path
):
    """A full extract overwrites the table: deltalake reported a conflict with its own
    commit, and the writer said another writer had committed ("run the command again")."""
    backend = s3_only
    url = _source(tmp_path / "src.db", [(1, "a", 1), (2, "b", 1)])
    first = cli("ingest", "db", TABLE, "--source", url, "--table", "t")  # in this process
    assert first.exit_code == 0, first.stderr
    _source(tmp_path / "src.db", [(1, "a", 1), (2, "b", 2), (3, "c", 2)])
    done, puts = _lose_version(backend, 1, "ingest", "db", TABLE, "--source", url, "--table", "t")
    assert done.returncode == 0, done.stderr
    assert puts[:2] == [200, 412], puts
    runs = runs_in_log(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    assert _history(lk) == [(0, 2, 2), (1, 2, 3)]
    assert lk.run(runs[1]).status == "completed"


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_merge_whose_answer_was_lost_is_made_once(s3_only, lk, cli, tmp_path):
    """Made once, and with its own counts: a merge found made after its error has them in
    its log entry (they were dropped, and the version recorded every row read as added: an
    update of one row and an insert of one, two added)."""
    backend = s3_only
    url = _source(tmp_path / "src.db", [(1, "a", 1), (2, "b", 1)])
    extract = ("--table", "t", "--mode", "incremental", "--cursor", "updated_at", "--key", "id")
    first = cli("ingest", "db", TABLE, "--source", url, *extract)  # in this process
    assert first.exit_code == 0, first.stderr
    _source(tmp_path / "src.db", [(1, "a", 1), (2, "bb", 2), (3, "c", 2)])
    done, puts = _lose_version(backend, 1, "ingest", "db", TABLE, "--source", url, *extract)
    assert done.returncode == 0, done.stderr
    assert puts[:2] == [200, 412], puts
    assert sorted(runs_in_log(backend, lk, TABLE)) == [0, 1]
    rows = lk.sql(f"SELECT id, name FROM {TABLE} ORDER BY id").rows()
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": "bb"}, {"id": 3, "name": "c"}]
    assert _history(lk) == [(0, 2, 2), (1, 1, 3)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_reparse_whose_answer_was_lost_is_made_once_and_reported_made(s3_only, lk, tmp_path):
    """A reparse replaces a file's rows (deltalake's overwrite with a predicate)."""
    backend = s3_only
    log = write_log(tmp_path / "a.jsonl", 3, 0, field="writer")
    lk.ingest_logs(TABLE, log)
    done, puts = _lose_version(backend, 1, "ingest", "logs", TABLE, log, "--reparse")
    assert done.returncode == 0, done.stderr
    assert puts[:2] == [200, 412], puts
    assert sorted(runs_in_log(backend, lk, TABLE)) == [0, 1]
    assert _history(lk) == [(0, 3, 3), (1, 3, 3)]
    assert lk.sql(f"SELECT count(*) AS n FROM {TABLE}").rows() == [{"n": 3}]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_grown_file_whose_answer_was_lost_is_made_once(s3_only, lk, tmp_path):
    """A file whose unfinished last line was ingested grew: its rows from that line are
    replaced (deltalake's overwrite with a predicate)."""
    backend = s3_only
    path = tmp_path / "a.jsonl"
    write_log(path, 3, 0, field="writer")
    with path.open("a") as out:
        out.write('{"ts": "2026-11-20T10:00:00Z", "writer": 0, "k": 9')  # unfinished
    lk.ingest_logs(TABLE, str(path))
    with path.open("a") as out:
        out.write("}\n" + json.dumps({"ts": "2026-11-20T10:00:00Z", "writer": 0, "k": 10}) + "\n")
    done, puts = _lose_version(backend, 1, "ingest", "logs", TABLE, str(path))
    assert done.returncode == 0, done.stderr
    assert puts[:2] == [200, 412], puts
    assert sorted(runs_in_log(backend, lk, TABLE)) == [0, 1]
    by_k = lk.sql(f"SELECT k, count(*) AS n FROM {TABLE} GROUP BY k ORDER BY k").rows()
    assert by_k == [{"k": k, "n": 1} for k in (0, 1, 2, 9, 10)]


_EXTRACTS = {
    "overwrite": ("--table", "t"),
    "merge": ("--table", "t", "--mode", "incremental", "--cursor", "updated_at", "--key", "id"),
}


@pytest.mark.timeout(300)
@S3_POSTGRES
@pytest.mark.parametrize("kind", sorted(_EXTRACTS))
def test_a_rewrite_whose_log_entry_put_got_no_answer_is_in_doubt_not_failed(
    s3_only, lk, cli, tmp_path, kind
):
    """deltalake's PUT of the log entry got no answer (held, to land later) and its every
    retry failed: the write said the S3 server was unreachable, as if nothing were
    committed, and the entry then landed (a version of a run reported failed). The write
    is in doubt, as the lake's own entry is; the entry lands and the sync records it as
    the run's, once."""
    backend = s3_only
    url = _source(tmp_path / "src.db", [(1, "a", 1), (2, "b", 1)])
    args = ("ingest", "db", TABLE, "--source", url, *_EXTRACTS[kind])
    first = cli(*args)  # the version before the fault's: in this process
    assert first.exit_code == 0, first.stderr
    _source(tmp_path / "src.db", [(1, "a", 1), (2, "bb", 2), (3, "c", 2)])
    entry = "_delta_log/00000000000000000001.json"
    with S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as proxy:
        doubted = run_lake(backend, *args, AWS_ENDPOINT_URL=proxy.endpoint)
        assert_in_doubt(doubted, 1, TABLE)
        assert proxy.release() == [200]  # the late PUT lands
    runs = synced_runs(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    assert lk.run(runs[1]).status == "completed"
    rows = lk.sql(f"SELECT id, name FROM {TABLE} ORDER BY id").rows()
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": "bb"}, {"id": 3, "name": "c"}]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_compaction_whose_answer_was_lost_is_made_once(s3_only, lk, tmp_path):
    backend = s3_only
    for i in range(3):
        lk.ingest_logs(TABLE, write_log(tmp_path / f"{i}.jsonl", 2, i, field="writer"))
    done, puts = _lose_version(backend, 3, "optimize", TABLE)
    assert done.returncode == 0, done.stderr
    assert puts[:2] == [200, 412], puts
    assert lk.sql(f"SELECT count(*) AS n FROM {TABLE}").rows() == [{"n": 6}]
    assert sorted(runs_in_log(backend, lk, TABLE)) == [0, 1, 2, 3]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_an_overwrite_of_a_version_without_files_whose_later_answer_was_lost_is_made_once(
    s3_only, lk, cli, tmp_path
):
    """A full extract overwrites a table whose version has no files (its source was
    empty); another writer takes the next version meanwhile, so the overwrite commits
    through deltalake's retry one version later, and that PUT's answer is lost. deltalake
    took the refusal for yet another writer's commit, found no conflict (the overwrite
    removes no file) and committed the same overwrite a second time."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    from lake.core.names import TableName
    from tests.faults.conftest import child_env, lake_argv, stopped_child

    backend = s3_only
    url = _source(tmp_path / "src.db", [])
    args = ("ingest", "db", TABLE, "--source", url, "--table", "t")
    first = cli(*args)  # the version before the fault's: in this process
    assert first.exit_code == 0, first.stderr
    _source(tmp_path / "src.db", [(1, "a", 1), (2, "b", 1)])
    entry = "_delta_log/00000000000000000002.json"
    with S3FaultProxy(backend.s3.endpoint, LostAnswer(entry)) as proxy:
        env = child_env(backend, LAKE_FAILPOINT="upload:stop", AWS_ENDPOINT_URL=proxy.endpoint)
        with stopped_child(lake_argv(*args), env) as resume:
            # Another engine's append: the table's schema, one row.
            location = lk.catalog.get_table(TableName.parse(TABLE)).location
            schema = pa.schema(DeltaTable(location).schema().to_arrow())
            other = pa.Table.from_pylist([{"id": 9, "name": "z", "updated_at": 9}], schema)
            write_deltalake(location, other, mode="append")
            done = resume()
    puts = [status for method, path, status in proxy.seen if method == "PUT" and entry in path]
    assert puts[:2] == [200, 412], (puts, done.stderr)
    runs = runs_in_log(backend, lk, TABLE)
    assert sorted(runs) == [0, 1, 2], (runs, done.stderr)
    assert done.returncode == 0, done.stderr


def _no_checkpoints(method: str, path: str, _proxy: object) -> str | None:
    return "fail" if method == "PUT" and ".checkpoint" in path else None


def _checkpoints(backend, lk) -> list[str]:
    """The names of the table's checkpoint files, read straight from moto."""
    location = lk.catalog.get_table(TableName.parse(TABLE)).location
    bucket, _, prefix = location[len("s3://") :].partition("/")
    listed = backend.s3.client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_delta_log/")
    keys = [item["Key"].rsplit("/", 1)[1] for item in listed.get("Contents", [])]
    return [k for k in keys if ".checkpoint" in k]


@pytest.mark.timeout(600)
@S3_POSTGRES
def test_a_commit_whose_checkpoint_failed_is_reported_made(s3_only, lk, cli, tmp_path):
    """deltalake writes a checkpoint after the commit that reaches the table's interval;
    when that PUT fails the commit is made all the same, and the write reported the S3
    server as unreachable (a run failed whose version is the table's). It succeeds, and
    the checkpoint is left to a later writer.

    The commits before the checkpoint's are made in this process, straight to moto (a
    process each took 2-4 s of the test's 40): they write no checkpoint, which is checked."""
    backend = s3_only
    url = _source(tmp_path / "src.db", [(1, "a", 0)])
    args = ("ingest", "db", TABLE, "--source", url, "--table", "t")
    for n in range(9):
        _source(tmp_path / "src.db", [(1, "a", n), (2, "b", n)][: 1 + n % 2])
        made = cli(*args)
        assert made.exit_code == 0, (n, made.stderr)
        assert "deltalake failed after it" not in made.stderr, (n, made.stderr)
    assert _checkpoints(backend, lk) == []

    warned = []
    with S3FaultProxy(backend.s3.endpoint, _no_checkpoints) as proxy:
        for n in range(9, 12):
            _source(tmp_path / "src.db", [(1, "a", n), (2, "b", n)][: 1 + n % 2])
            done = run_lake(backend, *args, AWS_ENDPOINT_URL=proxy.endpoint)
            assert done.returncode == 0, (n, done.stderr)
            if "is committed, but deltalake failed after it" in done.stderr:
                warned.append(n)
    assert warned == [9], warned  # the checkpoint at version 9 (interval 10)
    refused = [p for method, p, status in proxy.seen if method == "PUT" and status == 503]
    assert refused, "a checkpoint was written and refused"
    runs = runs_in_log(backend, lk, TABLE)
    assert sorted(runs) == list(range(12)), runs
    assert all(lk.run(run).status == "completed" for run in runs.values())
    assert [v.version for v in lk.history(TABLE)] == list(range(12))


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_compaction_whose_log_entry_put_got_no_answer_is_in_doubt_and_synced_once(
    s3_only, lk, tmp_path
):
    """The compaction's own entry (as an append's): its PUT got no answer and every retry
    failed; the files it refers to stay, the entry lands later, and the sync records the
    compaction as its run's, once, with every row as it was."""
    backend = s3_only
    for i in range(3):
        lk.ingest_logs(TABLE, write_log(tmp_path / f"{i}.jsonl", 2, i, field="writer"))
    entry = "_delta_log/00000000000000000003.json"
    with S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as proxy:
        doubted = run_lake(backend, "optimize", TABLE, AWS_ENDPOINT_URL=proxy.endpoint)
        assert_in_doubt(doubted, 3, TABLE)
        assert proxy.release() == [200]  # the late PUT lands
    runs = synced_runs(backend, lk, TABLE)
    assert sorted(runs) == [0, 1, 2, 3], runs
    assert lk.run(runs[3]).status == "completed"
    assert [v.operation for v in lk.history(TABLE)][-1] == "OPTIMIZE"
    counts = lk.sql(f"SELECT writer, count(*) AS n FROM {TABLE} GROUP BY writer ORDER BY writer")
    assert counts.rows() == [{"writer": w, "n": 2} for w in range(3)]
    assert len(lk.describe(TABLE).snapshot.files) == 1


@pytest.mark.timeout(600)
@S3_POSTGRES
def test_an_append_adding_a_column_whose_checkpoint_failed_is_reported_made(
    s3_only, lk, cli, tmp_path
):
    """The append that reaches the checkpoint interval adds a column: deltalake's
    schema-merging append commits it and then fails to PUT the checkpoint. That path
    reported the failure as the write's own (the run failed, its version in the table),
    where every other deltalake commit reports the commit made, with a warning.

    The appends before it are made in this process, straight to moto (as above)."""
    backend = s3_only
    for n in range(9):
        made = cli(
            "ingest", "logs", TABLE, write_log(tmp_path / f"{n}.jsonl", 1, n, field="writer")
        )
        assert made.exit_code == 0, (n, made.stderr)
    assert _checkpoints(backend, lk) == []

    with S3FaultProxy(backend.s3.endpoint, _no_checkpoints) as proxy:
        path = tmp_path / "9.jsonl"
        write_log(path, 1, 9, field="writer")
        # a new field: the table gains a column in version 9
        path.write_text(path.read_text().replace('"k": 0', '"k": 0, "extra": "x"'))
        done = run_lake(
            backend, "ingest", "logs", TABLE, str(path), AWS_ENDPOINT_URL=proxy.endpoint
        )
        assert done.returncode == 0, done.stderr
    assert "is committed, but deltalake failed after it" in done.stderr, done.stderr
    refused = [p for method, p, status in proxy.seen if method == "PUT" and status == 503]
    assert refused, "a checkpoint was written and refused"
    runs = runs_in_log(backend, lk, TABLE)
    assert sorted(runs) == list(range(10)), runs
    assert all(lk.run(run).status == "completed" for run in runs.values())
    assert lk.sql(f"SELECT count(extra) AS n FROM {TABLE}").rows() == [{"n": 1}]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_compaction_of_a_typed_partition_whose_answer_was_lost_is_made_once(s3_only, lk):
    """A table partitioned by a double (a type whose values each writer spells its own way)
    was compacted by deltalake's optimize, which drops the retries and application
    transaction it is given: after the lost answer it committed the same removes and adds
    again as version 3. Made once, by the lake's own commit."""
    import uuid

    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    backend = s3_only
    uri = f"s3://{backend.s3.bucket}/fallback-{uuid.uuid4().hex[:8]}/floats"
    options = lk.storage.delta_options()
    for first in (0, 3):
        rows = pa.table({"id": pa.array(range(first, first + 3), pa.int64()), "f": [1.5] * 3})
        write_deltalake(uri, rows, mode="append", partition_by=["f"], storage_options=options)
    lk.register_table("ext.floats", uri)
    entry = "_delta_log/00000000000000000002.json"
    with S3FaultProxy(backend.s3.endpoint, LostAnswer(entry)) as proxy:
        done = run_lake(
            backend, "optimize", "ext.floats", "--owned", AWS_ENDPOINT_URL=proxy.endpoint
        )
    puts = [status for method, path, status in proxy.seen if method == "PUT" and entry in path]
    assert puts[:2] == [200, 412], (puts, done.stderr)
    assert done.returncode == 0, done.stderr
    ids = lk.sql("SELECT id FROM ext.floats ORDER BY id").rows()
    assert ids == [{"id": i} for i in range(6)]
    assert sorted(runs_in_log(backend, lk, "ext.floats")) == [0, 1, 2]
    table = DeltaTable(uri, storage_options=options)
    assert sorted(table.to_pyarrow_table().column("id").to_pylist()) == list(range(6))
    assert len(table.file_uris()) == 1


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_compaction_by_deltalake_whose_answer_was_lost_is_made_once(s3_only, lk):
    """A writer feature the lake's own commit does not know (v2 checkpoints) leaves the
    compaction to deltalake's optimize, which drops the retries and application
    transaction it is given: after the lost answer it committed the same removes and adds
    again one version later. Its PUT is not retried by deltalake, so the lost answer is an
    error the compaction reads back: made once."""
    from tests.delta import external

    backend = s3_only
    uri, options = _v2_checkpoint_table(backend, lk, "ext.v2")
    entry = "_delta_log/00000000000000000003.json"
    with S3FaultProxy(backend.s3.endpoint, LostAnswer(entry)) as proxy:
        done = run_lake(backend, "optimize", "ext.v2", "--owned", AWS_ENDPOINT_URL=proxy.endpoint)
    puts = [status for method, path, status in proxy.seen if method == "PUT" and entry in path]
    assert puts[:1] == [200], (puts, done.stderr)
    assert done.returncode == 0, done.stderr
    runs = runs_in_log(backend, lk, "ext.v2")
    assert sorted(runs) == [0, 1, 2, 3], (runs, done.stderr)
    assert lk.sql("SELECT id FROM ext.v2 ORDER BY id").rows() == [{"id": i} for i in range(6)]
    commit = next(a["commitInfo"] for a in external.read_log_entry(uri, options, 3))
    assert commit["clientVersion"] != "lake" and commit["lake.run_id"] == runs[3]


class _FailFirstDataPut:
    """The first PUT of a data file is answered 503 (SlowDown) and not carried out."""

    def __init__(self) -> None:
        self.failed = False

    def __call__(self, method: str, path: str, _proxy: object) -> str | None:
        if not self.failed and method == "PUT" and path.endswith(".parquet"):
            if "_delta_log" not in path:
                self.failed = True
                return "fail"
        return None


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_compaction_by_deltalake_that_meets_a_busy_server_says_to_run_it_again(s3_only, lk):
    """deltalake's optimize runs with no retries of its S3 client (see above): one 503 fails
    the compaction. The user is told in one line to run it again (the line named only the
    status), nothing is committed, the table reads at its last version, and the next run
    compacts it."""
    backend = s3_only
    _v2_checkpoint_table(backend, lk, "ext.busy")
    rule = _FailFirstDataPut()
    with S3FaultProxy(backend.s3.endpoint, rule) as proxy:
        done = run_lake(backend, "optimize", "ext.busy", "--owned", AWS_ENDPOINT_URL=proxy.endpoint)
    told = (rule.failed, done.returncode, done.stdout, done.stderr)
    assert rule.failed and done.returncode == 1, told
    # deltalake's writer thread may print a panic of its own first (object_store's upload
    # task, "Already shut down"): the lake's line is the last.
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "503" in line, done.stderr
    assert line.endswith("run the command again."), line
    assert sorted(runs_in_log(backend, lk, "ext.busy")) == [0, 1, 2]
    assert lk.sql("SELECT id FROM ext.busy ORDER BY id").rows() == [{"id": i} for i in range(6)]
    again = in_process("optimize", "ext.busy", "--owned")
    assert again.returncode == 0, again.stderr
    assert sorted(runs_in_log(backend, lk, "ext.busy")) == [0, 1, 2, 3]
    assert lk.sql("SELECT id FROM ext.busy ORDER BY id").rows() == [{"id": i} for i in range(6)]


def _v2_checkpoint_table(backend, lk, name: str) -> tuple[str, dict[str, str]]:
    """A table of two appends (ids 0-5) whose protocol names v2 checkpoints, a writer feature
    the lake's own compaction commit does not know, registered as ``name``: its location and
    storage options."""
    import uuid

    import pyarrow as pa
    from deltalake import write_deltalake

    from tests.delta import external

    uri = f"s3://{backend.s3.bucket}/fallback-{uuid.uuid4().hex[:8]}/v2"
    options = lk.storage.delta_options()
    for first in (0, 3):
        rows = pa.table({"id": pa.array(range(first, first + 3), pa.int64())})
        write_deltalake(uri, rows, mode="append", storage_options=options)
    protocol = {
        "minReaderVersion": 3,
        "minWriterVersion": 7,
        "readerFeatures": ["v2Checkpoint"],
        "writerFeatures": ["v2Checkpoint"],
    }
    info = {"timestamp": 1, "operation": "UPGRADE PROTOCOL", "clientVersion": "test"}
    external.write_log_entry(uri, options, 2, [{"commitInfo": info}, {"protocol": protocol}])
    lk.register_table(name, uri)
    return uri, options
