"""What a Delta table's protocol and metadata ask of every writer, decided in one place.

The rules are PROTOCOL.md's (delta-io/delta) "Writer Requirements": another engine (Spark,
Databricks, delta-rs) may add them to any table, the lake's own included
(``ALTER TABLE ... ADD CONSTRAINT``), and a row committed against them is a table that engine
then refuses or reads wrong. What each asks of the lake's writes:

* **Rows checked**: CHECK constraints (``delta.constraints.*`` in the configuration), column
  invariants (``delta.invariants`` on a field at any depth), NOT NULL fields and generated
  columns (``delta.generationExpression``). Every row a commit adds must satisfy them (an
  invariant or constraint that is false *or null* fails, a generated column must equal its
  expression, null-safe). The lake's own commits are add actions of files it wrote, which
  check nothing: the rows of such a table go through deltalake's writer, which checks each
  (in DataFusion's SQL) and fails the write when one does not hold.
* **Identity columns** (``delta.identity.*``): the writer generates their values and advances
  the high-water mark. Neither the lake nor deltalake 1.6.6 does: a write that adds rows is
  refused. A compaction adds no rows and is allowed.
* **Column mapping** (``delta.columnMapping.mode`` ``name`` or ``id``): the files name
  each column by its physical name, with its column id as the Parquet field id, and the log
  keys statistics and partition values by physical name (:mod:`lake.delta.mapping`). The
  lake's own append writes its files so in mode ``name``, when the protocol declares the
  feature (writer version 5 or 6, or ``columnMapping`` among version 7's writer features).
  Every other write adding rows is refused: deltalake 1.6.6's schema merge, overwrite and
  merge were not shown to keep the mapping (its ``create_write_transaction`` wrote the field
  ids as strings, after which no reader could open the table), the lake does not read mode
  ``id``, and a mode the protocol does not declare is one readers may ignore. A compaction
  refuses it on its own.
* **Append-only** (``delta.appendOnly = true``, writer version 2 or the ``appendOnly``
  feature): no commit may change or remove data. Overwrites, replacements of rows, rewrites
  and merges are refused before anything is written; appends and compactions (files
  rearranged, ``dataChange`` false) are allowed, as the protocol says.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lake.core.errors import UnsupportedTableFeature

if TYPE_CHECKING:
    import pyarrow as pa

CONSTRAINT_PREFIX = "delta.constraints."
INVARIANTS = "delta.invariants"
GENERATION_EXPRESSION = "delta.generationExpression"
IDENTITY_PREFIX = "delta.identity."
APPEND_ONLY = "delta.appendOnly"
COLUMN_MAPPING = "delta.columnMapping.mode"
COLUMN_MAPPING_FEATURE = "columnMapping"


@dataclass(frozen=True)
class WriterRequirements:
    """What a version's protocol and metadata ask of a write (see the module docstring)."""

    checks: tuple[str, ...] = ()
    """Each requirement on added rows, named for a message (``CHECK v_pos (v > 0)``,
    ``NOT NULL id``)."""
    identity: tuple[str, ...] = ()
    """Identity columns."""
    column_mapping: str | None = None
    """The column mapping mode, when the table maps its columns (``name`` or ``id``)."""
    append_only: bool = False

    @property
    def rows_checked(self) -> bool:
        """Whether every added row must be checked (by deltalake's writer) before it is
        committed."""
        return bool(self.checks)

    def refuse_added_rows(self, table: str, doing: str = "a write adding rows") -> None:
        """Refuse ``doing`` (a write adding rows to ``table`` through deltalake's writer, e.g.
        ``an overwrite``) when the lake cannot give the rows what the table asks.

        Raises:
            UnsupportedTableFeature: the table has identity columns or maps its columns.
        """
        if self.column_mapping is not None:
            raise self.mapping_refusal(table, doing)
        if self.identity:
            raise UnsupportedTableFeature(
                f"The Delta table at {table} has the identity column "
                f"{', '.join(self.identity)}, whose values neither the lake nor deltalake can "
                "generate: write to it with an engine that supports identity columns (Spark)."
            )

    def mapping_refusal(self, table: str, doing: str) -> UnsupportedTableFeature:
        """The refusal of ``doing`` (a write adding rows, e.g. ``an overwrite``) to the
        column-mapped ``table`` when the lake's own append is not what it is."""
        return UnsupportedTableFeature(
            f"The Delta table at {table} maps its columns to other names in its files "
            f"({COLUMN_MAPPING} = {self.column_mapping}), which the lake writes only when "
            f"it appends rows of the table's own columns, so {doing} is refused: append "
            "such rows, or write with an engine that supports column mapping (Spark)."
        )

    def mapping_problem(self, writer_version: int, writer_features: Collection[str]) -> str | None:
        """Why the lake's own append cannot write files for this table's column mapping, as
        the end of a sentence starting with the table (None: it can, or nothing is mapped);
        ``writer_version`` and ``writer_features``: the table's protocol."""
        if self.column_mapping is None:
            return None
        if self.column_mapping != "name":
            return (
                f"maps its columns by {COLUMN_MAPPING} = {self.column_mapping}, which the "
                "lake does not write: write to it with an engine that supports column "
                "mapping (Spark)"
            )
        declared = writer_version in (5, 6) or (
            writer_version == 7 and COLUMN_MAPPING_FEATURE in writer_features
        )
        if not declared:
            return (
                f"sets {COLUMN_MAPPING} = name without the {COLUMN_MAPPING_FEATURE} feature "
                f"in its protocol (writer version {writer_version}), so readers may ignore "
                "the mapping and the lake cannot tell which names its files need: repair the "
                "protocol with the engine that wrote it"
            )
        return None

    def refuse_removal(self, table: str, doing: str, instead: str = "append to it instead") -> None:
        """Refuse a write that changes or removes rows of ``table`` (``doing``: what the
        write is, e.g. ``an overwrite``; ``instead``: what the user can do) when the table
        is append-only.

        Raises:
            UnsupportedTableFeature: the table is append-only.
        """
        if self.append_only:
            raise append_only_refusal(table, doing, instead)


