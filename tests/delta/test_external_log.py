"""Reading what other engines write into a Delta log: partition values as the protocol spells
them, and which versions a log whose first entries were cleaned up can still rebuild."""

from __future__ import annotations

import pytest

from lake.core.config import resolve
from lake.core.storage import Storage
from lake.delta.partitions import binary_from_log, read_text
from lake.delta.store import DeltaStore


@pytest.mark.parametrize(
    "given,expected",
    [
        (b"\\u0068\\u0065\\u006C\\u006C\\u006F", b"hello"),  # delta-rs: escapes as text
        (b"\\u0000\\u00FF", b"\x00\xff"),
        ("\x00\xff".encode(), b"\x00\xff"),  # Spark, the lake: one character per byte
        (b"hello", b"hello"),
        (b"\\u0041x", b"\\u0041x"),  # not only escapes: characters
        ("€".encode(), "€".encode()),  # past U+00FF: not bytes; kept as given
    ],
)
def test_binary_partition_values_are_the_bytes_their_writer_was_given(given, expected):
    assert binary_from_log(given) == expected


def test_an_empty_partition_value_is_null_as_the_protocol_says():
    assert read_text("") is None and read_text(b"") is None and read_text(None) is None
    assert read_text("0") == "0" and read_text(b"\\u0000") == "\x00"


CHECKPOINT_UUID = "80a083e8-7026-4e79-81be-64bd76c8a5ae"


@pytest.mark.parametrize(
    "names,oldest",
    [
        ([f"{v:020d}.json" for v in range(10)], 0),
        ([f"{5:020d}.checkpoint.parquet", *[f"{v:020d}.json" for v in range(5, 10)]], 5),
        (  # a multi-part checkpoint counts once all its parts are there
            [
                *[f"{5:020d}.checkpoint.{p:010d}.{3:010d}.parquet" for p in (1, 2, 3)],
                *[f"{v:020d}.json" for v in range(6, 10)],
            ],
            5,
        ),
        (
            [
                *[f"{2:020d}.checkpoint.{p:010d}.{3:010d}.parquet" for p in (1, 2)],
                f"{5:020d}.checkpoint.parquet",
                *[f"{v:020d}.json" for v in range(3, 10)],
            ],
            5,
        ),
        (  # a v2 checkpoint, named by a UUID
            [f"{5:020d}.checkpoint.{CHECKPOINT_UUID}.json", *[f"{v:020d}.json" for v in (6, 7)]],
            5,
        ),
        (  # the oldest checkpoint with every later commit still there
            [
                f"{2:020d}.checkpoint.parquet",
                f"{5:020d}.checkpoint.parquet",
                *[f"{v:020d}.json" for v in range(3, 10) if v != 4],
            ],
            5,
        ),
        (
            [
                f"{2:020d}.checkpoint.parquet",
                f"{5:020d}.checkpoint.parquet",
                *[f"{v:020d}.json" for v in range(3, 10)],
                "_last_checkpoint",
                ".00000000000000000003.json.crc",
                f"{9:020d}.crc",
            ],
            2,
        ),
    ],
    ids=["whole", "checkpoint", "multi-part", "incomplete-multi-part", "v2", "gap", "two"],
)
def test_the_oldest_version_a_log_can_rebuild(tmp_path, names, oldest):
    log = tmp_path / "t" / "_delta_log"
    log.mkdir(parents=True)
    for name in names:
        (log / name).write_bytes(b"")
    storage = Storage(resolve(warehouse=str(tmp_path / "wh"), catalog_url="sqlite://", environ={}))
    assert DeltaStore(str(tmp_path / "t"), storage).oldest_version() == oldest
