"""Vacuum that never deletes what a registered model needs, and retention durations.

**The vacuum rule.** Vacuum deletes a table's data files that no *kept* version needs,
and files no version ever committed (left by a killed writer) once they are older than
the retention. The kept versions are:

* the latest version;
* every version still within the retention: a version whose successor was committed
  less than ``retain`` ago (its files were removed less than ``retain`` ago);
* every *pinned* version, whatever its age: a version read by a registered training set
  (pins of kind ``training_set``), by the training set of a registered model (``model``),
  or tagged by a person (``tag``, ``lake tag TABLE@N NAME``); the pins are catalog
  records (``catalog.pins``).

A vacuum that deletes holds the table's vacuum lease (catalog/pins.py) from reading the
pins until its run is recorded, and every pin is added under the same lease: a pin made
during a vacuum waits for it, and one on a version that vacuum did not keep is then refused.
Its run records the table's id, its latest version and the versions it kept, which is what
that refusal reads.

Before deleting anything, vacuum checks that every file each kept version needs is in
the warehouse (one listing of the table's folder); a kept version already missing a file
stops the vacuum with nothing deleted. It also checks that its own plan deletes no file
a kept version needs. A dry run (the default) shows the files that would go and the
bytes they free.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from catalog.catalog import Catalog
from catalog.exceptions import PinnedVersionMissing, VacuumRefused
from catalog.pins import pins, vacuum_lease
from catalog.tables import TableInfo
from catalog.versions import VersionInfo
from lake.core.errors import ConfigError, VersionNotFound
from lake.core.failpoints import failpoint
from lake.core.objects import delete
from lake.core.storage import Storage
from lake.delta.store import DeltaStore

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.IGNORECASE)
_UNITS = {"s": 1 / 3600, "m": 1 / 60, "h": 1, "d": 24, "w": 168}
_DELETION_VECTOR = re.compile(r"(?:[^/]+/)?deletion_vector_[0-9a-fA-F-]{36}\.bin")


# -- durations (pure) ------------------------------------------------------------------------


def parse_retention(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` or ``0d`` -> a duration.

    Raises:
        ConfigError: anything else, saying what is accepted.
    """
    found = _DURATION.fullmatch(text or "")
    if not found:
        raise ConfigError(
            f"Retention {text!r} is not a duration; write a number and a unit: "
            f"7d, 12h, 30m, 90s, 2w or 0d."
        )
    hours = float(found.group(1)) * _UNITS[found.group(2).lower()]
    return timedelta(hours=hours)


def retention_hours(retain: timedelta) -> int:
    """Whole hours for deltalake, rounded up: keeping a little more is the safe side."""
    return math.ceil(retain.total_seconds() / 3600 - 1e-9) if retain.total_seconds() > 0 else 0


def retained_versions(commits: Sequence[tuple[int, datetime]], cutoff: datetime) -> list[int]:
    """The versions a time-based retention keeps readable: the latest, and every version
    whose successor was committed at or after ``cutoff``. ``commits`` is (version, time),
    ascending."""
    kept = []
    for (version, _), successor in zip(commits, list(commits[1:]) + [None], strict=True):
        if successor is None or successor[1] >= cutoff:
            kept.append(version)
    return kept


# -- vacuum ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptVersion:
    version: int
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class VacuumReport:
    """What vacuum did to one table (or, in a dry run, would do)."""

    table: str
    retain_hours: int
    applied: bool
    files: tuple[tuple[str, int | None], ...]
    """(path relative to the table, size in bytes) of each file deleted or to delete."""
    kept: tuple[KeptVersion, ...]
    checked_files: int
    run_id: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bytes(self) -> int:
        return sum(size or 0 for _, size in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "retain_hours": self.retain_hours,
            "applied": self.applied,
            "files": [{"path": p, "bytes": s} for p, s in self.files],
            "file_count": len(self.files),
            "bytes": self.bytes,
            "kept": [k.to_json() for k in self.kept],
            "checked_files": self.checked_files,
            "run_id": self.run_id,
            "notes": list(self.notes),
        }


def vacuum_table(
    catalog: Catalog,
    store: DeltaStore,
    table: TableInfo,
    *,
    retain: timedelta,
    apply: bool,
    now: datetime | None = None,
    owned: bool = False,
) -> VacuumReport:
    """Plan (and with ``apply``, run) the vacuum of one table under the rule above; an
    external table (``lake table register``) only when ``owned``.

    Raises:
        ExternalTable: an external table, not ``owned``.
        PinnedVersionMissing: a kept version already lacks a file; nothing is deleted.
        VacuumRefused: the plan would delete a file a kept version needs; nothing is deleted.
    """
    from lake.landing.register import check_owned

    check_owned(table, owned=owned, doing="vacuum")
    if not store.exists():
        return VacuumReport(
            str(table.name), retention_hours(retain), apply, (), (), 0, notes=("no data yet",)
        )
    if not apply:
        return _vacuum(catalog, store, table, retain=retain, apply=False, now=now)
    with vacuum_lease(catalog, table):
        return _vacuum(catalog, store, table, retain=retain, apply=True, now=now)


