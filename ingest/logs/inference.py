"""Schema on read for raw logs: the types we infer, how they widen, and how keys become names.

Everything here is a small pure function over :data:`Type` values (or over Python
values parsed from JSON), so the rules can be read and unit-tested on their own:

* ``null`` never decides a type: ``merge(NULL, t) == t``.
* ``int`` + ``float`` -> ``float`` (the logs policy of :mod:`lake.delta.evolution`, the one
  place that rule lives), when the float holds every int exactly: an integer beyond
  ±2**53 (``9007199254740993``) is a ``wide_int`` (an ``int64`` column all the same), and
  ``wide_int`` + ``float`` -> ``JSON``, so no digit is lost to a double's rounding.
* structs merge field-wise (first-seen order, new fields appended); lists merge their elements.
* anything else that disagrees (``int`` vs ``string``, ``struct`` vs scalar, ``bool`` vs ``int``)
  -> ``JSON``: a string column that holds the JSON text of *every* value (see
  :func:`json_text`). An integer outside the signed 64-bit range, or a float literal beyond
  the double range, also makes its column ``JSON``, so no digit is ever lost.
* subtrees nested deeper than :data:`MAX_DEPTH` levels are stored as ``JSON`` text.
* a string that is an ISO 8601 time *with a zone* (``2024-01-21T10:00:00.123Z``,
  ``2024-01-21 10:00:00+01:00``; ``T`` or a space, optional seconds and fraction) is a
  ``timestamp`` (microseconds, UTC; finer fractions are cut, ``_raw`` keeps the text), as
  DuckDB's own JSON reader types them; a time without a zone stays text (it is no instant).
  A timestamp and a string that is not one disagree: the column becomes ``JSON`` text and
  keeps every value as written.
* a field that only ever held ``null`` (or ``[]``/``{}`` with nothing inside) gets no column
  yet: there is no type to give it, and its values stay in ``_raw``.

Names (:func:`assign_names`): a JSON key keeps its name, except that the empty key becomes
``_blank``, a NUL character in a key becomes U+FFFD, and a key whose name is taken (a reserved
column at the top level, or a name equal ignoring case to an earlier one at the same level:
Delta and DuckDB compare names without case) gets the first free suffix ``_2``, ``_3``, ...
A name already in the table keeps belonging to the key that produced it.
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

import pyarrow as pa

from lake.delta.evolution import log_union
from lake.delta.types import JSON_ENCODING_KEY

MAX_DEPTH = 32
"""Struct/list levels kept as typed columns; deeper subtrees are stored as JSON text."""


RESERVED_COLUMNS = (
    "_source",
    "_line",
    "_ingested_at",
    "_raw",
    "_error",
    "_event_time",
    "_event_date",
    "_raw_bytes",
)
BLANK_KEY_NAME = "_blank"
LIST_STEP = "[]"
"""How a list's elements appear in a column path, e.g. ``("tags", "[]")``."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
EXACT_IN_DOUBLE = 2**53
"""Every integer of at most this magnitude is exactly a double; 2**53 + 1 is not."""

ScalarKind = Literal["null", "bool", "int", "wide_int", "float", "string", "timestamp", "json"]


@dataclass(frozen=True)
class Scalar:
    kind: ScalarKind

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Struct:
    fields: tuple[tuple[str, Type], ...]

    def get(self, key: str) -> Type | None:
        return self._by_key.get(key)

    @functools.cached_property
    def _by_key(self) -> dict[str, Type]:
        # Not a dataclass field: equality and hashing still see ``fields`` only.
        by_key: dict[str, Type] = {}
        for k, t in self.fields:
            by_key.setdefault(k, t)
        return by_key

    def __str__(self) -> str:
        return "struct<" + ", ".join(f"{json.dumps(k)}: {t}" for k, t in self.fields) + ">"


@dataclass(frozen=True)
class List:
    item: Type

    def __str__(self) -> str:
        return f"list<{self.item}>"


Type = Scalar | Struct | List

