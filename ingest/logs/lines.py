"""Cutting decompressed content into chunks of whole lines, and lines into Arrow strings.

A line ends at ``\\n``; a ``\\r`` right before it belongs to the ending (``\\r\\n``), any
other ``\\r`` is text. The last line of a file needs no ending. A line longer than
:data:`MAX_LINE_BYTES` is cut into pieces (each kept, same line number, flagged) so memory
stays bounded whatever the input. Chunks hold at most ``max_lines`` lines and about
``chunk_bytes`` bytes, so a file is never held whole.
"""

from __future__ import annotations

import codecs
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from ingest.exceptions import LogFormatError
from lake.core.arrow_values import FALSE, scalar

MAX_LINE_BYTES = 64 << 20
CHUNK_BYTES = 16 << 20
MAX_LINES = 262_144
LONG_LINE_ERROR = f"line longer than {MAX_LINE_BYTES >> 20} MiB: stored in pieces"
DEFAULT_ENCODING = "utf-8"


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
    # Offsets from a Python array: pa.array() of Python values makes pyarrow import pandas.
    offsets = pa.py_buffer(array("q", (0, region.size)))
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, region])
    pieces = pc.split_pattern(whole, b"\n").values  # the lines, then "" after the last \n
    n = len(pieces) - 1
    _, offsets, data = pieces.buffers()
    bounds = pa.Array.from_buffers(pa.int64(), n + 1, [None, offsets])
    if data is None:  # only empty lines
        data = pa.py_buffer(b"")
    for a in range(0, n, max_lines):
        b = min(a + max_lines, n)
        low, high = bounds[a].as_py(), bounds[b].as_py()
        rebased = pc.cast(
            pc.subtract(bounds.slice(a, b - a + 1), scalar(low, pa.int64())), pa.int32()
        )
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
            long_at = _long_line(buf, pos)
            if long_at is not None and long_at > pos:
                # Whole lines first, up to an over-long one: it is cut into pieces below.
                for chunk in _make_chunks(buf, pos, long_at, self.line, self.max_lines):
                    yield chunk
                    self.line += chunk.newlines
                pos = long_at
                continue
            if long_at == pos:
                # The next line is longer than the limit, whether or not its end is here
                # (a 72 MiB line whose newline came in the same read was once kept whole).
                cut = pos + _char_boundary(buf[pos : pos + MAX_LINE_BYTES + 4], MAX_LINE_BYTES)
                piece = buf[pos:cut]
                yield _one_line(piece, piece, self.line, 0, piece=True)
                pos = cut
                self.in_piece = True
                continue
            last = buf.rfind(b"\n", pos)
            if last < 0:
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


def _long_line(buf: bytes, pos: int) -> int | None:
    """Where the first line longer than :data:`MAX_LINE_BYTES` starts in ``buf[pos:]``, or
    None. Steps a window at a time: only content longer than the limit is searched."""
    while len(buf) - pos > MAX_LINE_BYTES:
        last = buf.rfind(b"\n", pos, pos + MAX_LINE_BYTES + 1)
        if last < 0:
            return pos
        pos = last + 1
    return None


def _char_boundary(data: bytes, n: int) -> int:
    """``n``, moved back so a multi-byte UTF-8 character is not cut in two."""
    i = n
    while i > n - 4 and i > 0 and (data[i] & 0xC0) == 0x80:
        i -= 1
    return i if i > n - 4 else n


def line_strings(
    chunk: LineChunk, codec: str = DEFAULT_ENCODING
) -> tuple[pa.StringArray, dict[int, str]]:
    """The chunk's lines as Arrow strings (no endings), and reasons for lines not valid text.

    Invalid bytes are shown with ``backslashreplace`` (``\\xff``) in the text, so no line is
    lost; :func:`invalid_lines` gives such lines' original bytes.
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
            head, torn = _split_torn(b, codec)
            errors[i] = (
                f"invalid UTF-8 at byte {e.start + 1}"
                if codec == DEFAULT_ENCODING
                else f"not valid {codec} text: the file ends inside a character "
                f"({len(torn)} byte{'s' if len(torn) > 1 else ''} left over)"
                if torn and len(head) == e.start
                else f"not valid {codec} text (character {len(b[: e.start].decode()) + 1})"
            ) + "; the original bytes are in _raw_bytes"
    return pa.array(texts, pa.string()), errors


def blank_mask(lines: pa.StringArray) -> pa.BooleanArray:
    """True for lines that are empty or only whitespace: they are not records."""
    empty = pc.equal(pc.binary_length(lines), scalar(0, pa.int64()))
    return pc.or_(empty, pc.fill_null(pc.utf8_is_space(lines), FALSE))


# ---------------------------------------------------------------------------------------
# Line endings and encodings, detected per file

Ending = Literal["lf", "crlf", "cr"]


def detect_ending(head: bytes) -> Ending:
    """How a file's lines end, from its first bytes: ``cr`` (classic Mac OS: a lone ``\\r``
    followed by more text, no ``\\n`` at all in the head), ``crlf`` (Windows), else ``lf``.

    A ``\\r`` that ends the head decides nothing: its ``\\n`` may not be written yet."""
    if b"\n" not in head:
        return "cr" if b"\r" in head.rstrip(b"\r") else "lf"
    return "crlf" if b"\r\n" in head else "lf"


def cr_as_lf(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Content whose lines end in a lone ``\\r``, with ``\\n`` endings instead (one byte for
    one byte: lengths are unchanged)."""
    for block in blocks:
        yield block.replace(b"\r", b"\n")


