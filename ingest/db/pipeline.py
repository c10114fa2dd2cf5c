"""``lake ingest db``: a database table or query into a Delta table, in one commit per call.

The engine (:mod:`ingest.db.source`) streams the source as Arrow batches; this module decides
what to read (everything, or the rows past the table's watermark), stages the batches as local
Parquet files (so memory stays bounded whatever the table's size), runs the write protocol of
``lake.landing.commits`` and reports what happened. The table is created on first extract.

Modes:

* ``full``: the new version is exactly the source's rows (an overwrite). The version records
  rows added, removed and changed against the previous version. With ``key`` rows are matched
  by key (a row whose key exists on both sides with other values is *changed*); without a key
  whole rows are compared as a multiset (a changed row counts as one removed and one added,
  and ``rows_changed`` is not known). Both use a 64-bit DuckDB ``hash`` of each row's values,
  computed over the key and hash columns only, so the comparison holds little memory.
* ``incremental`` (needs ``cursor``): only rows with ``cursor >= watermark`` are read (the
  boundary rule is in ingest/watermark.py). With ``key`` they are merged (upsert); without,
  appended. Rows re-read at the watermark that the last run delivered unchanged are dropped
  by their fingerprints, so a night without changes makes no version (with a key, and more
  than 10,000 rows sharing the last value, the fingerprints are not kept: those rows are
  merged again next time, which the key makes harmless). The watermark is
  stored in the catalog with the commit (``prepare_commit``), so it moves only when the Delta
  commit and its catalog record succeed; a failed run repeats from the same watermark.

Schema changes at the source (ingest/schema_changes.py): added, dropped and widened columns
evolve the table and are written to the drift ledger (``lake schema TABLE --history``); a
dropped column stays in the table and holds NULL in new rows. A narrowing or other type change
stops an incremental extract with a message; a ``full`` extract replaces the table's schema
with the source's (it rewrites every row anyway) and records the change in the ledger.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from catalog.store import Catalog, SourceRef
from ingest.db.schema_changes import normal_type
from ingest.exceptions import ExtractError
from lake.core.errors import SchemaConflict
from lake.core.names import TableName
from lake.core.storage import Storage
from lake.delta.store import ROW_GROUP_ROWS, DeltaStore, Snapshot, StagedFile
from lake.landing.commits import TableRun
from lake.landing.sync import sync_table

if TYPE_CHECKING:
    import pyarrow as pa

    from ingest.db.schema_changes import Change
    from ingest.db.watermark import Watermark

KIND = "extract"
Mode = Literal["full", "incremental"]
MODES = ("full", "incremental")
# One staged file per this many rows: big enough that a 5M-row extract is a handful of files.
ROWS_PER_FILE = 1 << 21
# With a key, the boundary fingerprints only spare re-merging unchanged rows: keep at most this
# many.
MAX_KEYED_BOUNDARY = 10_000


@dataclass(frozen=True)
class ExtractReport:
    """What ``lake ingest db`` did."""

    table: str
    version: int | None
    """The new version, or None when an incremental extract found no new rows."""
    run_id: str
    mode: Mode
    rows: int
    """Rows read from the source (after dropping rows already delivered at the boundary)."""
    rows_added: int
    rows_removed: int
    rows_changed: int | None
    """None when it cannot be told (a full extract without a key)."""
    compared_by: Literal["key", "row", "merge", "none"]
    watermark: dict[str, Any] | None
    """The table's watermark after this extract (None without a cursor)."""
    previous_watermark: dict[str, Any] | None = None
    rows_skipped: int = 0
    drift: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    source: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "version": self.version,
            "run_id": self.run_id,
            "mode": self.mode,
            "rows": self.rows,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "rows_changed": self.rows_changed,
            "compared_by": self.compared_by,
            "rows_skipped": self.rows_skipped,
            "watermark": self.watermark,
            "previous_watermark": self.previous_watermark,
            "drift": list(self.drift),
            "source": dict(self.source),
            "seconds": round(self.seconds, 3),
        }


