"""A training set's folder on object storage (``--out s3://bucket/prefix``).

The shards are written to a local temporary folder exactly as for a local ``--out`` (same
bytes, same content hash), then uploaded under the prefix; the manifest goes last, to
``PREFIX/.lake/manifest.json``, so a prefix with a manifest always holds the files it lists.
The rules of a local folder hold: a prefix holds one training-set version for good, objects
that are not the lake's are never deleted (their presence refuses the write), and a cache
hit checks every listed object's size and sha256 (reading it back once).

**One writer at a time.** S3 has no ``flock``: a writer uploads only while it holds the
prefix's lease, ``PREFIX/.lake/writer.json``, written put-if-absent (``If-None-Match: *``)
and given back by a delete conditional on its ETag. The lease names the writer (host, pid)
and the files it uploads, as a local folder's install journal does. A second writer that
finds it held refuses in one sentence; one that gets it after another writer finished the
same set finds that set and writes nothing over it; the manifest itself is written
put-if-absent, so two manifests can never both land. A writer that died cannot hold the
prefix for ever: its lease expires (:data:`LEASE_SECONDS` after it was taken or last
renewed; a writer renews it while it uploads), or at once when the lease names a process
that is provably gone (:mod:`lake.core.processes`); the next writer takes it over by a write
conditional on the dead lease's ETag (two takers: one wins) and deletes the files the dead
writer had listed. Clocks of writers on different hosts are trusted to agree within minutes.

**An upload never outlives its lease.** pyarrow cannot abort an upload midway, and one
stopped (a paused VM, a stalled network) until its lease expired landed among the files of
the writer that took the prefix over. Each shard goes as a multipart upload
(:func:`lake.core.objects.upload_confirmed`), which makes no object until it is completed:
the writer renews its lease by its ETag just before completing, so it completes only while
the lease is its own, with the whole lease ahead (a stop between the two must last the
lease). A taker aborts the uncompleted uploads of the dead writer's files before it deletes
or writes anything: one completed first is deleted with them, one not yet can never be.
No byte is sent twice (a server-side copy from a private name would copy each shard again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lake.core.errors import StorageError
from lake.core.failpoints import failpoint
from lake.core.objects import (
    abort_uploads,
    delete,
    delete_unless_changed,
    get_tagged,
    put_unless_changed,
    upload_confirmed,
)
from lake.core.processes import FIELDS as PROCESS_FIELDS
from lake.core.processes import alive as process_alive
from lake.core.processes import this_process
from lake.core.storage import Storage
from queries.exceptions import ManifestError, OutputFolderNotEmpty, TrainingSetError
from queries.manifest import LAKE_FOLDER, MANIFEST_PATH, OLD_MANIFEST_NAME, Manifest, unlisted

if TYPE_CHECKING:
    import pyarrow.fs as pafs

REMOTE_SCHEMES = ("s3://",)
_BLOCK = 8 << 20
LEASE_PATH = f"{LAKE_FOLDER}/writer.json"
LEASE_SECONDS = 600
"""How long a writer's lease on a prefix holds without renewal: the longest a writer that
died blocks the prefix from another host. A live writer renews it each third of it."""


def is_remote(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(REMOTE_SCHEMES)


@dataclass(frozen=True)
class _Lease:
    """A writer's hold on a prefix (``.lake/writer.json``), as read or written."""

    writer: str
    host: str
    pid: int
    since: str
    expires: datetime
    files: tuple[str, ...]
    e_tag: str | None = None
    process: Mapping[str, Any] = field(default_factory=dict)
    """Its writer's process as :func:`lake.core.processes.this_process` records it."""

    @classmethod
    def mine(cls, files: tuple[str, ...], since: str | None = None) -> _Lease:
        now = datetime.now(UTC)
        process = this_process()
        return cls(
            writer=uuid.uuid4().hex,
            host=socket.gethostname(),
            pid=int(process["pid"]),
            since=since or now.isoformat(timespec="seconds"),
            expires=now + timedelta(seconds=LEASE_SECONDS),
            files=files,
            process=process,
        )

    @classmethod
    def parse(cls, body: bytes, e_tag: str | None) -> _Lease | None:
        """None for a lease the lake cannot read (one written by hand): treated as expired."""
        try:
            data = json.loads(body.decode("utf-8"))
            return cls(
                writer=str(data["writer"]),
                host=str(data["host"]),
                pid=int(data["pid"]),
                since=str(data["since"]),
                expires=datetime.fromisoformat(str(data["expires"])),
                files=tuple(str(f) for f in data.get("files") or ()),
                e_tag=e_tag,
                process={key: data.get(key) for key in PROCESS_FIELDS},
            )
        except (ValueError, KeyError, TypeError):
            return None

    def body(self) -> bytes:
        return json.dumps(
            {
                "writer": self.writer,
                "host": self.host,
                "pid": self.pid,
                "since": self.since,
                "expires": self.expires.isoformat(timespec="seconds"),
                "files": list(self.files),
                **self.process,
            }
        ).encode("utf-8")

    @property
    def alive(self) -> bool:
        """Whether its writer may still be writing: not expired, and its process not
        provably gone (:func:`lake.core.processes.alive`; a host name and pid alone prove
        nothing)."""
        if self.expires <= datetime.now(UTC):
            return False
        return process_alive(self.process) is not False


