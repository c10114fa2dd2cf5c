"""Deletion vectors decoded after the Delta protocol's "Deletion Vector Format"."""

from __future__ import annotations

import struct
import zlib

import pytest

from lake.delta.deletion import (
    DeletionVector,
    DeletionVectorError,
    bitmap_rows,
    inline_rows,
    stored_rows,
    z85_decode,
)
from tests.delta.external import deletion_vector, z85


def test_a_relative_vector_path_is_its_prefix_and_its_uuid_as_the_protocol_example_says():
    vector = DeletionVector("u", "ab^-aqEH.-t@S}K{vb[*k^", 4, 40, 6)
    assert vector.file_path() == "ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin"
    assert DeletionVector("p", "s3://t/dv.bin", 4, 40, 6).file_path() == "s3://t/dv.bin"
    assert DeletionVector("i", "abcde", None, 4, 1).file_path() is None


@pytest.mark.parametrize(
    "rows,runs",
    [
        ([3, 4, 7, 11, 18, 29], False),  # one array container
        (list(range(0, 20_000, 3)), False),  # a bitmap container (6,667 values)
        ([*range(10, 30), 70_000, 2**32 - 1], True),  # run containers, high keys
        ([1, 65_536, 65_537, 200_000], False),  # several containers
        ([*range(0, 9000), *range(65_540, 65_600)], True),
    ],
)
def test_every_container_kind_decodes_to_the_rows_it_holds(rows, runs):
    assert bitmap_rows(deletion_vector(rows, runs=runs)) == sorted(rows)


def test_inline_and_stored_vectors_give_their_rows_and_check_size_and_checksum():
    data = deletion_vector([3, 4, 7, 11, 18, 29])
    padded = data + b"\x00" * (-len(data) % 4)
    assert inline_rows(DeletionVector("i", z85(padded), None, len(data), 6)) == [
        3,
        4,
        7,
        11,
        18,
        29,
    ]
    content = b"\x01" + struct.pack(">i", len(data)) + data + struct.pack(">I", zlib.crc32(data))
    stored = DeletionVector("u", "x" * 20, 1, len(data), 6)
    assert stored_rows(stored, content) == [3, 4, 7, 11, 18, 29]
    with pytest.raises(DeletionVectorError, match="checksum"):
        stored_rows(stored, content[:-1] + bytes([content[-1] ^ 1]))
    with pytest.raises(DeletionVectorError, match="size"):
        stored_rows(DeletionVector("u", "x" * 20, 1, len(data) + 1, 6), content)
    with pytest.raises(DeletionVectorError, match="holds 6 rows, its descriptor says 7"):
        stored_rows(DeletionVector("u", "x" * 20, 1, len(data), 7), content)


def test_bytes_that_are_not_a_vector_are_refused():
    with pytest.raises(DeletionVectorError, match="magic"):
        bitmap_rows(b"\x00" * 16)
    bad_cookie = struct.pack("<iqi", 1681511377, 1, 0) + struct.pack("<I", 99)
    with pytest.raises(DeletionVectorError, match="unknown cookie 99"):
        bitmap_rows(bad_cookie)
    with pytest.raises(DeletionVectorError, match="not a Z85 character"):
        z85_decode("abcd~")
