"""Cutting content into lines: endings, chunk boundaries, over-long lines, bad UTF-8."""

from __future__ import annotations

import pyarrow as pa
import pytest

import ingest.logs.lines as lines_mod
from ingest.logs.lines import LineChunk, blank_mask, iter_chunks, line_strings


def cut(data: bytes, block: int = 7, **kw) -> list[tuple[int, str, bool]]:
    blocks = [data[i : i + block] for i in range(0, len(data), block)]
    out = []
    for chunk in iter_chunks(blocks, **kw):
        arr, _ = line_strings(chunk)
        out += [(chunk.first_line + i, v, chunk.piece) for i, v in enumerate(arr.to_pylist())]
    return out


def test_crlf_and_lf_end_lines_and_a_lone_cr_is_text():
    assert cut(b"a\r\nb\nc\r\r\nd\re\n", chunk_bytes=4) == [
        (1, "a", False),
        (2, "b", False),
        (3, "c\r", False),
        (4, "d\re", False),
    ]


def test_the_last_line_needs_no_ending_and_empty_content_has_no_lines():
    assert cut(b"a\nb") == [(1, "a", False), (2, "b", False)]
    assert cut(b"") == []


def test_chunks_respect_max_lines_and_number_lines_across_chunks():
    data = b"".join(b"%d\n" % i for i in range(1, 101))
    chunks = list(iter_chunks([data], chunk_bytes=1, max_lines=30))
    assert [c.n_lines for c in chunks] == [30, 30, 30, 10]
    assert [c.first_line for c in chunks] == [1, 31, 61, 91]


def test_numbering_starts_at_the_given_line():
    assert cut(b"x\ny\n", first_line=41) == [(41, "x", False), (42, "y", False)]


def test_an_over_long_line_is_kept_in_flagged_pieces(monkeypatch):
    monkeypatch.setattr(lines_mod, "MAX_LINE_BYTES", 5)
    assert cut(b"0123456789abc\nde\n", block=3, chunk_bytes=3) == [
        (1, "01234", True),
        (1, "56789", True),
        (1, "abc", True),
        (2, "de", False),
    ]


def test_invalid_utf8_is_kept_with_backslash_escapes_and_reported():
    [chunk] = list(iter_chunks([b"ok\nbad \xff\xfe here\n"]))
    arr, errors = line_strings(chunk)
    assert arr.to_pylist() == ["ok", "bad \\xff\\xfe here"]
    assert errors == {1: "invalid UTF-8 at byte 5; the original bytes are in _raw_bytes"}


def test_blank_lines_are_empty_or_whitespace_only():
    chunk = LineChunk(b"", b"a  \t", pa.array([0, 1, 1, 3, 4], pa.int32()), 1, 4)
    arr, _ = line_strings(chunk)
    assert blank_mask(arr).to_pylist() == [False, True, True, True]


@pytest.mark.parametrize("block", [1, 3, 1 << 20])
def test_block_boundaries_never_change_the_lines(block):
    data = b"alpha\r\nbeta\n\ngamma\r\n" * 50 + b"tail"
    expected = [
        (i + 1, v, False) for i, v in enumerate(["alpha", "beta", "", "gamma"] * 50 + ["tail"])
    ]
    assert cut(data, block=block, chunk_bytes=64) == expected


def test_a_short_carry_before_a_big_block_is_cut_without_losing_lines():
    big = b"".join(b"line %d\n" % i for i in range(2, 200)) + b"end"
    blocks = [b"li", b"ne 1\n" + big]
    got = []
    for chunk in iter_chunks(blocks, chunk_bytes=64):
        arr, _ = line_strings(chunk)
        got += [(chunk.first_line + i, v) for i, v in enumerate(arr.to_pylist())]
    assert got == [(i, f"line {i}") for i in range(1, 200)] + [(200, "end")]


def test_a_byte_order_mark_at_the_start_is_not_text():
    assert cut(b'\xef\xbb\xbf{"a": 1}\nb\n', block=2) == [(1, '{"a": 1}', False), (2, "b", False)]
    assert cut(b"\xef\xbb\xbf") == []
    assert cut(b"\xef\xbb\xbfab\n", block=1) == [(1, "ab", False)]
    assert cut(b"x\xef\xbb\xbf\n") == [(1, "x\ufeff", False)]


def test_an_over_long_line_whose_end_comes_in_the_same_read_is_cut_too(monkeypatch):
    # Measured: a 72 MiB line was kept whole when its newline arrived with the read that
    # crossed the 64 MiB limit.
    monkeypatch.setattr(lines_mod, "MAX_LINE_BYTES", 5)
    assert cut(b"ab\n0123456789abc\nde\n", block=100, chunk_bytes=100) == [
        (1, "ab", False),
        (2, "01234", True),
        (2, "56789", True),
        (2, "abc", True),
        (3, "de", False),
    ]
    assert cut(b"01234\n", block=100, chunk_bytes=100) == [(1, "01234", False)]  # at the limit


@pytest.mark.parametrize(
    ("head", "ending"),
    [
        (b"a\rb\r", "cr"),
        (b"a\r\nb\r\n", "crlf"),
        (b"a\nb\rc\n", "lf"),
        (b"a\r", "lf"),  # its \n may not be written yet
        (b"no ending at all", "lf"),
    ],
)
def test_line_endings_are_detected_per_file(head, ending):
    assert lines_mod.detect_ending(head) == ending


@pytest.mark.parametrize(
    ("codec", "data"),
    [
        ("latin-1", "Grüße\n".encode("latin-1")),
        ("cp1252", b"\x93quoted\x94 \x81\n"),
        ("utf-16-le", "Jürgen\n".encode("utf-16-le") + b"\x00\xd8" + "x\n".encode("utf-16-le")),
    ],
)
def test_any_encoding_becomes_utf8_with_every_original_byte_recoverable(codec, data):
    blocks = [data[i : i + 3] for i in range(0, len(data), 3)]  # characters cut across reads
    text = b"".join(lines_mod.to_utf8(blocks, codec))
    lines = text.split(b"\n")[:-1]
    originals = data.split("\n".encode(codec))[:-1]
    assert [lines_mod.original_bytes(line, codec) for line in lines] == originals


@pytest.mark.parametrize(
    ("head", "declared", "expected"),
    [
        (b"\xff\xfe{\x00", "utf-8", ("utf-16-le", 2)),
        (b"\xfe\xff\x00{", "utf-8", ("utf-16-be", 2)),
        (b"\xef\xbb\xbf{", "utf-8", ("utf-8", 3)),
        (b"{", "utf-16", ("utf-16-le", 0)),
        (b"\xef\xbb\xbf{", "latin_1", ("latin_1", 3)),  # a mark, not 'ï»¿'
        (b"\xef\xbb\xbf{", "utf-16", ("utf-16-le", 0)),  # UTF-16 text, no UTF-8 mark
    ],
)
def test_a_byte_order_mark_decides_the_encoding(head, declared, expected):
    assert lines_mod.sniff_encoding(head, declared) == expected
