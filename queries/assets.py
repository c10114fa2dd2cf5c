"""Binary assets of a training set: the objects its ``uri`` column names, localized.

When the query's result has a string column ``uri`` whose values name objects of the
warehouse (``<warehouse>/objects/ab/cdef...``, written by ``lake ingest files``), every
object named is copied into the training set's folder as ``.assets/ab/cdef...`` (hard
linked when the warehouse is on the same local disk; copies several at a time, each
streamed in blocks, so memory stays bounded). A name loaders skip (``.``), so the folder still loads
as Parquet alone. Each asset is listed in the manifest's ``files`` with its size and
sha256, so the cache check verifies it like a shard.

The content hash covers the rows only, and that is enough: an object's name is the sha256
of its bytes, so the ``uri`` values already pin every asset's content; the listed sha256
are checked on every cache hit and rebuild.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lake.core.storage import Storage
from queries.exceptions import TrainingSetError
from queries.shards import ShardFile

ASSETS = ".assets"
URI_COLUMN = "uri"
WORKERS = 8
_BLOCK = 8 << 20


def localize(storage: Storage, folder: Path, shards: Sequence[ShardFile]) -> list[ShardFile]:
    """Copy (or hard link) the objects the shards' ``uri`` column names into
    ``folder/.assets``; the files written, in name order.

    Raises:
        TrainingSetError: an object the rows name is not in the warehouse.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    paths = [folder / s.path for s in shards]
    if not paths:
        return []
    schema = pq.read_schema(paths[0])
    if URI_COLUMN not in schema.names or not (
        pa.types.is_string(schema.field(URI_COLUMN).type)
        or pa.types.is_large_string(schema.field(URI_COLUMN).type)
    ):
        return []
    prefix = storage.objects_root + "/"
    named: set[str] = set()
    for path in paths:
        column = pq.read_table(path, columns=[URI_COLUMN]).column(0)
        named.update(u for u in pc.unique(column).to_pylist() if u and u.startswith(prefix))
    wanted = sorted(named)
    names = {uri: uri[len(prefix) :].replace("/", "") for uri in wanted}
    # Each folder once, up front: a mkdir per file (even one that exists) cost more than
    # the hard link it precedes.
    for folder_name in sorted({sha256[:2] for sha256 in names.values()}):
        (folder / ASSETS / folder_name).mkdir(parents=True, exist_ok=True)

    def fetch(uri: str) -> ShardFile:
        try:
            size = _fetch(storage, uri, folder / _relative(names[uri]))
        except FileNotFoundError as error:
            raise _missing(uri) from error
        return ShardFile(_relative(names[uri]), 0, size, names[uri])

    # A hard link is one quick system call, made here: threads would only add their
    # hand-offs. Copies (S3, another disk) stream in the pool, several at a time.
    done: dict[str, ShardFile] = {}
    if not storage.is_s3:
        for uri in wanted:
            size = _link(storage, uri, folder / _relative(names[uri]))
            if size is not None:
                done[uri] = ShardFile(_relative(names[uri]), 0, size, names[uri])
    rest = [uri for uri in wanted if uri not in done]
    if rest:
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="lake-assets") as pool:
            done.update(zip(rest, pool.map(fetch, rest), strict=True))
    return [done[uri] for uri in wanted]


def _relative(sha256: str) -> str:
    return f"{ASSETS}/{sha256[:2]}/{sha256[2:]}"


def _missing(uri: str) -> TrainingSetError:
    return TrainingSetError(
        f"The training set's uri column names {uri}, which is not in the warehouse "
        f"(vacuumed, or another lake's); ingest the file again or filter it out."
    )


def _link(storage: Storage, uri: str, target: Path) -> int | None:
    """Hard link a local object; its size, or None when it must be copied (another disk).

    Raises:
        TrainingSetError: the object is not in the warehouse.
    """
    _, path = storage.filesystem_for(uri)
    try:
        os.link(path, target)
    except FileNotFoundError as error:
        raise _missing(uri) from error
    except OSError:
        return None
    return target.stat().st_size


def _fetch(storage: Storage, uri: str, target: Path) -> int:
    """Copy an object to ``target`` in blocks; its size."""
    fs, path = storage.filesystem_for(uri)
    if not storage.is_s3:
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        shutil.copyfile(path, target)
        return target.stat().st_size
    size = 0
    with fs.open_input_stream(path) as source, open(target, "wb") as sink:
        while chunk := source.read(_BLOCK):
            sink.write(chunk)
            size += len(chunk)
    return size


def manifest_assets(files: Sequence[Any]) -> int:
    """How many of a manifest's files are assets."""
    return sum(1 for f in files if str(f["path"]).startswith(f"{ASSETS}/"))


__all__ = ["ASSETS", "localize", "manifest_assets"]
