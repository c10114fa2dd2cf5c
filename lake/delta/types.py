"""What a Delta table can store, and the one spelling of each type.

Arrow has many physical forms of one logical type; Delta has one. This module is the only
place that knows the difference:

* :func:`normal_type`: one spelling per logical type, used to compare schemas (a table
  read back by deltalake says ``large_string`` or ``string_view`` where ``string`` was
  written; every time zone is stored as the UTC instant).
* :func:`storable_type`: the type a column of some Arrow type is written as, chosen so that
  every value survives exactly, or :class:`~lake.core.errors.TypeNotStorable` with one
  sentence saying what to do. The mapping:

  ======================================= =================================================
  Arrow type                              written as
  ======================================= =================================================
  int8/16/32/64, float32/64, bool, date32 itself
  string, binary, decimal128(p <= 38)     itself
  large_string, string_view               string
  large_binary, binary_view,              binary
  fixed_size_binary
  uint8 / uint16 / uint32                 int16 / int32 / int64
  uint64                                  decimal128(20, 0)
  float16                                 float32
  decimal32/64/256 (p <= 38)              decimal128(p, s)
  decimal(p, s < 0) (p - s <= 38)         decimal128(p - s, 0)
  date64                                  date32 (a value that is not a whole day: refused)
  timestamp with a zone, any unit         timestamp[us, tz=UTC] (the instant)
  timestamp without a zone, any unit      timestamp[us] (needs Delta's ``timestampNtz``
                                          feature, which the table format adds)
  nanoseconds                             microseconds (a value with nanoseconds: refused)
  list, large_list, list_view,            list of the element's stored type
  fixed_size_list
  struct, map                             field by field, key and value
  dictionary                              its values' type
  extension types                         their storage type
  null (a column of nothing but nulls),   refused: Delta has no such type
  time32/64, duration, interval, union,
  decimal of more than 38 digits,
  an empty struct
  ======================================= =================================================

* The ``json`` type of the lake: a string column whose field metadata marks it as holding
  each value's JSON text (:data:`JSON_ENCODING_KEY`, :func:`json_field`, :func:`json_text`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

from lake.core.errors import TypeNotStorable

if TYPE_CHECKING:
    import pyarrow as pa

JSON_ENCODING_KEY = b"lake.encoding"
"""Arrow field metadata key marking a string column that holds JSON text (value ``b"json"``);
Delta keeps field metadata in the table's schema."""

_UNSIGNED = {8: "int16", 16: "int32", 32: "int64"}


def is_json(field: pa.Field) -> bool:
    return (field.metadata or {}).get(JSON_ENCODING_KEY) == b"json"


def is_null_only(field: pa.Field) -> bool:
    """A column (or struct field, or list element) that every record so far left null, an
    empty object, or absent: stored as a string column marked ``lake.encoding = null``,
    so a query naming it finds it. The first write with a real value gives it that type."""
    return (field.metadata or {}).get(JSON_ENCODING_KEY) == b"null"


def null_only_field(name: str) -> pa.Field:
    """A column with no values yet (see :func:`is_null_only`)."""
    import pyarrow as pa

    return pa.field(name, pa.string(), metadata={JSON_ENCODING_KEY: b"null"})


def json_field(name: str, *, nullable: bool = True) -> pa.Field:
    """A column of JSON text."""
    import pyarrow as pa

    return pa.field(name, pa.string(), nullable=nullable, metadata={JSON_ENCODING_KEY: b"json"})


def column_type(field: pa.Field) -> str:
    """A column's type as shown to users and fingerprinted by the catalog: its Arrow type,
    with ``json`` for a string of JSON text, at any depth (``list<element: json>``)."""
    if is_json(field):
        return "json"
    if is_null_only(field):
        return "null"
    if not _holds_json(field.type):
        return str(field.type)
    import pyarrow as pa

    t = field.type
    if pa.types.is_struct(t):
        inner = ", ".join(
            f"{f.name}: {column_type(f)}" for f in (t.field(i) for i in range(t.num_fields))
        )
        return f"struct<{inner}>"
    if is_list(t):
        return f"list<{t.value_field.name}: {column_type(t.value_field)}>"
    if pa.types.is_map(t):
        return f"map<{t.key_type}, {column_type(t.item_field)}>"
    return str(t)


