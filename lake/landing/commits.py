"""The write protocol every writer of a lake table follows (see ``catalog.store``).

    with TableRun.start(catalog, store, table, kind="ingest_logs", job=..., parameters=...,
                        inputs=[...]) as run:
        run.prepare(outcome={...}, files=[...])      # what the commit will mean
        version = run.commit_staged(files, schema=...)  # Delta commit + catalog record

Leaving the block with an exception marks the run failed with the error's message and
commits nothing further; the table stays at its last good version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from catalog.store import Catalog, PendingFile, SourceRef, TableInfo, TableVersionRef, VersionInfo
from lake.core.errors import LakeError
from lake.core.failpoints import failpoint
from lake.delta.store import Commit, DeltaStore, StagedFile

if TYPE_CHECKING:
    import pyarrow as pa


class TableRun:
    """One run that writes one table."""

    def __init__(self, catalog: Catalog, store: DeltaStore, table: TableInfo, run_id: str) -> None:
        self.catalog = catalog
        self.store = store
        self.table = table
        self.run_id = run_id
        self.version: VersionInfo | None = None

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
        inputs: Sequence[SourceRef | TableVersionRef] = (),
    ) -> TableRun:
        run_id = catalog.start_run(
            kind=kind, job=job or f"{kind}:{table.name}", parameters=parameters, inputs=inputs
        )
        return cls(catalog, store, table, run_id)

    def __enter__(self) -> TableRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _tb: object
    ) -> None:
        if error is None:
            if self.version is None:  # nothing to commit (e.g. every file skipped)
                self.catalog.finish_run(self.run_id, status="completed")
            return
        message = str(error) if isinstance(error, LakeError) else f"{type(error).__name__}: {error}"
        try:
            self.catalog.finish_run(self.run_id, status="failed", error=message[:2000])
        except LakeError:
            pass  # the catalog itself is down; the original error is the one to report

    def prepare(
        self, *, outcome: Mapping[str, Any] | None = None, files: Sequence[PendingFile] = ()
    ) -> None:
        self.catalog.prepare_commit(
            self.run_id, table_id=self.table.id, outcome=outcome or {}, files=files
        )

    def commit_staged(
        self,
        files: Sequence[StagedFile],
        *,
        schema: pa.Schema,
        partition_by: Sequence[str] = (),
        operation: str,
    ) -> VersionInfo:
        commit = self.store.commit_staged(
            files, schema=schema, partition_by=partition_by, run_id=self.run_id, operation=operation
        )
        return self._record(commit)

    def replace_staged(
        self,
        files: Sequence[StagedFile],
        *,
        schema: pa.Schema,
        operation: str,
        base_version: int | None = None,
    ) -> VersionInfo:
        """Replace the table's rows (and schema) with the staged files, in one commit."""
        commit = self.store.replace_staged(
            files, schema=schema, run_id=self.run_id, operation=operation, base_version=base_version
        )
        return self._record(commit)

    def write(
        self,
        data: pa.RecordBatchReader | pa.Table,
        *,
        mode: str,
        operation: str,
        partition_by: Sequence[str] = (),
        overwrite_schema: bool = False,
        base_version: int | None = None,
    ) -> VersionInfo:
        commit = self.store.write(
            data,
            mode=mode,  # type: ignore[arg-type]
            run_id=self.run_id,
            operation=operation,
            partition_by=partition_by,
            overwrite_schema=overwrite_schema,
            base_version=base_version,
        )
        return self._record(commit)

    def merge(
        self,
        source: pa.Table,
        *,
        keys: Sequence[str],
        operation: str = "MERGE",
        outcome: Callable[[Mapping[str, object]], Mapping[str, Any]] | None = None,
    ) -> tuple[VersionInfo, Mapping[str, object]]:
        """Upsert ``source`` by ``keys``. ``outcome`` turns the merge's metrics into the
        prepared outcome (row counts are known only once delta-rs has merged); it is stored
        before the version is recorded, so a crash in between loses only those counts."""
        commit, metrics = self.store.merge(
            source, keys=keys, run_id=self.run_id, operation=operation
        )
        if outcome is not None and metrics:
            self.prepare(outcome=outcome(metrics))
        return self._record(commit), metrics

    def compact(self) -> VersionInfo | None:
        """Compact the table's small files; None when there was nothing to compact."""
        self.prepare(outcome={"rows_added": 0, "rows_removed": 0})
        commit, _ = self.store.compact(run_id=self.run_id)
        return None if commit is None else self._record(commit)

    def _record(self, commit: Commit) -> VersionInfo:
        failpoint("after_delta_commit")
        snapshot = self.store.snapshot(commit.version)
        previous = self.store.snapshot(commit.version - 1) if commit.version > 0 else None
        self.version = self.catalog.record_commit(self.table, commit, snapshot, previous=previous)
        return self.version
