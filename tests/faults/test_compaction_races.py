"""A compaction commits its own log entry (lake.delta.store, ``_commit_compaction``) while
other writers commit: an append that takes its version first is kept and the compaction
goes after it; a writer that removes a file the compaction rewrote makes it plan again,
so no deleted row comes back and none is doubled.

The compaction runs in a child process held at its ``compaction_commit`` failpoint (its
new files written, its entry not yet), while this process commits.
"""

from __future__ import annotations

import pytest
from deltalake import DeltaTable

from lake.core.names import TableName
from tests.faults.conftest import child_env, lake_argv, stopped_child, write_log

TABLE = "race.events"


def _ingest(lk, tmp_path, tags: range) -> None:
    for tag in tags:
        lk.ingest_logs(TABLE, write_log(tmp_path / f"{tag}.jsonl", 3, tag))


def _counts(lk) -> list[dict]:
    return lk.sql(f"SELECT tag, count(*) AS n FROM {TABLE} GROUP BY tag ORDER BY tag").rows()


def _deltalake_rows(lk, version: int | None = None) -> list[tuple[int, int]]:
    location = lk.catalog.get_table(TableName.parse(TABLE)).location
    table = DeltaTable(location, version=version, storage_options=lk.storage.delta_options())
    return sorted((r["tag"], r["k"]) for r in table.to_pyarrow_table().to_pylist())


@pytest.mark.timeout(240)
def test_an_append_committed_while_a_compaction_commits_is_kept_and_compaction_goes_after(
    backend, lk, tmp_path
):
    _ingest(lk, tmp_path, range(3))
    env = child_env(backend, LAKE_FAILPOINT="compaction_commit:stop")
    with stopped_child(lake_argv("optimize", TABLE), env) as resume:
        won = lk.ingest_logs(TABLE, write_log(tmp_path / "late.jsonl", 3, 9))
        assert won.version == 3
        done = resume()
    assert done.returncode == 0, done.stderr
    history = lk.history(TABLE)
    assert [(v.version, v.operation) for v in history][-2:] == [(3, "INGEST LOGS"), (4, "OPTIMIZE")]
    assert (history[-1].rows_added, history[-1].rows_removed) == (0, 0)
    assert history[-1].rows_total == 12 and history[-1].files_total == 2  # compacted + late
    assert _counts(lk) == [{"tag": t, "n": 3} for t in (0, 1, 2, 9)]
    expected = sorted((t, k) for t in (0, 1, 2, 9) for k in range(3))
    assert _deltalake_rows(lk) == expected
    assert _deltalake_rows(lk, 3) == expected  # the version before reads as it was


@pytest.mark.timeout(240)
def test_a_compaction_whose_files_another_writer_removed_meanwhile_plans_again(
    backend, lk, tmp_path
):
    """Another engine deletes rows by rewriting a file the compaction had rewritten: the
    compaction's commit after it would remove a file already gone and add the deleted rows
    back. It reads the version that took its place, plans again on the latest one, and
    commits that."""
    _ingest(lk, tmp_path, range(3))
    location = lk.catalog.get_table(TableName.parse(TABLE)).location
    env = child_env(backend, LAKE_FAILPOINT="compaction_commit:stop")
    with stopped_child(lake_argv("optimize", TABLE), env) as resume:
        table = DeltaTable(location, storage_options=lk.storage.delta_options())
        table.delete("tag = 1")
        assert table.version() == 3
        done = resume()
    assert done.returncode == 0, done.stderr
    expected = sorted((t, k) for t in (0, 2) for k in range(3))
    assert _deltalake_rows(lk) == expected
    assert _deltalake_rows(lk, 4) == expected
    assert _counts(lk) == [{"tag": 0, "n": 3}, {"tag": 2, "n": 3}]
    assert len(lk.describe(TABLE).snapshot.files) == 1


@pytest.mark.timeout(240)
def test_a_compaction_planned_again_after_a_protocol_change_honours_the_new_protocol(
    backend, lk, tmp_path
):
    """Another writer upgrades the protocol while the compaction commits: a writer feature
    the lake does not know (row tracking asks every new file for its row ids) refuses the
    lake's own commit on the table. The plan made again after the race must see it too,
    not only the first one."""
    from tests.delta import external

    _ingest(lk, tmp_path, range(3))
    location = lk.catalog.get_table(TableName.parse(TABLE)).location
    options = lk.storage.delta_options()
    env = child_env(backend, LAKE_FAILPOINT="compaction_commit:stop")
    with stopped_child(lake_argv("optimize", TABLE), env) as resume:
        features = ["appendOnly", "invariants", "domainMetadata", "rowTracking"]
        protocol = {"minReaderVersion": 1, "minWriterVersion": 7, "writerFeatures": features}
        info = {"timestamp": 1, "operation": "UPGRADE PROTOCOL", "clientVersion": "test"}
        external.write_log_entry(
            location, options, 3, [{"commitInfo": info}, {"protocol": protocol}]
        )
        done = resume()
    assert "rowTracking" in (
        DeltaTable(location, storage_options=options).protocol().writer_features or []
    )
    # deltalake 1.6.6's optimize refuses the feature too: nothing lands, and the user is told.
    assert done.returncode == 1 and "requires the writer features" in done.stderr, done.stderr
    later = [n for n in external.log_names(location, options) if n > f"{3:020d}.json"]
    assert all(
        a["commitInfo"].get("clientVersion") != "lake"
        for n in later
        if n.endswith(".json")
        for a in external.read_log_entry(location, options, int(n.split(".")[0]))
        if "commitInfo" in a
    ), done.stderr
    assert _deltalake_rows(lk) == sorted((t, k) for t in range(3) for k in range(3))


@pytest.mark.timeout(240)
def test_a_compaction_goes_after_an_append_whose_statistics_hold_a_line_separator(
    backend, lk, tmp_path
):
    """Log entries hold text as itself: a tag's minimum with U+2028 in it. The compaction
    read the append that took its version with ``str.splitlines``, which split that action
    in two, and failed on half a JSON text instead of going after it."""
    for tag in range(3):
        lk.ingest_logs(TABLE, write_log(tmp_path / f"{tag}.jsonl", 3, f"t\u2028{tag}"))
    env = child_env(backend, LAKE_FAILPOINT="compaction_commit:stop")
    with stopped_child(lake_argv("optimize", TABLE), env) as resume:
        won = lk.ingest_logs(TABLE, write_log(tmp_path / "late.jsonl", 3, "t\u20289\x85"))
        assert won.version == 3
        done = resume()
    assert done.returncode == 0, done.stderr
    history = lk.history(TABLE)
    assert [(v.version, v.operation) for v in history][-2:] == [(3, "INGEST LOGS"), (4, "OPTIMIZE")]
    tags = ["t\u20280", "t\u20281", "t\u20282", "t\u20289\x85"]
    assert _counts(lk) == [{"tag": t, "n": 3} for t in tags]
