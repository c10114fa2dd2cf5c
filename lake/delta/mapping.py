"""Column mapping (PROTOCOL.md "Column Mapping"): the files the lake writes into a table whose
columns are stored under names of their own.

A table with ``delta.columnMapping.mode`` = ``name`` (Spark and Databricks after a RENAME or
DROP COLUMN, many Unity Catalog tables, deltalake's ``configuration``) names each column in
its data files by its *physical name* (``delta.columnMapping.physicalName``), which never
changes, and not by its name in the schema, which a rename changes. A writer must (the
protocol's "Writer Requirements for Column Mapping"):

* write every column, and every field of a struct at any depth, under its physical name (a
  file written under the display names reads back NULL in every renamed column);
* write every such field's ``delta.columnMapping.id`` as its Parquet ``field_id`` (readers of
  mode ``id`` resolve columns by it alone);
* key the file's statistics and partition values in the log by physical name.

A list's element and a map's key and value are not Delta fields: they keep their Parquet
names and get no field id (nested ids are IcebergCompatV2's, which the lake does not write).
The lake appends such files only in its own commit (see ``DeltaStore.append``): deltalake's
other writes re-encode files under names of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lake.core.errors import UnsupportedTableFeature
from lake.delta.encoding import ROW_GROUP_ROWS

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

PHYSICAL_NAME = "delta.columnMapping.physicalName"
COLUMN_ID = "delta.columnMapping.id"
FIELD_ID = b"PARQUET:field_id"
"""The Arrow field metadata pyarrow writes as the Parquet ``field_id``."""
_MAPPING_PREFIX = b"delta.columnMapping."


def physical_schema(files: pa.Schema, table: pa.Schema, *, where: str) -> pa.Schema:
    """The schema of files of ``files``'s columns (a table's columns, partition columns left
    out) as a column-mapped table of schema ``table`` (with each field's Delta metadata, as
    the log holds it) stores them: every field under its physical name, with its column id as
    its Parquet field id. Types keep ``files``'s layout, so a batch becomes physical by a
    zero-copy view (:func:`to_physical`).

    Raises:
        UnsupportedTableFeature: a field the files hold has no physical name or no id in the
            table's schema (``where``: the table, for the message).
    """
    import pyarrow as pa

    fields = []
    for field in files:
        index = table.get_field_index(field.name)
        if index < 0:
            raise _unmapped(field.name, where)
        fields.append(_physical_field(field, table.field(index), field.name, where))
    return pa.schema(fields, metadata=files.metadata)


def physical_names(table: pa.Schema) -> dict[str, str]:
    """Each top-level column's physical name, where it differs from its name (partition
    values and statistics are keyed by it)."""
    found = {}
    for f in table:
        physical = (f.metadata or {}).get(PHYSICAL_NAME.encode())
        if physical is not None and physical.decode() != f.name:
            found[f.name] = physical.decode()
    return found


def logical_names(physical: Mapping[str, str]) -> dict[str, str]:
    """The inverse of :func:`physical_names`: each column's name by its physical name."""
    return {stored: name for name, stored in physical.items()}