@dataclass
class RemoteFolder:
    """``s3://bucket/prefix`` as a training set's folder."""

    location: str
    storage: Storage = field(repr=False)
    fs: pafs.FileSystem = field(init=False, repr=False)
    root: str = field(init=False)

    def __post_init__(self) -> None:
        self.location = self.location.rstrip("/")
        if self.location.count("/") < 3 or not self.location.split("/", 3)[3]:
            raise TrainingSetError(
                f"--out {self.location} names a bucket without a prefix; give a folder in it, "
                f"e.g. {self.location}/training/churn."
            )
        self.fs, self.root = self.storage.filesystem_for(self.location)

    def __str__(self) -> str:
        return self.location

    def __truediv__(self, relative: str) -> str:
        return f"{self.location}/{relative}"

    def _path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def _info(self, relative: str) -> Any:
        return self.fs.get_file_info(self._path(relative))

    def read_manifest(self) -> Manifest | None:
        """The manifest under the prefix (or None); one the lake cannot read refuses."""
        from pyarrow.fs import FileType

        for relative in (MANIFEST_PATH, OLD_MANIFEST_NAME):
            if self._info(relative).type != FileType.File:
                continue
            try:
                with self.fs.open_input_stream(self._path(relative)) as stream:
                    data = json.loads(stream.read().decode("utf-8"))
                return Manifest.from_json(data, where=self / relative)
            except (ManifestError, ValueError) as error:
                raise OutputFolderNotEmpty(
                    f"{self.location} holds a manifest the lake cannot read ({error}); remove "
                    f"it or choose another --out."
                ) from error
        return None

    def objects(self) -> dict[str, int]:
        """Every object under the prefix: relative path -> size."""
        from pyarrow.fs import FileSelector, FileType

        selector = FileSelector(self.root, recursive=True, allow_not_found=True)
        return {
            info.path[len(self.root) + 1 :]: info.size
            for info in self.fs.get_file_info(selector)
            if info.type == FileType.File
        }

    def check_foreign(self, previous: Manifest | None) -> None:
        """Refuse a prefix holding objects that are not the previous training set's, or one
        another writer is writing now (a dead writer's files are the lake's own)."""
        lease = self._lease()
        if lease is not None and lease.alive:
            raise self._busy(lease)
        ours = {str(f["path"]) for f in previous.files} if previous else set()
        ours |= set(lease.files) if lease is not None else set()
        foreign = sorted(
            name
            for name in self.objects()
            if name not in ours
            and name != OLD_MANIFEST_NAME
            and not name.startswith(f"{LAKE_FOLDER}/")
        )
        if foreign:
            shown = ", ".join(foreign[:3]) + (
                f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            )
            raise OutputFolderNotEmpty(
                f"The output prefix {self.location} holds objects that are not a training "
                f"set's ({shown}); the lake does not delete them: choose an empty or new prefix."
            )

    def intact(self, manifest: Manifest) -> bool:
        """Every listed object is there with its recorded size and sha256, and no other
        object a loader of the prefix reads."""
        sizes = self.objects()
        if any(sizes.get(str(f["path"])) != int(f["bytes"]) for f in manifest.files):
            return False
        if unlisted(sizes, manifest):
            return False
        for entry in manifest.files:
            digest = hashlib.sha256()
            with self.fs.open_input_stream(self._path(str(entry["path"]))) as stream:
                while chunk := stream.read(_BLOCK):
                    digest.update(chunk)
            if digest.hexdigest() != entry["sha256"]:
                return False
        return True

    def install(self, staging: Path, previous: Manifest | None, manifest: Manifest) -> Manifest:
        """Upload the staged shards, drop the previous set's other files, manifest last,
        holding the prefix's lease; the manifest the prefix then holds (another writer's,
        when it finished the same set first: nothing is written over it).

        Raises:
            OutputFolderNotEmpty: another writer holds the prefix, or wrote another set there.
        """
        files = _paths(manifest)
        # The lease names every file this writer may leave behind, the previous set's it is
        # about to delete too: a writer that dies half-way leaves nothing the next takes for
        # foreign.
        left = _paths(previous) if previous else ()
        lease, dead = self._take(tuple(dict.fromkeys((*files, *left))))
        uploading = False
        try:
            current = self.read_manifest()
            if current is not None and (
                previous is None or current.to_json() != previous.to_json()
            ):
                # Written by another writer since this one looked.
                same = (current.name, current.version, current.content_hash) == (
                    manifest.name,
                    manifest.version,
                    manifest.content_hash,
                )
                if same and self.intact(current):
                    return current
                if not same:
                    raise OutputFolderNotEmpty(
                        f"Another writer put training set {current.name}@{current.version} "
                        f"into {self.location} while this one wrote "
                        f"{manifest.name}@{manifest.version}; the lake never writes over a "
                        f"recorded version: write it to a new prefix."
                    )
                previous = current
                lease = self._renewed(
                    lease, files=tuple(dict.fromkeys((*lease.files, *_paths(current))))
                )
            uploading = True
            # A writer that lost its lease while stopped may still be sending a shard: once
            # its upload is aborted it can never complete, so before anything is deleted or
            # written (one it completed first is among its files, deleted below).
            abort_uploads(self.storage, self.location, {*dead, *files})
            for relative in (MANIFEST_PATH, OLD_MANIFEST_NAME):
                self._delete(relative)
            gone = {*(_paths(previous) if previous else ()), *dead} - set(files)
            for relative in sorted(gone):
                self._delete(relative)
            for relative in files:
                lease = self._renewed(lease)

                def confirm() -> None:
                    """The lease is still this writer's, renewed now: the shard may land."""
                    nonlocal lease
                    failpoint("materialize_upload")
                    lease = self._renewed(lease, now=True)

                upload_confirmed(
                    self.storage, self / relative, staging / relative, before_complete=confirm
                )
            failpoint("materialize_install")
            lease = self._renewed(lease)
            text = json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n"
            if (
                put_unless_changed(
                    self.storage, self / MANIFEST_PATH, text.encode("utf-8"), e_tag=None
                )
                is None
            ):
                raise self._lost()
            uploading = False
            return manifest
        finally:
            self._give_back(lease, keep=uploading)

    def _give_back(self, lease: _Lease, *, keep: bool) -> None:
        """Let the prefix go. ``keep``: this writer failed half-way, and the lease, expired
        now, names its files for the next writer to clear. Never raises: a lease that cannot
        be given back (the store refuses conditional deletes, or the request failed) only
        holds the prefix until it expires, and the write's own outcome stands."""
        try:
            if not keep and delete_unless_changed(
                self.storage, self / LEASE_PATH, e_tag=str(lease.e_tag)
            ):
                return
        except StorageError:
            pass  # expired below instead
        with contextlib.suppress(StorageError):
            self._put_lease(replace(lease, expires=datetime.now(UTC)), lease.e_tag)

    def _lease(self) -> _Lease | None:
        """The prefix's lease as it is (None when there is none), its ETag kept."""
        try:
            body, e_tag = get_tagged(self.storage, self / LEASE_PATH)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise self.storage.translate(error, self / LEASE_PATH) from error
        found = _Lease.parse(body, e_tag)
        if found is None:  # unreadable: as good as expired, taken over by its ETag
            return _Lease("", "", 0, "", datetime.min.replace(tzinfo=UTC), (), e_tag)
        return found

    def _take(self, files: tuple[str, ...]) -> tuple[_Lease, tuple[str, ...]]:
        """Take the prefix's lease: put-if-absent, or over a dead writer's by its ETag. The
        lease, and the files the dead writer was writing.

        Raises:
            OutputFolderNotEmpty: a live writer holds it, or another writer took it first.
        """
        mine = _Lease.mine(files)
        found = self._lease()
        if found is not None and found.alive:
            raise self._busy(found)
        e_tag = self._put_lease(mine, found.e_tag if found is not None else None)
        if e_tag is None:
            taker = self._lease()
            raise self._busy(taker) if taker is not None else self._lost()
        return replace(mine, e_tag=e_tag), found.files if found is not None else ()

    def _renewed(
        self, lease: _Lease, *, files: tuple[str, ...] | None = None, now: bool = False
    ) -> _Lease:
        """The lease, renewed when a third of it has passed (or ``now``: this writer's own
        clock is not trusted to tell it still holds it), or naming ``files`` now (by its
        ETag: a writer whose lease expired and was taken over stops here)."""
        due = now or lease.expires - datetime.now(UTC) <= timedelta(seconds=LEASE_SECONDS * 2 / 3)
        if not due and (files is None or files == lease.files):
            return lease
        renewed = replace(
            _Lease.mine(lease.files if files is None else files, lease.since),
            writer=lease.writer,
        )
        e_tag = self._put_lease(renewed, lease.e_tag)
        if e_tag is None:
            raise self._lost()
        return replace(renewed, e_tag=e_tag)

    def _put_lease(self, lease: _Lease, e_tag: str | None) -> str | None:
        try:
            return put_unless_changed(self.storage, self / LEASE_PATH, lease.body(), e_tag=e_tag)
        except OSError as error:
            raise self.storage.translate(error, self / LEASE_PATH) from error

    def _busy(self, lease: _Lease) -> OutputFolderNotEmpty:
        return OutputFolderNotEmpty(
            f"Another writer (process {lease.pid} on {lease.host}, since {lease.since}) is "
            f"writing a training set into {self.location} now; run this again once it has "
            f"finished (a writer that died holds it until "
            f"{lease.expires.isoformat(timespec='seconds')})."
        )

    def _lost(self) -> OutputFolderNotEmpty:
        return OutputFolderNotEmpty(
            f"This writer's hold on {self.location} expired and another writer took it over "
            f"while it uploaded; run this again (the set is registered; the next run writes "
            f"it or finds it written)."
        )

    def _delete(self, relative: str) -> None:
        """Remove one of the lake's objects under the prefix (gone already is fine)."""
        delete(self.storage, self / relative)


def _paths(manifest: Manifest) -> tuple[str, ...]:
    return tuple(str(f["path"]) for f in manifest.files)


__all__ = ["RemoteFolder", "is_remote"]