def _holds_json(t: pa.DataType) -> bool:
    """Whether a nested type has a part shown other than by Arrow (json, null)."""
    import pyarrow as pa

    def marked(f: pa.Field) -> bool:
        return is_json(f) or is_null_only(f) or _holds_json(f.type)

    if pa.types.is_struct(t):
        return any(marked(f) for f in (t.field(i) for i in range(t.num_fields)))
    if is_list(t):
        return marked(t.value_field)
    if pa.types.is_map(t):
        return marked(t.item_field)
    return False


def json_text(value: object, *, default: Callable[[object], object] | None = None) -> str:
    """The exact encoding of a value in a JSON column.

    Compact JSON (``separators=(",", ":")``), keys in their original order, non-ASCII
    characters kept as themselves (not ``\\u`` escapes), integers exact, floats in Python's
    shortest round-trip form (``1.0``, ``1e+20``), times in ISO 8601; so the string ``abc``
    is stored as ``"abc"`` (with the quotes) and ``5`` as ``5``. ``default`` encodes other
    objects (see ``json.dumps``). Raises RecursionError for values nested too deeply.
    """

    def encode(obj: object) -> object:
        if isinstance(obj, (datetime, date)):
            return obj.isoformat()
        if default is not None:
            return default(obj)
        raise TypeError(f"cannot encode {type(obj).__name__}")

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=encode)


def is_list(t: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
        or pa.types.is_fixed_size_list(t)
    )


def normal_type(t: pa.DataType) -> pa.DataType:
    """One spelling per logical type: plain strings, binaries and lists for their large,
    view and fixed-size forms, UTC for every time zone, values for dictionaries, storage
    types for extensions. Two types with the same normal type hold the same values."""
    import pyarrow as pa

    if isinstance(t, pa.ExtensionType):
        return normal_type(t.storage_type)
    if pa.types.is_dictionary(t):
        return normal_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if is_list(t):
        # The element's marks (json, null) stay: Arrow's type equality ignores them.
        return pa.list_(
            pa.field("item", normal_type(t.value_type), metadata=t.value_field.metadata)
        )
    if pa.types.is_struct(t):
        return pa.struct([_normal_field(t.field(i)) for i in range(t.num_fields)])
    if pa.types.is_map(t):
        return pa.map_(normal_type(t.key_type), normal_type(t.item_type))
    if pa.types.is_timestamp(t) and t.tz is not None:
        return pa.timestamp(t.unit, tz="UTC")
    return t


def _normal_field(f: pa.Field) -> pa.Field:
    import pyarrow as pa

    return pa.field(f.name, normal_type(f.type), metadata=f.metadata)


def same_type(a: pa.DataType, b: pa.DataType) -> bool:
    # Equal types have equal normal types: most are, and normalizing builds new types.
    return a.equals(b) or normal_type(a).equals(normal_type(b))