NULL = Scalar("null")
BOOL = Scalar("bool")
INT = Scalar("int")
WIDE_INT = Scalar("wide_int")
"""An int with a value beyond ±2**53, which no double holds exactly: stored as int64 like
``INT``, but a float beside it makes the column JSON (see :func:`merge`)."""
FLOAT = Scalar("float")
STRING = Scalar("string")
TIMESTAMP = Scalar("timestamp")  # microseconds, UTC (ISO 8601 strings with a zone; preset times)

ISO_INSTANT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$"
"""A JSON string typed as a timestamp (the same regex runs in RE2 and in ``re``)."""
_ISO_INSTANT = re.compile(ISO_INSTANT)
INSTANT_RANGE = (datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))
"""Instants typed as timestamps, [from, to) (what 64-bit nanoseconds hold, so every reader
agrees); a time outside stays text."""


def iso_instant(text: str) -> datetime | None:
    """The UTC instant an ISO 8601 string with a zone names, or None when it is not one
    (or falls outside the years 1678-2261)."""
    if not _ISO_INSTANT.match(text):
        return None
    head, dot, rest = text.partition(".")
    if dot:  # Python reads at most 6 fraction digits: cut the rest, as Arrow's cast does
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = head + "." + rest[: min(digits, 6)] + rest[digits:]
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return value if INSTANT_RANGE[0] <= value < INSTANT_RANGE[1] else None


JSON = Scalar("json")


