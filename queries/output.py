"""Writing a query result: a table for people, CSV, JSON or Parquet for programs.

The JSON document is the one shape every face uses (``lake sql --output json``, and the
HTTP service to come)::

    {"columns":  [{"name": "method", "type": "VARCHAR"}, ...],
     "rows":     [{"method": "GET", "n": 12}, ...],
     "versions": [{"table": "web.logs", "version": 3, "committed_at": "2026-11-20T10:00:00+00:00"}],
     "row_count": 1, "truncated": false,
     "scans":    [{"table": "web.logs", "version": 3, "files_total": 60, "bytes_total": ...,
                   "files_read": 10, "bytes_read": ..., "skipped_by_partition": 50,
                   "skipped_by_statistics": 0}]}

Values are JSON-safe and lose nothing: decimals are strings ("12.50"), times ISO 8601,
binary base64, float32 values their shortest decimal (0.1, not 0.10000000149011612), NaN and
infinities the strings "NaN", "Infinity", "-Infinity", intervals ISO
8601 durations; structs are objects, lists arrays, maps objects (arrays of {key, value}
when the keys are not strings). Dates and timestamps Python cannot hold (DuckDB's infinities,
years before 1 or after 9999) are DuckDB's text of them ("-infinity", "0044-03-15 (BC)"), in
CSV and the table too; times and timestamps with nanoseconds keep all nine digits
("10:00:00.123456789"). A union's value is its member's, under the same rules. Column names
repeated in a result, and field names repeated in a struct (DuckDB's ``ROW(1, 2)``), are
named apart by DuckDB's own rule (``a, a`` -> ``a, a_1``; :func:`unique_names`) so every row
and struct is an object.
"""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import sys
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO
from uuid import UUID

from lake.core.terminal import text_console
from queries.exceptions import OutputError

if TYPE_CHECKING:
    import pyarrow as pa

    from queries.sql import QueryResult

Format = Literal["table", "csv", "json", "parquet"]
TABLE_ROWS = 40
CSV_BATCH_ROWS = 65_536


def write_result(
    result: QueryResult, *, format: Format, out: Path | None = None, stream: TextIO | None = None
) -> None:
    """Write ``result`` in ``format`` to ``out`` (a file) or ``stream`` (default: stdout).

    Raises:
        OutputError: parquet without ``out``, a table with ``out``, or ``out`` not writable.
    """
    if format == "parquet" and out is None:
        raise OutputError("Parquet output is binary: give a file with --out PATH.")
    if format == "table" and out is not None:
        raise OutputError(
            "The table output is for the terminal; write files with --output csv, json or parquet."
        )
    if format == "table":
        print_table(result, stream=stream)
        return
    if format == "parquet":
        assert out is not None
        # repeated names as in CSV and JSON: pyarrow, pandas and polars refuse to read a
        # Parquet file whose columns repeat a name
        write_parquet(result.table.rename_columns(unique_names(result.column_names)), out)
        return
    if out is None:
        target = stream or sys.stdout
        _write_text(result, format, target)
        target.flush()
        return
    try:
        with out.open("w", encoding="utf-8", newline="") as handle:
            _write_text(result, format, handle)
    except OSError as error:
        raise OutputError(f"Cannot write {out}: {error.strerror or error}.") from error


def json_document(result: QueryResult) -> dict[str, Any]:
    names = unique_names(result.column_names)
    rows = (
        [
            {name: json_value(value) for name, value in zip(names, row, strict=True)}
            for row in zip(*(column_values(column) for column in result.table.columns), strict=True)
        ]
        if result.table.num_columns
        else [{} for _ in range(result.table.num_rows)]
    )
    return {
        "columns": [
            {"name": name, "type": column.type}
            for name, column in zip(names, result.columns, strict=True)
        ],
        "rows": rows,
        "versions": [v.to_json() for v in result.versions],
        "row_count": result.table.num_rows,
        "truncated": result.truncated,
        "scans": [scan.to_json() for scan in result.scans],
    }