_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xef\xbb\xbf", "utf-8"),
)


def check_encoding(name: str | None) -> str:
    """The codec name for ``--encoding`` (``utf-8`` when not given).

    Raises LogFormatError for a name Python does not know or that is not a text encoding.
    """
    if not name:
        return DEFAULT_ENCODING
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not _is_text_codec(info.name):
        raise LogFormatError(
            f"Unknown encoding '{name}'; use utf-8 (the default), latin-1, cp1252, utf-16 or "
            "another name Python's codecs know."
        )
    return info.name


def _is_text_codec(name: str) -> bool:
    try:
        return "a".encode(name) != b"" and b"a".decode(name) != ""
    except (LookupError, TypeError, ValueError):
        return False


def sniff_encoding(head: bytes, declared: str) -> tuple[str, int]:
    """The codec a file is read with, and the length of its byte-order mark.

    A UTF-16 or UTF-32 byte-order mark decides, whatever was declared (a BOM is not text);
    ``utf-16``/``utf-32`` declared without one are read little-endian. A UTF-8 mark on a
    file declared in a one-byte encoding (Latin-1, CP1252) is no text either, and the rest
    is read as declared: editors add the mark to files they did not write in UTF-8, and
    read as text it opened the first record with 'ï»¿' (no preset matched it)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            if codec == "utf-8" and declared != DEFAULT_ENCODING:
                if wide(declared):
                    break  # bytes of a UTF-16/32 text, not a UTF-8 mark
                return declared, len(bom)
            return codec, len(bom)
    if declared in ("utf-16", "utf-32"):
        return f"{declared}-le", 0
    return declared, 0


def wide(codec: str) -> bool:
    """Whether a codec is not ASCII-compatible (UTF-16/32): its files' lines are not cut on a
    single ``\\n`` byte, and a resumed one with a cut last line is read again whole."""
    return codec.startswith(("utf-16", "utf-32"))


def to_utf8(
    blocks: Iterable[bytes], codec: str, *, skip: int = 0, where: str = "the file"
) -> Iterator[bytes]:
    """Content in ``codec`` as UTF-8, block by block, losslessly.

    Bytes not valid in ``codec`` stay recoverable: they come out as bytes that are not valid
    UTF-8 (``surrogateescape``, the UTF-8 form of a lone surrogate for UTF-16/32, or a mark
    and hex digits for the bytes of a code unit cut off at the end), so the line is marked
    invalid and :func:`original_bytes` gives its bytes back exactly."""
    if codec == DEFAULT_ENCODING:
        yield from blocks
        return
    errors = "surrogatepass" if wide(codec) else "surrogateescape"
    decoder = codecs.getincrementaldecoder(codec)(errors=errors)
    read = skip
    for block in blocks:
        if skip:
            block, skip = block[skip:], max(0, skip - len(block))
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as e:
            # A UTF-32 unit above U+10FFFF: no error handler keeps such bytes recoverable.
            raise LogFormatError(
                f"{where} is not {codec} text near byte {read + e.start} ({e.reason}); "
                f"ingest it with --encoding latin-1 to keep every byte, or fix the file."
            ) from None
        read += len(block)
        if text:
            yield text.encode("utf-8", errors)
    try:
        text = decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:  # the content ends inside a UTF-16/32 code unit
        yield _torn(e.object[e.start :])
        return
    if text:
        yield text.encode("utf-8", errors)


# The bytes of a code unit cut off at the end of UTF-16/32 content come out as this mark and
# their hex digits: never valid UTF-8 (so the line is marked invalid), never made by a wide
# codec's decoding otherwise, and free of line endings (a cut ``\n`` byte ends no line).
_TORN = b"\xff"


def _torn(data: bytes) -> bytes:
    return _TORN + data.hex().encode("ascii")


def _split_torn(text: bytes, codec: str) -> tuple[bytes, bytes]:
    """A line's UTF-8 form without the mark of a cut-off code unit, and that unit's bytes."""
    at = text.find(_TORN) if wide(codec) else -1
    if at < 0:
        return text, b""
    return text[:at], bytes.fromhex(text[at + 1 :].decode("ascii"))


def original_bytes(text: bytes, codec: str) -> bytes:
    """A line's bytes as the file holds them, from its UTF-8 form made by :func:`to_utf8`."""
    if codec == DEFAULT_ENCODING:
        return text
    text, torn = _split_torn(text, codec)
    errors = "surrogatepass" if wide(codec) else "surrogateescape"
    return text.decode("utf-8", errors).encode(codec, errors) + torn


def invalid_lines(chunk: LineChunk, indices: Iterable[int], codec: str) -> dict[int, bytes]:
    """The original bytes of the chunk's lines at ``indices``."""
    data = chunk.compact.to_pybytes() if isinstance(chunk.compact, pa.Buffer) else chunk.compact
    offs = chunk.offsets
    out = {}
    for i in indices:
        line = data[offs[i].as_py() : offs[i + 1].as_py()]
        try:
            out[i] = original_bytes(line, codec)
        except UnicodeError:
            out[i] = line
    return out
