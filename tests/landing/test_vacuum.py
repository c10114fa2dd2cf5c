"""Retention: vacuum never deletes what a training set, a model or a tag needs, checks before
it deletes, and is a dry run unless told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from catalog.exceptions import PinnedVersionMissing, TagExists, TagNotFound
from lake.core.errors import ConfigError, VersionVacuumed
from lake.core.names import TableName
from lake.landing.vacuum import parse_retention, retained_versions, retention_hours


def _sql(lk, query: str):
    # the SQL layer itself (lk.sql is its face; this file does not depend on the face's wiring)
    from queries.sql import run_query

    return run_query(lk.catalog, lk.storage, query)


# -- durations and the time rule (pure) --------------------------------------------------------


@pytest.mark.parametrize(
    "text,hours",
    [
        ("7d", 168),
        ("12h", 12),
        ("30m", 0.5),
        ("90s", 0.025),
        ("2w", 336),
        ("0d", 0),
        (" 1.5 D ", 36),
    ],
)
def test_retention_is_a_number_and_a_unit(text, hours):
    assert parse_retention(text) == timedelta(hours=hours)


@pytest.mark.parametrize("text", ["7 days", "", "-1d", "d", "7y"])
def test_a_retention_that_is_not_a_duration_says_what_is_accepted(text):
    with pytest.raises(ConfigError, match="write a number and a unit: 7d, 12h, 30m, 90s, 2w or 0d"):
        parse_retention(text)


def test_partial_hours_round_up_so_vacuum_keeps_more_not_less():
    assert [retention_hours(timedelta(minutes=m)) for m in (0, 1, 60, 61)] == [0, 1, 1, 2]


def test_a_version_is_within_the_retention_while_its_successor_is_younger_than_it():
    now = datetime(2026, 11, 23, tzinfo=UTC)
    commits = [
        (0, now - timedelta(days=10)),
        (1, now - timedelta(days=8)),
        (2, now - timedelta(days=2)),
        (3, now),
    ]
    assert retained_versions(commits, now - timedelta(days=7)) == [1, 2, 3]
    assert retained_versions(commits, now) == [2, 3]
    assert retained_versions(commits[:1], now) == [0]


# -- vacuum on both backend pairs ----------------------------------------------------------------


def _rows(start: int, n: int = 5) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "v": [f"r{i}" for i in range(start, start + n)],
        }
    )


def _three_generations(lk) -> None:
    """Versions 0, 1, 2 of ml.t, each replacing the last: old versions' files become garbage."""
    lk.write_table("ml.t", _rows(0))
    lk.write_table("ml.t", _rows(10), mode="overwrite")
    lk.write_table("ml.t", _rows(20), mode="overwrite")


def _files(lk, table: str) -> dict[str, int]:
    info = lk.table(table)
    fs, base = lk.storage.filesystem_for(info.location)
    found = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return {
        i.path[len(base.rstrip("/")) + 1 :]: i.size
        for i in found
        if i.type == pafs.FileType.File and "_delta_log" not in i.path
    }


def test_vacuum_is_a_dry_run_by_default_and_says_what_it_would_free(lk, cli):
    _three_generations(lk)
    before = _files(lk, "ml.t")

    [report] = lk.vacuum("ml.t", retain="0d")

    assert not report.applied and len(report.files) == 2
    assert report.bytes == sum(before[path] for path, _ in report.files) > 0
    assert _files(lk, "ml.t") == before
    assert [(k.version, k.reasons) for k in report.kept] == [(2, ("latest",))]
    shown = cli("vacuum", "ml.t", "--retain", "0d")
    assert (
        "ml.t: would delete 2 files" in shown.stdout
        and "Dry run: nothing was deleted" in shown.stdout
    )
    assert _files(lk, "ml.t") == before


def test_zero_retention_keeps_every_version_a_training_set_or_model_needs(lk, tmp_path):
    _three_generations(lk)
    first = lk.materialize("old", sql="SELECT * FROM ml.t VERSION AS OF 0", out=tmp_path / "old")
    lk.register_model("m", training_set="old")

    [report] = lk.vacuum("ml.t", retain="0d", apply=True)

    assert report.applied and len(report.files) == 1  # version 1's file; version 0's is pinned
    assert [(k.version, k.reasons) for k in report.kept] == [
        (0, ("model m@1", "training set old@1")),
        (2, ("latest",)),
    ]
    assert lk.run(report.run_id).stats["files_deleted"] == 1
    rebuilt = lk.materialize(
        from_=str(tmp_path / "old" / ".lake" / "manifest.json"), out=tmp_path / "rebuilt"
    )
    assert rebuilt.content_hash == first.content_hash
    with pytest.raises(VersionVacuumed, match="Version 1 of ml.t can no longer be read"):
        _sql(lk, "SELECT * FROM ml.t VERSION AS OF 1")
    with pytest.raises(VersionVacuumed):
        lk.materialize("lost", sql="SELECT * FROM ml.t AT (VERSION => 1)", out=tmp_path / "lost")
    assert _sql(lk, "SELECT count(*) AS n FROM ml.t").rows() == [{"n": 5}]


