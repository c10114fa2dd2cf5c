"""Source column types -> Arrow types, without loss: the rules, as small pure functions.

Every extracted column gets one Arrow type that Delta can store (no unsigned integers, no
time/interval/duration types, no decimal256, no large_* or *_view types). The full table, with
the reasons, is docs/types.md; in short:

=====================  ========================  =======================  ====================
Arrow type             PostgreSQL                MySQL / MariaDB          SQLite (declared
                                                                          type + stored values)
=====================  ========================  =======================  ====================
int8                                             TINYINT
int16                  smallint                  SMALLINT, YEAR,
                                                 TINYINT UNSIGNED
int32                  integer                   INT, MEDIUMINT (+UNS.),
                                                 SMALLINT UNSIGNED
int64                  bigint                    BIGINT, INT UNSIGNED,    INTEGER affinity
                                                 BIT(2..63)
decimal128(20, 0)                                BIGINT UNSIGNED, BIT(64)
decimal128(p, s)       numeric(p, s), p <= 38    DECIMAL(p, s), p <= 38   DECIMAL(p, s) if all
                                                                          values fit
float32 / float64      real / double precision   FLOAT / DOUBLE           REAL affinity
bool                   boolean                   TINYINT(1), BIT(1)       BOOLEAN holding 0/1
string                 text, varchar, char,      CHAR, VARCHAR, TEXT,     TEXT affinity; any
                       enum, uuid, json, jsonb,  ENUM, SET, JSON,         mixed column
                       numeric (unbounded or     DECIMAL(p > 38),
                       p > 38, exact text),      TIME ('[-]HH:MM:SS.f6')
                       time ('HH:MM:SS.f6'),
                       timetz, interval (ISO),
                       money, inet, xml, ...
date32                 date                      DATE                     DATE (ISO text)
timestamp[us]          timestamp                 DATETIME                 DATETIME (ISO text)
timestamp[us, UTC]     timestamptz               TIMESTAMP (UTC session)
binary                 bytea                     BINARY, VARBINARY, BLOB  BLOB; mixed w/ blobs
list<T>                T[] (one dimension)
=====================  ========================  =======================  ====================

Values with no lossless form under the mapped type (a TINYINT(1) holding 2, a NUMERIC(p,s)
holding NaN, a date of 'infinity' or '0000-00-00', a multi-dimensional array) are refused with
:class:`~ingest.exceptions.SourceValueUnsupported`, never rounded, clipped or nulled.

Every field is nullable (a source NOT NULL may be relaxed later; Delta cannot relax a column).
Fields carry no metadata: delta-rs refuses an append whose field metadata differs from the
table's, so the source's own type name (``numeric(20,4)``, ``tinyint(1)``) is kept on
:class:`SourceColumn` instead (``Source.columns()``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from ingest.exceptions import SourceValueUnsupported

#: Largest precision an Arrow decimal128 (and a Delta decimal) can hold.
MAX_DECIMAL_PRECISION = 38

UTC_MICROS = pa.timestamp("us", tz="UTC")
NAIVE_MICROS = pa.timestamp("us")

Converter = Callable[[Sequence[object]], pa.Array]

# How the Postgres reader must select a column so that the fast reader returns it losslessly.
READ_NATIVE = "native"  # as is; Arrow-side cast if the types differ
READ_TEXT = "text"  # CAST(c AS TEXT): the type's own text output, exact by definition
READ_TEXT_ARRAY = "text[]"  # CAST(c AS TEXT[]), then Arrow-side cast of the elements
READ_MONEY = "money"  # CAST(CAST(c AS NUMERIC) AS TEXT): money's text output is locale-bound
# Delta has no time type, and the fast reader turns '24:00:00' into garbage: read the server's
# text and pad it to the fixed-width 'HH:MM:SS.ffffff' that MySQL TIME also gets.
READ_TIME = "time"
READ_TIME_ARRAY = "time[]"
# MySQL/MariaDB print a FLOAT with 6 significant digits (1234567 -> '1234570'); as a DOUBLE it
# arrives with every digit of the stored single (exact), and becomes that float32 again here.
READ_DOUBLE = "double"

# Checks applied to what the fast reader returns (see dbsource/pg reader).
CHECK_PG_NDIMS = "pg_ndims"  # arrays: a multi-dimensional array would be flattened silently


@dataclass(frozen=True)
class SourceColumn:
    """One extracted column: its name, its Arrow type, and how to read it."""

    name: str
    arrow_type: pa.DataType
    source_type: str
    read_as: str = READ_NATIVE
    check: str | None = None
    convert: Converter | None = field(default=None, compare=False, repr=False)
    # False when the Arrow values do not sort like the source's (enum order, text of numbers,
    # mixed SQLite storage classes): such a column cannot be an incremental cursor.
    cursor_ok: bool = True
    # Why not, when the general reason (values that sort otherwise than the source's) is not it.
    unordered: str | None = field(default=None, compare=False)
    # Postgres char(n): values arrive padded to n, but the server compares them unpadded.
    padded: bool = False

    def field(self) -> pa.Field:
        return pa.field(self.name, self.arrow_type, nullable=True)


def schema_of(columns: Sequence[SourceColumn]) -> pa.Schema:
    return pa.schema([c.field() for c in columns])


# --------------------------------------------------------------------------------------------
# Decimals (shared)


def decimal_type(precision: int | None, scale: int | None) -> pa.DataType | None:
    """decimal128 holding every value of NUMERIC(precision, scale), or None when none can.

    None precision means an unbounded NUMERIC. Postgres 15 allows a negative scale (values are
    rounded to tens, hundreds...) and a scale above the precision (only fractions): both are
    folded into an ordinary (p, s) with 0 <= s <= p that holds the same values.
    """
    if precision is None:
        return None
    scale = scale or 0
    if scale < 0:
        precision, scale = precision - scale, 0
    precision = max(precision, scale)
    if precision < 1 or precision > MAX_DECIMAL_PRECISION:
        return None
    return pa.decimal128(precision, scale)


# --------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass(frozen=True)
class PgType:
    """What the Postgres catalog says about one column's type."""

    name: str  # pg_type.typname: "int4", "numeric", "_text", "mood"
    display: str  # format_type(oid, typmod): "integer", "numeric(10,2)", "text[]"
    kind: str = "b"  # pg_type.typtype: b base, e enum, d domain, c composite, r range, m multirange
    precision: int | None = None  # numeric(p, s), or the element's for numeric[]
    scale: int | None = None
    element: PgType | None = None  # set for arrays
    base: PgType | None = None  # set for domains


