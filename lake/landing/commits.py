"""The one landing path: how every write reaches a table and the catalog.

    with TableRun.begin(catalog, storage, name, table_kind="logs", kind="ingest_logs",
                        parameters=..., ingested=[...]) as run:
        sync_table(catalog, run.store, run.table, reap=False)  # commits of dead writers
        landed = run.land(staged, policy="logs", operation="INGEST LOGS",
                          outcome={"rows_added": n}, ledger=[...])

Every writer (log ingest, database extracts, ``write_table``, ``optimize``, the rewrite of
a table whose column types change) goes through :meth:`TableRun.land` (or
:meth:`TableRun.compact`), which runs the same four steps:

1. **Stage**: the data as local Parquet files (the stages stage their own rows; Arrow data
   is staged here, :mod:`lake.landing.staging`).
2. **Conform** to the table's schema under the writer's named policy
   (:mod:`lake.delta.evolution`): columns added, types widened by the rules, or the write
   refused with one sentence before anything is committed.
3. **Commit** one Delta version: an append, an overwrite, a merge by key, or, when a
   column's stored type changes, a rewrite of the table's rows in the new types together
   with the new rows (the same commit). The table format adds any protocol feature the
   schema needs (``timestampNtz``).
4. **Record** the version in the catalog, with what the run prepared.

The prepare also claims what the commit takes from its sources (``catalog.ledger``): a log
ingest's file ranges, an appending extract's rows past the watermark. Of two writers that
planned on the same ledger and take the same, exactly one commits; the other is refused
(``FileBeingIngested``, ``WatermarkTaken``) before its commit, and run again it skips what
the first took. Claims of runs that ended without recording a commit are let go once the
table's log was read for their commits (:meth:`TableRun.prepare`).

A small append makes three catalog transactions (two when it prepares nothing): the
writer's first (:meth:`TableRun.begin`: the table, the file ranges it ingested before, the
run started), the prepare, and the record. What the commit will mean (row counts, drift,
ledger entries, the watermark) is prepared in the catalog *before* the Delta commit; if the
process dies between the commit and its record, ``lake.landing.sync`` finds the commit by
its run id and records it with that. The prepare cannot join the first transaction: a log
ingest knows its rows only once it has parsed the files, which it reads from where the
first transaction's ranges say; it cannot join the record, which must follow the commit.
Leaving the ``with`` block with an exception marks the run failed with the error's message
and commits nothing further; the table stays at its last good version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from catalog.catalog import Catalog
from catalog.edges import SourceRef
from catalog.exceptions import ClaimsOfEndedRuns, LeaseHeld
from catalog.ledger import IngestedFileInfo, PendingFile
from catalog.records import check_base
from catalog.tables import TableInfo
from catalog.versions import VersionInfo
from lake.core.errors import CommitInDoubt, LakeError
from lake.core.failpoints import failpoint
from lake.core.names import TableName, TableVersion
from lake.core.storage import Storage
from lake.delta.evolution import Evolution, Policy, conform, plan
from lake.delta.snapshot import Commit, Snapshot
from lake.delta.store import DeltaStore, Publishing, appends_as_they_are, rows_from_lines
from lake.delta.types import same_type
from lake.landing.staging import Staged, StagingFolder, as_batches, read_staged, stage_batches
from lake.landing.sync import sync_table

if TYPE_CHECKING:
    import pyarrow as pa

Mode = Literal["append", "overwrite", "merge"]

log = logging.getLogger("lake")

AUTO_COMPACT_SMALL_FILES = 32
AUTO_COMPACT_PROPERTY = "delta.autoOptimize.autoCompact"
AUTO_COMPACT_TARGET_BYTES = 64 << 20
AUTO_COMPACT_GROWTH = 2
"""A file joins an auto-compaction only while it is at most this many times the size of the
smaller files chosen before it together (see :func:`compaction_target`)."""
REWRITE_LEASE_S = 6 * 3600.0
"""How long a rewrite may hold its table's lease; a killed rewriter's lease frees then."""
REWRITE_WAIT_S = 600.0
CLAIM_ATTEMPTS = 3
"""Prepares tried while ranges of ended runs stand in the way (each lets those go)."""
SOURCE_COLUMN = "_source"
LINE_COLUMN = "_line"


def fragmented(snapshot: Snapshot) -> bool:
    """Whether appends left enough small files that compacting them is due (see
    :func:`compaction_target`)."""
    return compaction_target(snapshot) is not None


def compaction_target(snapshot: Snapshot) -> int | None:
    """The target file size of the auto-compaction due on ``snapshot``, or None when none is:
    at least AUTO_COMPACT_SMALL_FILES files would be merged.

    Small appends each add a file; past a few hundred, every commit's checkpoint, every open
    of the table and every query pays for all of them (1,000 appends of 100 rows made a
    10-day GROUP BY 5.6x slower than over one file). Auto-compaction keeps the count bounded,
    like Delta's own auto compaction, but tiered: in each partition it merges its files
    smallest first, each while it is at most AUTO_COMPACT_GROWTH times the ones before it
    together, up to AUTO_COMPACT_TARGET_BYTES (a partition's one such file is left alone).
    Merging every file under 8 MB instead rewrote the whole table every 32 appends while it
    was small, so the cost of an append grew with the table (0.14 s of compaction per 60
    appends at 300 versions, 0.91 s at 10,400); now a byte is rewritten about once each
    time what is merged with it grows threefold, and a partition keeps a few files of
    growing sizes besides its newest small ones (their count grows with the logarithm of its
    size). In a simulation of 10,000 appends of equal files: 5.5 files' worth rewritten per
    append (the old rule: 156), at most 36 files at a time (the old rule: 32).

    The target is the largest partition's chosen total: deltalake merges only files up to
    the target, and those chosen in one partition fill one file of it exactly.

    A table whose property ``delta.autoOptimize.autoCompact`` is ``false`` (Delta's own
    switch, which other engines honour too) is never compacted on its own: a team whose
    readers or jobs count on the files as written turns it off, and ``lake optimize``
    compacts when asked.
    """
    if snapshot.configuration.get(AUTO_COMPACT_PROPERTY, "").strip().lower() == "false":
        return None
    sizes: dict[tuple[tuple[str, str | None], ...], list[int]] = {}
    for f in snapshot.files:
        sizes.setdefault(tuple(sorted(f.partition_values.items())), []).append(f.size)
    merged, target = 0, 0
    for partition in sizes.values():
        chosen, total = 0, 0
        for size in sorted(partition):
            if total + size > AUTO_COMPACT_TARGET_BYTES or (
                chosen and size > AUTO_COMPACT_GROWTH * total
            ):
                break
            chosen, total = chosen + 1, total + size
        if chosen > 1:
            merged, target = merged + chosen, max(target, total)
    return target if merged >= AUTO_COMPACT_SMALL_FILES else None


@dataclass(frozen=True)
class Counts:
    """What a write does to the table's rows, known before its commit (except ``metrics``)."""

    rows: int
    """Rows of the new data."""
    rows_replaced: int | None = 0
    """Rows of the table the write replaces: every row for an overwrite; for a merge, the
    rows whose key the new data has (None before deltalake has merged)."""
    metrics: Mapping[str, object] = field(default_factory=dict)
    """deltalake's merge metrics (after a merge by deltalake only)."""


Outcome = Mapping[str, Any] | Callable[[Counts], Mapping[str, Any]]


@dataclass(frozen=True)
class Landed:
    version: VersionInfo
    evolution: Evolution
    counts: Counts


@dataclass(frozen=True)
class Ahead:
    """Arrow data staged and sent up before the writer's first transaction (see
    :func:`send_ahead`), for :meth:`TableRun.land` (``ahead=``) to take when the table's
    latest version plans the same schema, or to discard."""

    staged: Staged
    publishing: Publishing


def send_ahead(
    store: DeltaStore,
    data: pa.Table | pa.RecordBatchReader,
    *,
    policy: Policy,
    cleanup: contextlib.ExitStack,
) -> Ahead | None:
    """On S3, an append of ``data`` staged on the schema of the version this thread appended
    last (the table's latest while no other writer committed since) and its data files'
    PUTs sent, so they are answered while the catalog's first transaction runs (a
    ``write_table`` waited for them after it, one round trip more). The table's first look
    (:meth:`DeltaStore.look_ahead`) goes out before them.

    A guess only: :meth:`TableRun.land` plans on the latest version as always, and takes
    the files only when that plan stages the same schema and partitioning; otherwise, or
    when the write ends without taking them, they are removed (``cleanup`` closes the
    staging folder and removes untaken files). The Delta commit that refers to them still
    waits for their PUTs. None (nothing sent) when there is no such guess: not on S3, data
    read once (a reader), nothing kept of the table, or a plan that changes its schema.
    """
    import pyarrow as pa

    if not store.storage.is_s3 or not isinstance(data, pa.Table):
        return None
    kept = store.kept_snapshot()
    if kept is None:
        return None
    store.look_ahead()
    try:
        evolution = plan(kept.schema, data.schema, policy, where=store.uri)
    except LakeError:
        return None  # refused on the kept schema: the write plans it again for its error
    if evolution.retyped or not appends_as_they_are(kept.schema, evolution.schema):
        return None
    folder = cleanup.enter_context(StagingFolder("lake-write-"))
    try:
        staged = stage_batches(
            as_batches(data), evolution.schema, folder, partition_by=kept.partition_columns
        )
        publishing = store.publish(
            staged.files,
            schema=evolution.schema,
            partition_by=kept.partition_columns,
            table=kept,
        )
    except Exception:  # noqa: BLE001 - the write stages again, in its run, for its error
        return None  # (publish removed what it sent)
    cleanup.callback(lambda: None if publishing.taken else publishing.discard())
    return Ahead(staged, publishing)


class TableRun:
    """One run that writes one table."""

    def __init__(self, catalog: Catalog, store: DeltaStore, table: TableInfo, run_id: str) -> None:
        self.catalog = catalog
        self.store = store
        self.table = table
        self.run_id = run_id
        self.version: VersionInfo | None = None
        self._ledger: Sequence[PendingFile] = ()
        self._inputs: Sequence[SourceRef | TableVersion] = ()
        self._drift: tuple[dict[str, Any], ...] = ()
        self._appended: Snapshot | None = None
        self._last_snapshot: Snapshot | None = None
        self.ingested: tuple[IngestedFileInfo, ...] | None = None
        """The committed ranges the run's start read (see :meth:`begin`)."""
        self._unchanged_at: int | None = None

    @classmethod
    def start(
        cls,
        catalog: Catalog,
        store: DeltaStore,
        table: TableInfo,
        *,
        kind: str,
        job: str | None = None,
        parameters: Mapping[str, Any],
        inputs: Sequence[SourceRef | TableVersion] = (),
    ) -> TableRun:
        run_id = catalog.start_run(
            kind=kind, job=job or f"{kind}:{table.name}", parameters=parameters, inputs=inputs
        )
        return cls(catalog, store, table, run_id)

    @classmethod
    def begin(
        cls,
        catalog: Catalog,
        storage: Storage,
        name: TableName,
        *,
        table_kind: str,
        kind: str,
        parameters: Mapping[str, Any],
        inputs: Sequence[SourceRef | TableVersion] = (),
        ingested: Sequence[str] | None = None,
        sizes: Collection[int] = (),
        store: DeltaStore | None = None,
    ) -> TableRun:
        """A run that writes table ``name`` (created on first write), started in the
        writer's one transaction before its commit is prepared (``Catalog.start_write``),
        with the committed ranges of ``ingested`` in :attr:`ingested`.

        The table's unrecorded commits are not looked for here: call :func:`sync_table`
        inside the ``with`` block (and read the ranges again when it recorded any).

        ``store``: the table's store at its default location, when the caller made it
        already (:func:`send_ahead`).

        Raises:
            TableExists: the table is of another kind (no run is started).
            ExternalTable: the table is an external one.
        """
        location = storage.table_uri(name.namespace, name.name)
        if store is None or store.uri != location:
            store = DeltaStore(location, storage)
        # On S3 the first look at the table's log goes out now and is answered while the
        # catalog's transaction runs (the two were one round trip after the other).
        store.look_ahead()
        started = catalog.start_write(
            name,
            table_kind=table_kind,
            location=location,
            kind=kind,
            parameters=parameters,
            inputs=inputs,
            ingested=ingested,
            sizes=sizes,
        )
        if started.table.location != location:  # a table made where the default was other
            store = DeltaStore(started.table.location, storage)
        run = cls(catalog, store, started.table, started.run_id)
        run.ingested = started.ingested
        return run

    def __enter__(self) -> TableRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _tb: object
    ) -> None:
        if error is None:
            if self.version is None:  # nothing to commit (e.g. every file skipped)
                stats = None if self._unchanged_at is None else {"unchanged_at": self._unchanged_at}
                self.catalog.finish_run(self.run_id, status="completed", stats=stats)
            elif self._appended is not None:
                target = compaction_target(self._appended)
                if target is not None:
                    self._compact_small_files(target)
            return
        message = str(error) if isinstance(error, LakeError) else f"{type(error).__name__}: {error}"
        try:
            if isinstance(error, CommitInDoubt) and error.unanswered:
                # Its log entry may land after the next writer read the log: the run's
                # claims stay until a sync settles it (see catalog.ledger). Kept before the
                # run ends, when another writer would take them for those of an ended run.
                self.catalog.keep_claims_in_doubt(self.table, self.run_id, error.version)
            if self._inputs:  # a failed run read them all the same
                self.catalog.add_inputs(self.run_id, self._inputs)
            self.catalog.finish_run(self.run_id, status="failed", error=message[:2000])
        except LakeError:
            pass  # the catalog itself is down; the original error is the one to report

    def unchanged(self, version: int) -> None:
        """Say the run found nothing to change in the table, which stays at ``version``: the
        run ends completed, with ``unchanged_at`` in its stats, and commits nothing."""
        self._unchanged_at = version

    def prepare(
        self, *, outcome: Mapping[str, Any] | None = None, files: Sequence[PendingFile] = ()
    ) -> None:
        """Store what the coming commit means (``Catalog.prepare_commit``), claiming the
        file ranges it holds.

        Ranges of the same files left pending by runs that ended without recording a commit
        are let go once the table's log was read for those runs' commits (recorded then, and
        their ranges with them): whatever the log held of them is in the ledger, the rest
        was never committed and can be taken.

        Raises:
            FileBeingIngested: another run took part of a file since this one planned.
        """
        inputs, self._inputs = self._inputs, ()
        failpoint("prepare")
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                self.catalog.prepare_commit(
                    self.run_id,
                    table_id=self.table.id,
                    outcome=outcome or {},
                    files=files,
                    inputs=inputs,
                )
                return
            except ClaimsOfEndedRuns as ended:
                if attempt == CLAIM_ATTEMPTS - 1:
                    raise
                # The runs ended before this read of the log: a commit of theirs is in it.
                sync_table(self.catalog, self.store, self.table, reap=False)
                self.catalog.abandon_claims(self.table, ended.run_ids)

    def land(
        self,
        data: Staged | pa.Table | pa.RecordBatchReader,
        *,
        policy: Policy,
        operation: str,
        mode: Mode = "append",
        keys: Sequence[str] = (),
        partition_by: Sequence[str] = (),
        base: Snapshot | None = None,
        hint: str = "",
        outcome: Outcome | None = None,
        ledger: Sequence[PendingFile] = (),
        source: str | None = None,
        replace_lines: Sequence[tuple[str, int]] = (),
        inputs: Sequence[SourceRef | TableVersion] = (),
        ahead: Ahead | None = None,
    ) -> Landed:
        """Land ``data`` as one new version of the table (see the module docstring).

        ``mode``: ``append``; ``overwrite`` (the data becomes the table's whole content);
        ``merge`` (rows whose ``keys`` match are replaced, the others inserted).
        ``partition_by``: the partition columns of a new table written from Arrow data (an
        existing table keeps its own; staged data says its own). ``base``:
        the version the data was derived from; an overwrite or a rewrite is refused if
        another writer committed since. ``hint`` ends the sentence of a refused schema
        change (what the user can do). ``outcome``: the counts to record with the version
        (row counts, drift...), or a function of :class:`Counts` that returns them;
        ``ledger``: the parts of source files the version holds (log ingest); ``source``:
        where the data came from, for the drift ledger of a writer that keeps none itself.
        ``replace_lines`` (an append of log rows): ``(source, first_line)`` pairs whose rows
        already in the table (``_source`` equal, ``_line`` at least) the data replaces, in
        the same commit (a line read before it was finished, a re-parsed file).
        ``inputs``: dataset versions the run read, known only now (the files a log ingest
        staged); recorded with the prepared outcome, in its transaction. ``ahead``: ``data``
        already staged and being sent (:func:`send_ahead`), taken for an append whose plan
        stages the same schema and partitioning, discarded otherwise.

        Raises:
            SchemaConflict: the policy refuses the data's schema (nothing is committed).
            CommitConflict: another writer committed after ``base`` during an overwrite
                or a rewrite, or commits kept conflicting.
        """
        self._inputs = inputs  # recorded even if the write is refused (see __exit__)
        current = self.store.snapshot() if self.store.exists() else None
        if current is not None:
            # Not on another table made at the location with as many versions as recorded:
            # its latest has the recorded number, not the recorded totals.
            check_base(current, self.table)
        incoming = data.schema
        evolution = plan(
            current.schema if current is not None else None,
            incoming,
            policy,
            where=f"table {self.table.name}",
            hint=hint,
        )
        self._ledger = ledger
        self._drift = tuple(
            {
                "column": c.column,
                "change": c.kind,
                "old_type": c.old_type,
                "new_type": c.new_type,
                "source": source or f"{self.table.name} ({operation.lower()})",
                "line": None,
                "detail": c.message,
            }
            for c in evolution.changes
            if c.kind != "dropped"
        )
        if current is not None:
            partition_by = current.partition_columns
        appended = False
        with contextlib.ExitStack() as cleanup, self._doubt_named():

            def folder() -> Path:
                # Made only when the data needs staging here: a stage's files in the
                # planned schema do not (a folder and its lock were a few system calls of
                # every log ingest).
                return cleanup.enter_context(StagingFolder("lake-write-"))

            taken = None
            if ahead is not None:
                if (
                    mode == "append"
                    and not replace_lines
                    and current is not None
                    and not isinstance(data, Staged)
                    and not evolution.retyped
                    and appends_as_they_are(current.schema, evolution.schema)
                    and tuple(current.partition_columns) == ahead.staged.partition_by
                    and ahead.staged.schema.equals(evolution.schema, check_metadata=True)
                ):
                    taken = ahead
                else:
                    ahead.publishing.discard()
            if taken is not None:
                staged = taken.staged
            else:
                staged = self._staged(data, evolution, partition_by, folder)
            if mode == "overwrite":
                base_version = (base or current).version if (base or current) else None
                counts = Counts(staged.rows, current.rows if current is not None else 0)
                self._prepare_outcome(outcome, counts)
                with self._rewriting():
                    commit = self.store.replace(
                        staged.files,
                        schema=evolution.schema,
                        run_id=self.run_id,
                        operation=operation,
                        base_version=base_version,
                    )
            elif current is None:
                counts = Counts(staged.rows)
                self._prepare_outcome(outcome, counts)
                commit = self.store.append(
                    staged.files,
                    schema=evolution.schema,
                    partition_by=staged.partition_by,
                    run_id=self.run_id,
                    operation=operation,
                )
            elif evolution.retyped or (
                mode == "merge" and not self.store.can_merge(evolution.schema)
            ):
                commit, counts = self._rewrite(
                    current, base, staged, evolution, mode, keys, operation, outcome, replace_lines
                )
            elif mode == "append" and replace_lines:
                counts = Counts(staged.rows, None)
                self._prepare_outcome(outcome, counts)
                # An overwrite of the files holding those lines: it races a compaction of the
                # same files as any overwrite does (see _rewriting).
                with self._rewriting():
                    commit = self.store.replace_rows(
                        staged.files,
                        schema=evolution.schema,
                        predicate=rows_from_lines(SOURCE_COLUMN, LINE_COLUMN, replace_lines),
                        partition_by=current.partition_columns,
                        run_id=self.run_id,
                        operation=f"{operation} (REPLACE LINES)",
                    )
            elif mode == "append":
                appended = True
                counts = Counts(staged.rows)
                # The data files go up while the catalog prepares the commit (on S3 the PUT
                # and the transaction were one wait after the other); the commit that refers
                # to them still follows the prepare. Not when they add a column: deltalake's
                # schema merge writes files of its own.
                published = None
                if taken is not None:
                    published = taken.publishing
                elif appends_as_they_are(current.schema, evolution.schema):
                    published = self.store.publish(
                        staged.files,
                        schema=evolution.schema,
                        partition_by=current.partition_columns,
                        table=current,
                    )
                try:
                    self._prepare_outcome(outcome, counts)
                except BaseException:
                    if published is not None:
                        published.discard()
                    raise
                commit = self.store.append(
                    staged.files,
                    schema=evolution.schema,
                    partition_by=current.partition_columns,
                    run_id=self.run_id,
                    operation=operation,
                    base=current,
                    published=published,
                )
            else:
                commit, counts = self._merge(staged, evolution, keys, operation, outcome)
            version = self._record(commit)
            if appended:
                self._appended = self._last_snapshot
        return Landed(version, evolution, counts)

    @contextlib.contextmanager
    def _doubt_named(self) -> Iterator[None]:
        """A commit in doubt names the table as the user knows it (the store knows its
        location only)."""
        try:
            yield
        except CommitInDoubt as doubt:
            raise doubt.naming(str(self.table.name)) from doubt

    def compact(
        self, *, target_file_bytes: int | None = None, previous: Snapshot | None = None
    ) -> VersionInfo | None:
        """Compact the table's small files; None when there was nothing to compact.
        ``previous``: a snapshot the caller holds of the table's latest version (the append
        the compaction follows): when the compaction's commit is the very next version, its
        record takes it for the version before instead of loading that log afresh.

        Raises:
            LeaseHeld: another process kept rewriting this table's files (see
                :meth:`_rewriting`).
        """
        self.prepare(outcome={"rows_added": 0, "rows_removed": 0})
        with self._rewriting(wait=target_file_bytes is None), self._doubt_named():
            if target_file_bytes is None:
                commit, _ = self.store.compact(run_id=self.run_id, base=previous)
            else:
                commit, _ = self.store.compact(
                    run_id=self.run_id, target_file_bytes=target_file_bytes, base=previous
                )
        return None if commit is None else self._record(commit, previous=previous)

    def _rewriting(self, *, wait: bool = True) -> AbstractContextManager[None]:
        """The table's rewrite lease, held while all files of its latest version are replaced
        or compacted (an overwrite, a rewrite, a compaction), so one process does it at a time.

        deltalake 1.6.6 lets a compaction commit at the same time as another compaction or an
        overwrite of the same files, and the table then holds their rows twice (seen with
        processes racing: 40 rows became 80). It does detect a merge racing either, and an
        overwrite racing an overwrite; appends only add files. Those need no lease.
        ``wait``: wait for another holder (up to REWRITE_WAIT_S) rather than fail at once.
        """
        return self.catalog.lease(
            f"rewrite:{self.table.id}",
            seconds=REWRITE_LEASE_S,
            what=f"rewriting the files of {self.table.name}",
            wait_s=REWRITE_WAIT_S if wait else 0.0,
        )

    def _compact_small_files(self, target: int) -> None:
        """Auto-compaction into files of up to ``target`` bytes, after an append left many
        small files (see :func:`compaction_target`): a
        run and a version of its own, so the write's version stays exactly what it wrote. A
        failure here fails nothing: the write is committed, and the next append tries again."""
        try:
            with TableRun.start(
                self.catalog,
                self.store,
                self.table,
                kind="optimize",
                job=f"auto-compact:{self.table.name}",
                parameters={"auto": True, "after_run": self.run_id},
            ) as run:
                run.compact(target_file_bytes=target, previous=self._appended)
        except LeaseHeld:
            pass  # another process is compacting the table right now: that is enough
        except LakeError as error:
            log.warning("Auto-compaction of %s did not run: %s", self.table.name, error)

    # -- the steps --------------------------------------------------------------------------

    def _staged(
        self,
        data: Staged | pa.Table | pa.RecordBatchReader,
        evolution: Evolution,
        partition_by: Sequence[str],
        folder: Callable[[], Path],
    ) -> Staged:
        """``data`` as staged files in the planned schema (staged again only where a column's
        stored type differs: a stage's own files normally are in it already)."""
        if not isinstance(data, Staged):
            batches = as_batches(data)
            return stage_batches(batches, evolution.schema, folder(), partition_by=partition_by)
        target = {f.name: f.type for f in evolution.schema}
        if all(f.name not in target or same_type(f.type, target[f.name]) for f in data.schema):
            return data
        if data.partition_by:
            raise ValueError("a partitioned stage must stage its files in the planned schema")
        restaged = stage_batches(read_staged(data, evolution.schema), evolution.schema, folder())
        return Staged(restaged.files, restaged.schema, restaged.rows)

    def _rewrite(
        self,
        current: Snapshot,
        base: Snapshot | None,
        staged: Staged,
        evolution: Evolution,
        mode: Mode,
        keys: Sequence[str],
        operation: str,
        outcome: Outcome | None,
        replace_lines: Sequence[tuple[str, int]] = (),
    ) -> tuple[Commit, Counts]:
        """The table's rows in the new schema (those whose key the data has left out, for a
        merge; those not replaced by ``replace_lines``) and the new rows, as one overwrite of
        ``current``."""
        import pyarrow as pa

        schema = evolution.schema
        # The rows to rewrite come from the version loaded by its number (see
        # DeltaStore.snapshot), not from the kept latest log the write was planned on.
        current = self.store.snapshot(current.version)
        incoming_keys = _key_table(staged, keys) if mode == "merge" else None
        replaced = 0
        if incoming_keys is not None:
            replaced = _count_matching(self.store, current, schema, keys, incoming_keys)
        counts = Counts(staged.rows, replaced)
        self._prepare_outcome(outcome, counts)
        old_rows = (conform(b, schema) for b in self.store.scan(current))
        if incoming_keys is not None:
            old_rows = _without_keys(old_rows, keys, incoming_keys)
        if replace_lines:
            old_rows = _without_lines(old_rows, replace_lines)
        rows = itertools.chain(old_rows, read_staged(staged, schema))
        with self._rewriting():
            commit = self.store.rewrite(
                pa.RecordBatchReader.from_batches(schema, rows),
                schema=schema,
                partition_by=current.partition_columns,
                run_id=self.run_id,
                operation=f"{operation} (REWRITE)",
                base_version=(base or current).version,
            )
        return commit, counts

    def _merge(
        self,
        staged: Staged,
        evolution: Evolution,
        keys: Sequence[str],
        operation: str,
        outcome: Outcome | None,
    ) -> tuple[Commit, Counts]:
        """Upsert by key through deltalake. Its counts are known only once it merged: they
        are stored before the version is recorded, so a crash in between loses only them."""
        import pyarrow as pa

        # delta-rs merges an in-memory table, and a retry must be able to read it again.
        source = pa.Table.from_batches(
            list(read_staged(staged, evolution.schema)), schema=evolution.schema
        )
        self._prepare_outcome(outcome, Counts(staged.rows, None))
        # No lease: deltalake detects a merge that races a compaction or another writer, and
        # the store retries it on the new version.
        commit, metrics = self.store.merge(
            source, keys=keys, run_id=self.run_id, operation=operation
        )
        updated = metrics.get("num_target_rows_updated") if metrics else None
        counts = Counts(staged.rows, None if updated is None else int(updated), metrics)  # type: ignore[call-overload]
        if metrics:
            self._prepare_outcome(outcome, counts)
        return commit, counts

    def _prepare_outcome(self, outcome: Outcome | None, counts: Counts) -> None:
        """Store the outcome (and, the first time, the ledger and the inputs) in one catalog
        transaction.

        A writer that says no drift of its own (``write_table``) gets the changes the plan
        made to the table's schema recorded in the drift ledger all the same."""
        ledger, self._ledger = self._ledger, ()
        drift, self._drift = self._drift, ()
        resolved = dict((outcome(counts) if callable(outcome) else outcome) or {})
        if drift and "drift" not in resolved:
            resolved["drift"] = list(drift)
        if not resolved and not ledger and not self._inputs:
            return
        self.prepare(outcome=resolved, files=ledger)

    def _record(self, commit: Commit, *, previous: Snapshot | None = None) -> VersionInfo:
        """Record ``commit`` in the catalog; ``previous``: a snapshot of some version the
        caller holds, used when it is the version before ``commit``'s."""
        failpoint("after_delta_commit")
        snapshot = self._last_snapshot = self.store.snapshot(commit.version)
        if commit.added is not None and commit.version > 0:
            # An append: the version before is this one without the files it added.
            added = set(commit.added)
            files = tuple(f for f in snapshot.files if f.path not in added)
            previous = dataclasses.replace(snapshot, version=commit.version - 1, files=files)
        elif previous is None or previous.version != commit.version - 1:
            previous = self.store.snapshot(commit.version - 1) if commit.version > 0 else None
        self.version = self.catalog.record_commit(self.table, commit, snapshot, previous=previous)
        return self.version


