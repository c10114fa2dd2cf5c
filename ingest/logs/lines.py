"""Cutting decompressed content into chunks of whole lines, and lines into Arrow strings.

A line ends at ``\\n``; a ``\\r`` right before it belongs to the ending (``\\r\\n``), any
other ``\\r`` is text. The last line of a file needs no ending. A line longer than
:data:`MAX_LINE_BYTES` is cut into pieces (each kept, same line number, flagged) so memory
stays bounded whatever the input. Chunks hold at most ``max_lines`` lines and about
``chunk_bytes`` bytes, so a file is never held whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

MAX_LINE_BYTES = 64 << 20
CHUNK_BYTES = 16 << 20
MAX_LINES = 262_144
LONG_LINE_ERROR = f"line longer than {MAX_LINE_BYTES >> 20} MiB: stored in pieces"


@dataclass(frozen=True)
class LineChunk:
    """Consecutive lines of one file.

    ``text`` holds the lines with ``\\n`` endings (``\\r\\n`` already turned into ``\\n``);
    ``compact`` the same bytes without the endings, and ``offsets`` (int32) where each line
    starts and ends in ``compact`` (``len(offsets) == n_lines + 1``).
    """

    text: bytes | pa.Buffer
    compact: bytes | pa.Buffer
    offsets: pa.Int32Array
    first_line: int
    newlines: int  # line endings consumed (the next chunk starts at first_line + newlines)
    piece: bool = False  # the chunk's lines are pieces of an over-long line

    @property
    def n_lines(self) -> int:
        return len(self.offsets) - 1


def _one_line(
    text: bytes | pa.Buffer, line: bytes, first_line: int, newlines: int, *, piece: bool = False
) -> LineChunk:
    return LineChunk(
        text, line, pa.array([0, len(line)], pa.int32()), first_line, newlines, piece=piece
    )


def _make_chunks(
    buf: bytes, start: int, end: int, first_line: int, max_lines: int
) -> Iterator[LineChunk]:
    """Chunks of at most ``max_lines`` terminated lines from ``buf[start:end]``.

    The region is split once by Arrow's splitter (C++, without the GIL: a Python ``find``
    loop took 0.15 s per 100 MB and held up the parser thread). Chunks are views into that
    one result and into ``buf``, not copies."""
    # memchr for one byte is several times faster than a search for b"\r\n" (measured).
    if buf.find(b"\r", start, end) >= 0 and buf.find(b"\r\n", start, end) >= 0:
        region = pa.py_buffer(buf[start:end].replace(b"\r\n", b"\n"))
    else:
        region = pa.py_buffer(memoryview(buf)[start:end])
    whole = pa.Array.from_buffers(
        pa.large_binary(), 1, [None, pa.array([0, region.size], pa.int64()).buffers()[1], region]
    )
    pieces = pc.split_pattern(whole, b"\n").values  # the lines, then "" after the last \n
    n = len(pieces) - 1
    _, offsets, data = pieces.buffers()
    bounds = pa.Array.from_buffers(pa.int64(), n + 1, [None, offsets])
    if data is None:  # only empty lines
        data = pa.py_buffer(b"")
    for a in range(0, n, max_lines):
        b = min(a + max_lines, n)
        low, high = bounds[a].as_py(), bounds[b].as_py()
        rebased = pc.cast(pc.subtract(bounds.slice(a, b - a + 1), low), pa.int32())
        # line i starts at bounds[i] + i in the region: the endings before it are not in data
        yield LineChunk(
            region.slice(low + a, high + b - low - a),
            data.slice(low, high - low),
            rebased,
            first_line + a,
            b - a,
        )


def iter_chunks(
    blocks: Iterable[bytes],
    *,
    first_line: int = 1,
    chunk_bytes: int | None = None,
    max_lines: int | None = None,
) -> Iterator[LineChunk]:
    """Chunks of whole lines from content blocks, numbering lines from ``first_line``."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    cutter = _Cutter(first_line, chunk_bytes, max_lines or MAX_LINES)
    parts: list[bytes] = []
    size = 0
    head = first_line == 1  # a byte-order mark may open the content; it is not text
    for block in blocks:
        if head:
            if size + len(block) < len(_BOM):
                parts.append(block)
                size += len(block)
                continue
            if parts:
                block, parts, size = b"".join([*parts, block]), [], 0
            if block.startswith(_BOM):
                block = block[len(_BOM) :]
            head = False
        parts.append(block)
        size += len(block)
        if size < chunk_bytes:
            continue
        if len(parts) == 2 and len(parts[0]) < len(parts[1]) // 8:
            # A short carried-over line and a big block: cut the straddling line on its own
            # rather than copy the whole block behind it.
            carry, big = parts
            nl = big.find(b"\n")
            if nl >= 0:
                yield from cutter.cut(carry + big[: nl + 1], final=False)
                rest = yield from cutter.cut(big, final=False, start=nl + 1)
                parts, size = ([rest], len(rest)) if rest else ([], 0)
                continue
        buf = parts[0] if len(parts) == 1 else b"".join(parts)
        rest = yield from cutter.cut(buf, final=False)
        parts, size = ([rest], len(rest)) if rest else ([], 0)
    tail = b"".join(parts)
    if head and tail.startswith(_BOM):
        tail = tail[len(_BOM) :]
    yield from cutter.cut(tail, final=True)


