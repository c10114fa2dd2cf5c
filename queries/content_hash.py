"""The content hash of a training set: one digest of its rows, however they were sharded.

Definition (``lake-content-hash/1``), for rows in their deterministic order:

* Every column is split into *streams*, depth first in schema order. A column of any type
  has a validity stream (one byte per row: 1 = value, 0 = null). Fixed-width values
  (integers, floats, booleans, dates, times, timestamps, durations, decimals, fixed-size
  binary) add a data stream of their little-endian bytes, with a null written as zeros
  and every NaN as the one canonical quiet NaN. Strings and binaries add a lengths stream
  (int64 per row, 0 for null) and a bytes stream (the values concatenated). A struct's
  fields follow it as child columns (a field of a null struct counts as null). A list or
  map adds a lengths stream and its values follow as one child column (a map's values are
  its entries, key then value). Dictionary-encoded columns are hashed as their values.
* Each stream is hashed with SHA-256 on its own. Because a stream is the concatenation of
  per-row encodings, cutting the rows into batches or files anywhere gives the same
  stream, hence the same digest: the hash does not depend on sharding.
* ``content_hash = sha256("lake-content-hash/1\\n" + schema + "\\n" + for each stream:
  its path, its kind and its digest + row count)``, where ``schema`` is the JSON list of
  ``[name, type]`` with types in one canonical spelling (``string`` for every string
  layout, ``list<...>`` for every list layout, a dictionary's value type).

The encoding uses Arrow compute on whole batches (no per-row Python), so hashing keeps
pace with writing Parquet.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

SCHEME = "lake-content-hash/1"


@dataclass
class ContentHasher:
    """Feed record batches in order with :meth:`update`; read :meth:`hexdigest` at the end."""

    schema: pa.Schema
    rows: int = 0
    _streams: dict[tuple[str, str], hashlib._Hash] = field(default_factory=dict)
    _order: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for f in self.schema:
            self._declare(f.name, f.type)

    def update(self, batch: pa.RecordBatch) -> None:
        for i, f in enumerate(self.schema):
            self._feed(f.name, f.type, batch.column(i))
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        final = hashlib.sha256()
        final.update(f"{SCHEME}\n".encode())
        final.update(canonical_schema_json(self.schema).encode())
        final.update(b"\n")
        for key in self._order:
            path, kind = key
            final.update(f"{path}\x00{kind}\x00".encode())
            final.update(self._streams[key].digest())
        final.update(struct.pack("<q", self.rows))
        return final.hexdigest()

    # -- streams ---------------------------------------------------------------------------

    def _declare(self, path: str, type_: pa.DataType) -> None:
        """Create the streams of a column in their fixed order (even for zero rows)."""
        import pyarrow as pa

        type_ = _value_type(type_)
        self._stream(path, "validity")
        if _is_binary_like(type_):
            self._stream(path, "lengths")
            self._stream(path, "bytes")
        elif pa.types.is_struct(type_):
            for i in range(type_.num_fields):
                child = type_.field(i)
                self._declare(f"{path}.{child.name}", child.type)
        elif pa.types.is_map(type_):
            self._stream(path, "lengths")
            self._declare(f"{path}[].key", type_.key_type)
            self._declare(f"{path}[].value", type_.item_type)
        elif _is_list(type_):
            self._stream(path, "lengths")
            self._declare(f"{path}[]", type_.value_type)
        elif not pa.types.is_null(type_):
            self._stream(path, "data")

    def _stream(self, path: str, kind: str) -> hashlib._Hash:
        key = (path, kind)
        found = self._streams.get(key)
        if found is None:
            found = self._streams[key] = hashlib.sha256()
            self._order.append(key)
        return found

    def _feed(self, path: str, type_: pa.DataType, array: pa.Array) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        type_ = _value_type(type_)
        self._stream(path, "validity").update(_validity_bytes(array))
        if pa.types.is_null(type_):
            return
        if _is_binary_like(type_):
            lengths, data = _binary_parts(array)
            self._stream(path, "lengths").update(lengths)
            self._stream(path, "bytes").update(data)
        elif pa.types.is_struct(type_):
            children = array.flatten()  # applies the slice offset and the struct's nulls
            for i in range(type_.num_fields):
                child = type_.field(i)
                self._feed(f"{path}.{child.name}", child.type, children[i])
        elif pa.types.is_map(type_):
            self._stream(path, "lengths").update(_list_lengths(array))
            entries = _list_values(array).flatten()
            self._feed(f"{path}[].key", type_.key_type, entries[0])
            self._feed(f"{path}[].value", type_.item_type, entries[1])
        elif _is_list(type_):
            self._stream(path, "lengths").update(_list_lengths(array))
            self._feed(f"{path}[]", type_.value_type, _list_values(array))
        else:
            self._stream(path, "data").update(_fixed_width_bytes(array, pc))


def content_hash(batches, schema: pa.Schema) -> tuple[str, int]:  # noqa: ANN001
    """(hex digest, rows) of an iterable of record batches."""
    hasher = ContentHasher(schema)
    for batch in batches:
        hasher.update(batch)
    return hasher.hexdigest(), hasher.rows


def canonical_schema_json(schema: pa.Schema) -> str:
    return json.dumps([[f.name, canonical_type(f.type)] for f in schema], separators=(",", ":"))


def canonical_type(type_: pa.DataType) -> str:
    """One spelling per logical type, whatever Arrow layout carries it."""
    import pyarrow as pa

    type_ = _value_type(type_)
    if (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    ):
        return "string"
    if (
        pa.types.is_binary(type_)
        or pa.types.is_large_binary(type_)
        or pa.types.is_binary_view(type_)
    ):
        return "binary"
    if pa.types.is_struct(type_):
        inner = ",".join(
            f"{json.dumps(type_.field(i).name)}:{canonical_type(type_.field(i).type)}"
            for i in range(type_.num_fields)
        )
        return f"struct<{inner}>"
    if pa.types.is_map(type_):
        return f"map<{canonical_type(type_.key_type)},{canonical_type(type_.item_type)}>"
    if _is_list(type_):
        return f"list<{canonical_type(type_.value_type)}>"
    return str(type_)


# -- encodings ---------------------------------------------------------------------------------


def _value_type(type_: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    return type_.value_type if pa.types.is_dictionary(type_) else type_


def _is_list(type_: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_list(type_)
        or pa.types.is_large_list(type_)
        or pa.types.is_fixed_size_list(type_)
        or pa.types.is_list_view(type_)
        or pa.types.is_large_list_view(type_)
    )


def _is_binary_like(type_: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
        or pa.types.is_binary(type_)
        or pa.types.is_large_binary(type_)
        or pa.types.is_binary_view(type_)
    )


def _validity_bytes(array: pa.Array) -> bytes:
    import pyarrow as pa
    import pyarrow.compute as pc

    if array.null_count == 0:
        return b"\x01" * len(array)
    return pc.is_valid(array).cast(pa.uint8()).buffers()[1].to_pybytes()[: len(array)]


def _binary_parts(array: pa.Array) -> tuple[bytes, memoryview | bytes]:
    """(int64 lengths, concatenated bytes) of a string or binary array; nulls are empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    binary = array.cast(pa.large_binary())
    if binary.null_count:
        binary = binary.fill_null(b"")
    if len(binary) == 0:
        return b"", b""
    lengths = pc.binary_length(binary).cast(pa.int64())
    offsets = binary.buffers()[1]
    first, last = (
        struct.unpack_from("<q", offsets, binary.offset * 8)[0],
        struct.unpack_from("<q", offsets, (binary.offset + len(binary)) * 8)[0],
    )
    data = binary.buffers()[2]
    return _plain_buffer(lengths, 8), (b"" if data is None else memoryview(data)[first:last])


