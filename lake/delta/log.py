"""Looking at a Delta table's log without opening the table (no deltalake, no Arrow): what a
read asks before it trusts the catalog.

Commits are numbered without gaps, so a commit newer than version ``N`` exists exactly when
the log holds ``N+1``: one existence check, where opening the table reads the whole log.
"""

from __future__ import annotations

import os
import queue
import threading
from urllib.parse import urlsplit

from lake.core import objects
from lake.core.storage import Storage


def has_commit_after(storage: Storage, table_uri: str, version: int) -> bool:
    """Whether the Delta log of the table at ``table_uri`` holds a commit newer than
    ``version``.

    Raises:
        StorageError: the warehouse could not be read.
    """
    return has_entry(storage, table_uri, version + 1)


class CommitCheck:
    """:func:`has_commit_after`, asked now and answered by :meth:`newer`: on S3 by the
    process's checking thread, so its round trip (a HEAD, 3-4 ms on moto under load, as long
    as a small query) overlaps work the caller does meanwhile; on a local disk at once (a
    ``stat``)."""

    __slots__ = ("_answer", "_done", "_error")

    def __init__(self, storage: Storage, table_uri: str, version: int) -> None:
        self._answer: bool | None = None
        self._error: BaseException | None = None
        self._done: threading.Event | None = None
        if _local_folder(table_uri) is not None:
            self._answer = has_commit_after(storage, table_uri, version)
            return
        self._done = threading.Event()
        _checks().put((self, storage, table_uri, version))

    @property
    def pending(self) -> bool:
        """Whether the answer comes from the checking thread (S3), not known at once (local)."""
        return self._done is not None

    def newer(self) -> bool:
        """Whether the log held a commit newer than the version asked about.

        Raises:
            StorageError: the warehouse could not be read.
        """
        if self._done is not None:
            self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._answer is not None
        return self._answer

    def _ask(self, storage: Storage, table_uri: str, version: int) -> None:
        try:
            self._answer = has_commit_after(storage, table_uri, version)
        except BaseException as error:  # noqa: BLE001 - newer() raises it in the caller
            self._error = error
        finally:
            assert self._done is not None
            self._done.set()


_checker: tuple[int, queue.SimpleQueue] | None = None
_checker_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A fresh lock in a forked child: another thread of the parent may have held it at the
    fork (starting the checking thread), and no thread of the child would ever release it."""
    global _checker_lock
    _checker_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _checks() -> queue.SimpleQueue:
    """The queue of the process's checking thread, started at first use. One long-lived
    thread, not one per check: starting a thread waits for it to run, over a millisecond on a
    loaded machine. Made again in a forked child, where the parent's thread does not run."""
    global _checker
    with _checker_lock:
        if _checker is None or _checker[0] != os.getpid():
            waiting: queue.SimpleQueue = queue.SimpleQueue()

            def serve() -> None:
                while True:
                    check, storage, table_uri, version = waiting.get()
                    check._ask(storage, table_uri, version)

            threading.Thread(target=serve, name="lake-log-check", daemon=True).start()
            _checker = (os.getpid(), waiting)
        return _checker[1]


def has_entry(storage: Storage, table_uri: str, version: int) -> bool:
    """Whether the Delta log of the table at ``table_uri`` holds the entry (commit file) of
    ``version``: the one existence check of a log entry, for readers and writers alike. On S3
    one HEAD of the entry's key (:func:`lake.core.objects.exists`): pyarrow's
    ``get_file_info`` follows a missing key with a listing (is it a folder?), which moto
    answers by scanning the bucket (108 ms an append at 1,000 versions, 159 at 2,000).

    Raises:
        StorageError: the warehouse could not be read.
    """
    name = entry_name(version)
    local = _local_folder(table_uri)
    if local is not None:
        return os.path.exists(os.path.join(local, name))
    try:
        return objects.exists(storage, f"{table_uri.rstrip('/')}/{name}")
    except OSError as error:
        raise storage.translate(error, table_uri) from error


def entry_identity(storage: Storage, table_uri: str, version: int) -> str | None:
    """What tells the log entry of ``version`` from another written under its name (a table
    deleted and made again at its location): on S3 its ETag (one HEAD), locally its size,
    modification time and inode (a ``stat``). An entry that is gone (log cleanup, a
    lifecycle rule expiring old ``_delta_log`` objects) leaves the version readable only
    from its checkpoint: then the checkpoint's identity, marked as one (a second HEAD or
    ``stat``). None when there is neither (or the checkpoint is in parts).

    Raises:
        StorageError: the warehouse could not be read.
    """
    found = _identity(storage, table_uri, entry_name(version))
    if found is not None:
        return found
    checkpoint = _identity(storage, table_uri, checkpoint_name(version))
    return None if checkpoint is None else f"checkpoint:{checkpoint}"


def _identity(storage: Storage, table_uri: str, name: str) -> str | None:
    local = _local_folder(table_uri)
    if local is not None:
        try:
            found = os.stat(os.path.join(local, name))
        except FileNotFoundError:
            return None
        except OSError as error:
            raise storage.translate(error, table_uri) from error
        return f"{found.st_size}:{found.st_mtime_ns}:{found.st_ino}"
    try:
        return objects.identity(storage, f"{table_uri.rstrip('/')}/{name}")
    except OSError as error:
        raise storage.translate(error, table_uri) from error


def read_entry(storage: Storage, table_uri: str, version: int) -> bytes:
    """The log entry (commit file) of ``version``: a local one with plain file reads (pyarrow's
    filesystem costs a small query a tenth of its start-up), on S3 one GET
    (:func:`lake.core.objects.get`).

    Raises:
        OSError: the entry cannot be read (there is none, or the storage failed).
    """
    local = _local_folder(table_uri)
    if local is not None:
        with open(os.path.join(local, entry_name(version)), "rb") as entry:
            return entry.read()
    return objects.get(storage, f"{table_uri.rstrip('/')}/{entry_name(version)}")


def entry_name(version: int) -> str:
    """The path of the log entry (commit file) of ``version``, relative to the table."""
    return f"_delta_log/{version:020d}.json"


def checkpoint_name(version: int) -> str:
    """The path of the checkpoint of ``version`` in one file (as deltalake writes it),
    relative to the table."""
    return f"_delta_log/{version:020d}.checkpoint.parquet"


def _local_folder(table_uri: str) -> str | None:
    if table_uri.startswith("s3://"):
        return None
    return urlsplit(table_uri).path if table_uri.startswith("file://") else table_uri


__all__ = [
    "CommitCheck",
    "checkpoint_name",
    "entry_identity",
    "entry_name",
    "has_commit_after",
    "has_entry",
    "read_entry",
]
