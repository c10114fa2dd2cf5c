"""Single requests to the warehouse's objects: get, look, put, put-if-absent, copy, delete.

The table format's write path (a log entry read, looked for and written only if absent, a
data file put) and every delete the lake makes go through here; bulk reads and writes of
data stay with pyarrow and deltalake, but for an upload that must land only while its
writer holds a lease (:func:`upload_confirmed`, a multipart upload by botocore).

On S3 the requests are made by obstore (Rust's object_store, the client deltalake itself
uses): about 0.4-0.6 ms of CPU per request against 2-2.5 ms through s3fs/aiobotocore and
1.3-3.3 ms through pyarrow (measured on moto, see ``bench/bench_appends.py``). Its delete
removes exactly one key. A whole prefix is deleted by botocore (:func:`delete_tree`,
:mod:`lake.core.s3_keys`), which names every key as S3 holds it. pyarrow's
``delete_file``/``delete_dir`` on S3 leave an empty "folder" object for the parent, which
deltalake's full vacuum then "deletes" in commits of its own, every vacuum again (the folder
object's key ends in ``/``, which object_store never names). Locally the delete is a plain
file removal.

Errors reach callers as :class:`~lake.core.errors.StorageError` (one sentence, through
:meth:`Storage.translate`), except where a function says what else it raises.

A process forked after obstore made a request cannot use it: its runtime's threads stayed in
the parent, and a request in the child waited forever (a DataLoader worker or a ``fork`` pool
after the parent queried the lake). There the requests go through pyarrow's filesystem, as
they did before obstore, and a put-if-absent (which pyarrow cannot make) is refused.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import threading
from collections.abc import Callable, Collection
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from lake.core import s3_keys
from lake.core.errors import StorageError
from lake.core.storage import Storage

if TYPE_CHECKING:
    from obstore.store import S3Store

T = TypeVar("T")
_NO_BUCKET = "<Code>NoSuchBucket</Code>"

SENDERS = 4
"""Threads that send requests whose answers the caller takes later (:func:`send`)."""

_STORES: dict[tuple[object, ...], S3Store] = {}
_LOCK = threading.Lock()
_SENDER: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None
_STARTED_IN: int | None = None
"""The process in which obstore's runtime started (its first client): only it can use it."""


def _after_fork_in_child() -> None:
    """A fresh lock in a forked child: another thread of the parent may have held it at the
    fork (making a client), and no thread of the child would ever release it."""
    global _LOCK
    _LOCK = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


# -- S3 ----------------------------------------------------------------------------------------


def s3_key(uri: str) -> tuple[str, str]:
    """The bucket and key of an ``s3://bucket/key`` URI or a ``bucket/key`` path (as
    :meth:`Storage.filesystem_for` gives it)."""
    if uri.startswith("s3://"):
        uri = uri[len("s3://") :]
    bucket, _, key = uri.partition("/")
    return bucket, key


def client(storage: Storage, bucket: str) -> S3Store:
    """One obstore client per S3 configuration, bucket and process (making one costs more
    than a request; a forked child makes its own)."""
    global _STARTED_IN
    key = (storage.config, bucket, os.getpid())
    with _LOCK:
        found = _STORES.get(key)
        if found is None:
            found = _STORES[key] = _new_client(storage, bucket)
            if _STARTED_IN is None:
                _STARTED_IN = os.getpid()
    return found


def _forked() -> bool:
    """Whether this process was forked after obstore's runtime started in its parent."""
    return _STARTED_IN is not None and _STARTED_IN != os.getpid()


def _refuse_if_forked(doing: str) -> None:
    """Conditional writes have no pyarrow fallback: a forked process cannot make them."""
    if _forked():
        raise OSError(
            f"a process forked after the lake used S3 cannot {doing} there; start it with the "
            "spawn or forkserver method"
        )


def _arrow(storage: Storage, path: str) -> tuple[Any, str]:
    """pyarrow's filesystem and ``bucket/key`` for ``path`` (in a forked process)."""
    bucket, key = s3_key(path)
    fs, _ = storage.filesystem_for(f"s3://{bucket}/{key}")
    return fs, f"{bucket}/{key}"


