"""The table format: Delta Lake tables on the warehouse, through deltalake (delta-rs).

The Delta log is the truth for data: which files make each version, and when it was
committed. Every commit the lake makes carries the id of the run that made it in its
commit info (``lake.run_id``), so the catalog can always tell which run produced which
version, even when a process died between the Delta commit and the catalog write.

This module is the only one that calls deltalake; its errors are translated here.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from lake.core import background, objects
from lake.core.config import location_problem
from lake.core.errors import (
    CommitConflict,
    CommitInDoubt,
    ConstraintViolation,
    LakeError,
    PartitionValueInvalid,
    SchemaConflict,
    StorageError,
    TableNotFound,
    UnsupportedLocation,
    UnsupportedTableFeature,
    VersionLogCleaned,
    VersionNotFound,
    VersionVacuumed,
)
from lake.core.failpoints import failpoint
from lake.core.storage import Storage
from lake.delta.deletion import DeletionVector, DeletionVectorError, inline_rows, stored_rows
from lake.delta.encoding import ROW_GROUP_ROWS, SAMPLE_ROWS, archived_columns
from lake.delta.evolution import conform
from lake.delta.log import entry_name, has_entry, read_entry
from lake.delta.mapping import PHYSICAL_NAME, logical_names, physical_names, write_physical
from lake.delta.partitions import folder_name, read_text
from lake.delta.requirements import (
    COLUMN_MAPPING,
    COLUMN_MAPPING_FEATURE,
    WriterRequirements,
    append_only_refusal,
    mapping_mode,
    writer_requirements,
)
from lake.delta.snapshot import (
    Commit,
    DataFile,
    LoggedRanges,
    Snapshot,
    StagedFile,
    in_file_order,
)
from lake.delta.stats import BoundedWriter, file_stats, stats_text
from lake.delta.types import (
    from_delta_schema,
    has_timestamp_ntz,
    same_schema,
    to_delta_schema,
)

if TYPE_CHECKING:
    import deltalake
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger("lake")

RUN_ID_KEY = "lake.run_id"
OPERATION_KEY = "lake.operation"

TARGET_FILE_BYTES = 256 * 1024 * 1024
MERGE_RETRIES = 8
APPEND_ATTEMPTS = 8
TAKEN_RETRIES = 50
"""Versions in a row an append may find taken by other writers before it gives up."""
RUN_TXN_PREFIX = "lake.run:"
"""The application id of a guarded commit's transaction action, before its run id (see
``_commit_properties``); only a retried rewrite sets one, so the log's transaction ids grow
by one per such retry, not per commit."""
ENTRY_PUTS = 2
"""Times the lake's own log entry is sent when its PUT fails and no entry is found: a second
PUT settles what a first one that got no answer left in doubt, unless it fails too."""
# Every reader and writer replays the log from the last checkpoint; delta-rs's default of
# 100 commits between checkpoints made each open of a busy S3 table read up to 100 files.
TABLE_CONFIGURATION = {
    "delta.checkpointInterval": "10",
    # Every version stays readable (time travel is the lake's promise): other engines must
    # not clean the log either.
    "delta.enableExpiredLogCleanup": "false",
}
KEPT_TABLES = 64
"""Tables whose latest log each thread keeps loaded (see :func:`_kept`)."""
SAMPLE_FILES = 4
"""Files a compaction reads the first rows of to choose its encodings (see
``DeltaStore._compaction_sample``)."""
SINGLE_PUT_BYTES = 8 << 20
"""Files up to this size are uploaded to S3 in one request."""
PREFETCH_FILES = 16
"""Small files a compaction on S3 has asked for ahead of the one it reads (see
``DeltaStore._prefetched``)."""
OWN_COMMIT_WRITER_FEATURES = frozenset({"appendOnly", "invariants", "timestampNtz"})
"""Writer features under which an append is its add actions alone (see ``_commit_own``)."""
OWN_MAPPED_APPEND_WRITER_FEATURES = OWN_COMMIT_WRITER_FEATURES | {
    COLUMN_MAPPING_FEATURE,  # files written under their physical names (see ``publish``)
    # Files added without a deletion vector ask nothing of their writer (PROTOCOL.md "Writer
    # Requirement for Deletion Vectors"); Databricks turns the feature on for new tables.
    "deletionVectors",
}
"""Writer features under which an append to a column-mapped table is the lake's own commit:
deltalake's commit cannot take one (see :mod:`lake.delta.mapping`)."""
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_\-./=]+")
_THREAD = threading.local()


def _commit_times() -> dict[tuple[object, ...], datetime]:
    """This thread's commit times of versions it has read or made, by table and version: a
    version's time never changes, and on S3 reading it again is a request of its own on every
    write (the next write's base is the version the last one made)."""
    times = getattr(_THREAD, "commit_times", None)
    if times is None:
        times = _THREAD.commit_times = {}
    return times


def _remember_time(key: tuple[object, ...], version: int, moment: datetime) -> None:
    times = _commit_times()
    while len(times) >= KEPT_TABLES:
        times.pop(next(iter(times)))
    times[(*key, version)] = moment


def _ours() -> dict[tuple[object, ...], Snapshot]:
    """This thread's snapshot of the newest version it appended itself, by table: while the
    log has no entry after it, it is the table's latest version, and the next append plans on
    it without loading the log (which reads a listing of the log and its newest entries: on
    S3 a listing and four reads, on a local disk a listing that grows with the log)."""
    ours = getattr(_THREAD, "ours", None)
    if ours is None:
        ours = _THREAD.ours = {}
    return ours


def _derived() -> dict[tuple[object, ...], Snapshot]:
    """This thread's snapshots of versions its own appends made, told from the version they
    were committed on and the files they added (see :meth:`DeltaStore.append`), each kept
    until :meth:`DeltaStore.snapshot` hands it out once: loading the new version by its
    number instead was the largest single cost of a 100-row append (5.6 of 29 ms)."""
    derived = getattr(_THREAD, "derived", None)
    if derived is None:
        derived = _THREAD.derived = {}
    return derived


def _marks() -> dict[tuple[object, ...], tuple[int, bytes]]:
    """This thread's mark of each table it keeps anything of (a loaded log, snapshots, commit
    times): a version of the log it kept them from and the digest of that version's log
    entry. A table's folder can be deleted and a new table made at the same location; what
    was kept of the old one must then not stand for the new one (its next append was
    committed as version N+1 of a log that had no version N: a failed commit on a local disk,
    a broken table on S3). Every entry holds its commit's run id and time, so the entry of
    the marked version is the same only in the same table (see
    :meth:`DeltaStore._check_kept`)."""
    marks = getattr(_THREAD, "marks", None)
    if marks is None:
        marks = _THREAD.marks = {}
    return marks


def _digest(entry: bytes) -> bytes:
    return hashlib.sha256(entry).digest()


def _checkpointed() -> dict[tuple[object, ...], deltalake.DeltaTable]:
    """This thread's log of each table at the version it last wrote a checkpoint of (on S3,
    where the checkpoint is written on the writer's thread, see
    :meth:`DeltaStore._checkpoint_if_due`): the next checkpoint moves it to its own version
    by number, reading only the commits in between, where a fresh load at that version also
    read ``_last_checkpoint``, the listing and the previous checkpoint's Parquet (11 GETs on
    moto) before deltalake's checkpoint read the segment again. Moved only by
    ``load_as_version`` with an explicit version, never to "the latest"."""
    kept = getattr(_THREAD, "checkpointed", None)
    if kept is None:
        kept = _THREAD.checkpointed = {}
    return kept


def _kept() -> dict[tuple[object, ...], deltalake.DeltaTable]:
    """This thread's loaded logs, by table: a fresh load replays the log from the last
    checkpoint (6 ms of a 100-row append, seven times over before the log was kept), while
    bringing a kept one up to date reads only the commits since. Per thread, because a
    DeltaTable is not to be shared between threads; oldest dropped first past KEPT_TABLES."""
    kept = getattr(_THREAD, "tables", None)
    if kept is None:
        kept = _THREAD.tables = {}
    return kept