_PG_NATIVE: dict[str, pa.DataType] = {
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "date": pa.date32(),
    "timestamp": NAIVE_MICROS,
    "timestamptz": UTC_MICROS,
    "bytea": pa.binary(),
    # JSON text as the server prints it (jsonb: normalized), read natively as JSON-typed text.
    "json": pa.string(),
    "jsonb": pa.string(),
}

# Element types the fast reader returns correctly inside arrays; others are read as text[].
_PG_NATIVE_IN_ARRAYS = {
    "int2", "int4", "int8", "float4", "float8", "bool", "text", "varchar", "bpchar", "date",
    "timestamp", "timestamptz", "bytea",
}  # fmt: skip


def pg_numeric_typmod(typmod: int) -> tuple[int | None, int | None]:
    """(precision, scale) encoded in a numeric typmod; (None, None) for an unbounded numeric."""
    if typmod < 4:
        return None, None
    packed = typmod - 4
    scale = ((packed & 0x7FF) ^ 1024) - 1024  # 11-bit two's complement since Postgres 15
    return (packed >> 16) & 0xFFFF, scale


def pg_resolve(t: PgType) -> PgType:
    """The type a domain stands for (domains of domains included)."""
    while t.kind == "d" and t.base is not None:
        t = t.base
    return t


