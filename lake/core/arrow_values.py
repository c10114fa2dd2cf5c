"""Arrow scalars and arrays made from Python values without pyarrow importing pandas.

Before ``pa.scalar``, ``pa.array`` and every compute function handed a plain Python value
(``pc.equal(column, "")``, ``pc.list_element(lists, 0)``) convert it, pyarrow asks whether
the value is a pandas object, and the first time it asks it imports pandas when pandas is
installed: 0.08-0.1 CPU-s of a writing command's start-up that only asks a question whose
answer is "no". The values here are built from their bytes (``pa.Array.from_buffers``), as
``pa.scalar`` would make them, for the types the stages use; any other type goes through
``pa.scalar``/``pa.array`` as before (same value, pandas imported).
"""

from __future__ import annotations

from array import array as _typed
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

_EPOCH_DAY = date(1970, 1, 1)
_NONE = type(None)
_PER_MICROSECOND = {"us": 1, "ns": 1_000}
_INTEGERS = {
    pa.int8(): "b",
    pa.int16(): "h",
    pa.int32(): "i",
    pa.int64(): "q",
    pa.uint8(): "B",
    pa.uint16(): "H",
    pa.uint32(): "I",
    pa.uint64(): "Q",
}


def scalar(value: Any, type: pa.DataType) -> pa.Scalar:
    """``pa.scalar(value, type)``, without importing pandas for the common types."""
    if value is None:
        return pa.nulls(1, type)[0]
    made = _made([value], type)
    return made[0] if made is not None else pa.scalar(value, type)


def array(values: Sequence[Any], type: pa.DataType) -> pa.Array:
    """``pa.array(values, type)`` without importing pandas for the common types; None is a
    null in a string array (a record's error or none), other types take no None."""
    made = _made(values, type)
    return made if made is not None else pa.array(values, type)


def _made(values: Sequence[Any], type: pa.DataType) -> pa.Array | None:
    n = len(values)
    kinds = set(map(_kind, values))  # in C: 2M line numbers in 0.05 s
    code = _INTEGERS.get(type)
    if code is not None and kinds <= {int}:
        try:
            typed = _typed(code, values)
        except OverflowError:  # out of the type's range: pyarrow's own error says so
            return None
        return pa.Array.from_buffers(type, n, [None, pa.py_buffer(typed)])
    if type == pa.float64() and kinds <= {float}:
        return pa.Array.from_buffers(type, n, [None, pa.py_buffer(_typed("d", values))])
    if type == pa.bool_() and kinds <= {bool}:
        return pa.Array.from_buffers(type, n, [None, pa.py_buffer(_bits(values))])
    if type in (pa.string(), pa.large_string()) and kinds <= {str}:
        return _binary_like([v.encode() for v in values], type)
    if type in (pa.string(), pa.large_string()) and kinds <= {str, _NONE}:
        encoded = [None if v is None else v.encode() for v in values]
        return _binary_like(encoded, type, nulls=True)
    if type in (pa.binary(), pa.large_binary()) and kinds <= {bytes}:
        return _binary_like(values, type)
    if type == pa.date32() and kinds <= {date}:
        days = [(v - _EPOCH_DAY).days for v in values]
        return pa.Array.from_buffers(type, n, [None, pa.py_buffer(_typed("i", days))])
    if (
        pa.types.is_timestamp(type)
        and type.unit in _PER_MICROSECOND
        and kinds <= {datetime}
        and all((v.tzinfo is not None) == (type.tz is not None) for v in values)
    ):
        counts = [_microseconds(v) * _PER_MICROSECOND[type.unit] for v in values]
        return pa.Array.from_buffers(type, n, [None, pa.py_buffer(_typed("q", counts))])
    return None


def _kind(value: Any) -> type:
    return type(value)


def _bits(flags: Sequence[Any]) -> bytes:
    """An Arrow bitmap of ``flags``: bit i is set where the i-th is true."""
    bits = bytearray((len(flags) + 7) // 8)
    for i, flag in enumerate(flags):
        if flag:
            bits[i // 8] |= 1 << (i % 8)
    return bytes(bits)


def _binary_like(
    encoded: Sequence[bytes | None], type: pa.DataType, *, nulls: bool = False
) -> pa.Array:
    """A string or binary array of ``encoded``; with ``nulls``, None is a null."""
    values = [b"" if v is None else v for v in encoded] if nulls else encoded
    offsets = [0]
    for value in values:
        offsets.append(offsets[-1] + len(value))
    wide = type in (pa.large_string(), pa.large_binary())
    if not wide and offsets[-1] >= 2**31:
        return pa.array(encoded, type)  # too long for 32-bit offsets: pyarrow says so
    validity = pa.py_buffer(_bits([v is not None for v in encoded])) if nulls else None
    buffers = [validity, pa.py_buffer(_typed("q" if wide else "i", offsets))]
    return pa.Array.from_buffers(type, len(encoded), [*buffers, pa.py_buffer(b"".join(values))])


def _microseconds(value: datetime) -> int:
    """Microseconds since 1970-01-01 (UTC for an aware time): exact, as Python keeps them."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    delta = value - datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


TRUE = scalar(True, pa.bool_())
FALSE = scalar(False, pa.bool_())
"""For ``pc.fill_null(mask, FALSE)``: given ``False``, ``fill_null`` calls ``pa.scalar``."""
