"""Bringing the catalog up to date with the Delta log.

The Delta log is the truth for data. A version committed to Delta but not recorded in
the catalog (the writer died in between, or another tool wrote the table) is recorded
here, with the run that made it when the commit carries a run id, and with everything
that run prepared (see ``catalog.recording``). Runs every time a table is touched, and on
``lake catalog sync``.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.catalog import Catalog
from catalog.tables import TableInfo
from lake.core.errors import TableNotFound, VersionNotFound
from lake.delta.snapshot import Snapshot
from lake.delta.store import DeltaStore


@dataclass(frozen=True)
class SyncResult:
    table: str
    recorded: tuple[int, ...]
    """Versions recorded by this sync (empty when the catalog was current)."""
    latest: int | None

    def to_json(self) -> dict[str, object]:
        return {"table": self.table, "recorded": list(self.recorded), "latest": self.latest}


def sync_table(catalog: Catalog, store: DeltaStore, table: TableInfo) -> SyncResult:
    """Record every Delta version of ``table`` newer than the catalog's newest record, then
    mark failed the runs whose process died before committing (see ``Catalog.reap_dead_runs``)."""
    result = _record_missing(catalog, store, table)
    catalog.reap_dead_runs()
    return result


def _record_missing(catalog: Catalog, store: DeltaStore, table: TableInfo) -> SyncResult:
    try:
        dt = store.open()
    except TableNotFound:
        # Registered, but the first commit never happened (or failed): nothing to record.
        return SyncResult(str(table.name), (), table.current_version)
    latest = dt.version()
    if catalog.recorded_through(table) == latest:
        return SyncResult(str(table.name), (), latest)  # the common case: nothing to record
    known = catalog.recorded_versions(table)
    # Writers record their versions themselves, possibly out of order; look for gaps, not
    # only for versions past the newest record.
    gaps = sorted(set(range(latest + 1)) - known)
    if not gaps:
        return SyncResult(str(table.name), (), latest)
    missing = [c for c in store.history(after=gaps[0] - 1) if c.version not in known]
    recorded = []
    loaded: dict[int, Snapshot] = {}
    for commit in missing:
        snapshot = (
            store.snapshot(table=dt) if commit.version == latest else store.snapshot(commit.version)
        )
        loaded[commit.version] = snapshot
        previous = loaded.get(commit.version - 1) or _snapshot_or_none(store, commit.version - 1)
        catalog.record_commit(table, commit, snapshot, previous=previous)
        recorded.append(commit.version)
    return SyncResult(str(table.name), tuple(recorded), latest)


def _snapshot_or_none(store: DeltaStore, version: int) -> Snapshot | None:
    if version < 0:
        return None
    try:
        return store.snapshot(version)
    except VersionNotFound:
        return None