def _list_lengths(array: pa.Array) -> memoryview:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_map(array.type):
        array = _map_as_list(array)
    lengths = pc.list_value_length(array).cast(pa.int64()).fill_null(0)
    return _plain_buffer(lengths, 8)


def _map_as_list(array: pa.Array) -> pa.Array:
    import pyarrow as pa

    type_ = array.type
    entries = pa.struct([pa.field("key", type_.key_type), pa.field("value", type_.item_type)])
    return array.cast(pa.list_(entries))


def _list_values(array: pa.Array) -> pa.Array:
    """The values of a list (or the key/value entries of a map) in row order, skipping the
    values behind null rows."""
    import pyarrow as pa

    type_ = array.type
    if pa.types.is_map(type_):
        array = _map_as_list(array)
    elif pa.types.is_list_view(type_) or pa.types.is_large_list_view(type_):
        array = array.cast(pa.large_list(type_.value_type))
    return array.flatten()


def _fixed_width_bytes(array: pa.Array, pc) -> bytes:  # noqa: ANN001
    """Little-endian values with nulls as zeros and one canonical NaN."""
    import pyarrow as pa

    type_ = array.type
    if pa.types.is_boolean(type_):
        return _plain_buffer(array.fill_null(False).cast(pa.uint8()), 1)
    if pa.types.is_floating(type_):
        if pa.types.is_float16(type_):
            array = array.cast(pa.float32())
        nan = float("nan")
        array = pc.if_else(pc.is_nan(array), pa.scalar(nan, array.type), array)
        width = array.type.bit_width // 8
        as_int = pa.Array.from_buffers(
            pa.int64() if width == 8 else pa.int32(),
            len(array),
            array.buffers(),
            array.null_count,
            array.offset,
        )
        return _plain_buffer(as_int.fill_null(0), width)
    width = type_.bit_width // 8
    if pa.types.is_decimal(type_) or pa.types.is_fixed_size_binary(type_):
        if array.null_count:
            from decimal import Decimal

            zero = pa.scalar(Decimal(0) if pa.types.is_decimal(type_) else bytes(width), type_)
            array = pc.if_else(pc.is_valid(array), array, zero)
        return _plain_buffer(array, width)
    integer = {1: pa.int8(), 2: pa.int16(), 4: pa.int32(), 8: pa.int64()}.get(width)
    if integer is None:  # 16-byte intervals: no zero-filling kernel; their bytes as they are
        return _plain_buffer(array, width)
    as_int = pa.Array.from_buffers(
        integer, len(array), array.buffers()[:2], array.null_count, array.offset
    )
    return _plain_buffer(as_int.fill_null(0), width)


def _plain_buffer(array: pa.Array, width: int) -> memoryview | bytes:
    data = array.buffers()[1]
    if data is None or len(array) == 0:
        return b""
    return memoryview(data)[array.offset * width : (array.offset + len(array)) * width]
