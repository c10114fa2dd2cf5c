"""Deletion vectors: the rows of a data file that a Delta table version no longer holds.

Writers such as Spark and Databricks delete rows by recording their indexes in the file
(0-based) in a *deletion vector* attached to the file's ``add`` action, instead of rewriting
the file. A reader must drop those rows. The formats, after the Delta protocol (PROTOCOL.md,
"Deletion Vectors" and "Deletion Vector Format"):

* the descriptor: ``storageType`` ``i`` (inline: the vector itself, Z85-encoded, in
  ``pathOrInlineDv``), ``u`` (a file ``<random prefix>/deletion_vector_<uuid>.bin`` next to
  the table's data, the UUID Z85-encoded in the last 20 characters) or ``p`` (a file at an
  absolute path); ``offset`` into that file; ``sizeInBytes``; ``cardinality``;
* a vector file: one version byte (1), then at each vector's offset its size (4 bytes, big
  endian), the vector, and its CRC-32 (4 bytes, big endian);
* a vector: the magic number 1681511377 (4 bytes, little endian), then a 64-bit Roaring bitmap
  in the portable format of the RoaringFormatSpec: a count of 32-bit buckets (8 bytes), each a
  key (4 bytes, the high 32 bits) and a 32-bit Roaring bitmap (array, bitmap and run
  containers).

Everything here is pure: bytes in, row indexes out. Reading the files is the store's job.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

MAGIC = 1681511377
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_Z85_VALUE = {c: i for i, c in enumerate(Z85)}
_COOKIE_NO_RUNS = 12346
_COOKIE_RUNS = 12347
_NO_OFFSET_THRESHOLD = 4
_ARRAY_MAX = 4096


class DeletionVectorError(ValueError):
    """A deletion vector that does not follow the protocol's format."""


@dataclass(frozen=True)
class DeletionVector:
    """The descriptor of one file's deletion vector, as its ``add`` action carries it."""

    storage_type: str
    path_or_inline: str
    offset: int | None
    size: int
    cardinality: int

    @classmethod
    def from_action(cls, action: Mapping[str, object]) -> DeletionVector:
        """From the ``deletionVector`` of an ``add`` action (JSON or checkpoint)."""
        offset = action.get("offset")
        return cls(
            storage_type=str(action["storageType"]),
            path_or_inline=str(action["pathOrInlineDv"]),
            offset=int(offset) if offset is not None else None,  # type: ignore[arg-type]
            size=int(action["sizeInBytes"]),  # type: ignore[arg-type]
            cardinality=int(action["cardinality"]),  # type: ignore[arg-type]
        )

    def to_action(self) -> dict[str, object]:
        """The descriptor as an action carries it (the inverse of :meth:`from_action`): a
        ``remove`` of the file names the same vector as its ``add``."""
        action: dict[str, object] = {
            "storageType": self.storage_type,
            "pathOrInlineDv": self.path_or_inline,
            "sizeInBytes": self.size,
            "cardinality": self.cardinality,
        }
        if self.offset is not None:
            action["offset"] = self.offset
        return action

    def file_path(self) -> str | None:
        """Where the vector is stored: relative to the table (``u``), absolute (``p``), or
        None (inline)."""
        if self.storage_type == "i":
            return None
        if self.storage_type == "p":
            return self.path_or_inline
        if self.storage_type == "u":
            encoded = self.path_or_inline
            if len(encoded) < 20:
                raise DeletionVectorError(f"a relative deletion vector path {encoded!r} is short")
            prefix, name = encoded[:-20], uuid.UUID(bytes=z85_decode(encoded[-20:]))
            return (
                f"{prefix}/deletion_vector_{name}.bin"
                if prefix
                else (f"deletion_vector_{name}.bin")
            )
        raise DeletionVectorError(f"unknown deletion vector storage type {self.storage_type!r}")


