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
  and ``rows_changed`` is not known). Both compare exact values by the rule the incremental
  merge counts by (:func:`_differs`), never a hash (DuckDB's ``hash`` holds -0.0 = 0.0 and
  gives NULL, '{}' and '{NULL}' one value).
  When nothing would change (the rows, the table's column types, the watermark), no version
  is written, as an incremental extract writes none: the run ends completed, saying the
  table is unchanged at its version (``unchanged_at``).
* ``incremental`` (needs ``cursor``): only rows with ``cursor >= watermark`` are read (the
  boundary rule is in ingest/watermark.py). With ``key`` they are merged (upsert); without,
  appended. Rows re-read at the watermark that the last run delivered unchanged are dropped
  by their fingerprints, so a night without changes makes no version (with a key, and more
  than 10,000 rows sharing the last value, the fingerprints are not kept: those rows are
  merged again next time, which the key makes harmless; only those whose values differ
  exactly count as changed, and when none differs and none is new there is no version).
  The watermark is
  stored in the catalog with the commit (``prepare_commit``), so it moves only when the Delta
  commit and its catalog record succeed; a failed run repeats from the same watermark.

Schema changes at the source (ingest/schema_changes.py): added, dropped and widened columns
evolve the table and are written to the drift ledger (``lake schema TABLE --history``); a
dropped column stays in the table and holds NULL in new rows. A narrowing or other type change
stops an incremental extract with a message; a ``full`` extract replaces the table's schema
with the source's (it rewrites every row anyway) and records the change in the ledger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from catalog.catalog import Catalog
from catalog.edges import SourceRef
from ingest.exceptions import ExtractError, KeyEqualOnlyInSource
from lake.core import duckdb as lake_duckdb
from lake.core.names import TableName
from lake.core.storage import Storage
from lake.delta.evolution import Change, conform, plan
from lake.delta.snapshot import Snapshot
from lake.delta.store import DeltaStore
from lake.landing.commits import Counts, TableRun
from lake.landing.staging import Staged, StagingFolder, read_staged, stage_batches
from lake.landing.sync import sync_table

if TYPE_CHECKING:
    import pyarrow as pa

    from ingest.db.watermark import Watermark

KIND = "extract"
Mode = Literal["full", "incremental"]
MODES = ("full", "incremental")
# With a key, the boundary fingerprints only spare re-merging unchanged rows: keep at most this
# many.
MAX_KEYED_BOUNDARY = 10_000


@dataclass(frozen=True)
class ExtractReport:
    """What ``lake ingest db`` did."""

    table: str
    version: int | None
    """The new version, or None when the run wrote none (see ``unchanged_at``)."""
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
    unchanged_at: int | None = None
    """The version the table stays at when the run found nothing to change: no row, no
    column type, no watermark (None when it wrote a version, or the table has none)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "version": self.version,
            "unchanged_at": self.unchanged_at,
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
        stored_mark: dict[str, Any] | None = None
        if info is not None:
            if info.kind != KIND:
                # A full extract replaces every row: never do that to a table other writers own.
                raise ExtractError(
                    f"Table {name} holds {info.kind} data, not database extracts; extract into "
                    "another table."
                )
            sync_table(catalog, DeltaStore(info.location, storage, name=str(info.name)), info)
            stored = catalog.watermark(info)
            if stored is not None:
                column, value = stored
                previous = value
                stored_mark = {"cursor": column, "value": value}
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
        # Keys the source compares without case, accents or trailing spaces: a merge must not
        # take a key renamed only so ('a' -> 'A') for a new row.
        blind = (
            src.blind_keys(table=table, query=query, key=keys)
            if mode == "incremental" and keys and info is not None
            else {}
        )
        parameters = {
            "source": described,
            "table": table,
            "query": query,
            "mode": mode,
            "cursor": cursor,
            "key": keys,
        }
        with extract:
            synced = info is not None  # an existing table was synced above, for its watermark
            # One transaction makes the table (on the first extract) and starts the run, as
            # the other writers' first one does.
            with TableRun.begin(
                catalog, storage, name, table_kind=KIND, kind="ingest_db", parameters=parameters
            ) as run:
                store = run.store
                if not synced:
                    sync_table(catalog, store, run.table, reap=False)  # the run's start reaped
                current = store.snapshot() if store.exists() else None
                label = _source_label(described, table, query)
                # Full extracts replace every row, so the source's types win; incremental ones
                # keep the table's rows and may only widen them losslessly.
                evolution = plan(
                    current.schema if current is not None else None,
                    extract.schema,
                    "replace" if mode == "full" else "lossless",
                    where=f"table {name}",
                    hint=(
                        f"cast it to the old type in a --query, or rebuild {name} from the "
                        "source with --mode full, which replaces the table's schema in a new "
                        "version"
                    ),
                )
                with StagingFolder("lake-extract-") as staging:
                    staged = stage_batches(extract, evolution.schema, staging)
                    watermark = extract.watermark
                    if (
                        keys
                        and watermark is not None
                        and len(watermark.boundary) > MAX_KEYED_BOUNDARY
                    ):
                        # A coarse cursor (a date): re-merging its last value's rows next time is
                        # idempotent by key and cheaper than storing a fingerprint per row.
                        watermark = Watermark(watermark.column, watermark.value)
                    drift = tuple(_drift_json(c, label) for c in evolution.changes)
                    # A column the table keeps but the source no longer has changes the
                    # table's schema only the first time (its new rows hold NULL): its rows
                    # then differ, unless they held NULL already.
                    reshaped = any(c.kind != "dropped" for c in evolution.changes)
                    report = _commit(
                        run,
                        store,
                        current,
                        staged,
                        mode=mode,  # type: ignore[arg-type]
                        keys=keys,
                        watermark=watermark,
                        drift=drift,
                        source_ref=_source_ref(
                            described, table, query, mode, since, watermark, extract.rows, cursor
                        ),
                        staging=staging,
                        read_from=None if since is None else {"cursor": cursor, "value": previous},
                        reshaped=reshaped,
                        stored_mark=stored_mark,
                        blind=_BlindKeys(str(name), blind, src.same_in_source),
                    )
                    if report.version is None and current is not None:
                        run.unchanged(current.version)
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
        unchanged_at=None if report.version is not None or current is None else current.version,
    )


# --------------------------------------------------------------------------------------------
# Committing


@dataclass(frozen=True)
class _BlindKeys:
    """The key columns the source compares otherwise than by bytes (column -> the name of its
    comparison, ``Source.blind_keys``), and the source's own answer to "are these equal"."""

    table: str
    comparisons: Mapping[str, str]
    same: Callable[[str, Sequence[tuple[str, str]]], list[bool]]


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
    staged: Staged,
    *,
    mode: Mode,
    keys: Sequence[str],
    watermark: Watermark | None,
    drift: tuple[dict[str, Any], ...],
    source_ref: SourceRef,
    staging: Path,
    read_from: Mapping[str, Any] | None = None,
    reshaped: bool = False,
    stored_mark: Mapping[str, Any] | None = None,
    blind: _BlindKeys | None = None,
) -> _Outcome:
    """Land the staged rows as the table's next version, or none when nothing would change:
    the rows are the table's (by :func:`_differs`), no column is added or retyped
    (``reshaped``) and the watermark stays as stored (``stored_mark``)."""
    base: dict[str, Any] = {"drift": list(drift)}
    if watermark is not None:
        base["watermark"] = {"cursor": watermark.column, "value": watermark.to_dict()}
    # A watermark is stored only with a version (catalog.ledger.advance_watermark): a new one
    # (another cursor, a fingerprint format read more exactly) is a change to commit.
    same_mark = watermark is None or base["watermark"] == stored_mark

    if mode == "full":
        if current is None:
            added, removed, changed, by = staged.rows, 0, 0, ("key" if keys else "row")
        else:
            added, removed, changed, by = _compare(store, current, staged, keys, staging)
            if added == removed == (changed or 0) == 0 and not reshaped and same_mark:
                return _Outcome(None, 0, 0, changed, by)
        # The source is recorded with the prepared outcome, in its transaction.
        landed = run.land(
            staged,
            policy="replace",
            mode="overwrite",
            operation="EXTRACT OVERWRITE",
            base=current,
            inputs=[source_ref],
            outcome={**base, "rows_added": added, "rows_removed": removed, "rows_changed": changed},
        )
        return _Outcome(landed.version.version, added, removed, changed, by)

    if staged.rows == 0 and not reshaped:
        return _Outcome(None, 0, 0, 0, "none")  # nothing new: no commit, the watermark stays
    # No rows and a new column or type: an append of none carries the schema change.
    merged = bool(keys) and current is not None and staged.rows > 0
    exact: tuple[int, int] | None = None
    if merged:
        assert current is not None
        # deltalake counts every matched row as updated, and rows re-read at a coarse
        # watermark are matched on every run: count only those whose values differ.
        exact = _merge_counts(store, current, staged, keys, staging, blind=blind)
        previous_value = (read_from or {}).get("value") or {}
        if (
            exact == (0, 0)
            and not reshaped
            and watermark is not None
            and previous_value.get("value") == watermark.to_dict().get("value")
        ):
            # Every row read is already in the table as it is: as with a night whose
            # boundary rows are fingerprinted, no version, and the watermark stays.
            return _Outcome(None, 0, 0, 0, "merge")
    if not merged:
        # Appended rows are not idempotent: the rows past the watermark this extract read
        # from are claimed at the prepare, so two extracts from it at once cannot both
        # append them (catalog.ledger.claim_watermark). A merge by key is idempotent.
        base["watermark_from"] = read_from

    def outcome(counts: Counts) -> Mapping[str, Any]:
        if exact is not None:
            # The merge still rewrites every matched row, so values stay exact (-0.0 is
            # not kept as a stored 0.0); only the count is of the rows that differ.
            added, changed = exact
            if counts.metrics:
                added = int(counts.metrics.get("num_target_rows_inserted") or 0)  # type: ignore[call-overload]
        elif counts.metrics:
            added = int(counts.metrics.get("num_target_rows_inserted") or 0)  # type: ignore[call-overload]
            changed: int | None = int(counts.metrics.get("num_target_rows_updated") or 0)  # type: ignore[call-overload]
        elif counts.rows_replaced is None:  # a merge by deltalake, not done yet
            return {**base, "rows_added": counts.rows, "rows_removed": 0}
        else:
            added, changed = counts.rows - counts.rows_replaced, counts.rows_replaced
        return {**base, "rows_added": added, "rows_removed": 0, "rows_changed": changed}

    landed = run.land(
        staged,
        policy="lossless",
        mode="merge" if merged else "append",
        keys=keys,
        operation="EXTRACT MERGE" if merged else "EXTRACT APPEND",
        base=current,
        outcome=outcome,
        inputs=[source_ref],
    )
    final = outcome(landed.counts)
    by = "merge" if keys else "none"
    return _Outcome(landed.version.version, final["rows_added"], 0, final.get("rows_changed"), by)


