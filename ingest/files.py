"""``lake ingest files TABLE PATH...``: binary assets (images, audio, documents, any file).

Each file is stored once in the warehouse, content-addressed by its sha256:
``<warehouse>/objects/ab/cdef...`` (the first two hex digits name a folder, the rest the
object). The same bytes ingested twice, under any name, are one object. The table gets one
row per file and ingest, as one new Delta version (so every version is a version like any
other table's):

====================  ========================================================
``uri``               the lake's copy (``<warehouse>/objects/ab/cdef...``)
``source``            where the file was read (``file:///...``, ``s3://...``)
``sha256``            of its bytes
``size``              in bytes
``media_type``        what the bytes are when they start with a signature the lake
                      knows, else what the name says (never a type the bytes
                      contradict), else ``application/octet-stream``
``media_type_from``   ``content`` (the bytes were checked), ``name`` (only the name
                      says so), or null
``width, height``     pixels as displayed (EXIF orientation applied), for images
                      that are whole; null otherwise
``duration_s``        seconds (frames / sample rate), for audio libsndfile reads
                      to its end; null otherwise
``sample_rate``       frames per second, with ``duration_s``
``channels``          with ``duration_s``
``_ingested_at``      when this ingest ran (UTC)
``_error``            null, or why an image has no width/height or an audio file
                      no duration, or that the name says another type than the bytes
====================  ========================================================

The rules for the media type, the image size and the audio values are ``ingest.media``'s.
A table from before a column was added gets it on its next ingest (its older rows null).

Every file is a source of the run (``lake impact --source PATH`` finds what it reached).
Each file is read once, hashed as it is copied (see :func:`_land`): a file under
:data:`BLOCK` in memory, a larger one in blocks through a temporary object (but a large
file from a local disk to S3, or one the table named before, is hashed first: a second
local read costs less than the server's copy, or than writing known bytes again). Memory
stays bounded; an image is checked whole by its structure (PNG, JPEG) or decoded one frame at a
time, within Pillow's decompression-bomb limit; audio is read by libsndfile through the
stored object, its header and its last frame.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyarrow import ArrowException

from catalog.catalog import Catalog
from catalog.edges import SourceRef
from ingest.exceptions import SourceChanged, SourceUnreadable
from ingest.media import Described, describe
from ingest.sources import SourceFile, expand_paths, open_stored
from lake.core import objects
from lake.core.errors import LakeError
from lake.core.failpoints import failpoint
from lake.core.names import TableName
from lake.core.storage import Storage
from lake.delta.store import DeltaStore
from lake.landing.commits import TableRun
from lake.landing.sync import sync_table

BLOCK = 8 << 20


@dataclass(frozen=True)
class FilesReport:
    """What ``lake ingest files`` did."""

    table: str
    version: int | None
    files: int
    new_objects: int
    bytes: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "version": self.version,
            "files": self.files,
            "new_objects": self.new_objects,
            "bytes": self.bytes,
            "rows": self.rows,
        }


def ingest_files(
    catalog: Catalog, storage: Storage, table: TableName, paths: Sequence[str]
) -> FilesReport:
    """Store every file the paths name (files, folders, globs, ``s3://`` prefixes) once,
    by content, and land one row per file in ``table`` as one new version.

    Raises:
        SourceNotFound: a path matches nothing.
        SourceUnreadable: a file cannot be read.
    """
    import pyarrow as pa

    files = expand_paths(paths, filesystem_for=storage.filesystem_for)
    failpoint("files_listed")
    at = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    new = 0
    known = _known(catalog, storage, table, files)
    for source in files:
        landed = _land(storage, source, known.get((source.uri, source.size)))
        sha256, size = landed.sha256, landed.size
        uri = storage.object_uri(sha256)
        new += landed.new
        described = _describe(storage, uri, source.path, landed.data)
        rows.append(
            {
                "uri": uri,
                "source": source.uri,
                "sha256": sha256,
                "size": size,
                "media_type": described.media_type,
                "media_type_from": described.media_type_from,
                "width": described.width,
                "height": described.height,
                "duration_s": described.duration_s,
                "sample_rate": described.sample_rate,
                "channels": described.channels,
                "_ingested_at": at,
                "_error": described.error,
            }
        )
    schema = pa.schema(
        [
            ("uri", pa.string()),
            ("source", pa.string()),
            ("sha256", pa.string()),
            ("size", pa.int64()),
            ("media_type", pa.string()),
            ("media_type_from", pa.string()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("duration_s", pa.float64()),
            ("sample_rate", pa.int32()),
            ("channels", pa.int32()),
            ("_ingested_at", pa.timestamp("us", tz="UTC")),
            ("_error", pa.string()),
        ]
    )
    data = pa.Table.from_pylist(rows, schema=schema)
    inputs = [
        SourceRef(
            kind="file",
            namespace=_namespace(r["source"]),
            name=r["source"],
            version=r["sha256"],
            facets={"size": r["size"], "sha256": r["sha256"], "media_type": r["media_type"]},
        )
        for r in rows
    ]
    with TableRun.begin(
        catalog,
        storage,
        table,
        table_kind="files",
        kind="ingest_files",
        parameters={"paths": list(paths)},
        inputs=inputs,
    ) as run:
        # Commits of writers that died before recording them, recorded before this one's.
        sync_table(catalog, run.store, run.table, reap=False)  # the run's start reaped
        landed = run.land(data, policy="strict", mode="append", operation="APPEND", source="files")
    total = sum(r["size"] for r in rows)
    shown = [{**r, "_ingested_at": at.isoformat()} for r in rows]
    return FilesReport(str(table), landed.version.version, len(rows), new, total, shown)


def _namespace(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    return "file://" if scheme == "file" else f"{scheme}://{rest.split('/', 1)[0]}"


def _known(
    catalog: Catalog, storage: Storage, table: TableName, files: Sequence[SourceFile]
) -> dict[tuple[str, int], str]:
    """The sha256 the table's latest version gives each large file listed (by its source
    and size): a file ingested before, likely the same bytes again (a folder ingested again
    as it grows). Only a guess of which read is cheaper (:func:`_land`): the bytes decide."""
    large = {(f.uri, f.size) for f in files if f.size >= BLOCK}
    found = catalog.find_table(table) if large else None
    if found is None:
        return {}
    store = DeltaStore(found.location, storage)
    if not store.exists():
        return {}
    snapshot = store.snapshot()
    if not {"source", "size", "sha256"} <= set(snapshot.schema.names):
        return {}
    known: dict[tuple[str, int], str] = {}
    for batch in store.scan(snapshot):
        columns = (batch.column(c).to_pylist() for c in ("source", "size", "sha256"))
        for uri, size, sha256 in zip(*columns, strict=True):
            if (uri, size) in large:
                known[(uri, size)] = sha256
    return known


def _land(storage: Storage, source: SourceFile, known: str | None = None) -> _Landed:
    """Read the file once, hashing it as it is read, and store it under its sha256 unless
    an object of that size is there (the name is the sha256 of the bytes, so an existing
    object holds the same bytes).

    A file of less than :data:`BLOCK` bytes is read whole into memory, then written to its
    object when it is new (and described from memory, not read back). A larger one is
    written as it is read to a temporary object (``objects/<random>.partial``), which then
    becomes its object (a rename on a disk; on S3 a copy the server makes, bytes not sent
    again) or is deleted when the object is there. The file was read twice before, once to
    hash it and once to copy it: see ``bench/bench_assets.py`` for what one read saves.

    The object appears whole or not at all: on S3 an upload is visible only once complete;
    on a disk the copy is written beside it and renamed onto it. Written in place, an
    object was there half written (a reader of a version naming it, or another ingest of
    the same bytes, saw it cut short; that ingest then truncated it to write it again). A
    temporary object left by an ingest that died is named by no version: ``lake vacuum``
    deletes it with the other unnamed objects.

    A large file from a local disk to an S3 warehouse is hashed first, then uploaded to
    its object when it is new, read again (from the page cache, mostly): through a
    temporary object the server then copied, 4 files of 48 MB took 58-66 s on moto where
    this took 37-47 s (see ``bench/bench_assets.py``).

    A large file the table named before (``known``, its sha256 then, see :func:`_known`)
    is hashed first instead: when its object is there, it is read once and nothing is
    written (through a temporary object each was written whole for nothing: a folder of
    4 files of 48 MB ingested again wrote 192 MB); else it is read again, streamed.

    Raises:
        SourceChanged: the file does not have the size it was listed with (it is being
            written): nothing is kept.
        SourceUnreadable: it cannot be read.
    """
    local_to_s3 = storage.is_s3 and source.filesystem is None
    if source.size >= BLOCK and (known is not None or local_to_s3):
        sha256, size = _hash(source)
        _check_size(source, size)
        uri = storage.object_uri(sha256)
        if (sha256 == known or local_to_s3) and _stored(storage, uri, size):
            return _Landed(sha256, size, False, None)
        if local_to_s3:
            _upload_checked(storage, source, uri, sha256, size)
            return _Landed(sha256, size, True, None)
    with open_stored(source) as handle:
        failpoint("object_write")  # opened, nothing of it read, no object of it written
        first = bytearray()
        while len(first) < BLOCK and (chunk := _read(source, handle, BLOCK - len(first))):
            first += chunk
        if len(first) < BLOCK:  # the whole file
            data = bytes(first)
            sha256 = hashlib.sha256(data).hexdigest()
            _check_size(source, len(data))
            return _Landed(sha256, len(data), _put(storage, sha256, data), data)
        return _stream(storage, source, handle, bytes(first))


@dataclass(frozen=True)
class _Landed:
    sha256: str
    size: int
    new: bool
    """Whether this ingest wrote the object."""
    data: bytes | None
    """The bytes, when the file was small enough to be read whole into memory."""


def _upload_checked(storage: Storage, source: SourceFile, uri: str, sha256: str, size: int) -> None:
    """Upload the file to its S3 object (visible only once complete), hashing it again as
    it is read: a file written to between the hash that named the object and this read
    would otherwise leave an object whose bytes are not its name.

    Raises:
        SourceChanged: the bytes uploaded are not the bytes hashed (the object is deleted).
    """
    fs, path = storage.filesystem_for(uri)
    digest, copied, opened = hashlib.sha256(), 0, False
    try:
        with open_stored(source) as handle, fs.open_output_stream(path) as target:
            opened = True
            failpoint("object_write")
            while chunk := _read(source, handle, BLOCK):
                digest.update(chunk)
                copied += len(chunk)
                target.write(chunk)
        if (digest.hexdigest(), copied) != (sha256, size):
            raise SourceChanged(
                f"'{source.path}' changed while it was being ingested ({size} bytes when "
                f"hashed, {copied} when copied): run the ingest again once nothing writes it."
            )
    except BaseException:
        # pyarrow completes an upload even when its writing failed: deleted only once this
        # ingest wrote it, never one another ingest of the same bytes stored meanwhile.
        if opened:
            with contextlib.suppress(OSError, LakeError):
                objects.delete(storage, path, where=uri)
        raise


def _hash(source: SourceFile) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open_stored(source) as handle:
        while chunk := _read(source, handle, BLOCK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read(source: SourceFile, handle: Any, size: int) -> bytes:
    try:
        return handle.read(size)
    except (OSError, ArrowException) as e:
        raise SourceUnreadable(f"Cannot read '{source.uri}': {e}; check the file.") from e


def _check_size(source: SourceFile, size: int) -> None:
    if size != source.size:
        raise SourceChanged(
            f"'{source.path}' changed while it was being ingested ({source.size} bytes when "
            f"listed, {size} when read): run the ingest again once nothing writes it."
        )


def _stored(storage: Storage, uri: str, size: int) -> bool:
    fs, path = storage.filesystem_for(uri)
    if storage.is_s3:  # one HEAD, where get_file_info also lists a missing key as a folder
        return objects.size(storage, path) == size
    from pyarrow.fs import FileType

    info = fs.get_file_info(path)
    return info.type == FileType.File and info.size == size


def _put(storage: Storage, sha256: str, data: bytes) -> bool:
    """Write ``data`` to its object unless it is there; True if written."""
    uri = storage.object_uri(sha256)
    if _stored(storage, uri, len(data)):
        return False
    fs, path = storage.filesystem_for(uri)
    if storage.is_s3:  # one PUT: the object is visible only once it is whole
        objects.put(storage, path, data)
        return True
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    try:
        with fs.open_output_stream(partial) as target:
            target.write(data)
        fs.move(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.delete_file(partial)
        raise
    return True


def _stream(storage: Storage, source: SourceFile, handle: Any, first: bytes) -> _Landed:
    """The rest of a large file copied to a temporary object as it is read and hashed;
    that object then becomes the file's object, or goes when the object is there."""
    fs, root = storage.filesystem_for(storage.objects_root)
    if not storage.is_s3:  # on S3 a folder is an empty object of its own: none is needed
        fs.create_dir(root, recursive=True)
    partial = f"{root}/{uuid.uuid4().hex}.partial"
    digest, size, opened = hashlib.sha256(), 0, False
    try:
        with fs.open_output_stream(partial) as target:
            opened = True
            chunk = first
            while chunk:
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
                chunk = _read(source, handle, BLOCK)
        _check_size(source, size)
        sha256 = digest.hexdigest()
        uri = storage.object_uri(sha256)
        if _stored(storage, uri, size):
            objects.delete(storage, partial, where=uri)
            return _Landed(sha256, size, False, None)
        _, path = storage.filesystem_for(uri)
        if storage.is_s3:
            objects.copy(storage, partial, path, size=size)
            objects.delete(storage, partial, where=uri)
        else:
            fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
            fs.move(partial, path)
    except BaseException:
        # pyarrow completes an S3 upload even when its writing failed: the temporary
        # object is deleted once this ingest opened it.
        if opened:
            with contextlib.suppress(OSError, LakeError):
                objects.delete(storage, partial)
        raise
    return _Landed(sha256, size, True, None)


def _describe(storage: Storage, uri: str, name: str, data: bytes | None) -> Described:
    """The media type, image size and audio values of the stored object (``ingest.media``'s
    rules), read from the bytes hashed (``data``) or the object, never the source again:
    they are the sha256's bytes, while the source may have changed since it was read."""
    if data is not None:
        return describe(name, io.BytesIO(data))
    fs, path = storage.filesystem_for(uri)
    with fs.open_input_file(path) as handle:
        return describe(name, handle)


__all__ = ["FilesReport", "ingest_files"]
