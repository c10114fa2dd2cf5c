"""One table version as DuckDB SQL: a subquery over exactly that version's Parquet files.

The subquery reads the files with DuckDB's own Parquet reader (``read_parquet`` over the
file list from the Delta log), so DuckDB pushes filters and projections into the scan, and
casts every column to the version's Delta schema, so types are exact whatever each file
declares (an identical cast costs nothing: DuckDB drops it).

Partition columns are not stored in the files; their values are in the Delta log
(``DataFile.partition_values``). Two constructions give them back:

* **hive**: when every file's path spells the log's values in ``col=value`` folders (what
  delta-rs and the lake write), DuckDB reads them from the paths with explicit
  ``hive_types``. This is the fast form: a filter on a partition column drops files before
  they are opened (``EXPLAIN ANALYZE`` shows ``Scanning Files: 5/30``). Only types whose
  text form does not depend on the session (strings, integers, dates, booleans) go this way.
* **by value**: otherwise the files are grouped by their partition values and each group
  gets its values as typed constants, ``UNION ALL BY NAME`` (DuckDB still prunes the groups
  a filter excludes).

``robust=True`` adds a typed empty row (``UNION ALL BY NAME``) so a schema column that no file
of the version contains (added to the schema, never written) reads as NULL. It is slower
(struct fields are no longer pushed down), so it is used only when DuckDB says a column is
missing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote

from lake.core.quoting import quote_ident, quote_literal

if TYPE_CHECKING:
    import pyarrow as pa

    from lake.delta.snapshot import DataFile, Snapshot

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
SOURCE = quote_ident("lake_files")


def duckdb_type(t: pa.DataType) -> str:
    """The DuckDB type name of an Arrow type, as DuckDB itself maps it.

    Raises:
        ValueError: a type DuckDB cannot hold (none of Delta's types).
    """
    import pyarrow as pa
    import pyarrow.types as pt

    simple = [
        (pt.is_boolean, "BOOLEAN"),
        (pt.is_int8, "TINYINT"),
        (pt.is_int16, "SMALLINT"),
        (pt.is_int32, "INTEGER"),
        (pt.is_int64, "BIGINT"),
        (pt.is_uint8, "UTINYINT"),
        (pt.is_uint16, "USMALLINT"),
        (pt.is_uint32, "UINTEGER"),
        (pt.is_uint64, "UBIGINT"),
        (pt.is_float32, "FLOAT"),
        (pt.is_float64, "DOUBLE"),
        (lambda x: pt.is_string(x) or pt.is_large_string(x) or pt.is_string_view(x), "VARCHAR"),
        (
            lambda x: (
                pt.is_binary(x)
                or pt.is_large_binary(x)
                or pt.is_binary_view(x)
                or pt.is_fixed_size_binary(x)
            ),
            "BLOB",
        ),
        (lambda x: pt.is_date32(x) or pt.is_date64(x), "DATE"),
        (pt.is_time, "TIME"),
        (pt.is_duration, "INTERVAL"),
        (pt.is_interval, "INTERVAL"),
    ]
    for test, name in simple:
        if test(t):
            return name
    if pt.is_timestamp(t):
        if t.tz is not None:
            return "TIMESTAMP WITH TIME ZONE"
        return {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}[
            t.unit
        ]
    if pt.is_decimal(t):
        if t.precision > 38:
            raise ValueError(f"DECIMAL({t.precision},{t.scale}) is wider than DuckDB's 38 digits")
        return f"DECIMAL({t.precision},{t.scale})"
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_list_view(t) or pt.is_large_list_view(t):
        return f"{duckdb_type(t.value_type)}[]"
    if pt.is_fixed_size_list(t):
        return f"{duckdb_type(t.value_type)}[{t.list_size}]"
    if pt.is_map(t):
        return f"MAP({duckdb_type(t.key_type)}, {duckdb_type(t.item_type)})"
    if pt.is_struct(t):
        fields = ", ".join(
            f"{quote_ident(t.field(i).name)} {duckdb_type(t.field(i).type)}"
            for i in range(t.num_fields)
        )
        return f"STRUCT({fields})"
    if t == pa.null():
        return "INTEGER"  # DuckDB's own choice for an all-null Arrow column
    raise ValueError(f"the Arrow type {t} has no DuckDB equivalent")


def hive_safe_type(t: pa.DataType) -> bool:
    """Partition types DuckDB may read from paths: their text form is the same in every session
    (a timestamp's text would be read in the session's time zone; floats have many spellings)."""
    import pyarrow.types as pt

    return (
        pt.is_string(t)
        or pt.is_large_string(t)
        or pt.is_string_view(t)
        or pt.is_integer(t)
        or pt.is_date32(t)
        or pt.is_boolean(t)
    )


def path_partition_values(path: str) -> dict[str, str | None]:
    """The ``col=value`` folders of a path as DuckDB reads them (URL-decoded, the hive null
    marker as None; a later folder with the same name wins)."""
    found: dict[str, str | None] = {}
    for segment in path.split("/")[:-1]:
        key, equals, raw = segment.partition("=")
        if not equals or not key or "=" in raw:
            continue
        found[unquote(key)] = None if raw == HIVE_NULL else unquote(raw)
    return found


def hive_matches(file: DataFile, path: str, columns: Sequence[tuple[str, pa.DataType]]) -> bool:
    """True when DuckDB, reading ``path`` with hive partitioning, gets exactly the log's values."""
    folders = path.rsplit("/", 1)[0]
    if "+" in folders:  # whether '+' decodes to a space is the reader's choice: never rely on it
        return False
    from_path = path_partition_values(path)
    for name, type_ in columns:
        if name not in from_path:
            return False
        expected, seen = file.partition_values.get(name), from_path[name]
        if expected is None or seen is None:
            if expected is not seen:
                return False
        elif not _same_text(expected, seen, type_):
            return False
    return True


def scan_sql(snapshot: Snapshot, paths: Sequence[str], *, robust: bool = False) -> str:
    """A parenthesised subquery returning the version's rows, columns in schema order.

    ``paths`` are DuckDB's addresses of ``snapshot.files`` (same order).
    """
    schema = snapshot.schema
    # Column mapping: a column is read by its name in the files; partition values are given
    # under the schema's names.
    stored = {
        n: p for n, p in snapshot.physical_names.items() if n not in snapshot.partition_columns
    }
    projection = _projection(schema, stored)
    if not snapshot.files:
        nulls = ", ".join(
            f"CAST(NULL AS {duckdb_type(f.type)}) AS {quote_ident(f.name)}" for f in schema
        )
        return f"(SELECT {nulls} WHERE false)"
    partitions = [(n, schema.field(n).type) for n in snapshot.partition_columns]
    if not partitions:
        source = _read_files(snapshot.files, paths)
    elif (
        not snapshot.physical_names
        and not any(f.deleted_rows for f in snapshot.files)
        and all(hive_safe_type(t) for _, t in partitions)
        and all(hive_matches(f, p, partitions) for f, p in zip(snapshot.files, paths, strict=True))
    ):
        source = _read(paths, hive={n: duckdb_type(t) for n, t in partitions})
    else:
        source = _by_partition_value(snapshot.files, paths, partitions)
    if robust:
        nulls = ", ".join(
            f"CAST(NULL AS {duckdb_type(f.type)}) AS {quote_ident(stored.get(f.name, f.name))}"
            for f in schema
        )
        source = f"(SELECT {nulls} WHERE false UNION ALL BY NAME SELECT * FROM {source})"
    return f"(SELECT {projection} FROM {source} AS {SOURCE})"


PROJECTIONS_KEPT = 256
_projections: OrderedDict[int, tuple[pa.Schema, dict[str, str], str]] = OrderedDict()
_projections_lock = threading.Lock()


def _projection(schema: pa.Schema, stored: dict[str, str]) -> str:
    """The scan's column list: each column cast to the schema's type. Kept per schema object
    (a version's snapshot is cached, and with it its schema): spelling every type anew was a
    third of the Python a warm query ran (0.1 ms; hashing a schema costs more than keeping
    it by identity would save)."""
    with _projections_lock:
        kept = _projections.get(id(schema))
        if kept is not None and kept[0] is schema and kept[1] == stored:
            _projections.move_to_end(id(schema))
            return kept[2]
    # Qualified by the source's alias: a column missing from every file is then a binder
    # error with a position (unqualified, DuckDB would take it for the output alias).
    text = ", ".join(
        f"CAST({SOURCE}.{quote_ident(stored.get(f.name, f.name))} AS {duckdb_type(f.type)}) "
        f"AS {quote_ident(f.name)}"
        for f in schema
    )
    with _projections_lock:
        # the schema is kept with its text, so its id cannot be reused while the entry lives
        _projections[id(schema)] = (schema, dict(stored), text)
        while len(_projections) > PROJECTIONS_KEPT:
            _projections.popitem(last=False)
    return text


EVENT_DATE = "_event_date"


def within_days(
    snapshot: Snapshot, paths: Sequence[str], first: date | None, last: date | None
) -> tuple[Snapshot, list[str]]:
    """The version's files whose ``_event_date`` partition lies in ``[first, last]``, with
    their paths: data skipping for a query that bounds ``_event_time``, which DuckDB cannot
    derive from the partition column itself. A file is skipped only when the log's range of
    its ``_event_time`` lies within its ``_event_date`` as a UTC day: the lake's ingestion
    writes that date, but a table written elsewhere (registered) may hold a local date, or
    any other, and its rows must not go missing. Files without a readable date or range are
    kept."""
    from dataclasses import replace

    if EVENT_DATE not in snapshot.partition_columns or (first is None and last is None):
        return snapshot, list(paths)
    kept_files, kept_paths = [], []
    for file, path in zip(snapshot.files, paths, strict=True):
        day = _date(file.partition_values.get(EVENT_DATE) or "")
        if (
            day is None
            or ((first is None or day >= first) and (last is None or day <= last))
            or not _within_utc_day(file, day)
        ):
            kept_files.append(file)
            kept_paths.append(path)
    return replace(snapshot, files=tuple(kept_files)), kept_paths


EVENT_TIME = "_event_time"


def _within_utc_day(file: DataFile, day: date) -> bool:
    """Whether the log's range of the file's ``_event_time`` lies within ``day`` (UTC): a
    recorded maximum is truncated to the millisecond, so it is before the next midnight
    exactly when the true maximum is."""
    low, high = file.time_ranges.get(EVENT_TIME, (None, None))
    if low is None or high is None:
        return False
    start = datetime.combine(day, time(0), UTC)
    return start <= low and high < start + timedelta(days=1)


STATS_PRECISION = timedelta(milliseconds=1)
"""Delta file statistics keep times to the millisecond, truncated: a true minimum lies at or
above the recorded one, a true maximum less than 1 ms above it."""


@dataclass(frozen=True)
class Limit:
    """One end of a range a column must lie in: ``moment`` itself included unless ``strict``."""

    moment: datetime
    strict: bool


def within_times(
    snapshot: Snapshot, paths: Sequence[str], column: str, low: Limit | None, high: Limit | None
) -> tuple[Snapshot, list[str]]:
    """The version's files whose recorded range of ``column`` can meet ``low`` and ``high``
    (files without a recorded range are kept), with their paths: data skipping by the Delta
    log's file statistics, which DuckDB would otherwise read from every file's footer."""
    from dataclasses import replace

    if low is None and high is None:
        return snapshot, list(paths)
    kept_files, kept_paths = [], []
    for file, path in zip(snapshot.files, paths, strict=True):
        first, last = file.time_ranges.get(column, (None, None))
        if first is None or last is None or (_below(first, high) and _above(last, low)):
            kept_files.append(file)
            kept_paths.append(path)
    return replace(snapshot, files=tuple(kept_files)), kept_paths


def _below(first: datetime, high: Limit | None) -> bool:
    """Whether a file whose recorded minimum is ``first`` can hold a value under ``high``."""
    if high is None:
        return True
    return first < high.moment if high.strict else first <= high.moment


def _above(last: datetime, low: Limit | None) -> bool:
    """Whether a file whose recorded maximum is ``last`` can hold a value over ``low``."""
    if low is None:
        return True
    ceiling = last + STATS_PRECISION  # the true maximum is below this
    return ceiling > low.moment


def _read_files(files: Sequence[DataFile], paths: Sequence[str]) -> str:
    """The files' rows, without those their deletion vectors delete: files without one in
    one read, each file with one on its own, its rows numbered and the deleted left out."""
    plain = [p for f, p in zip(files, paths, strict=True) if not f.deleted_rows]
    if len(plain) == len(paths):
        return _read(paths, hive=None)
    branches = [f"SELECT * FROM {_read(plain, hive=None)}"] if plain else []
    for file, path in zip(files, paths, strict=True):
        if file.deleted_rows:
            # one text constant, split by DuckDB: a list literal of 100,000 numbers took 5.1 s
            # to plan, this 0.65 s (1,000,000 rows read)
            deleted = quote_literal(",".join(str(i) for i in file.deleted_rows))
            branches.append(
                f"SELECT * EXCLUDE ({ROW_NUMBER}) FROM {_read([path], hive=None, numbered=True)} "
                f"WHERE {ROW_NUMBER} NOT IN "
                f"(SELECT CAST(unnest(string_split({deleted}, ',')) AS BIGINT))"
            )
    return "(" + " UNION ALL BY NAME ".join(branches) + ")"


ROW_NUMBER = "file_row_number"


def _read(paths: Sequence[str], *, hive: dict[str, str] | None, numbered: bool = False) -> str:
    files = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
    # One file has nothing to unify with; DuckDB's binding of union_by_name cost a warm query
    # over a compacted table 0.11 million instructions (of 5 on a 100-row file).
    union = "union_by_name = true, " if len(paths) > 1 else ""
    if hive is None:
        numbers = f", {ROW_NUMBER} = true" if numbered else ""
        return f"read_parquet({files}, {union}hive_partitioning = false{numbers})"
    types = ", ".join(f"{quote_literal(n)}: {quote_literal(t)}" for n, t in hive.items())
    return f"read_parquet({files}, {union}hive_partitioning = true, hive_types = {{{types}}})"


def _by_partition_value(
    files: Sequence[DataFile], paths: Sequence[str], partitions: Sequence[tuple[str, pa.DataType]]
) -> str:
    groups: dict[tuple[str | None, ...], list[tuple[DataFile, str]]] = {}
    for file, path in zip(files, paths, strict=True):
        key = tuple(file.partition_values.get(n) for n, _ in partitions)
        groups.setdefault(key, []).append((file, path))
    names = ", ".join(quote_literal(n) for n, _ in partitions)
    branches = []
    for values, group in groups.items():
        constants = ", ".join(
            f"{_constant(v, t)} AS {quote_ident(n)}"
            for (n, t), v in zip(partitions, values, strict=True)
        )
        # files may also carry the partition columns themselves: the log's value wins
        branches.append(
            f"SELECT COLUMNS(c -> c NOT IN ({names})), {constants} FROM "
            f"{_read_files([f for f, _ in group], [p for _, p in group])}"
        )
    return "(" + " UNION ALL BY NAME ".join(branches) + ")"


def _constant(value: str | None, type_: pa.DataType) -> str:
    """A partition value (the log's text, see ``lake.delta.partitions``) as a typed SQL
    constant. Binary values are one character per byte: spelled in hex, since a text literal
    cast to BLOB would take the characters' UTF-8 bytes."""
    import pyarrow.types as pt

    if value is None:
        return f"CAST(NULL AS {duckdb_type(type_)})"
    if pt.is_binary(type_) or pt.is_large_binary(type_) or pt.is_fixed_size_binary(type_):
        return f"unhex({quote_literal(value.encode('latin-1').hex())})"
    return f"CAST({quote_literal(value)} AS {duckdb_type(type_)})"


def _same_text(expected: str, seen: str, type_: pa.DataType) -> bool:
    import pyarrow.types as pt

    if pt.is_integer(type_):
        return _int(expected) is not None and _int(expected) == _int(seen)
    if pt.is_date32(type_):
        return _date(expected) is not None and _date(expected) == _date(seen)
    if pt.is_boolean(type_):
        return expected.strip().lower() == seen.strip().lower() and seen.strip().lower() in (
            "true",
            "false",
        )
    return expected == seen


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10]) if len(text.strip()) == 10 else None
    except ValueError:
        return None
