"""Two processes ingesting the same log file into the same table at the same time.

A sequential second ingest skips a file the first one took (the ingest ledger); two at
once planned on the same ledger and both committed the file, every record twice. One of
them is stopped at a failpoint (lake/failpoints.py) while the other runs whole, in each
order: exactly one commits the file's range, the other is refused with one sentence and
commits nothing, leaves no data file and no staged file behind, and running it again
does what a sequential ingest does.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from lake.core.errors import LakeError
from tests.faults.conftest import (
    assert_one_line_error,
    child_env,
    data_files,
    lake_argv,
    ledger_and_outputs,
    run_lake,
    stopped_child,
)

TABLE = "race.events"
RECORDS = 5


def _append(path: Path, tag: str, first: int, records: int) -> str:
    with path.open("a") as handle:
        for k in range(first, first + records):
            handle.write(json.dumps({"ts": "2026-11-20T10:00:00Z", "tag": tag, "k": k}) + "\n")
    return str(path)


def _stopped_ingest(backend, path: str, point: str, tmp: Path):
    """``lake ingest logs TABLE PATH`` in a child held at failpoint ``point`` (see
    :func:`stopped_child`), staging in its temporary folder ``tmp``."""
    tmp.mkdir()
    env = child_env(backend, LAKE_FAILPOINT=f"{point}:stop", TMPDIR=str(tmp))
    return stopped_child(lake_argv("ingest", "logs", TABLE, path, "--output", "json"), env)


def _rows(lk) -> tuple[int, int]:
    row = lk.sql(f"SELECT count(*) AS n, count(DISTINCT (tag, k)) AS d FROM {TABLE}").rows()[0]
    return row["n"], row["d"]


def _no_leftovers(backend, lk, tmp: Path) -> None:
    referenced = {f.path for f in lk.delta(lk.table(TABLE)).snapshot().files}
    assert data_files(backend, lk, TABLE) == referenced, "no data file of the loser is left"
    assert list(tmp.iterdir()) == [], "the loser's staged files are removed"


@pytest.mark.timeout(240)
def test_an_ingest_that_planned_before_another_took_the_file_is_refused(backend, lk, tmp_path):
    """The child has planned and parsed the file, not yet entered it in the ledger; the
    other ingest takes the file whole meanwhile. The child must not commit it again."""
    lk.ingest_logs(TABLE, _append(tmp_path / "other.jsonl", "other", 0, 1))
    log = _append(tmp_path / "app.jsonl", "app", 0, RECORDS)
    with _stopped_ingest(backend, log, "prepare", tmp_path / "child-tmp") as resume:
        won = lk.ingest_logs(TABLE, log)
        assert won.version == 1 and won.records_read == RECORDS
        late = resume()
    assert _rows(lk) == (1 + RECORDS, 1 + RECORDS), "every record once"
    assert late.returncode == 1, late.stdout
    assert_one_line_error(
        late.stderr,
        rf"{log}.* was ingested into {TABLE} by run {won.run_id} .*run the ingest again",
    )
    assert [v.version for v in lk.history(TABLE)] == [0, 1]
    _no_leftovers(backend, lk, tmp_path / "child-tmp")
    # Run again, it does what a sequential second ingest does: skips the file.
    again = lk.ingest_logs(TABLE, log)
    assert again.version is None and again.files_skipped == 1
    assert _rows(lk) == (1 + RECORDS, 1 + RECORDS)


@pytest.mark.timeout(240)
def test_an_ingest_of_a_file_another_ingest_is_committing_is_refused(backend, lk, tmp_path):
    """The child has entered the file's range in the ledger (pending) and not committed
    yet; an ingest of the same file meanwhile is refused, and the child commits."""
    lk.ingest_logs(TABLE, _append(tmp_path / "other.jsonl", "other", 0, 1))
    log = _append(tmp_path / "app.jsonl", "app", 0, RECORDS)
    with _stopped_ingest(backend, log, "upload", tmp_path / "child-tmp") as resume:
        refused = None
        try:
            lk.ingest_logs(TABLE, log)
        except LakeError as error:
            refused = error
        first = resume()
    assert _rows(lk) == (1 + RECORDS, 1 + RECORDS), "every record once"
    assert first.returncode == 0, first.stderr[-3000:]
    report = json.loads(first.stdout)
    assert report["version"] == 1
    assert refused is not None
    assert str(refused).startswith(
        f"file://{log} is being ingested into {TABLE} by run {report['run_id']}; "
        "run the ingest again"
    ), str(refused)
    history = lk.history(TABLE)
    assert [v.version for v in history] == [0, 1] and history[1].run_id == report["run_id"]
    referenced = {f.path for f in lk.delta(lk.table(TABLE)).snapshot().files}
    assert data_files(backend, lk, TABLE) == referenced, "no data file of the loser is left"
    again = lk.ingest_logs(TABLE, log)
    assert again.version is None and again.files_skipped == 1


@pytest.mark.timeout(240)
def test_a_grown_file_ingested_twice_at_once_stores_its_common_lines_once(backend, lk, tmp_path):
    """The child read the file at 5 lines; it grows to 10 and the other ingest takes all
    10. The child's 5 lines are among them: it is refused, and the next ingest finds
    nothing new; after another 5 lines it takes only those."""
    log = _append(tmp_path / "app.jsonl", "app", 0, RECORDS)
    lk.ingest_logs(TABLE, _append(tmp_path / "other.jsonl", "other", 0, 1))
    with _stopped_ingest(backend, log, "prepare", tmp_path / "child-tmp") as resume:
        _append(tmp_path / "app.jsonl", "app", RECORDS, RECORDS)
        won = lk.ingest_logs(TABLE, log)
        assert won.records_read == 2 * RECORDS
        late = resume()
    assert _rows(lk) == (1 + 2 * RECORDS, 1 + 2 * RECORDS), "the common lines once"
    assert late.returncode == 1, late.stdout
    assert_one_line_error(late.stderr, rf"by run {won.run_id}")
    _no_leftovers(backend, lk, tmp_path / "child-tmp")
    _append(tmp_path / "app.jsonl", "app", 2 * RECORDS, RECORDS)
    grown = lk.ingest_logs(TABLE, log)
    assert grown.records_read == RECORDS
    assert _rows(lk) == (1 + 3 * RECORDS, 1 + 3 * RECORDS)
    ranges, _, running = ledger_and_outputs(backend)
    assert [r for r in ranges if r[0] == "committed"] == [
        ("committed", 0, 1),
        ("committed", 1, 2 * RECORDS),
        ("committed", 2, RECORDS),
    ]
    assert running == 0


@pytest.mark.timeout(240)
def test_a_copy_of_a_file_another_ingest_took_meanwhile_is_refused(backend, lk, tmp_path):
    """A sequential ingest skips a file whose content the table holds under another name
    (a rotated log); one that planned before the other name was ingested must not commit
    the same records again either."""
    lk.ingest_logs(TABLE, _append(tmp_path / "other.jsonl", "other", 0, 1))
    log = _append(tmp_path / "app.jsonl", "app", 0, RECORDS)
    rotated = tmp_path / "app.jsonl.1"
    rotated.write_bytes(Path(log).read_bytes())
    with _stopped_ingest(backend, str(rotated), "prepare", tmp_path / "child-tmp") as resume:
        won = lk.ingest_logs(TABLE, log)
        late = resume()
    assert lk.sql(f"SELECT count(*) AS n FROM {TABLE}").rows()[0]["n"] == 1 + RECORDS
    assert late.returncode == 1, late.stdout
    assert_one_line_error(
        late.stderr,
        rf"{rotated} has the same content as file://{log}, which was ingested into {TABLE} "
        rf"by run {won.run_id}",
    )
    _no_leftovers(backend, lk, tmp_path / "child-tmp")
    again = lk.ingest_logs(TABLE, str(rotated))
    assert again.version is None and again.files_skipped == 1


@pytest.mark.timeout(240)
def test_a_file_whose_ingest_was_killed_after_entering_it_is_ingested_by_the_next(
    backend, lk, tmp_path
):
    """A range left pending by an ingest killed before its commit blocks nothing: the next
    ingest of the file takes it (its range is dropped from the ledger)."""
    lk.ingest_logs(TABLE, _append(tmp_path / "other.jsonl", "other", 0, 1))
    log = _append(tmp_path / "app.jsonl", "app", 0, RECORDS)
    killed = run_lake(backend, "ingest", "logs", TABLE, log, LAKE_FAILPOINT="upload")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    again = lk.ingest_logs(TABLE, log)
    assert again.version == 1 and again.records_read == RECORDS
    assert _rows(lk) == (1 + RECORDS, 1 + RECORDS)
    ranges, _, running = ledger_and_outputs(backend)
    assert [r for r in ranges if r[0] != "abandoned"] == [
        ("committed", 0, 1),
        ("committed", 1, RECORDS),
    ]
    assert running == 0


def _source(path: Path, rows: range) -> str:
    import sqlite3

    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER, updated_at TEXT)")
    connection.executemany(
        "INSERT INTO items VALUES (?, ?)", [(i, f"2026-11-{10 + i:02d} 10:00:00") for i in rows]
    )
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


EXTRACT = ("--table", "items", "--mode", "incremental", "--cursor", "updated_at")


def _extract(lk, source: str):
    return lk.ingest_db(
        "race.items", source=source, table_name="items", mode="incremental", cursor="updated_at"
    )


def _stopped_extract(backend, source: str, point: str, tmp: Path):
    env = child_env(backend, LAKE_FAILPOINT=f"{point}:stop", TMPDIR=str(tmp))
    argv = lake_argv("ingest", "db", "race.items", "--source", source, *EXTRACT, "--output", "json")
    return stopped_child(argv, env)


@pytest.mark.timeout(240)
def test_two_incremental_appends_from_one_watermark_at_once_deliver_each_row_once(
    backend, lk, tmp_path
):
    """Two incremental extracts without a key (appends) read past the same watermark; the
    child is stopped before its prepare while the other commits. The child must not append
    the same rows again: it is refused, and run again delivers nothing new."""
    source = _source(tmp_path / "source.db", range(10))
    assert _extract(lk, source).rows == 10
    _source(tmp_path / "source.db", range(10, 15))
    with _stopped_extract(backend, source, "prepare", tmp_path) as resume:
        won = _extract(lk, source)
        assert won.rows_added == 5
        late = resume()
    rows = lk.sql("SELECT count(*) AS n, count(DISTINCT id) AS d FROM race.items").rows()[0]
    assert rows == {"n": 15, "d": 15}, "every row once"
    assert late.returncode == 1, late.stdout
    assert_one_line_error(late.stderr, rf"by run {won.run_id}.*run the extract again")
    assert _extract(lk, source).version is None


@pytest.mark.timeout(240)
def test_an_incremental_append_while_another_is_committing_is_refused(backend, lk, tmp_path):
    """The child has claimed the rows past the watermark (prepared) and not committed; an
    extract from the same watermark meanwhile is refused, and the child commits them."""
    source = _source(tmp_path / "source.db", range(10))
    _extract(lk, source)
    _source(tmp_path / "source.db", range(10, 15))
    with _stopped_extract(backend, source, "upload", tmp_path) as resume:
        refused = None
        try:
            _extract(lk, source)
        except LakeError as error:
            refused = error
        first = resume()
    rows = lk.sql("SELECT count(*) AS n, count(DISTINCT id) AS d FROM race.items").rows()[0]
    assert rows == {"n": 15, "d": 15}, "every row once"
    assert first.returncode == 0, first.stderr[-3000:]
    report = json.loads(first.stdout)
    assert report["rows_added"] == 5
    assert str(refused) == (
        f"race.items is being extracted into by run {report['run_id']} from the same "
        "watermark; run the extract again when it is done to take only the rows past it."
    )


@pytest.mark.timeout(240)
def test_a_stored_file_is_never_seen_half_written_by_a_reader_or_another_ingest(
    backend, lk, tmp_path
):
    """``lake ingest files`` stores each content once, by its sha256. While one ingest is
    writing an object (stopped with nothing written yet), the object is not there; another
    ingest of the same bytes meanwhile stores it whole, and the first one's finishing
    leaves it whole."""
    import hashlib

    from pyarrow.fs import FileSelector, FileType

    asset = tmp_path / "asset.bin"
    asset.write_bytes(bytes(range(256)) * 64)
    digest = hashlib.sha256(asset.read_bytes()).hexdigest()
    fs, path = lk.storage.filesystem_for(lk.storage.object_uri(digest))

    def stored() -> int | None:
        info = fs.get_file_info(path)
        return info.size if info.type == FileType.File else None

    env = child_env(backend, LAKE_FAILPOINT="object_write:stop", TMPDIR=str(tmp_path))
    argv = lake_argv("ingest", "files", "assets.raw", str(asset), "--output", "json")
    with stopped_child(argv, env) as resume:
        assert stored() is None, "no object of the bytes before they are all written"
        other = lk.ingest_files("assets.raw", str(asset))
        assert stored() == asset.stat().st_size
        first = resume()
    assert first.returncode == 0, first.stderr[-3000:]
    assert stored() == asset.stat().st_size
    rows = lk.sql("SELECT uri, sha256 FROM assets.raw").rows()
    assert [r["sha256"] for r in rows] == [digest, digest], "one row per ingest, as sequentially"
    assert {json.loads(first.stdout)["version"], other.version} == {0, 1}
    folder = FileSelector(path.rsplit("/", 1)[0], recursive=False)
    leftovers = [i.path for i in fs.get_file_info(folder) if i.path != path]
    assert leftovers == [], "no partial copy is left beside the object"


@pytest.mark.timeout(240)
def test_a_file_written_to_while_it_is_stored_is_refused_and_no_object_misnames_it(
    backend, lk, tmp_path
):
    """The object's name is the sha256 of the bytes read, hashed as they are copied. A file
    written to after it was listed (here: while the ingest is stopped before its first
    byte), whose size then is not the one listed, is refused in one sentence: no version is
    made, and no object holds bytes other than its name says."""
    import hashlib

    from pyarrow.fs import FileSelector, FileType

    asset = tmp_path / "asset.bin"
    asset.write_bytes(b"first content\n" * 100)
    digest = hashlib.sha256(asset.read_bytes()).hexdigest()
    objects_fs, objects = lk.storage.filesystem_for(lk.storage.objects_root)

    env = child_env(backend, LAKE_FAILPOINT="object_write:stop", TMPDIR=str(tmp_path))
    argv = lake_argv("ingest", "files", "assets.raw", str(asset))
    with stopped_child(argv, env) as resume:
        asset.write_bytes(b"second content\n" * 100)  # same file, other bytes
        ended = resume()

    assert ended.returncode == 1, ended.stdout
    assert_one_line_error(ended.stderr, rf"'{asset}' changed while it was being ingested")
    stored = [
        i
        for i in objects_fs.get_file_info(
            FileSelector(objects, recursive=True, allow_not_found=True)
        )
        if i.type == FileType.File
    ]
    assert stored == [], f"no object is left, least of all one named {digest}"
    assert lk.tables() == []


@pytest.mark.timeout(240)
def test_a_file_deleted_after_it_was_listed_is_named_in_one_sentence(backend, lk, tmp_path):
    folder = tmp_path / "assets"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a")
    (folder / "b.bin").write_bytes(b"b")

    env = child_env(backend, LAKE_FAILPOINT="object_write:stop", TMPDIR=str(tmp_path))
    with stopped_child(lake_argv("ingest", "files", "assets.raw", str(folder)), env) as resume:
        (folder / "b.bin").unlink()  # listed with a.bin, whose copy is stopped
        ended = resume()

    assert ended.returncode == 1, ended.stdout
    assert_one_line_error(ended.stderr, r"Cannot open 'file://.*/b\.bin'.*No such file")
    assert lk.tables() == []


@pytest.mark.timeout(240)
def test_a_file_replaced_by_a_pipe_after_it_was_listed_is_refused_not_waited_on(
    backend, lk, tmp_path
):
    """A file listed as a regular file and replaced by a named pipe before it is read: the
    open of a pipe waits for a writer, so the ingest hung for ever. It is refused in one
    sentence, nothing is made, and the folder is ingested once the file is back."""
    import os

    folder = tmp_path / "assets"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a")
    (folder / "b.bin").write_bytes(b"b")

    env = child_env(backend, LAKE_FAILPOINT="files_listed:stop", TMPDIR=str(tmp_path))
    with stopped_child(lake_argv("ingest", "files", "assets.raw", str(folder)), env) as resume:
        (folder / "a.bin").unlink()
        os.mkfifo(folder / "a.bin")
        ended = resume()

    assert ended.returncode == 1, ended.stdout
    assert_one_line_error(ended.stderr, r"'file://.*/a\.bin'.* no longer a regular file")
    assert lk.tables() == []
    (folder / "a.bin").unlink()
    (folder / "a.bin").write_bytes(b"a")
    assert lk.ingest_files("assets.raw", str(folder)).files == 2