def _new_client(storage: Storage, bucket: str) -> S3Store:
    from obstore.store import S3Store

    # The settings deltalake gets, filtered for obstore (Storage.s3_options).
    config, client_options = storage.obstore_options()
    return S3Store(
        bucket,
        config=config,  # type: ignore[arg-type]
        client_options=client_options,  # type: ignore[arg-type]
        retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=30)},
    )


def sender() -> concurrent.futures.ThreadPoolExecutor:
    """The process's threads for requests answered later (made again in a forked child)."""
    global _SENDER
    with _LOCK:
        if _SENDER is None or _SENDER[0] != os.getpid():
            _SENDER = (
                os.getpid(),
                concurrent.futures.ThreadPoolExecutor(SENDERS, thread_name_prefix="lake-objects"),
            )
        return _SENDER[1]


def send(request: Callable[..., T], *args: object) -> concurrent.futures.Future[T]:
    """``request(*args)`` sent on the process's request threads: its answer (or error) comes
    in the future, while the caller does other work."""
    return sender().submit(request, *args)


def get(storage: Storage, path: str) -> bytes:
    """The bytes of the object at ``path`` (``bucket/key`` or ``s3://bucket/key``): one GET.

    Raises:
        FileNotFoundError: there is none.
        OSError: the request failed (the server's own words).
    """
    if _forked():
        fs, at = _arrow(storage, path)
        with fs.open_input_stream(at) as stream:
            return stream.read()
    import obstore

    bucket, key = s3_key(path)
    try:
        return obstore.get(client(storage, bucket), key).bytes().to_bytes()
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - obstore's own errors
        raise OSError(str(error)) from error


def exists(storage: Storage, path: str) -> bool:
    """Whether the object at ``path`` exists: one HEAD.

    Raises:
        OSError: the request failed (the server's own words).
    """
    if _forked():
        fs, at = _arrow(storage, path)
        try:
            with fs.open_input_stream(at):  # a HEAD; get_file_info would list a missing key
                return True
        except FileNotFoundError:
            return False
    return _head(storage, path) is not None


def identity(storage: Storage, path: str) -> str | None:
    """The ETag of the object at ``path`` (one HEAD), None when there is none: an object
    written again under the same key has another.

    Raises:
        OSError: the request failed (the server's own words).
    """
    if _forked():
        # The same ETag by botocore's HEAD: pyarrow's get_file_info gave another identity
        # (size and time) and listed a missing key.
        try:
            return s3_keys.e_tag(storage, *s3_key(path))
        except Exception as error:  # noqa: BLE001 - botocore's own errors
            raise OSError(str(error)) from error
    found = _head(storage, path)
    if found is None:
        return None
    return str(found.get("e_tag") or f"{found.get('size')}:{found.get('last_modified')}")


def size(storage: Storage, path: str) -> int | None:
    """The size of the object at ``path`` (one HEAD), None when there is none. pyarrow's
    ``get_file_info`` sends a HEAD and, for a missing key, a listing of it as a folder.

    Raises:
        OSError: the request failed (the server's own words).
    """
    if _forked():
        from pyarrow.fs import FileType

        fs, at = _arrow(storage, path)
        info = fs.get_file_info(at)
        return info.size if info.type == FileType.File else None
    found = _head(storage, path)
    return None if found is None else int(found["size"])


def _head(storage: Storage, path: str) -> dict[str, Any] | None:
    """obstore's HEAD of the object at ``path``: its metadata, None when there is none.

    Raises:
        OSError: the request failed (the server's own words).
    """
    import obstore

    bucket, key = s3_key(path)
    try:
        return dict(obstore.head(client(storage, bucket), key))
    except FileNotFoundError:
        return None
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - obstore's own errors
        raise OSError(str(error)) from error


def put(storage: Storage, path: str, body: bytes) -> None:
    """Write ``body`` at ``path`` in one PUT.

    Raises:
        OSError: the request failed (the server's own words).
    """
    if _forked():
        fs, at = _arrow(storage, path)
        with fs.open_output_stream(at) as out:
            out.write(body)
        return
    import obstore

    bucket, key = s3_key(path)
    try:
        obstore.put(client(storage, bucket), key, body)
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - obstore's own errors
        raise OSError(str(error)) from error


