"""Bringing the catalog up to date with the Delta log.

The Delta log is the truth for data. A version committed to Delta but not recorded in
the catalog (the writer died in between, or another tool wrote the table) is recorded
here, with the run that made it when the commit carries a run id, and with everything
that run prepared (see ``catalog.recording``). Runs every time a table is touched, and on
``lake catalog sync``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from catalog.catalog import Catalog
from catalog.records import check_behind, check_recorded
from catalog.tables import EXTERNAL_KIND, TableInfo
from lake.core.errors import (
    CatalogOutdated,
    CatalogUnreachable,
    LakeError,
    TableLogGone,
    TableNotFound,
    VersionNotFound,
)
from lake.delta.snapshot import Commit, Snapshot
from lake.delta.store import DeltaStore

OLDEST_KEY = "oldest_version"
"""A registered table's property: its oldest version the log could rebuild when it was
registered (versions before it were cleaned up by its writer and are never recorded)."""


@dataclass(frozen=True)
class SyncResult:
    table: str
    recorded: tuple[int, ...]
    """Versions recorded by this sync (empty when the catalog was current)."""
    latest: int | None
    released: tuple[str, ...] = ()
    """Runs whose commit was in doubt and is not in the log: their claims let go by this
    sync (``settle``), so a write may take what they had taken."""
    error: str | None = None
    """Why this table could not be synced (one sentence naming it), when it could not."""

    def to_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "recorded": list(self.recorded),
            "latest": self.latest,
            "released": list(self.released),
            "error": self.error,
        }


def sync_tables(
    catalog: Catalog,
    tables: Iterable[TableInfo],
    store_of: Callable[[TableInfo], DeltaStore],
    *,
    keep_going: bool = True,
) -> list[SyncResult]:
    """The user's sync (``lake catalog sync``): each table's log checked (``check``) and
    its claims in doubt settled. With ``keep_going`` a table that fails is reported in its
    result's ``error`` and the others are still synced, so one damaged table does not hold
    back the rest; a catalog that cannot be used fails them all and stops the sync at once.

    Raises:
        LakeError: without ``keep_going``, the first table's failure.
    """
    results = []
    for table in tables:
        try:
            results.append(sync_table(catalog, store_of(table), table, settle=True, check=True))
        except (CatalogUnreachable, CatalogOutdated):
            raise
        except LakeError as error:
            if not keep_going:
                raise
            said = str(error)
            results.append(
                SyncResult(
                    str(table.name),
                    (),
                    None,
                    error=f"{table.name} was not synced: {said[:1].lower()}{said[1:]}",
                )
            )
    return results


def sync_table(
    catalog: Catalog,
    store: DeltaStore,
    table: TableInfo,
    *,
    reap: bool = True,
    settle: bool = False,
    check: bool = False,
) -> SyncResult:
    """Record every Delta version of ``table`` newer than the catalog's newest record, then
    mark failed the runs whose process died before committing (see ``Catalog.reap_dead_runs``;
    ``reap=False`` for a writer about to start a run, which reaps them itself).

    ``settle`` (``lake catalog sync``): then let go of the claims kept for runs whose commit
    was in doubt and is not in the log (``Catalog.settle_claims_in_doubt``). Only the user's
    sync does: a writer's own look at the log may come before such a commit lands.

    ``check`` (``lake catalog sync``): also look for the newest recorded version's entry, so
    a log that is gone is reported rather than called current (an entry after it that is
    damaged is read, and reported, either way).

    Raises:
        TableLogGone: the table's log is gone although the catalog records versions of it.
        StorageError: the log could not be read (its storage, or an entry that is damaged).
    """
    result = _record_missing(catalog, store, table, check=check)
    if reap:
        catalog.reap_dead_runs()
    if settle:
        result = replace(result, released=tuple(catalog.settle_claims_in_doubt(table)))
    return result


def _record_missing(
    catalog: Catalog, store: DeltaStore, table: TableInfo, *, check: bool
) -> SyncResult:
    through: int | None = table.versions_through
    if through is None:  # not known when the table was read: asked (and counted) now
        through = catalog.recorded_through(table)
    elif through < 0:
        through = None
    if (
        through is not None
        and table.kind != EXTERNAL_KIND
        and not store.has_version(through + 1)
        and (not check or store.has_version(through))
    ):
        # The common case, told by one look-up: the log has nothing after the catalog's newest
        # record. Loading the latest log instead lists it, which grows with the log on a local
        # disk. The lake's own logs are never cleaned, so a later version always has its entry.
        # The user's sync also looks for the newest recorded entry: a log that lost it (its
        # folder deleted) is opened below and reported, not called current. Opening every
        # log instead cost each table 10-25 ms of CPU, and on S3 a listing of its log.
        if check:
            _check_newest(catalog, store, table, through)
        return SyncResult(str(table.name), (), through)
    try:
        dt = store.open()
    except TableNotFound as error:
        if through is not None or table.current_version is not None:
            raise TableLogGone(
                table=str(table.name), recorded_through=table.current_version
            ) from error
        # Registered, but the first commit never happened (or failed): nothing to record.
        return SyncResult(str(table.name), (), table.current_version)
    latest = dt.version()
    if check and through is not None and latest < through:
        # another table with fewer versions: not called current, nor its prefix lowered
        check_behind(catalog.get_version(table, through), latest, table.name)
    if through == latest:
        if check:
            _check_newest(catalog, store, table, latest)
        return SyncResult(str(table.name), (), latest)  # the common case: nothing to record
    result = _record_gaps(catalog, store, table, latest)
    if table.kind != EXTERNAL_KIND and not int(table.properties.get(OLDEST_KEY, 0)):
        # Every version 0..latest is recorded now (some maybe out of order, by other
        # writers, which left the table's complete prefix behind): the next write asks one
        # look-up again instead of coming here.
        catalog.mark_recorded_through(table, latest)
    return result


def _check_newest(catalog: Catalog, store: DeltaStore, table: TableInfo, version: int) -> None:
    """The user's sync with nothing to record: refuse, as a read would, a log whose entry of
    the newest recorded ``version`` is not the version recorded (another table made at the
    location with as many versions; see :func:`catalog.records.check_recorded`). One
    snapshot of the log per table, on ``lake catalog sync`` only: a writer's own sync is
    refused by its commit, a reader by its read.

    Raises:
        TableLogReplaced: the log's version has other totals than the recorded one.
    """
    check_recorded(store.snapshot(version), catalog.get_version(table, version), table.name)


def _record_gaps(catalog: Catalog, store: DeltaStore, table: TableInfo, latest: int) -> SyncResult:
    """Record every version up to ``latest`` the catalog has not recorded."""
    known = catalog.recorded_versions(table)
    # Writers record their versions themselves, possibly out of order; look for gaps, not
    # only for versions past the newest record.
    oldest = int(table.properties.get(OLDEST_KEY, 0))
    gaps = sorted(set(range(oldest, latest + 1)) - known)
    if gaps and table.kind == EXTERNAL_KIND:
        # Its writer may have cleaned up more of the log since: those versions are gone.
        floor = store.oldest_version()
        if floor > oldest:
            catalog.set_table_properties(table.id, {OLDEST_KEY: floor})
            oldest = floor
            gaps = [g for g in gaps if g >= floor]
    if not gaps:
        return SyncResult(str(table.name), (), latest)
    missing = [c for c in store.history(after=gaps[0] - 1) if c.version not in known]
    if oldest:
        # Another engine's log: a version whose commit file was cleaned up (only its
        # checkpoint is left) has no entry in the history, but can still be read.
        listed = {c.version for c in missing}
        missing += [_unlogged(store, v) for v in gaps if v not in listed]
        missing.sort(key=lambda c: c.version)
    recorded = []
    loaded: dict[int, Snapshot] = {}
    walker = None  # one log moved forward version by version (see DeltaStore.open_after)
    for commit in missing:
        # Never the kept latest log (``dt``), even for the latest version: under concurrent
        # writers its version number can trail its files (see ``DeltaStore.snapshot``).
        walker = store.open_after(commit.version, walker)
        snapshot = store.snapshot(table=walker)
        loaded[commit.version] = snapshot
        previous = loaded.get(commit.version - 1)
        if previous is None:
            previous = _snapshot_or_none(store, commit.version - 1)
            if previous is not None and commit.version - 1 in known:
                # A version recorded before this gap: if the log's is another, the table was
                # made again at its location, and this commit continues that other table.
                check_recorded(previous, catalog.get_version(table, commit.version - 1), table.name)
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


def _unlogged(store: DeltaStore, version: int) -> Commit:
    """The commit of a version whose log entry is gone (only a checkpoint holds it)."""
    snapshot = store.snapshot(version)
    return Commit(
        version=version,
        committed_at=snapshot.committed_at,
        operation="UNKNOWN",
        run_id=None,
        metrics={},
        parameters={},
    )