class DeltaStore:
    """A Delta table at one location of the warehouse."""

    def __init__(self, uri: str, storage: Storage, *, name: str | None = None) -> None:
        """``name``: the table's name in the catalog, for errors that a user must act on
        (its location otherwise).

        Raises:
            UnsupportedLocation: deltalake would read another folder than the lake's other
                readers (a table registered before such locations were refused, see
                :func:`lake.core.config.location_problem`).
        """
        problem = location_problem(uri)
        if problem:
            what, avoid = problem
            raise UnsupportedLocation(
                f"The table location {uri} {what}; move the table to a location without "
                f"{avoid} and register it there under another name."
            )
        self.uri = uri
        self.storage = storage
        self.name = name
        self._key = (uri, tuple(sorted(storage.delta_options().items())))
        self._absent: int | None = None
        """A version :meth:`has_version` just found missing (see there)."""
        self._checked = False
        """Whether what this thread keeps of the table was checked against its log (see
        :meth:`_check_kept`)."""
        self._ahead: tuple[int, int, _CheckAndLook] | None = None
        """The check and the look :meth:`look_ahead` sent: (marked version, looked-for
        version, their answers to come)."""

    def __repr__(self) -> str:
        return f"DeltaStore({self.uri!r})"

    # -- reading -------------------------------------------------------------------------------

    @property
    def _latest(self) -> deltalake.DeltaTable | None:
        return _kept().get(self._key)

    @_latest.setter
    def _latest(self, table: deltalake.DeltaTable | None) -> None:
        kept = _kept()
        kept.pop(self._key, None)
        if table is not None:
            kept[self._key] = table
            while len(kept) > KEPT_TABLES:
                kept.pop(next(iter(kept)))

    def _check_kept(self) -> None:
        """Drop what this thread keeps of the table (see :func:`_marks`) unless the log still
        holds the marked version's entry as it was: once per store, which is once per write
        (a write makes its own store), so one read of a small entry. Without a mark nothing
        kept can be trusted."""
        if self._checked:
            return
        mark = _marks().get(self._key)
        entry: bytes | BaseException | None = None
        if mark is not None:
            try:
                entry = self._entry(mark[0])
            except OSError as error:  # no entry there: another table, or none
                entry = error
        self._checked_kept_with(entry)

    def _checked_kept_with(self, entry: bytes | BaseException | None) -> None:
        """:meth:`_check_kept` with the marked version's entry already read (or the error
        reading it raised; None: nothing was marked, so nothing was read)."""
        self._checked = True
        mark = _marks().get(self._key)
        if mark is None or not isinstance(entry, bytes) or _digest(entry) != mark[1]:
            self._forget()

    def _entry(self, version: int) -> bytes:
        """The log entry of ``version`` for a writer (on S3 one GET).

        Raises:
            OSError: there is none, or the storage failed.
        """
        return read_entry(self.storage, self.uri, version)

    def _entry_path(self, version: int) -> str:
        """The ``bucket/key`` of the log entry of ``version`` (on S3)."""
        _, base = self.storage.filesystem_for(self.uri)
        return f"{base.rstrip('/')}/{entry_name(version)}"

    def kept_snapshot(self) -> Snapshot | None:
        """This thread's snapshot of the newest version it appended itself, not checked
        against the log: a guess to start work on before the write's own look at the table
        (which decides; see ``lake.landing.commits.send_ahead``)."""
        return _ours().get(self._key)

    def look_ahead(self) -> None:
        """On S3, when this thread keeps the table's log: send what a write's first look at
        the table asks (:meth:`_check_kept_and_look`, for the version after the kept one)
        now, without waiting for the answers, so they come while the caller does other work
        (the catalog's first transaction). :meth:`has_version` takes them when it asks for
        that version; otherwise they are dropped. Elsewhere it does nothing."""
        mark = _marks().get(self._key)
        if not self.storage.is_s3 or self._checked or mark is None or self._ahead is not None:
            return
        self._ahead = (mark[0], mark[0] + 1, self._send_check_and_look(mark[0], mark[0] + 1))

    def _send_check_and_look(self, marked: int, version: int) -> _CheckAndLook:
        """The GET of ``marked``'s entry and the HEAD of ``version``'s, sent together on the
        process's request threads (:func:`lake.core.objects.send`)."""
        return (
            objects.send(objects.get, self.storage, self._entry_path(marked)),
            objects.send(objects.exists, self.storage, self._entry_path(version)),
        )

    def _check_kept_and_look(self, marked: int, version: int) -> bool | None:
        """On S3: the check of what this thread keeps (:meth:`_check_kept`, a GET of the
        marked version's entry) and the look for the entry of ``version`` (a HEAD), sent at
        once (or taken from :meth:`look_ahead`): a write asks both first, and one after the
        other they were two round trips of every append. None when the HEAD failed
        otherwise than by a missing key (the caller asks again the usual way, for the usual
        error)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[:2] == (marked, version):
            sent = ahead[2]
        else:
            if ahead is not None:
                for future in ahead[2]:
                    future.cancel()
            sent = self._send_check_and_look(marked, version)
        entry, found = (_answer(future) for future in sent)
        self._checked_kept_with(entry)  # type: ignore[arg-type]
        if not isinstance(found, bool):
            return None
        return found

    def _forget(self) -> None:
        """Drop everything this thread keeps of the table."""
        for kept in (_kept(), _ours(), _marks(), _checkpointed()):
            kept.pop(self._key, None)
        for versions in (_commit_times(), _derived()):
            for key in [k for k in versions if k[: len(self._key)] == self._key]:
                del versions[key]

    def _mark(self, version: int, entry: bytes) -> None:
        """Mark what this thread keeps of the table as kept from the log whose entry of
        ``version`` is ``entry``. Marked where the entry is at hand (a commit's own, one read
        for its commit time): kept state left unmarked is dropped at the next check."""
        marks = _marks()
        marks.pop(self._key, None)
        while len(marks) >= KEPT_TABLES:
            marks.pop(next(iter(marks)))
        marks[self._key] = (version, _digest(entry))

    def exists(self) -> bool:
        from deltalake import DeltaTable

        self._check_kept()
        if self._latest is not None:
            return True
        try:
            return DeltaTable.is_deltatable(self.uri, storage_options=self.storage.delta_options())
        except Exception as error:  # noqa: BLE001 - translated below
            raise self._translate(error, "checking") from error

    def open(self, version: int | None = None) -> deltalake.DeltaTable:
        """Load the table's log at ``version`` (default: the latest).

        Raises:
            TableNotFound: no Delta table is at this location.
            VersionNotFound: the version does not exist.
        """
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        if version is not None and version < 0:
            raise VersionNotFound(
                f"Version {version} of {self.uri} does not exist: versions start at 0."
            )
        self._check_kept()
        if version is None and self._latest is not None:
            try:
                self._latest.update_incremental()
                return self._latest
            except Exception:  # noqa: BLE001 - e.g. the log was cleaned: load it afresh below
                self._latest = None
        try:
            table = DeltaTable(
                self.uri, version=version, storage_options=self.storage.delta_options()
            )
            if version is None:
                self._latest = table
            return table
        except TableNotFoundError as error:
            if version is not None and self.exists():
                raise self._version_gone(version) from error
            raise TableNotFound(f"No Delta table at {self.uri}.") from error
        except Exception as error:  # noqa: BLE001
            if version is not None and _is_missing_version(error):
                latest = self.latest_version()
                raise VersionNotFound(
                    f"Version {version} of {self.uri} does not exist; the latest is {latest}."
                ) from error
            raise self._translate(error, "reading the log of") from error

    def _latest_afresh(self) -> deltalake.DeltaTable:
        """The latest version's log loaded afresh (kept when nothing was: :meth:`open`),
        never the kept one moved forward.

        Raises:
            TableNotFound: no Delta table is at this location.
        """
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        self._check_kept()
        if self._latest is None:
            return self.open()
        try:
            return DeltaTable(self.uri, storage_options=self.storage.delta_options())
        except TableNotFoundError as error:
            raise TableNotFound(f"No Delta table at {self.uri}.") from error
        except Exception as error:  # noqa: BLE001
            raise self._translate(error, "reading the log of") from error

    def latest_version(self) -> int:
        return self.open().version()

    def open_after(self, version: int, loaded: deltalake.DeltaTable | None) -> deltalake.DeltaTable:
        """The log at ``version``, moving ``loaded`` (a log opened at an older version by
        :meth:`open`, never the kept latest one) forward when given: it then reads only the
        commits in between. Recording the 200 versions of a registered table took 10.3 s
        opening each afresh, 2.1 s moving one forward."""
        if loaded is not None and loaded is not self._latest and loaded.version() < version:
            try:
                loaded.load_as_version(version)
                if loaded.version() == version:
                    return loaded
            except Exception:  # noqa: BLE001 - e.g. the log was cleaned: open it afresh below
                pass
        return self.open(version)

    def has_version(self, version: int) -> bool:
        """Whether the log holds the commit of ``version``: one look-up of its entry
        (:func:`lake.delta.log.has_entry`), however long the log (a log whose writer cleans
        up old entries may hold the version in a checkpoint only)."""
        if self._absent == version:
            # Asked again by the same write (its sync, the stage's look at the table, its
            # plan): answered once. A version committed in between makes this write's own
            # commit fail and go through deltalake's, on the log as it is then.
            return False
        found = None
        mark = _marks().get(self._key)
        if self.storage.is_s3 and not self._checked and mark is not None:
            found = self._check_kept_and_look(mark[0], version)
        if found is None:
            found = has_entry(self.storage, self.uri, version)
        self._absent = None if found else version
        return found

    def oldest_version(self) -> int:
        """The oldest version the Delta log can still rebuild: 0, unless the writer cleaned
        up the log's first entries (another engine's log retention), and then the oldest
        checkpoint from which every later commit is still in the log."""
        import pyarrow.fs as pafs

        fs, base = self.storage.filesystem_for(self.uri)
        try:
            infos = fs.get_file_info(pafs.FileSelector(f"{base.rstrip('/')}/_delta_log"))
        except OSError as error:
            raise self.storage.translate(error, self.uri) from error
        commits, checkpoints = _log_entries(info.base_name for info in infos)
        if not commits and not checkpoints:
            raise TableNotFound(f"No Delta table at {self.uri}.")
        latest = max(commits | checkpoints)
        starts = sorted(checkpoints | ({0} if 0 in commits else set()))
        for start in starts:
            if all(v in commits for v in range(start + 1, latest + 1)):
                return start
        return latest

    def _version_gone(self, version: int) -> VersionNotFound:
        """The error for a version the log cannot rebuild (see :meth:`oldest_version`)."""
        oldest = self.oldest_version()
        latest = self.latest_version()
        if version > latest:
            return VersionNotFound(
                f"Version {version} of {self.uri} does not exist; the latest is {latest}."
            )
        return VersionLogCleaned(where=self.uri, version=version, oldest=oldest, latest=latest)

    def check_readable(self, dt: deltalake.DeltaTable | None = None) -> None:
        """Refuse a table version whose files cannot be read as plain Parquet without
        returning wrong rows (see :func:`_unreadable`).

        Raises:
            UnsupportedTableFeature: naming the feature.
        """
        dt = dt or self.open()
        reason = _unreadable(dt)
        if reason is not None:
            raise UnsupportedTableFeature(
                f"Version {dt.version()} of the Delta table at {self.uri} {reason}."
            )

    def snapshot(
        self, version: int | None = None, *, table: deltalake.DeltaTable | None = None
    ) -> Snapshot:
        """The files, schema and commit time of one version.

        Raises:
            VersionVacuumed: the version's files were deleted by vacuum.
        """
        import pyarrow as pa

        self._check_kept()
        if table is None and version is not None:
            derived = _derived().pop((*self._key, version), None)
            if derived is not None:
                return derived
        if table is None and version is None:
            ours = _ours().get(self._key)
            if ours is not None and not self.has_version(ours.version + 1):
                return ours
        if table is not None:
            dt = table
        else:
            # A version is always loaded by its number, never taken from the kept latest log:
            # under concurrent writers that log's version number can trail its files (four
            # processes appending: version 28 was recorded with the files of 29).
            dt = self.open(version)
        self.check_readable(dt)
        # from_stream, not pa.table(): that asks first whether it was given a pandas frame,
        # and the asking imports pandas (a third of a small query's start-up).
        actions = pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()
        partition_columns = tuple(dt.metadata().partition_columns)
        paths = actions.column("path").to_pylist() if actions.num_rows else []
        sizes = actions.column("size_bytes").to_pylist() if actions.num_rows else []
        rows = (
            actions.column("num_records").to_pylist()
            if actions.num_rows and "num_records" in actions.column_names
            else [None] * len(paths)
        )
        deleted: list[tuple[int, ...]] = [()] * len(paths)
        if "deletionVectors" in (dt.protocol().reader_features or []):
            vectors = self._deletion_vectors(dt.version())
            deleted = [self._deleted_rows(vectors.get(unquote(p)), p, dt) for p in paths]
        if None in rows:  # a writer that kept no statistics: the files' footers tell
            rows = [
                n if n is not None else self._footer_rows(p)
                for p, n in zip(paths, rows, strict=True)
            ]
        partitions: list[dict[str, str | None]] = [{} for _ in paths]
        for column in partition_columns:
            values = actions.column(f"partition.{column}").to_pylist() if actions.num_rows else []
            for i, value in enumerate(values):
                partitions[i][column] = read_text(value)
        schema = _schema_of(dt)
        stored_names = physical_names(schema)
        logged = {}
        columns = set(actions.column_names)
        for f in schema:
            # The log keys statistics by a column's name in the data files: under column
            # mapping another column's logical name may be this one's physical name.
            stored = stored_names.get(f.name, f.name)
            low, high = f"min.{stored}", f"max.{stored}"
            if {low, high} <= columns and pa.types.is_timestamp(f.type) and f.type.tz:
                logged[f.name] = (
                    actions.column(low).combine_chunks(),
                    actions.column(high).combine_chunks(),
                )
        files = in_file_order(
            DataFile(
                uri=self._file_uri(path),
                path=path,
                size=size,
                rows=n - len(gone) if n is not None else None,
                partition_values=partition,
                time_ranges=LoggedRanges(logged, i),
                deleted_rows=gone,
            )
            for i, (path, size, n, partition, gone) in enumerate(
                zip(paths, sizes, rows, partitions, deleted, strict=True)
            )
        )
        return Snapshot(
            uri=self.uri,
            version=dt.version(),
            committed_at=self._commit_time(dt),
            schema=schema,
            partition_columns=partition_columns,
            files=files,
            physical_names=stored_names,
            configuration=dict(dt.metadata().configuration),
        )

    def _deletion_vectors(self, version: int) -> dict[str, DeletionVector]:
        """The deletion vector of each file of ``version`` that has one, by its (decoded)
        path: read from the log itself, since deltalake does not hand them out."""
        found = self._logged_adds(version)
        return {
            path: DeletionVector.from_action(add["deletionVector"])  # type: ignore[arg-type]
            for path, add in found.items()
            if add.get("deletionVector")
        }

    def _logged_adds(self, version: int) -> dict[str, Mapping[str, object]]:
        """The ``add`` action of each file of ``version`` as its log holds it, by its
        (decoded) path: the newest checkpoint at or before ``version`` (classic, multi-part,
        or v2 with its sidecars) and the commits after it; the newest ``add`` of a path wins
        (paths removed since are kept: look up only the version's own files)."""
        import pyarrow.fs as pafs

        fs, base = self.storage.filesystem_for(self.uri)
        log = f"{base.rstrip('/')}/_delta_log"
        try:
            names = [i.base_name for i in fs.get_file_info(pafs.FileSelector(log))]
        except OSError as error:
            raise self.storage.translate(error, self.uri) from error
        _, checkpoints = _log_entries(names)
        start = max((c for c in checkpoints if c <= version), default=None)
        found: dict[str, Mapping[str, object]] = {}
        if start is not None:
            for name in sorted(n for n in names if n.startswith(f"{start:020d}.checkpoint.")):
                for add in self._checkpoint_adds(fs, log, name):
                    found[unquote(str(add["path"]))] = add
        for number in range(start + 1 if start is not None else 0, version + 1):
            for action in self._log_actions(fs, f"{log}/{number:020d}.json"):
                add = action.get("add")
                if isinstance(add, Mapping):
                    found[unquote(str(add["path"]))] = add
        return found

    def _checkpoint_adds(self, fs: object, log: str, name: str) -> Iterator[Mapping[str, object]]:
        """The ``add`` actions of one checkpoint file, and of the sidecars a v2 checkpoint
        names."""
        sidecars: list[str] = []
        if name.endswith(".json"):
            for action in self._log_actions(fs, f"{log}/{name}"):
                if isinstance(action.get("add"), Mapping):
                    yield action["add"]  # type: ignore[misc]
                if isinstance(action.get("sidecar"), Mapping):
                    sidecars.append(str(action["sidecar"]["path"]))  # type: ignore[index]
        else:
            adds, sidecars = self._parquet_actions(fs, f"{log}/{name}")
            yield from adds
        for sidecar in sidecars:
            path = sidecar if "/" in sidecar else f"{log}/_sidecars/{sidecar}"
            yield from self._parquet_actions(fs, path)[0]

    def _parquet_actions(
        self, fs: object, path: str
    ) -> tuple[list[Mapping[str, object]], list[str]]:
        import pyarrow.parquet as pq

        try:
            with fs.open_input_file(path) as handle:  # type: ignore[attr-defined]
                parquet = pq.ParquetFile(handle)
                wanted = [c for c in ("add", "sidecar") if c in parquet.schema_arrow.names]
                table = parquet.read(columns=wanted)
        except OSError as error:
            raise self._translate(error, "reading the checkpoint of") from error
        adds = [a for a in table.column("add").to_pylist() if a] if "add" in wanted else []
        sidecars = (
            [str(s["path"]) for s in table.column("sidecar").to_pylist() if s]
            if "sidecar" in wanted
            else []
        )
        return adds, sidecars

    def _log_actions(self, fs: object, path: str) -> list[Mapping[str, object]]:
        try:
            with fs.open_input_stream(path) as stream:  # type: ignore[attr-defined]
                text = stream.read().decode("utf-8")
        except OSError as error:
            raise self._translate(error, "reading the log of") from error
        return [json.loads(line) for line in _entry_lines(text)]

    def _deleted_rows(
        self, vector: DeletionVector | None, path: str, dt: deltalake.DeltaTable
    ) -> tuple[int, ...]:
        """The row indexes ``vector`` deletes from the file at ``path`` (none without one)."""
        if vector is None:
            return ()
        try:
            where = vector.file_path()
            if where is None:
                return tuple(inline_rows(vector))
            if vector.storage_type == "p":
                fs, location = self.storage.filesystem_for(unquote(where))
            else:
                fs, base = self.storage.filesystem_for(self.uri)
                location = f"{base.rstrip('/')}/{where}"
            with fs.open_input_file(location) as handle:
                return tuple(stored_rows(vector, handle.read()))
        except DeletionVectorError as error:
            raise StorageError(
                f"The deletion vector of {path} in version {dt.version()} of {self.uri} is not "
                f"valid ({error}); the table cannot be read at this version."
            ) from error
        except OSError as error:
            raise self._translate(error, "reading a deletion vector of") from error

    def _footer_rows(self, path: str) -> int:
        """The row count of one data file, from its Parquet footer."""
        import pyarrow.parquet as pq

        fs, base = self.storage.filesystem_for(self.uri)
        try:
            with fs.open_input_file(f"{base.rstrip('/')}/{unquote(path)}") as handle:
                return pq.ParquetFile(handle).metadata.num_rows
        except OSError as error:
            raise self._translate(error, "reading") from error

    def history(self, *, after: int | None = None) -> list[Commit]:
        """The commits after version ``after`` (all when None), oldest first."""
        dt = self.open()
        latest = dt.version()
        limit = None if after is None else max(latest - after, 0)
        if limit == 0:
            return []
        try:
            commits = self._history(dt, limit)
            if after is not None and commits and limit is not None and len(commits) >= limit:
                # Commits landed since ``dt`` was loaded: the oldest wanted ones were cut off.
                commits = self._history(dt, limit + min(c.version for c in commits) - after - 1)
        except LakeError:
            raise
        except Exception as error:  # noqa: BLE001
            raise self._translate(error, "reading the history of") from error
        commits = [c for c in commits if after is None or c.version > after]
        return sorted(commits, key=lambda c: c.version)

    def operation_parameters(self, version: int) -> Mapping[str, object] | None:
        """The ``operationParameters`` of ``version``'s commitInfo (what a ``WRITE`` did: its
        ``mode``, its ``predicate``), from its log entry; None when the entry is gone (only a
        checkpoint holds the version) or has no commitInfo."""
        info = self._commit_info(version)
        parameters = info.get("operationParameters") if info else None
        return parameters if isinstance(parameters, Mapping) else None

    def check_files(self, snapshot: Snapshot) -> None:
        """Raise :class:`VersionVacuumed` when a file of the snapshot is gone."""
        fs, base = self.storage.filesystem_for(self.uri)
        import pyarrow.fs as pafs

        paths = [f"{base.rstrip('/')}/{f.path}" for f in snapshot.files]
        for start in range(0, len(paths), 1000):
            try:
                infos = fs.get_file_info(paths[start : start + 1000])
            except OSError as error:
                raise self.storage.translate(error, self.uri) from error
            missing = [i.path for i in infos if i.type == pafs.FileType.NotFound]
            if missing:
                raise VersionVacuumed(
                    f"Version {snapshot.version} of {self.uri} can no longer be read: its data "
                    f"files were removed by vacuum ({len(missing)} missing, e.g. {missing[0]}). "
                    f"Tag or pin versions you need before vacuuming."
                )

    # -- writing -------------------------------------------------------------------------------
    #
    # The write protocol (lake.landing) plans every schema before it calls these: they
    # commit what they are given. Each is one Delta commit carrying ``run_id``.

    def append(
        self,
        files: Sequence[StagedFile],
        *,
        schema: pa.Schema,
        partition_by: Sequence[str] = (),
        run_id: str,
        operation: str,
        metadata: Mapping[str, str] | None = None,
        base: Snapshot | None = None,
        published: Publishing | None = None,
    ) -> Commit:
        """Publish locally staged Parquet files into the table and commit them, in one commit
        (creating the table on its first write). ``published``: the files' :meth:`publish`
        begun by the caller (with this schema and partitioning), taken instead of copying
        them again.

        ``base``: the latest version as the caller just read it (:meth:`snapshot` without a
        version). The first attempt commits on that log as it is, without reading the log
        again (a commit that raced another is rebased by deltalake, or decided again below
        when the other changed the schema); when the commit lands right after ``base``, the
        new version's snapshot is ``base`` plus the added files, and :meth:`snapshot` hands
        it out once instead of loading the version.

        The staged files hold ``schema``'s columns (partition columns excluded), which is the
        table's schema or adds columns to it. With the table's own schema the files are
        committed as they are (no re-encoding); a schema that adds columns goes through
        deltalake's schema merge, which re-encodes the files so the new schema and the files
        land in one commit.

        Raises:
            CommitConflict: the commit kept conflicting with other writers.
        """
        properties = _commit_properties(run_id, operation, metadata)
        actions: list | None = None
        if published is not None:
            if published.matches(self, files, schema, partition_by, base):
                actions = published.wait()
            else:
                published.discard()
        if base is not None and self._own_commit_allowed(base, schema, partition_by):
            if actions is None:
                actions = self._publish(files, schema, partition_by, base)
            own = self._commit_own(base, actions, partition_by, run_id, operation, metadata)
            if own is not None:
                return own
            if mapping_mode(base.configuration) is not None:
                # Files under physical names: only the lake's own commit keeps them so.
                return self._commit_mapped(
                    base, actions, schema, partition_by, run_id, operation, metadata
                )
            # Another writer committed first: deltalake commits it on the log as it is now.
        # deltalake does not commit again by itself at the next version when the one it
        # tried is taken: a PUT stored whose answer was lost is retried and refused, and
        # deltalake took its own entry for another writer's append (no conflict) and
        # committed the same add actions again one version later (a second version of one
        # run, empty once readers keep one add per path). Each taken version is looked at
        # here: this run's own ends the append; another writer's is a retry at once.
        plain = _commit_properties(run_id, operation, metadata, retries=0)
        attempt = taken = 0
        while attempt < APPEND_ATTEMPTS:
            if attempt and not taken:
                time.sleep(min(0.05 * 2**attempt, 1.0))  # backoff between retries, not a sync
            if taken > TAKEN_RETRIES:
                break
            exists = self.exists()
            dt = self.open() if exists else None
            before = dt.version() if dt is not None else -1
            table_schema = _schema_of(dt) if dt is not None else schema
            commit_schema = _append_schema(table_schema, schema)
            asked = self._requirements(dt) if dt is not None else WriterRequirements()
            if asked.identity or asked.column_mapping:
                self._unpublish(actions or [])
                if dt is not None and asked.column_mapping:
                    raise self._mapped_append_refusal(dt, asked, commit_schema)
                asked.refuse_added_rows(self.uri)
            if commit_schema is None or asked.rows_checked:
                # The files add columns: deltalake's schema merge re-encodes them; or the
                # table asks something of every row (constraints, invariants, NOT NULL or
                # generated columns), which deltalake's writer checks and add actions of
                # the lake's own files would not. Files this run published for an attempt
                # that lost the race, or for its own commit, are nobody's: remove them.
                self._unpublish(actions or [])
                actions = None
                try:
                    return self._append_with_merge(
                        files, schema, partition_by, properties, run_id, before
                    )
                except _Raced:
                    # Lost to a commit that changed the schema: maybe its own, made already
                    # (its PUT stored, the answer lost, the retry refused).
                    found = self._committed_since(before, run_id)
                    if found is not None:
                        return found
                    attempt, taken = attempt + 1, 0
                    continue
            if actions is None:
                actions = self._publish(files, schema, partition_by)
            try:
                if not exists:
                    # Not retried by deltalake: a version 0 already there may be this run's
                    # own create (its answer lost, the retried PUT refused), which deltalake
                    # took for another writer's and committed again as version 1.
                    if self._create(schema, actions, partition_by, plain):
                        # version 0, read by its key: no load of the log and its history
                        return self._find_commit(run_id, after=before)
                    found = self._committed_since(before, run_id)
                    if found is not None:
                        return replace(found, added=tuple(a.path for a in actions))
                    taken += 1
                    continue  # another writer created the table first: append to it
                dt.create_write_transaction(
                    actions,
                    mode="append",
                    schema=to_delta_schema(commit_schema),
                    partition_by=list(partition_by) or None,
                    commit_properties=plain,
                    post_commithook_properties=_hooks(),
                )
            except LakeError:
                raise
            except Exception as error:  # noqa: BLE001
                # Lost the race: to a commit that changed the table's metadata (a column
                # added by another writer: decide the schema again against the new one,
                # after a backoff), or the version was taken (by another writer, or by this
                # append itself: its PUT stored, the answer lost, the retry refused).
                if _metadata_changed(error) or _version_taken(error):
                    found = self._committed_since(before, run_id)  # its own, made already?
                    if found is not None:
                        return replace(found, added=tuple(a.path for a in actions))
                    if _metadata_changed(error):
                        attempt, taken = attempt + 1, 0
                    else:
                        taken += 1
                    continue
                found = self._after_failed_put(error, before, run_id)
                if found is not None:
                    return replace(found, added=tuple(a.path for a in actions))
                raise self._translate(error, "committing to") from error
            commit = self._find_commit(run_id, after=before)
            commit = replace(commit, added=tuple(a.path for a in actions))
            if (
                base is not None
                and base.version == before
                and commit.version == before + 1
                and same_schema(commit_schema, base.schema)
                # deltalake logs an escaped folder's path escaped once more (the key
                # ``p=a%20b/..`` as ``p=a%2520b/..``): such a version is read from its log.
                and all(_PLAIN_PATH.fullmatch(a.path) for a in actions)  # type: ignore[attr-defined]
            ):
                self._derive(base, commit, actions)
            return commit
        self._unpublish(actions or [])
        raise CommitConflict(
            f"Other writers kept changing the schema of {self.uri} or taking the version this "
            f"append tried ({taken} in a row); run the command again."
        )

    def _own_commit_allowed(
        self, base: Snapshot, schema: pa.Schema, partition_by: Sequence[str]
    ) -> bool:
        """Whether an append of files in ``schema`` onto ``base`` (the latest version, as
        :meth:`snapshot` told it) can be committed by :meth:`_commit_own`: the table's own
        schema and partitioning, and a protocol that asks an append for nothing more than
        its add actions (no row tracking, constraints or invariants), or those and column
        mapping by name, whose files :meth:`publish` writes under their physical names."""
        dt = self._latest
        if dt is None or tuple(partition_by) != base.partition_columns:
            return False
        commit_schema = _append_schema(base.schema, schema)
        if commit_schema is None or not same_schema(commit_schema, base.schema):
            return False
        # The base's schema is the latest version's (the Arrow one deltalake would give
        # again, with each field's Delta metadata).
        asked = writer_requirements(dt.metadata().configuration, base.schema)
        if asked.rows_checked or asked.identity:
            return False
        protocol = dt.protocol()
        allowed = OWN_COMMIT_WRITER_FEATURES
        if asked.column_mapping is not None:
            if asked.mapping_problem(protocol.min_writer_version, protocol.writer_features or ()):
                return False
            # Writer versions 5 and 6 also declare constraints, generated and identity
            # columns and change data feed: the first three were asked about above, and an
            # append of new rows writes no change data (PROTOCOL.md "Change Data Files").
            if protocol.min_writer_version in (5, 6):
                return True
            allowed = OWN_MAPPED_APPEND_WRITER_FEATURES
        if protocol.min_writer_version > 7 or (
            protocol.min_writer_version == 7 and not set(protocol.writer_features or ()) <= allowed
        ):
            return False
        # constraints, generated or identity columns, column mapping
        return protocol.min_writer_version not in (3, 4, 5, 6)

    def _mapped_append_refusal(
        self, dt: deltalake.DeltaTable, asked: WriterRequirements, commit_schema: pa.Schema | None
    ) -> UnsupportedTableFeature:
        """The refusal of an append to the column-mapped table at ``dt`` that the lake's own
        commit cannot make (``commit_schema``: None when the files add columns)."""
        protocol = dt.protocol()
        problem = asked.mapping_problem(protocol.min_writer_version, protocol.writer_features or ())
        if problem is not None:
            return UnsupportedTableFeature(f"The Delta table at {self.uri} {problem}.")
        unknown = sorted(set(protocol.writer_features or ()) - OWN_MAPPED_APPEND_WRITER_FEATURES)
        if commit_schema is None:
            doing = "an append that adds columns"
        elif asked.rows_checked:
            doing = f"an append whose rows must meet {', '.join(asked.checks)}"
        elif unknown:
            doing = f"an append under the writer feature {', '.join(unknown)}"
        else:
            doing = "an append the lake cannot commit on its own"
        return asked.mapping_refusal(self.uri, doing)

    def _requirements(self, dt: deltalake.DeltaTable) -> WriterRequirements:
        """What the version at ``dt`` asks of a write (see :mod:`lake.delta.requirements`)."""
        import pyarrow as pa

        return writer_requirements(dt.metadata().configuration, pa.schema(dt.schema().to_arrow()))

    def _commit_own(
        self,
        base: Snapshot,
        actions: Sequence[object],
        partition_by: Sequence[str],
        run_id: str,
        operation: str,
        metadata: Mapping[str, str] | None,
    ) -> Commit | None:
        """Commit an append of ``actions`` as the version right after ``base`` by writing its
        log entry only if no writer has (a put-if-absent, the commit protocol's own rule); None
        when another writer took that version.

        deltalake's own append read the log's listing and its newest entries three times over
        (on S3: nine requests for one commit, and four more to load it after) and lists the
        log, which on a local disk grows with it (24 ms a commit at 10,000 versions). This
        entry is the same deltalake would write; a checkpoint is still made every
        ``delta.checkpointInterval`` versions."""
        if any(not _PLAIN_PATH.fullmatch(a.path) for a in actions):  # type: ignore[attr-defined]
            return None  # deltalake escapes such paths its own way
        version = base.version + 1
        moment = max(int(time.time() * 1000), int(base.committed_at.timestamp() * 1000))
        info = {
            "timestamp": moment,
            "operation": "WRITE",
            "operationParameters": {
                "mode": "Append",
                "partitionBy": json.dumps(list(partition_by)),
            },
            "clientVersion": "lake",
            RUN_ID_KEY: run_id,
            OPERATION_KEY: operation,
            **(metadata or {}),
        }
        entries = [{"commitInfo": info}] + [
            {
                "add": {
                    "path": a.path,  # type: ignore[attr-defined]
                    "partitionValues": dict(a.partition_values),  # type: ignore[attr-defined]
                    "size": a.size,  # type: ignore[attr-defined]
                    "modificationTime": a.modification_time,  # type: ignore[attr-defined]
                    "dataChange": True,
                    "stats": a.stats,  # type: ignore[attr-defined]
                }
            }
            for a in actions
        ]
        body = _entry_body(entries)
        failpoint("own_commit")
        if not self._put_if_absent(version, body, run_id):
            return None
        self._absent = None
        commit = Commit(
            version=version,
            committed_at=_ms_to_datetime(moment),
            operation=operation,
            run_id=run_id,
            metrics={},
            parameters=info["operationParameters"],
            added=tuple(a.path for a in actions),  # type: ignore[attr-defined]
        )
        self._mark(version, body)
        _remember_time(self._key, version, commit.committed_at)
        self._derive(base, commit, actions)
        self._checkpoint_if_due(version, body)
        return commit

    def _commit_mapped(
        self,
        base: Snapshot,
        actions: Sequence[object],
        schema: pa.Schema,
        partition_by: Sequence[str],
        run_id: str,
        operation: str,
        metadata: Mapping[str, str] | None,
    ) -> Commit:
        """Commit an append of files written under the physical names of ``base`` (a
        column-mapped version) when another writer took the version after it: by the lake's
        own commit on the latest version, as long as that keeps the schema (names, physical
        names and ids), partitioning and protocol the files were written for. Appends do not
        conflict with appends (PROTOCOL.md); a change of the schema or mapping does, and then
        the files are removed and the append refused.

        Raises:
            CommitConflict: the schema or mapping changed since ``base``, or other writers
                kept taking the next version.
            StorageError: no other writer took the version, yet the entry could not be
                written (a local file system without hard links).
        """
        for _ in range(TAKEN_RETRIES):
            found = self._committed_since(base.version, run_id)
            if found is not None:
                return replace(found, added=tuple(a.path for a in actions))  # type: ignore[attr-defined]
            self._absent = None  # the version this append looked for was taken since
            latest = self.snapshot()
            if latest.version == base.version:
                self._unpublish(actions)
                raise StorageError(
                    f"The lake could not write the log entry of version {base.version + 1} of "
                    f"{self.uri} (the file system takes no hard links), which its commits to a "
                    "column-mapped table need: write to it from a file system that does."
                )
            if not (
                latest.schema.equals(base.schema, check_metadata=True)
                and mapping_mode(latest.configuration) == mapping_mode(base.configuration)
                and self._own_commit_allowed(latest, schema, partition_by)
            ):
                break
            own = self._commit_own(latest, actions, partition_by, run_id, operation, metadata)
            if own is not None:
                return own
            base = latest
        self._unpublish(actions)
        raise CommitConflict(
            f"Another writer changed the schema or column mapping of {self.uri}, or kept "
            "taking the version this append tried, while it wrote its files under the "
            "table's physical column names; run the command again."
        )

    def _put_if_absent(self, version: int, body: bytes, run_id: str) -> bool:
        """Write the log entry of ``version`` unless it exists; False when it does (or, on a
        local file system without hard links, when it cannot tell: deltalake commits then).

        Raises:
            CommitInDoubt: the entry was refused (or the request failed) and could not be
                read back: it may be this run's, and committing again would make the
                version twice. Or the request failed twice with no entry there: a PUT
                that got no answer may still land.
            StorageError: the local request failed and no entry is there.
        """
        fs, base = self.storage.filesystem_for(self.uri)
        target = f"{base.rstrip('/')}/{entry_name(version)}"
        failed: Exception | None = None
        for _ in range(ENTRY_PUTS):
            try:
                if not self.storage.is_s3:
                    return self._link_entry(base, target, body)
                if objects.put_if_absent(self.storage, target, body):
                    return True
            except Exception as error:  # noqa: BLE001 - whatever the store raised
                # In doubt (the answer was lost, or a store that words a taken name its own
                # way): the entry itself tells whether it is this run's.
                info = self._read_back(version)
                if info is not None:
                    return info.get(RUN_ID_KEY) == run_id
                if not self.storage.is_s3:
                    raise self.storage.translate(error, self.uri) from error
                # Not there (yet): a PUT that got no answer may still be on its way. The same
                # entry is asked for again: the put-if-absent lets only one of the two land,
                # and either is this run's.
                failed = error
                continue
            # Taken: by another writer, or by this request's own first try (a retry after a
            # lost answer is refused too). The entry tells whose it is; when it cannot be
            # read, nobody knows, and a commit at the next version could be this one made
            # twice.
            info = self._read_back(version)
            return info is not None and info.get(RUN_ID_KEY) == run_id
        said = str(self.storage.translate(failed, entry_name(version)))  # type: ignore[arg-type]
        raise CommitInDoubt(
            table=self.uri, version=version, reason=said.split(";")[0].rstrip("."), unanswered=True
        ) from failed

    @staticmethod
    def _link_entry(base: str, target: str, body: bytes) -> bool:
        """The local put-if-absent: a link to a whole file (as deltalake's own); False when
        the entry exists or the file system has no hard links."""
        temp = f"{base.rstrip('/')}/_delta_log/.{uuid.uuid4().hex}.json.tmp"
        with open(temp, "wb") as out:
            out.write(body)
        try:
            os.link(temp, target)
        except FileExistsError:
            return False
        except OSError:
            return False  # no hard links here
        finally:
            os.unlink(temp)
        return True

    def _committed_since(self, after: int, run_id: str) -> Commit | None:
        """The commit ``run_id`` made after version ``after``, read entry by entry from the
        log (the few made since); None when none is its. For a writer told its commit lost a
        race, which may have lost it to itself: its PUT stored, the answer lost, the retried
        PUT refused as taken, and deltalake then reports a conflict with its own commit.

        Raises:
            CommitInDoubt: an entry could not be read.
        """
        version = after + 1
        while (info := self._read_back(version)) is not None:
            if info.get(RUN_ID_KEY) == run_id:
                return _commit_from_history({**info, "version": version})
            version += 1
        return None

    def _after_failed_put(self, error: BaseException, before: int, run_id: str) -> Commit | None:
        """After deltalake failed a commit on ``error``: when that is the PUT of one of this
        table's log entries failing (every try of it got no answer or an error), the commit
        ``run_id`` made after version ``before`` (a try was stored, its answer lost); None
        when the version is another writer's (this run's PUT cannot land there). The write
        then fails as before.

        Any other error may have come after the commit was made: deltalake writes the
        checkpoint the table's interval asks for after the commit, and reports that PUT's
        failure as the commit's (a run failed as "refused" while its version was the
        table's). The commit found in the log is then the outcome, with a warning; the
        checkpoint is left to a later writer. None when the log does not hold it, or could
        not be read (the error is then the one to report).

        Raises:
            CommitInDoubt: the entry is not there: a PUT that got no answer may still land
                (as :meth:`_put_if_absent` says of the lake's own entries).
        """
        version = _failed_entry_put(self.uri, error)
        if version is None:
            try:
                made = self._committed_since(before, run_id)
            except LakeError:
                return None
            if made is not None:
                log.warning(
                    "Version %s of %s is committed, but deltalake failed after it (%s); a "
                    "checkpoint it was due is left to a later commit.",
                    made.version,
                    self.uri,
                    str(error).splitlines()[0][:300] if str(error) else type(error).__name__,
                )
            return made
        found = self._committed_since(before, run_id)
        if found is not None or self._read_back(version) is not None:
            return found
        said = str(self.storage.translate(error, entry_name(version)))  # type: ignore[arg-type]
        raise CommitInDoubt(
            table=self.uri, version=version, reason=said.split(";")[0].rstrip("."), unanswered=True
        ) from error

    def _read_back(self, version: int) -> dict[str, object] | None:
        """The commitInfo of ``version``'s log entry, read by a writer that cannot know
        whether the entry is its own; None when there is no entry, empty when the entry is
        not the lake's (it has no commitInfo, or is not JSON).

        Raises:
            CommitInDoubt: the entry could not be read (the storage failed).
        """
        try:
            entry = read_entry(self.storage, self.uri, version)
        except FileNotFoundError:
            return None
        except OSError as error:
            said = str(self.storage.translate(error, entry_name(version)))
            raise CommitInDoubt(
                table=self.uri, version=version, reason=said.split(";")[0].rstrip(".")
            ) from error
        try:
            for line in _entry_lines(entry.decode("utf-8")):
                info = json.loads(line).get("commitInfo")
                if info is not None:
                    return info
        except (ValueError, AttributeError):
            pass
        return {}

    def _checkpoint_if_due(self, version: int, entry: bytes) -> None:
        """A checkpoint at ``version`` when the table's interval asks for one (deltalake's
        commits make theirs in a hook). On a local disk it is written after the append
        returns (:mod:`lake.core.background`): it took 15-20 ms of every tenth append, which
        itself takes 3-5 ms. On S3 it stays in the append: there its 25-30 requests beside
        the next appends' raised their median from 21 to 31 ms on moto and left the mean of
        200 appends where it was (58 against 54-61 ms; ``bench_appends``, 2026-12-06)."""
        dt = self._latest
        if dt is None:
            return
        interval = int(dt.metadata().configuration.get("delta.checkpointInterval", "100"))
        if interval <= 0 or version % interval:
            return
        if self.storage.is_s3:
            self.write_checkpoint(version, keep=True)
            return
        digest = _digest(entry)
        background.submit(
            ("checkpoint", self._key), lambda: self.write_checkpoint(version, entry_digest=digest)
        )

    def write_checkpoint(
        self, version: int, *, entry_digest: bytes | None = None, keep: bool = False
    ) -> None:
        """A checkpoint of exactly ``version``, from the log loaded at that version by its
        number (never a log kept by another thread). ``entry_digest``: the digest of the
        version's log entry when it was committed; nothing is written when the entry is
        another now (the table was deleted and a new one made at this location since).
        ``keep``: on the writer's own thread, after its check of what it keeps: the log
        this thread loaded for its last checkpoint of the table is moved to ``version``
        (see :func:`_checkpointed`) and kept for the next. deltalake's checkpoint reads the
        log segment at that version again from storage whatever the table object holds; the
        object only names the version. A failed checkpoint fails nothing: readers replay
        the commits since the one before."""
        failpoint("checkpoint")
        try:
            if entry_digest is not None:
                if _digest(read_entry(self.storage, self.uri, version)) != entry_digest:
                    return
            dt = self._checkpoint_log(version, keep=keep)
            dt.create_checkpoint()
        except Exception as error:  # noqa: BLE001 - a checkpoint is an optimisation only
            _checkpointed().pop(self._key, None)
            log.warning("No checkpoint of %s at version %s: %s", self.uri, version, error)

    def _checkpoint_log(self, version: int, *, keep: bool) -> deltalake.DeltaTable:
        """The log at exactly ``version`` for its checkpoint: the kept one moved forward
        when ``keep`` and this thread has one of an older version, else loaded afresh."""
        from deltalake import DeltaTable

        kept = _checkpointed().pop(self._key, None) if keep else None
        dt = None
        if kept is not None and kept.version() < version:
            with contextlib.suppress(Exception):  # e.g. the log was cleaned: load it afresh
                kept.load_as_version(version)
                if kept.version() == version:
                    dt = kept
        if dt is None:
            dt = DeltaTable(self.uri, version=version, storage_options=self.storage.delta_options())
        if keep:
            checkpointed = _checkpointed()
            while len(checkpointed) >= KEPT_TABLES:
                checkpointed.pop(next(iter(checkpointed)))
            checkpointed[self._key] = dt
        return dt

    def _derive(
        self,
        base: Snapshot,
        commit: Commit,
        actions: Sequence[object],
        *,
        removed: Collection[str] = (),
    ) -> None:
        """Keep the snapshot of ``commit``, an append of ``actions`` committed right after
        ``base`` (or a compaction, which also removed the files at the paths ``removed``,
        decoded): the files of ``base`` and the added ones, each with its count and time
        range from the statistics the lake wrote for it (see :func:`_added_file`)."""
        import pyarrow as pa

        plain = (pa.types.is_string, pa.types.is_large_string, pa.types.is_date32)
        for column in base.partition_columns:
            # Other types come back from the log typed, in a text of their own.
            if not any(is_type(base.schema.field(column).type) for is_type in plain):
                _ours().pop(self._key, None)
                return
        derived = _derived()
        derived.pop((*self._key, commit.version), None)
        while len(derived) >= KEPT_TABLES:
            derived.pop(next(iter(derived)))
        added = tuple(self._added_file(a, base) for a in actions)
        kept = tuple(f for f in base.files if unquote(f.path) not in removed)
        snapshot = replace(
            base,
            version=commit.version,
            committed_at=commit.committed_at,
            files=in_file_order(kept + added),
        )
        ours = _ours()
        ours.pop(self._key, None)
        while len(ours) >= KEPT_TABLES:
            ours.pop(next(iter(ours)))
        derived[(*self._key, commit.version)] = ours[self._key] = snapshot

    def _added_file(self, action: object, base: Snapshot) -> DataFile:
        """The :class:`DataFile` of an add action :meth:`_publish` made for a version after
        ``base``, as :meth:`snapshot` would read it back from the log (under column mapping
        the action keys statistics and partition values by physical name)."""
        import pyarrow as pa

        stats = json.loads(action.stats)  # type: ignore[attr-defined]
        lows, highs = stats.get("minValues") or {}, stats.get("maxValues") or {}
        stored = base.physical_names
        logical = logical_names(stored)
        ranges = {
            f.name: (_logged_time(lows.get(key)), _logged_time(highs.get(key)))
            for f in base.schema
            if pa.types.is_timestamp(f.type)
            and f.type.tz
            and (key := stored.get(f.name, f.name)) in lows
        }
        return DataFile(
            uri=self._file_uri(action.path),  # type: ignore[attr-defined]
            path=action.path,  # type: ignore[attr-defined]
            size=action.size,  # type: ignore[attr-defined]
            rows=stats.get("numRecords"),
            partition_values={
                logical.get(column, column): value or None  # an empty string is null
                for column, value in (action.partition_values or {}).items()  # type: ignore[attr-defined]
            },
            time_ranges=ranges,
        )

    def _create(
        self, schema: pa.Schema, actions: list, partition_by: Sequence[str], properties: object
    ) -> bool:
        """Create the table with ``actions`` as its first version; False when another writer
        created it first."""
        from deltalake import Schema
        from deltalake.exceptions import CommitFailedError
        from deltalake.transaction import create_table_with_add_actions

        try:
            create_table_with_add_actions(
                self.uri,
                Schema.from_arrow(to_delta_schema(schema)),
                actions,
                mode="error",
                partition_by=list(partition_by) or None,
                configuration=TABLE_CONFIGURATION,
                storage_options=self.storage.delta_options(),
                commit_properties=properties,
                post_commithook_properties=_hooks(),
            )
        except CommitFailedError:
            return False  # version 0 is taken (deltalake does not retry a create here)
        except Exception as error:  # noqa: BLE001
            if "already exists" in str(error):
                return False
            raise
        # A table made anew where one was (its folder removed by hand): nothing kept of the
        # old one is of this one.
        self._forget()
        return True

    def _unpublish(self, actions: Sequence[object]) -> None:
        """Remove published files no commit refers to (best effort: vacuum removes any left)."""
        if not actions:
            return
        for action in actions:
            uri = f"{self.uri.rstrip('/')}/{action.path}"  # type: ignore[attr-defined]
            with contextlib.suppress(LakeError):  # best effort: vacuum removes what is left
                objects.delete(self.storage, uri)

    def replace(
        self,
        files: Sequence[StagedFile],
        *,
        schema: pa.Schema,
        run_id: str,
        operation: str,
        metadata: Mapping[str, str] | None = None,
        base_version: int | None = None,
    ) -> Commit:
        """Make the staged files the table's whole content, with ``schema`` as its schema, in
        one commit (an overwrite; earlier versions stay readable). Unpartitioned tables only.

        A schema that needs a Delta protocol feature the table lacks (``timestampNtz`` for a
        timestamp without a zone) goes through deltalake's writer, which adds the feature
        in the same commit: deltalake's transaction API would commit a schema the table's
        protocol does not allow, and the table could never be read again.

        ``base_version``: the version the files were derived from (see :meth:`rewrite`).

        Raises:
            CommitConflict: another writer committed after ``base_version``, or the commit
                kept conflicting with other writers.
        """
        if not self.exists():
            return self.append(
                files, schema=schema, run_id=run_id, operation=operation, metadata=metadata
            )
        dt = self._at_base(base_version) if base_version is not None else self.open()
        asked = self._requirements(dt)
        asked.refuse_removal(self.uri, "an overwrite")
        asked.refuse_added_rows(self.uri, "an overwrite")
        if self._lacks_features(dt, schema) or asked.rows_checked:
            import pyarrow as pa

            def reader() -> pa.RecordBatchReader:
                return pa.RecordBatchReader.from_batches(schema, _staged_batches(files, schema))

            return self._overwrite(dt, reader, (), run_id, operation, metadata)
        actions = self._publish(files, schema, ())

        def commit(retries: int) -> None:
            dt.create_write_transaction(
                actions,
                mode="overwrite",
                schema=to_delta_schema(schema),
                commit_properties=_checked_try_properties(run_id, operation, metadata, retries),
                post_commithook_properties=_hooks(),
            )

        return self._commit_checked(dt.version(), run_id, commit, "committing to")

    def replace_rows(
        self,
        files: Sequence[StagedFile],
        *,
        schema: pa.Schema,
        predicate: str,
        partition_by: Sequence[str] = (),
        run_id: str,
        operation: str,
        metadata: Mapping[str, str] | None = None,
    ) -> Commit:
        """Delete the rows ``predicate`` (a Delta SQL predicate) matches and add the staged
        files' rows, in one commit (deltalake's overwrite with a predicate: only the files
        holding matching rows are rewritten). Every staged row must match ``predicate``.

        Raises:
            CommitConflict: the commit kept conflicting with other writers.
            UnsupportedTableFeature: the table is append-only or has identity columns.
            ConstraintViolation: a row breaks the table's constraints.
        """
        dt = self.open()
        asked = self._requirements(dt)
        # Only a log ingest replaces rows: a file read again whole because its last ingest
        # ended inside a record (a torn line, a partial container line, a trace going on),
        # or --reparse. "Append instead" is what the user was doing.
        asked.refuse_removal(
            self.uri,
            "reading a log file again whole (its last ingest ended inside a record, or "
            "--reparse) to replace that file's rows",
            "ingest such files into it only once they are complete",
        )
        asked.refuse_added_rows(self.uri, "reading a log file again whole (replacing its rows)")

        def commit(retries: int) -> None:
            self._write(
                dt,
                _staged_reader(files, schema),
                mode="overwrite",
                schema_mode="merge",
                predicate=predicate,
                partition_by=partition_by,
                properties=_checked_try_properties(run_id, operation, metadata, retries),
                archive=_archived(files),
            )

        return self._commit_checked(dt.version(), run_id, commit, "writing to")

    def rewrite(
        self,
        data: pa.RecordBatchReader,
        *,
        schema: pa.Schema,
        partition_by: Sequence[str] = (),
        run_id: str,
        operation: str,
        base_version: int,
        metadata: Mapping[str, str] | None = None,
    ) -> Commit:
        """Replace every row of the table with ``data``, and its schema with ``schema``, in one
        commit: the rewrite of a table whose column types change.

        ``base_version``: the version ``data`` was derived from. The rewrite is refused if
        another writer committed since, because it replaces only the files of the version it
        is based on: rows committed since would be lost, or left in an older type.

        Raises:
            CommitConflict: another writer committed after ``base_version``.
        """
        if not data.schema.equals(schema):
            raise ValueError("rewrite: the data's schema is not the schema to write")
        dt = self._at_base(base_version)
        asked = self._requirements(dt)
        asked.refuse_removal(self.uri, "a rewrite of every row")
        asked.refuse_added_rows(self.uri, "a rewrite that changes column types")
        given = [data]

        def once() -> pa.RecordBatchReader:
            if not given:  # read once: another writer committed since (see _at_base)
                raise self._rewritten_since(dt.version())
            return given.pop()

        return self._overwrite(dt, once, partition_by, run_id, operation, metadata)

    def _overwrite(
        self,
        dt: deltalake.DeltaTable,
        data: Callable[[], pa.RecordBatchReader],
        partition_by: Sequence[str],
        run_id: str,
        operation: str,
        metadata: Mapping[str, str] | None,
    ) -> Commit:
        """Overwrite the table at ``dt`` with the rows ``data`` reads (once per attempt)."""

        def commit(retries: int) -> None:
            self._write(
                dt,
                _marked(data()),
                mode="overwrite",
                schema_mode="overwrite",
                partition_by=partition_by,
                properties=_checked_try_properties(run_id, operation, metadata, retries),
            )

        return self._commit_checked(dt.version(), run_id, commit, "writing to")

    def _commit_checked(
        self, before: int, run_id: str, commit: Callable[[int], object], doing: str
    ) -> Commit:
        """The commit of ``run_id`` that ``commit(retries)`` makes through deltalake on the
        table as it was at version ``before``, made once.

        deltalake commits again at the next version when the one it tried is taken, after
        checking the taker's actions against its own. A PUT stored whose answer was lost is
        retried and refused, and the taker is then the commit itself: an overwrite or a
        replacement of rows reported a conflict with another writer (and "run the command
        again"), a compaction committed its removes and adds a second time. So the first
        attempt is made without deltalake's retries; a taken version is read back (this
        run's ends the write), and only a version verified as another writer's is retried,
        from ``before`` again with one retry: deltalake checks the commits since against its
        own and tries the next version. That try is guarded (``_checked_try_properties``): its
        PUT stored and its answer lost, deltalake's retry conflicts with it rather than commit
        it again, and its outcome is read back as the first try's is.

        Raises:
            CommitConflict: another writer's commit conflicts with this one, or others kept
                taking the version.
            CommitInDoubt: a log entry could not be read back.
        """
        from deltalake.exceptions import CommitFailedError

        retries = 0
        for _ in range(TAKEN_RETRIES):
            try:
                commit(retries)
            except (LakeError, _NoCommit):
                raise
            except CommitFailedError as error:
                found = self._committed_since(before, run_id)
                if found is not None:
                    return found
                if not _RETRIES_EXHAUSTED.fullmatch(str(error)):
                    raise self._translate(error, doing) from error  # a true conflict
                retries = 1  # the version was another writer's: check and try once more
                continue
            except Exception as error:  # noqa: BLE001
                found = self._after_failed_put(error, before, run_id)
                if found is not None:
                    return found
                raise self._translate(error, doing) from error
            return self._find_commit(run_id, after=before)
        raise CommitConflict(
            f"Other writers kept taking the version this write to {self.uri} tried "
            f"({TAKEN_RETRIES} in a row); run the command again."
        )

    def _at_base(self, base_version: int) -> deltalake.DeltaTable:
        """The table, which must still be at ``base_version``: an overwrite derived from that
        version replaces only its files, so a commit made since would be lost or left in an
        older type."""
        dt = self.open()
        if dt.version() != base_version:
            raise self._rewritten_since(base_version, dt.version())
        return dt

    def _rewritten_since(self, base_version: int, latest: int | None = None) -> CommitConflict:
        committed = f"version {latest}" if latest is not None else "a version"
        return CommitConflict(
            f"Another writer committed {committed} of {self.uri} while this write was "
            f"rewriting version {base_version}; nothing was written: run the command again."
        )

    def reader_features(self, version: int) -> tuple[str, ...]:
        """The Delta protocol's reader features of ``version`` (``deletionVectors``,
        ``columnMapping``, ``timestampNtz`` ...): what a reader must understand to read it."""
        return tuple(self.open(version).protocol().reader_features or ())

    def can_merge(self, schema: pa.Schema) -> bool:
        """Whether deltalake's merge can commit ``schema``: not when it needs a protocol
        feature the table lacks (deltalake would commit a table no reader can open)."""
        return not self._lacks_features(self.open(), schema)

    def _lacks_features(self, dt: deltalake.DeltaTable, schema: pa.Schema) -> bool:
        if not has_timestamp_ntz(schema):
            return False
        features = dt.protocol().reader_features or []
        return "timestampNtz" not in features

    def merge(
        self,
        source: pa.Table,
        *,
        keys: Sequence[str],
        run_id: str,
        operation: str = "MERGE",
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[Commit, Mapping[str, object]]:
        """Upsert ``source`` by ``keys``: matching rows are replaced, new rows inserted.

        delta-rs does not retry conflicting merges itself; this does, with backoff, and
        re-reads the table each time so a retry never applies on a stale version.

        Raises:
            SchemaConflict: ``source`` needs a protocol feature the table lacks (see
                :meth:`can_merge`): rewrite the table instead.
            CommitConflict: still conflicting after several attempts.
        """
        from deltalake.exceptions import CommitFailedError

        if not self.can_merge(source.schema):
            raise SchemaConflict(
                f"Merging into {self.uri} would add a timestamp without a time zone, which the "
                "table's Delta protocol does not allow yet; rewrite the table instead."
            )
        predicate = " AND ".join(f"t.{_delta_ident(k)} = s.{_delta_ident(k)}" for k in keys)
        for attempt in range(MERGE_RETRIES):
            dt = self.open()
            asked = self._requirements(dt)
            asked.refuse_removal(self.uri, "a merge (an upsert by key)")
            asked.refuse_added_rows(self.uri, "a merge (an upsert by key)")
            before = dt.version()
            failpoint("merge")
            try:
                metrics = (
                    dt.merge(
                        source.cast(to_delta_schema(source.schema)),
                        predicate=predicate,
                        source_alias="s",
                        target_alias="t",
                        merge_schema=True,
                        writer_properties=_writer_properties(
                            source, schemas=[source.schema, _schema_of(dt)]
                        ),
                        # Not retried by deltalake: a version taken by this merge itself (its
                        # answer lost) is looked at below before the merge is made again.
                        commit_properties=_commit_properties(
                            run_id, operation, metadata, retries=0
                        ),
                        post_commithook_properties=_hooks(),
                    )
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute()
                )
                return self._find_commit(run_id, after=before), metrics
            except CommitFailedError as error:
                previous = self._committed_since(before, run_id)
                if previous is not None:  # the "failed" attempt did commit
                    # Its counts are in its log entry (the outcome records updates apart).
                    return previous, previous.metrics
                if _unsupported_features(error) is not None:  # no retry will write it
                    raise self._translate(error, "merging into") from error
                time.sleep(min(0.05 * 2**attempt, 2.0))  # backoff between retries, not a sync
            except Exception as error:  # noqa: BLE001
                found = self._after_failed_put(error, before, run_id)
                if found is not None:
                    return found, found.metrics
                raise self._translate(error, "merging into") from error
        raise CommitConflict(
            f"Merging into {self.uri} kept conflicting with other writers after {MERGE_RETRIES} "
            f"attempts; run the command again."
        )

    def compact(
        self,
        *,
        run_id: str,
        target_file_bytes: int = TARGET_FILE_BYTES,
        metadata: Mapping[str, str] | None = None,
        base: Snapshot | None = None,
    ) -> tuple[Commit | None, Mapping[str, object]]:
        """Rewrite small files into fewer large ones (one commit; no data changes): in each
        partition, the files under ``target_file_bytes``, largest first, each into the first
        new file it fits in up to that size (deltalake's bin-packing); a new file of one old
        file is not made.

        ``base``: the latest version as the caller holds it (the append the compaction
        follows), planned on without reading the log again; its commit lands after any
        version committed since that removed none of its files.

        Returns (None, metrics) when there was nothing to compact.

        Raises:
            CommitConflict: other writers kept removing the files it rewrote.
            CommitInDoubt: its log entry's PUT got no answer and it cannot be read back.
        """
        dt = self._latest if base is not None else None
        for _ in range(COMPACTION_PLANS):
            if base is None:
                # Loaded afresh, not the kept log moved forward: that log's number can trail
                # its files (see :meth:`snapshot`), and the removes must name the files of
                # that version. One load: opening the kept log to learn the version, then
                # loading that version by its number, was two (on S3 about 30 requests).
                dt = self._latest_afresh()
                base = self.snapshot(table=dt)
            elif dt is None:
                dt = self.open()
            # Judged again on each plan: the writer that made the last one stale may have
            # changed the protocol or the table's configuration.
            if (dt.metadata().configuration or {}).get(COLUMN_MAPPING, "none") != "none":
                # New files would need the physical names and field ids; deltalake 1.6.6
                # refuses too ("Column mapping is not supported for write operation
                # 'OPTIMIZE'").
                raise UnsupportedTableFeature(
                    f"The Delta table at {self.uri} uses column mapping, which the lake cannot "
                    "write: compact it with an engine that supports the feature."
                )
            if _own_compaction_refused(dt):
                return self._compact_with_deltalake(
                    run_id=run_id, target_file_bytes=target_file_bytes, metadata=metadata
                )
            plan = compaction_plan(base.files, target_file_bytes)
            metrics = _compaction_metrics(plan, target_file_bytes)
            if not plan:
                return None, metrics
            folders = (
                "/".join(
                    folder_name(c, b[0].partition_values.get(c)) for c in base.partition_columns
                )
                for b in plan
            )
            # Escaped paths and typed partition values (a double, a timestamp, bytes) are
            # spelled each writer its own way: such a table's files are removed and added
            # as its log spells them (deltalake's optimize, which served them, committed a
            # compaction whose answer was lost twice).
            as_logged = (
                not all(_PLAIN_PATH.fullmatch(f.path) for b in plan for f in b)
                or any(not _PLAIN_PATH.fullmatch(f"{folder}/x") for folder in folders)
                or any(
                    not _plain_partition(base.schema.field(c).type) for c in base.partition_columns
                )
            )
            logged = (
                self._logged_adds(base.version)
                if as_logged or any(f.deleted_rows for b in plan for f in b)
                else {}
            )
            vectors = {
                path: DeletionVector.from_action(add["deletionVector"])  # type: ignore[arg-type]
                for path, add in logged.items()
                if add.get("deletionVector")
            }
            spelled = (
                {unquote(f.path): _logged_values(logged, f) for b in plan for f in b}
                if as_logged
                else None
            )
            added = self._rewrite_bins(base, plan, spelled)
            try:
                commit = self._commit_compaction(
                    base,
                    plan,
                    added,
                    vectors,
                    spelled,
                    run_id,
                    target_file_bytes,
                    metrics,
                    metadata,
                )
            except _Raced:
                self._unpublish(added)  # no entry refers to them
                base = dt = None
                continue
            except CommitInDoubt:
                raise  # the entry may still land, and refers to the new files: they stay
            except BaseException:
                self._unpublish(added)
                raise
            return commit, metrics
        raise CommitConflict(
            f"Other writers kept removing files of {self.uri} that this compaction rewrote "
            f"({COMPACTION_PLANS} plans in a row); nothing was compacted: run it again."
        )

    def _rewrite_bins(
        self,
        base: Snapshot,
        plan: Sequence[Sequence[DataFile]],
        spelled: Mapping[str, Mapping[str, str | None]] | None = None,
    ) -> list:
        """Each bin of ``plan`` rewritten into one new file of the table (published, not
        committed), as the lake writes an append's files: its encodings judged from the
        bin's first rows (:func:`lake.delta.encoding.writer_options`; a column stored zstd
        in the first file, an archived one such as a log's ``_raw``, stays so), row groups of
        ROW_GROUP_ROWS, statistics from the footer (``publish``). Rows a deletion vector
        deletes are left out; every file is read in the table's current schema (older files
        of narrower types are cast, columns they predate are null).

        ``spelled``: the partition values of each rewritten file (by decoded path) as its log
        entry spells them; then each new file goes into the folder of its bin's first file,
        with that file's values as they are spelled (see :meth:`compact`)."""
        import tempfile

        import pyarrow as pa

        partitioned = set(base.partition_columns)
        file_schema = pa.schema([f for f in base.schema if f.name not in partitioned])
        added: list = []
        # One bin at a time: a compaction of a large table stages one new file, not all.
        with tempfile.TemporaryDirectory(prefix="lake-compact-") as folder:
            try:
                for number, files in enumerate(plan):
                    path = Path(folder) / f"part-{number:05d}.parquet"
                    self._rewrite_bin(base, files, file_schema, path)
                    first = files[0]
                    values = (
                        first.partition_values if spelled is None else spelled[unquote(first.path)]
                    )
                    added += self.publish(
                        [StagedFile(path, dict(values))],
                        schema=base.schema,
                        partition_by=base.partition_columns,
                        folders=None if spelled is None else [_logged_folder(first.path)],
                    ).wait()
                    path.unlink()
            except BaseException:
                self._unpublish(added)  # no entry refers to them
                raise
        return added

    def _rewrite_bin(
        self, base: Snapshot, files: Sequence[DataFile], file_schema: pa.Schema, path: Path
    ) -> None:
        import pyarrow as pa

        from lake.delta.encoding import writer_options

        pending: list[pa.RecordBatch] = []
        held = 0
        writer: BoundedWriter | None = None
        archived: set[str] = set()

        def write(rows: int) -> None:
            nonlocal pending, held, writer
            table = pa.Table.from_batches(pending, file_schema)
            if writer is None:
                options = writer_options(table.slice(0, SAMPLE_ROWS), archive=archived)
                writer = BoundedWriter(path, file_schema, **options)
            writer.write_table(table.slice(0, rows), row_group_size=ROW_GROUP_ROWS)
            rest = table.slice(rows).combine_chunks()
            pending, held = rest.to_batches(), rest.num_rows

        try:
            for data_file, sent in self._prefetched(files):
                with self._open_data_file(data_file, sent) as parquet:
                    if writer is None:
                        # deltalake's writer (a merge, a schema-merging append) keeps every
                        # column LZ4 with statistics: a bin whose largest, first file it wrote
                        # would otherwise turn _raw into LZ4 with whole lines in the footer
                        archived |= archived_columns(parquet.metadata)
                    for batch in _file_rows(parquet, base, data_file):
                        if batch.num_rows:
                            pending.append(conform(batch, file_schema))
                            held += batch.num_rows
                        if held >= ROW_GROUP_ROWS:
                            write(ROW_GROUP_ROWS * (held // ROW_GROUP_ROWS))
            if held or writer is None:
                write(held)
        except OSError as error:
            raise self._translate(error, "compacting") from error
        finally:
            if writer is not None:
                writer.close()

    def _commit_compaction(
        self,
        base: Snapshot,
        plan: Sequence[Sequence[DataFile]],
        added: Sequence[object],
        vectors: Mapping[str, DeletionVector],
        spelled: Mapping[str, Mapping[str, str | None]] | None,
        run_id: str,
        target_file_bytes: int,
        metrics: Mapping[str, object],
        metadata: Mapping[str, str] | None,
    ) -> Commit:
        """Commit the compaction's one log entry (its removes and adds, dataChange false) at
        the version after ``base`` (the removed files' partition values as ``spelled``
        when given), through the same put-if-absent as an append's own commit
        (:meth:`_put_if_absent`): a lost answer is read back, and the version is made once.
        A version another writer took first is looked at: when it removed none of the
        rewritten files and changed neither schema nor protocol (an append), the entry goes
        to the next version; otherwise the plan is stale (:class:`_Raced`).

        deltalake's optimize did not commit once: after a lost answer it took its own entry
        for another writer's and committed the same removes and adds again one version
        later (1.6.6 passes only the custom metadata of its ``commit_properties`` on: its
        retries and application transactions are dropped).

        Raises:
            _Raced: another writer removed a rewritten file, or changed the table's metadata.
            CommitConflict: other writers kept taking the version (TAKEN_RETRIES in a row).
            CommitInDoubt: see :meth:`_put_if_absent`.
        """
        removed = [f for files in plan for f in files]
        gone = {unquote(f.path) for f in removed}
        moment = max(int(time.time() * 1000), int(base.committed_at.timestamp() * 1000))
        partitions = {c: base.schema.field(c).type for c in base.partition_columns}
        removes = []
        for f in removed:
            remove: dict[str, object] = {
                "path": f.path,
                "deletionTimestamp": moment,
                "dataChange": False,
                "extendedFileMetadata": True,
                "partitionValues": _log_partition_values(
                    f.partition_values if spelled is None else spelled[unquote(f.path)],
                    partitions,
                ),
                "size": f.size,
            }
            vector = vectors.get(unquote(f.path))
            if vector is not None:
                remove["deletionVector"] = vector.to_action()
            removes.append({"remove": remove})
        adds = [
            {
                "add": {
                    "path": a.path,  # type: ignore[attr-defined]
                    "partitionValues": _log_partition_values(
                        a.partition_values,  # type: ignore[attr-defined]
                        partitions,
                    ),
                    "size": a.size,  # type: ignore[attr-defined]
                    "modificationTime": a.modification_time,  # type: ignore[attr-defined]
                    "dataChange": False,
                    "stats": a.stats,  # type: ignore[attr-defined]
                }
            }
            for a in added
        ]
        parameters = {"targetSize": str(target_file_bytes), "predicate": "[]"}
        failpoint("compaction_commit")
        version = base.version + 1
        for _ in range(TAKEN_RETRIES):
            info = {
                "timestamp": moment,
                "operation": "OPTIMIZE",
                "operationParameters": parameters,
                "operationMetrics": dict(metrics),
                "readVersion": base.version,
                "isBlindAppend": False,
                "clientVersion": "lake",
                RUN_ID_KEY: run_id,
                OPERATION_KEY: "OPTIMIZE",
                **(metadata or {}),
            }
            entries = [{"commitInfo": info}, *removes, *adds]
            body = _entry_body(entries)
            if self._put_if_absent(version, body, run_id):
                break
            moment = max(moment, self._check_taken(version, gone))
            version += 1
        else:
            raise CommitConflict(
                f"Other writers kept taking the version this compaction of {self.uri} tried "
                f"({TAKEN_RETRIES} in a row); run it again."
            )
        self._absent = None
        commit = Commit(
            version=version,
            committed_at=_ms_to_datetime(moment),
            operation="OPTIMIZE",
            run_id=run_id,
            metrics=dict(info["operationMetrics"]),  # type: ignore[arg-type]
            parameters=parameters,
        )
        self._mark(version, body)
        _remember_time(self._key, version, commit.committed_at)
        if version == base.version + 1:
            self._derive(base, commit, added, removed=gone)
            # The version before, which the compaction's record compares with: the base the
            # compaction planned on (loaded by its number or derived), not loaded again.
            derived = _derived()
            derived.pop((*self._key, base.version), None)
            while len(derived) >= KEPT_TABLES:
                derived.pop(next(iter(derived)))
            derived[(*self._key, base.version)] = base
        else:
            _ours().pop(self._key, None)
        self._checkpoint_if_due(version, body)
        return commit

    def _check_taken(self, version: int, rewritten: set[str]) -> int:
        """The commit time of ``version``, another writer's, when a compaction of the files
        ``rewritten`` may be committed after it: it removed none of them and changed neither
        the table's metadata nor its protocol.

        Raises:
            _Raced: it did (or its entry is gone: the version cannot be judged).
            StorageError: the entry could not be read.
        """
        try:
            entry = self._entry(version)
        except FileNotFoundError:
            # _put_if_absent found the version taken but there is no entry: a local file
            # system without hard links. Not judged: the compaction is planned again.
            raise _Raced from None
        except OSError as error:  # not this compaction's entry: nothing of it is in doubt
            raise self._translate(error, "reading the log of") from error
        moment = 0
        for line in _entry_lines(entry.decode("utf-8")):
            action = json.loads(line)
            if "metaData" in action or "protocol" in action:
                raise _Raced
            for kind in ("remove", "add"):
                if kind in action and unquote(str(action[kind].get("path"))) in rewritten:
                    raise _Raced
            if "commitInfo" in action:
                moment = int(_commit_moment(action["commitInfo"]) or 0)
        return moment

    def _compact_with_deltalake(
        self,
        *,
        run_id: str,
        target_file_bytes: int,
        metadata: Mapping[str, str] | None,
    ) -> tuple[Commit | None, Mapping[str, object]]:
        """deltalake's optimize, for tables the lake's own compaction commit does not serve
        (see :func:`_own_compaction_refused`: writer features the lake does not know, files
        it cannot read as they are).

        deltalake retries a taken version whatever it is told (see
        :meth:`_commit_compaction`): a PUT of its entry whose answer was lost, sent again by
        the S3 client and refused, made it commit the same removes and adds again one version
        later. Its S3 client is therefore told not to retry (object_store's ``max_retries``):
        the lost answer is an error, and :meth:`_commit_checked` reads the entry back (this
        run's ends the compaction, once). A transient error then fails the compaction, which
        can be run again; the lake's own commit keeps its retries."""
        dt = self._unretried()
        before = dt.version()
        try:
            sample = self._compaction_sample(dt, target_file_bytes)
            # the sample names columns as the files do (column mapping): the table's schema
            # only when no file was read
            properties = _writer_properties(sample, schemas=[] if sample else [_schema_of(dt)])
        except LakeError:
            raise
        except Exception as error:  # noqa: BLE001
            raise self._translate(error, "compacting") from error
        made: list[Mapping[str, object]] = []

        def commit(retries: int) -> None:
            made[:] = [
                dt.optimize.compact(
                    target_size=target_file_bytes,
                    writer_properties=properties,
                    commit_properties=_checked_try_properties(
                        run_id, "OPTIMIZE", metadata, retries
                    ),
                    post_commithook_properties=_hooks(),
                )
            ]
            if not made[0].get("numFilesRemoved") and dt.version() == before:
                raise _NoCommit

        try:
            commit_made = self._commit_checked(before, run_id, commit, "compacting")
        except _NoCommit:
            return None, made[0]
        return commit_made, made[0] if made else {}

    def _unretried(self) -> deltalake.DeltaTable:
        """The latest version, loaded through an S3 client that sends no request twice (the
        table as :meth:`open` loads it elsewhere: a local file system has no lost answers)."""
        from deltalake import DeltaTable

        if not self.storage.is_s3:
            return self.open()
        options = {**self.storage.delta_options(), "max_retries": "0"}
        try:
            return DeltaTable(self.uri, storage_options=options)
        except Exception as error:  # noqa: BLE001
            raise self._translate(error, "reading the log of") from error

    def _compaction_sample(
        self, dt: deltalake.DeltaTable, target_file_bytes: int
    ) -> pa.Table | None:
        """The first rows of the files a compaction of ``dt`` rewrites (those under the target
        size, largest first), for the encodings of the files it writes; None when none reads.

        Without it deltalake gives every column a dictionary, and a compacted table read 1.2x
        slower in DuckDB than DuckDB's own file of the same rows (bench_peers): ids, times
        and measures that rarely repeat cost a hashed dictionary on write and an indirection
        on every read. Read with the file's own column names, which are the names deltalake
        writes, and never more than SAMPLE_FILES files, so a table of many tiny files is not
        read twice over.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        actions = pa.RecordBatchReader.from_stream(dt.get_add_actions(flatten=True)).read_all()
        if not actions.num_rows:
            return None
        files = sorted(
            (
                (size, path)
                for size, path in zip(
                    actions.column("size_bytes").to_pylist(),
                    actions.column("path").to_pylist(),
                    strict=True,
                )
                if size < target_file_bytes
            ),
            reverse=True,
        )[:SAMPLE_FILES]
        fs, base = self.storage.filesystem_for(self.uri)
        parts: list[pa.Table] = []
        rows = 0
        for _, path in files:
            try:
                with fs.open_input_file(f"{base.rstrip('/')}/{unquote(path)}") as handle:
                    first = next(
                        pq.ParquetFile(handle).iter_batches(batch_size=SAMPLE_ROWS - rows), None
                    )
            except OSError as error:
                raise self._translate(error, "reading") from error
            if first is not None:
                parts.append(pa.Table.from_batches([first]))
                rows += first.num_rows
            if rows >= SAMPLE_ROWS:
                break
        if not parts:
            return None
        try:
            return pa.concat_tables(parts, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return parts[0]  # files of different types (the table's types widened): judge one

    def deletion_vector_files(self, version: int) -> frozenset[str]:
        """The deletion vector files (paths relative to the table, decoded) that ``version``
        needs: a file holding the vector of one of its data files. deltalake's vacuum does not
        count them as files of a version (they are named by the vector, not by an add's
        path).

        Raises:
            StorageError: the log names a vector it cannot decode.
        """
        found = set()
        base = self.uri.rstrip("/") + "/"
        for path, vector in self._deletion_vectors(version).items():
            try:
                where = vector.file_path()
            except DeletionVectorError as error:
                raise StorageError(
                    f"The deletion vector of {path} in version {version} of {self.uri} is not "
                    f"valid ({error}); the table cannot be read at this version."
                ) from error
            if where is None:
                continue  # inline: in the log itself
            if vector.storage_type == "p":
                where = unquote(where)
                if not where.startswith(base):
                    continue  # outside the table's folder: vacuum never lists it
                where = where[len(base) :]
            found.add(where)
        return frozenset(found)

    def vacuum(
        self,
        *,
        retain_hours: float,
        keep_versions: Iterable[int],
        apply: bool,
        run_id: str | None = None,
    ) -> list[str]:
        """Delete files no version within ``retain_hours`` or in ``keep_versions`` needs.

        Returns the files deleted (or, when ``apply`` is false, those that would be). The
        commits deltalake writes for a vacuum carry ``run_id``, like every other commit.
        """
        dt = self.open()
        try:
            return dt.vacuum(
                retention_hours=int(retain_hours),
                dry_run=not apply,
                enforce_retention_duration=False,
                full=True,
                keep_versions=sorted(set(keep_versions)) or None,
                commit_properties=_commit_properties(run_id, "VACUUM", None) if run_id else None,
            )
        except Exception as error:  # noqa: BLE001
            raise self._translate(error, "vacuuming") from error

    # -- internals -----------------------------------------------------------------------------

    def scan(self, snapshot: Snapshot) -> Iterator[pa.RecordBatch]:
        """Every row of one version, batch by batch, in the version's schema (partition
        values restored; columns a file predates are null)."""
        for data_file in snapshot.files:
            with self._open_data_file(data_file) as parquet:
                yield from _file_rows(parquet, snapshot, data_file)

    def _prefetched(
        self, files: Sequence[DataFile]
    ) -> Iterator[tuple[DataFile, concurrent.futures.Future[bytes] | None]]:
        """``files``, each with the GET of its bytes already sent when it is small and on S3
        (up to PREFETCH_FILES ahead, on the process's request threads): read one after the
        other through pyarrow, each small file cost a compaction three round trips (its
        size, its footer, its pages)."""
        if not self.storage.is_s3:
            yield from ((f, None) for f in files)
            return
        ahead: collections.deque[tuple[DataFile, concurrent.futures.Future[bytes] | None]]
        ahead = collections.deque()
        try:
            for f in files:
                sent = None
                if f.size <= SINGLE_PUT_BYTES:
                    sent = objects.send(objects.get, self.storage, self._file_uri(f.path))
                ahead.append((f, sent))
                if len(ahead) >= PREFETCH_FILES:
                    yield ahead.popleft()
            while ahead:
                yield ahead.popleft()
        finally:
            for _, sent in ahead:
                if sent is not None:
                    sent.cancel()

    @contextlib.contextmanager
    def _open_data_file(
        self, data_file: DataFile, sent: concurrent.futures.Future[bytes] | None = None
    ) -> Iterator[pq.ParquetFile]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if sent is not None:
            try:
                content = sent.result()
            except OSError as error:
                raise self._translate(error, "reading") from error
            yield pq.ParquetFile(pa.BufferReader(content))
            return
        fs, base = self.storage.filesystem_for(self.uri)
        try:
            handle = fs.open_input_file(f"{base.rstrip('/')}/{unquote(data_file.path)}")
        except OSError as error:
            raise self._translate(error, "reading") from error
        with handle:
            yield pq.ParquetFile(handle)

    def _append_with_merge(
        self,
        files: Sequence[StagedFile],
        schema: pa.Schema,
        partition_by: Sequence[str],
        properties: object,
        run_id: str,
        before: int,
    ) -> Commit:
        """Append staged files whose schema adds columns: deltalake re-encodes them so the
        new schema and the files land in one commit. An error after the commit was made (the
        checkpoint's PUT), or of its entry's PUT, is told as every commit's is
        (:meth:`_after_failed_put`; ``before``: the version the table was at)."""
        try:
            self._write(
                self.uri,
                _staged_reader(files, schema),
                mode="append",
                schema_mode="merge",
                partition_by=partition_by,
                properties=properties,
                archive=_archived(files),
            )
        except Exception as error:  # noqa: BLE001
            if _metadata_changed(error):
                raise _Raced from error
            found = self._after_failed_put(error, before, run_id)
            if found is not None:
                return found
            raise self._translate(error, "writing to") from error
        return self._find_commit(run_id, after=before)

    def _write(
        self,
        target: str | deltalake.DeltaTable,
        data: pa.RecordBatchReader,
        *,
        mode: str,
        schema_mode: str,
        partition_by: Sequence[str],
        properties: object,
        predicate: str | None = None,
        archive: Collection[str] = (),
    ) -> None:
        """deltalake's own writer (it encodes the files) with the lake's encodings, file size
        and hooks; ``target`` a location or an opened table; ``archive``: columns kept without
        a dictionary. Errors are the caller's to say."""
        from deltalake import write_deltalake

        data, sample = _peek(data)
        write_deltalake(
            target,
            data,
            mode=mode,
            schema_mode=schema_mode,
            predicate=predicate,
            partition_by=list(partition_by) or None,
            storage_options=self.storage.delta_options() if isinstance(target, str) else None,
            writer_properties=_writer_properties(
                sample,
                archive,
                # an overwrite with a predicate rewrites the table's rows it keeps
                schemas=[data.schema]
                if isinstance(target, str)
                else [data.schema, _schema_of(target)],
            ),
            target_file_size=TARGET_FILE_BYTES,
            commit_properties=properties,
            post_commithook_properties=_hooks(),
        )

    def publish(
        self,
        files: Sequence[StagedFile],
        *,
        schema: pa.Schema,
        partition_by: Sequence[str] = (),
        folders: Sequence[str] | None = None,
        table: Snapshot | None = None,
    ) -> Publishing:
        """Start copying staged files into the table's location, for an :meth:`append` of
        them (``published=``) with the same schema and partitioning. On S3 a small file's PUT
        is sent now and answered while the caller does other work (a log ingest's prepare
        transaction: the two were one round trip after the other); elsewhere the files are
        copied (or linked) now. :meth:`Publishing.discard` removes them when no append
        follows.

        ``folders``: each file's folder as the log spells it (escaped: the object is under
        its decoded form), instead of ``col=value`` folders of its partition values.
        ``table``: the version the files are for (None: a new table). When it maps its
        columns (mode ``name``), each file is written again under the physical names and
        field ids (:mod:`lake.delta.mapping`), and its add action keys statistics and
        partition values by physical name.

        Raises:
            UnsupportedTableFeature: the table maps a column the files hold to no physical
                name.
        """
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq
        from deltalake.transaction import AddAction

        fs, base = self.storage.filesystem_for(self.uri)
        local = pafs.LocalFileSystem()
        mapped = table is not None and mapping_mode(table.configuration) is not None
        publishing = Publishing(self, files, schema, tuple(partition_by), table if mapped else None)
        stored = physical_names(table.schema) if table is not None and mapped else {}
        rewritten: list[Path] = []
        now_ms = int(time.time() * 1000)
        try:
            for number, staged in enumerate(files):
                source, file_schema = staged.path, schema
                metadata = staged.footer
                if table is not None and mapped:
                    # Next to the staged file, which stays as it is for a retry to read.
                    source = staged.path.with_name(f"{staged.path.stem}-{uuid.uuid4()}.parquet")
                    rewritten.append(source)
                    file_schema, metadata = write_physical(
                        staged.path, source, table.schema, where=self.uri
                    )
                if mapped:
                    # As Spark and deltalake place a column-mapped table's files: a folder
                    # named for the column would name it by a name a rename changes, and
                    # readers take the values from the log.
                    folder = uuid.uuid4().hex[:2]
                elif folders is None:
                    folder = "/".join(
                        folder_name(column, staged.partition_values.get(column))
                        for column in partition_by
                    )
                else:
                    folder = folders[number]
                relative = f"{folder}/" if folder else ""
                relative += f"part-{uuid.uuid4()}.zstd.parquet"
                at = relative if folders is None or mapped else unquote(relative)
                target = f"{base.rstrip('/')}/{at}"
                size = source.stat().st_size
                if metadata is None:
                    metadata = pq.read_metadata(source)
                # Recorded before its copy starts: a failure from here on removes it too.
                publishing.actions.append(
                    AddAction(
                        path=relative,
                        size=size,
                        partition_values={
                            stored.get(column, column): staged.partition_values.get(column)
                            for column in partition_by
                        },
                        modification_time=now_ms,
                        data_change=True,
                        stats=stats_text(file_stats(metadata, file_schema)),
                    )
                )
                if not self.storage.is_s3:
                    fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
                if self.storage.is_s3 and size <= SINGLE_PUT_BYTES:
                    # One request: pyarrow uploads every file in three (a multipart upload).
                    publishing.pending.append(
                        objects.send(objects.put, self.storage, target, source.read_bytes())
                    )
                elif self.storage.is_s3 or not _linked(source, target):
                    pafs.copy_files(
                        str(source), target, source_filesystem=local, destination_filesystem=fs
                    )
        except BaseException as error:
            # Whatever stopped the copies (an interrupt too), none of the files sent so far
            # may stay: no commit will refer to them.
            publishing.discard()
            if isinstance(error, OSError):
                raise self.storage.translate(error, self.uri) from error
            raise
        finally:
            # Sent, copied or linked by now: the local copy under physical names is done with.
            for path in rewritten:
                path.unlink(missing_ok=True)
        return publishing

    def _publish(
        self,
        files: Sequence[StagedFile],
        schema: pa.Schema,
        partition_by: Sequence[str],
        table: Snapshot | None = None,
    ) -> list:
        """Copy staged files into the table's location (``table``: the version they are for,
        see :meth:`publish`); return their Delta add actions."""
        return self.publish(files, schema=schema, partition_by=partition_by, table=table).wait()

    def _find_commit(self, run_id: str, *, after: int | None = None) -> Commit:
        """The commit ``run_id`` just made; ``after``: a version the table had before it
        (then the log entries after it are read, nearly always one, instead of the history)."""
        self._absent = None
        if after is not None:
            # Entry by entry until the first that is not there: listing the log to learn the
            # latest version grows with the log on a local disk (2 ms at 2,000 versions).
            version = after + 1
            while (info := self._commit_info(version, mark=True)) is not None:
                if info.get(RUN_ID_KEY) == run_id:
                    commit = _commit_from_history({**info, "version": version})
                    _remember_time(self._key, version, commit.committed_at)
                    return commit
                version += 1
        commit = self._commit_by_run(run_id)
        if commit is None:
            raise StorageError(
                f"The commit of run {run_id} to {self.uri} is not in the table's history; run "
                f"`lake catalog sync` and try again."
            )
        return commit

    def _commit_by_run(self, run_id: str, depth: int = 200) -> Commit | None:
        dt = self.open()
        latest = dt.version()
        # The run's commit is nearly always among the newest: read a few entries before all.
        for window in (8, depth):
            for commit in self._history(dt, min(window, latest + 1)):
                if commit.run_id == run_id:
                    return commit
            if window >= latest + 1:
                break
        return None

    def _history(self, dt: deltalake.DeltaTable, limit: int | None) -> list[Commit]:
        """``dt.history(limit)``, newest first, each commit with its true version.

        delta-rs reads the newest commits of the log but numbers them down from the version
        ``dt`` was loaded at, so a commit landing in between shifts every number (seen with
        4 concurrent writers: two runs were given the same version). The newest entry's own
        log file tells the shift.
        """
        entries = dt.history(limit)
        if not entries:
            return []
        newest = {k: v for k, v in entries[0].items() if k != "version"}
        loaded = int(entries[0]["version"])
        shift = 0
        while True:
            info = self._commit_info(loaded + shift)
            if info == newest:
                break
            if info is None:  # past the end, or the log entry was cleaned up: trust delta-rs
                shift = 0
                break
            shift += 1
        return [_commit_from_history({**e, "version": int(e["version"]) + shift}) for e in entries]

    def _commit_info(self, version: int, *, mark: bool = False) -> dict[str, object] | None:
        """The commitInfo of one version, from its log entry (None when there is none);
        ``mark``: the entry marks what this thread keeps of the table (see :func:`_marks`)."""
        try:
            entry = read_entry(self.storage, self.uri, version)
            if mark:
                self._mark(version, entry)
            for line in _entry_lines(entry.decode("utf-8")):
                info = json.loads(line).get("commitInfo")
                if info is not None:
                    return info
        except (OSError, ValueError):
            return None
        return None

    def _commit_time(self, dt: deltalake.DeltaTable) -> datetime:
        """When version ``dt.version()`` was committed: its commitInfo timestamp.

        ``DeltaTable.history`` lists the newest commits whatever version the table was
        loaded at, so the version's own log entry is read instead.
        """
        version = dt.version()
        self._check_kept()
        known = _commit_times().get((*self._key, version))
        if known is not None:
            return known
        info = self._commit_info(version, mark=dt is self._latest)
        if info is not None and _commit_moment(info) is not None:
            moment = _ms_to_datetime(_commit_moment(info))
            _remember_time(self._key, version, moment)
            return moment
        # The log entry was cleaned up (log retention): the history may still know it.
        for entry in dt.history(1):
            if entry.get("version") == version:
                return _ms_to_datetime(_commit_moment(entry))
        # Only its checkpoint is left: the time the checkpoint was written (as Delta readers
        # take a commit's time from its file when the commit holds none).
        import pyarrow.fs as pafs

        fs, base = self.storage.filesystem_for(self.uri)
        try:
            infos = fs.get_file_info(pafs.FileSelector(f"{base.rstrip('/')}/_delta_log"))
        except OSError:
            infos = []
        times = [
            i.mtime
            for i in infos
            if i.base_name.startswith(f"{version:020d}.checkpoint") and i.mtime is not None
        ]
        if times:
            moment = min(times)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return datetime.now(UTC)

    def _file_uri(self, path: str) -> str:
        return f"{self.uri.rstrip('/')}/{unquote(path)}"

    def _translate(self, error: BaseException, doing: str) -> LakeError:
        from deltalake.exceptions import CommitFailedError, TableNotFoundError

        if isinstance(error, LakeError):
            return error
        if isinstance(error, TableNotFoundError):
            return TableNotFound(f"No Delta table at {self.uri}.")
        features = _unsupported_features(error)
        if features is not None:
            return UnsupportedTableFeature(
                f"The Delta table at {self.uri} requires the writer features {features}, "
                "which deltalake cannot write: write it with an engine that supports them."
            )
        unreadable = _UNREADABLE_PROTOCOL.search(str(error))
        if unreadable:
            # A version (the latest, or one committed after registration) raised the
            # protocol past what deltalake reads: no version of the table can be opened.
            return UnsupportedTableFeature(
                f"The Delta table at {self.uri} uses a protocol deltalake cannot read "
                f"({unreadable.group(1).strip().rstrip('.')[:200]}): read it with an engine "
                "that supports it."
            )
        unparsed = _UNPARSED_PARTITION.search(str(error))
        if unparsed:
            return self._invalid_partition_value(unparsed["value"], unparsed["type"])
        damaged = re.search(r"Json error: ([^\n]*)", str(error))
        if damaged:
            # delta-rs names neither the entry nor the line, only what it met.
            return StorageError(
                f"The Delta log of {self.uri} has an entry that is not valid JSON "
                f"({damaged.group(1).strip().rstrip('.')[:200]}): restore the damaged file "
                f"of its _delta_log folder from a backup."
            )
        violated = _VIOLATION.search(str(error))
        if violated:
            return self._violation(int(violated["rows"]))
        if isinstance(error, CommitFailedError) and "append-only" in str(error):
            # The table became append-only after this write checked it.
            return append_only_refusal(self.uri, "this write")
        if isinstance(error, CommitFailedError):
            return CommitConflict(
                f"Another writer committed to {self.uri} at the same time and the commit could not "
                f"be retried; run the command again."
            )
        if (
            isinstance(error, FileNotFoundError)
            or "not found" in str(error).lower()
            and ".parquet" in str(error)
        ):
            return VersionVacuumed(
                f"A data file of {self.uri} is missing (removed by vacuum?): {str(error)[:200]}"
            )
        return self.storage.translate(error, f"{doing} {self.uri}")

    def _violation(self, rows: int) -> ConstraintViolation:
        """The refusal of rows deltalake's writer found breaking the table's requirements,
        naming them (deltalake names none)."""
        try:
            checks = "; ".join(self._requirements(self.open()).checks)
        except Exception:  # noqa: BLE001 - the refusal stands without the names
            checks = ""
        named = f" ({checks})" if checks else ""
        return ConstraintViolation(
            f"{rows} {'rows' if rows != 1 else 'row'} written to {self.uri} "
            f"{'break' if rows != 1 else 'breaks'} what the "
            f"Delta table requires of every row{named}, so nothing was committed: correct "
            "the rows (a constraint or invariant must be true, not null, and a generated "
            "column equal to its expression, which the lake does not compute)."
        )

    def _invalid_partition_value(self, value: str, kind: str) -> PartitionValueInvalid:
        """The refusal of a log that gives a file a partition value delta-rs cannot parse as
        its column's type, naming the file, its version and the column: delta-rs names only
        the value, found again here in the log's commit files (newest first)."""
        table = f"table {self.name}" if self.name else f"the Delta table at {self.uri}"
        found = self._find_partition_value(value)
        if found is None:
            return PartitionValueInvalid(
                f"The Delta log of {table} gives a file the partition value {value!r}, which is "
                f"not a {kind}: the engine that wrote it broke the Delta protocol; correct the "
                f"value in that log entry, or rewrite the file with that engine."
            )
        version, path, column = found
        return PartitionValueInvalid(
            f"Version {version} of {table} gives the file {path} the partition value {value!r} "
            f"in column {column}, which is not a {kind}: the engine that wrote it broke the "
            f"Delta protocol; correct the value in {entry_name(version)}, or rewrite the file "
            f"with that engine."
        )

    def _find_partition_value(self, value: str) -> tuple[int, str, str] | None:
        """(version, file, column) of the newest add action in the log's commit files whose
        partition value is ``value``; None when none holds it (only a checkpoint does)."""
        import pyarrow.fs as pafs

        fs, base = self.storage.filesystem_for(self.uri)
        try:
            infos = fs.get_file_info(pafs.FileSelector(f"{base.rstrip('/')}/_delta_log"))
            commits, _ = _log_entries(info.base_name for info in infos)
            for version in sorted(commits, reverse=True)[:_LOOKED_AT_ENTRIES]:
                for line in read_entry(self.storage, self.uri, version).splitlines():
                    add = json.loads(line).get("add") if line.strip() else None
                    for column, text in ((add or {}).get("partitionValues") or {}).items():
                        if text == value:
                            return version, unquote(str(add["path"])), column
        except (OSError, ValueError):
            return None  # the refusal then names the value alone
        return None


_UNPARSED_PARTITION = re.compile(r"Failed to parse value '(?P<value>.*)' as '(?P<type>\w+)'")
"""delta-rs' words for a partition value that is no value of its column's type."""
_LOOKED_AT_ENTRIES = 1000
"""The newest commit files searched for the file that holds such a value."""


class _Raced(Exception):
    """A commit lost the race to one that changed the table's metadata; decide again."""


class _NoCommit(Exception):
    """A write found nothing to commit (a compaction with no files to rewrite)."""


_ENTRY_PUT = re.compile(r"\bPUT (\S+)/_delta_log/(\d{20})\.json\b")
"""object_store's words for a PUT of a log entry that failed after its retries (the URL of
the entry in the message)."""


def _failed_entry_put(uri: str, error: BaseException) -> int | None:
    """The version whose log entry of the table at ``uri`` deltalake failed to PUT, as
    ``error`` says; None when it says something else (a data file's PUT, a read)."""
    if not isinstance(error, OSError) or "://" not in uri:
        return None
    key = uri.split("://", 1)[1].partition("/")[2].rstrip("/")  # the path in the bucket
    for match in _ENTRY_PUT.finditer(str(error)):
        if match.group(1).endswith(f"/{key}"):
            return int(match.group(2))
    return None


_RETRIES_EXHAUSTED = re.compile(r"Failed to commit transaction: \d+")
"""deltalake's words for a commit whose every try found its version taken (as opposed to a
conflict its check found in another writer's commit)."""


def appends_as_they_are(table: pa.Schema, files: pa.Schema) -> bool:
    """Whether files of ``files``'s schema append to a table of ``table``'s without a schema
    merge (which writes files of its own: files published ahead would be thrown away)."""
    return _append_schema(table, files) is not None


def _append_schema(table: pa.Schema, files: pa.Schema) -> pa.Schema | None:
    """The schema to commit files of ``files``'s schema under, appended to a table of
    ``table``'s: the table's own when it has every column of the files, of the same type
    (columns the files lack read as null, as the Delta protocol says); None when the files
    add columns (they must go through a schema merge)."""
    import pyarrow as pa

    if same_schema(table, files):
        return files
    for field in files:
        index = table.get_field_index(field.name)
        if index < 0 or not same_schema(pa.schema([table.field(index)]), pa.schema([field])):
            return None
    return table


def _version_taken(error: BaseException) -> bool:
    """Whether a commit made without deltalake's own retries (``retries=0``) failed because
    the version it tried was taken."""
    from deltalake.exceptions import CommitFailedError

    return (
        isinstance(error, CommitFailedError)
        and not _metadata_changed(error)
        and _unsupported_features(error) is None
    )


_UNREADABLE_PROTOCOL = re.compile(
    r"Kernel error: Unsupported: ((?:Unsupported minimum reader version|Feature )[^\n]*)"
)
"""delta-kernel's words for a protocol it cannot read (``Unsupported minimum reader version
4``, ``Feature 'x' is not supported``): not a storage failure, as they were reported."""

_VIOLATION = re.compile(r"Invalid data found: (?P<rows>\d+) rows failed validation check")
_UNSUPPORTED_FEATURES = re.compile(r"Unsupported table features required: \[([^\]]*)\]")
"""deltalake's words (a ``CommitFailedError``, as a conflict is) for a table whose protocol
names writer features it cannot write (``rowTracking``, ``domainMetadata`` ...)."""


def _unsupported_features(error: BaseException) -> str | None:
    """The writer features deltalake refused to write, as it names them (``RowTracking,
    DomainMetadata``); None when ``error`` says something else. deltalake raises the
    refusal as a ``CommitFailedError``: taken for a conflict, it told the user another writer
    had committed and to run the command again, which fails the same way every time."""
    from deltalake.exceptions import CommitFailedError

    if not isinstance(error, CommitFailedError):
        return None
    match = _UNSUPPORTED_FEATURES.search(str(error))
    return match.group(1) if match else None


def _metadata_changed(error: BaseException) -> bool:
    """Whether a failed commit lost the race to a commit that changed the table's metadata
    or its protocol. Writers making a new table at once on S3 both pass deltalake's look
    for an existing one; the loser's first commit is then rebased onto the winner's, and
    fails with "Protocol changed" (6 rounds of 4 threads each making a new table on the
    loopback S3: most rounds lost two writers so): deciding again appends to the table the
    winner made."""
    from deltalake.exceptions import CommitFailedError

    return isinstance(error, CommitFailedError) and (
        "Metadata changed" in str(error) or "Protocol changed" in str(error)
    )


def _schema_of(dt: deltalake.DeltaTable) -> pa.Schema:
    """The schema of the version ``dt`` is at, as the lake writes it."""
    import pyarrow as pa

    return from_delta_schema(pa.schema(dt.schema().to_arrow()))


READABLE_FEATURES = frozenset(
    {
        "columnMapping",  # name mode: read by each column's physical name (see _unreadable)
        "deletionVectors",  # each file's deleted rows are read from the log and left out
        "timestampNtz",
        "v2Checkpoint",  # deltalake reads the log; the data files are plain Parquet
        "vacuumProtocolCheck",
        "typeWidening",  # older files hold narrower types: every read casts to the schema
        "typeWidening-preview",
        "variantType",  # deltalake declares it with deletion vectors; a variant column is
        "variantType-preview",  # refused by the type conversion itself
    }
)
"""Delta reader features whose tables the lake reads correctly from the data files."""


def _unreadable(dt: deltalake.DeltaTable) -> str | None:
    """Why the files of this version cannot be read as they are (None: they can)."""
    import pyarrow as pa

    features = set(dt.protocol().reader_features or [])
    unknown = sorted(features - READABLE_FEATURES)
    if unknown:
        return (
            f"uses the Delta reader feature {', '.join(unknown)}, which the lake cannot read; "
            "read it with an engine that supports the feature"
        )
    mode = (dt.metadata().configuration or {}).get(COLUMN_MAPPING, "none")
    if mode == "id":
        return (
            "uses column mapping by field id (delta.columnMapping.mode = id), which the lake "
            "cannot read; only mode name is supported"
        )
    if mode not in ("none", "name"):
        return f"declares an unknown column mapping mode {mode!r}"
    if mode == "name":
        schema = pa.schema(dt.schema().to_arrow())
        for column in schema:
            nested = _renamed_nested(column.type)
            if nested is not None:
                return (
                    f"uses column mapping inside the nested column {column.name} ({nested} is "
                    "stored under another name), which the lake cannot read"
                )
    return None


def _renamed_nested(t: pa.DataType) -> str | None:
    """The first field nested in ``t`` whose stored (physical) name differs from its name."""
    import pyarrow as pa

    children: list[pa.Field] = []
    if pa.types.is_struct(t):
        children = [t.field(i) for i in range(t.num_fields)]
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        children = [t.value_field]
    elif pa.types.is_map(t):
        children = [t.key_field, t.item_field]
    for child in children:
        physical = (child.metadata or {}).get(PHYSICAL_NAME.encode())
        if physical is not None and physical.decode() != child.name:
            return child.name
        deeper = _renamed_nested(child.type)
        if deeper is not None:
            return deeper
    return None


def _without_rows(batch: pa.RecordBatch, first: int, deleted: Sequence[int]) -> pa.RecordBatch:
    """``batch`` (rows ``first``.. of its file) without the rows a deletion vector deletes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from lake.core.arrow_values import array

    indexes = pa.arange(first, first + batch.num_rows)
    return batch.filter(pc.invert(pc.is_in(indexes, value_set=array(list(deleted), pa.int64()))))


COMPACTION_PLANS = 3
"""Plans a compaction makes when other writers removed files it rewrote meanwhile."""
OWN_COMPACTION_WRITER_FEATURES = OWN_COMMIT_WRITER_FEATURES | {
    "deletionVectors",  # the rewritten files leave out the rows their vectors delete
    "typeWidening",  # every file is read in the table's current types
    "typeWidening-preview",
    "vacuumProtocolCheck",
    "checkConstraints",  # no row changes: the rows kept their constraints
    "generatedColumns",
    "changeDataFeed",  # a commit without data change records no change data
    "identityColumns",
}
"""Writer features under which a compaction is its removes and adds alone."""


def _own_compaction_refused(dt: deltalake.DeltaTable) -> bool:
    """Whether the lake's own compaction commit cannot serve the table at ``dt``: files it
    cannot read as they are, column mapping (new files would need physical names and field
    ids; refused before this is asked), or writer features it does not know to honour.
    deltalake's optimize then does it."""
    if _unreadable(dt) is not None:
        return True
    protocol = dt.protocol()
    if protocol.min_writer_version > 7:
        return True
    return protocol.min_writer_version == 7 and not (
        set(protocol.writer_features or ()) <= OWN_COMPACTION_WRITER_FEATURES
    )


def compaction_plan(
    files: Sequence[DataFile], target_file_bytes: int
) -> list[tuple[DataFile, ...]]:
    """The bins of a compaction: per partition, the files under ``target_file_bytes``,
    largest first, each into the first bin it fits in up to that size, as deltalake's
    optimize packs them; a bin of one file is left out (rewriting it changes nothing)."""
    partitions: dict[tuple[tuple[str, str | None], ...], list[DataFile]] = {}
    for f in files:
        if f.size < target_file_bytes:
            partitions.setdefault(tuple(sorted(f.partition_values.items())), []).append(f)
    plan: list[tuple[DataFile, ...]] = []
    for candidates in partitions.values():
        bins: list[tuple[int, list[DataFile]]] = []
        for f in sorted(candidates, key=lambda f: f.size, reverse=True):
            for i, (size, chosen) in enumerate(bins):
                if size + f.size <= target_file_bytes:
                    chosen.append(f)
                    bins[i] = (size + f.size, chosen)
                    break
            else:
                bins.append((f.size, [f]))
        plan.extend(tuple(chosen) for _, chosen in bins if len(chosen) > 1)
    return plan


def _compaction_metrics(
    plan: Sequence[Sequence[DataFile]], target_file_bytes: int
) -> dict[str, object]:
    removed = [f for files in plan for f in files]
    return {
        "numFilesAdded": len(plan),
        "numFilesRemoved": len(removed),
        "numBatches": len(plan),
        "totalSizeRemoved": sum(f.size for f in removed),
        "partitionsOptimized": len({tuple(sorted(b[0].partition_values.items())) for b in plan}),
        "targetSize": target_file_bytes,
    }


def _plain_partition(t: pa.DataType) -> bool:
    """Partition types whose values a snapshot holds in the log's own text (see
    :func:`lake.delta.partitions.read_text`): the compaction writes them back as they are."""
    import pyarrow as pa

    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_date32(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
    )


def _logged_values(
    logged: Mapping[str, Mapping[str, object]], data_file: DataFile
) -> dict[str, str | None]:
    """The partition values of ``data_file`` as its add action in the log spells them
    (``logged``: see ``DeltaStore._logged_adds``); a checkpoint holds them as a map."""
    add = logged.get(unquote(data_file.path))
    if add is None:
        raise StorageError(
            f"The Delta log has no add action for {data_file.uri}, which deltalake lists: "
            "check the table's log, then run the command again."
        )
    values = add.get("partitionValues") or {}
    pairs = values.items() if isinstance(values, Mapping) else values
    return {str(k): None if v is None else str(v) for k, v in pairs}  # type: ignore[union-attr]


def _logged_folder(path: str) -> str:
    """The folder of a data file's log path, as the log spells it (escaped); the table's own
    folder for a file the log names by an absolute URI (a new file must be under the table)."""
    if "://" in path or path.startswith("/"):
        return ""
    return path.rpartition("/")[0]


def _log_partition_values(
    values: Mapping[str, str | None], columns: Mapping[str, pa.DataType]
) -> dict[str, str | None]:
    """An action's partitionValues: every partition column, null as null."""
    return {c: values.get(c) for c in columns}


def _file_rows(
    parquet: pq.ParquetFile, snapshot: Snapshot, data_file: DataFile
) -> Iterator[pa.RecordBatch]:
    """The rows ``snapshot`` holds of one of its files, batch by batch, in its schema: rows
    its deletion vector deletes left out, columns by their logical names, partition values
    restored, columns the file predates null, older (narrower) types cast."""
    start = 0  # the index in the file of the batch's first row
    for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS):
        read = batch.num_rows
        if data_file.deleted_rows:
            batch = _without_rows(batch, start, data_file.deleted_rows)
        start += read
        if snapshot.physical_names:
            batch = _logical(batch, snapshot.physical_names)
        yield _with_partitions(batch, snapshot.schema, data_file.partition_values)


def _logical(batch: pa.RecordBatch, stored_names: Mapping[str, str]) -> pa.RecordBatch:
    """A batch read from a column-mapped file, its columns renamed to the schema's names."""
    logical = logical_names(stored_names)
    return batch.rename_columns([logical.get(n, n) for n in batch.schema.names])


_LOG_ENTRY = re.compile(
    r"(?P<version>\d{20})\.(?:json|checkpoint(?:\.(?P<part>\d{10})\.(?P<parts>\d{10})"
    r"|\.[0-9A-Za-z-]+)?\.(?:parquet|json))"
)


def _log_entries(names: Iterable[str]) -> tuple[set[int], set[int]]:
    """The versions with a commit file, and those with a complete checkpoint (classic,
    multi-part with all its parts, or v2), among the names of a ``_delta_log`` folder."""
    commits: set[int] = set()
    checkpoints: set[int] = set()
    parts: dict[tuple[int, int], set[int]] = {}
    for name in names:
        found = _LOG_ENTRY.fullmatch(name)
        if found is None:
            continue
        version = int(found["version"])
        if name == f"{found['version']}.json":
            commits.add(version)
        elif found["parts"] is not None:
            parts.setdefault((version, int(found["parts"])), set()).add(int(found["part"]))
        else:
            checkpoints.add(version)
    for (version, total), seen in parts.items():
        if len(seen) == total:
            checkpoints.add(version)
    return commits, checkpoints


def _staged_reader(files: Sequence[StagedFile], schema: pa.Schema) -> pa.RecordBatchReader:
    """The staged files' rows under ``schema``, marked as Delta keeps it (:func:`_marked`)."""
    import pyarrow as pa

    return _marked(pa.RecordBatchReader.from_batches(schema, _staged_batches(files, schema)))


def _marked(data: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """``data`` under its schema as Delta will keep it (:func:`to_delta_schema`)."""
    import pyarrow as pa

    schema = to_delta_schema(data.schema)
    batches = (pa.RecordBatch.from_arrays(b.columns, schema=schema) for b in data)
    return pa.RecordBatchReader.from_batches(schema, batches)


def _staged_batches(files: Sequence[StagedFile], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Batches of the staged files, with partition values restored, in ``schema``."""
    import pyarrow.parquet as pq

    for staged in files:
        parquet = pq.ParquetFile(staged.path)
        for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS):
            yield _with_partitions(batch, schema, staged.partition_values)


def _with_partitions(
    batch: pa.RecordBatch, schema: pa.Schema, partition_values: Mapping[str, str | None]
) -> pa.RecordBatch:
    """``batch`` of one data file in ``schema``: partition values restored from the log (as
    the Delta protocol writes them), columns the file predates filled with nulls."""
    import pyarrow as pa

    from lake.core.arrow_values import scalar

    for name, value in partition_values.items():
        index = schema.get_field_index(name)
        if index >= 0 and name not in batch.schema.names:
            target = schema.field(index).type
            if value is not None and pa.types.is_binary(target):
                # one character per byte (lake.delta.partitions), not the text's UTF-8
                column = pa.repeat(scalar(value.encode("latin-1"), pa.binary()), batch.num_rows)
            else:
                column = pa.repeat(scalar(value, pa.string()), batch.num_rows)
            batch = batch.append_column(name, column.cast(target))
    return conform(batch, schema)


def _linked(staged: Path, target: str) -> bool:
    """Publish a staged file by a hard link when both are on one local file system: staged
    files are never written again, and copying the 220 MB staged from 580 MB of logs took
    0.07 s at the end of an ingest, when nothing else runs. The staged file stays, for a
    retry to read."""
    try:
        os.link(staged, target)
    except OSError:  # another device, or links not supported: copy instead
        return False
    # A link keeps the staged file's time, hours old after a long ingest: a vacuum running
    # before our commit would take it for an abandoned file past retention and delete it.
    os.utime(target)
    return True


def _hooks() -> deltalake.PostCommitHookProperties:
    """After each commit: a checkpoint every ``delta.checkpointInterval`` commits, but no
    clean-up of expired log entries. That clean-up listed the whole log on every commit
    (commits of a 100-row append took 1.7 ms at version 10 and 17 ms at version 1,500; 5.8 ms
    without it), and the lake keeps every version readable: log entries are never expired."""
    from deltalake import PostCommitHookProperties

    return PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)


def _commit_properties(
    run_id: str,
    operation: str,
    metadata: Mapping[str, str] | None,
    *,
    retries: int = 50,
    guarded: bool = False,
):
    """Commit properties carrying ``run_id``; ``retries``: how often deltalake itself commits
    again at the next version when the one it tried is taken.

    ``guarded``: the commit also sets an application transaction of its run
    (:data:`RUN_TXN_PREFIX`). deltalake checks a retry against every commit made since it
    read the table, and a commit that set the same application id conflicts: so a retry
    after this commit's own PUT was stored (its answer lost, the PUT sent again refused)
    fails as a conflict, which the writer reads back, instead of committing the same actions
    again. Without it, a commit that removes no file (an overwrite of a version without
    files) found no conflict with itself and was made twice."""
    from deltalake import CommitProperties, Transaction

    custom = {RUN_ID_KEY: run_id, OPERATION_KEY: operation, **(metadata or {})}
    guard = [Transaction(app_id=f"{RUN_TXN_PREFIX}{run_id}", version=0)] if guarded else None
    return CommitProperties(
        custom_metadata=custom, max_commit_retries=retries, app_transactions=guard
    )


def _checked_try_properties(
    run_id: str, operation: str, metadata: Mapping[str, str] | None, retries: int
):
    """The commit properties of a try :meth:`DeltaStore._commit_checked` makes: ``retries``
    of deltalake's own (none on the first try), and a try with retries guarded (see
    :func:`_commit_properties`), so deltalake's retry cannot commit it a second time."""
    return _commit_properties(run_id, operation, metadata, retries=retries, guarded=retries > 0)


def _commit_moment(info: Mapping[str, object]) -> object:
    """When a commit was made, in milliseconds, from its commitInfo: its
    ``inCommitTimestamp`` when it has one (a table with in-commit timestamps: the protocol
    makes it the commit's time, for time travel and history, and ``timestamp`` may be an
    earlier clock's), else its ``timestamp`` (None: neither)."""
    moment = info.get("inCommitTimestamp")
    return (
        moment
        if isinstance(moment, int) and not isinstance(moment, bool)
        else info.get("timestamp")
    )


def _commit_from_history(entry: Mapping[str, object]) -> Commit:
    metrics = entry.get("operationMetrics") or {}
    parameters = entry.get("operationParameters") or {}
    return Commit(
        version=int(entry["version"]),  # type: ignore[arg-type]
        committed_at=_ms_to_datetime(_commit_moment(entry)),
        operation=str(entry.get(OPERATION_KEY) or entry.get("operation") or "UNKNOWN"),
        run_id=entry.get(RUN_ID_KEY),  # type: ignore[arg-type]
        metrics=metrics if isinstance(metrics, Mapping) else {},
        parameters=parameters if isinstance(parameters, Mapping) else {},
    )


_CheckAndLook = tuple["concurrent.futures.Future[bytes]", "concurrent.futures.Future[bool]"]
"""The GET of a kept entry and the HEAD of the next, sent (``DeltaStore._send_check_and_look``)."""


def _answer(sent: concurrent.futures.Future) -> object:
    """A sent request's answer, or the error it raised."""
    try:
        return sent.result()
    except Exception as error:  # noqa: BLE001 - handed to the caller to judge
        return error


class Publishing:
    """Staged files being copied into a table's location (:meth:`DeltaStore.publish`): their
    add actions, and the PUTs still on their way."""

    def __init__(
        self,
        store: DeltaStore,
        files: Sequence[StagedFile],
        schema: pa.Schema,
        partition_by: tuple[str, ...],
        mapped: Snapshot | None = None,
    ) -> None:
        self._store = store
        self._files = tuple(files)
        self._schema = schema
        self._partition_by = partition_by
        self._mapped = mapped
        """The column-mapped version the files were written for under its physical names."""
        self.actions: list = []
        self.pending: list[concurrent.futures.Future] = []
        self._done = False

    def matches(
        self,
        store: DeltaStore,
        files: Sequence[StagedFile],
        schema: pa.Schema,
        partition_by: Sequence[str],
        table: Snapshot | None = None,
    ) -> bool:
        """Whether these are the files an append of ``files`` in ``schema`` onto ``table``
        (the version it appends to) would publish: for a column-mapped table, under the
        physical names of the same schema."""
        if self._mapped is not None and (
            table is None
            or mapping_mode(table.configuration) is None
            or not table.schema.equals(self._mapped.schema, check_metadata=True)
        ):
            return False
        if self._mapped is None and table is not None and mapping_mode(table.configuration):
            return False
        return (
            store is self._store
            and not self._done
            and tuple(files) == self._files
            and tuple(partition_by) == self._partition_by
            and schema.equals(self._schema, check_metadata=True)
        )

    def wait(self) -> list:
        """The add actions, once every copy is done.

        Raises:
            StorageError: a copy failed (the others are removed).
        """
        self._done = True
        pending, self.pending = self.pending, []
        for sent in pending:
            try:
                sent.result()
            except Exception as error:  # noqa: BLE001 - whatever the store raised
                self._remove(pending)
                failure = error if isinstance(error, OSError) else OSError(str(error))
                raise self._store.storage.translate(failure, self._store.uri) from error
        for _ in self.actions:
            failpoint("upload")
        return self.actions

    @property
    def taken(self) -> bool:
        """Whether an append took the files (:meth:`wait`) or they were discarded."""
        return self._done

    def discard(self) -> None:
        """Remove the files (best effort: vacuum removes any left); no append takes them."""
        self._done = True
        pending, self.pending = self.pending, []
        self._remove(pending)

    def _remove(self, pending: Sequence[concurrent.futures.Future]) -> None:
        for sent in pending:
            with contextlib.suppress(Exception):
                sent.result()
        self._store._unpublish(self.actions)


def _entry_body(entries: Iterable[Mapping[str, object]]) -> bytes:
    """A log entry the lake writes: one action per line, UTF-8, text as itself. deltalake's
    ``to_pyarrow_dataset`` read U+10FFFF spelled as a ``\\u`` escape pair as U+FFFFF, so
    a file's maximum of that string fell below its values and a filter kept excluded rows."""
    return "".join(
        json.dumps(e, separators=(",", ":"), ensure_ascii=False) + "\n" for e in entries
    ).encode()


def _entry_lines(text: str) -> list[str]:
    """The actions of a log entry, one JSON text a line. Split at newlines only: text in an
    entry is written as itself (by the lake, see :func:`_entry_body`, and by delta-rs), and
    ``str.splitlines`` also splits at U+2028, U+2029, U+0085 and U+001C-U+001E, which a
    string statistic or a predicate may hold, and cut an action in two."""
    return [line for line in text.split("\n") if line.strip()]


def _logged_time(text: object) -> datetime | None:
    """A timestamp statistic as the lake writes it (:func:`lake.delta.stats.stat_json`)."""
    if not isinstance(text, str):
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ms_to_datetime(ms: object) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)  # type: ignore[arg-type]


def _is_missing_version(error: BaseException) -> bool:
    text = str(error)
    return (
        "not the same as the specified end version" in text
        or "Invalid table version" in text
        or ("version" in text.lower() and "not found" in text.lower())
    )


def rows_from_lines(source_column: str, line_column: str, ranges: Sequence[tuple[str, int]]) -> str:
    """A Delta SQL predicate for the rows of each ``(source, first_line)``: ``source_column``
    equal to the source and ``line_column`` at least the line."""
    return " OR ".join(
        f"({_delta_ident(source_column)} = '{source.replace(chr(39), chr(39) * 2)}'"
        f" AND {_delta_ident(line_column)} >= {int(line)})"
        for source, line in ranges
    )


def _delta_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _writer_properties(
    sample: pa.Table | None, archive: Collection[str] = (), *, schemas: Sequence[pa.Schema] = ()
) -> deltalake.WriterProperties:
    from lake.delta.encoding import delta_writer_properties

    return delta_writer_properties(
        sample, max_row_group_size=ROW_GROUP_ROWS, archive=archive, schemas=schemas
    )


def _archived(files: Sequence[StagedFile]) -> set[str]:
    """The columns the staged files archive (see :func:`_zstd_columns`): deltalake's writer,
    which re-encodes them, is told to keep them without a dictionary."""
    import pyarrow.parquet as pq

    return archived_columns(pq.read_metadata(files[0].path)) if files else set()


def _peek(
    data: pa.RecordBatchReader | pa.Table,
) -> tuple[pa.RecordBatchReader | pa.Table, pa.Table | None]:
    """``data`` unchanged for the writer, and its first rows (None when it has none)."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data, data
    try:
        first = data.read_next_batch()
    except StopIteration:
        return data, None

    def batches() -> Iterator[pa.RecordBatch]:
        yield first
        yield from data

    return pa.RecordBatchReader.from_batches(data.schema, batches()), pa.Table.from_batches([first])