class BigNumber:
    """A JSON number literal beyond the double range (``1e400``); kept as its text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BigNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"BigNumber({self.text!r})"


# ---------------------------------------------------------------------------------------
# Widening


def merge(a: Type, b: Type) -> Type:
    """The narrowest type that holds every value of ``a`` and of ``b``."""
    if a == b:
        return a
    if a == NULL:
        return b
    if b == NULL:
        return a
    if a == JSON or b == JSON:
        return JSON
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return _SCALAR_UNION.get((a.kind, b.kind), JSON)
    if isinstance(a, Struct) and isinstance(b, Struct):
        merged = dict(a.fields)
        for key, t in b.fields:
            merged[key] = merge(merged[key], t) if key in merged else t
        return Struct(tuple(merged.items()))
    if isinstance(a, List) and isinstance(b, List):
        return List(merge(a.item, b.item))
    return JSON


def _scalar_union() -> dict[tuple[str, str], Scalar]:
    """Which two scalar kinds meet in a third, by the logs policy's rule
    (:func:`lake.delta.evolution.log_union`); the pairs not listed meet in JSON."""
    kinds = {
        Scalar(k): arrow
        for k, arrow in _SCALAR_ARROW.items()
        if k not in ("null", "json", "wide_int")
    }
    by_arrow = {str(arrow): scalar for scalar, arrow in kinds.items()}
    union = {}
    for a, arrow_a in kinds.items():
        for b, arrow_b in kinds.items():
            met = log_union(arrow_a, arrow_b)
            if met is not None and str(met) in by_arrow:
                union[(a.kind, b.kind)] = by_arrow[str(met)]
    # A wide int is an int64 too, one no double holds: with a float it is no number type.
    union[("int", "wide_int")] = union[("wide_int", "int")] = WIDE_INT
    return union


def merge_all(types: Iterable[Type]) -> Type:
    result: Type = NULL
    for t in types:
        result = merge(result, t)
    return result


def depth(t: Type) -> int:
    if isinstance(t, Struct):
        return 1 + max((depth(v) for _, v in t.fields), default=0)
    if isinstance(t, List):
        return 1 + depth(t.item)
    return 0


def storable(t: Type) -> Type:
    """``t`` as it can be stored: an object that was only ever empty (``{}``) carries no
    field and becomes ``NULL``. ``NULL`` parts (a field only ever null, the elements of a
    list only ever empty) stay: they are columns of type ``null`` (see
    :func:`arrow_field`), so the schema names every field the data had.
    """
    if isinstance(t, Struct):
        kept = tuple((k, storable(v)) for k, v in t.fields)
        return Struct(kept) if kept else NULL
    if isinstance(t, List):
        return List(storable(t.item))
    return plain(t)


def plain(t: Type) -> Type:
    """``t`` with every ``wide_int`` an ``int``: the type as a column stores it (both are
    int64; only a float met later tells them apart)."""
    if t == WIDE_INT:
        return INT
    if isinstance(t, Struct):
        return Struct(tuple((k, plain(v)) for k, v in t.fields))
    if isinstance(t, List):
        return List(plain(t.item))
    return t


# ---------------------------------------------------------------------------------------
# Types of parsed Python values (the slow, exact path)


def type_of(value: object, max_depth: int = MAX_DEPTH) -> Type:
    """The type of one value as parsed by :func:`parse_json_line`."""
    if value is None:
        return NULL
    if value is True or value is False:
        return BOOL
    if isinstance(value, BigNumber):
        return JSON
    if isinstance(value, int):
        if -EXACT_IN_DOUBLE <= value <= EXACT_IN_DOUBLE:
            return INT
        return WIDE_INT if _INT64_MIN <= value <= _INT64_MAX else JSON
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return TIMESTAMP if value[:1].isdigit() and iso_instant(value) is not None else STRING
    if max_depth <= 0:
        return JSON
    if isinstance(value, dict):
        return Struct(tuple((k, type_of(v, max_depth - 1)) for k, v in value.items()))
    if isinstance(value, list):
        return List(merge_all(type_of(v, max_depth - 1) for v in value))
    return JSON


def _parse_float(text: str) -> float | BigNumber:
    value = float(text)
    return BigNumber(text) if math.isinf(value) else value


_DECODER = json.JSONDecoder(parse_float=_parse_float)


def parse_json_line(text: str) -> tuple[object, str | None]:
    """Parse one JSON line: ``(value, None)`` or ``(None, reason)``.

    Duplicate keys: the last value wins (as in most JSON readers); the line keeps its
    text in ``_raw``. ``NaN``/``Infinity``/``-Infinity`` are read as floats.
    """
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as e:
        return None, f"invalid JSON: {e.msg} at column {e.colno}"
    except RecursionError:
        return None, "JSON nested too deeply to parse"
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(value), "a number"
        )
        return None, f"not a JSON object but {kind}"
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        # Valid JSON grammar, but no Unicode text: Arrow and Parquet cannot store it.
        return None, "invalid JSON: a \\u escape is a lone surrogate, not a character"
    return value, None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: object) -> bool:
    try:
        json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (RecursionError, ValueError):
        return False
    return False


def json_text(value: object) -> str:
    """The exact encoding of a value in a JSON column.

    Compact JSON (``separators=(",", ":")``), keys in their original order, non-ASCII
    characters kept as themselves (not ``\\u`` escapes), integers exact, floats in Python's
    shortest round-trip form (``1.0``, ``1e+20``), number literals beyond the double range as
    written; so the string ``abc`` is stored as ``"abc"`` (with the quotes) and ``5`` as ``5``.
    Raises RecursionError for values nested too deeply to encode.
    """
    tokens: dict[str, str] = {}

    def default(obj: object) -> object:
        if isinstance(obj, BigNumber):
            token = f"\x00bignum{uuid.uuid4().hex}\x00"
            tokens[json.dumps(token)] = obj.text
            return token
        if isinstance(obj, (datetime, date)):  # typed text-log columns (preset times)
            return obj.isoformat()
        raise TypeError(f"cannot encode {type(obj).__name__}")

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default)
    for quoted, literal in tokens.items():
        text = text.replace(quoted, literal)
    return text


def to_arrow_value(value: object, t: Type, names: Names | None = None) -> object:
    """A parsed Python value shaped for ``pa.array(..., type=arrow_type(t, names))``.

    Raises RecursionError for a value nested too deeply to encode as JSON text.
    """
    if value is None or t == NULL:
        return None
    if t == JSON:
        return json_text(value)
    if isinstance(t, Struct):
        if not isinstance(value, dict):
            return None
        nm = names or _NO_NAMES
        return {
            nm.names.get(k, k): to_arrow_value(value.get(k), ft, nm.child(k)) for k, ft in t.fields
        }
    if isinstance(t, List):
        if not isinstance(value, list):
            return None
        item_names = names.item if names is not None else None
        return [to_arrow_value(v, t.item, item_names) for v in value]
    if t == FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if t == TIMESTAMP and isinstance(value, str):
        return iso_instant(value)
    return value


# ---------------------------------------------------------------------------------------
# Arrow <-> Type


def from_arrow(dt: pa.DataType, metadata: Mapping[bytes, bytes] | None = None) -> Type:
    """Our type for an Arrow type (a JSON column is a string field with JSON metadata)."""
    if metadata and metadata.get(JSON_ENCODING_KEY) == b"json":
        return JSON
    if pa.types.is_null(dt) or (metadata and metadata.get(JSON_ENCODING_KEY) == b"null"):
        return NULL
    if pa.types.is_boolean(dt):
        return BOOL
    if pa.types.is_integer(dt):
        return INT
    if pa.types.is_floating(dt) or pa.types.is_decimal(dt):
        return FLOAT
    if pa.types.is_struct(dt):
        return Struct(
            tuple(
                (dt.field(i).name, from_arrow(dt.field(i).type, dt.field(i).metadata))
                for i in range(dt.num_fields)
            )
        )
    if pa.types.is_list(dt) or pa.types.is_large_list(dt) or pa.types.is_list_view(dt):
        return List(from_arrow(dt.value_type, dt.value_field.metadata))
    if pa.types.is_timestamp(dt):
        return TIMESTAMP
    if pa.types.is_string(dt) or pa.types.is_large_string(dt) or pa.types.is_string_view(dt):
        return STRING
    return JSON


@dataclass(frozen=True)
class Names:
    """Column names of a struct's fields (by JSON key), and of their children."""

    names: Mapping[str, str] = field(default_factory=dict)
    children: Mapping[str, Names] = field(default_factory=dict)
    item: Names | None = None

    def child(self, key: str) -> Names:
        return self.children.get(key, _NO_NAMES)