def storable_type(t: pa.DataType, *, column: str) -> pa.DataType:
    """The type a column of type ``t`` is stored as (see the table in the module docstring).

    Raises:
        TypeNotStorable: Delta has no type that holds every value of ``t``.
    """
    import pyarrow as pa

    def refuse(what: str, fix: str) -> TypeNotStorable:
        return TypeNotStorable(
            f"Column {column!r} is {t}: {what}; {fix}, then write again.", column=column
        )

    if isinstance(t, pa.ExtensionType):
        return storable_type(t.storage_type, column=column)
    if pa.types.is_dictionary(t):
        return storable_type(t.value_type, column=column)
    if pa.types.is_null(t):
        raise refuse(
            "it holds only nulls, and a Delta column needs a type",
            "give it one (e.g. pa.array([None], pa.string()))",
        )
    if pa.types.is_unsigned_integer(t):
        if t.bit_width == 64:
            return pa.decimal128(20, 0)
        return getattr(pa, _UNSIGNED[t.bit_width])()
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_decimal(t):
        # a negative scale (12300 as 123 hundreds), which Delta and Parquet lack, is kept as
        # the same values with scale 0: every digit of them
        digits = t.precision - min(t.scale, 0)
        if digits > 38:
            raise refuse(
                "Delta keeps decimals of up to 38 digits",
                "cast it to a string, or to a decimal of at most 38 digits",
            )
        return pa.decimal128(digits, max(t.scale, 0))
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz=None if t.tz is None else "UTC")
    if pa.types.is_time(t):
        raise refuse(
            "Delta has no time-of-day type",
            "cast it to a string ('HH:MM:SS.ffffff') or to microseconds since midnight (int64)",
        )
    if pa.types.is_duration(t) or pa.types.is_interval(t):
        raise refuse(
            "Delta has no duration or interval type",
            "cast it to a number of microseconds (int64) or to an ISO 8601 string",
        )
    if pa.types.is_union(t):
        raise refuse(
            "Delta has no union type", "split it into one column per member, or to JSON text"
        )
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_fixed_size_binary(t):
        return pa.binary()
    if is_list(t):
        item = t.value_field
        return pa.list_(
            pa.field(
                "element",
                storable_type(item.type, column=f"{column}[]"),
                metadata=item.metadata,
            )
        )
    if pa.types.is_map(t):
        return pa.map_(
            storable_type(t.key_type, column=f"{column}.key"),
            pa.field(
                "value",
                storable_type(t.item_type, column=f"{column}.value"),
                metadata=t.item_field.metadata,
            ),
        )
    if pa.types.is_struct(t):
        if t.num_fields == 0:
            raise refuse(
                "a struct without fields cannot be stored", "drop the column or give it a field"
            )
        return pa.struct(
            [
                pa.field(
                    f.name,
                    storable_type(f.type, column=f"{column}.{f.name}"),
                    metadata=f.metadata,
                )
                for f in (t.field(i) for i in range(t.num_fields))
            ]
        )
    return t


def storable_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every column in its stored type (nullable, as Delta columns are).

    Raises:
        TypeNotStorable: for the first column Delta cannot hold.
    """
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(f.name, storable_type(f.type, column=f.name), metadata=f.metadata)
            for f in schema
        ]
    )


def has_timestamp_ntz(t: pa.DataType | pa.Schema) -> bool:
    """Whether a timestamp without a zone appears anywhere in ``t`` (Delta's ``timestampNtz``
    feature is then needed to read the table)."""
    import pyarrow as pa

    if isinstance(t, pa.Schema):
        return any(has_timestamp_ntz(f.type) for f in t)
    if pa.types.is_timestamp(t):
        return t.tz is None
    if is_list(t):
        return has_timestamp_ntz(t.value_type)
    if pa.types.is_map(t):
        return has_timestamp_ntz(t.key_type) or has_timestamp_ntz(t.item_type)
    if pa.types.is_struct(t):
        return any(has_timestamp_ntz(t.field(i).type) for i in range(t.num_fields))
    return False


def same_schema(a: pa.Schema, b: pa.Schema) -> bool:
    """Whether two schemas have the same columns, in the same order, of the same types."""

    def norm(schema: pa.Schema) -> list[tuple[str, str, bool]]:
        return [(f.name, str(normal_type(f.type)), is_json(f)) for f in schema]

    # Equal names, types and field metadata give equal norms; Arrow says so in C++, where
    # the norms took 0.3 ms of Python for a 100-line log's schema, twice an append.
    return a.equals(b, check_metadata=True) or norm(a) == norm(b)


JSON_ELEMENTS_KEY = b"lake.json_elements"
"""Field metadata listing the places inside a column's lists and maps that hold JSON text
(``[]``: the elements; ``[].[]``: the elements' elements; ``{}``: a map's values). Delta
keeps metadata on columns and struct fields but not on a list's element or a map's value,
so :func:`to_delta_schema` moves their JSON marks up to the nearest field and
:func:`from_delta_schema` puts them back. A place whose elements are null-only
(:func:`is_null_only`) is listed with the prefix ``null:`` (``null:[]``)."""


def to_delta_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with JSON marks Delta would drop kept on the nearest field."""
    import pyarrow as pa

    return pa.schema([_mark_field(f) for f in schema], metadata=schema.metadata)