def json_value(value: Any) -> Any:
    """A Python value from Arrow as a JSON-safe value (see the module's rules)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Decimal):
        # plain digits with the column's scale: str() writes 0.0000001000 as "1.000E-7"
        return f"{value:f}" if value.is_finite() else str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _iso_duration(0, value.days, value.seconds * 10**9 + value.microseconds * 1000)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, MapEntries):
        if value.text_keys:
            return {k: json_value(v) for k, v in value}
        return [{"key": json_value(k), "value": json_value(v)} for k, v in value]
    if isinstance(value, list):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            # a map as Arrow's to_pylist gives it (column_values gives MapEntries)
            text = all(isinstance(k, str) and not isinstance(k, TimeText) for k, _ in value)
            return json_value(MapEntries(value, text_keys=text))
        return [json_value(item) for item in value]
    if hasattr(value, "months") and hasattr(value, "days") and hasattr(value, "nanoseconds"):
        return _iso_duration(value.months, value.days, value.nanoseconds)
    if isinstance(value, UUID):
        return str(value)
    return str(value)


_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


class MapEntries(list):
    """A map's (key, value) pairs, and whether its keys are text: a JSON object then, empty
    or not (an empty map was answered [] and the others {}), else an array of
    {key, value}."""

    def __init__(self, entries: list[tuple[Any, Any]], *, text_keys: bool) -> None:
        super().__init__(entries)
        self.text_keys = text_keys


class TimeText(str):
    """A time or timestamp Python's types cannot hold (24:00:00, nanoseconds), as its text."""


def column_values(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """A column's values as Python objects for :func:`json_value`, with times of the day's end
    kept: Arrow turns TIME '24:00:00' (DuckDB's and Postgres' end of a day, unequal to
    00:00:00) into ``time(0, 0)``, so such a value is given as its text, "24:00:00", at any
    depth of a list, struct or map. Float32 values are given as their shortest decimal
    (:func:`float32_value`), at any depth too."""
    import pyarrow as pa

    if not _needs_care(column.type):
        return column.to_pylist()
    if isinstance(column, pa.ChunkedArray):
        return [value for chunk in column.chunks for value in _array_values(chunk)]
    return _array_values(column)


def _needs_care(t: pa.DataType) -> bool:
    """Whether a type holds values Arrow's ``to_pylist`` gives wrong or refuses: times at the
    day's end, nanoseconds (cut to microseconds, or refused without pandas), float32 values
    (widened to doubles: 0.1 became 0.10000000149011612), struct fields whose names repeat,
    at any depth of a list, struct, map or union."""
    import pyarrow.types as pt

    if pt.is_time(t) or pt.is_float32(t) or pt.is_date32(t) or pt.is_timestamp(t):
        return True
    if pt.is_map(t):
        return True  # Arrow gives a map as a list of pairs: an empty one reads as a list
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t):
        return _needs_care(t.value_type)
    if pt.is_struct(t):
        names = [t.field(i).name for i in range(t.num_fields)]
        # Arrow refuses a struct whose field names repeat (DuckDB's ROW(1, 2): two "")
        return len(set(names)) < len(names) or any(
            _needs_care(t.field(i).type) for i in range(t.num_fields)
        )
    if pt.is_union(t):
        return any(_needs_care(t.field(i).type) for i in range(t.num_fields))
    return False