def put_if_absent(storage: Storage, path: str, body: bytes) -> bool:
    """Write ``body`` at ``path`` unless an object is there (one PUT with ``If-None-Match:
    *``); False when one is (the server refused: 412). A retried request whose first try
    landed is refused too: a caller that must know whose write it is reads it back.

    Raises:
        OSError: the request failed otherwise (the server's own words).
    """
    _refuse_if_forked("write a log entry")
    import obstore
    from obstore.exceptions import AlreadyExistsError, PreconditionError

    bucket, key = s3_key(path)
    try:
        obstore.put(client(storage, bucket), key, body, mode="create")
    except (AlreadyExistsError, PreconditionError):
        return False
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - obstore's own errors
        raise OSError(str(error)) from error
    return True


COPY_LIMIT = 5 << 30
"""The largest object S3 copies in one request (CopyObject); a larger one goes in parts."""


def copy(storage: Storage, source: str, target: str, *, size: int) -> None:
    """Copy the object at ``source`` (``size`` bytes) to ``target`` (both ``bucket/key`` of
    one bucket), made by the server: no byte of it passes through this process. One
    request up to :data:`COPY_LIMIT`, a multipart copy above (:func:`s3_keys.copy_parts`).
    The target appears whole or not at all.

    Raises:
        StorageError: the storage refused or failed.
    """
    bucket, key = s3_key(source)
    _, to = s3_key(target)
    try:
        if size > COPY_LIMIT:
            s3_keys.copy_parts(storage, bucket, key, to, size=size)
        elif _forked():
            fs, at = _arrow(storage, source)
            fs.copy_file(at, f"{bucket}/{to}")
        else:
            import obstore

            obstore.copy(client(storage, bucket), key, to)
    except Exception as error:  # noqa: BLE001 - obstore's, pyarrow's and botocore's own errors
        raise storage.translate(error, f"s3://{bucket}/{to}") from error


def get_tagged(storage: Storage, path: str) -> tuple[bytes, str | None]:
    """The bytes of the object at ``path`` and its ETag (one GET), for a later
    :func:`put_unless_changed`.

    Raises:
        FileNotFoundError: there is none.
        OSError: the request failed, or this process was forked after obstore started.
    """
    _refuse_if_forked("make a conditional write")
    import obstore

    bucket, key = s3_key(path)
    try:
        found = obstore.get(client(storage, bucket), key)
        return found.bytes().to_bytes(), found.meta.get("e_tag")
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - obstore's own errors
        raise OSError(str(error)) from error


def put_unless_changed(
    storage: Storage, path: str, body: bytes, *, e_tag: str | None
) -> str | None:
    """Write ``body`` at ``path`` only if the object there is still the one whose ETag is
    ``e_tag`` (``If-Match``), or, with ``e_tag`` None, only if there is none (``If-None-Match:
    *``): the new object's ETag, or None when the server refused (412, or the object is gone).

    Raises:
        OSError: the request failed otherwise, or this process was forked after obstore
            started.
    """
    _refuse_if_forked("make a conditional write")
    import obstore
    from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError

    bucket, key = s3_key(path)
    try:
        written = obstore.put(
            client(storage, bucket), key, body, mode="create" if e_tag is None else {"e_tag": e_tag}
        )
    except (AlreadyExistsError, PreconditionError, NotFoundError, FileNotFoundError):
        return None
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - obstore's own errors
        raise OSError(str(error)) from error
    return written.get("e_tag")


