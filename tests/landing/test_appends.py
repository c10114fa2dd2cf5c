"""Small appends: what the write path skips must not change what it records."""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

import lake
from lake.core import background
from lake.core.errors import TableLogReplaced
from lake.delta.snapshot import Snapshot, StagedFile


def _rows(start: int, n: int = 5) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "at": pa.array(
                [datetime(2026, 10, 5, 10, 0, i, 123456, tzinfo=UTC) for i in range(n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "label": [f"l{i}" for i in range(n)],
        }
    )


def _seen(snapshot: Snapshot) -> tuple[object, ...]:
    files = sorted(
        (f.uri, f.path, f.size, f.rows, dict(f.partition_values), dict(f.time_ranges))
        for f in snapshot.files
    )
    return (snapshot.version, snapshot.committed_at, snapshot.schema, files)


def test_the_snapshot_an_append_tells_from_its_base_is_the_one_its_log_holds(lk, tmp_path):
    lk.write_table("ml.feed", _rows(0))
    store = lk.delta(lk.table("ml.feed"))
    base = store.snapshot()
    staged = tmp_path / "staged.parquet"
    pq.write_table(_rows(5), staged)
    commit = store.append(
        [StagedFile(staged)], schema=base.schema, run_id="r1", operation="WRITE", base=base
    )
    assert commit.version == base.version + 1
    told = store.snapshot(commit.version)
    loaded = store.snapshot(commit.version)  # told once: this one is read from the log
    assert told is not loaded
    assert _seen(told) == _seen(loaded)


def test_a_partitioned_append_tells_its_partition_values_as_the_log_holds_them(lk, tmp_path):
    path = tmp_path / "first.jsonl"
    path.write_text('{"ts": "2026-10-05T10:00:00.123456Z", "n": 1}\n')
    lk.ingest_logs("app.days", str(path))
    store = lk.delta(lk.table("app.days"))
    base = store.snapshot()
    assert base.partition_columns == ("_event_date",)
    staged = tmp_path / "staged.parquet"
    rows = pa.Table.from_batches(list(store.scan(base))).drop_columns(["_event_date"])
    pq.write_table(rows, staged)  # partition values live in the log, not in the file
    commit = store.append(
        [StagedFile(staged, {"_event_date": "2026-10-06"})],
        schema=base.schema,
        partition_by=base.partition_columns,
        run_id="r2",
        operation="INGEST LOGS",
        base=base,
    )
    told = store.snapshot(commit.version)
    loaded = store.snapshot(commit.version)
    assert _seen(told) == _seen(loaded)
    assert {f.partition_values["_event_date"] for f in told.files} == {"2026-10-05", "2026-10-06"}


def test_every_small_append_records_the_counts_its_log_holds(lk, tmp_path):
    for i in range(12):  # past a Delta checkpoint
        lk.write_table("ml.counts", _rows(5 * i))
    for i in range(3):
        path = tmp_path / f"l{i}.jsonl"
        path.write_text(f'{{"ts": "2026-10-0{i + 1}T10:00:00Z", "n": {i}}}\n')
        lk.ingest_logs("app.counts", str(path))
    for name in ("ml.counts", "app.counts"):
        store = lk.delta(lk.table(name))
        history = lk.history(name)
        assert [v.version for v in history] == list(range(len(history)))
        for recorded in history:
            snapshot = store.snapshot(recorded.version)
            assert (recorded.rows_total, recorded.files_total, recorded.bytes_total) == (
                snapshot.rows,
                len(snapshot.files),
                snapshot.bytes,
            )
            assert recorded.committed_at == snapshot.committed_at


def test_appends_keep_a_checkpoint_every_ten_versions_and_every_version_readable(lk):
    for i in range(21):
        lk.write_table("ml.checked", _rows(5 * i))
    background.drain()  # checkpoints are written after the append returns
    store = lk.delta(lk.table("ml.checked"))
    fs, base = lk.storage.filesystem_for(lk.table("ml.checked").location)
    names = {i.base_name for i in fs.get_file_info(pafs.FileSelector(f"{base}/_delta_log"))}
    assert {f"{v:020d}.checkpoint.parquet" for v in (10, 20)} <= names
    assert {f"{v:020d}.json" for v in range(21)} <= names
    # deltalake reads the log the lake wrote, at every version.
    assert store.open().version() == 20
    for version in (0, 9, 10, 15, 20):
        assert lk.sql(f"SELECT count(*) AS n FROM ml.checked VERSION AS OF {version}").rows() == [
            {"n": 5 * (version + 1)}
        ]
        assert store.snapshot(version).rows == 5 * (version + 1)


def test_an_append_after_optimize_commits_on_the_compacted_version(lk):
    for i in range(4):
        lk.write_table("ml.compacted", _rows(5 * i))
    optimized = lk.optimize("ml.compacted")
    assert optimized is not None and optimized.version == 4
    assert (optimized.rows_total, optimized.files_total) == (20, 1)
    after = lk.write_table("ml.compacted", _rows(20))
    assert after.version == 5
    assert (after.rows_added, after.rows_total, after.files_total) == (5, 25, 2)
    assert lk.sql("SELECT count(*) AS n, sum(id) AS s FROM ml.compacted").rows() == [
        {"n": 25, "s": sum(range(25))}
    ]
    assert [v.operation for v in lk.history("ml.compacted")] == ["APPEND"] * 4 + [
        "OPTIMIZE",
        "APPEND",
    ]


def _remove_table_folder(backend, location: str) -> None:
    """Delete a table's folder (or S3 prefix) as a user would, behind the lake's back."""
    if backend.s3 is None:
        shutil.rmtree(location)
        return
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    client = backend.s3.client()
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")
    for found in listed.get("Contents", []):
        client.delete_object(Bucket=bucket, Key=found["Key"])


@contextmanager
def _another_catalog(backend) -> Iterator[str]:
    """A second, empty catalog on the backend's own kind of database."""
    if backend.pg is None:
        yield f"sqlite:///{Path(backend.warehouse).parent / 'second.db'}"
        return
    database = backend.pg.create_database()
    try:
        yield backend.pg.url(database)
    finally:
        backend.pg.drop_database_later(database)


def test_a_table_deleted_and_made_again_in_one_process_commits_from_its_first_version(lk, backend):
    for i in range(3):
        lk.write_table("ml.again", _rows(5 * i))
    location = lk.table("ml.again").location
    lk.close()
    _remove_table_folder(backend, location)
    with _another_catalog(backend) as catalog, lake.connect(catalog=catalog) as again:
        first = again.write_table("ml.again", _rows(100, 2))
        second = again.write_table("ml.again", _rows(200, 1))
        assert (first.version, second.version) == (0, 1)
        assert (second.rows_total, second.files_total) == (3, 2)
        assert again.sql("SELECT count(*) AS n, sum(id) AS s FROM ml.again").rows() == [
            {"n": 3, "s": 100 + 101 + 200}
        ]
        store = again.delta(again.table("ml.again"))
        assert store.open().version() == 1
        assert store.snapshot().rows == 3


def test_a_table_made_again_to_the_same_version_by_another_writer_is_not_taken_for_the_old(
    lk, backend
):
    """The writer's kept state of the old table (its last snapshot) is checked against the log
    in the same round trip as its look for the next version: the new log has that version
    number too, but not that entry. Nor is the new table's version 2 written on as this
    catalog's version 2 (15 rows recorded, 3 in the log): the write is refused, as a read of
    that version is, and nothing is committed to the other table's log."""
    for i in range(3):
        lk.write_table("ml.again", _rows(5 * i))
    location = lk.table("ml.again").location
    _remove_table_folder(backend, location)

    def other_writer() -> None:  # a thread keeps nothing of the table the test's thread keeps
        with _another_catalog(backend) as catalog, lake.connect(catalog=catalog) as other:
            for i in range(3):
                other.write_table("ml.again", _rows(100 + i, 1))

    worker = threading.Thread(target=other_writer)
    worker.start()
    worker.join()
    with pytest.raises(
        TableLogReplaced,
        match=r"^Version 2 of ml\.again in its Delta log is not the one .*"
        r"\(15 rows, 3 files, \d+ bytes recorded, 3 rows, 3 files",
    ):
        lk.write_table("ml.again", _rows(200, 2))
    store = lk.delta(lk.table("ml.again"))
    assert store.open().version() == 2
    assert store.snapshot(2).rows == 3  # the other table's version, not taken for the old
    assert lk.table("ml.again").current_version == 2


def test_a_table_made_again_with_fewer_versions_is_not_written_on_as_the_old(lk, backend):
    """The new log's next version is one the catalog recorded for the old table: the append
    committed it there, the catalog kept its old record of that number, and the write
    reported the old version (10 rows) for data it had put in another table."""
    from deltalake import write_deltalake

    for i in range(3):
        lk.write_table("ml.again", _rows(5 * i))
    location = lk.table("ml.again").location
    _remove_table_folder(backend, location)
    write_deltalake(
        location, _rows(100, 1), mode="append", storage_options=lk.storage.delta_options()
    )

    with pytest.raises(
        TableLogReplaced,
        match=r"^Version 2 of ml\.again in its Delta log is not the one the catalog recorded "
        r"\(15 rows, 3 files, \d+ bytes recorded, none: version 0 is the latest in the log\)",
    ):
        lk.write_table("ml.again", _rows(200, 2))
    store = lk.delta(lk.table("ml.again"))
    assert store.open().version() == 0


def test_a_write_after_another_writer_recorded_versions_commits_after_them(lk):
    """On S3 a write's first look at the log goes out before the catalog has said which
    version to look for (``DeltaStore.look_ahead``: the one after this thread's own last
    commit); here another writer made and recorded that one and the next, so the look sent
    ahead answers another question and the write asks its own."""
    lk.write_table("ml.shared", _rows(0))  # this thread keeps the log at version 0

    def other_writer() -> None:  # a thread keeps nothing of the table the test's thread keeps
        with lake.connect() as other:
            for i in range(2):
                other.write_table("ml.shared", _rows(100 + i, 1))

    worker = threading.Thread(target=other_writer)
    worker.start()
    worker.join()
    after = lk.write_table("ml.shared", _rows(200, 2))
    assert after.version == 3
    assert (after.rows_added, after.rows_total, after.files_total) == (2, 9, 4)
    history = lk.history("ml.shared")
    assert [(v.version, v.rows_added) for v in history] == [(0, 5), (1, 1), (2, 1), (3, 2)]
    assert lk.sql("SELECT count(*) AS n FROM ml.shared").rows() == [{"n": 9}]


def test_writers_on_threads_making_one_table_at_once_each_record_their_versions(lk):
    """Four writers start on a table none has made yet: two with lakes of their own (two
    catalogs on one database, each asking schema ids once), two sharing the test's lake.
    Their first commits race to make the table (on S3 the losers' commits failed with
    deltalake's "Protocol changed": see ``lake.delta.store._metadata_changed``) and their
    first transactions race to make its catalog row; every version is recorded once, in
    order, by its own completed run. Three tables: the race is not won the same way twice."""
    rounds = 3
    for table in ("ml.raced1", "ml.raced2", "ml.raced3"):
        start = threading.Barrier(4)
        errors: list[BaseException] = []

        def writer(i: int, shared: bool, table: str = table, start=start, errors=errors) -> None:
            try:
                with contextlib.ExitStack() as stack:
                    target = lk if shared else stack.enter_context(lake.connect())
                    start.wait()
                    for r in range(rounds):
                        target.write_table(table, _rows(100 * i + 10 * r, 2))
            except BaseException as error:  # noqa: BLE001 - reported by the test's thread
                errors.append(error)

        workers = [threading.Thread(target=writer, args=(i, i >= 2)) for i in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        history = lk.history(table)
        assert [v.version for v in history] == list(range(4 * rounds))
        assert [v.rows_total for v in history] == [2 * (n + 1) for n in range(4 * rounds)]
        assert len({v.run_id for v in history}) == 4 * rounds
        assert {lk.run(v.run_id).status for v in history} == {"completed"}
        assert len({v.schema_id for v in history}) == 1
        # A version recorded before the one under it leaves the complete prefix behind
        # until the next sync counts it in.
        lk.sync(table)
        info = lk.table(table)
        assert (info.current_version, info.versions_through) == (4 * rounds - 1,) * 2
        assert [str(t.name) for t in lk.tables()].count(table) == 1
        assert lk.sql(f"SELECT count(*) AS n FROM {table}").rows() == [{"n": 8 * rounds}]


def test_a_version_records_its_own_schema_after_the_catalog_is_restored_under_the_process(lk):
    """A catalog restored from a backup while a process runs on: a schema the process stored
    is gone from it, and its id may name another schema by then (SQLite gives a deleted row
    id out again). The process's next write of that schema must record that schema, not the
    id it once had: a kept id failed the write when no schema had it, and recorded another
    schema's columns without an error once one had."""
    from sqlalchemy import text

    lk.write_table("ml.before", pa.table({"kept": pa.array([1, 2], pa.int64())}))
    engine = lk.catalog.engine
    with engine.begin() as c:  # the restore: the catalog as before ml.before was written
        table_id = c.execute(text("SELECT id FROM tables WHERE name = 'before'")).scalar_one()
        schema_ids = [
            r[0]
            for r in c.execute(
                text("SELECT DISTINCT schema_id FROM table_versions WHERE table_id = :t"),
                {"t": table_id},
            )
        ]
        c.execute(
            text(
                "DELETE FROM lineage_edges WHERE table_version_id IN "
                "(SELECT id FROM table_versions WHERE table_id = :t)"
            ),
            {"t": table_id},
        )
        for table in ("schema_changes", "ingested_files", "table_versions"):
            c.execute(text(f"DELETE FROM {table} WHERE table_id = :t"), {"t": table_id})
        c.execute(text("DELETE FROM tables WHERE id = :t"), {"t": table_id})
        for schema_id in schema_ids:
            c.execute(text("DELETE FROM schema_columns WHERE schema_id = :s"), {"s": schema_id})
            c.execute(text("DELETE FROM schemas WHERE id = :s"), {"s": schema_id})
    with lake.connect() as other:  # another process stores a schema of its own
        other.write_table("ml.other", pa.table({"other": pa.array(["x"], pa.string())}))
    lk.write_table("ml.after", pa.table({"kept": pa.array([3], pa.int64())}))
    assert [c["name"] for c in lk.schema("ml.after")["columns"]] == ["kept"]
    assert [c["name"] for c in lk.schema("ml.other")["columns"]] == ["other"]


def _data_files(lk, name: str) -> set[str]:
    """The Parquet files under the table's location, wherever it is."""
    fs, base = lk.storage.filesystem_for(lk.table(name).location)
    selector = pafs.FileSelector(base.rstrip("/"), recursive=True)
    return {
        info.path
        for info in fs.get_file_info(selector)
        if info.path.endswith(".parquet") and "_delta_log" not in info.path
    }


def test_an_append_whose_prepare_fails_leaves_no_data_file_in_the_table(lk):
    """An append sends its data files up while the catalog prepares its commit: when the
    prepare fails, nothing is committed and the files are removed (no orphan for vacuum)."""
    from lake.core.names import TableName
    from lake.landing.commits import TableRun

    lk.write_table("ml.prepared", _rows(0))
    before = _data_files(lk, "ml.prepared")

    def refused(_counts: object) -> dict[str, object]:
        raise ValueError("outcome refused")

    with pytest.raises(ValueError, match="outcome refused"):
        with TableRun.begin(
            lk.catalog,
            lk.storage,
            TableName.parse("ml.prepared"),
            table_kind="arrow",
            kind="write",
            parameters={},
        ) as run:
            run.land(_rows(5), policy="strict", operation="APPEND", outcome=refused)
    assert _data_files(lk, "ml.prepared") == before
    assert [v.version for v in lk.history("ml.prepared")] == [0]
    assert lk.sql("SELECT count(*) AS n FROM ml.prepared").rows() == [{"n": 5}]
    # Nothing else was left either: on S3 pyarrow's delete left an empty "folder" object,
    # which deltalake's vacuum then deleted in two commits of its own.
    lk.vacuum("ml.prepared", retain="0d", apply=True)
    assert [v.version for v in lk.history("ml.prepared")] == [0]


def test_a_publish_stopped_by_a_file_that_is_not_parquet_removes_the_files_it_sent(lk, tmp_path):
    """The first file's copy (on S3 a PUT on its way) is out when the second turns out not to
    be Parquet: the error is not a storage error, and the first file must go all the same."""
    lk.write_table("ml.published", _rows(0))
    before = _data_files(lk, "ml.published")
    good = tmp_path / "good.parquet"
    pq.write_table(_rows(5), good)
    torn = tmp_path / "torn.parquet"
    torn.write_bytes(good.read_bytes()[:-40])
    store = lk.delta(lk.table("ml.published"))
    with pytest.raises(pa.ArrowInvalid):
        store.publish([StagedFile(good), StagedFile(torn)], schema=_rows(0).schema)
    assert _data_files(lk, "ml.published") == before


def test_an_append_on_s3_sends_its_data_before_the_catalogs_first_transaction(
    lk, backend, monkeypatch
):
    """``write_table`` stages an append on the schema of the version this thread appended
    last and sends its data file's PUT before the writer's first transaction, whose wait it
    then shares (the commit still waits for the PUT). Locally nothing is sent ahead."""
    from catalog.catalog import Catalog
    from lake.core import objects

    lk.write_table("ml.ahead", _rows(0))  # made by deltalake: nothing kept of it yet
    lk.write_table("ml.ahead", _rows(5))
    seen: list[str] = []
    send, start_write = objects.send, Catalog.start_write

    def sending(request, *args):
        seen.append(request.__name__)
        return send(request, *args)

    def starting(self, *args, **kwargs):
        seen.append("start_write")
        return start_write(self, *args, **kwargs)

    monkeypatch.setattr(objects, "send", sending)
    monkeypatch.setattr(Catalog, "start_write", starting)
    landed = lk.write_table("ml.ahead", _rows(10))
    if backend.s3 is None:
        assert seen == ["start_write"]
    else:
        # The look at the log (GET + HEAD) first, then the data, then the transaction.
        assert seen == ["get", "exists", "put", "start_write"]
    assert (landed.version, landed.rows_total, landed.files_total) == (2, 15, 3)
    assert lk.sql("SELECT count(*) AS n, sum(id) AS s FROM ml.ahead").rows() == [
        {"n": 15, "s": sum(range(15))}
    ]
    assert len(_data_files(lk, "ml.ahead")) == 3


def test_data_sent_ahead_on_a_schema_another_writer_changed_is_staged_again_and_removed(
    lk, backend, monkeypatch
):
    """Another writer adds a column after this thread's last append: the data this thread
    sent ahead on the old schema is not what the plan stages, so it is staged again in the
    new one and the file sent ahead is removed (no orphan in the table)."""
    lk.write_table("ml.moved", _rows(0))
    lk.write_table("ml.moved", _rows(100))  # kept by this thread from here on

    def widen() -> None:
        with lake.connect() as other:
            other.write_table("ml.moved", _rows(5).append_column("extra", pa.array([1] * 5)))

    other = threading.Thread(target=widen)
    other.start()
    other.join()
    from lake.core import objects

    sent: list[str] = []
    send = objects.send
    monkeypatch.setattr(objects, "send", lambda r, *a: sent.append(r.__name__) or send(r, *a))
    landed = lk.write_table("ml.moved", _rows(10))
    # On S3 the data went up twice: ahead on the old schema, then in the new one.
    assert sent.count("put") == (0 if backend.s3 is None else 2)
    assert (landed.version, landed.rows_total, landed.files_total) == (3, 20, 4)
    assert lk.sql("SELECT count(*) AS n, count(extra) AS e, sum(id) AS s FROM ml.moved").rows() == [
        {"n": 20, "e": 5, "s": sum(range(15)) + sum(range(100, 105))}
    ]
    snapshot = lk.delta(lk.table("ml.moved")).snapshot()
    assert {Path(p).name for p in _data_files(lk, "ml.moved")} == {
        Path(f.path).name for f in snapshot.files
    }


def test_data_sent_ahead_of_a_write_the_catalog_refuses_is_removed(lk):
    """The writer's first transaction refuses the table (another kind): the data file sent
    ahead of it is removed."""
    from lake.core.errors import LakeError
    from lake.core.names import TableName
    from lake.landing.writes import write_table

    lk.write_table("ml.kinds", _rows(0))
    lk.write_table("ml.kinds", _rows(100))
    before = _data_files(lk, "ml.kinds")
    with pytest.raises(LakeError):
        write_table(lk.catalog, lk.storage, TableName.parse("ml.kinds"), _rows(5), kind="logs")
    assert _data_files(lk, "ml.kinds") == before
    assert [v.version for v in lk.history("ml.kinds")] == [0, 1]


def test_a_checkpoint_on_s3_moves_the_log_of_the_one_before_and_holds_its_version(
    lk, backend, monkeypatch
):
    """On S3 a checkpoint is written on the writer's thread: from the second one on, the
    log this thread loaded for the one before is moved to the new version (the commits in
    between read), not loaded afresh at it (which also read ``_last_checkpoint``, the listing
    and the previous checkpoint's Parquet). Its content is what deltalake writes from a
    fresh load at that version, on both pairs."""
    import deltalake

    for i in range(11):  # the checkpoint at 10: this process's first of the table
        lk.write_table("ml.checkpointed", _rows(5 * i))
    background.drain()
    loads: list[int | None] = []

    class Counted(deltalake.DeltaTable):
        def __init__(self, *args, **kwargs):
            loads.append(kwargs.get("version"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(deltalake, "DeltaTable", Counted)
    for i in range(11, 21):
        lk.write_table("ml.checkpointed", _rows(5 * i))
    background.drain()
    monkeypatch.undo()
    if backend.s3 is not None:
        assert 20 not in loads
    uri = lk.table("ml.checkpointed").location
    fs, base = lk.storage.filesystem_for(uri)
    checkpoint = f"{base.rstrip('/')}/_delta_log/{20:020d}.checkpoint.parquet"

    def rows() -> list[dict]:
        return pq.read_table(checkpoint, filesystem=fs).to_pylist()

    written = rows()
    deltalake.DeltaTable(
        uri, version=20, storage_options=lk.storage.delta_options()
    ).create_checkpoint()
    assert sorted(map(str, written)) == sorted(map(str, rows()))
    assert len([row for row in written if row.get("add")]) == 21
    assert lk.sql("SELECT count(*) AS n FROM ml.checkpointed VERSION AS OF 20").rows() == [
        {"n": 105}
    ]