def ingest_db(
    catalog: Catalog,
    storage: Storage,
    name: TableName,
    *,
    source: str,
    table: str | None = None,
    query: str | None = None,
    mode: str = "full",
    cursor: str | None = None,
    key: Sequence[str] | None = None,
    batch_rows: int | None = None,
) -> ExtractReport:
    """Extract ``table`` or ``query`` of the database at ``source`` into lake table ``name``.

    Raises:
        ExtractError and its subclasses (ingest/exceptions.py): nothing is committed and the
            watermark does not move; the message never holds the source's password.
        SchemaConflict: an incremental extract met an incompatible source schema change.
    """
    from ingest.db.source import DEFAULT_BATCH_ROWS, open_source
    from ingest.db.watermark import Watermark

    started = time.perf_counter()
    if mode not in MODES:
        raise ExtractError(f"The extract mode must be 'full' or 'incremental', not {mode!r}.")
    if mode == "incremental" and not cursor:
        raise ExtractError(
            "An incremental extract needs --cursor COLUMN (a column that grows with every change, "
            "such as updated_at); without one use --mode full."
        )
    keys = [k for k in (key or []) if k]
    with open_source(source) as src:
        described = src.description
        # Before anything is created: a missing table or column must leave no trace in the lake.
        columns = src.schema(table=table, query=query).names
        info = catalog.find_table(name)
        since: Watermark | None = None
        previous: dict[str, Any] | None = None
        if info is not None:
            if info.kind != KIND:
                # A full extract replaces every row: never do that to a table other writers own.
                raise ExtractError(
                    f"Table {name} holds {info.kind} data, not database extracts; extract into "
                    "another table."
                )
            sync_table(catalog, DeltaStore(info.location, storage), info)
            stored = catalog.watermark(info)
            if stored is not None:
                column, value = stored
                previous = value
                if mode == "full" and cursor is None and column in columns:
                    # Keep the watermark in step with the rows a full extract lands, or the next
                    # incremental run (without a key) would append rows this one already has.
                    cursor = column
                if mode == "incremental":
                    if column != cursor and cursor in columns:  # else the engine names it
                        raise ExtractError(
                            f"The last extracts of {name} used the cursor column '{column}', not "
                            f"'{cursor}'; pass --cursor {column}, or run once with --mode full "
                            f"--cursor {cursor} to start over from a full extract."
                        )
                    since = Watermark.from_dict(value, column=column)
        extract = src.stream(
            table=table,
            query=query,
            cursor=cursor,
            since=since,
            key=keys or None,
            batch_rows=batch_rows or DEFAULT_BATCH_ROWS,
            # Fingerprint the boundary rows even with a key: a row re-read unchanged at the
            # watermark is then not merged again, and a night without changes makes no version.
            dedupe=True,
        )
        with extract:
            synced = info is not None  # an existing table was synced above, for its watermark
            info = catalog.create_table(
                name,
                kind=KIND,
                location=storage.table_uri(name.namespace, name.name),
                exist_ok=True,
            )
            store = DeltaStore(info.location, storage)
            if not synced:
                sync_table(catalog, store, info)
            current = store.snapshot() if store.exists() else None
            label = _source_label(described, table, query)
            changes = _schema_changes(current, extract.schema)
            if mode == "incremental":
                _refuse_incompatible(name, changes)
            target = _target_schema(current.schema if current else None, extract.schema)
            parameters = {
                "source": described,
                "table": table,
                "query": query,
                "mode": mode,
                "cursor": cursor,
                "key": keys,
            }
            with TableRun.start(
                catalog, store, info, kind="ingest_db", parameters=parameters
            ) as run:
                with tempfile.TemporaryDirectory(prefix="lake-extract-") as staging:
                    staged = _stage(extract, target, Path(staging))
                    watermark = extract.watermark
                    if (
                        keys
                        and watermark is not None
                        and len(watermark.boundary) > MAX_KEYED_BOUNDARY
                    ):
                        # A coarse cursor (a date): re-merging its last value's rows next time is
                        # idempotent by key and cheaper than storing a fingerprint per row.
                        watermark = Watermark(watermark.column, watermark.value, ())
                    drift = tuple(_drift_json(c, label) for c in changes)
                    report = _commit(
                        run,
                        store,
                        current,
                        staged,
                        target,
                        mode=mode,  # type: ignore[arg-type]
                        keys=keys,
                        widened=any(c.kind == "widened" for c in changes),
                        watermark=watermark,
                        since=since,
                        drift=drift,
                        source_ref=_source_ref(
                            described, table, query, mode, since, watermark, extract.rows, cursor
                        ),
                        staging=Path(staging),
                    )
    return ExtractReport(
        table=str(name),
        version=report.version,
        run_id=run.run_id,
        mode=mode,  # type: ignore[arg-type]
        rows=extract.rows,
        rows_added=report.added,
        rows_removed=report.removed,
        rows_changed=report.changed,
        compared_by=report.compared_by,  # type: ignore[arg-type]
        watermark=None if watermark is None else watermark.to_dict(),
        previous_watermark=previous,
        rows_skipped=extract.rows_skipped,
        drift=drift if report.version is not None else (),
        source={**described, "table": table, "query": query},
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------
# Committing


@dataclass(frozen=True)
class _Outcome:
    version: int | None
    added: int
    removed: int
    changed: int | None
    compared_by: str


def _commit(
    run: TableRun,
    store: DeltaStore,
    current: Snapshot | None,
    staged: _Staged,
    target: pa.Schema,
    *,
    mode: Mode,
    keys: Sequence[str],
    widened: bool,
    watermark: Watermark | None,
    since: Watermark | None,
    drift: tuple[dict[str, Any], ...],
    source_ref: SourceRef,
    staging: Path,
) -> _Outcome:
    files = [StagedFile(path=p) for p in staged.paths]
    base: dict[str, Any] = {"drift": list(drift)}
    if watermark is not None:
        base["watermark"] = {"cursor": watermark.column, "value": watermark.to_dict()}

    if mode == "full":
        if current is None:
            added, removed, changed, by = staged.rows, 0, 0, ("key" if keys else "row")
        else:
            added, removed, changed, by = _compare(
                store, current, staged.paths, target, keys, staging
            )
        run.catalog.add_inputs(run.run_id, [source_ref])
        run.prepare(
            outcome={**base, "rows_added": added, "rows_removed": removed, "rows_changed": changed}
        )
        version = run.replace_staged(
            files,
            schema=target,
            operation="EXTRACT OVERWRITE",
            base_version=current.version if current else None,
        )
        return _Outcome(version.version, added, removed, changed, by)

    if staged.rows == 0:
        return _Outcome(None, 0, 0, 0, "none")  # nothing new: no commit, the watermark stays
    run.catalog.add_inputs(run.run_id, [source_ref])
    if current is None:
        run.prepare(
            outcome={**base, "rows_added": staged.rows, "rows_removed": 0, "rows_changed": 0}
        )
        version = run.commit_staged(files, schema=target, operation="EXTRACT APPEND")
        return _Outcome(version.version, staged.rows, 0, 0, "merge" if keys else "none")
    if widened:
        # The table's files hold the narrower type: rewrite them with the new rows, in one commit.
        rewritten, added, changed = _rewrite(store, current, staged, target, keys, staging)
        run.prepare(
            outcome={**base, "rows_added": added, "rows_removed": 0, "rows_changed": changed}
        )
        version = run.replace_staged(
            [StagedFile(path=p) for p in rewritten],
            schema=target,
            operation="EXTRACT WIDEN",
            base_version=current.version,
        )
        return _Outcome(version.version, added, 0, changed, "merge" if keys else "none")
    if not keys:
        run.prepare(
            outcome={**base, "rows_added": staged.rows, "rows_removed": 0, "rows_changed": 0}
        )
        version = run.commit_staged(files, schema=target, operation="EXTRACT APPEND")
        return _Outcome(version.version, staged.rows, 0, 0, "none")

    import pyarrow.parquet as pq

    # An increment is the rows past the watermark: held in memory for the merge (delta-rs
    # merges an in-memory table, and a retry must be able to re-read it).
    increment = (
        pq.read_table([str(p) for p in staged.paths], schema=target) if staged.paths else None
    )
    assert increment is not None
    run.prepare(outcome={**base, "rows_added": staged.rows, "rows_removed": 0})
    counts: dict[str, int] = {}

    def outcome_of(metrics: Mapping[str, object]) -> Mapping[str, Any]:
        counts["added"] = int(metrics.get("num_target_rows_inserted") or 0)  # type: ignore[call-overload]
        counts["changed"] = int(metrics.get("num_target_rows_updated") or 0)  # type: ignore[call-overload]
        return {
            **base,
            "rows_added": counts["added"],
            "rows_removed": 0,
            "rows_changed": counts["changed"],
        }

    version, _ = run.merge(increment, keys=keys, operation="EXTRACT MERGE", outcome=outcome_of)
    return _Outcome(version.version, counts.get("added", 0), 0, counts.get("changed"), "merge")


# --------------------------------------------------------------------------------------------
# Staging


@dataclass(frozen=True)
class _Staged:
    paths: tuple[Path, ...]
    rows: int


def _stage(batches: Iterator[pa.RecordBatch], schema: pa.Schema, folder: Path) -> _Staged:
    """Write batches to Parquet files in ``folder`` (the lake's encodings, a row group a batch)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lake.delta.encoding import writer_options

    paths: list[Path] = []
    writer: pq.ParquetWriter | None = None
    in_file = 0
    rows = 0
    try:
        for batch in batches:
            batch = _conform(batch, schema)
            if writer is None or in_file >= ROWS_PER_FILE:
                if writer is not None:
                    writer.close()
                paths.append(folder / f"part-{len(paths):05d}.parquet")
                writer = pq.ParquetWriter(
                    paths[-1], schema, **writer_options(pa.Table.from_batches([batch]))
                )
                in_file = 0
            writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
            in_file += batch.num_rows
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    return _Staged(tuple(paths), rows)


def _conform(batch: pa.RecordBatch, schema: pa.Schema, *, lenient: bool = False) -> pa.RecordBatch:
    """``batch`` with ``schema``'s columns: cast where the table is wider, NULL where absent.

    ``lenient``, for old rows being compared: a column whose old values cannot be cast (an
    incompatible type change) reads as NULL, so every such row compares as changed.
    """
    import pyarrow as pa

    if batch.schema.equals(schema):
        return batch
    columns = []
    for f in schema:
        i = batch.schema.get_field_index(f.name)
        if i < 0:
            columns.append(pa.nulls(batch.num_rows, f.type))
            continue
        column = batch.column(i)
        try:
            columns.append(column if column.type.equals(f.type) else column.cast(f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            if not lenient:
                raise
            columns.append(pa.nulls(batch.num_rows, f.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _version_batches(
    store: DeltaStore, snapshot: Snapshot, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """The rows of one table version, as batches conformed to ``schema``."""
    for batch in store.scan(snapshot):
        yield _conform(_plain(batch), schema, lenient=True)


def _staged_batches(paths: Sequence[Path], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS):
            yield _conform(batch, schema)


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Files rewritten by delta-rs declare view types (FACTS): read them as plain ones."""
    import pyarrow as pa

    fields = [pa.field(f.name, normal_type(f.type)) for f in batch.schema]
    if all(a.type.equals(b.type) for a, b in zip(fields, batch.schema, strict=True)):
        return batch
    return pa.RecordBatch.from_arrays(
        [c.cast(f.type) for c, f in zip(batch.columns, fields, strict=True)],
        schema=pa.schema(fields),
    )


# --------------------------------------------------------------------------------------------
# Comparing and rewriting versions


def _duck(staging: Path):  # noqa: ANN202
    import duckdb

    con = duckdb.connect(
        config={
            "threads": 2,
            "memory_limit": "256MB",  # it spills to the staging folder beyond that
            "temp_directory": str(staging / "duckdb-spill"),
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
        }
    )
    con.execute("SET enable_progress_bar = false")
    return con


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _hashed(
    con: Any, table: str, batches: Iterator[pa.RecordBatch], schema: pa.Schema, keys: Sequence[str]
) -> None:
    """Materialize (key columns, hash of the whole row) of ``batches`` as DuckDB table ``table``."""
    import pyarrow as pa

    reader = pa.RecordBatchReader.from_batches(schema, batches)
    con.register(f"{table}_src", reader)
    columns = ", ".join(_ident(f.name) for f in schema)
    key_list = "".join(f"{_ident(k)}, " for k in keys)
    con.execute(
        f"CREATE TABLE {table} AS SELECT {key_list}hash({columns}) AS lake_h FROM {table}_src"
    )
    con.unregister(f"{table}_src")


def _compare(
    store: DeltaStore,
    previous: Snapshot,
    staged: Sequence[Path],
    schema: pa.Schema,
    keys: Sequence[str],
    staging: Path,
) -> tuple[int, int, int | None, str]:
    """(added, removed, changed, "key" | "row") of the staged rows against ``previous``."""
    import duckdb

    con = _duck(staging)
    try:
        _hashed(con, "old", _version_batches(store, previous, schema), schema, keys)
        _hashed(con, "new", _staged_batches(staged, schema), schema, keys)
        if keys:
            using = ", ".join(_ident(k) for k in keys)
            # One outer join (one hash table) answers all three counts.
            added, removed, changed = con.execute(
                "SELECT count(*) FILTER (WHERE o.lake_h IS NULL),"
                " count(*) FILTER (WHERE w.lake_h IS NULL),"
                " count(*) FILTER (WHERE w.lake_h <> o.lake_h)"
                f" FROM new AS w FULL JOIN old AS o USING ({using})"
            ).fetchone()
            return int(added), int(removed), int(changed), "key"
        added, removed = con.execute(
            "WITH o AS (SELECT lake_h, count(*) AS n FROM old GROUP BY lake_h),"
            " w AS (SELECT lake_h, count(*) AS n FROM new GROUP BY lake_h)"
            " SELECT coalesce(sum(greatest(coalesce(w.n, 0) - coalesce(o.n, 0), 0)), 0),"
            " coalesce(sum(greatest(coalesce(o.n, 0) - coalesce(w.n, 0), 0)), 0)"
            " FROM o FULL JOIN w USING (lake_h)"
        ).fetchone()
        return int(added), int(removed), None, "row"
    except duckdb.Error as error:
        raise ExtractError(
            f"Comparing the extract with version {previous.version} of {store.uri} failed "
            f"({str(error).splitlines()[0][:200]}); nothing was committed, run the extract again."
        ) from None
    finally:
        con.close()


def _rewrite(
    store: DeltaStore,
    current: Snapshot,
    staged: _Staged,
    schema: pa.Schema,
    keys: Sequence[str],
    staging: Path,
) -> tuple[list[Path], int, int]:
    """The table's rows in the widened ``schema`` with the increment applied (merged by key, or
    appended), staged as new files: (files, rows added, rows changed)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = staging / "rewrite"
    folder.mkdir()
    incoming = None
    replaced = 0
    if keys:
        incoming = pq.read_table([str(p) for p in staged.paths], columns=list(keys), schema=schema)

    def old_rows() -> Iterator[pa.RecordBatch]:
        nonlocal replaced
        for batch in _version_batches(store, current, schema):
            if incoming is None:
                yield batch
                continue
            index = pa.table([*(batch.column(k) for k in keys),
                              pa.array(range(batch.num_rows), pa.int64())],
                             names=[*keys, "lake_row"])  # fmt: skip
            kept = index.join(incoming, keys=list(keys), join_type="left anti")[
                "lake_row"
            ].combine_chunks()
            replaced += batch.num_rows - len(kept)
            yield (
                batch.take(pc.take(kept, pc.sort_indices(kept)))
                if len(kept) < batch.num_rows
                else batch
            )

    def both() -> Iterator[pa.RecordBatch]:
        yield from old_rows()
        yield from _staged_batches(staged.paths, schema)

    result = _stage(both(), schema, folder)
    return list(result.paths), staged.rows - replaced, replaced


# --------------------------------------------------------------------------------------------
# Schemas


def _schema_changes(current: Snapshot | None, new: pa.Schema) -> list[Change]:
    from ingest.db.schema_changes import compare_schemas

    return [] if current is None else compare_schemas(current.schema, new)


def _refuse_incompatible(name: TableName, changes: Sequence[Change]) -> None:
    bad = [c for c in changes if not c.compatible]
    if bad:
        raise SchemaConflict(
            f"{bad[0].message.rstrip('.')} (table {name}); or rebuild {name} from the source with "
            f"--mode full, which replaces the table's schema in a new version."
        )


def _target_schema(old: pa.Schema | None, new: pa.Schema) -> pa.Schema:
    """The table's schema after this extract: its columns in their order (with the source's
    type where it changed), columns the source dropped kept, new columns appended."""
    import pyarrow as pa

    if old is None:
        return new
    by_name = {f.name: f for f in new}
    fields = [by_name.get(f.name) or pa.field(f.name, normal_type(f.type)) for f in old]
    fields += [f for f in new if f.name not in set(old.names)]
    return pa.schema(fields)


def _drift_json(change: Change, source: str) -> dict[str, Any]:
    return {
        "column": change.column,
        "change": change.kind,
        "old_type": None if change.old_type is None else str(change.old_type),
        "new_type": None if change.new_type is None else str(change.new_type),
        "source": source,
        "line": None,
        "detail": change.message,
    }


# --------------------------------------------------------------------------------------------
# The source, for the catalog


def _namespace(described: Mapping[str, Any]) -> str:
    if described.get("dialect") == "sqlite":
        return f"sqlite://{described.get('database') or ''}"
    return (
        f"{described.get('dialect')}://{described.get('host') or 'localhost'}:"
        f"{described.get('port')}/{described.get('database') or ''}"
    )


def _source_label(described: Mapping[str, Any], table: str | None, query: str | None) -> str:
    return f"{_namespace(described)} {'table ' + table if table else 'query'}"


def _source_ref(
    described: Mapping[str, Any],
    table: str | None,
    query: str | None,
    mode: str,
    since: Watermark | None,
    watermark: Watermark | None,
    rows: int,
    cursor: str | None,
) -> SourceRef:
    """The source as read by this run: one dataset version per extract, named by its watermark
    range (or its extraction time, for a full extract without a cursor)."""
    low = None if since is None else since.to_dict()["value"]
    high = None if watermark is None else watermark.to_dict()["value"]
    if cursor is not None:
        # Inclusive at both ends: an incremental run re-reads the old watermark's value.
        version = f"{cursor} up to {high}" if low is None else f"{cursor} from {low} to {high}"
    else:
        version = f"full at {dt.datetime.now(dt.UTC).isoformat()}"
    return SourceRef(
        kind="database",
        namespace=_namespace(described),
        name=table if table is not None else (query or ""),
        version=version,
        facets={
            **{k: v for k, v in described.items()},
            "table": table,
            "query": query,
            "mode": mode,
            "cursor": cursor,
            "watermark_from": low,
            "watermark_to": high,
            "rows": rows,
            "extracted_at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )
