"""The catalog: every operation on tables, versions, schemas, runs and the ingest ledger,
as the methods of one object over one database.

:class:`Catalog` is the contract the layers above use. Each method delegates to the
module that owns its concept:

=======================  ============================================================
``catalog.connection``   the database: engine, transactions, retries (the base class)
``catalog.tables``       namespaces and tables
``catalog.runs``         runs: started, finished, reaped when their process died
``catalog.edges``        what runs read and wrote (lineage edges), and sources
``catalog.recording``    the write protocol's catalog side: prepare a commit, record it
``catalog.versions``     recorded versions
``catalog.schemas``      schemas, stored once per content, and their drift
``catalog.ledger``       ingested file ranges and extract watermarks
=======================  ============================================================

The catalog tells a :class:`RunListener` (OpenLineage out, ``catalog.openlineage_out``)
when a run starts and ends; whoever builds the catalog gives it one, from the lake's
configuration (``lake.core.config``). The catalog reads no configuration itself.

Every method may also raise what :meth:`Connection.transaction` raises (a
``CatalogError`` when the database fails, ``CatalogUnreachable`` when it cannot be
reached, ``CommitConflict`` when conflicts outlast the retries); each lists its own errors.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from catalog import edges, leases, ledger, recording, runs, schemas, tables, versions
from catalog.connection import Connection
from catalog.edges import SourceRef
from catalog.ledger import IngestedFileInfo, PendingFile
from catalog.recording import WriteStart
from catalog.records import RunCursor
from catalog.runs import RunInfo
from catalog.schemas import SchemaChangeInfo
from catalog.tables import TableInfo
from catalog.versions import VersionInfo
from lake.core.config import DEFAULT_CATALOG_RETRY_WAIT_S
from lake.core.names import TableName, TableVersion

if TYPE_CHECKING:
    import pyarrow as pa

    from lake.delta.snapshot import Commit, Snapshot


class RunListener(Protocol):
    """Told of each run's START, and of its COMPLETE or FAIL; must never raise."""

    def emit_run(self, catalog: Catalog, run_id: str, event_type: str) -> None: ...


class Catalog(Connection):
    """The lake's catalog on one SQLAlchemy database, migrated on opening unless ``migrate``
    is false; ``lineage_out`` hears of runs starting and ending (None: nobody does);
    ``retry_wait``: seconds before reconnecting to a database that cannot be reached, doubled
    each time (the setting ``catalog_retry_wait``).

    Raises (on opening):
        CatalogUnreachable: the database cannot be reached or refused the login.
        CatalogOutdated: the catalog was written by a newer lake.
        CatalogError: the database holds tables but is not a lake catalog.
    """

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        lineage_out: RunListener | None = None,
        retry_wait: float = DEFAULT_CATALOG_RETRY_WAIT_S,
    ) -> None:
        super().__init__(url, migrate=migrate, retry_wait=retry_wait)
        self.lineage_out = lineage_out

    # -- namespaces and tables -----------------------------------------------------------------

    def list_tables(self) -> list[TableInfo]:
        """Every table, by namespace and name."""
        return tables.list_tables(self)

    def find_tables(self, names: Collection[TableName]) -> dict[TableName, TableInfo]:
        """The tables among ``names`` that exist (one query)."""
        return tables.find_tables(self, names)

    def find_table(self, name: TableName) -> TableInfo | None:
        """The table called ``name``, or None."""
        return tables.find_table(self, name)

    def get_table(self, name: TableName) -> TableInfo:
        """The table called ``name``.

        Raises:
            TableNotFound: naming the tables that do exist, when few.
        """
        return tables.get_table(self, name)

    def create_table(
        self,
        name: TableName,
        *,
        kind: str,
        location: str,
        properties: Mapping[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> TableInfo:
        """Register a table (and its namespace).

        Raises:
            TableExists: unless ``exist_ok``; an existing table of another kind always raises.
        """
        return tables.create_table(
            self, name, kind=kind, location=location, properties=properties, exist_ok=exist_ok
        )

    def set_table_properties(self, table_id: int, properties: Mapping[str, Any]) -> None:
        """Merge ``properties`` into the table's properties (a key given replaces its value)."""
        tables.set_table_properties(self, table_id, properties)

    # -- runs ----------------------------------------------------------------------------------

    def start_run(
        self,
        *,
        kind: str,
        job: str,
        parameters: Mapping[str, Any],
        inputs: Sequence[SourceRef | TableVersion] = (),
        run_id: str | None = None,
        code_version: str | None = None,
    ) -> str:
        """Record a run as running, with the dataset versions it reads; returns its id (a new
        UUID unless ``run_id`` is given). Reaps this host's dead runs first. ``code_version``
        is what the run's code was (a training job's commit); the lake's own version otherwise.

        Raises:
            VersionNotFound: an input table version is not recorded.
            CommitConflict: a run with ``run_id`` exists already.
        """
        run_id = runs.start_run(
            self,
            kind=kind,
            job=job,
            parameters=parameters,
            inputs=inputs,
            run_id=run_id,
            code_version=code_version,
        )
        if self.lineage_out is not None:
            self.lineage_out.emit_run(self, run_id, "START")
        return run_id

    def start_write(
        self,
        name: TableName,
        *,
        table_kind: str,
        location: str,
        kind: str,
        parameters: Mapping[str, Any],
        inputs: Sequence[SourceRef | TableVersion] = (),
        ingested: Sequence[str] | None = None,
        sizes: Collection[int] = (),
    ) -> WriteStart:
        """A writer's first transaction: the table (created on first write, as
        :meth:`create_table` with ``exist_ok``), the committed ranges of the files
        ``ingested`` names (and whole files of ``sizes``, as :meth:`ingested_files`) when
        given, and the run, started as :meth:`start_run` (job ``kind:table``).

        Raises:
            TableExists: the table is of another kind (no run is started).
            ExternalTable: the table is an external one.
            VersionNotFound: an input table version is not recorded.
        """
        started = recording.start_write(
            self,
            name,
            table_kind=table_kind,
            location=location,
            kind=kind,
            parameters=parameters,
            inputs=inputs,
            ingested=ingested,
            sizes=sizes,
        )
        if self.lineage_out is not None:
            self.lineage_out.emit_run(self, started.run_id, "START")
        return started

    def reap_dead_runs(self) -> list[str]:
        """Mark failed the runs of this host whose process is gone (killed, or the machine
        restarted), so no run stays ``running`` forever; returns their ids.

        Safe against a commit such a run did make: recording it (``lake.landing.sync``) completes
        the run whatever its status. Runs of other hosts and other containers are left
        alone: their processes cannot be checked from here (:mod:`lake.core.processes`).
        """
        reaped = runs.reap_dead_runs(self)
        if self.lineage_out is not None:
            for run_id in reaped:
                self.lineage_out.emit_run(self, run_id, "FAIL")
        return reaped

    def add_inputs(self, run_id: str, inputs: Sequence[SourceRef | TableVersion]) -> None:
        """Record that the run read these dataset versions.

        Raises:
            VersionNotFound: a table version is not recorded.
        """
        edges.add_inputs(self, run_id, inputs)

    def add_outputs(self, run_id: str, outputs: Sequence[SourceRef | TableVersion]) -> None:
        """Record that the run wrote these dataset versions.

        Raises:
            VersionNotFound: a table version is not recorded.
        """
        edges.add_outputs(self, run_id, outputs)

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        error: str | None = None,
        stats: Mapping[str, Any] | None = None,
    ) -> None:
        """End a run as ``status`` (``completed`` or ``failed``) with its error and more stats.

        A run that has ended already keeps its status, error and end time, except that
        ``completed`` always applies; an unknown run is ignored. OpenLineage hears of a run's
        end once: no FAIL after its COMPLETE.
        """
        changed = runs.finish_run(self, run_id, status=status, error=error, stats=stats)
        if changed and self.lineage_out is not None and status in ("completed", "failed"):
            self.lineage_out.emit_run(self, run_id, "COMPLETE" if status == "completed" else "FAIL")

    def get_run(self, run_id: str) -> RunInfo:
        """The run with this id.

        Raises:
            RunNotFound: no run has this id.
        """
        return runs.get_run(self, run_id)

    def list_runs(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        kind: str | None = None,
        after: RunCursor | None = None,
        before: RunCursor | None = None,
    ) -> list[RunInfo]:
        """Runs, the latest started first, then by id (of one ``kind``, when given), from
        ``offset`` or just after or before a cursor (``catalog.runs.list_runs``)."""
        return runs.list_runs(
            self, limit=limit, offset=offset, kind=kind, after=after, before=before
        )

    # -- commits and versions --------------------------------------------------------------------

    def prepare_commit(
        self,
        run_id: str,
        *,
        table_id: int,
        outcome: Mapping[str, Any],
        files: Sequence[PendingFile] = (),
        inputs: Sequence[SourceRef | TableVersion] = (),
    ) -> None:
        """Store what the coming Delta commit of this run means, before it is made, with the
        dataset versions the run read (``inputs``, as :meth:`add_inputs`).

        ``outcome`` may hold ``rows_added``, ``rows_removed``, ``rows_changed`` (ints),
        ``drift`` (a list of dicts with column, change, old_type, new_type, source, line,
        detail) and ``watermark`` ({"cursor": ..., "value": {...}}).

        A file range with ``known_ranges`` claims the file, and ``watermark_from`` the rows
        past the watermark (``catalog.ledger``).

        Raises:
            CatalogError: the run is not in the catalog.
            VersionNotFound: an input table version is not recorded.
            FileBeingIngested: another run committed, or is committing, part of a file
                since this run planned (nothing is stored).
            WatermarkTaken: another extract moved the watermark since this run read it, or
                is about to (nothing is stored).
            ClaimsOfEndedRuns: claims of runs that ended without recording their commit
                stand in the way (nothing is stored).
        """
        recording.prepare_commit(
            self, run_id, table_id=table_id, outcome=outcome, files=files, inputs=inputs
        )

    def record_commit(
        self,
        table: TableInfo,
        commit: Commit,
        snapshot: Snapshot,
        *,
        previous: Snapshot | None,
    ) -> VersionInfo:
        """Record one Delta version, and complete the run that made it (idempotent).

        Everything the run prepared is applied in the same transaction: row counts, drift
        events, ingested file ranges, the watermark; the run becomes ``completed``.

        Raises:
            CommitConflict: the transaction lost a race and the version is still not recorded.
        """
        recorded, completed = recording.record_commit(
            self, table, commit, snapshot, previous=previous
        )
        if self.lineage_out is not None:
            for run_id in completed:
                self.lineage_out.emit_run(self, run_id, "COMPLETE")
        return recorded

    def running_runs(self, table_id: int) -> list[str]:
        """Runs still marked running that prepared a commit to ``table_id``."""
        return recording.running_runs(self, table_id)

    def find_version(self, table: TableInfo, version: int) -> VersionInfo | None:
        """The recorded ``version`` of ``table``, or None."""
        return versions.find_version(self, table, version)

    def get_version(self, table: TableInfo, version: int) -> VersionInfo:
        """The recorded ``version`` of ``table``.

        Raises:
            VersionNotFound: the version is not recorded (naming the latest one).
        """
        return versions.get_version(self, table, version)

    def recorded_versions(self, table: TableInfo) -> set[int]:
        """The numbers of the table's recorded versions."""
        return versions.recorded_versions(self, table)

    def lease(
        self, name: str, *, seconds: float, what: str, wait_s: float = 0.0
    ) -> AbstractContextManager[None]:
        """Hold the exclusive lease ``name`` for a ``with`` block, waiting up to ``wait_s``
        for another holder to give it back (see catalog/leases.py).

        Raises:
            LeaseHeld: another process still holds it.
        """
        return leases.lease(self, name, seconds=seconds, what=what, wait_s=wait_s)

    def recorded_through(self, table: TableInfo) -> int | None:
        """The newest version N such that every version 0..N is recorded (None: none is).
        One read of the table's row, however long the history (its versions are counted only
        when the row does not know: see ``tables.versions_through``). A write asks
        ``table.versions_through`` first, read with the table."""
        return versions.recorded_through(self, table)

    def mark_recorded_through(self, table: TableInfo, version: int) -> None:
        """Keep that every version 0..``version`` of the table is recorded."""
        versions.mark_recorded_through(self, table, version)

    def versions(self, table: TableInfo) -> list[VersionInfo]:
        """Every recorded version of the table, oldest first."""
        return versions.versions(self, table)

    def current_versions(self) -> dict[TableName, VersionInfo]:
        """The current recorded version of every table that has one (one query)."""
        return versions.current_versions(self)

    def version_at(self, table: TableInfo, moment: datetime) -> VersionInfo:
        """The newest recorded version committed at or before ``moment``.

        Raises:
            VersionNotFound: the table had no version then.
        """
        return versions.version_at(self, table, moment)

    # -- schemas and drift -----------------------------------------------------------------------

    def schema(self, schema_id: int) -> pa.Schema:
        """The stored schema with this id, as Arrow.

        Raises:
            CatalogError: no schema has this id.
        """
        return schemas.schema(self, schema_id)

    def schema_changes(self, table: TableInfo) -> list[SchemaChangeInfo]:
        """The table's drift ledger, in the order the changes were recorded."""
        return schemas.schema_changes(self, table)

    # -- ingest ledger and watermarks ------------------------------------------------------------

    def ingested_files(
        self, table: TableInfo, uris: Sequence[str] | None = None, *, sizes: Sequence[int] = ()
    ) -> list[IngestedFileInfo]:
        """The committed ranges of source files ingested into ``table`` (of ``uris`` only,
        when given, and then also the whole files of ``sizes``)."""
        return ledger.ingested_files(self, table, uris, sizes=sizes)

    def abandon_claims(self, table: TableInfo, run_ids: Sequence[str]) -> None:
        """Let go of the file ranges still pending for ``run_ids`` in ``table``: runs that
        ended without recording a commit, after the table's log was read for their commits
        (see ``catalog.ledger``)."""
        ledger.abandon_claims(self, table.id, run_ids)

    def keep_claims_in_doubt(self, table: TableInfo, run_id: str, version: int) -> None:
        """Keep the claims of ``run_id`` on ``table`` after it ends: its commit of
        ``version`` is in doubt (its log entry may still land). Other writers' claims that
        meet them are refused (``ClaimsInDoubt``) until :meth:`settle_claims_in_doubt`."""
        ledger.keep_claims_in_doubt(self, table.id, run_id, version)

    def settle_claims_in_doubt(self, table: TableInfo) -> list[str]:
        """Once the table's log was read and its commits recorded (``lake catalog sync``):
        let go of the claims kept in doubt of runs whose commit was not found; their ids."""
        return ledger.settle_claims_in_doubt(self, table.id)

    def ingested_parsers(self, table: TableInfo, uris: Sequence[str]) -> dict[str, dict[str, Any]]:
        """How each of ``uris`` was last ingested into ``table``: format and text parser."""
        return ledger.ingested_parsers(self, table, uris)

    def has_ingested_content(self, table: TableInfo, sha256: str) -> bool:
        """Whether a committed range of ``table`` came from a file with this sha256."""
        return ledger.has_ingested_content(self, table, sha256)

    def watermark(self, table: TableInfo) -> tuple[str, dict[str, Any]] | None:
        """(cursor column, {"type": ..., "value": ...}) of the table's last committed extract."""
        return ledger.watermark(self, table)


__all__ = ["Catalog", "RunListener"]
