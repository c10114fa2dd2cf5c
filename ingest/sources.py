"""Finding log files, and reading their bytes: decompression by magic bytes, hashing, resuming.

Paths are local files, folders (walked recursively, hidden entries skipped), globs (``*``,
``?``, ``[...]``, ``**``), or URIs such as ``s3://bucket/prefix``, which the caller's
``filesystem_for(uri)`` resolves to a ``pyarrow.fs.FileSystem`` (or an fsspec filesystem)
and a path on it, so the caller owns credentials. Local files use ``file://`` URIs.

Offsets, sizes and hashes are all about the **bytes as stored** (compressed bytes for
``.gz``/``.zst``/``.bz2``, found by their magic bytes, not their names). A resumed file is
read from its recorded offset once the sha256 of the stored prefix matches; for a compressed
file that offset is the end of the last gzip member, zstd frame or bzip2 stream, which is
where an appended one starts. Decompression runs in bounded steps whatever the ratio.
"""

from __future__ import annotations

import bz2
import fnmatch
import glob as globmod
import hashlib
import os
import stat
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import zstandard

from ingest.exceptions import SourceNotFound, SourceUnreadable

FilesystemFor = Callable[[str], tuple[Any, str]]
"""``filesystem_for(uri) -> (filesystem, path)``: a pyarrow or fsspec filesystem for a URI."""

Compression = Literal["none", "gzip", "zstd", "bzip2"]

READ_BLOCK = 16 << 20
MAX_INFLATE = 16 << 20
"""The most content one step of decompression may produce (see ``_Decoder``)."""
_ZSTD_STEP = 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BZIP2_BLOCKS = (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90")
"""What follows ``BZh1``..``BZh9``: a block's magic (pi), or the end-of-stream one (sqrt pi):
ten bytes, so a text file that starts with ``BZh9`` is not taken for bzip2."""
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class SourceFile:
    """One file to ingest: its URI (the ``_source`` value), where it lives, and its size."""

    uri: str
    filesystem: pafs.FileSystem | None  # None: the local disk, read with os
    path: str
    size: int


# ---------------------------------------------------------------------------------------
# Expanding paths


def expand_paths(
    paths: Sequence[str], *, filesystem_for: FilesystemFor | None = None
) -> list[SourceFile]:
    """Every file the given paths name, in a stable order, each once.

    Raises SourceNotFound when a path matches nothing, SourceUnreadable when it cannot be
    listed (permissions, a symlink loop, a dangling link).
    """
    found: dict[str, SourceFile] = {}
    for raw in paths:
        matched = _expand_one(str(raw), filesystem_for)
        if not matched:
            raise SourceNotFound(
                f"No file found at '{raw}': check the path, or quote a glob so the shell "
                "does not expand it."
            )
        for f in matched:
            found.setdefault(f.uri, f)
    return list(found.values())


def _file_uri_path(uri: str) -> str:
    path = urlsplit(uri).path
    if os.name == "nt":  # pragma: no cover - drive letters and backslashes
        from urllib.request import url2pathname

        return url2pathname(path)
    # What url2pathname is on POSIX, without importing urllib.request (http, ssl, email:
    # 5 ms of every ingest, whose sources arrive as file:// URIs).
    return unquote(path)


def _expand_one(raw: str, filesystem_for: FilesystemFor | None) -> list[SourceFile]:
    if "://" in raw and not raw.startswith("file://"):
        return _expand_remote(raw, filesystem_for)
    # file:// URIs are what expand_paths returns: percent-decoded, they are paths again.
    local = _file_uri_path(raw) if raw.startswith("file://") else raw
    local = os.path.expanduser(local)
    if any(c in _GLOB_CHARS for c in local) and not os.path.lexists(local):
        hits = sorted(globmod.glob(local, recursive=True))
        out: list[SourceFile] = []
        for h in hits:
            out += _expand_local(h, raw)
        return out
    if not os.path.lexists(local):
        return []
    return _expand_local(local, raw)


def _expand_local(path: str, given: str) -> list[SourceFile]:
    try:
        st = os.stat(path)
    except OSError as e:
        raise SourceUnreadable(
            f"Cannot read '{path}' (given as '{given}'): {e.strerror or e}; fix or remove the "
            "link or file."
        ) from e
    if os.path.isdir(path):
        return _walk_local(path)
    if not stat.S_ISREG(st.st_mode):
        # A pipe, socket or device would block the read forever or never end.
        raise SourceUnreadable(
            f"Cannot read '{path}' (given as '{given}'): it is not a regular file (a pipe, "
            "socket or device); copy its content into a file and ingest that."
        )
    return [_local_file(path, st.st_size)]


def _local_file(path: str, size: int) -> SourceFile:
    absolute = os.path.abspath(path)
    return SourceFile(uri=Path(absolute).as_uri(), filesystem=None, path=absolute, size=size)


def _walk_local(root: str) -> list[SourceFile]:
    # os.walk(followlinks=True) would loop forever on a link to a parent: track (dev, inode).
    out: list[SourceFile] = []
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as e:
            raise SourceUnreadable(
                f"Cannot list folder '{folder}': {e.strerror or e}; fix its permissions or links."
            ) from e
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    stack.append(entry.path)
                elif entry.is_file():
                    out.append(_local_file(entry.path, entry.stat().st_size))
                elif entry.is_symlink():
                    os.stat(entry.path)  # raises for a dangling link or a loop
            except OSError as e:
                raise SourceUnreadable(
                    f"Cannot read '{entry.path}': {e.strerror or e}; fix or remove the link."
                ) from e
    return sorted(out, key=lambda f: f.path)


def _as_arrow_fs(fs: Any) -> pafs.FileSystem:
    if isinstance(fs, pafs.FileSystem):
        return fs
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs))