def test_a_tag_keeps_its_version_until_it_is_removed(lk, cli):
    _three_generations(lk)
    lk.tag("ml.t@1", "before-backfill")
    with pytest.raises(TagExists, match="already marks version 1; pass --move"):
        lk.tag("ml.t@0", "before-backfill")

    [report] = lk.vacuum("ml.t", retain="0d", apply=True)
    assert [k.version for k in report.kept] == [1, 2]
    assert _sql(lk, "SELECT count(*) AS n FROM ml.t VERSION AS OF 1").rows() == [{"n": 5}]

    removed = cli("tag", "ml.t", "--delete", "before-backfill")
    assert removed.exit_code == 0 and "Removed tag before-backfill from ml.t@1" in removed.stdout
    with pytest.raises(TagNotFound):
        lk.untag("ml.t", "before-backfill")
    [report] = lk.vacuum("ml.t", retain="0d", apply=True)
    assert len(report.files) == 1
    with pytest.raises(VersionVacuumed):
        _sql(lk, "SELECT * FROM ml.t VERSION AS OF 1")


def test_files_no_commit_ever_named_are_removed_once_older_than_the_retention(lk):
    lk.write_table("ml.t", _rows(0))
    info = lk.table("ml.t")
    fs, base = lk.storage.filesystem_for(info.location)
    with fs.open_output_stream(f"{base}/part-orphan-from-a-killed-writer.parquet") as handle:
        handle.write(b"PAR1 half written")

    [kept] = lk.vacuum("ml.t", retain="7d", apply=True)
    assert kept.files == () and "part-orphan-from-a-killed-writer.parquet" in _files(lk, "ml.t")
    [report] = lk.vacuum("ml.t", retain="0d", apply=True)
    assert [p for p, _ in report.files] == ["part-orphan-from-a-killed-writer.parquet"]
    assert "part-orphan-from-a-killed-writer.parquet" not in _files(lk, "ml.t")


def test_a_published_file_is_as_new_as_its_publication_however_long_ago_it_was_staged(lk, tmp_path):
    # Between publishing and committing, an ingest's files are referenced by no version:
    # vacuum would delete them if they looked older than the retention.
    import os
    import time

    import pyarrow.parquet as pq

    from lake.delta.snapshot import StagedFile

    lk.write_table("ml.t", _rows(0))
    before = set(_files(lk, "ml.t"))
    staged = tmp_path / "staged.parquet"
    pq.write_table(_rows(10), staged)
    hours_ago = time.time() - 3 * 3600
    os.utime(staged, (hours_ago, hours_ago))
    published = time.time()

    lk.delta(lk.table("ml.t")).append(
        [StagedFile(path=staged, partition_values={})],
        schema=_rows(0).schema,
        run_id="staged-long-ago",
        operation="WRITE",
    )
    info = lk.table("ml.t")
    fs, base = lk.storage.filesystem_for(info.location)
    [entry] = fs.get_file_info([f"{base}/{f}" for f in set(_files(lk, "ml.t")) - before])
    assert entry.mtime.timestamp() >= published - 1  # some stores keep whole seconds
    assert _sql(lk, "SELECT count(*) FROM ml.t").table.column(0)[0].as_py() == 10


def test_a_pinned_version_already_missing_a_file_stops_vacuum_before_it_deletes_anything(
    lk, tmp_path
):
    _three_generations(lk)
    lk.materialize("old", sql="SELECT * FROM ml.t VERSION AS OF 0", out=tmp_path / "old")
    info = lk.table("ml.t")
    fs, base = lk.storage.filesystem_for(info.location)
    pinned_file = lk.delta(info).snapshot(0).files[0].path
    fs.delete_file(f"{base}/{pinned_file}")
    before = _files(lk, "ml.t")

    with pytest.raises(
        PinnedVersionMissing,
        match=r"Version 0 of ml.t \(training set old@1\) is missing 1 data file",
    ):
        lk.vacuum("ml.t", retain="0d", apply=True)
    assert _files(lk, "ml.t") == before


def test_vacuum_without_a_table_covers_every_table_and_prints_json(lk, cli):
    _three_generations(lk)
    lk.write_table("ml.other", _rows(0))
    found = cli("vacuum", "--retain", "0d", "--apply", "--output", "json")
    assert found.exit_code == 0, found.stderr
    reports = {r["table"]: r for r in found.json()}
    assert reports["ml.t"]["file_count"] == 2 and reports["ml.t"]["applied"] is True
    assert reports["ml.other"]["file_count"] == 0
    assert lk.catalog.get_table(TableName.parse("ml.t")).current_version >= 2


def test_a_vacuum_that_deletes_leaves_no_folder_marker_and_a_second_one_commits_nothing(
    lk, backend, tmp_path
):
    from PIL import Image

    _three_generations(lk)
    (tmp_path / "d").mkdir()
    Image.new("RGB", (3, 3), "black").save(tmp_path / "d" / "gone.png")
    dropped = lk.ingest_files("media.gone", str(tmp_path / "d")).rows[0]
    empty = lk.sql("SELECT * FROM media.gone WHERE false").table
    lk.write_table("media.gone", empty, mode="overwrite", kind="files")

    [report] = lk.vacuum("ml.t", retain="0d", apply=True)
    objects = lk.vacuum_objects(retain="0d", apply=True)

    assert len(report.files) == 2 and [u for u, _ in objects.files] == [dropped["uri"]]
    if backend.s3 is not None:  # pyarrow's S3 delete put an empty "folder" object in its place
        assert backend.s3.folder_markers(backend.warehouse) == []
    store = lk.delta(lk.table("ml.t"))
    after = store.latest_version()
    [again] = lk.vacuum("ml.t", retain="0d", apply=True)
    assert again.files == ()
    # deltalake's full vacuum commits what it deletes: with nothing of ours left, nothing
    assert store.latest_version() == after
    assert [c.run_id for c in store.history(after=after)] == []
