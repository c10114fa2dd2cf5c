"""Delta file statistics of a staged Parquet file, read from its footer.

Delta readers (and the lake's own file skipping) prune files by each file's record count
and the min/max/null count of its columns; the lake writes them for the plain top-level
columns that queries filter on: numbers, dates and timestamps.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq


def file_stats(metadata: pq.FileMetaData, schema: pa.Schema) -> dict[str, object]:
    """Delta file statistics: record count, and min/max/null count of plain top-level columns."""
    import pyarrow as pa

    stats: dict[str, object] = {"numRecords": metadata.num_rows}
    minimum: dict[str, object] = {}
    maximum: dict[str, object] = {}
    nulls: dict[str, int] = {}
    wanted = {
        f.name: f.type
        for f in schema
        if pa.types.is_integer(f.type)
        or pa.types.is_floating(f.type)
        or pa.types.is_date(f.type)
        or pa.types.is_timestamp(f.type)
    }
    positions = {
        metadata.schema.column(i).path: i
        for i in range(metadata.num_columns)
        if metadata.schema.column(i).path in wanted
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
                lows.append(low)
                highs.append(high)
            except OverflowError:  # a date before year 1 or after 9999: no Python, no JSON form
                complete = False
                break
            null_count += column_stats.null_count or 0
        if not complete:
            continue
        nulls[name] = null_count
        if lows:
            minimum[name] = stat_json(min(lows), wanted[name])
            maximum[name] = stat_json(max(highs), wanted[name])
    if minimum:
        stats["minValues"] = minimum
        stats["maxValues"] = maximum
    if nulls:
        stats["nullCount"] = nulls
    return stats


_MICROSECONDS = {"milliseconds": (1000, 1), "microseconds": (1, 1), "nanoseconds": (1, 1000)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _min_max(column_stats: pq.Statistics, type_: pa.DataType) -> tuple[object, object]:
    """A row group's min and max of a column as Python values.

    A timestamp's are read from the file's count of units since the epoch (in UTC, to the
    microsecond, floored as a pandas Timestamp's microseconds are): ``Statistics.min`` makes a
    pyarrow scalar whose ``as_py`` imports pandas for a timestamp with a zone (0.1 CPU-s of
    a writing command's start-up, where the answer is the same)."""
    import pyarrow as pa

    if pa.types.is_timestamp(type_) and column_stats.physical_type == "INT64":
        unit = json.loads(column_stats.logical_type.to_json()).get("timeUnit")
        if unit in _MICROSECONDS:
            times, per = _MICROSECONDS[unit]
            return tuple(  # type: ignore[return-value]
                _EPOCH + timedelta(microseconds=raw * times // per)
                for raw in (column_stats.min_raw, column_stats.max_raw)
            )
    return column_stats.min, column_stats.max


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