def _expand_remote(uri: str, filesystem_for: FilesystemFor | None) -> list[SourceFile]:
    if filesystem_for is None:
        raise SourceUnreadable(
            f"Cannot read '{uri}': no filesystem was configured for remote paths; configure "
            "the storage credentials for this scheme."
        )
    scheme = uri.split("://", 1)[0]
    try:
        fs_any, path = filesystem_for(uri)
        fs = _as_arrow_fs(fs_any)
        globbed = any(c in _GLOB_CHARS for c in path)
        base = path
        if globbed:
            cut = min(i for i, c in enumerate(path) if c in _GLOB_CHARS)
            base = path[:cut].rsplit("/", 1)[0]
        info = fs.get_file_info(base)
        if info.type == pafs.FileType.NotFound:
            return []
        if info.type == pafs.FileType.File and not globbed:
            return [SourceFile(uri, fs, path, info.size)]
        infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    except (OSError, pa.ArrowException) as e:
        raise SourceUnreadable(f"Cannot list '{uri}': {e}; check the URI and credentials.") from e
    out = []
    for fi in infos:
        if fi.type != pafs.FileType.File:
            continue
        rel = fi.path[len(base) :].lstrip("/")
        if any(part in ("", ".", "..") for part in rel.split("/")):
            # Not hidden, and no client here can read it: taken for hidden, it was skipped.
            raise SourceUnreadable(
                f"Cannot read '{scheme}://{fi.path}' (listed under '{uri}'): a key with an "
                "empty, '.' or '..' part cannot be read by the lake's S3 client; copy it to "
                "a key without one, or ingest a narrower prefix."
            )
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        if globbed and not fnmatch.fnmatchcase(fi.path, path):
            continue
        out.append(SourceFile(f"{scheme}://{fi.path}", fs, fi.path, fi.size))
    return sorted(out, key=lambda f: f.path)


# ---------------------------------------------------------------------------------------
# Reading


def open_stored(src: SourceFile) -> BinaryIO:
    """The file's bytes as stored, for reading; the caller closes it.

    Raises:
        SourceUnreadable: it cannot be opened (gone or unreadable since it was listed).
    """
    try:
        if src.filesystem is None:
            return _open_regular(src)
        # compression=None: pyarrow would otherwise guess from the extension.
        return src.filesystem.open_input_stream(src.path, compression=None)  # type: ignore[return-value]
    except (OSError, pa.ArrowException) as e:
        raise SourceUnreadable(f"Cannot open '{src.uri}': {e}; check that it is readable.") from e


