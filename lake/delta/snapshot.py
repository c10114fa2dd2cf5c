"""What a table version is made of, as the lake sees it: files, schema, commit.

Plain values, read from the Delta log by :class:`lake.delta.store.DeltaStore`; every layer
above the table format passes these around instead of deltalake's objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq


@dataclass(frozen=True)
class DataFile:
    """One Parquet file of a table version."""

    uri: str
    path: str
    """Relative to the table's location, as in the Delta log."""
    size: int
    rows: int | None
    partition_values: Mapping[str, str | None] = field(default_factory=dict)
    time_ranges: Mapping[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    """Per top-level timestamp-with-zone column, its (min, max) from the Delta log's file
    statistics (None where not recorded). Delta keeps them to the millisecond: the true
    maximum may lie up to 1 ms above the recorded one."""
    deleted_rows: tuple[int, ...] = ()
    """Indexes (0-based, in file order) of the file's rows this version no longer holds: its
    deletion vector (tables other engines wrote; see ``lake.delta.deletion``). ``rows``
    already excludes them."""


class LoggedRanges(Mapping[str, tuple[datetime | None, datetime | None]]):
    """One file's (min, max) per column, read from the log's statistics only when asked:
    turning every file's times into Python values made each open of a table of 1,000 files
    take 17 ms instead of 3, and only queries with a time bound need them.

    The times are made from their integers, in UTC, not by pyarrow's ``as_py``: that imports
    pandas to ask whether it could return a pandas timestamp (0.1 s of a first query). A
    minimum is rounded down and a maximum up to the microsecond, so a range only widens."""

    __slots__ = ("_columns", "_row")

    def __init__(self, columns: Mapping[str, tuple[pa.Array, pa.Array]], row: int) -> None:
        self._columns = columns
        self._row = row

    def __getitem__(self, column: str) -> tuple[datetime | None, datetime | None]:
        lows, highs = self._columns[column]
        return _instant(lows, self._row, up=False), _instant(highs, self._row, up=True)

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


_MICROSECONDS_PER = {"s": 1_000_000, "ms": 1000, "us": 1}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _instant(times: pa.Array, row: int, *, up: bool) -> datetime | None:
    """The ``row``-th value of a timestamp array as an aware datetime in UTC (None if null);
    nanoseconds rounded up or down to the microsecond."""
    scalar = times[row]
    if not scalar.is_valid:
        return None
    value, unit = scalar.value, times.type.unit
    if unit == "ns":
        micros = -(-value // 1000) if up else value // 1000
    else:
        micros = value * _MICROSECONDS_PER[unit]
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True)
class Snapshot:
    """One version of a table: its schema and the exact files that make it."""

    uri: str
    version: int
    committed_at: datetime
    schema: pa.Schema
    partition_columns: tuple[str, ...]
    files: tuple[DataFile, ...]
    """In :func:`in_file_order`: the same for a version however it was read."""
    physical_names: Mapping[str, str] = field(default_factory=dict)
    """Column mapping (a table another engine wrote with ``delta.columnMapping.mode`` =
    ``name``): the name in the data files of each top-level column whose name there differs
    from its name in the schema. Empty for every table the lake writes."""
    configuration: Mapping[str, str] = field(default_factory=dict)
    """The table's properties (the log's ``metaData.configuration``), e.g.
    ``delta.autoOptimize.autoCompact``."""

    @property
    def rows(self) -> int:
        return sum(f.rows or 0 for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def in_file_order(files: Iterable[DataFile]) -> tuple[DataFile, ...]:
    """A version's files in the order every reader of the lake meets them: by their path in
    the Delta log (code point order), a property of the version alone.

    A query whose result depends on the order it meets rows in (a sum of doubles, a window,
    DISTINCT ON) gives the same result twice only when it meets the files in the same order,
    and a training set's rebuild is compared byte for byte. deltalake's own order is not a
    property of the version: it replays JSON commits newest first, but takes a checkpoint's
    files in the checkpoint's row order, which another engine writes as it likes (a
    checkpoint listing them oldest first turned a sum of 1.0 into 0.0 for the same version);
    and the lake's own appends kept the version before plus the added files at the end. The
    order the adds were committed in cannot be told once a checkpoint holds them (it records
    no version per file), so the path decides."""
    return tuple(sorted(files, key=lambda f: f.path))


@dataclass(frozen=True)
class Commit:
    """One entry of a table's Delta history."""

    version: int
    committed_at: datetime
    operation: str
    run_id: str | None
    metrics: Mapping[str, object]
    parameters: Mapping[str, object]
    added: tuple[str, ...] | None = None
    """The files this commit added, when it only added files (an append the lake made):
    the version before it is then this version without them."""


@dataclass(frozen=True)
class StagedFile:
    """A Parquet file written on local disk, ready to become part of a table.

    Partition columns are not stored inside the file (the Delta convention); their
    values are given here, as strings (None for a null partition value).
    """

    path: Path
    partition_values: Mapping[str, str | None] = field(default_factory=dict)
    footer: pq.FileMetaData | None = field(default=None, compare=False, repr=False)
    """The footer its writer wrote, when the writer kept it (the log stage's do): publishing
    takes the file's statistics from it instead of reading the footer back."""