def upload_confirmed(
    storage: Storage, uri: str, source: Path, *, before_complete: Callable[[], None]
) -> None:
    """Upload the local file ``source`` to ``s3://bucket/key`` so that the object lands only
    when ``before_complete()`` returns, called once every byte is sent: a multipart upload
    (:func:`lake.core.s3_keys.upload`), aborted when anything fails or ``before_complete``
    raises (then no object is made). For a writer that may write ``uri`` only while it holds
    a lease: an upload that outlives it is never completed.

    Raises:
        StorageError: a request failed; or whatever ``before_complete`` raises.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = s3_key(uri)
    try:
        with open(source, "rb") as stream:
            s3_keys.upload(
                storage,
                bucket,
                key,
                stream,
                size=os.fstat(stream.fileno()).st_size,
                before_complete=before_complete,
            )
    except (BotoCoreError, ClientError) as error:
        raise storage.translate(error, uri) from error


def abort_uploads(storage: Storage, uri: str, relatives: Collection[str]) -> int:
    """Abort every multipart upload of ``uri/RELATIVE`` (for each of ``relatives``) not
    completed yet: another writer's :func:`upload_confirmed` that outlived its lease can then
    never complete. How many there were.

    Raises:
        StorageError: a request failed.
    """
    bucket, prefix = s3_key(uri)
    try:
        prefix = prefix.rstrip("/") + "/"
        keys = {prefix + relative for relative in relatives}
        return s3_keys.abort_uploads(storage, bucket, prefix, keys)
    except Exception as error:  # noqa: BLE001 - botocore's own errors
        raise storage.translate(error, uri) from error


def delete_unless_changed(storage: Storage, path: str, *, e_tag: str) -> bool:
    """Delete the object at ``path`` only if it is still the one whose ETag is ``e_tag``;
    False when the server refused (another write replaced it) or it is gone.

    Raises:
        StorageError: the request failed otherwise.
    """
    bucket, key = s3_key(path)
    try:
        return s3_keys.delete_if_unchanged(storage, bucket, key, e_tag)
    except Exception as error:  # noqa: BLE001 - botocore's own errors
        raise storage.translate(error, path) from error


# -- both --------------------------------------------------------------------------------------


def delete(storage: Storage, uri: str, *, where: str | None = None) -> None:
    """Delete the file at ``uri`` (``s3://bucket/key``, ``bucket/key`` on an S3 warehouse, or
    a local path): exactly that object, nothing made in its place. A file already gone is
    not an error. ``where``: what an error names (``uri`` by default).

    Raises:
        StorageError: the storage refused or failed.
    """
    if _is_s3(storage, uri) and _forked():
        fs, at = _arrow(storage, uri)
        try:
            fs.delete_file(at)
        except FileNotFoundError:
            return
        except OSError as error:
            raise storage.translate(error, where or uri) from error
        return
    if _is_s3(storage, uri):
        import obstore

        bucket, key = s3_key(uri)
        try:
            obstore.delete(client(storage, bucket), key)
        except FileNotFoundError as error:
            # S3 deletes a missing key without a word: a 404 is the bucket's.
            if _NO_BUCKET not in str(error):
                return
            raise storage.translate(error, where or uri) from error
        except Exception as error:  # noqa: BLE001 - obstore's own errors
            raise storage.translate(error, where or uri) from error
        return
    try:
        os.remove(_local(uri))
    except FileNotFoundError:
        return
    except OSError as error:
        raise storage.translate(error, where or uri) from error


def delete_tree(storage: Storage, uri: str, *, where: str | None = None) -> None:
    """Delete every file under the folder (or prefix) ``uri``, and a local folder itself;
    nothing made in their place. A folder already gone is not an error.

    On S3 every key under ``<prefix>/`` goes, as the server holds it (one listing, bulk
    deletes, by botocore: :mod:`lake.core.s3_keys`), in a forked process too: folder markers
    (``t/``, ``t/sub/``) and keys with an empty or dot segment (``t//x.parquet``) or a
    control character, which obstore and pyarrow cannot name.

    Raises:
        StorageError: the storage refused or failed.
    """
    if _is_s3(storage, uri):
        bucket, prefix = s3_key(uri)
        try:
            for keys in s3_keys.list_keys(storage, bucket, prefix.rstrip("/") + "/"):
                s3_keys.delete_keys(storage, bucket, keys)
        except StorageError:
            raise
        except Exception as error:  # noqa: BLE001 - botocore's own errors
            raise storage.translate(error, where or uri) from error
        return
    try:
        shutil.rmtree(_local(uri))
    except FileNotFoundError:
        return
    except OSError as error:
        raise storage.translate(error, where or uri) from error


def _is_s3(storage: Storage, uri: str) -> bool:
    if uri.startswith("s3://"):
        return True
    return storage.is_s3 and not uri.startswith(("/", "file://"))


def _local(uri: str) -> str:
    return urlsplit(uri).path if uri.startswith("file://") else uri


__all__ = [
    "COPY_LIMIT",
    "abort_uploads",
    "client",
    "copy",
    "delete",
    "delete_tree",
    "delete_unless_changed",
    "exists",
    "get",
    "get_tagged",
    "identity",
    "put",
    "put_if_absent",
    "put_unless_changed",
    "s3_key",
    "upload_confirmed",
    "send",
]
