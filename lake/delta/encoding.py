"""How the lake encodes the Parquet files of its tables: codec, dictionaries, statistics.

Chosen for scan speed, because analysts scan the same files many times:

* **Codec.** LZ4 (``LZ4_RAW``) for the columns queries read. DuckDB decompresses it about 20%
  faster than zstd, which on a GROUP BY over logs is most of the scan (bench_sql). Columns
  kept for completeness rather than scanning (``_raw``, the largest) stay zstd: smaller on
  disk, and rarely read.
* **Dictionaries**, per column, from the data. They pay off where few values repeat (methods,
  status codes, countries, paths). Where nearly every value differs (ids, byte counts,
  latencies, timestamps) they cost twice: the writer hashes every value before giving up,
  and the reader decodes through an indirection for nothing. pyarrow's default (a dictionary
  on every column) made DuckDB's GROUP BY over ingested logs 1.32x slower than over the file
  DuckDB writes itself, which decides per column in the same way.
* **Statistics** on every column except the archived ones (``_raw``'s min and max are two
  whole log lines, useless for skipping) and strings without nulls that neither repeat nor
  come in order (ids, paths, addresses): their min and max span nearly every value, so they
  skip no row group, and comparing every string cost the ingest 0.2 CPU-seconds per 500 MB
  of logs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import pyarrow.parquet as pq

ROW_GROUP_ROWS = 65_536
"""Row groups of at most this many rows: DuckDB skips row groups by their statistics, and
deltalake aborts the process writing nested structs in larger row groups (FACTS.md)."""
SCAN_CODEC = "lz4"
"""pyarrow's ``lz4`` is Parquet's ``LZ4_RAW``."""
ARCHIVE_CODEC = "zstd"
DISTINCT_SHARE = 0.25
"""A column is dictionary-encoded when its sample has at most this share of distinct values."""
SAMPLE_ROWS = 16_384
"""Rows judged: enough to tell repeating columns from unique ones, cheap enough to do for
every file an ingest opens (counting distinct values of 65,536 rows took 0.1 s per file
while the parser and the encoder were busy)."""
FLOAT_DIGITS = 15
"""Digits of a decimal a float holds exactly: delta-rs logged every decimal(p <= 15) of a
sweep of scales and values in its exact digits, and decimal(16, 1) 999999999999999.9 as
1000000000000000.0."""
MIN_SAMPLE = 4_096
"""Below this many values many distinct ones say little (a day's first rows may all differ):
strings then still get a dictionary, numbers and times do not."""


def writer_options(
    sample: pa.Table, *, unique: Collection[str] = (), archive: Collection[str] = ()
) -> dict[str, Any]:
    """Keyword arguments for ``pyarrow.parquet.ParquetWriter`` for a file starting with ``sample``.

    ``unique``: top-level columns known to differ on every row (no dictionary tried).
    ``archive``: top-level columns kept rather than scanned (zstd, no statistics).
    """
    # One walk of the sample gives every path and the leaves judged (a second walk of an
    # empty table for the paths alone was a tenth of a small file's options).
    table = sample.slice(0, SAMPLE_ROWS)
    paths: list[str] = []
    leaves: list[tuple[str, pa.Array]] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        judged = field.name not in unique and field.name not in archive
        found: list[tuple[str, pa.Array]] = []
        # Not judged (``_raw``): its paths only, its values not copied together.
        _walk(field.name, column.combine_chunks() if judged else pa.nulls(0, field.type), found)
        paths.extend(path for path, _ in found)
        if judged:
            leaves.extend(found)
    dictionary = [path for path, arr in leaves if _few_distinct(arr)]
    repeating = set(dictionary)
    # A column with nulls keeps its statistics for their null count (`_error IS NOT NULL`).
    scattered = {
        path
        for path, arr in leaves
        if path not in repeating
        and _is_string(arr.type)
        and not arr.null_count
        and not _ordered(arr)
    }
    return {
        "compression": {
            path: ARCHIVE_CODEC if _top(path) in archive else SCAN_CODEC for path in paths
        },
        "use_dictionary": dictionary,
        "write_statistics": [
            path for path in paths if _top(path) not in archive and path not in scattered
        ],
    }


def archived_columns(metadata: pq.FileMetaData) -> set[str]:
    """Top-level columns every leaf of which the file stores zstd without statistics: the
    columns the lake archives rather than scans (see :mod:`lake.delta.encoding`), which a
    rewrite keeps so. zstd alone does not say it: engines that compress every column with
    zstd (Trino) write statistics a filter skips files by."""
    if not metadata.num_row_groups:
        return set()
    group = metadata.row_group(0)
    archived: dict[str, bool] = {}
    for i in range(group.num_columns):
        column = group.column(i)
        top = column.path_in_schema.split(".", 1)[0]
        leaf = column.compression == "ZSTD" and not column.is_stats_set
        archived[top] = archived.get(top, True) and leaf
    return {name for name, kept in archived.items() if kept}


def delta_writer_properties(
    sample: pa.Table | None,
    *,
    max_row_group_size: int,
    archive: Collection[str] = (),
    schemas: Sequence[pa.Schema] = (),
) -> Any:
    """deltalake ``WriterProperties`` for data starting with ``sample`` (None: not known).

    ``archive``: top-level columns kept rather than scanned: no dictionary. delta-rs has no
    codec per column, so they stay LZ4; their statistics stay, cut to 64 bytes by delta-rs
    (its default), in the footer and the log: deltalake's dataset lost every row of a file
    whose log left ``_raw`` out when a filter named it.
    ``schemas``: the columns of the files it writes besides ``sample``'s (a merge or a
    partial overwrite rewrites the table's own rows too).

    Decimals of more than :data:`FLOAT_DIGITS` digits are written without statistics:
    delta-rs logs a decimal's min and max as a float, which for those digits may fall
    inside the file's values (a decimal(38, 18) maximum logged below it), and DuckDB's
    ``delta_scan`` then skipped the file and lost its rows. Left out, readers read the file.

    delta-rs addresses columns by top-level name only (a nested path is one unknown name to
    it), so nested leaves keep its default: a dictionary, dropped when it grows too large.
    A nested such decimal, which no name reaches, takes the statistics off every column
    but the plain top-level ones, named one by one.
    """
    from deltalake import ColumnProperties, WriterProperties

    fields = {f.name: f for f in (sample.schema if sample is not None else ())}
    for schema in schemas:
        for field in schema:
            fields.setdefault(field.name, field)
    inexact = {name for name, f in fields.items() if _inexact_decimal(f.type)}
    nested_inexact = any(
        pa.types.is_nested(f.type) and name in inexact for name, f in fields.items()
    )
    dictionary: dict[str, bool] = {name: False for name in archive}
    if sample is not None:
        table = sample.slice(0, SAMPLE_ROWS).combine_chunks()
        for field, column in zip(table.schema, table.columns, strict=True):
            if field.name in dictionary or pa.types.is_nested(field.type):
                continue
            if not _few_distinct(_one_array(column)):
                dictionary[field.name] = False
    plain: dict[str, ColumnProperties] = {}
    for name in {*dictionary, *inexact}:
        plain[name] = ColumnProperties(
            dictionary_enabled=dictionary.get(name),
            statistics_enabled="NONE" if name in inexact else None,
        )
    default = None
    if nested_inexact:
        default = ColumnProperties(statistics_enabled="NONE")
        for name, f in fields.items():
            if name not in inexact and not pa.types.is_nested(f.type):
                plain[name] = ColumnProperties(
                    dictionary_enabled=dictionary.get(name), statistics_enabled="PAGE"
                )
    return WriterProperties(
        compression="LZ4_RAW",
        max_row_group_size=max_row_group_size,
        default_column_properties=default,
        column_properties=plain or None,
    )


def _inexact_decimal(t: pa.DataType) -> bool:
    """Whether ``t`` holds a decimal, at any depth, a float cannot hold exactly."""
    if pa.types.is_decimal(t):
        return t.precision > FLOAT_DIGITS
    if pa.types.is_struct(t):
        return any(_inexact_decimal(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _inexact_decimal(t.value_type)
    if pa.types.is_map(t):
        return _inexact_decimal(t.key_type) or _inexact_decimal(t.item_type)
    return False


def leaf_paths(schema: pa.Schema) -> list[str]:
    """Every Parquet column path of ``schema``, as pyarrow's writer options name them."""
    # Not schema.empty_table(): it builds each column with pa.array([]), which imports pandas.
    return [path for path, _ in _leaves(pa.Table.from_batches([], schema))]


def _top(path: str) -> str:
    return path.split(".", 1)[0]


def _leaves(table: pa.Table) -> list[tuple[str, pa.Array]]:
    out: list[tuple[str, pa.Array]] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        _walk(field.name, _one_array(column), out)
    return out


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    """The column of a table whose chunks were combined, as one array."""
    return column.chunks[0] if column.num_chunks else pa.nulls(0, column.type)


def _walk(path: str, arr: pa.Array, out: list[tuple[str, pa.Array]]) -> None:
    t = arr.type
    if pa.types.is_struct(t):
        for i in range(t.num_fields):
            _walk(f"{path}.{t.field(i).name}", arr.field(i), out)
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        # pyarrow writes lists in the compliant three-level form: <name>.list.element
        _walk(f"{path}.list.element", arr.flatten(), out)
    elif pa.types.is_map(t):
        _walk(f"{path}.key_value.key", arr.keys, out)
        _walk(f"{path}.key_value.value", arr.items, out)
    else:
        out.append((path, arr))


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _ordered(arr: pa.Array) -> bool:
    """Whether the non-null values never decrease (time strings of logs do)."""
    import pyarrow.compute as pc  # only writes need it: reads start without it

    values = arr.drop_null()
    if len(values) < 2:
        return True
    return bool(pc.all(pc.less_equal(values.slice(0, len(values) - 1), values.slice(1))).as_py())


def _few_distinct(arr: pa.Array) -> bool:
    import pyarrow.compute as pc  # only writes need it: reads start without it

    t = arr.type
    if pa.types.is_boolean(t):
        return False
    values = len(arr) - arr.null_count
    if values == 0 or pa.types.is_null(t):
        return True  # nothing to judge by: the writer drops a dictionary that grows too large
    if values < MIN_SAMPLE and _is_string(t):
        return True  # as below whatever the count: not counted (most of a small file's options)
    try:
        distinct = pc.count_distinct(arr).as_py()
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return True
    if distinct <= int(values * DISTINCT_SHARE):
        return True
    return values < MIN_SAMPLE and _is_string(t)
