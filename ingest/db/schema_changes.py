"""How a source's schema moved between two extracts, and whether the table can follow.

:func:`compare_schemas` compares the table's Arrow schema (``old``) with the source's schema as
:meth:`ingest.db.source.Source.schema` describes it now (``new``), column by column, by name:

============  ==========  ====================================================================
kind          compatible  when
============  ==========  ====================================================================
added         yes         a column exists only in ``new`` (older rows read as NULL)
dropped       yes         a column exists only in ``old`` (newer rows hold NULL; a rename shows
                          up as one drop and one add)
widened       yes         every old value is exactly representable in the new type:
                          int8 < int16 < int32 < int64; ints -> float64 (int8/16 -> float32);
                          ints -> decimal(p, s) with p - s >= the int's digits;
                          decimal(p1, s1) -> decimal(p2, s2) with s2 >= s1, p2 - s2 >= p1 - s1;
                          float32 -> float64; date -> timestamp (no zone); timestamp s/ms -> us;
                          lists of the above
narrowed      no          the reverse of a widening (bigint -> int, double -> real...)
changed       no          any other type change (text -> int, timestamp -> timestamptz...)
============  ==========  ====================================================================

Equivalent physical spellings are not changes: string / large_string / string_view, binary /
large_binary / binary_view, list / large_list, and time zones "UTC" / "Etc/UTC" / "+00:00".
Nullability and field metadata are ignored (every extracted column is nullable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

ChangeKind = Literal["added", "dropped", "widened", "narrowed", "changed"]

_INT_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19}
_UTC_NAMES = {"UTC", "Etc/UTC", "+00:00", "Z", "utc", "Etc/Universal", "Universal", "Zulu"}


@dataclass(frozen=True)
class Change:
    """One column's move between two schemas."""

    kind: ChangeKind
    column: str
    old_type: pa.DataType | None
    new_type: pa.DataType | None
    compatible: bool
    message: str


def compare_schemas(old: pa.Schema, new: pa.Schema) -> list[Change]:
    """Every difference between ``old`` (the table) and ``new`` (the source), in column order."""
    changes: list[Change] = []
    old_fields = {f.name: f for f in old}
    new_names = set(new.names)
    for f in new:
        if f.name not in old_fields:
            changes.append(
                Change(
                    "added",
                    f.name,
                    None,
                    f.type,
                    True,
                    f"Column '{f.name}' ({f.type}) was added at the source; the table can add it "
                    "as a nullable column, and rows written before now read it as NULL.",
                )  # fmt: skip
            )
            continue
        before = old_fields[f.name].type
        if same_type(before, f.type):
            continue
        if widens(before, f.type):
            changes.append(
                Change(
                    "widened",
                    f.name,
                    before,
                    f.type,
                    True,
                    f"Column '{f.name}' widened from {before} to {f.type} at the source; every "
                    "value already in the table fits the new type, so the table can widen too.",
                )  # fmt: skip
            )
        elif widens(f.type, before):
            changes.append(
                Change(
                    "narrowed",
                    f.name,
                    before,
                    f.type,
                    False,
                    f"Column '{f.name}' narrowed from {before} to {f.type} at the source; the "
                    f"table keeps {before}, so cast it back in a --query "
                    f"(CAST({f.name} AS <the old type>)) or ingest into a new table.",
                )  # fmt: skip
            )
        else:
            changes.append(
                Change(
                    "changed",
                    f.name,
                    before,
                    f.type,
                    False,
                    f"Column '{f.name}' changed type from {before} to {f.type} at the source, and "
                    "the table cannot hold both; cast it to the old type in a --query, or ingest "
                    "into a new table (or rename the column at the source).",
                )  # fmt: skip
            )
    for f in old:
        if f.name not in new_names:
            changes.append(
                Change(
                    "dropped",
                    f.name,
                    f.type,
                    None,
                    True,
                    f"Column '{f.name}' ({f.type}) is no longer in the source; the table keeps "
                    "it and new rows hold NULL there (if it was renamed, alias it back in a "
                    "--query to keep one column).",
                )  # fmt: skip
            )
    return changes


def normal_type(t: pa.DataType) -> pa.DataType:
    """One spelling per logical type (see the module docstring): plain strings, binaries and
    lists for their large and view forms, "UTC" for every spelling of it, values for
    dictionaries."""
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.list_(normal_type(t.value_type))
    if pa.types.is_list(t):
        return pa.list_(normal_type(t.value_type))
    if pa.types.is_timestamp(t) and t.tz in _UTC_NAMES:
        return pa.timestamp(t.unit, tz="UTC")
    if pa.types.is_dictionary(t):
        return normal_type(t.value_type)
    return t


def same_type(a: pa.DataType, b: pa.DataType) -> bool:
    return normal_type(a).equals(normal_type(b))


def widens(a: pa.DataType, b: pa.DataType) -> bool:
    """True when every value of type ``a`` is exactly a value of type ``b`` (and a != b)."""
    a, b = normal_type(a), normal_type(b)
    if a.equals(b):
        return False
    if pa.types.is_signed_integer(a):
        if pa.types.is_signed_integer(b):
            return b.bit_width > a.bit_width
        if pa.types.is_float64(b):
            return a.bit_width <= 32
        if pa.types.is_float32(b):
            return a.bit_width <= 16
        if pa.types.is_decimal(b):
            return b.precision - b.scale >= _INT_DIGITS[a.bit_width]
        return False
    if pa.types.is_decimal(a) and pa.types.is_decimal(b):
        return b.scale >= a.scale and b.precision - b.scale >= a.precision - a.scale
    if pa.types.is_float32(a):
        return pa.types.is_float64(b)
    if pa.types.is_date32(a):
        return pa.types.is_timestamp(b) and b.tz is None
    if pa.types.is_timestamp(a) and pa.types.is_timestamp(b):
        # Finer units only up to microseconds: nanoseconds cannot reach years past 2262.
        order = {"s": 0, "ms": 1, "us": 2}
        return (
            a.tz == b.tz and a.unit in order and b.unit in order and order[b.unit] > order[a.unit]
        )
    if pa.types.is_list(a) and pa.types.is_list(b):
        return widens(a.value_type, b.value_type)
    return False
