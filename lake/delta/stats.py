"""Delta file statistics of a staged Parquet file, read from its footer.

Delta readers (DuckDB's ``delta_scan``, deltalake and its DataFusion, Spark, Trino) prune
files by each file's record count and the min/max/null count of its columns; the lake
writes them for the plain top-level columns queries filter on: numbers, decimals, booleans,
dates, timestamps and strings. Every value written is a true bound, or it is left out:

* Strings are compared as every Delta reader compares them, by UTF-8 bytes (the order of
  code points, which Python's ``str`` comparison is). A value longer than
  :data:`STRING_PREFIX` code points is cut to that many, as Spark's Delta writer does: the
  cut minimum is at or below the value; the cut maximum has its last code point raised by
  one (past the surrogates, dropping trailing U+10FFFF that cannot be raised), so it is
  above every value the file holds (a value starting with 32 U+10FFFF is raised further
  on, or kept whole: see :func:`string_max`).
  The footer's own min and max are bounds even where a Parquet writer shortened them (the
  format requires it of a maximum that is not exact), so the cut keeps them bounds; pyarrow
  leaves them out of the footer for values over 4 KiB, and the column then gets none.
* Decimals are written as JSON numbers in their exact digits (deltalake's writer writes a
  float, which for a decimal(38, 18) lies below the true maximum and made DuckDB and
  pyarrow skip a matching file; the lake's deltalake writes therefore keep no statistics of
  decimals over 15 digits: see :func:`lake.delta.encoding.delta_writer_properties`).
  Infinite floats, which JSON cannot spell, and NaN leave their column out.
* deltalake 1.6.6's ``to_pyarrow_dataset`` takes a column missing from a file's min and
  max (while others are there) for bounds of null, and a filter on it loses every row of
  the file: a string's maximum is therefore never left out, however long its U+10FFFF run.
* Strings the footer has no statistics of (the archived ``_raw``, whose min and max would
  be whole log lines in every row group, and strings whose values all differ, which skip
  no row group: see :mod:`lake.delta.encoding`) get theirs from the file's key-value
  metadata, where :class:`BoundedWriter` puts them (:data:`BOUNDS_KEY`): without them,
  deltalake's dataset lost every row of the file for a filter on ``_raw`` or an id. They
  cost a log ingest about 1.5% of its CPU (bench_ingest_logs.py's docstring).

The lake's own file skipping (``queries/scan.py``) reads only timestamp-with-zone ranges;
other columns' statistics serve other engines, and DuckDB prunes row groups by the footers.
"""

from __future__ import annotations

import functools
import json
import math
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

BOUNDS_KEY = "lake.string_bounds"
"""Key of a staged file's metadata holding the bounds :class:`BoundedWriter` computed: JSON,
``{column: [minimum, maximum, null count]}``, the bounds cut as the log writes them."""
STRING_PREFIX = 32
"""Code points a string statistic keeps (Spark's ``delta.dataSkippingStringPrefixLength``)."""
DELTA_DECIMAL_DIGITS = 38
_TOP = "\U0010ffff"
_SURROGATES = range(0xD800, 0xE000)


def file_stats(metadata: pq.FileMetaData, schema: pa.Schema) -> dict[str, object]:
    """Delta file statistics: record count, and min/max/null count of plain top-level
    columns (decimals as :class:`~decimal.Decimal`: write them with :func:`stats_text`)."""
    stats: dict[str, object] = {"numRecords": metadata.num_rows}
    minimum: dict[str, object] = {}
    maximum: dict[str, object] = {}
    nulls: dict[str, int] = {}
    wanted = {f.name: f.type for f in schema if _has_stats(f.type)}
    written = _written_bounds(metadata)
    positions = {
        metadata.schema.column(i).path: i
        for i in range(metadata.num_columns)
        if metadata.schema.column(i).path in wanted.keys() - written.keys()
    }
    for name, index in positions.items():
        lows, highs, null_count, complete = [], [], 0, True
        for g in range(metadata.num_row_groups):
            column_stats = metadata.row_group(g).column(index).statistics
            if column_stats is None or not column_stats.has_min_max:
                if (
                    column_stats is not None
                    and column_stats.null_count == metadata.row_group(g).num_rows
                ):
                    null_count += column_stats.null_count
                    continue
                complete = False
                break
            try:
                low, high = _min_max(column_stats, wanted[name])
            except (OverflowError, ValueError):
                # a date before year 1 or after 9999 (no Python, no JSON form), or text that
                # is not UTF-8
                complete = False
                break
            lows.append(low)
            highs.append(high)
            null_count += column_stats.null_count or 0
        if not complete:
            continue
        nulls[name] = null_count
        if lows:
            low, high = _bounds(min(lows), max(highs), wanted[name])
            if low is not None and high is not None:
                minimum[name], maximum[name] = low, high
    for name, (low, high, null_count) in written.items():
        if name in wanted:
            nulls[name] = null_count
            if low is not None and high is not None:
                minimum[name], maximum[name] = low, high
    if minimum:
        stats["minValues"] = minimum
        stats["maxValues"] = maximum
    if nulls:
        stats["nullCount"] = nulls
    return stats