def pg_scalar(t: PgType) -> tuple[pa.DataType, str]:
    """(Arrow type, read_as) of a non-array Postgres type."""
    t = pg_resolve(t)
    if t.name == "numeric":
        dec = decimal_type(t.precision, t.scale)
        # Unbounded or too wide: the exact text (a per-run decimal scale would make the schema
        # depend on the data and change between incremental runs).
        return (dec, READ_NATIVE) if dec is not None else (pa.string(), READ_TEXT)
    if t.name == "money":
        return pa.string(), READ_MONEY
    if t.name == "time" and t.kind == "b":
        return pa.string(), READ_TIME
    if t.name in _PG_NATIVE and t.kind == "b":
        return _PG_NATIVE[t.name], READ_NATIVE
    # uuid, enums, interval, timetz, inet, xml, ranges, composites, extension types: their text.
    return pa.string(), READ_TEXT


def pg_column(name: str, t: PgType) -> SourceColumn:
    """How to extract one Postgres column."""
    r = pg_resolve(t)
    if r.element is not None:
        elem = pg_resolve(r.element)
        elem_arrow, elem_read = pg_scalar(elem)
        native = elem_read == READ_NATIVE and elem.name in _PG_NATIVE_IN_ARRAYS
        read_as = (
            READ_NATIVE
            if native
            else READ_TIME_ARRAY
            if elem_read == READ_TIME
            else READ_TEXT_ARRAY
        )
        return SourceColumn(
            name, pa.list_(elem_arrow), t.display, read_as=read_as, check=CHECK_PG_NDIMS,
            cursor_ok=False,
        )  # fmt: skip
    arrow, read_as = pg_scalar(r)
    # Dates and timestamps, here and in arrays, are range-checked by their Arrow type
    # (pg_temporal): 'infinity' arrives as an out-of-range integer. JSON text does not sort as
    # Postgres sorts jsonb (and json has no order), so neither can be a cursor.
    ordered = read_as == READ_NATIVE and r.name not in ("json", "jsonb")
    return SourceColumn(
        name, arrow, t.display, read_as=read_as, cursor_ok=ordered, padded=r.name == "bpchar"
    )