def _array_values(array: pa.Array) -> list[Any]:
    import pyarrow.types as pt

    t = array.type
    if pt.is_float32(t):
        return [None if v is None else float32_value(v) for v in array.to_pylist()]
    if pt.is_date32(t) or pt.is_timestamp(t):
        return _dates_values(array)
    if pt.is_union(t):
        return _union_values(array)
    valid = array.is_valid().to_pylist()
    if pt.is_time(t):
        values = array.to_pylist()
        for i in _day_ends(array) + _below_microseconds(array):
            values[i] = _time_text(array[i].cast(_int_of(t)).as_py(), t)
        return values
    if pt.is_struct(t):
        if not _needs_care(t):
            return array.to_pylist()
        # repeated names (DuckDB's ROW(1, 2) has two fields named "") made unique as
        # repeated column names are, so the value is still an object
        names = unique_names([t.field(i).name for i in range(t.num_fields)])
        fields = [_array_values(child) for child in array.flatten()]
        return [
            dict(zip(names, row, strict=True)) if ok else None
            for ok, row in zip(valid, zip(*fields, strict=True), strict=True)
        ]
    if pt.is_map(t) or pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t):
        if pt.is_fixed_size_list(t):
            size = t.list_size
            offsets = [(array.offset + i) * size for i in range(len(array) + 1)]
        else:
            offsets = array.offsets.to_pylist()
        items = _array_values(array.values)
        if pt.is_map(t):
            items = [None if item is None else tuple(item.values()) for item in items]
            key = t.key_type.value_type if pt.is_dictionary(t.key_type) else t.key_type  # ENUM
            text = pt.is_string(key) or pt.is_large_string(key) or pt.is_string_view(key)
            return [
                MapEntries(items[offsets[i] : offsets[i + 1]], text_keys=text) if ok else None
                for i, ok in enumerate(valid)
            ]
        return [items[offsets[i] : offsets[i + 1]] if ok else None for i, ok in enumerate(valid)]
    return array.to_pylist()


# Days since 1970-01-01 of 0001-01-01 and 9999-12-31: Python's dates hold no others.
_FIRST_DAY, _LAST_DAY = -719_162, 2_932_896
_INFINITY = {"date32": 2**31 - 1, "timestamp": 2**63 - 1}  # DuckDB's; minus for -infinity


def _dates_values(array: pa.Array, *, as_text: bool = False) -> list[Any]:
    """A date or timestamp array's values; those Python cannot hold (infinities, years before
    1 or after 9999: Arrow's conversion raised OverflowError) as DuckDB's text of them.
    ``as_text``: every value as text, the others as Arrow's CSV writer has them."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pt

    t = array.type
    outside = _outside_python(array)
    if not as_text and not pc.any(outside).as_py():
        if pt.is_timestamp(t) and t.unit == "ns":
            return _nanosecond_values(array)
        return array.to_pylist()
    inside = pc.if_else(outside, pa.scalar(None, t), array)
    values = (pc.cast(inside, pa.string()) if as_text else inside).to_pylist()
    numbers = array.cast(_int_of(t))
    for i in pc.indices_nonzero(outside).to_pylist():
        values[i] = _date_text(numbers[i].as_py(), t)
    return values


def _outside_python(column: pa.Array | pa.ChunkedArray) -> pa.BooleanArray | pa.ChunkedArray:
    """Which values of a date32 or timestamp column lie outside Python's years 1 to 9999."""
    import pyarrow.compute as pc
    import pyarrow.types as pt

    numbers = column.cast(_int_of(column.type))
    per_day = 1 if pt.is_date32(column.type) else 86_400 * _PER_SECOND[column.type.unit]
    # int64 nanoseconds reach only 1677-2262: bounds past int64 leave out DuckDB's
    # infinities alone (the int64 extremes)
    first = max(_FIRST_DAY * per_day, -_INFINITY["timestamp"] + 1)
    last = min((_LAST_DAY + 1) * per_day - 1, _INFINITY["timestamp"] - 1)
    out = pc.or_(pc.less(numbers, first), pc.greater(numbers, last))
    return pc.fill_null(out, False)


