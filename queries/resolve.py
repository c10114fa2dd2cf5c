"""Which lake table a name means, and which exact version a query reads of it.

Every table a query reads is pinned to one version before the query runs: the latest
recorded version, or the one a time-travel clause names. A commit the catalog has not
recorded yet (its writer died, or another tool wrote the table) is recorded first with
:func:`lake.landing.sync.sync_table`, so it is never missed.

Looking for such a commit must not cost a full read of the Delta log on every query (tens
of milliseconds, more on S3): the catalog knows the newest recorded version ``N``, and a
newer commit exists exactly when the log holds ``N+1``, one existence check. Only then (or
for a time-travel clause the catalog cannot answer) is the table synced.

A query that only reads may ask that check while it runs (``defer_checks``): it reads the
recorded version and is run again, pinned after the newer commit, when the check says there
was one (:meth:`Resolver.newer_commit_seen`). Either way the answer is of a version that was
the latest at a moment between the call and its return: on S3 the check's round trip then
costs nothing beside the query's own time.

A version's file list never changes, so snapshots are cached per process, each with the
identity of the log entry it was read from (:func:`lake.delta.log.entry_identity`). A table
deleted and made again at its location by another tool, with no more versions than the
catalog recorded, makes no newer commit to see: a cached snapshot's entry is looked at again
(a ``stat`` locally, every query; on S3 one HEAD, at most once every
:data:`RECHECK_S3_SECONDS`, so a warm query still makes one request), and when it is another
entry, or there is none to compare (unknown is not "the same"), the location's cached
snapshots and DuckDB's cached files go, and the log is read again
(:func:`catalog.records.check_recorded` then refuses a version that is not the one recorded).
A version read from its checkpoint, its entry removed by log cleanup or a lifecycle rule, is
told by its checkpoint's identity: it was read again at every look, each time dropping
DuckDB's cached files of the whole warehouse.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from catalog.reader import CatalogReader, full_catalog
from catalog.records import TableInfo, VersionInfo, check_behind, check_recorded
from lake.core.errors import TableLogGone, TableNotFound, VersionLogCleaned, VersionNotFound
from lake.core.names import DEFAULT_NAMESPACE, TableName, TableVersion
from lake.core.storage import Storage
from lake.delta.log import CommitCheck, entry_identity, has_commit_after
from lake.delta.snapshot import Snapshot
from lake.delta.store import DeltaStore
from queries import session
from queries.exceptions import TimeTravelError, UnknownTable
from queries.statement import TableReference, TimeTravel

if TYPE_CHECKING:
    from catalog.catalog import Catalog

SNAPSHOT_CACHE_SIZE = 64
RECHECK_S3_SECONDS = 60.0
"""How long a long-lived process answers from a cached snapshot on S3 before it looks at its
log entry again (a table made again at its location is seen within this)."""


@dataclass
class _Cached:
    snapshot: Snapshot
    committed_at: datetime
    entry: str | None
    """The log entry's identity when the snapshot was read (None: not known)."""
    checked: float
    """``time.monotonic()`` when the entry was last looked at."""


_snapshots: OrderedDict[tuple[str, int, str, int], _Cached] = OrderedDict()
_snapshots_lock = threading.Lock()


@dataclass(frozen=True)
class ResolvedTable:
    """A lake table a query reads, pinned to one version, with what reading it takes."""

    pinned: TableVersion
    """The version read; its ``committed_at`` is the catalog's (``Snapshot.committed_at`` of
    an old version is not reliable: it is read from the newest commit of the log)."""
    info: TableInfo
    snapshot: Snapshot
    """The version's files and schema."""


