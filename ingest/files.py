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
Memory stays bounded: files are read in blocks, hashed first, copied only when the object
is new; an image is checked whole by its structure (PNG, JPEG) or decoded one frame at a
time, within Pillow's decompression-bomb limit; audio is read by libsndfile through the
stored object, its header and its last frame.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalog.catalog import Catalog
from catalog.edges import SourceRef
from ingest.exceptions import SourceChanged
from ingest.media import Described, describe
from ingest.sources import SourceFile, expand_paths, open_stored
from lake.core.failpoints import failpoint
from lake.core.names import TableName
from lake.core.storage import Storage
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
    for source in files:
        sha256, size = _hash(source)
        uri = storage.object_uri(sha256)
        if _store(storage, source, uri, sha256, size):
            new += 1
        described = _describe(storage, uri, source.path)
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


def _hash(source: SourceFile) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open_stored(source) as handle:
        while chunk := handle.read(BLOCK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _store(storage: Storage, source: SourceFile, uri: str, sha256: str, size: int) -> bool:
    """Copy the file to its object unless an object of that size is there; True if copied.
    (The name is the sha256 of the bytes, so an existing object holds the same bytes.)

    The object appears whole or not at all: on S3 an upload is visible only once complete;
    on a disk the copy is written beside it and renamed onto it. Written in place, an
    object was there half written (a reader of a version naming it, or another ingest of
    the same bytes, saw it cut short; that ingest then truncated it to write it again).

    The copy is hashed as it is read: a file written to between the hash that named the
    object and the copy would otherwise leave an object whose bytes are not its name.

    Raises:
        SourceChanged: the bytes copied are not the bytes hashed (nothing is kept).
    """
    from pyarrow.fs import FileType

    fs, path = storage.filesystem_for(uri)
    info = fs.get_file_info(path)
    if info.type == FileType.File and info.size == size:
        return False
    if not storage.is_s3:  # on S3 a folder is an empty object of its own: none is needed
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    target_path = path if storage.is_s3 else f"{path}.{uuid.uuid4().hex}.partial"
    digest, copied, opened = hashlib.sha256(), 0, False
    try:
        with open_stored(source) as handle, fs.open_output_stream(target_path) as target:
            opened = True
            failpoint("object_write")
            while chunk := handle.read(BLOCK):
                digest.update(chunk)
                copied += len(chunk)
                target.write(chunk)
        if (digest.hexdigest(), copied) != (sha256, size):
            # On S3 the upload is complete by now (pyarrow cannot abort it): the object did
            # not exist a moment ago, so this ingest's is deleted before any version names it.
            raise SourceChanged(
                f"'{source.path}' changed while it was being ingested ({size} bytes when "
                f"hashed, {copied} when copied): run the ingest again once nothing writes it."
            )
        if target_path != path:
            fs.move(target_path, path)
    except BaseException:
        # On S3 the target is the object itself: deleted only once this ingest wrote it
        # (pyarrow completes an upload even when its writing failed), never one that another
        # ingest of the same bytes stored while this one had not started writing.
        if opened or target_path != path:
            with contextlib.suppress(OSError):
                fs.delete_file(target_path)
        raise
    return True


def _describe(storage: Storage, uri: str, name: str) -> Described:
    """The media type, image size and audio values of the stored object (``ingest.media``'s
    rules), read from the object, not the source: its bytes are its sha256, while the source
    may have changed since it was hashed."""
    fs, path = storage.filesystem_for(uri)
    with fs.open_input_file(path) as handle:
        return describe(name, handle)


__all__ = ["FilesReport", "ingest_files"]