def append_only_refusal(
    table: str, doing: str, instead: str = "append to it instead"
) -> UnsupportedTableFeature:
    """The refusal of ``doing`` (a write that changes or removes rows) on the append-only
    table ``table``, with what the user can do ``instead``: before a write, or when the
    table became append-only after the write checked it."""
    return UnsupportedTableFeature(
        f"The Delta table at {table} is append-only ({APPEND_ONLY} = true), so "
        f"{doing}, which removes rows, is refused: {instead}, or set "
        f"{APPEND_ONLY} to false with the engine that owns it."
    )


def writer_requirements(
    configuration: Mapping[str, str] | None, schema: pa.Schema
) -> WriterRequirements:
    """What a table whose metadata's configuration and schema (as Arrow, with each field's
    Delta metadata) are these asks of a write.

    A requirement counts whether or not the protocol lists its feature: a table that
    declares a constraint without the ``checkConstraints`` feature broke the protocol, and
    a row violating it would still be read wrong by an engine that honours it."""
    configuration = configuration or {}
    checks = [
        f"CHECK {key[len(CONSTRAINT_PREFIX) :]} ({value})"
        for key, value in sorted(configuration.items())
        if key.startswith(CONSTRAINT_PREFIX)
    ]
    identity: list[str] = []
    for path, field in _fields(schema):
        if not field.nullable:
            checks.append(f"NOT NULL {path}")
        if not field.metadata:
            continue
        metadata = {k.decode(): v.decode() for k, v in field.metadata.items()}
        if INVARIANTS in metadata:
            checks.append(f"invariant of {path} ({_invariant_text(metadata[INVARIANTS])})")
        if GENERATION_EXPRESSION in metadata:
            checks.append(f"{path} GENERATED AS ({metadata[GENERATION_EXPRESSION]})")
        if any(k.startswith(IDENTITY_PREFIX) for k in metadata):
            identity.append(path)
    return WriterRequirements(
        checks=tuple(checks),
        identity=tuple(identity),
        column_mapping=mapping_mode(configuration),
        append_only=append_only(configuration),
    )


def append_only(configuration: Mapping[str, str] | None) -> bool:
    """Whether a table whose metadata's configuration is this is append-only (no commit
    may change or remove data)."""
    return (configuration or {}).get(APPEND_ONLY, "").strip().lower() == "true"


def mapping_mode(configuration: Mapping[str, str] | None) -> str | None:
    """The column mapping mode a table's configuration sets (``name``, ``id``, or another
    word some engine wrote); None when it maps nothing."""
    mode = (configuration or {}).get(COLUMN_MAPPING, "none").strip().lower()
    return None if mode == "none" else mode


def _fields(schema: pa.Schema) -> Iterator[tuple[str, pa.Field]]:
    """Every field of ``schema`` and of the structs in it, by its dotted path (list elements
    and map entries are not fields a constraint or a default names)."""
    import pyarrow as pa

    def walk(path: str, field: pa.Field) -> Iterator[tuple[str, pa.Field]]:
        yield path, field
        if pa.types.is_struct(field.type):
            for i in range(field.type.num_fields):
                child = field.type.field(i)
                yield from walk(f"{path}.{child.name}", child)

    for field in schema:
        yield from walk(field.name, field)


def _invariant_text(value: str) -> str:
    """The SQL of a ``delta.invariants`` value (``{"expression": {"expression": SQL}}``)."""
    try:
        return str(json.loads(value)["expression"]["expression"])
    except (ValueError, KeyError, TypeError):
        return value


__all__ = [
    "APPEND_ONLY",
    "append_only",
    "append_only_refusal",
    "COLUMN_MAPPING",
    "COLUMN_MAPPING_FEATURE",
    "mapping_mode",
    "WriterRequirements",
    "writer_requirements",
]
