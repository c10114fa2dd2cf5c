"""Writing a training set's rows as Parquet shards, deterministically, while hashing them.

Same rows in the same order give byte-identical files (with the same pyarrow version):

* a shard holds exactly ``shard_rows`` rows (the last one the rest), a row group exactly
  ``ROW_GROUP_ROWS`` rows: incoming batches are re-cut into row groups. Inside a row group,
  though, pyarrow cuts data pages where its pieces end, so a column whose pages fill (long
  strings) is written differently when the pieces differ: both engines read their rows in
  batches of ``ROW_GROUP_ROWS`` and route them by split the same way, and any change to
  that batching or routing changes the bytes (the content hash stays; a rebuild then says
  the Parquet bytes differ);
* the writer settings are fixed (:data:`WRITER`), and pyarrow writes no time, host or
  path into a file (its footer holds the schema and ``created_by: parquet-cpp-arrow
  version X``);
* shards are named ``part-00000.parquet``, ``part-00001.parquet`` ...

The content hash (:mod:`queries.content_hash`) and each file's sha256 are computed on the
way, so nothing is read back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from queries.content_hash import ContentHasher

if TYPE_CHECKING:
    import pyarrow as pa

ROW_GROUP_ROWS = 65_536
DEFAULT_SHARD_ROWS = 1_048_576  # 16 row groups
WRITER: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "store_schema": True,
}

Progress = Callable[[int, int, int], None]
"""``progress(files_done, rows_written, bytes_written)``."""


@dataclass(frozen=True)
class ShardFile:
    path: str
    """Relative to the output folder."""
    rows: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class WrittenShards:
    files: tuple[ShardFile, ...]
    rows: int
    content_hash: str
    schema: pa.Schema


def writer_settings(shard_rows: int) -> dict[str, Any]:
    """What the manifest records about how the files were written."""
    import pyarrow as pa

    return {
        "library": f"pyarrow {pa.__version__}",
        **WRITER,
        "row_group_rows": ROW_GROUP_ROWS,
        "shard_rows": shard_rows,
    }


def write_shards(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    folder: Path,
    *,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    progress: Progress | None = None,
) -> WrittenShards:
    """Write ``batches`` (in order) to ``folder`` as Parquet shards; an empty result is one
    empty shard, so the schema is always on disk."""
    if shard_rows <= 0:
        raise ValueError("shard_rows must be positive")
    hasher = ContentHasher(schema)
    writer = _ShardWriter(folder, schema, shard_rows, progress)
    rows = _Rows(batches, schema)
    try:
        while True:
            # Row groups start at each shard's first row, so the layout depends on the row
            # order alone, never on how the result arrived.
            in_shard = writer.rows_in_shard
            wanted = min(ROW_GROUP_ROWS - in_shard % ROW_GROUP_ROWS, shard_rows - in_shard)
            pieces = rows.take(wanted)
            if not pieces:
                break
            writer.write_row_group(pieces)
            for piece in pieces:
                hasher.update(piece)
        files = writer.close()
    finally:
        writer.shutdown()
    return WrittenShards(tuple(files), hasher.rows, hasher.hexdigest(), schema)


def check_storable(schema: pa.Schema) -> None:
    """Refuse a result with a column Parquet cannot hold (DuckDB's INTERVAL and UNION, at
    any depth), before any shard is written.

    Raises:
        QueryInvalid: naming the first such column and how to cast it.
    """
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from queries.exceptions import QueryInvalid

    for field in schema:
        try:
            pq.ParquetWriter(io.BytesIO(), pa.schema([field]), **WRITER).close()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, TypeError):
            kind = _unstorable_kind(field.type)
            raise QueryInvalid(
                f"Column '{field.name}' of the query's result is {kind}, which a Parquet "
                f"training set cannot hold; cast it in the query (to VARCHAR, or to a "
                f"number such as epoch(...) seconds) and materialize again."
            ) from None


def _unstorable_kind(t: pa.DataType) -> str:
    import pyarrow as pa

    if pa.types.is_interval(t):
        return "an INTERVAL"
    if pa.types.is_union(t):
        return "a UNION"
    if pa.types.is_nested(t):
        for i in range(t.num_fields):
            kind = _unstorable_kind(t.field(i).type)
            if not kind.startswith("of type"):
                return f"{kind} inside a {t}"
    return f"of type {t}"


def sha256_file(path: Path, *, block: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _ShardWriter:
    def __init__(
        self, folder: Path, schema: pa.Schema, shard_rows: int, progress: Progress | None
    ) -> None:
        self.folder = folder
        self.schema = schema
        self.shard_rows = shard_rows
        self.progress = progress
        self.files: list[ShardFile] = []
        self.rows_in_shard = 0
        self._writer = None
        self._sink: _HashingFile | None = None
        self._rows_total = 0
        self._bytes_done = 0
        # Encoding a row group (pyarrow, GIL released) overlaps with fetching and hashing the
        # next one; one write in flight keeps memory bounded and the file in row order.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-shard-writer")
        self._pending: Future[None] | None = None

    def write_row_group(self, pieces: list[pa.RecordBatch]) -> None:
        """One row group (it never crosses a shard boundary)."""
        import pyarrow as pa

        if self._writer is None:
            self._open()
        rows = sum(p.num_rows for p in pieces)
        self._wait()
        self._pending = self._pool.submit(
            self._writer.write_table,
            pa.Table.from_batches(pieces, self.schema),
            row_group_size=ROW_GROUP_ROWS,
        )
        self.rows_in_shard += rows
        self._rows_total += rows
        if self.rows_in_shard == self.shard_rows:
            self._finish()
        elif self.progress is not None:
            self.progress(len(self.files), self._rows_total, self._bytes_done + self._sink.size)

    def close(self) -> list[ShardFile]:
        if self._writer is None and not self.files:
            self._open()  # an empty result still gets one (empty) shard with the schema
        if self._writer is not None:
            self._finish()
        return self.files

    def shutdown(self) -> None:
        """Stop the writer thread once its write is done (after close, or after a failure)."""
        self._pool.shutdown(wait=True)

    def _wait(self) -> None:
        """Let the write in flight finish (and raise its error here)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def _open(self) -> None:
        import pyarrow.parquet as pq

        name = f"part-{len(self.files):05d}.parquet"
        self._sink = _HashingFile(self.folder / name)
        self._writer = pq.ParquetWriter(self._sink, self.schema, **WRITER)
        self.rows_in_shard = 0

    def _finish(self) -> None:
        assert self._writer is not None and self._sink is not None
        self._wait()
        self._writer.close()
        self._sink.close()
        self.files.append(
            ShardFile(
                self._sink.path.name, self.rows_in_shard, self._sink.size, self._sink.hexdigest()
            )
        )
        self._bytes_done += self._sink.size
        self._writer, self._sink = None, None
        self.rows_in_shard = 0
        if self.progress is not None:
            self.progress(len(self.files), self._rows_total, self._bytes_done)


class _HashingFile:
    """A write-only file object that hashes what passes through it (pyarrow writes
    Parquet sequentially, so the digest is the file's sha256)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._digest.update(view)
        self._handle.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        if not self.closed:
            # No fsync: a torn file fails its sha256 check in the manifest and is rewritten.
            self._handle.close()
            self.closed = True

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False


class _Rows:
    """Rows of a batch stream, handed out ``n`` at a time (as slices, never copied)."""

    def __init__(self, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> None:
        self._batches = iter(batches)
        self._schema = schema
        self._current: pa.RecordBatch | None = None
        self._offset = 0

    def take(self, n: int) -> list[pa.RecordBatch]:
        import pyarrow as pa

        pieces: list[pa.RecordBatch] = []
        while n > 0:
            if self._current is None or self._offset >= self._current.num_rows:
                self._current = next(self._batches, None)
                self._offset = 0
                if self._current is None:
                    break
                if self._current.schema != self._schema:
                    self._current = pa.RecordBatch.from_arrays(
                        self._current.columns, schema=self._schema
                    )
                continue
            piece = self._current.slice(self._offset, min(n, self._current.num_rows - self._offset))
            self._offset += piece.num_rows
            n -= piece.num_rows
            pieces.append(piece)
        return pieces
