"""Staged data: Parquet files on local disk, in a table's planned schema, waiting for a commit.

Every write lands through staging (:mod:`lake.landing.commits`): the log stage and the
extract stage write their own staged files; Arrow data handed to the lake (``write_table``)
is staged here. Files are written with the lake's encodings (:mod:`lake.delta.encoding`),
row groups of at most :data:`~lake.delta.encoding.ROW_GROUP_ROWS` rows, and never written again
after staging, so a retry can read them and a local table can take them by hard link.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from lake.core.errors import ConstraintViolation
from lake.delta.encoding import ROW_GROUP_ROWS
from lake.delta.evolution import conform
from lake.delta.partitions import partition_text
from lake.delta.snapshot import StagedFile

if TYPE_CHECKING:
    import pyarrow as pa

ROWS_PER_FILE = 1 << 21
"""One staged file per this many rows: a 5M-row extract is a handful of files."""
STAGING_PREFIXES = ("lake-stage-", "lake-extract-", "lake-write-", "lake-spill-")
"""Temporary folders of runs that stage data (ingest, extract, write), and of training-set
queries that DuckDB may spill to."""


@dataclass(frozen=True)
class Staged:
    """Files staged for one commit, all in ``schema`` (partition columns excepted)."""

    files: tuple[StagedFile, ...]
    schema: pa.Schema
    rows: int
    partition_by: tuple[str, ...] = ()


def stage_batches(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    folder: Path,
    *,
    partition_by: Sequence[str] = (),
    rows_per_file: int = ROWS_PER_FILE,
) -> Staged:
    """Write ``batches``, each conformed to ``schema`` (:func:`lake.delta.evolution.conform`),
    to Parquet files in ``folder``: one series of files per partition when ``partition_by``
    names columns (their values then live in the Delta log, not in the files)."""
    import pyarrow as pa

    from lake.delta.encoding import writer_options
    from lake.delta.stats import BoundedWriter

    file_schema = pa.schema([f for f in schema if f.name not in partition_by])
    writers: dict[tuple[str | None, ...], tuple[BoundedWriter, int]] = {}
    files: list[StagedFile] = []
    rows = 0
    try:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            batch = conform(batch, schema)
            _check_not_null(batch)
            for values, part in _partitions(batch, partition_by):
                writer, in_file = writers.get(values, (None, 0))
                if writer is None or in_file >= rows_per_file:
                    if writer is not None:
                        writer.close()
                    path = folder / f"part-{len(files):05d}.parquet"
                    files.append(StagedFile(path, dict(zip(partition_by, values, strict=True))))
                    options = writer_options(pa.Table.from_batches([part]))
                    writer, in_file = BoundedWriter(path, file_schema, **options), 0
                writer.write_batch(part, row_group_size=ROW_GROUP_ROWS)
                writers[values] = (writer, in_file + part.num_rows)
                rows += part.num_rows
    finally:
        for writer, _ in writers.values():
            writer.close()
    return Staged(tuple(files), schema, rows, tuple(partition_by))


def _check_not_null(batch: pa.RecordBatch) -> None:
    """Refuse a batch giving a NOT NULL column of the table no value (pyarrow's Parquet
    writer raised its own ``ArrowInvalid``, which reached the user untranslated).

    Raises:
        ConstraintViolation: a NOT NULL column holds nulls.
    """
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if not field.nullable and column.null_count:
            rows = column.null_count
            raise ConstraintViolation(
                f"The column {field.name} is NOT NULL in the Delta table, and {rows} "
                f"{'rows' if rows != 1 else 'row'} written {'give' if rows != 1 else 'gives'} "
                "it no value, so nothing was committed: give every row a value."
            )


def _partitions(
    batch: pa.RecordBatch, partition_by: Sequence[str]
) -> Iterator[tuple[tuple[str | None, ...], pa.RecordBatch]]:
    """The rows of ``batch`` per partition: (the partition values as the Delta log writes
    them, the rows without the partition columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not partition_by:
        yield (), batch
        return
    table = pa.Table.from_batches([batch])
    data = table.drop_columns(list(partition_by))
    keys = table.select(list(partition_by)).group_by(list(partition_by), use_threads=False)
    for row in keys.aggregate([]).to_pylist():
        mask = None
        for column in partition_by:
            value = row[column]
            test = pc.is_null(table[column]) if value is None else pc.equal(table[column], value)
            mask = test if mask is None else pc.and_(mask, test)
        rows = data.filter(mask).combine_chunks()
        texts = tuple(partition_text(row[c], table.schema.field(c).type) for c in partition_by)
        for part in rows.to_batches():
            yield texts, part


def read_staged(staged: Staged, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The staged rows, batch by batch, in ``schema`` (partition values restored)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lake.core.arrow_values import scalar

    for file in staged.files:
        for batch in pq.ParquetFile(file.path).iter_batches(batch_size=ROW_GROUP_ROWS):
            for column, value in file.partition_values.items():
                if column in schema.names and column not in batch.schema.names:
                    batch = batch.append_column(
                        column, pa.repeat(scalar(value, pa.string()), batch.num_rows)
                    )
            yield conform(batch, schema)


def as_batches(data: pa.Table | pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        yield from data.to_batches(max_chunksize=ROW_GROUP_ROWS)
    else:
        yield from data


class StagingFolder:
    """A temporary folder for one run's staged files, empty again when the run ends.

    The run holds an exclusive lock on a file inside it for as long as it lives; the lock
    dies with the process, so a folder whose lock can be taken was left by a killed run
    (``kill -9`` skips every clean-up) and is removed by the next run that stages.

    A folder emptied at the end of a run is kept, still locked, for the process's next run
    with the same prefix (at most :data:`KEEP_IDLE` of them; removed at exit): removing a
    folder made moments before waited 1-2.5 ms for the file system's journal here, on
    every small append. Files are unlinked; subfolders (a log ingest's partition folders)
    stay, empty, up to :data:`KEEP_SUBFOLDERS` of them. A forked child keeps none.
    """

    def __init__(self, prefix: str) -> None:
        global _CLEANED
        if not _CLEANED:  # once a process: a killed run's folder does not come back
            remove_abandoned()
            _CLEANED = True
        # Kept folders are told apart by the temporary directory too: it decides the file
        # system staged files are on (taken by hard link, or copied from another).
        self._prefix = os.path.join(tempfile.gettempdir(), prefix)
        self._closed = False
        idle = _take_idle(self._prefix)
        if idle is not None:
            self.path, self._lock = idle
            return
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        # Locked before it takes its name: a lock file anyone can see is always held.
        self._lock = open(self.path / ".locking", "w")  # noqa: SIM115 - held for the run's life
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(self.path / ".locking", self.path / LOCK_NAME)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        # Once: a folder kept idle keeps its lock open, and a second close would empty it
        # under the run that took it next, or keep it twice (two runs in one folder).
        if self._closed:
            return
        self._closed = True
        if self._lock.closed:
            return
        if _emptied(self.path) and _keep_idle(self._prefix, self.path, self._lock):
            return
        _remove(self.path, self._lock)


_CLEANED = False
LOCK_NAME = ".lake-run.lock"
KEEP_IDLE = 2
"""Emptied staging folders a process keeps per prefix for its next runs."""
KEEP_SUBFOLDERS = 32
"""A folder left with more (empty) subfolders than this is removed, not kept."""
_IDLE: dict[str, list[tuple[Path, IO[str]]]] = {}
_IDLE_LOCK = threading.Lock()
_IDLE_PID = os.getpid()


def _take_idle(prefix: str) -> tuple[Path, IO[str]] | None:
    with _IDLE_LOCK:
        if _IDLE_PID != os.getpid():
            return None  # a forked child: it keeps none (see _forget_idle_in_child)
        kept = _IDLE.get(prefix, [])
        while kept:
            path, lock = kept.pop()
            if (path / LOCK_NAME).exists():
                return path, lock
            lock.close()  # removed from under us (a cleaned temporary directory): not reused
        return None


def _keep_idle(prefix: str, path: Path, lock: IO[str]) -> bool:
    with _IDLE_LOCK:
        if _IDLE_PID != os.getpid():
            return False
        kept = _IDLE.setdefault(prefix, [])
        if len(kept) >= KEEP_IDLE:
            return False
        kept.append((path, lock))
        return True


def _emptied(path: Path) -> bool:
    """Unlink every file under ``path`` but its lock; False when that fails or too many
    subfolders are left (then the folder is removed whole)."""
    folders = 0
    try:
        for top, dirs, files in os.walk(path):
            folders += len(dirs)
            for name in files:
                if top == str(path) and name == LOCK_NAME:
                    continue
                os.unlink(os.path.join(top, name))
    except OSError:
        return False
    return folders <= KEEP_SUBFOLDERS


def _remove(path: Path, lock: IO[str]) -> None:
    import shutil

    if not lock.closed:
        lock.close()
    shutil.rmtree(path, ignore_errors=True)


@atexit.register
def _remove_idle() -> None:
    with _IDLE_LOCK:
        if _IDLE_PID != os.getpid():
            return
        for kept in _IDLE.values():
            while kept:
                _remove(*kept.pop())


def _forget_idle_in_child() -> None:
    global _IDLE_LOCK, _IDLE, _IDLE_PID
    _IDLE_LOCK = threading.Lock()  # it may have been held by another thread at the fork
    _IDLE = {}  # the parent's: never used nor removed here (their file objects stay open)
    # Nor does a child keep its own: many leave by os._exit (multiprocessing's do), past
    # the exit hook, and a kept folder would stay until another process cleans up.
    _IDLE_PID = -1


UNLOCKED_AFTER_S = 24 * 3600
"""A staging folder without a lock file (left by an older lake) this old is abandoned."""


def remove_abandoned(root: str | None = None) -> list[str]:
    """Remove the staging folders that killed runs left in the temporary directory (their
    lock is free); returns them."""
    import shutil

    base = Path(root or tempfile.gettempdir())
    removed: list[str] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(STAGING_PREFIXES) or not entry.is_dir(follow_symlinks=False):
            continue
        lock_path = Path(entry.path) / LOCK_NAME
        try:
            with open(lock_path) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live run holds it
        except FileNotFoundError:
            if not _older_than(entry, UNLOCKED_AFTER_S):
                continue  # being created, or left by an older lake not long ago
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.path)
    return removed


def _older_than(entry: os.DirEntry[str], seconds: float) -> bool:
    import time

    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime > seconds
    except OSError:
        return False


os.register_at_fork(after_in_child=_forget_idle_in_child)