def _open_regular(src: SourceFile) -> BinaryIO:
    """The local file, if it is still a regular file: one replaced by a pipe since it was
    listed would block the open (and the ingest) until something wrote to the pipe. Opened
    without waiting, then checked, so the check is of the file opened."""
    fd = os.open(src.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceUnreadable(
                f"Cannot read '{src.uri}': it is no longer a regular file (a pipe, socket or "
                "device took its place since it was listed); ingest a regular file."
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


_BACK_BLOCK = 1 << 20
"""Bytes read at a time when looking for a line from the end of a file."""


def _open_at(src: SourceFile, offset: int) -> BinaryIO:
    """The file's stored bytes from ``offset``, random access (the caller closes it)."""
    try:
        f = (
            _open_regular(src)
            if src.filesystem is None
            else src.filesystem.open_input_file(src.path)  # type: ignore[assignment]
        )
        f.seek(offset)
        return f  # type: ignore[return-value]
    except (OSError, pa.ArrowException) as e:
        raise SourceUnreadable(f"Cannot open '{src.uri}': {e}; check that it is readable.") from e


class _Decoder:
    """Turns stored bytes into content, member by member (gzip) or frame by frame (zstd).

    Output is bounded whatever the compression ratio: :meth:`feed` yields pieces of at most
    about :data:`MAX_INFLATE` bytes (a 2 MB gzip of zeros expands to GBs; inflating a whole
    16 MiB read at once once took 5.6 GB of memory)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.kind: Compression | None = None
        self._obj: Any = None
        self._pending = b""  # bytes seen before we know the kind

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.kind is None:
            self._pending += data
            if len(self._pending) < 10 and data:
                return
            head = self._pending[:10]
            self.kind = (
                "gzip"
                if head.startswith(_GZIP_MAGIC)
                else "zstd"
                if head[:4] == _ZSTD_MAGIC
                else "bzip2"
                if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCKS
                else "none"
            )
            data, self._pending = self._pending, b""
        if self.kind == "none":
            if data:
                yield data
            return
        if self.kind == "bzip2":
            yield from self._inflate_bzip2(data)
            return
        if self.kind == "zstd":
            # zstandard's decompressobj has no output limit: give it small inputs (a zstd
            # frame expands at most about 32,000 times: 1 KiB gives at most ~32 MiB).
            for i in range(0, len(data), _ZSTD_STEP):
                yield from self._inflate(data[i : i + _ZSTD_STEP])
            return
        yield from self._inflate(data)

    def _inflate(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._obj is None:
                if self.kind == "gzip" and not data.strip(b"\x00"):
                    return  # zero padding after the last member
                self._obj = (
                    zlib.decompressobj(wbits=31)
                    if self.kind == "gzip"
                    else zstandard.ZstdDecompressor().decompressobj()
                )
            try:
                if self.kind == "gzip":
                    out = self._obj.decompress(data, MAX_INFLATE)
                    data = self._obj.unconsumed_tail
                else:
                    out, data = self._obj.decompress(data), b""
            except (zlib.error, zstandard.ZstdError) as e:
                raise SourceUnreadable(
                    f"Cannot decompress '{self.uri}' ({self.kind}): {e}; the file is corrupt."
                ) from e
            if out:
                yield out
            if self._obj.eof:
                data = self._obj.unused_data
                self._obj = None

    def _inflate_bzip2(self, data: bytes) -> Iterator[bytes]:
        """bzip2 streams one after another (``bzip2 -c a >> log.bz2``), in bounded steps: the
        decompressor keeps the input it has not inflated yet and is asked again with none."""
        while True:
            if self._obj is None:
                if not data.strip(b"\x00"):
                    return
                self._obj = bz2.BZ2Decompressor()
            try:
                out = self._obj.decompress(data, MAX_INFLATE)
            except (OSError, EOFError) as e:
                raise SourceUnreadable(
                    f"Cannot decompress '{self.uri}' (bzip2): {e}; the file is corrupt."
                ) from e
            data = b""
            if out:
                yield out
            if self._obj.eof:
                data = self._obj.unused_data
                self._obj = None
                if not data:
                    return
            elif self._obj.needs_input:
                return

    def finish(self) -> bytes:
        tail = b""
        if self.kind is None:
            self.kind = "none"
            tail, self._pending = self._pending, b""
        if self._obj is not None:
            raise SourceUnreadable(
                f"'{self.uri}' ends in the middle of a {self.kind} stream (truncated); "
                "copy it again completely, or remove it from the ingest."
            )
        return tail


class ContentReader:
    """Reads one file's content block by block, from a resume point, hashing stored bytes.

    After iterating: ``sha256`` (hex, of stored bytes ``[0, size)``), ``start_offset``
    (where content was read from: the resume offset, or 0 when the file changed),
    ``restarted`` (a resume point was given but the file no longer starts with that prefix)
    and ``compression``.

    After :meth:`check_resume` on a resumed file, ``prefix_head`` holds the first content
    bytes of the part already read (up to 64 KiB), and ``prefix_tails`` the content after
    the last ``\\n`` and after the last ``\\r`` of that part (None when longer than
    :data:`MAX_TAIL`): the caller tells from them whether the last ingest ended inside a
    line, and then calls :meth:`replay` or :meth:`restart`. ``prefix_lines`` holds the last
    whole line of that part the same two ways (its text before its ending; empty when it
    has none, None when longer than :data:`MAX_TAIL`): whether that line goes on in the
    next (a partial line of a container log).
    """

    def __init__(
        self, src: SourceFile, *, resume_offset: int = 0, resume_sha256: str | None = None
    ) -> None:
        self.src = src
        self.size = src.size
        self.resume_offset = resume_offset
        self.resume_sha256 = resume_sha256
        self.start_offset = 0
        self.restarted = False
        self.compression: Compression = "none"
        self.sha256 = ""
        self.position = 0  # stored bytes read so far (for progress)
        self.prefix_head = b""
        self.prefix_kind: Compression = "none"
        self.prefix_tails: tuple[bytes | None, bytes | None] = (b"", b"")
        self.prefix_lines: tuple[bytes | None, bytes | None] = (b"", b"")
        self._file: BinaryIO | None = None
        self._hash: Any = None
        self._pos = 0
        self._replay = b""
        self._peeked = b""
        self._marks: list[tuple[int, Any]] = []  # (offset, hash of the stored bytes before it)

    def check_resume(self) -> None:
        """Decide where reading starts (sets ``start_offset`` and ``restarted``); idempotent.

        Hashes the stored prefix up to the resume offset; a prefix that no longer matches
        means the file was rewritten, and it is read again from the start.
        """
        if self._file is not None:
            return
        self._hash = hashlib.sha256()
        self._file = open_stored(self.src)
        self._pos = 0
        if self.resume_offset:
            if self.resume_offset <= self.size:
                self._pos = self._hash_prefix(self._file, self._hash)
            if self._pos and self._hash.hexdigest() == self.resume_sha256:
                self.start_offset = self._pos
            else:
                self.restart()

    def restart(self) -> None:
        """Read the whole file again from its first byte (after :meth:`check_resume`)."""
        assert self._file is not None
        self.restarted = True
        self._file.close()
        self._file = open_stored(self.src)
        self._hash, self._pos, self.start_offset, self._replay = hashlib.sha256(), 0, 0, b""
        self._peeked = b""

    def peek(self) -> bytes:
        """The first content after the resume offset (a block of stored bytes inflated, at
        most about :data:`MAX_INFLATE`), without consuming it: :meth:`blocks` still yields
        it. Empty when there is nothing new or it cannot be inflated on its own."""
        assert self._file is not None
        if not self._peeked and self._pos < self.size:
            self._peeked = self._read(self._file, min(READ_BLOCK, self.size - self._pos))
        decoder = _Decoder(self.src.uri)
        decoder.kind = self.prefix_kind if self.resume_offset and not self.restarted else None
        try:
            return next((c for c in decoder.feed(self._peeked) if c), b"")
        except SourceUnreadable:
            return b""

    def replay(self, tail: bytes) -> None:
        """Start reading ``len(tail)`` bytes before the resume offset: the end of the part
        already read (an uncompressed file), given back so a line cut there is read whole."""
        assert self.prefix_kind == "none" and len(tail) <= self.start_offset
        self._replay = tail
        self.start_offset -= len(tail)

    def blocks(self) -> Iterator[bytes]:
        self.check_resume()
        f, h, pos = self._file, self._hash, self._pos
        assert f is not None
        try:
            decoder = _Decoder(self.src.uri)
            if self.resume_offset and not self.restarted:
                # The bytes after a resume point continue the stored stream: a plain file
                # stays plain even if its new bytes happen to start like a gzip header.
                decoder.kind = self.prefix_kind
            if self._replay:
                yield self._replay
            if self._peeked:
                data, self._peeked = self._peeked, b""
                self._marks.append((pos, h.copy()))
                pos += len(data)
                self.position = pos
                h.update(data)
                yield from decoder.feed(data)
            while pos < self.size:
                data = self._read(f, min(READ_BLOCK, self.size - pos))
                if not data:
                    raise SourceUnreadable(
                        f"'{self.src.uri}' became shorter while it was read (expected "
                        f"{self.size} bytes, got {pos}); ingest it again."
                    )
                self._marks.append((pos, h.copy()))
                pos += len(data)
                self.position = pos
                h.update(data)
                yield from decoder.feed(data)
            tail = decoder.finish()
            if tail:
                yield tail
            self.compression = decoder.kind or "none"
        finally:
            f.close()
        self.sha256 = h.hexdigest()

    def sha256_before(self, offset: int) -> str:
        """The sha256 of the stored bytes ``[0, offset)``, after :meth:`blocks` ran: what a
        resume at ``offset`` checks the prefix against (an ingest that lands only part of
        what it read). Reads again at most the bytes since the last block boundary."""
        if offset == self.size:
            return self.sha256
        at, h = max(
            ((p, m) for p, m in self._marks if p <= offset),
            key=lambda mark: mark[0],
            default=(0, hashlib.sha256()),
        )
        h = h.copy()
        with _open_at(self.src, at) as f:
            while at < offset:
                data = self._read(f, min(READ_BLOCK, offset - at))
                if not data:
                    raise SourceUnreadable(
                        f"'{self.src.uri}' became shorter while it was read (expected "
                        f"{self.size} bytes, got {at}); ingest it again."
                    )
                h.update(data)
                at += len(data)
        return h.hexdigest()

    def after_newline_from_end(self, k: int, newline: bytes, floor: int) -> int:
        """The stored offset just past the ``k``-th ``newline`` byte counted back from the
        end (``size``; k >= 1), or ``floor`` when ``[floor, size)`` holds fewer: where a
        line of an uncompressed file in an ASCII-compatible encoding starts, found from the
        end (reading only the bytes after it)."""
        end = self.size
        with _open_at(self.src, floor) as f:
            while end > floor:
                start = max(floor, end - _BACK_BLOCK)
                f.seek(start)
                block = self._read(f, end - start)
                cut = len(block)
                while (cut := block.rfind(newline, 0, cut)) >= 0:
                    k -= 1
                    if k == 0:
                        return start + cut + 1
                end = start
        return floor

    def _hash_prefix(self, f: BinaryIO, h: Any) -> int:
        pos = 0
        decoder = _Decoder(self.src.uri)
        head = bytearray()
        tails: list[bytes | None] = [b"", b""]
        lasts: list[bytes | None] = [b"", b""]
        try:
            while pos < self.resume_offset:
                data = self._read(f, min(READ_BLOCK, self.resume_offset - pos))
                if not data:
                    return 0
                h.update(data)
                pos += len(data)
                for content in decoder.feed(data):
                    if len(head) < _HEAD_BYTES:
                        head += content[: _HEAD_BYTES - len(head)]
                    for i, end in enumerate((b"\n", b"\r")):
                        lasts[i] = _line_before(lasts[i], tails[i], content, end)
                        tails[i] = _tail_after(tails[i], content, end)
            # A prefix shorter than a compression header was held back undecided: it is
            # plain content too (its unfinished last line must be read again whole).
            rest = decoder.finish()
            if rest:
                head += rest[: _HEAD_BYTES - len(head)]
                for i, end in enumerate((b"\n", b"\r")):
                    lasts[i] = _line_before(lasts[i], tails[i], rest, end)
                    tails[i] = _tail_after(tails[i], rest, end)
        except SourceUnreadable:
            tails = [None, None]  # a prefix that does not decompress: read the file again
            lasts = [None, None]
        self.prefix_head = bytes(head)
        self.prefix_kind = decoder.kind or "none"
        self.prefix_tails = (tails[0], tails[1])
        self.prefix_lines = (lasts[0], lasts[1])
        return pos

    def _read(self, f: BinaryIO, n: int) -> bytes:
        try:
            return f.read(n)
        except (OSError, pa.ArrowException) as e:
            raise SourceUnreadable(f"Cannot read '{self.src.uri}': {e}; check the file.") from e


_HEAD_BYTES = 64 << 10
MAX_TAIL = 64 << 20
"""The longest unfinished last line a resumed file is re-read from (a longer one was stored
in pieces: the file is then read again whole)."""


def _line_before(
    last: bytes | None, tail: bytes | None, content: bytes, end: bytes
) -> bytes | None:
    """The last whole line (without its ``end``) once ``content`` follows ``tail`` (the text
    after the last ``end`` so far) and ``last`` (the last whole line so far)."""
    cut = content.rfind(end)
    if cut < 0:
        return last
    before = content.rfind(end, 0, cut)
    if before >= 0:
        line: bytes | None = content[before + 1 : cut]
    else:
        line = None if tail is None else tail + content[:cut]
    return line if line is None or len(line) <= MAX_TAIL else None


def _tail_after(tail: bytes | None, content: bytes, end: bytes) -> bytes | None:
    """The content after the last ``end`` once ``content`` follows ``tail``."""
    cut = content.rfind(end)
    if cut >= 0:
        rest = content[cut + 1 :]
    elif tail is None:
        return None
    else:
        rest = tail + content
    return rest if len(rest) <= MAX_TAIL else None