def _vacuum(
    catalog: Catalog,
    store: DeltaStore,
    table: TableInfo,
    *,
    retain: timedelta,
    apply: bool,
    now: datetime | None,
) -> VacuumReport:
    now = now or datetime.now(UTC)
    hours = retention_hours(retain)
    recorded = catalog.versions(table)
    latest = store.latest_version()
    reasons: dict[int, list[str]] = {}
    commits = [(v.version, v.committed_at) for v in recorded if v.version <= latest]
    for version in retained_versions(commits, now - timedelta(hours=hours)):
        if version != latest:
            reasons.setdefault(version, []).append(f"within the {hours}h retention")
    reasons.setdefault(latest, []).append("latest")
    pinned = pins(catalog, table)
    for pin in pinned:
        if pin.version > latest:
            raise VersionNotFound(
                f"{pin.reason} pins version {pin.version} of {table.name}, but the table's latest "
                f"version is {latest}; run `lake catalog sync {table.name}`."
            )
        reasons.setdefault(pin.version, []).append(pin.reason)
    kept = tuple(KeptVersion(v, tuple(dict.fromkeys(r))) for v, r in sorted(reasons.items()))
    needed = _needed_files(store, kept, recorded)
    present = _listing(store)
    for version, files in needed.items():
        missing = sorted(files - present.keys())
        if missing:
            why = ", ".join(next(k.reasons for k in kept if k.version == version))
            raise PinnedVersionMissing(str(table.name), version, why, tuple(missing[:5]))
    keep_versions = sorted({p.version for p in pinned})
    candidates = [
        _relative(store, c)
        for c in store.vacuum(retain_hours=hours, keep_versions=keep_versions, apply=False)
    ]
    candidates = [c for c in candidates if c in present or unquote(c) in present]
    all_needed = frozenset().union(*needed.values()) if needed else frozenset()
    # deltalake's vacuum deletes what no add action names: a deletion vector's file is
    # named by its vector only, and deleting a live one leaves its version unreadable to
    # every engine. Those stay, and the vacuum deletes the other files itself.
    vectors = {
        c
        for c in candidates
        if _DELETION_VECTOR.fullmatch(unquote(c)) and (c in all_needed or unquote(c) in all_needed)
    }
    candidates = [c for c in candidates if c not in vectors]
    clash = sorted({c for c in candidates if c in all_needed or unquote(c) in all_needed})
    if clash:
        raise VacuumRefused(str(table.name), tuple(clash[:5]))
    checked = len(all_needed)
    if not apply:
        files = tuple(
            (path, present.get(path, present.get(unquote(path)))) for path in sorted(candidates)
        )
        return VacuumReport(str(table.name), hours, False, files, kept, checked)
    run_id = catalog.start_run(
        kind="vacuum",
        job=f"vacuum:{table.name}",
        parameters={
            "retain_hours": hours,
            "keep_versions": keep_versions,
            # What catalog.pins.check_pinnable reads: versions below `latest` not kept here
            # may lose files.
            "table_id": table.id,
            "latest": latest,
            "kept_versions": [k.version for k in kept],
        },
    )
    try:
        failpoint("vacuum_delete")
        # With nothing planned, deltalake is not asked: its full vacuum commits a VACUUM START
        # and END whenever it finds candidates, and it finds the tombstones it deleted before
        # (and any empty "folder" object) every time again: two versions a vacuum, of nothing.
        if vectors:
            deleted = _delete_files(store, candidates)
        elif candidates:
            deleted = store.vacuum(
                retain_hours=hours, keep_versions=keep_versions, apply=True, run_id=run_id
            )
        else:
            deleted = []
    except BaseException as error:
        catalog.finish_run(run_id, status="failed", error=str(error)[:2000])
        raise
    # delta-rs also reports tombstoned files that an earlier vacuum already deleted (and
    # then by absolute path): only files that were there count.
    deleted = [_relative(store, path) for path in deleted]
    deleted = [path for path in deleted if path in present or unquote(path) in present]
    files = tuple((path, present.get(path, present.get(unquote(path)))) for path in sorted(deleted))
    notes = []
    unplanned = sorted(set(deleted) - {_relative(store, c) for c in candidates})
    if unplanned:
        notes.append(f"{len(unplanned)} file(s) became deletable between the plan and the vacuum")
    catalog.finish_run(
        run_id,
        status="completed",
        stats={
            "files_deleted": len(files),
            "bytes_freed": sum(s or 0 for _, s in files),
            "kept_versions": [k.version for k in kept],
        },
    )
    return VacuumReport(str(table.name), hours, True, files, kept, checked, run_id, tuple(notes))