def _without_lines(
    batches: Iterator[pa.RecordBatch], ranges: Sequence[tuple[str, int]]
) -> Iterator[pa.RecordBatch]:
    """``batches`` without the rows of each ``(source, first_line)`` (see ``land``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from lake.core.arrow_values import FALSE, scalar

    for batch in batches:
        source, line = batch.column(SOURCE_COLUMN), batch.column(LINE_COLUMN)
        drop = None
        for uri, first in ranges:
            hit = pc.and_(
                pc.equal(source, scalar(uri, pa.string())),
                pc.greater_equal(line, scalar(first, pa.int64())),
            )
            drop = hit if drop is None else pc.or_(drop, hit)
        yield batch if drop is None else batch.filter(pc.invert(pc.fill_null(drop, FALSE)))


def _key_table(staged: Staged, keys: Sequence[str]) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table([str(f.path) for f in staged.files], columns=list(keys))


def _count_matching(
    store: DeltaStore,
    snapshot: Snapshot,
    schema: pa.Schema,
    keys: Sequence[str],
    incoming: pa.Table,
) -> int:
    """Rows of ``snapshot`` whose key is among ``incoming``'s keys."""
    import pyarrow as pa

    total = 0
    for batch in (conform(b, schema) for b in store.scan(snapshot)):
        index = pa.table([batch.column(k) for k in keys], names=list(keys))
        total += index.join(incoming, keys=list(keys), join_type="left semi").num_rows
    return total


def _without_keys(
    batches: Iterator[pa.RecordBatch], keys: Sequence[str], incoming: pa.Table
) -> Iterator[pa.RecordBatch]:
    """``batches`` without the rows whose key is among ``incoming``'s (in their order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for batch in batches:
        rows = pa.array(range(batch.num_rows), pa.int64())
        index = pa.table([*(batch.column(k) for k in keys), rows], names=[*keys, "lake_row"])
        kept = index.join(incoming, keys=list(keys), join_type="left anti")["lake_row"]
        kept = kept.combine_chunks()
        if len(kept) < batch.num_rows:
            batch = batch.take(pc.take(kept, pc.sort_indices(kept)))
        yield batch