# --------------------------------------------------------------------------------------------
# Reading versions


def _version_batches(
    store: DeltaStore, snapshot: Snapshot, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """The rows of one table version, as batches conformed to ``schema``; a column whose old
    values cannot be cast (an incompatible type change) reads as NULL, so every such row
    compares as changed."""
    for batch in store.scan(snapshot):
        yield conform(batch, schema, lenient=True)


# --------------------------------------------------------------------------------------------
# Comparing and rewriting versions


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parts(column: str, type_: pa.DataType, side: str) -> list[str]:
    """DuckDB expressions of ``side``'s ``column`` that are all not distinct between two rows
    exactly when the rows hold the same value: the one rule for "a value changed".

    DuckDB holds -0.0 = 0.0 (and NaN = NaN, which is kept: an unchanged NaN is unchanged), so
    a float is also told by the sign of a zero; a nested value also by its text (DuckDB writes
    -0.0 inside a list as such). Equal values of one type are otherwise the same bytes: every
    column of an extract has one Arrow type on both sides (ingest/db/types.py), and strings
    and binaries compare byte for byte."""
    import pyarrow as pa

    c = f"{side}.{_ident(column)}"
    if pa.types.is_floating(type_):
        return [c, f"CASE WHEN {c} = 0 THEN signbit({c}) END"]
    if pa.types.is_nested(type_):
        return [c, f"CAST({c} AS VARCHAR)"]
    return [c]


def _differs(column: str, type_: pa.DataType) -> str:
    """A DuckDB condition: ``w.column`` and ``o.column`` hold different values (:func:`_parts`)."""
    pairs = zip(_parts(column, type_, "w"), _parts(column, type_, "o"), strict=True)
    return "(" + " OR ".join(f"{w} IS DISTINCT FROM {o}" for w, o in pairs) + ")"


def _compare(
    store: DeltaStore,
    previous: Snapshot,
    staged: Staged,
    keys: Sequence[str],
    staging: Path,
) -> tuple[int, int, int | None, str]:
    """(added, removed, changed, "key" | "row") of the staged rows against ``previous``, by the
    exact rule of :func:`_differs`: with ``keys``, rows matched by key whose values differ are
    changed; without, whole rows are compared as multisets (a changed row is one removed and
    one added). Each side is scanned once, as it is read; DuckDB spills what does not fit."""
    import pyarrow as pa

    from lake.core.duckdb import arrow_view

    schema = staged.schema
    new = pa.RecordBatchReader.from_batches(schema, read_staged(staged, schema))
    old = pa.RecordBatchReader.from_batches(schema, _version_batches(store, previous, schema))
    with (
        _comparing(store, previous, staging) as con,
        arrow_view(con, "new_src", new),
        arrow_view(con, "old_src", old),
    ):
        if keys:
            using = ", ".join(_ident(k) for k in keys)
            # Keys too: a join matches a float key 0.0 with -0.0.
            differs = " OR ".join(_differs(f.name, f.type) for f in schema)
            # The extract's keys are never NULL (KeyChecker); an old row's may be (the key
            # column was added since): it matches nothing and counts as removed.
            here, there = f"w.{_ident(keys[0])} IS NOT NULL", f"o.{_ident(keys[0])} IS NOT NULL"
            added, removed, changed, pairs = con.execute(
                f"SELECT count(*) FILTER (WHERE {here} AND NOT {there}),"
                f" count(*) FILTER (WHERE NOT {here}),"
                f" count(*) FILTER (WHERE {here} AND {there} AND ({differs})),"
                f" count(*) FILTER (WHERE {here} AND {there})"
                f" FROM new_src AS w FULL JOIN old_src AS o USING ({using})"
            ).fetchone()
            # A key the table holds twice (rows appended without a key before): every match
            # past one per extracted row is a row the extract removes.
            removed += int(pairs) - (staged.rows - int(added))
            return int(added), int(removed), int(changed), "key"
        # Rows as multisets: each distinct row's count in the extract less its count before.
        parts = [p for f in schema for p in _parts(f.name, f.type, "t")]
        columns = ", ".join(f"{p} AS p{i}" for i, p in enumerate(parts))
        added, removed = con.execute(
            "WITH d AS (SELECT sum(n) AS n FROM ("
            f" SELECT {columns}, 1 AS n FROM new_src AS t"
            f" UNION ALL SELECT {columns}, -1 AS n FROM old_src AS t"
            f") GROUP BY {', '.join(f'p{i}' for i in range(len(parts)))})"
            " SELECT coalesce(sum(n) FILTER (WHERE n > 0), 0),"
            " coalesce(-sum(n) FILTER (WHERE n < 0), 0) FROM d"
        ).fetchone()
        return int(added), int(removed), None, "row"


@contextlib.contextmanager
def _comparing(store: DeltaStore, previous: Snapshot, staging: Path) -> Iterator[Any]:
    """A DuckDB database to compare an extract with ``previous`` in (256 MB of memory, then
    it spills to the staging folder); its errors become one :class:`ExtractError`."""
    import duckdb

    con = lake_duckdb.connect(
        threads=2, memory_limit="256MB", temp_directory=staging / "duckdb-spill"
    )
    try:
        yield con
    except duckdb.Error as error:
        raise ExtractError(
            f"Comparing the extract with version {previous.version} of {store.uri} failed "
            f"({str(error).splitlines()[0][:200]}); nothing was committed, run the extract again."
        ) from None
    finally:
        con.close()


def _merge_counts(
    store: DeltaStore,
    previous: Snapshot,
    staged: Staged,
    keys: Sequence[str],
    staging: Path,
    *,
    blind: _BlindKeys | None = None,
) -> tuple[int, int]:
    """(added, changed) of a merge of the staged rows by ``keys`` into ``previous``: rows
    whose key the table lacks, and rows whose key it has with values that differ exactly.

    Raises:
        KeyEqualOnlyInSource: an extracted key equals a stored one only as the source
            compares them (``blind``), which the merge by bytes would keep as two rows.
    """
    import pyarrow as pa

    from lake.core.duckdb import arrow_view

    folded = blind.comparisons if blind is not None else {}

    def fold(side: str, k: str) -> str:
        # Wider than any of the sources' comparisons that matter here (case, accents,
        # trailing spaces, a letter that is two: see _FOLD_LETTERS): the candidates it finds
        # are put to the source itself.
        c = f"{side}.{_ident(k)}"
        return _fold_sql(f"strip_accents(lower(rtrim({c}, ' ')))") if k in folded else c

    with _comparing(store, previous, staging) as con:
        schema = staged.schema
        using = ", ".join(_ident(k) for k in keys)
        new = pa.RecordBatchReader.from_batches(schema, read_staged(staged, schema))
        with arrow_view(con, "new_src", new):
            con.execute("CREATE TABLE new AS SELECT * FROM new_src")
        old = pa.RecordBatchReader.from_batches(schema, _version_batches(store, previous, schema))
        near = " AND ".join(f"{fold('o', k)} = {fold('w', k)}" for k in keys)
        with arrow_view(con, "old_src", old):
            con.execute(
                f"CREATE TABLE old AS SELECT * FROM old_src AS o SEMI JOIN new AS w ON {near}"
            )
        if blind is not None and folded:
            _refuse_keys_equal_only_in_source(con, keys, blind, near)
        differs = " OR ".join(_differs(f.name, f.type) for f in schema)  # keys: see _compare
        matched = f"o.{_ident(keys[0])} IS NOT NULL"  # a NULL key matches nothing
        added, changed = con.execute(
            f"SELECT count(*) FILTER (WHERE NOT ({matched})),"
            f" count(*) FILTER (WHERE {matched} AND ({differs}))"
            f" FROM new AS w LEFT JOIN old AS o USING ({using})"
        ).fetchone()
        return int(added), int(changed)


_FOLD_LETTERS = (
    ("ß", "ss"),
    ("æ", "ae"),
    ("œ", "oe"),
    ("ĳ", "ij"),
    ("þ", "th"),
    ("ﬀ", "ff"),
    ("ﬁ", "fi"),
    ("ﬂ", "fl"),
    ("ﬃ", "ffi"),
    ("ﬄ", "ffl"),
    ("ﬅ", "st"),
    ("ﬆ", "st"),
    ("ø", "o"),
    ("ł", "l"),
    ("đ", "d"),
    ("ħ", "h"),
    ("ı", "i"),
    *((chr(0xFF10 + i), chr(0x30 + i)) for i in range(10)),  # fullwidth digits
    *((chr(0xFF41 + i), chr(0x61 + i)) for i in range(26)),  # fullwidth letters
)
"""Letters a Unicode collation (MySQL's _unicode_ci and _0900_ai_ci, an ICU collation of
Postgres) holds equal to others that lowercasing and stripping accents leave apart: 'ß' is
'ss', 'æ' 'ae', a fullwidth 'Ａ' 'a'; a stroke is an accent there ('ø', 'ł'). Folding more
than a source does only puts more candidate pairs to it."""


def _fold_sql(expression: str) -> str:
    """``expression`` (lowercased, accents stripped) with :data:`_FOLD_LETTERS` replaced."""
    single = [(a, b) for a, b in _FOLD_LETTERS if len(b) == 1]
    folded = (
        f"translate({expression}, '{''.join(a for a, _ in single)}', "
        f"'{''.join(b for _, b in single)}')"
    )
    for a, b in _FOLD_LETTERS:
        if len(b) > 1:
            folded = f"replace({folded}, '{a}', '{b}')"
    return folded


def _refuse_keys_equal_only_in_source(
    con: Any, keys: Sequence[str], blind: _BlindKeys, near: str
) -> None:
    """Raise :class:`KeyEqualOnlyInSource` when an extracted key (table ``new``) and a stored
    one (``old``) differ in bytes and the source holds them equal."""
    bytes_differ = " OR ".join(f"w.{_ident(k)} <> o.{_ident(k)}" for k in keys)
    columns = ", ".join(f"w.{_ident(k)}, o.{_ident(k)}" for k in keys)
    candidates = con.execute(
        f"SELECT {columns} FROM new AS w JOIN old AS o ON {near} WHERE {bytes_differ}"
    ).fetchall()
    # Each blind column's differing pairs, put to the source once each.
    same: dict[tuple[str, object, object], bool] = {}
    for k, comparison in blind.comparisons.items():
        i = keys.index(k)
        asked = sorted({(r[2 * i], r[2 * i + 1]) for r in candidates if r[2 * i] != r[2 * i + 1]})
        answers = blind.same(comparison, asked) if asked else []
        same.update({(k, w, o): a for (w, o), a in zip(asked, answers, strict=True)})
    examples: list[tuple[object, object]] = []
    for row in candidates:
        pairs = zip(keys, row[0::2], row[1::2], strict=True)
        if all(w == o or same.get((k, w, o), False) for k, w, o in pairs):
            new_key = row[0] if len(keys) == 1 else tuple(row[0::2])
            old_key = row[1] if len(keys) == 1 else tuple(row[1::2])
            examples.append((new_key, old_key))
            if len(examples) == 3:
                break
    if examples:
        raise KeyEqualOnlyInSource(
            table=blind.table,
            key=list(keys),
            comparisons=sorted(set(blind.comparisons.values())),
            examples=examples,
        )


def _drift_json(change: Change, source: str) -> dict[str, Any]:
    return {
        "column": change.column,
        "change": change.kind,
        "old_type": change.old_type,
        "new_type": change.new_type,
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