_NO_NAMES = Names()


def arrow_type(t: Type, names: Names = _NO_NAMES) -> pa.DataType:
    """The Arrow type of ``t``; struct fields named by ``names`` (JSON keys when absent)."""
    return arrow_field("x", t, names).type


def arrow_field(name: str, t: Type, names: Names = _NO_NAMES) -> pa.Field:
    if t == JSON:
        return pa.field(name, pa.string(), metadata={JSON_ENCODING_KEY: b"json"})
    if t == NULL:
        # No value yet: a string column marked null-only (lake.delta.types.is_null_only).
        return pa.field(name, pa.string(), metadata={JSON_ENCODING_KEY: b"null"})
    if isinstance(t, Scalar):
        return pa.field(name, _SCALAR_ARROW[t.kind])
    if isinstance(t, Struct):
        return pa.field(
            name,
            pa.struct([arrow_field(names.names.get(k, k), v, names.child(k)) for k, v in t.fields]),
        )
    return pa.field(name, pa.list_(arrow_field("element", t.item, names.item or _NO_NAMES)))


_SCALAR_ARROW = {
    "null": pa.null(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "wide_int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
}
_SCALAR_UNION = _scalar_union()


# ---------------------------------------------------------------------------------------
# Names


def assign_names(
    keys: Sequence[str],
    *,
    existing: Sequence[str] = (),
    reserved: Collection[str] = (),
) -> dict[str, str]:
    """Column name for each JSON key at one level (see the module docstring for the rule).

    ``existing`` are the names the table already has at this level, ``reserved`` names no
    key may take (our own columns at the top level).
    """
    taken = {n.casefold() for n in reserved}
    claimed: set[str] = set()
    result: dict[str, str] = {}
    existing_set = set(existing)
    # A key that exactly names an existing column keeps it, wherever it appears.
    for key in keys:
        if key in existing_set and key.casefold() not in taken:
            result[key] = key
            claimed.add(key)
    taken |= {n.casefold() for n in existing_set if n in claimed}
    others = {n.casefold() for n in existing_set if n not in claimed}
    for key in keys:
        if key in result:
            continue
        # NUL cannot be stored in a Postgres catalog, nor quoted for DuckDB.
        base = key.replace("\x00", "\ufffd") if key != "" else BLANK_KEY_NAME
        candidate, n = base, 1
        while True:
            folded = candidate.casefold()
            if candidate in existing_set and candidate not in claimed and folded not in taken:
                break  # the name this rule gave the same key in an earlier ingest
            if folded not in taken and folded not in others:
                break
            n += 1
            candidate = f"{base}_{n}"
        result[key] = candidate
        claimed.add(candidate)
        taken.add(candidate.casefold())
    return result


def name_tree(t: Type, existing: pa.DataType | None = None, *, top_level: bool = False) -> Names:
    """Names for every struct level of ``t``, keeping the names ``existing`` already uses."""
    if isinstance(t, List):
        ex_item = existing.value_type if existing is not None and _is_list(existing) else None
        return Names(item=name_tree(t.item, ex_item))
    if not isinstance(t, Struct):
        return _NO_NAMES
    ex_fields: dict[str, pa.DataType] = {}
    if existing is not None and pa.types.is_struct(existing):
        ex_fields = {
            existing.field(i).name: existing.field(i).type for i in range(existing.num_fields)
        }
    names = assign_names(
        [k for k, _ in t.fields],
        existing=list(ex_fields),
        reserved=RESERVED_COLUMNS if top_level else (),
    )
    children = {
        k: name_tree(v, ex_fields.get(names[k]))
        for k, v in t.fields
        if isinstance(v, (Struct, List))
    }
    return Names(names=names, children=children)


def _is_list(dt: pa.DataType) -> bool:
    return pa.types.is_list(dt) or pa.types.is_large_list(dt)


# ---------------------------------------------------------------------------------------
# Drift


DriftKind = Literal["added", "widened", "conflict"]


@dataclass(frozen=True)
class TypeChange:
    """One difference between a table's type and the type new data needs (by column path)."""

    path: tuple[str, ...]
    kind: DriftKind
    old: Type | None
    new: Type


def type_changes(old: Type | None, new: Type, path: tuple[str, ...] = ()) -> list[TypeChange]:
    """What changes from ``old`` (None: absent) to ``new``, outermost change first.

    A new field is reported once (``added``), not its children; a struct that gains fields
    reports each field; ``int`` -> ``float`` is ``widened``; becoming JSON is ``conflict``.
    """
    if old is None:
        return [TypeChange(path, "added", None, new)]
    if old == new or new == NULL or plain(old) == plain(new):
        return []
    if old == NULL:
        return [TypeChange(path, "widened", old, new)]  # a null-only column gets its type
    if isinstance(old, Struct) and isinstance(new, Struct):
        out: list[TypeChange] = []
        for key, nt in new.fields:
            out += type_changes(old.get(key), nt, (*path, key))
        return out
    if isinstance(old, List) and isinstance(new, List):
        return type_changes(old.item, new.item, (*path, LIST_STEP))
    kind: DriftKind = "conflict" if new == JSON else "widened"
    return [TypeChange(path, kind, old, new)]


def value_at(value: object, path: Sequence[str]) -> list[object]:
    """Every value found at ``path`` inside one parsed record (lists fan out)."""
    found = [value]
    for step in path:
        nxt: list[object] = []
        for v in found:
            if step == LIST_STEP and isinstance(v, list):
                nxt.extend(v)
            elif isinstance(v, dict) and step in v:
                nxt.append(v[step])
        found = nxt
    return found


def needs_change(values: Iterable[object], old: Type | None) -> bool:
    """True when some value does not fit ``old`` without a change of type."""
    for v in values:
        t = type_of(v)
        if t == NULL:
            continue
        if old is None or plain(merge(old, t)) != plain(old):
            return True
    return False