def _date_text(value: int, t: pa.DataType) -> str:
    """DuckDB's text of a date32 or timestamp ``value`` (days, or the unit's ticks since
    1970): "infinity", "-infinity", "0044-03-15 (BC)", "10000-01-01 01:02:03.5"."""
    import pyarrow.types as pt

    date = pt.is_date32(t)
    if abs(value) == _INFINITY["date32" if date else "timestamp"]:
        return "infinity" if value > 0 else "-infinity"
    per_second = 1 if date else _PER_SECOND[t.unit]
    days, ticks = (value, 0) if date else divmod(value, 86_400 * per_second)
    # Proleptic Gregorian calendar from days since 1970-01-01 (H. Hinnant's civil_from_days).
    z = days + 719_468
    era, doe = divmod(z, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day, month = doy - (153 * mp + 2) // 5 + 1, mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    text = f"{year if year > 0 else 1 - year:04d}-{month:02d}-{day:02d}"
    text += " (BC)" if year <= 0 else ""
    if date:
        return text
    seconds, fraction = divmod(ticks, per_second)
    text += " " + _clock(seconds)
    if fraction:
        text += "." + f"{fraction:0{len(str(per_second)) - 1}d}".rstrip("0")
    return text + ("+00" if t.tz is not None else "")


def _nanosecond_values(array: pa.Array) -> list[Any]:
    """A nanosecond timestamp array's values: a datetime where the nanoseconds are whole
    microseconds, else the ISO text with all nine digits (Arrow's conversion cut them to
    microseconds, or refused the value without pandas)."""
    import pyarrow as pa

    t = array.type
    ticks = array.cast(pa.int64()).to_pylist()
    micros = pa.array([None if v is None else v // 1000 for v in ticks], pa.int64()).cast(
        pa.timestamp("us", t.tz)
    )
    values = micros.to_pylist()
    for i, value in enumerate(ticks):
        if value is not None and value % 1000:
            moment = values[i].isoformat(timespec="microseconds")
            cut = moment.index(".") + 7  # after the sixth digit, before any offset
            values[i] = TimeText(moment[:cut] + f"{value % 1000:03d}" + moment[cut:])
    return values


def _union_values(array: pa.Array) -> list[Any]:
    """A union array's values, each its member's value as :func:`column_values` gives it.
    (Arrow's ``type_codes`` and ``offsets`` ignore a slice's offset: read from the buffers.)"""
    import pyarrow as pa

    t = array.type
    length, offset = len(array), array.offset
    codes = pa.Array.from_buffers(pa.int8(), length, [None, array.buffers()[1]], offset=offset)
    member = {code: i for i, code in enumerate(t.type_codes)}
    children = [_array_values(array.field(i)) for i in range(t.num_fields)]
    if t.mode == "sparse":  # each child as long as the (sliced) union
        return [children[member[c]][i] for i, c in enumerate(codes.to_pylist())]
    positions = pa.Array.from_buffers(pa.int32(), length, [None, array.buffers()[2]], offset=offset)
    return [
        children[member[c]][p]
        for c, p in zip(codes.to_pylist(), positions.to_pylist(), strict=True)
    ]


def _below_microseconds(column: pa.Array | pa.ChunkedArray) -> list[int]:
    """Positions of a nanosecond time column's values with digits below the microsecond."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.type.unit != "ns":
        return []
    ticks = column.cast(pa.int64())
    whole = pc.multiply(pc.divide(ticks, 1000), 1000)  # integer division
    rest = pc.not_equal(ticks, whole)
    return pc.indices_nonzero(pc.fill_null(rest, False)).to_pylist()


def float32_value(value: float) -> float:
    """A float32 (as Python's double) as the double of its shortest decimal that reads back
    as the same float32 (numpy's repr of it): 0.10000000149011612 -> 0.1. NaN, infinities and
    zeros are returned as they are."""
    if value == 0 or not math.isfinite(value):
        return value
    for digits in range(1, 10):  # 9 significant digits always read back (FLT_DECIMAL_DIG)
        shorter = float(f"{value:.{digits}g}")
        if _as_float32(shorter) == value:
            return shorter
    return value


def _as_float32(value: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:  # past float32's largest value
        return math.inf


def _int_of(t: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    return pa.int64() if t.bit_width == 64 else pa.int32()


def _day_ends(column: pa.Array | pa.ChunkedArray) -> list[int]:
    """Positions of a time column's values at or past 24:00:00."""
    import pyarrow.compute as pc

    day = 86_400 * _PER_SECOND[column.type.unit]
    past = pc.greater_equal(column.cast(_int_of(column.type)), day)
    return pc.indices_nonzero(pc.fill_null(past, False)).to_pylist()


def _time_text(value: int, t: pa.DataType, *, fixed: bool = False) -> str:
    """``value`` of time type ``t`` as HH:MM:SS[.fraction], hours past 23 included; the
    fraction as Arrow's CSV writer has it (``fixed``: the unit's digits, always) or as
    ``time.isoformat`` (six digits, when not zero)."""
    per_second = _PER_SECOND[t.unit]
    seconds, fraction = divmod(value, per_second)
    text = _clock(seconds)
    width = len(str(per_second)) - 1
    if not fixed:
        if per_second == 10**9 and fraction % 1000:
            return TimeText(text + f".{fraction:09d}")
        return TimeText(text + (f".{fraction * 10**6 // per_second:06d}" if fraction else ""))
    return TimeText(text + (f".{fraction:0{width}d}" if width else ""))


def _clock(seconds: int) -> str:
    """``seconds`` since midnight as HH:MM:SS (hours past 23 as they are)."""
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}"


def unique_names(names: Sequence[str]) -> list[str]:
    """Names made unique by DuckDB's own rule, the one rule of every output of the lake
    (``lake sql`` as JSON, CSV, Parquet and a table; the service and the console; a training
    set's shards and manifest): a name met
    again, compared case-blind, gets ``_1``, ``_2``... counting the times it was met and
    skipping a name already taken, so ``a, a, A, a_1`` becomes ``a, a_1, A_2, a_1_1``. Struct
    fields whose names repeat (DuckDB's ``ROW(1, 2)``: two ``""``) are named by it too."""
    met: dict[str, int] = {}
    unique = []
    for name in names:
        low = name.lower()
        if low not in met:
            met[low] = 1
            unique.append(name)
            continue
        candidate = f"{name}_{met[low]}"
        while candidate.lower() in met:
            met[low] += 1
            candidate = f"{name}_{met[low]}"
        met[candidate.lower()] = 1
        unique.append(candidate)
    return unique


def write_parquet(table: pa.Table, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.write_table(table, str(out), compression="zstd")
    except OSError as error:
        raise OutputError(f"Cannot write {out}: {error.strerror or error}.") from error
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as error:
        raise OutputError(
            f"The result cannot be written as Parquet ({str(error).splitlines()[0]}); cast that "
            f"column in the query (for example to VARCHAR)."
        ) from error


def print_table(
    result: QueryResult, *, rows: int = TABLE_ROWS, stream: TextIO | None = None
) -> None:
    """A rich table of the first ``rows`` rows, then how many there were and what was read."""
    from rich.table import Table
    from rich.text import Text

    console = text_console(stream)
    null = Text("NULL", style="dim")
    shown = result.table.slice(0, rows)
    table = Table(header_style="bold")
    for name in unique_names([column.name for column in result.columns]):
        table.add_column(name, overflow="fold")
    for row in zip(*(column_values(c) for c in shown.columns), strict=True):
        # NULL as DuckDB's own table shows it: blank, it was the empty string's twin.
        table.add_row(*(null if value is None else _cell(value) for value in row))
    if result.columns:
        console.print(table)
    total = result.table.num_rows
    count = f"{total:,} row{'s' if total != 1 else ''}"
    if result.truncated:
        count = f"the first {count} (the row or byte limit was reached)"
    if total > rows:
        count += (
            f"; showing {rows}: use --output csv, json or parquet (with --out PATH) for all of them"
        )
    read = ", ".join(
        f"{v.table}@{v.version} ({v.committed_at.isoformat(timespec='seconds')})"
        for v in result.versions
    )
    console.print(f"{count}." + (f" Read {read}." if read else ""), style="dim")


def print_scans(result: QueryResult, *, stream: TextIO | None = None) -> None:
    """What the query read of each table version and what the lake skipped (``--explain``)."""
    from rich.table import Table

    table = Table(title="read", header_style="bold")
    names = ["table", "files read", "bytes read", "skipped by partition", "by statistics"]
    for name in names:
        table.add_column(name, justify="left" if name == "table" else "right", min_width=len(name))
    for scan in result.scans:
        table.add_row(
            f"{scan.table}@{scan.version}",
            f"{scan.files_read:,} of {scan.files_total:,}",
            f"{_megabytes(scan.bytes_read)} of {_megabytes(scan.bytes_total)}",
            f"{scan.skipped_by_partition:,}",
            f"{scan.skipped_by_statistics:,}",
        )
    console = text_console(stream or sys.stderr)
    if result.scans:
        console.print(table)
    else:
        console.print("The query read no lake table.", style="dim")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size:,} B"


def _write_text(result: QueryResult, format: Format, stream: TextIO) -> None:
    if format == "json":
        stream.write(json.dumps(json_document(result), indent=2, ensure_ascii=False) + "\n")
        return
    import pyarrow.csv as pacsv

    table = _csv_ready(result.table)
    names = unique_names(result.column_names)
    table = table.rename_columns(names)
    if table.num_rows == 0:
        stream.write(",".join(_csv_header(n) for n in names) + ("\n" if names else ""))
        return
    for start in range(0, table.num_rows, CSV_BATCH_ROWS):
        buffer = io.BytesIO()
        pacsv.write_csv(
            table.slice(start, CSV_BATCH_ROWS),
            buffer,
            write_options=pacsv.WriteOptions(include_header=start == 0),
        )
        stream.write(buffer.getvalue().decode("utf-8"))


def _csv_ready(table: pa.Table) -> pa.Table:
    """Columns CSV cannot hold as they are (nested, binary, intervals) become JSON text."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pt

    columns = []
    for column in table.columns:
        t = column.type
        plain = not (
            pt.is_nested(t)
            or pt.is_binary(t)
            or pt.is_large_binary(t)
            or pt.is_fixed_size_binary(t)
            or pt.is_interval(t)
            or pt.is_duration(t)
            or pt.is_binary_view(t)
        )
        if pt.is_time(t) and _day_ends(column):
            # The CSV writer prints 24:00:00 as "<value out of range: ...>": write the column
            # as text, each value as Arrow writes it, the day's end as 24:00:00.
            text = column.cast(_int_of(t)).to_pylist()
            written = [None if v is None else _time_text(v, t, fixed=True) for v in text]
            columns.append(pa.array(written, pa.string()))
            continue
        if (pt.is_date32(t) or pt.is_timestamp(t)) and pc.any(_outside_python(column)).as_py():
            # The CSV writer prints DuckDB's infinities as "<value out of range: ...>" or a
            # wrong date: the values Python cannot hold as DuckDB's text, the others as
            # Arrow writes them.
            whole = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            columns.append(pa.array(_dates_values(whole, as_text=True), pa.string()))
            continue
        if plain:
            columns.append(column)
            continue
        values = [
            None if v is None else _compact_json(json_value(v)) for v in column_values(column)
        ]
        columns.append(pa.array(values, pa.string()))
    return pa.table(columns, names=table.column_names)


def _csv_header(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _compact_json(value: Any) -> str:
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    )


def _cell(value: Any) -> str:
    """A value that is not NULL as the table shows it (:func:`print_table` shows NULL)."""
    if isinstance(value, datetime):
        return value.isoformat()
    converted = json_value(value)
    return converted if isinstance(converted, str) else _compact_json(converted)


def _iso_duration(months: int, days: int, nanoseconds: int) -> str:
    seconds = Decimal(nanoseconds) / Decimal(10**9)
    text = "P"
    if months:
        text += f"{months}M"
    if days:
        text += f"{days}D"
    if seconds or text == "P":
        text += f"T{seconds.normalize():f}S"
    return text