def _needed_files(
    store: DeltaStore, kept: Sequence[KeptVersion], recorded: Sequence[VersionInfo]
) -> dict[int, frozenset[str]]:
    """The data files (paths relative to the table) each kept version needs.

    A run of kept versions whose later members only appended (``files_removed == 0`` in the
    catalog) needs exactly the files of its last member, so that one snapshot stands for
    the whole run; other versions are read from the Delta log one by one.
    """
    removed = {v.version: v.files_removed for v in recorded}
    versions = sorted(k.version for k in kept)
    needed: dict[int, frozenset[str]] = {}
    i = 0
    while i < len(versions):
        j = i
        while (
            j + 1 < len(versions)
            and versions[j + 1] == versions[j] + 1
            and removed.get(versions[j + 1]) == 0
        ):
            j += 1
        snapshot = store.snapshot(versions[j])
        files = frozenset(unquote(f.path) for f in snapshot.files)
        if any(f.deleted_rows for f in snapshot.files):  # its log is read again only then
            files |= store.deletion_vector_files(versions[j])
        for version in versions[i : j + 1]:
            needed[version] = files if version == versions[j] else frozenset()
        i = j + 1
    return {v: f for v, f in needed.items() if f}


def _delete_files(store: DeltaStore, paths: Sequence[str]) -> list[str]:
    """Delete the files at ``paths`` (relative to the table, as the plan names them): the
    vacuum of a table whose deletion vectors deltalake's own vacuum would delete."""
    base = store.uri.rstrip("/")
    for path in paths:
        delete(store.storage, f"{base}/{unquote(path)}")
    return list(paths)


def _relative(store: DeltaStore, path: str) -> str:
    """A path vacuum reported, relative to the table (it reports some absolute ones)."""
    _, base = store.storage.filesystem_for(store.uri)
    for prefix in (
        store.uri.rstrip("/") + "/",
        base.rstrip("/") + "/",
        "/" + base.strip("/") + "/",
    ):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _listing(store: DeltaStore) -> dict[str, int]:
    """Every file under the table's folder: relative path -> size (one listing)."""
    import pyarrow.fs as pafs

    fs, base = store.storage.filesystem_for(store.uri)
    base = base.rstrip("/")
    try:
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as error:
        raise store.storage.translate(error, store.uri) from error
    return {
        info.path[len(base) + 1 :]: info.size for info in infos if info.type == pafs.FileType.File
    }


# -- binary assets (objects/ab/cdef..., written by `lake ingest files`) ----------------------


@dataclass(frozen=True)
class ObjectsReport:
    """What vacuum did to the warehouse's objects (or, in a dry run, would do)."""

    applied: bool
    referenced: int
    """Objects a kept version of some table names in its ``uri`` column."""
    files: tuple[tuple[str, int], ...]
    """(object URI, size) of each object deleted or to delete."""

    def to_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "referenced": self.referenced,
            "objects": [{"uri": u, "bytes": b} for u, b in self.files],
            "bytes": sum(b for _, b in self.files),
        }


def vacuum_objects(
    storage: Storage,
    kept: Sequence[tuple[DeltaStore, Sequence[int]]],
    *,
    retain: timedelta,
    apply: bool = False,
) -> ObjectsReport:
    """Delete the objects no kept version of any table names (a dry run unless ``apply``).

    ``kept`` is every table with its kept versions (:func:`vacuum_table`'s rule, so a
    version a training set, model or tag pins keeps its objects). Only objects older than
    ``retain`` go: an ingest still running has stored objects its version does not name yet.
    """
    from pyarrow.fs import FileSelector, FileType

    prefix = storage.objects_root + "/"
    named: set[str] = set()
    for store, versions in kept:
        for version in versions:
            snapshot = store.snapshot(version)
            if "uri" not in snapshot.schema.names:
                continue  # no uri column at this version: names no object
            for batch in store.scan(snapshot):
                named.update(
                    u for u in batch.column("uri").to_pylist() if u and u.startswith(prefix)
                )
    fs, root = storage.filesystem_for(storage.objects_root)
    cutoff = datetime.now(UTC) - retain
    doomed = []
    for info in fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True)):
        if info.type != FileType.File:
            continue
        uri = prefix + info.path[len(root.rstrip("/")) + 1 :]
        mtime = info.mtime
        if mtime is not None and mtime.tzinfo is None:
            mtime = mtime.replace(tzinfo=UTC)
        if uri not in named and (mtime is None or mtime < cutoff):
            doomed.append((uri, info.size or 0, info.path))
    if apply:
        for uri, _, path in doomed:
            delete(storage, path, where=uri)
    return ObjectsReport(apply, len(named), tuple((u, s) for u, s, _ in sorted(doomed)))