def _written_bounds(metadata: pq.FileMetaData) -> dict[str, list]:
    text = (metadata.metadata or {}).get(BOUNDS_KEY.encode())
    return json.loads(text) if text else {}


@functools.cache
def _local_filesystem() -> Any:
    import pyarrow.fs as pafs

    return pafs.LocalFileSystem()


class BoundedWriter:
    """A ``pyarrow.parquet.ParquetWriter`` that also bounds the top-level strings it writes
    without Parquet statistics (``write_statistics`` leaves them out: ``_raw``, ids), and
    stores the bounds in the file's metadata (:data:`BOUNDS_KEY`) when it closes.

    ``pyarrow.compute.min_max`` over the batches: about 1.5% of a log ingest's CPU (see
    ``bench/bench_ingest_logs.py``), where Parquet's own statistics compare every page's
    values and copy whole lines into every row group's footer. Bounding every string
    column, for those whose values in some row group pyarrow found too long to keep in the
    footer (over 4 KiB; the column then gets no statistics), cost 2.2%.

    :attr:`metadata` is the footer it wrote, once closed: publishing takes the file's
    statistics from it instead of reading the footer back."""

    metadata: pq.FileMetaData | None = None
    """The footer written (its statistics and key-value metadata), set by :meth:`close`."""

    def __init__(self, where: object, schema: pa.Schema, **options: object) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if schema.metadata and BOUNDS_KEY.encode() in schema.metadata:
            # a schema read from a lake file carries that file's bounds, which the writer
            # would copy into this one
            kept = {k: v for k, v in schema.metadata.items() if k != BOUNDS_KEY.encode()}
            schema = schema.with_metadata(kept)
        self._footers: list[pq.FileMetaData] = []
        local = None
        if isinstance(where, os.PathLike) or (isinstance(where, str) and "://" not in where):
            # A local path: told so, pyarrow opens it without first asking the disk whether
            # it exists and parsing it as a URI (a tenth of a small file's writer).
            local = _local_filesystem()
        self._writer = pq.ParquetWriter(
            where, schema, filesystem=local, metadata_collector=self._footers, **options
        )
        summed = options.get("write_statistics", True)
        strings = [
            f.name
            for f in schema
            if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
            and summed is not True
            and (summed is False or f.name not in summed)  # type: ignore[operator]
        ]
        self._nulls = dict.fromkeys(strings, 0)
        self._low: dict[str, str] = {}
        self._high: dict[str, str] = {}

    def write_table(self, table: pa.Table, row_group_size: int | None = None) -> None:
        self._bound(table)
        self._writer.write_table(table, row_group_size=row_group_size)

    def write_batch(self, batch: pa.RecordBatch, row_group_size: int | None = None) -> None:
        self._bound(batch)
        self._writer.write_batch(batch, row_group_size=row_group_size)

    def close(self) -> None:
        if self._writer.is_open and self._nulls:
            bounds = {
                name: [
                    self._low[name][:STRING_PREFIX] if name in self._low else None,
                    string_max(self._high[name]) if name in self._high else None,
                    nulls,
                ]
                for name, nulls in self._nulls.items()
            }
            self._writer.add_key_value_metadata(
                {BOUNDS_KEY: json.dumps(bounds, ensure_ascii=False)}
            )
        self._writer.close()
        if self._footers:
            self.metadata = self._footers[-1]

    def _bound(self, data: pa.Table | pa.RecordBatch) -> None:
        import pyarrow.compute as pc

        for name in self._nulls:
            column = data.column(name)
            self._nulls[name] += column.null_count
            if column.null_count == len(column):
                continue
            found = pc.min_max(column)
            low, high = found["min"].as_py(), found["max"].as_py()
            # the minimum's prefix is all the log keeps of it; the maximum is cut at close
            low = low[:STRING_PREFIX]
            if name not in self._low or low < self._low[name]:
                self._low[name] = low
            if name not in self._high or high > self._high[name]:
                self._high[name] = high


