"""A commit whose outcome the writer cannot know: refused, then unreadable.

The lake's own append writes its Delta log entry with a put-if-absent. When the server
stores that PUT but its answer is lost, the client sends it again and the server refuses it
(the entry exists: this run's own). The writer reads the entry back to tell; when that read
fails too, it cannot know whether the version is its own, and must say so rather than
commit the rows again at the next version. A loopback HTTP proxy in front of the real moto
server (tests/faults/s3_faults.py) loses the PUT's answer and fails the read-back; the
writer is a child process, as a user's command would be (deltalake holds the GIL while it
waits for the proxy in this process). The commands around it that go straight to the
server (the refused ingests, the syncs, the ingests after them) run in this process
(``in_process``), which spares a process start (1-2 CPU-s) each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.faults.conftest import (
    S3_POSTGRES,
    Proc,
    assert_in_doubt,
    assert_one_line_error,
    child_env,
    in_process,
    lake_argv,
    run_lake,
    runs_in_log,
    stopped_child,
    synced_runs,
    write_log,
)
from tests.faults.s3_faults import (
    HeldThenRefused,
    LostAnswer,
    LostAnswerThenUnreadable,
    S3FaultProxy,
)

TABLE = "doubt.events"


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_refused_log_entry_that_cannot_be_read_back_is_a_commit_in_doubt_never_a_retry(
    s3_only, lk, tmp_path
):
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    entry = "_delta_log/00000000000000000001.json"
    with S3FaultProxy(backend.s3.endpoint, LostAnswerThenUnreadable(entry)) as proxy:
        doubted = run_lake(
            backend,
            "ingest",
            "logs",
            TABLE,
            write_log(tmp_path / "second.jsonl", 3, 1, field="writer"),
            AWS_ENDPOINT_URL=proxy.endpoint,
        )
    assert doubted.returncode == 1, doubted.stderr
    line = assert_one_line_error(doubted.stderr, r"in doubt")
    assert "version 1" in line and TABLE in line and "lake catalog sync" in line, line
    # The first PUT was stored (its answer lost), the second refused, the read-back failed.
    puts = [status for method, path, status in proxy.seen if method == "PUT" and entry in path]
    assert puts == [200, 412], proxy.seen
    runs = runs_in_log(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], "nothing was committed again at the next version"
    doubted_run = runs[1]
    # Readable at its last good version meanwhile.
    assert lk.sql(f"SELECT count(*) AS n FROM {TABLE} VERSION AS OF 0").rows() == [{"n": 2}]
    # The next write records the doubted version once, as the run's, then lands its own.
    landed = lk.ingest_logs(TABLE, write_log(tmp_path / "third.jsonl", 4, 2, field="writer"))
    assert landed.version == 2
    assert _versions(lk) == [
        (0, 2, 2),
        (1, 3, 5),
        (2, 4, 9),
    ]
    assert lk.history(TABLE)[1].run_id == doubted_run
    assert lk.run(doubted_run).status == "completed"
    by_writer = f"SELECT writer, count(*) AS n FROM {TABLE} GROUP BY writer ORDER BY writer"
    assert lk.sql(by_writer).rows() == [
        {"writer": 0, "n": 2},
        {"writer": 1, "n": 3},
        {"writer": 2, "n": 4},
    ]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_tables_first_commit_whose_answer_was_lost_is_made_once(s3_only, lk, tmp_path):
    """The create's PUT of version 0 is stored, its answer lost, the retry refused: the
    writer finds version 0 is its own, rather than take it for another writer's create and
    commit its files again as version 1."""
    backend = s3_only
    entry = "_delta_log/00000000000000000000.json"
    with S3FaultProxy(backend.s3.endpoint, LostAnswer(entry)) as proxy:
        made = run_lake(
            backend,
            "ingest",
            "logs",
            TABLE,
            write_log(tmp_path / "first.jsonl", 2, 0, field="writer"),
            AWS_ENDPOINT_URL=proxy.endpoint,
        )
    assert made.returncode == 0, made.stderr
    puts = [status for method, path, status in proxy.seen if method == "PUT" and entry in path]
    assert puts[:2] == [200, 412], proxy.seen
    runs = runs_in_log(backend, lk, TABLE)
    assert list(runs) == [0], runs
    assert _versions(lk) == [(0, 2, 2)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_an_append_adding_a_column_whose_answer_was_lost_is_made_once(s3_only, lk, tmp_path):
    """deltalake's schema-merging append: its PUT of version 1 is stored, the answer lost,
    the retry refused, and deltalake reports the race as lost to a commit that changed the
    schema (its own). The writer finds version 1 is its own rather than append the rows a
    second time onto the schema they brought."""
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    wider = tmp_path / "wider.jsonl"
    wider.write_text(
        "".join(
            json.dumps({"ts": "2026-11-20T11:00:00Z", "writer": 1, "k": k, "extra": "x"}) + "\n"
            for k in range(3)
        )
    )
    entry = "_delta_log/00000000000000000001.json"
    with S3FaultProxy(backend.s3.endpoint, LostAnswer(entry)) as proxy:
        done = run_lake(
            backend, "ingest", "logs", TABLE, str(wider), AWS_ENDPOINT_URL=proxy.endpoint
        )
    assert done.returncode == 0, done.stderr
    puts = [status for method, path, status in proxy.seen if method == "PUT" and entry in path]
    assert puts[:2] == [200, 412], proxy.seen
    runs = runs_in_log(backend, lk, TABLE)
    assert list(runs) == [0, 1], runs
    by_writer = f"SELECT writer, count(*) AS n FROM {TABLE} GROUP BY writer ORDER BY writer"
    assert lk.sql(by_writer).rows() == [{"writer": 0, "n": 2}, {"writer": 1, "n": 3}]
    assert _versions(lk) == [(0, 2, 2), (1, 3, 5)]


@contextmanager
def _late_through_deltalake(backend, lk, tmp_path, rule) -> Iterator[tuple[Proc, S3FaultProxy]]:
    """This process ingests version 0 (2 rows); a child's ingest (3 rows) stops before its
    own commit, loses version 1 to this process's next ingest (4 rows), and goes on through
    deltalake at version 2, through a proxy applying ``rule``. Yields the child's result and
    the proxy, still serving."""
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    with S3FaultProxy(backend.s3.endpoint, rule) as proxy:
        env = child_env(backend, LAKE_FAILPOINT="own_commit:stop", AWS_ENDPOINT_URL=proxy.endpoint)
        argv = lake_argv(
            "ingest", "logs", TABLE, write_log(tmp_path / "late.jsonl", 3, 1, field="writer")
        )
        with stopped_child(argv, env) as resume:
            # The child published its file and is about to write version 1: take it.
            winner = write_log(tmp_path / "winner.jsonl", 4, 2, field="writer")
            assert lk.ingest_logs(TABLE, winner).version == 1
            late = resume()
        yield late, proxy


def _versions(lk) -> list[tuple[int, int, int]]:
    """Each recorded version of the table: its number, rows added and rows in all."""
    return [(v.version, v.rows_added, v.rows_total) for v in lk.history(TABLE)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_an_append_through_deltalake_whose_answer_was_lost_is_made_once(s3_only, lk, tmp_path):
    """The lake's own log entry lost its version to another writer, so the append commits
    through deltalake at the next one; that PUT is stored, its answer lost, the retry
    refused. deltalake took the refusal for a third writer's blind append (no conflict) and
    committed the same add actions again one version later: a second version of one run
    (readers keep one add per path, so the rows were not doubled, but the history showed an
    empty version 3 by the same run). The writer must find the version is its own."""
    backend = s3_only
    entry = "_delta_log/00000000000000000002.json"
    with _late_through_deltalake(backend, lk, tmp_path, LostAnswer(entry)) as (late, proxy):
        pass
    assert late.returncode == 0, late.stderr
    puts = [status for method, path, status in proxy.seen if method == "PUT" and entry in path]
    assert puts[:2] == [200, 412], proxy.seen
    runs = runs_in_log(backend, lk, TABLE)
    assert sorted(runs) == [0, 1, 2], runs
    by_writer = f"SELECT writer, count(*) AS n FROM {TABLE} GROUP BY writer ORDER BY writer"
    assert lk.sql(by_writer).rows() == [
        {"writer": 0, "n": 2},
        {"writer": 1, "n": 3},
        {"writer": 2, "n": 4},
    ]
    assert _versions(lk) == [(0, 2, 2), (1, 4, 6), (2, 3, 9)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_an_append_through_deltalake_whose_put_got_no_answer_is_in_doubt_not_failed(
    s3_only, lk, tmp_path
):
    """As above, but deltalake's PUT got no answer (held, to land later) and its every retry
    failed: the append said the S3 server was unreachable, as if nothing were committed,
    and the entry then landed. It is in doubt, as the lake's own entry is; the sync then
    records the version as the run's, once."""
    backend = s3_only
    entry = "_delta_log/00000000000000000002.json"
    rule = HeldThenRefused(entry, until_read=False)
    with _late_through_deltalake(backend, lk, tmp_path, rule) as (late, proxy):
        assert_in_doubt(late, 2, TABLE)
        assert proxy.release() == [200]  # the late PUT lands
    runs = synced_runs(backend, lk, TABLE)
    assert sorted(runs) == [0, 1, 2], runs
    assert lk.run(runs[2]).status == "completed"
    assert _versions(lk) == [(0, 2, 2), (1, 4, 6), (2, 3, 9)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_log_entry_whose_put_got_no_answer_and_is_not_there_is_in_doubt_not_failed(
    s3_only, lk, tmp_path
):
    """The PUT of the append's log entry got no answer, every PUT after it failed, and the
    entry is not there when read back: the PUT may still land, so the write is in doubt
    (it said the server refused it, as if nothing were committed). It lands; the sync then
    records it as the run's, once."""
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    entry = "_delta_log/00000000000000000001.json"
    with S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as proxy:
        doubted = run_lake(
            backend,
            "ingest",
            "logs",
            TABLE,
            write_log(tmp_path / "second.jsonl", 3, 1, field="writer"),
            AWS_ENDPOINT_URL=proxy.endpoint,
        )
        assert_in_doubt(doubted, 1, TABLE)
        assert proxy.release() == [200]  # the late PUT lands
    runs = synced_runs(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    assert _versions(lk) == [(0, 2, 2), (1, 3, 5)]
    assert lk.run(runs[1]).status == "completed"


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_log_entry_whose_put_got_no_answer_is_sent_again_and_made_once(s3_only, lk, tmp_path):
    """The PUT of the append's log entry got no answer and the entry is not there when read
    back: the writer sends it again (only one of the two can land, both its own) instead
    of failing the write."""
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    entry = "_delta_log/00000000000000000001.json"
    with S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=True)) as proxy:
        done = run_lake(
            backend,
            "ingest",
            "logs",
            TABLE,
            write_log(tmp_path / "second.jsonl", 3, 1, field="writer"),
            AWS_ENDPOINT_URL=proxy.endpoint,
        )
        assert done.returncode == 0, done.stderr
        assert proxy.release() == [412]  # the late PUT is refused: the entry is there
    runs = runs_in_log(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    assert _versions(lk) == [(0, 2, 2), (1, 3, 5)]


def _again_while_the_late_entry_lands(backend, entry: str, args: tuple[str, ...]):
    """``lake ARGS`` through a proxy that holds the PUT of ``entry``: the write ends in
    doubt. Then the same write again, straight to the server and held just before its own
    commit (if it gets there) while the held PUT lands. Returns whether it got there and
    how it ended."""
    with S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as proxy:
        doubted = run_lake(backend, *args, AWS_ENDPOINT_URL=proxy.endpoint)
        version = int(entry.rsplit("/", 1)[1].split(".")[0])
        assert_in_doubt(doubted, version, TABLE)
        env = child_env(backend, LAKE_FAILPOINT="own_commit:stop")
        child = subprocess.Popen(
            lake_argv(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            _, status = os.waitpid(child.pid, os.WUNTRACED)
            stopped = os.WIFSTOPPED(status)
            assert proxy.release() == [200]  # the late entry lands meanwhile
            if stopped:  # the claim was let go: the write goes on to commit
                os.kill(child.pid, signal.SIGCONT)
            out, err = child.communicate(timeout=200)
        finally:
            if child.poll() is None:
                child.kill()
    return stopped, Proc(child.returncode, out, err)


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_the_claims_of_a_run_in_doubt_hold_until_a_sync_so_its_late_entry_lands_once(
    s3_only, lk, tmp_path
):
    """A log ingest's entry got no answer (held, to land later): the run ended in doubt
    holding its claim on the file. The next ingest of the same file took that claim for
    an ended run's once its own look at the log did not find the commit, let it go, and
    prepared; the late entry landed before that ingest committed, which then committed
    the same rows again one version later. It must be refused until `lake catalog sync`
    settles the run; after the sync the late entry is the run's, and the file is not
    ingested again."""
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    second = write_log(tmp_path / "second.jsonl", 3, 1, field="writer")
    entry = "_delta_log/00000000000000000001.json"
    stopped, again = _again_while_the_late_entry_lands(
        backend, entry, ("ingest", "logs", TABLE, second)
    )
    by_writer = f"SELECT writer, count(*) AS n FROM {TABLE} GROUP BY writer ORDER BY writer"
    once = [{"writer": 0, "n": 2}, {"writer": 1, "n": 3}]
    assert lk.sql(by_writer).rows() == once, "the late entry's rows were committed again"
    assert not stopped, again.stderr
    assert_one_line_error(
        again.stderr, rf"commit of version 1 is in doubt\); run `lake catalog sync {TABLE}` first"
    )
    runs = synced_runs(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    assert lk.run(runs[1]).status == "completed"
    assert in_process("ingest", "logs", TABLE, second).returncode == 0
    assert _versions(lk) == [(0, 2, 2), (1, 3, 5)]
    assert lk.sql(by_writer).rows() == once


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_the_watermark_claim_of_an_extract_in_doubt_holds_until_a_sync(s3_only, lk, cli, tmp_path):
    """The same for an incremental extract that appends the rows past its watermark: its
    claim on them lived only while its run was running, so the next extract read past the
    same watermark and appended the rows of the late entry again."""
    import sqlite3

    backend = s3_only
    source = tmp_path / "src.db"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, updated_at INTEGER)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(1, 1), (2, 1)])
    args = ("ingest", "db", TABLE, "--source", f"sqlite:///{source}", "--table", "t")
    args += ("--mode", "incremental", "--cursor", "updated_at")
    first = cli(*args)  # the version before the fault's: in this process, straight to moto
    assert first.exit_code == 0, first.stderr
    with sqlite3.connect(source) as db:
        db.execute("INSERT INTO t VALUES (3, 2)")
    entry = "_delta_log/00000000000000000001.json"
    stopped, again = _again_while_the_late_entry_lands(backend, entry, args)
    by_id = f"SELECT id, count(*) AS n FROM {TABLE} GROUP BY id ORDER BY id"
    once = [{"id": 1, "n": 1}, {"id": 2, "n": 1}, {"id": 3, "n": 1}]
    assert lk.sql(by_id).rows() == once, "the late entry's rows were appended again"
    assert not stopped, again.stderr
    assert_one_line_error(again.stderr, rf"run `lake catalog sync {TABLE}` first")
    runs = synced_runs(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    assert in_process(*args).returncode == 0  # nothing past the watermark now
    assert lk.sql(by_id).rows() == once


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_sync_that_does_not_find_the_commit_of_a_run_in_doubt_lets_its_claims_go(
    s3_only, lk, tmp_path
):
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    entry = "_delta_log/00000000000000000001.json"
    second = write_log(tmp_path / "second.jsonl", 3, 1, field="writer")
    with S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as proxy:
        doubted = run_lake(
            backend, "ingest", "logs", TABLE, second, AWS_ENDPOINT_URL=proxy.endpoint
        )
        assert_in_doubt(doubted, 1, TABLE)
        refused = in_process("ingest", "logs", TABLE, second)
        assert_one_line_error(refused.stderr, rf"run `lake catalog sync {TABLE}` first")
        synced = in_process("catalog", "sync", TABLE, "--output", "json")
        assert synced.returncode == 0, synced.stderr
        # The entry is not there: the claims go, and the sync names the run they were of.
        [result] = json.loads(synced.stdout)
        assert result["recorded"] == [] and len(result["released"]) == 1, result
        assert lk.run(result["released"][0]).status == "failed"
        assert sorted(runs_in_log(backend, lk, TABLE)) == [0]
        landed = in_process("ingest", "logs", TABLE, second)
        assert landed.returncode == 0, landed.stderr
        assert proxy.release() == [412]  # too late: version 1 is the new ingest's
    assert _versions(lk) == [(0, 2, 2), (1, 3, 5)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_two_runs_in_doubt_on_one_table_block_only_their_own_files_and_one_sync_settles_both(
    s3_only, lk, tmp_path
):
    """Two log ingests of different files both end in doubt at version 1 (their PUTs
    held): the second was not refused for the first's claim (another file). A third ingest
    of the first's file is refused. Once both PUTs are let go (the first lands, the second
    finds version 1 taken), one sync records the first and lets the second's claims go:
    its file is ingested once, the first's is not ingested again."""
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    second = write_log(tmp_path / "second.jsonl", 3, 1, field="writer")
    other = write_log(tmp_path / "other.jsonl", 4, 2, field="writer")
    entry = "_delta_log/00000000000000000001.json"
    with (
        S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as one,
        S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as two,
    ):
        a = run_lake(backend, "ingest", "logs", TABLE, second, AWS_ENDPOINT_URL=one.endpoint)
        assert_in_doubt(a, 1, TABLE)
        b = run_lake(backend, "ingest", "logs", TABLE, other, AWS_ENDPOINT_URL=two.endpoint)
        assert_in_doubt(b, 1, TABLE)
        refused = in_process("ingest", "logs", TABLE, second)
        assert_one_line_error(refused.stderr, rf"run `lake catalog sync {TABLE}` first")
        assert one.release() == [200]
        assert two.release() == [412]
    runs = synced_runs(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    for args in ((other,), (second,)):
        done = in_process("ingest", "logs", TABLE, *args)
        assert done.returncode == 0, done.stderr
    by_writer = f"SELECT writer, count(*) AS n FROM {TABLE} GROUP BY writer ORDER BY writer"
    assert lk.sql(by_writer).rows() == [
        {"writer": 0, "n": 2},
        {"writer": 1, "n": 3},
        {"writer": 2, "n": 4},
    ]
    assert _versions(lk) == [(0, 2, 2), (1, 3, 5), (2, 4, 9)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_late_entry_that_lands_after_the_sync_let_its_claims_go_is_recorded_not_repeated(
    s3_only, lk, tmp_path
):
    """The user syncs while the PUT is still on its way (the claims go), and it lands
    afterwards: the next ingest of the same file records the late version as the run's
    (its ranges committed with it) and skips the file, rather than ingest it again."""
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    second = write_log(tmp_path / "second.jsonl", 3, 1, field="writer")
    entry = "_delta_log/00000000000000000001.json"
    with S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as proxy:
        doubted = run_lake(
            backend, "ingest", "logs", TABLE, second, AWS_ENDPOINT_URL=proxy.endpoint
        )
        assert_in_doubt(doubted, 1, TABLE)
        assert sorted(synced_runs(backend, lk, TABLE)) == [0]
        assert proxy.release() == [200]
    again = in_process("ingest", "logs", TABLE, second)
    assert again.returncode == 0, again.stderr
    by_writer = f"SELECT writer, count(*) AS n FROM {TABLE} GROUP BY writer ORDER BY writer"
    assert lk.sql(by_writer).rows() == [{"writer": 0, "n": 2}, {"writer": 1, "n": 3}]
    runs = runs_in_log(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    assert lk.run(runs[1]).status == "completed"


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_an_append_adding_a_column_whose_entry_put_got_no_answer_is_in_doubt(s3_only, lk, tmp_path):
    """deltalake's schema-merging append (the file adds a field): every PUT of its entry
    failed, the first held to land later. It said the S3 server refused the write, a plain
    failure whose claims the next ingest of the file let go: it must say the commit is in
    doubt and keep them until a sync."""
    backend = s3_only
    lk.ingest_logs(TABLE, write_log(tmp_path / "first.jsonl", 2, 0, field="writer"))
    wider = tmp_path / "wider.jsonl"
    write_log(wider, 3, 1, field="writer")
    wider.write_text(wider.read_text().replace('"k": ', '"extra": "x", "k": '))
    entry = "_delta_log/00000000000000000001.json"
    with S3FaultProxy(backend.s3.endpoint, HeldThenRefused(entry, until_read=False)) as proxy:
        doubted = run_lake(
            backend, "ingest", "logs", TABLE, str(wider), AWS_ENDPOINT_URL=proxy.endpoint
        )
        assert_in_doubt(doubted, 1, TABLE)
        refused = in_process("ingest", "logs", TABLE, str(wider))
        assert_one_line_error(refused.stderr, rf"run `lake catalog sync {TABLE}` first")
        assert proxy.release() == [200]
    runs = synced_runs(backend, lk, TABLE)
    assert sorted(runs) == [0, 1], runs
    assert in_process("ingest", "logs", TABLE, str(wider)).returncode == 0
    assert lk.sql(f"SELECT count(extra) AS n FROM {TABLE}").rows() == [{"n": 3}]