_BOM = b"\xef\xbb\xbf"


class _Cutter:
    def __init__(self, first_line: int, chunk_bytes: int, max_lines: int) -> None:
        self.line = first_line
        self.chunk_bytes = chunk_bytes
        self.max_lines = max_lines
        self.in_piece = False  # inside an over-long line that was already cut

    def cut(self, buf: bytes, *, final: bool, start: int = 0) -> Iterator[LineChunk]:
        """Yield chunks from ``buf[start:]``; return the bytes kept for later."""
        pos = start  # an index, not a slice: the big block is not copied
        while pos < len(buf):
            if self.in_piece:
                nl = buf.find(b"\n", pos, pos + MAX_LINE_BYTES + 1)
                if nl >= 0:  # the tail of an over-long line
                    tail = buf[pos:nl]
                    yield _one_line(tail + b"\n", tail, self.line, 1, piece=True)
                    self.line += 1
                    self.in_piece = False
                    pos = nl + 1
                    continue
                if len(buf) - pos > MAX_LINE_BYTES or final:
                    cut = pos + (
                        _char_boundary(buf[pos : pos + MAX_LINE_BYTES + 4], MAX_LINE_BYTES)
                        if len(buf) - pos > MAX_LINE_BYTES
                        else len(buf) - pos
                    )
                    piece = buf[pos:cut]
                    yield _one_line(piece, piece, self.line, 0, piece=True)
                    pos = cut
                    continue
                break
            last = buf.rfind(b"\n", pos)
            if last < 0:
                if len(buf) - pos > MAX_LINE_BYTES:
                    cut = pos + _char_boundary(buf[pos : pos + MAX_LINE_BYTES + 4], MAX_LINE_BYTES)
                    piece = buf[pos:cut]
                    yield _one_line(piece, piece, self.line, 0, piece=True)
                    pos = cut
                    self.in_piece = True
                    continue
                if not final:
                    break
                # The final line has no ending: it is still a line (nothing is dropped).
                tail = buf[pos:]
                yield _one_line(tail, tail, self.line, 0)
                return b""
            for chunk in _make_chunks(buf, pos, last + 1, self.line, self.max_lines):
                yield chunk
                self.line += chunk.newlines
            pos = last + 1
        return buf[pos:] if pos < len(buf) else b""


def _char_boundary(data: bytes, n: int) -> int:
    """``n``, moved back so a multi-byte UTF-8 character is not cut in two."""
    i = n
    while i > n - 4 and i > 0 and (data[i] & 0xC0) == 0x80:
        i -= 1
    return i if i > n - 4 else n


def line_strings(chunk: LineChunk) -> tuple[pa.StringArray, dict[int, str]]:
    """The chunk's lines as Arrow strings (no endings), and reasons for lines not UTF-8.

    Invalid UTF-8 is kept with ``backslashreplace`` (``\\xff``), so no line is lost.
    """
    n = chunk.n_lines
    compact = chunk.compact if isinstance(chunk.compact, pa.Buffer) else pa.py_buffer(chunk.compact)
    arr = pa.Array.from_buffers(
        pa.string(), n, [None, chunk.offsets.buffers()[1], compact], offset=0
    )
    try:
        arr.validate(full=True)
        return arr, {}
    except pa.ArrowInvalid:
        pass
    texts: list[str] = []
    errors: dict[int, str] = {}
    data = chunk.compact.to_pybytes() if isinstance(chunk.compact, pa.Buffer) else chunk.compact
    offs = chunk.offsets.to_pylist()
    for i in range(n):
        b = data[offs[i] : offs[i + 1]]
        try:
            texts.append(b.decode("utf-8"))
        except UnicodeDecodeError as e:
            texts.append(b.decode("utf-8", "backslashreplace"))
            errors[i] = f"invalid UTF-8 at byte {e.start + 1}"
    return pa.array(texts, pa.string()), errors


def blank_mask(lines: pa.StringArray) -> pa.BooleanArray:
    """True for lines that are empty or only whitespace: they are not records."""
    empty = pc.equal(pc.binary_length(lines), 0)
    return pc.or_(empty, pc.fill_null(pc.utf8_is_space(lines), False))