def map_list_values(arr: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``arr`` (a list array, maybe sliced) with ``fn`` applied to its values."""
    first, last = arr.offsets[0].as_py(), arr.offsets[-1].as_py()
    offsets = pc.subtract(arr.offsets, pa.scalar(first, arr.offsets.type))
    values = fn(arr.values.slice(first, last - first))
    return pa.ListArray.from_arrays(offsets, values, mask=arr.is_null() if arr.null_count else None)


def canonical_time_text(arr: pa.Array) -> pa.Array:
    """'HH:MM:SS[.f]' texts (or lists of them) -> fixed-width 'HH:MM:SS.ffffff'."""
    if pa.types.is_list(arr.type):
        return map_list_values(arr, canonical_time_text)
    dotted = pc.if_else(
        pc.match_substring(arr, "."), arr, pc.binary_join_element_wise(arr, ".", "")
    )
    return pc.utf8_rpad(dotted, width=len("HH:MM:SS.ffffff"), padding="0")


# The years a lake table holds: 1 to 9999, as Python, Parquet statistics and the Delta log
# write them. Postgres goes from 4713 BC to 294276 AD (dates: 5874897 AD), and 'infinity'
# arrives as an integer outside even that; all of those are refused, never wrapped.
LAKE_MIN_DATE_DAYS = -719_162  # 0001-01-01, days since 1970-01-01
LAKE_MAX_DATE_DAYS = 2_932_896  # 9999-12-31
LAKE_MIN_TIMESTAMP_US = LAKE_MIN_DATE_DAYS * 86_400_000_000
LAKE_MAX_TIMESTAMP_US = (LAKE_MAX_DATE_DAYS + 1) * 86_400_000_000 - 1


def pg_temporal(t: pa.DataType) -> bool:
    """Whether values of type ``t`` (or its list elements) are dates or timestamps, which the
    fast reader hands over unchecked (see pg_out_of_range)."""
    if pa.types.is_list(t):
        t = t.value_type
    return pa.types.is_date32(t) or pa.types.is_timestamp(t)


def pg_out_of_range(arr: pa.Array) -> int | None:
    """Index of the first value of a date/timestamp array outside the years 1 to 9999 (a BC
    date, 'infinity', or past 9999), or None. For a list array: of the first such element
    among all the lists' values."""
    if pa.types.is_list(arr.type):
        arr = arr.flatten()
    if pa.types.is_date32(arr.type):
        ints, low, high = arr.cast(pa.int32()), LAKE_MIN_DATE_DAYS, LAKE_MAX_DATE_DAYS
    else:
        ints, low, high = arr.cast(pa.int64()), LAKE_MIN_TIMESTAMP_US, LAKE_MAX_TIMESTAMP_US
    bad = pc.or_(pc.less(ints, low), pc.greater(ints, high))
    if not pc.any(bad).as_py():
        return None
    return pc.index(bad, True).as_py()


# --------------------------------------------------------------------------------------------
# MySQL / MariaDB


@dataclass(frozen=True)
class MySqlField:
    """What the MySQL protocol says about one result column."""

    type_code: int  # pymysql.constants.FIELD_TYPE
    length: int  # display length (digits for numbers, bits for BIT)
    scale: int = 0  # decimals
    unsigned: bool = False
    binary: bool = False  # character set 63 ('binary'): bytes, not text
    enum_or_set: bool = False


# pymysql.constants.FIELD_TYPE, spelled out so the mapping reads without the driver installed.
_MY_DECIMAL, _MY_TINY, _MY_SHORT, _MY_LONG, _MY_FLOAT, _MY_DOUBLE, _MY_NULL = 0, 1, 2, 3, 4, 5, 6
_MY_TIMESTAMP, _MY_LONGLONG, _MY_INT24, _MY_DATE, _MY_TIME, _MY_DATETIME, _MY_YEAR = (
    7, 8, 9, 10, 11, 12, 13,
)  # fmt: skip
_MY_VARCHAR, _MY_BIT, _MY_JSON, _MY_NEWDECIMAL, _MY_ENUM, _MY_SET = 15, 16, 245, 246, 247, 248
_MY_BLOBS = (249, 250, 251, 252)  # tiny, medium, long, blob (TEXT columns too)
_MY_VAR_STRING, _MY_STRING, _MY_GEOMETRY = 253, 254, 255


def mysql_column(name: str, f: MySqlField) -> SourceColumn:
    """How to extract one MySQL/MariaDB column."""
    tc, u = f.type_code, " unsigned" if f.unsigned else ""
    if tc == _MY_TINY:
        if f.length == 1 and not f.unsigned:
            # The conventional boolean; other values are refused, not folded into True.
            return _col(name, pa.bool_(), "tinyint(1)", _bool01("tinyint(1)"))
        return _col(name, pa.int16() if f.unsigned else pa.int8(), "tinyint" + u)
    if tc == _MY_SHORT:
        return _col(name, pa.int32() if f.unsigned else pa.int16(), "smallint" + u)
    if tc == _MY_INT24:
        return _col(name, pa.int32(), "mediumint" + u)
    if tc == _MY_LONG:
        return _col(name, pa.int64() if f.unsigned else pa.int32(), "int" + u)
    if tc == _MY_LONGLONG:
        return _col(name, pa.decimal128(20, 0) if f.unsigned else pa.int64(), "bigint" + u)
    if tc in (_MY_DECIMAL, _MY_NEWDECIMAL):
        precision = f.length - (1 if f.scale else 0) - (0 if f.unsigned else 1)
        label = f"decimal({precision},{f.scale}){u}"
        dec = decimal_type(precision, f.scale)
        if dec is None:
            return _col(name, pa.string(), label, _as_text)
        return _col(name, dec, label)
    if tc == _MY_FLOAT:
        return _col(name, pa.float32(), "float" + u, read_as=READ_DOUBLE)
    if tc == _MY_DOUBLE:
        return _col(name, pa.float64(), "double" + u)
    if tc == _MY_BIT:
        if f.length == 1:
            return _col(name, pa.bool_(), "bit(1)", _bits(pa.bool_()))
        wide = f.length > 63
        t = pa.decimal128(20, 0) if wide else pa.int64()
        return _col(name, t, f"bit({f.length})", _bits(t))
    if tc == _MY_YEAR:
        return _col(name, pa.int16(), "year")
    if tc == _MY_DATE:
        return _col(name, pa.date32(), "date")
    if tc == _MY_DATETIME:
        return _col(name, NAIVE_MICROS, "datetime")
    if tc == _MY_TIMESTAMP:
        # The session runs in UTC (see dbsource), so the naive values are UTC instants.
        return _col(name, UTC_MICROS, "timestamp")
    if tc == _MY_TIME:
        return _col(name, pa.string(), "time", _mysql_time_text)
    if tc == _MY_JSON:
        return _col(name, pa.string(), "json")
    if tc == _MY_GEOMETRY:
        return _col(name, pa.binary(), "geometry")
    if tc == _MY_NULL:
        return _col(name, pa.string(), "null")
    if tc in (_MY_ENUM, _MY_SET) or f.enum_or_set:
        return _col(name, pa.string(), "enum/set")
    if tc in (_MY_VARCHAR, _MY_VAR_STRING, _MY_STRING, *_MY_BLOBS):
        text_kind = "blob" if tc in _MY_BLOBS else "varchar" if tc != _MY_STRING else "char"
        if f.binary:
            label = {"blob": "blob", "varchar": "varbinary", "char": "binary"}[text_kind]
            return _col(name, pa.binary(), label)
        return _col(name, pa.string(), "text" if text_kind == "blob" else text_kind)
    return _col(name, pa.string(), f"type {tc}", _as_text)


# --------------------------------------------------------------------------------------------
# SQLite


@dataclass(frozen=True)
class SqliteProfile:
    """Storage classes actually found in one SQLite column (SQLite does not enforce types)."""

    integers: int = 0
    reals: int = 0
    texts: int = 0
    blobs: int = 0
    min_int: int | None = None
    max_int: int | None = None
    iso_dates: int = 0  # texts that are valid 'YYYY-MM-DD'
    iso_datetimes: int = 0  # texts that are valid 'YYYY-MM-DD[ T]HH:MM:SS[.ffffff]' or a date
    decimal_fits: int = 0  # numbers that fit the declared DECIMAL(p, s) exactly


_SQLITE_DECIMAL = re.compile(r"\b(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", re.I)
_FLOAT_EXACT_INT = 2**53


def sqlite_affinity(declared: str) -> str:
    """SQLite's column affinity of a declared type (sqlite.org/datatype3.html, section 3.1)."""
    d = declared.upper()
    if "INT" in d:
        return "INTEGER"
    if any(k in d for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in d or not d.strip():
        return "BLOB"
    if any(k in d for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def sqlite_declared_decimal(declared: str) -> tuple[int, int] | None:
    """(precision, scale) of a declared DECIMAL(p, s) / NUMERIC(p, s) that decimal128 can hold."""
    m = _SQLITE_DECIMAL.search(declared)
    if not m:
        return None
    p, s = int(m.group(1)), int(m.group(2) or 0)
    return (p, s) if decimal_type(p, s) is not None and s <= p else None


def sqlite_column(name: str, declared: str, p: SqliteProfile) -> SourceColumn:
    """How to extract one SQLite column, from its declared type and the values it holds.

    The declared type decides when the stored values agree with it; otherwise the column widens
    so no value is lost: integers+reals -> float64 (while every integer is exact in a double),
    a mix with text -> string (numbers as their text), a mix with blobs -> binary.
    """
    d = declared.upper().strip()
    label = declared.strip() or "(no type)"
    is_bool = d in ("BOOL", "BOOLEAN")
    is_date = d == "DATE"
    is_datetime = "DATETIME" in d or "TIMESTAMP" in d
    dec = sqlite_declared_decimal(declared)
    kinds = {k for k, n in (("i", p.integers), ("r", p.reals), ("t", p.texts), ("b", p.blobs)) if n}
    numbers = p.integers + p.reals

    if not kinds:  # only NULLs (or no rows): the declared type alone decides
        if is_bool:
            return _col(name, pa.bool_(), label, _int_to_bool)
        if is_date:
            return _col(name, pa.date32(), label, _iso_date)
        if is_datetime:
            return _col(name, NAIVE_MICROS, label, _iso_datetime)
        if dec:
            return _col(name, pa.decimal128(*dec), label, _to_decimal(*dec))
        aff = sqlite_affinity(declared)
        if aff == "INTEGER":
            return _col(name, pa.int64(), label)
        if aff == "REAL":
            return _col(name, pa.float64(), label, _to_float)
        if aff == "BLOB" and d:
            return _col(name, pa.binary(), label)
        return _col(name, pa.string(), label)

    if kinds <= {"i", "r"}:
        if dec and p.decimal_fits == numbers:
            return _col(name, pa.decimal128(*dec), label, _to_decimal(*dec))
        if kinds == {"i"}:
            if is_bool and p.min_int is not None and 0 <= p.min_int and (p.max_int or 0) <= 1:
                return _col(name, pa.bool_(), label, _int_to_bool)
            return _col(name, pa.int64(), label)
        ints_exact = p.integers == 0 or (
            -_FLOAT_EXACT_INT <= (p.min_int or 0) and (p.max_int or 0) <= _FLOAT_EXACT_INT
        )
        if ints_exact:
            return _col(name, pa.float64(), label, _to_float)
        return _col(name, pa.string(), label, _mixed_text)
    if kinds == {"t"}:
        if is_date and p.iso_dates == p.texts:
            return _col(name, pa.date32(), label, _iso_date)
        if is_datetime and p.iso_datetimes == p.texts:
            return _col(name, NAIVE_MICROS, label, _iso_datetime)
        if is_date or is_datetime:
            # Times in other forms ('...T12:00:00Z', offsets, unpadded): as text they sort
            # otherwise than in time ('2026-01-01 15:00:00' < '2026-01-01T12:00:00Z').
            return replace(
                _col(name, pa.string(), label),
                cursor_ok=False,
                unordered=(
                    f"it is declared {label} but holds times that are not all "
                    f"'YYYY-MM-DD[ HH:MM:SS]' text, read as text, whose order is not time "
                    f"order; select datetime({name}) AS a column of its own in a --query and "
                    f"use that as the cursor"
                ),
            )
        return _col(name, pa.string(), label)
    if kinds == {"b"}:
        return _col(name, pa.binary(), label)
    if "b" in kinds:
        return _col(name, pa.binary(), label, _mixed_binary)
    return _col(name, pa.string(), label, _mixed_text)


# SQL over one column (a quoted identifier) that classifies its values for SqliteProfile.
_D4, _D2 = "[0-9][0-9][0-9][0-9]", "[0-9][0-9]"
_ISO_DATE_GLOB = f"{_D4}-{_D2}-{_D2}"
_ISO_TIME_GLOB = f"{_D2}:{_D2}:{_D2}"


def sqlite_profile_sql(col: str, declared: str) -> list[str]:
    """Aggregate expressions, in SqliteProfile's field order, for the quoted column ``col``.

    Only what the declared type can use is computed (date checks cost a lot per text value):
    date checks for DATE/DATETIME/TIMESTAMP columns, the decimal fit for DECIMAL(p, s).
    Dates are normalized through SQLite's own calendar ('+0 days' turns Feb 30 into Mar 1), so
    a text counted as a date is one Python's ``fromisoformat`` accepts.
    """
    t = f"typeof({col})"
    d = declared.upper()
    is_date = (
        f"{col} GLOB '{_ISO_DATE_GLOB}' AND date({col}, '+0 days') = {col} "
        f"AND substr({col}, 1, 4) <> '0000'"
    )
    is_datetime = (
        f"(({col} GLOB '{_ISO_DATE_GLOB}' OR {col} GLOB '{_ISO_DATE_GLOB}[ T]{_ISO_TIME_GLOB}' "
        f"OR ({col} GLOB '{_ISO_DATE_GLOB}[ T]{_ISO_TIME_GLOB}.[0-9]*' AND length({col}) <= 26 "
        f"AND substr({col}, 21) NOT GLOB '*[^0-9]*')) "
        f"AND strftime('%Y-%m-%d %H:%M:%S', {col}, '+0 seconds') "
        f"= substr(replace({col}, 'T', ' ') || ' 00:00:00', 1, 19) "
        f"AND substr({col}, 1, 4) <> '0000')"
    )
    dates = d.strip() == "DATE"
    datetimes = "DATETIME" in d or "TIMESTAMP" in d
    decimal = sqlite_declared_decimal(declared)
    fits = "0"
    if decimal:
        p, s = decimal
        limit = 10 ** (p - s)
        limit_sql = str(limit) if limit < 2**63 else f"{float(limit)!r}"
        fits = (
            f"count(CASE WHEN {t} IN ('integer', 'real') AND round({col}, {s}) = {col} "
            f"AND abs({col}) < {limit_sql} THEN 1 END)"
        )
    return [
        f"count(CASE WHEN {t} = 'integer' THEN 1 END)",
        f"count(CASE WHEN {t} = 'real' THEN 1 END)",
        f"count(CASE WHEN {t} = 'text' THEN 1 END)",
        f"count(CASE WHEN {t} = 'blob' THEN 1 END)",
        f"min(CASE WHEN {t} = 'integer' THEN {col} END)",
        f"max(CASE WHEN {t} = 'integer' THEN {col} END)",
        f"count(CASE WHEN {t} = 'text' AND {is_date} THEN 1 END)" if dates else "0",
        f"count(CASE WHEN {t} = 'text' AND {is_datetime} THEN 1 END)" if datetimes else "0",
        fits,
    ]


# --------------------------------------------------------------------------------------------
# Row-path converters: driver values of one column -> one Arrow array of the mapped type.


_UNORDERED = {"_as_text", "_mysql_time_text", "_mixed_text", "_mixed_binary"}


def _col(
    name: str, t: pa.DataType, label: str, conv: Converter | None = None,
    read_as: str = READ_NATIVE,
) -> SourceColumn:  # fmt: skip
    ordered = conv is None or conv.__name__ not in _UNORDERED
    if label in ("enum/set", "json", "geometry", "null"):
        ordered = False
    return SourceColumn(
        name, t, label, read_as=read_as, convert=conv or _direct(t), cursor_ok=ordered
    )


def _direct(t: pa.DataType) -> Converter:
    def convert(values: Sequence[object]) -> pa.Array:
        return pa.array(values, type=t)

    return convert


def _as_text(values: Sequence[object]) -> pa.Array:
    # Decimals in positional notation: str() would print 0E-30 for DECIMAL(65,30) zero.
    return pa.array(
        [
            None if v is None else format(v, "f") if isinstance(v, Decimal) else str(v)
            for v in values
        ],
        type=pa.string(),
    )


class _Refused(ValueError):
    """A converter's own refusal; ``reason`` completes "Column c holds v, which ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _bool01(label: str) -> Converter:
    def convert(values: Sequence[object]) -> pa.Array:
        if any(v is not None and v not in (0, 1) for v in values):
            raise _Refused(f"a {label} column (read as boolean) cannot hold")
        return pa.array(values, type=pa.int8()).cast(pa.bool_())

    return convert


def _int_to_bool(values: Sequence[object]) -> pa.Array:
    return pa.array(values, type=pa.int64()).cast(pa.bool_())


def _bits(t: pa.DataType) -> Converter:
    def convert(values: Sequence[object]) -> pa.Array:
        ints = [
            None if v is None else int.from_bytes(v, "big") if isinstance(v, bytes) else int(v)
            for v in values
        ]
        if pa.types.is_boolean(t):
            return pa.array(ints, type=pa.int8()).cast(t)
        return pa.array(ints, type=t)

    return convert


def time_text(td: dt.timedelta) -> str:
    """MySQL TIME (-838:59:59 .. 838:59:59, a duration) as '[-]HH:MM:SS.ffffff'."""
    us = td // dt.timedelta(microseconds=1)
    sign, us = ("-", -us) if us < 0 else ("", us)
    secs, frac = divmod(us, 1_000_000)
    mins, s = divmod(secs, 60)
    h, m = divmod(mins, 60)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}.{frac:06d}"


def _mysql_time_text(values: Sequence[object]) -> pa.Array:
    return pa.array(
        [None if v is None else time_text(v) if isinstance(v, dt.timedelta) else v for v in values],
        type=pa.string(),
    )


def _to_float(values: Sequence[object]) -> pa.Array:
    return pa.array([None if v is None else float(v) for v in values], type=pa.float64())


def _to_decimal(precision: int, scale: int) -> Converter:
    t = pa.decimal128(precision, scale)

    def convert(values: Sequence[object]) -> pa.Array:
        # A REAL is a double; its shortest repr is the decimal that was meant (0.99, not
        # 0.98999...), and the profile checked it has at most `scale` decimals.
        return pa.array(
            [
                None if v is None else Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
                for v in values
            ],
            type=t,
        )

    return convert


def _iso_date(values: Sequence[object]) -> pa.Array:
    return pa.array(
        [None if v is None else dt.date.fromisoformat(v) for v in values], type=pa.date32()
    )


def _iso_datetime(values: Sequence[object]) -> pa.Array:
    return pa.array(
        [None if v is None else dt.datetime.fromisoformat(v) for v in values], type=NAIVE_MICROS
    )


def _mixed_text(values: Sequence[object]) -> pa.Array:
    return pa.array(
        [None if v is None else repr(v) if isinstance(v, float) else str(v) for v in values],
        type=pa.string(),
    )


def _mixed_binary(values: Sequence[object]) -> pa.Array:
    def one(v: object) -> bytes | None:
        if v is None or isinstance(v, bytes):
            return v
        if isinstance(v, str):
            return v.encode("utf-8")
        return (repr(v) if isinstance(v, float) else str(v)).encode("ascii")

    return pa.array([one(v) for v in values], type=pa.binary())


def convert_column(column: SourceColumn, values: Sequence[object]) -> pa.Array:
    """Driver values -> Arrow array of the column's type, or SourceValueUnsupported."""
    assert column.convert is not None
    try:
        return column.convert(values)
    except (ValueError, TypeError, OverflowError, pa.ArrowException) as e:
        bad, why = _first_bad(column, values, e)
        raise SourceValueUnsupported(column=column.name, value=bad, reason=why) from None


def _first_bad(column: SourceColumn, values: Sequence[object], e: Exception) -> tuple[str, str]:
    """The first value the converter refuses, for the message (only on the error path)."""
    assert column.convert is not None
    for v in values:
        try:
            column.convert([v])
        except _Refused as one:
            return repr(v), one.reason
        except (ValueError, TypeError, OverflowError, pa.ArrowException) as one:
            msg = str(one).splitlines()[0] if str(one) else type(one).__name__
            return repr(v), f"has no exact {column.arrow_type} form ({msg})"
    return "a value", f"has no exact {column.arrow_type} form ({e})"