class Resolver:
    """Resolves the names of one query against the catalog (read once per query)."""

    def __init__(
        self, catalog: Catalog | CatalogReader, storage: Storage, *, defer_checks: bool = False
    ) -> None:
        """``defer_checks``: pin the latest version the catalog recorded and leave the check
        for a newer commit running; the caller must ask :meth:`newer_commit_seen` before it
        trusts anything read, and start again with a resolver that does not defer when it
        says yes."""
        self.catalog = catalog
        self.storage = storage
        # The tables looked up so far (None: no such table), read on first need: a query
        # reads the catalog rows of the tables it names, not the whole list (which a lake of
        # a hundred tables made 1-2 ms of every query).
        self._tables: dict[TableName, TableInfo | None] = {}
        self._all: list[TableName] | None = None
        self._latest: dict[TableName, TableInfo] = {}
        self._defer = defer_checks
        self._checks: list[CommitCheck] = []

    def newer_commit_seen(self) -> bool:
        """Whether a table pinned without waiting for its check had a newer commit (then what
        was read is not the latest); waits for the checks.

        Raises:
            StorageError: the warehouse could not be read.
        """
        return any([check.newer() for check in self._checks])

    def look_up(self, refs: Iterable[TableReference]) -> None:
        """Read the catalog rows of every table ``refs`` may mean, in one query (before
        :meth:`lake_name` asks of each)."""
        self._read({c for c in map(_candidate, refs) if c is not None})

    def _read(self, names: set[TableName]) -> None:
        wanted = names - self._tables.keys()
        if wanted:
            found = self.catalog.find_tables(wanted)
            self._tables.update({name: found.get(name) for name in wanted})

    def known(self) -> list[str]:
        """Every table of the lake (for error messages: the whole list is read only then)."""
        if self._all is None:
            self._all = [info.name for info in self.catalog.list_tables()]
        return sorted(str(name) for name in self._all)

    def known_phrase(self) -> str:
        names = self.known()
        if not names:
            return "The lake has no tables yet."
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        # The list is read after the names were looked up: a table registered in between is
        # in it, and the sentence before would contradict it without this one.
        missed = sorted(str(n) for n, info in self._tables.items() if info is None)
        since = [n for n in missed if n in names]
        if since:
            return (
                f"Lake tables: {shown}; {', '.join(since)} was registered while the query ran: "
                f"run it again."
            )
        return f"Lake tables: {shown}."

    def registered_since(self) -> bool:
        """Whether a name this resolver found no table for is a lake table now (registered
        while the query ran: an error saying it is unknown is of a moment already past)."""
        missed = {name for name, info in self._tables.items() if info is None}
        return bool(missed) and bool(self.catalog.find_tables(missed))

    def lake_name(self, ref: TableReference) -> TableName | None:
        """The lake table a reference means, or None when it is a CTE or not a lake table.

        ``ns.t`` is a lake table when the catalog has it; a bare ``t`` means ``default.t``
        only when that table exists (otherwise it is left to DuckDB: a CTE, a view, a
        function's table)."""
        candidate = _candidate(ref)
        if candidate is None:
            return None
        if candidate not in self._tables:
            self.look_up([ref])
        return candidate if self._tables[candidate] is not None else None

    def resolve(
        self,
        name: TableName,
        travel: TimeTravel | None,
        *,
        where: str,
        evaluate: Callable[[str], datetime],
    ) -> ResolvedTable:
        """Pin ``name`` to one version.

        Raises:
            TimeTravelError: the version does not exist, the time is before the table
                existed, or the table has no version at all.
        """
        info, version = self.version(name, travel, where=where, evaluate=evaluate)
        store = DeltaStore(info.location, self.storage, name=str(info.name))
        snapshot, committed_at = self._snapshot(info, store, version, name, where)
        return ResolvedTable(
            TableVersion(name, snapshot.version, committed_at, info.id), info, snapshot
        )

    def check_log(self, resolved: ResolvedTable) -> None:
        """Read ``resolved``'s version from the log again, past this process's cache, and
        refuse it when it is not the version recorded: for a read that met the cached files
        missing. The cached snapshot is dropped either way (the next query reads the log).

        Raises:
            TableLogReplaced: another table was made at the location since it was cached.
        """
        info, pinned = resolved.info, resolved.pinned
        with _snapshots_lock:
            _snapshots.pop((self.catalog.url, info.id, info.location, pinned.version), None)
        store = DeltaStore(info.location, self.storage, name=str(info.name))
        recorded = self.catalog.get_version(info, pinned.version)
        try:
            snapshot = store.snapshot(pinned.version)
        except VersionNotFound:
            self._check_behind(store, recorded, pinned.table)
            return  # the caller's own error names what is missing
        except TableNotFound:
            return
        check_recorded(snapshot, recorded, pinned.table)

    @staticmethod
    def _check_behind(store: DeltaStore, recorded: VersionInfo, name: TableName) -> None:
        """For a recorded version the log no longer has: refuse a log whose latest is older
        (another table with fewer versions; see ``catalog.records.check_behind``). An older
        version's entry cleaned up by another engine's log retention passes.

        Raises:
            TableLogReplaced: the log's latest is older than ``recorded``.
        """
        try:
            latest = store.latest_version()
        except TableNotFound:
            return
        check_behind(recorded, latest, name)

    def version(
        self,
        name: TableName,
        travel: TimeTravel | None,
        *,
        where: str,
        evaluate: Callable[[str], datetime],
    ) -> tuple[TableInfo, int]:
        """The version :meth:`resolve` pins ``name`` to, and the table as the catalog then
        knows it, without reading that version's files (a cache check needs no more).

        Raises:
            TimeTravelError: as :meth:`resolve`.
        """
        info = self._tables.get(name)
        if info is None:
            self._read({name})
            info = self._tables[name]
            if info is None:
                raise UnknownTable(f"Table {name}{where} does not exist. {self.known_phrase()}")
        store = DeltaStore(info.location, self.storage, name=str(info.name))
        if travel is None:
            info = self._current(name, info, store)
            if info.current_version is None:
                raise TimeTravelError(
                    f"Table {name}{where} has no committed version yet; write to it first."
                )
            version = info.current_version
        elif travel.version is not None:
            version = self._existing_version(name, info, store, travel, where)
        else:
            moment = (
                travel.moment if travel.moment is not None else evaluate(travel.expression or "")
            )
            version = self._version_at(name, info, store, moment, travel, where)
        return info, version

    # -- internals ---------------------------------------------------------------------------

    def _current(self, name: TableName, info: TableInfo, store: DeltaStore) -> TableInfo:
        if name in self._latest:
            return self._latest[name]
        if info.current_version is None:
            info = self._sync(info, store)
        elif self._defer:
            check = CommitCheck(self.storage, store.uri, info.current_version)
            if check.pending:
                self._checks.append(check)
            elif check.newer():
                info = self._sync(info, store)
        elif has_commit_after(self.storage, store.uri, info.current_version):
            info = self._sync(info, store)
        self._latest[name] = info
        return info

    def _sync(self, info: TableInfo, store: DeltaStore) -> TableInfo:
        from lake.landing.sync import sync_table

        sync_table(full_catalog(self.catalog), store, info)
        # re-read even when this sync recorded nothing: another process may have recorded
        # the newer commit in between
        refreshed = self.catalog.get_table(info.name)
        self._tables[info.name] = refreshed
        return refreshed

    def _existing_version(
        self, name: TableName, info: TableInfo, store: DeltaStore, travel: TimeTravel, where: str
    ) -> int:
        wanted = travel.version
        assert wanted is not None
        if self.catalog.find_version(info, wanted) is None:
            info = self._sync(info, store)
            if self.catalog.find_version(info, wanted) is None:
                latest = info.current_version
                from lake.landing.sync import OLDEST_KEY

                oldest = int(info.properties.get(OLDEST_KEY, 0))
                if 0 <= wanted < oldest and latest is not None:
                    raise TimeTravelError(
                        f"Version {wanted} of {name} can no longer be read ({travel.clause}"
                        f"{where}): its writer cleaned up the Delta log before version {oldest}; "
                        f"versions {oldest} to {latest} can be read."
                    )
                raise TimeTravelError(
                    f"Version {wanted} of {name} does not exist ({travel.clause}{where}); the "
                    f"latest is "
                    f"{latest if latest is not None else 'none: the table has no version yet'}."
                )
        return wanted

    def _version_at(
        self,
        name: TableName,
        info: TableInfo,
        store: DeltaStore,
        moment: datetime,
        travel: TimeTravel,
        where: str,
    ) -> int:
        now = datetime.now(UTC)
        if moment > now:
            # Versions written from now until then would change the answer: a pipeline that
            # pinned it would read other rows on its next run. Delta refuses such a time too.
            raise TimeTravelError(
                f"{travel.clause}{where} asks for {name} at {moment.isoformat()}, which is "
                f"later than now ({now.isoformat(timespec='seconds')}): versions written until "
                f"then would change the answer; use a time up to now, or VERSION AS OF a "
                f"version."
            )
        # A commit the catalog missed may be the answer: record it before asking.
        info = self._sync(info, store)
        try:
            return self.catalog.version_at(info, moment).version
        except VersionNotFound as error:
            from lake.landing.sync import OLDEST_KEY

            versions = self.catalog.versions(info)
            oldest = int(info.properties.get(OLDEST_KEY, 0))
            first = (
                f"its {'oldest readable' if oldest else 'first'} version was committed at "
                f"{versions[0].committed_at.isoformat()}"
                if versions
                else "it has no version yet"
            )
            raise TimeTravelError(
                f"Table {name} did not exist at {moment.isoformat()} "
                f"({travel.clause}{where}); {first}."
            ) from error

    def _snapshot(
        self, info: TableInfo, store: DeltaStore, version: int, name: TableName, where: str
    ) -> tuple[Snapshot, datetime]:
        key = (self.catalog.url, info.id, info.location, version)
        with _snapshots_lock:
            found = _snapshots.get(key)
            if found is not None:
                _snapshots.move_to_end(key)
        if found is not None and self._still_read(found, store, version, info.location):
            return found.snapshot, found.committed_at
        recorded = self.catalog.get_version(info, version)
        # Before the log is read: an entry written again meanwhile is seen as another next time.
        entry = entry_identity(self.storage, store.uri, version)
        try:
            snapshot = store.snapshot(version)
        except TableNotFound as error:
            raise TableLogGone(table=str(name), recorded_through=info.current_version) from error
        except VersionNotFound as error:
            self._check_behind(store, recorded, name)
            if isinstance(error, VersionLogCleaned):
                raise TimeTravelError(
                    f"Version {version} of {name}{where} can no longer be read: its writer "
                    f"cleaned up the Delta log before version {error.oldest} (log retention); "
                    f"{error.remedy}"
                ) from error
            raise TimeTravelError(
                f"Version {version} of {name}{where} cannot be read: its Delta log entry is "
                f"gone; put it back from a backup, or read another version."
            ) from error
        check_recorded(snapshot, recorded, name)
        with _snapshots_lock:
            _snapshots[key] = _Cached(snapshot, recorded.committed_at, entry, time.monotonic())
            while len(_snapshots) > SNAPSHOT_CACHE_SIZE:
                _snapshots.popitem(last=False)
        return snapshot, recorded.committed_at

    def _still_read(self, cached: _Cached, store: DeltaStore, version: int, location: str) -> bool:
        """Whether a cached snapshot's log entry is still the one it was read from (looked at
        again when due, see the module docstring); when it is not, every cached snapshot of
        the location and DuckDB's cached files are dropped."""
        now = time.monotonic()
        if store.uri.startswith("s3://") and now - cached.checked < RECHECK_S3_SECONDS:
            return True
        entry = entry_identity(self.storage, store.uri, version)
        if entry is not None and entry == cached.entry:
            cached.checked = now
            return True
        # Another entry, or none to compare (neither entry nor checkpoint when the snapshot
        # was read, or now): not known to be the same table, read again.
        with _snapshots_lock:
            for key in [k for k in _snapshots if k[2] == location]:
                del _snapshots[key]
        session.forget_lake_files(self.storage)
        return False


def _candidate(ref: TableReference) -> TableName | None:
    """The lake table a reference would mean, if the catalog has it (a CTE's name never)."""
    if ref.shadowed or len(ref.parts) > 2:
        return None
    namespace, name = ref.parts if len(ref.parts) == 2 else (DEFAULT_NAMESPACE, ref.parts[0])
    return TableName(namespace, name)


def unknown_time_travel(ref: TableReference, known: str) -> UnknownTable:
    return UnknownTable(
        f"{ref.name} (line {ref.line}, column {ref.column}) is not a lake table, so "
        f"{ref.time_travel.clause if ref.time_travel else 'time travel'} cannot apply to it. "
        f"{known}",
        line=ref.line,
        column=ref.column,
    )