def to_physical(batch: pa.RecordBatch, physical: pa.Schema) -> pa.RecordBatch:
    """``batch`` (in the ``files`` schema :func:`physical_schema` was given) under the
    physical schema: the same buffers, renamed."""
    import pyarrow as pa

    columns = [
        column.view(field.type) for column, field in zip(batch.columns, physical, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=physical)


def write_physical(
    source: Path, target: Path, table: pa.Schema, *, where: str
) -> tuple[pa.Schema, pq.FileMetaData]:
    """Write the staged Parquet file ``source`` again at ``target`` with its columns as the
    column-mapped table of schema ``table`` stores them (:func:`physical_schema`; ``where``:
    the table, for errors). Returns the physical schema and the footer written, whose
    statistics are then keyed by physical name. Encoded as staging encodes, archived columns
    kept archived, in row groups of at most :data:`~lake.delta.encoding.ROW_GROUP_ROWS` rows.
    Pages cannot be renamed in place (the names are in the footer, which pyarrow writes
    whole): 1M rows of three columns took 1.75 s on a busy 2-core machine, where a plain
    append links the file.

    Raises:
        UnsupportedTableFeature: see :func:`physical_schema`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lake.delta.encoding import archived_columns, writer_options
    from lake.delta.stats import BoundedWriter

    parquet = pq.ParquetFile(source)
    physical = physical_schema(parquet.schema_arrow, table, where=where)
    stored = dict(zip(parquet.schema_arrow.names, physical.names, strict=True))
    archive = {stored[name] for name in archived_columns(parquet.metadata) if name in stored}
    writer: BoundedWriter | None = None
    try:
        for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS):
            batch = to_physical(batch, physical)
            if writer is None:
                options = writer_options(pa.Table.from_batches([batch]), archive=archive)
                writer = BoundedWriter(target, physical, **options)
            writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
        if writer is None:  # a file of no rows still has its schema
            writer = BoundedWriter(target, physical)
    finally:
        if writer is not None:
            writer.close()
    footer = writer.metadata if writer.metadata is not None else pq.read_metadata(target)
    return physical, footer


def _physical_field(field: pa.Field, declared: pa.Field, path: str, where: str) -> pa.Field:
    import pyarrow as pa

    declared_metadata = declared.metadata or {}
    name = declared_metadata.get(PHYSICAL_NAME.encode())
    column_id = declared_metadata.get(COLUMN_ID.encode())
    if name is None or column_id is None:
        raise _unmapped(path, where)
    metadata = {
        k: v for k, v in (field.metadata or {}).items() if not k.startswith(_MAPPING_PREFIX)
    }
    metadata[FIELD_ID] = column_id
    inner = _physical_type(field.type, declared.type, path, where)
    return pa.field(name.decode(), inner, nullable=field.nullable, metadata=metadata)


def _physical_type(t: pa.DataType, declared: pa.DataType, path: str, where: str) -> pa.DataType:
    """``t`` with its struct fields, at any depth, physical (``declared``: the table's type)."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        children = []
        for i in range(t.num_fields):
            child = t.field(i)
            index = declared.get_field_index(child.name) if pa.types.is_struct(declared) else -1
            if index < 0:
                raise _unmapped(f"{path}.{child.name}", where)
            children.append(
                _physical_field(child, declared.field(index), f"{path}.{child.name}", where)
            )
        return pa.struct(children)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        if not hasattr(declared, "value_type"):
            raise _unmapped(f"{path}[]", where)
        element = t.value_field.with_type(
            _physical_type(t.value_type, declared.value_type, f"{path}[]", where)
        )
        if pa.types.is_large_list(t):
            return pa.large_list(element)
        if pa.types.is_fixed_size_list(t):
            return pa.list_(element, t.list_size)
        return pa.list_(element)
    if pa.types.is_map(t):
        if not pa.types.is_map(declared):
            raise _unmapped(f"{path}{{}}", where)
        key = t.key_field.with_type(
            _physical_type(t.key_type, declared.key_type, f"{path}{{key}}", where)
        )
        item = t.item_field.with_type(
            _physical_type(t.item_type, declared.item_type, f"{path}{{}}", where)
        )
        return pa.map_(key, item, keys_sorted=t.keys_sorted)
    return t


def _unmapped(path: str, where: str) -> UnsupportedTableFeature:
    return UnsupportedTableFeature(
        f"The Delta table at {where} maps its columns to other names in its files, but its "
        f"schema gives {path} no physical name or column id, so the lake cannot name it in "
        "a file: repair the table's schema with the engine that wrote it."
    )


__all__ = [
    "COLUMN_ID",
    "FIELD_ID",
    "PHYSICAL_NAME",
    "logical_names",
    "physical_names",
    "physical_schema",
    "to_physical",
    "write_physical",
]