def stats_text(stats: dict[str, object]) -> str:
    """The ``stats`` of an add action (:func:`file_stats`): JSON, with decimals as numbers in
    their exact digits (``json.dumps`` has no way to write a number it did not make), and
    text as itself, not in ``\\u`` escapes: deltalake's ``to_pyarrow_dataset`` read the
    escaped pair of U+10FFFF as U+FFFFF, a maximum below the value, and returned rows a
    filter excludes."""
    bounds = [stats.get("minValues") or {}, stats.get("maxValues") or {}]
    if not any(isinstance(v, Decimal) for values in bounds for v in values.values()):  # type: ignore[attr-defined]
        return json.dumps(stats, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _json(stats)


def _json(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{_json(k)}:{_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def string_max(value: str) -> str:
    """A short string at or above every string whose maximum is ``value``: ``value`` itself
    when at most :data:`STRING_PREFIX` code points long, otherwise its prefix of that many
    with the last code point raised by one (past the surrogates, which no string holds;
    trailing U+10FFFF, which cannot be raised, dropped first). A value that starts with
    more U+10FFFF than that is raised at its first other code point, or kept whole when it
    has none: leaving the maximum out made deltalake's ``to_pyarrow_dataset`` lose the
    file's rows."""
    if len(value) <= STRING_PREFIX:
        return value
    end = len(value[:STRING_PREFIX].rstrip(_TOP))
    if not end:  # STRING_PREFIX times U+10FFFF: raise the first other code point after them
        rest = value.lstrip(_TOP)
        if not rest:
            return value
        end = len(value) - len(rest) + 1
    raised = ord(value[end - 1]) + 1
    if raised in _SURROGATES:
        raised = _SURROGATES.stop
    return value[: end - 1] + chr(raised)


def _has_stats(type_: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_decimal(type_):
        return type_.precision <= DELTA_DECIMAL_DIGITS
    return (
        pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_date(type_)
        or pa.types.is_timestamp(type_)
        or _python_type(type_) is not None  # text and booleans
    )


def _bounds(low: object, high: object, type_: pa.DataType) -> tuple[object, object]:
    """A column's min and max over the file as the log writes them; None where JSON has no
    spelling of the bound (an infinite float, NaN)."""
    if isinstance(low, str):
        return low[:STRING_PREFIX], string_max(high)  # type: ignore[arg-type]
    if isinstance(low, float) and (math.isinf(low) or math.isinf(high)):  # type: ignore[arg-type]
        return None, None
    return stat_json(low, type_), stat_json(high, type_)


_MICROSECONDS = {"milliseconds": (1000, 1), "microseconds": (1, 1), "nanoseconds": (1, 1000)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _min_max(column_stats: pq.Statistics, type_: pa.DataType) -> tuple[object, object]:
    """A row group's min and max of a column as Python values.

    A timestamp's are read from the file's count of units since the epoch (in UTC, to the
    microsecond, floored as a pandas Timestamp's microseconds are): ``Statistics.min`` makes a
    pyarrow scalar whose ``as_py`` imports pandas for a timestamp with a zone (0.1 CPU-s of
    a writing command's start-up, where the answer is the same). A string column's must be
    text, a decimal's a Decimal (``ValueError`` otherwise: bytes not UTF-8, or a file whose
    logical types say otherwise)."""
    import pyarrow as pa

    if pa.types.is_timestamp(type_) and column_stats.physical_type == "INT64":
        unit = json.loads(column_stats.logical_type.to_json()).get("timeUnit")
        if unit in _MICROSECONDS:
            times, per = _MICROSECONDS[unit]
            return tuple(  # type: ignore[return-value]
                _EPOCH + timedelta(microseconds=raw * times // per)
                for raw in (column_stats.min_raw, column_stats.max_raw)
            )
    low, high = column_stats.min, column_stats.max
    kind = _python_type(type_)
    if kind is not None and not (isinstance(low, kind) and isinstance(high, kind)):
        raise ValueError(f"{type_} statistics read as {type(low).__name__}")
    return low, high


def _python_type(type_: pa.DataType) -> type | None:
    """The Python type a column's statistics must read as to be written (None: any)."""
    import pyarrow as pa

    if (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    ):
        return str
    if pa.types.is_decimal(type_):
        return Decimal
    if pa.types.is_boolean(type_):
        return bool
    return None


def stat_json(value: object, type_: pa.DataType) -> object:
    import pyarrow as pa

    if pa.types.is_timestamp(type_) and isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if pa.types.is_date(type_):
        return value.isoformat()  # type: ignore[union-attr]
    if isinstance(value, float) and value != value:  # NaN has no JSON form
        return None
    return value