def from_delta_schema(schema: pa.Schema) -> pa.Schema:
    """The inverse of :func:`to_delta_schema`, for a schema read from a table's log."""
    import pyarrow as pa

    return pa.schema([_unmark_field(f) for f in schema], metadata=schema.metadata)


def _mark_field(f: pa.Field) -> pa.Field:
    import pyarrow as pa

    paths: list[str] = []
    inner = _mark_type(f.type, "", paths)
    metadata = dict(f.metadata or {})
    metadata.pop(JSON_ELEMENTS_KEY, None)
    if paths:
        metadata[JSON_ELEMENTS_KEY] = json.dumps(paths).encode()
    return pa.field(f.name, inner, nullable=f.nullable, metadata=metadata or None)


def _mark_type(t: pa.DataType, path: str, paths: list[str]) -> pa.DataType:
    """``t`` with struct fields marked in place and list/map JSON marks collected in ``paths``."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return pa.struct([_mark_field(t.field(i)) for i in range(t.num_fields)])
    if is_list(t):
        step = f"{path}[]"
        if is_json(t.value_field):
            paths.append(step)
        elif is_null_only(t.value_field):
            paths.append(f"null:{step}")
        item = _mark_type(t.value_type, f"{step}.", paths)
        return pa.list_(pa.field(t.value_field.name, item, nullable=t.value_field.nullable))
    if pa.types.is_map(t):
        step = f"{path}{{}}"
        if is_json(t.item_field):
            paths.append(step)
        elif is_null_only(t.item_field):
            paths.append(f"null:{step}")
        item = _mark_type(t.item_type, f"{step}.", paths)
        return pa.map_(
            t.key_type, pa.field(t.item_field.name, item, nullable=t.item_field.nullable)
        )
    return t


def _unmark_field(f: pa.Field) -> pa.Field:
    import pyarrow as pa

    metadata = dict(f.metadata or {})
    raw = metadata.pop(JSON_ELEMENTS_KEY, None)
    paths = set(json.loads(raw)) if raw else set()
    inner = _unmark_type(f.type, "", paths)
    return pa.field(f.name, inner, nullable=f.nullable, metadata=metadata or None)


def _unmark_type(t: pa.DataType, path: str, paths: set[str]) -> pa.DataType:
    import pyarrow as pa

    if pa.types.is_struct(t):
        return pa.struct([_unmark_field(t.field(i)) for i in range(t.num_fields)])
    if is_list(t):
        step = f"{path}[]"
        item = _unmark_type(t.value_type, f"{step}.", paths)
        meta = _mark_of(step, paths)
        return pa.list_(
            pa.field(t.value_field.name, item, nullable=t.value_field.nullable, metadata=meta)
        )
    if pa.types.is_map(t):
        step = f"{path}{{}}"
        item = _unmark_type(t.item_type, f"{step}.", paths)
        meta = _mark_of(step, paths)
        value = pa.field(t.item_field.name, item, nullable=t.item_field.nullable, metadata=meta)
        return pa.map_(t.key_type, value)
    return t


def _mark_of(step: str, paths: set[str]) -> dict[bytes, bytes] | None:
    if step in paths:
        return {JSON_ENCODING_KEY: b"json"}
    if f"null:{step}" in paths:
        return {JSON_ENCODING_KEY: b"null"}
    return None
