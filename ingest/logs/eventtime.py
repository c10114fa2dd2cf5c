"""Turning a record's time field into ``_event_time`` (timestamp[us, UTC]).

Rules: numbers (and numeric strings) are Unix epochs whose unit is read from the magnitude
(|x| < 1e11: seconds, < 1e14: milliseconds, < 1e17: microseconds, else nanoseconds);
strings are ISO 8601 (``T`` or space, fractions, ``Z`` or an offset; no offset means UTC),
or the common log formats (``17/May/2015:10:05:03 +0000``, ``2023-11-14 22:13:20,323``).
A value that cannot be read gives a null event time; the record is kept and not flagged as
an error (its time is still in its own column and in ``_raw``).
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from lake.core import duckdb as lake_duckdb

TIME_FIELDS = ("timestamp", "time", "@timestamp", "ts")
"""Top-level JSON keys recognised as the event time, in this order, when none is given."""

EVENT_TIME = pa.timestamp("us", tz="UTC")

_FORMATS = [
    "%d/%b/%Y:%H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S,%f",
    "%Y-%m-%dT%H:%M:%S,%f",
    "%b %d %H:%M:%S %Y",
    "%a %b %d %H:%M:%S %Y",
    "%d/%b/%Y:%H:%M:%S",
]

_EPOCH_INT_SQL = """
    CASE WHEN abs(n) < 100000000000 THEN n * 1000000 WHEN abs(n) < 100000000000000 THEN n * 1000
         WHEN abs(n) < 100000000000000000 THEN n ELSE n // 1000 END
"""
_EPOCH_SQL = """
    CASE WHEN abs(n) < 1e11 THEN n * 1e6 WHEN abs(n) < 1e14 THEN n * 1e3
         WHEN abs(n) < 1e17 THEN n ELSE n / 1e3 END
"""


class EventTimeParser:
    """Parses time columns; holds one DuckDB connection for the strings Arrow cannot read."""

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def parse(self, values: pa.Array | pa.ChunkedArray, *, json_encoded: bool = False) -> pa.Array:
        """Event times for a column of strings, numbers or timestamps (null where unreadable)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
        t = values.type
        if pa.types.is_timestamp(t):
            return _to_utc(values)
        if pa.types.is_integer(t):
            return self._sql(
                pa.table({"n": values.cast(pa.int64())}),
                f"SELECT make_timestamptz(TRY_CAST({_EPOCH_INT_SQL} AS BIGINT)) FROM t",
            )
        if pa.types.is_floating(t):
            return self._sql(
                pa.table({"n": values.cast(pa.float64())}),
                f"SELECT make_timestamptz(TRY_CAST({_EPOCH_SQL} AS BIGINT)) FROM t",
            )
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            return pa.nulls(len(values), EVENT_TIME)
        if json_encoded:
            values = pa.array([_unjson(v) for v in values.to_pylist()], pa.string())
        try:  # ISO 8601 with a zone: Arrow's own parser, fastest
            return _to_utc(pc.cast(values, EVENT_TIME))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        # One try_strptime per format: with a list of formats, DuckDB 1.5.5 carried one
        # row's zone offset over to the next row.
        fmts = ", ".join(f"try_strptime(s, '{f}')::TIMESTAMPTZ" for f in _FORMATS)
        return self._sql(
            pa.table({"s": values.cast(pa.string())}),
            f"""
            SELECT CASE WHEN TRY_CAST(s AS DOUBLE) IS NOT NULL
                        THEN make_timestamptz(TRY_CAST((SELECT {_EPOCH_SQL}
                             FROM (SELECT TRY_CAST(s AS DOUBLE) AS n)) AS BIGINT))
                        ELSE COALESCE(TRY_CAST(s AS TIMESTAMPTZ), {fmts}) END
            FROM t""",
        )

    def _sql(self, t: pa.Table, sql: str) -> pa.Array:
        if self._con is None:
            self._con = lake_duckdb.connect(threads=1)
        try:
            self._con.register("t", t)
            out = self._con.execute(sql).to_arrow_table().column(0)
        except duckdb.Error:
            return pa.nulls(len(t), EVENT_TIME)
        finally:
            self._con.unregister("t")
        return _to_utc(out.combine_chunks() if out.num_chunks != 1 else out.chunk(0))


def _to_utc(arr: pa.Array) -> pa.Array:
    if arr.type.tz is None:
        arr = pc.assume_timezone(arr, "UTC")
    return arr.cast(EVENT_TIME)


def _unjson(text: str | None) -> str | None:
    if text is None or not text.startswith('"'):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def event_dates(times: pa.Array) -> pa.Array:
    """The UTC date of each event time (the partition column)."""
    return pc.cast(times, pa.date32())
