"""The bins of a compaction (:func:`lake.delta.store.compaction_plan`): deltalake's packing,
which ``lake.landing.commits.compaction_target`` counts on."""

from __future__ import annotations

from lake.delta.snapshot import DataFile
from lake.delta.store import compaction_plan


def _file(name: str, size: int, day: str | None = "d1") -> DataFile:
    return DataFile(uri=name, path=name, size=size, rows=1, partition_values={"day": day})


def test_files_under_the_target_are_packed_largest_first_per_partition():
    files = [
        _file("a", 50),
        _file("b", 40),
        _file("c", 30),
        _file("d", 20),
        _file("big", 100),  # at the target: left alone
        _file("e", 10, day="d2"),
        _file("f", 15, day="d2"),
        _file("g", 5, day=None),  # one file in its partition: nothing to merge it with
    ]
    plan = compaction_plan(files, 100)
    assert sorted(tuple(f.path for f in b) for b in plan) == [("a", "b"), ("c", "d"), ("f", "e")]


def test_a_bin_of_one_file_is_left_out():
    assert compaction_plan([_file("a", 60), _file("b", 60)], 100) == []