def z85_decode(text: str) -> bytes:
    """ZeroMQ's Base85 (Z85), which Delta uses for inline vectors and UUIDs."""
    if len(text) % 5:
        raise DeletionVectorError("Z85 text whose length is not a multiple of 5")
    out = bytearray()
    for i in range(0, len(text), 5):
        value = 0
        for c in text[i : i + 5]:
            digit = _Z85_VALUE.get(c)
            if digit is None:
                raise DeletionVectorError(f"{c!r} is not a Z85 character")
            value = value * 85 + digit
        out += value.to_bytes(4, "big")
    return bytes(out)


def inline_rows(vector: DeletionVector) -> list[int]:
    """The row indexes of an inline vector."""
    data = z85_decode(vector.path_or_inline)[: vector.size]
    return _checked(bitmap_rows(data), vector)


def stored_rows(vector: DeletionVector, content: bytes) -> list[int]:
    """The row indexes of a vector stored in a file whose bytes are ``content``."""
    offset = vector.offset if vector.offset is not None else 1
    if len(content) < offset + 4:
        raise DeletionVectorError("the deletion vector file is shorter than its offset")
    (size,) = struct.unpack_from(">i", content, offset)
    data = content[offset + 4 : offset + 4 + size]
    if size != vector.size or len(data) != size or len(content) < offset + 8 + size:
        raise DeletionVectorError("the deletion vector's size does not match its descriptor")
    (checksum,) = struct.unpack_from(">I", content, offset + 4 + size)
    if zlib.crc32(data) != checksum:
        raise DeletionVectorError("the deletion vector's checksum does not match")
    return _checked(bitmap_rows(data), vector)


def bitmap_rows(data: bytes) -> list[int]:
    """The sorted values of a Delta RoaringBitmapArray (magic number + portable 64-bit
    Roaring bitmap)."""
    if len(data) < 12 or struct.unpack_from("<i", data, 0)[0] != MAGIC:
        raise DeletionVectorError("a deletion vector without the Delta magic number")
    (buckets,) = struct.unpack_from("<q", data, 4)
    position = 12
    rows: list[int] = []
    for _ in range(buckets):
        (key,) = struct.unpack_from("<I", data, position)
        values, position = _roaring32(data, position + 4)
        high = key << 32
        rows.extend(high | v for v in values)
    return rows


def _roaring32(data: bytes, start: int) -> tuple[list[int], int]:
    """One portable 32-bit Roaring bitmap at ``start``: its values and where it ends."""
    (cookie,) = struct.unpack_from("<I", data, start)
    position = start + 4
    runs = b""
    if cookie & 0xFFFF == _COOKIE_RUNS:
        size = (cookie >> 16) + 1
        runs = data[position : position + (size + 7) // 8]
        position += (size + 7) // 8
    elif cookie == _COOKIE_NO_RUNS:
        (size,) = struct.unpack_from("<I", data, position)
        position += 4
    else:
        raise DeletionVectorError(f"a Roaring bitmap with the unknown cookie {cookie}")
    header = struct.unpack_from(f"<{2 * size}H", data, position)
    position += 4 * size
    if not runs or size >= _NO_OFFSET_THRESHOLD:
        position += 4 * size  # the offsets: containers are read in order instead
    values: list[int] = []
    for i in range(size):
        high, cardinality = header[2 * i] << 16, header[2 * i + 1] + 1
        if runs and runs[i // 8] & (1 << (i % 8)):
            (count,) = struct.unpack_from("<H", data, position)
            pairs = struct.unpack_from(f"<{2 * count}H", data, position + 2)
            position += 2 + 4 * count
            for j in range(count):
                first = pairs[2 * j]
                values.extend(high | v for v in range(first, first + pairs[2 * j + 1] + 1))
        elif cardinality > _ARRAY_MAX:
            words = data[position : position + 8192]
            position += 8192
            for index, byte in enumerate(words):
                if byte:
                    base = high | (index * 8)
                    values.extend(base | bit for bit in range(8) if byte >> bit & 1)
        else:
            values.extend(high | v for v in struct.unpack_from(f"<{cardinality}H", data, position))
            position += 2 * cardinality
    return values, position


def _checked(rows: list[int], vector: DeletionVector) -> list[int]:
    if len(rows) != vector.cardinality:
        raise DeletionVectorError(
            f"the deletion vector holds {len(rows)} rows, its descriptor says {vector.cardinality}"
        )
    return rows
