"""Hostile and broken log files: each gives one clear error or kept-and-flagged records.

Every case starts from a table holding one good ingest (2 records, version 0), then
ingests the hostile input through the command line. Either the command fails with one
``error: ...`` line and exit code 1 and the table is still readable at version 0 with its
2 rows, or it succeeds and every record it reports is in the table exactly once, failed
records flagged (``_error`` set) with their text kept in ``_raw``. A hang fails the case
through pytest-timeout.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from tests.faults.conftest import assert_one_line_error

TABLE = "hostile.logs"
GOOD = (
    b'{"ts": "2026-11-20T10:00:00Z", "user": "ann", "n": 1}\n'
    b'{"ts": "2026-11-20T10:00:01Z", "user": "bob", "n": 2}\n'
)


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], list[str]]
    """Writes the input under the folder given, returns the ingest's path arguments."""
    records: int | None = None
    """Records the ingest must accept (None: the case must fail)."""
    flagged: int = 0
    """How many of them must carry an ``_error``."""
    error: str | None = None
    """A regex the one-line error must match."""
    table: str = TABLE

    def __str__(self) -> str:
        return self.id


def _file(name: str, data: bytes) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        path = folder / name
        path.write_bytes(data)
        return [str(path)]

    return build


def _gz(data: bytes) -> bytes:
    return gzip.compress(data)


def _zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


LINES = b"".join(
    b'{"ts": "2026-11-21T00:00:%02dZ", "user": "u%d", "n": %d}\n' % (i, i, i) for i in range(50)
)


def _symlink_loop(folder: Path) -> list[str]:
    (folder / "a.jsonl").symlink_to(folder / "b.jsonl")
    (folder / "b.jsonl").symlink_to(folder / "a.jsonl")
    return [str(folder / "a.jsonl")]


def _dir_loop(folder: Path) -> list[str]:
    inner = folder / "logs" / "inner"
    inner.mkdir(parents=True)
    (inner / "x.jsonl").write_bytes(b'{"n": 1}\n')
    (inner / "back").symlink_to(folder / "logs")
    return [str(folder / "logs")]


def _empty_dir(folder: Path) -> list[str]:
    (folder / "nothing").mkdir()
    return [str(folder / "nothing")]


def _fifo(folder: Path) -> list[str]:
    os.mkfifo(folder / "pipe.jsonl")
    return [str(folder / "pipe.jsonl")]


def _outside(folder: Path) -> list[str]:
    outside = folder.parent / f"{folder.name}-outside"
    outside.mkdir()
    (outside / "x.jsonl").write_bytes(b'{"n": 1}\n{"n": 2}\n')
    return [f"../{folder.name}-outside/x.jsonl"]


def _deep(levels: int) -> bytes:
    return b'{"deep": ' + b"[" * levels + b"]" * levels + b"}\n"


def _huge_line(folder: Path) -> list[str]:
    path = folder / "huge.jsonl"
    with path.open("wb") as out:
        out.write(b'{"n": 1, "blob": "')
        out.write(b"x" * (10 * 1024 * 1024))
        out.write(b'"}\n{"n": 2}\n')
    return [str(path)]


def _garbage(folder: Path) -> list[str]:
    import random

    rng = random.Random(6)
    data = bytes(rng.getrandbits(8) for _ in range(64 * 1024))
    path = folder / "garbage.jsonl"
    path.write_bytes(data)
    return [str(path)]


def _garbage_records(folder: Path) -> int:
    import random

    rng = random.Random(6)
    data = bytes(rng.getrandbits(8) for _ in range(64 * 1024))
    return sum(1 for line in data.split(b"\n") if line.strip(b" \t\r\x0b\x0c"))


CASES = [
    # -- malformed JSON: kept and flagged -------------------------------------------------------
    Case("unclosed-object", _file("a.jsonl", b'{"n": 1\n{"n": 2}\n'), records=2, flagged=1),
    Case("trailing-comma", _file("a.jsonl", b'{"n": 1,}\n'), records=1, flagged=1),
    Case("single-quotes", _file("a.jsonl", b"{'n': 1}\n{\"n\": 3}\n"), records=2, flagged=1),
    Case(
        "bare-scalars-and-arrays",
        _file("a.jsonl", b'{"n": 1}\n42\n[1, 2]\n"text"\nnull\n'),
        records=5,
        flagged=4,
    ),
    Case(
        "two-objects-on-one-line",
        _file("a.jsonl", b'{"n": 1}{"n": 2}\n{"n": 3}\n'),
        records=2,
        flagged=1,
    ),
    Case(
        "unterminated-string",
        _file("a.jsonl", b'{"n": 1, "s": "abc\n{"n": 2}\n'),
        records=2,
        flagged=1,
    ),
    Case("bad-escape", _file("a.jsonl", b'{"s": "\\x41"}\n{"s": "ok"}\n'), records=2, flagged=1),
    Case(
        "lone-surrogate-escape",
        _file("a.jsonl", b'{"s": "\\ud800"}\n{"s": "ok"}\n'),
        records=2,
        flagged=1,
    ),
    Case("raw-nul-byte", _file("a.jsonl", b'{"s": "a\x00b"}\n{"s": "ok"}\n'), records=2, flagged=1),
    Case("escaped-nul", _file("a.jsonl", b'{"s": "a\\u0000b"}\n{"s": "ok"}\n'), records=2),
    Case(
        "invalid-utf8",
        _file("a.jsonl", b'{"s": "\xff\xfe\xc3"}\n{"s": "ok"}\n'),
        records=2,
        flagged=1,
    ),
    Case("utf8-bom", _file("a.jsonl", b'\xef\xbb\xbf{"n": 1}\n{"n": 2}\n'), records=2),
    Case(
        "deep-nesting-10000", _file("a.jsonl", _deep(10_000) + b'{"n": 1}\n'), records=2, flagged=1
    ),
    Case("duplicate-keys", _file("a.jsonl", b'{"n": 1, "n": 2}\n{"n": 3}\n'), records=2),
    Case(
        "integer-beyond-64-bits",
        _file(
            "a.jsonl", b'{"big": 123456789012345678901234567890}\n{"big": -18446744073709551617}\n'
        ),
        records=2,
    ),
    Case(
        "nan-and-infinity",
        _file("a.jsonl", b'{"x": NaN}\n{"x": Infinity}\n{"x": -Infinity}\n'),
        records=3,
    ),
    Case("exponent-overflow", _file("a.jsonl", b'{"x": 1e999}\n{"x": 1.5}\n'), records=2),
    Case(
        "mixed-line-endings",
        _file("a.jsonl", b'{"n": 1}\r\n{"n": 2}\n{"n": 3}\r{"n": 4}\r\n\r\n{"n": 5}'),
        records=4,
        flagged=1,
    ),
    Case("only-blank-lines", _file("a.jsonl", b"\n\n   \n\t\n"), records=0),
    Case("zero-byte-file", _file("a.jsonl", b""), records=0),
    Case("gigantic-line-10mb", _huge_line, records=2),
    Case("binary-garbage", _garbage, records=None),  # records counted below
    Case(
        "three-thousand-keys",
        _file(
            "a.jsonl", (json.dumps({f"k{i}": i for i in range(3_000)}) + '\n{"k1": 1}\n').encode()
        ),
        records=2,
    ),
    Case(
        "100k-character-key-and-ansi-escapes",
        _file("a.jsonl", json.dumps({"x" * 100_000: 1, "esc\x1b[31m": "\x1b[2J"}).encode() + b"\n"),
        records=1,
    ),
    Case(
        "key-with-quotes-and-semicolon",
        _file("a.jsonl", b'{"a\\"; DROP TABLE runs; --": 1, "b\'c": 2}\n'),
        records=1,
    ),
    # -- compression ----------------------------------------------------------------------------
    Case("truncated-gzip", _file("a.jsonl.gz", _gz(LINES)[:-40]), error=r"a\.jsonl\.gz"),
    Case(
        "truncated-zstd",
        _file("a.jsonl.zst", _zst(LINES)[: len(_zst(LINES)) // 2]),
        error=r"a\.jsonl\.zst",
    ),
    Case("gzip-name-plain-content", _file("a.jsonl.gz", b'{"n": 1}\n'), records=1),
    Case(
        "gzip-magic-then-garbage",
        _file("a.jsonl.gz", b"\x1f\x8b" + b"garbage" * 20),
        error=r"a\.jsonl\.gz",
    ),
    Case("empty-gzip", _file("a.jsonl.gz", _gz(b"")), records=0),
    # -- files that are not files ---------------------------------------------------------------
    Case("symlink-loop", _symlink_loop, error=r"a\.jsonl"),
    Case("directory-symlink-loop", _dir_loop, records=1),
    Case("directory-with-no-files", _empty_dir, error=r"nothing"),
    Case("missing-file", lambda folder: [str(folder / "nope.jsonl")], error=r"nope\.jsonl"),
    Case(
        "missing-file-with-newline-and-escape-in-its-name",
        lambda folder: [str(folder / "no\npe\x1b[2J.jsonl")],
        error=r"no\\npe\\x1b\[2J",
    ),
    Case("named-pipe", _fifo, error=r"pipe\.jsonl"),
    Case("path-outside-the-working-folder", _outside, records=2),
    # -- names ----------------------------------------------------------------------------------
    Case(
        "table-name-with-sql",
        _file("a.jsonl", b'{"n": 1}\n'),
        error=r"not allowed|not of the form",
        table="hostile.x; DROP TABLE tables; --",
    ),
    Case(
        "namespace-with-quotes",
        _file("a.jsonl", b'{"n": 1}\n'),
        error=r"not allowed",
        table='"a";b.t',
    ),
    Case(
        "table-name-path-traversal",
        _file("a.jsonl", b'{"n": 1}\n'),
        error=r"not of the form|not allowed",
        table="../../etc.passwd",
    ),
]


def _count(lk) -> tuple[int, int, int]:
    result = lk.sql(
        f"SELECT count(*) AS n, count(_error) AS failed, count(_raw) AS raw FROM {TABLE}"
    )
    row = result.rows()[0]
    return row["n"], row["failed"], row["raw"]


@pytest.mark.parametrize("backend", ["local-sqlite"], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.timeout(120)
def test_hostile_log_input_is_refused_in_one_line_or_kept_and_flagged(
    case, backend, lk, cli, tmp_path
):
    good = tmp_path / "good.jsonl"
    good.write_bytes(GOOD)
    assert cli("ingest", "logs", TABLE, str(good), "--output", "json").exit_code == 0
    inputs = tmp_path / "input"
    inputs.mkdir()
    paths = case.build(inputs)
    os.chdir(inputs)  # relative paths are relative to the working folder

    result = cli("ingest", "logs", case.table, *paths, "--output", "json")

    expected = _garbage_records(inputs) if case.id == "binary-garbage" else case.records
    if expected is None:
        assert result.exit_code == 1, result.stdout
        assert_one_line_error(result.stderr, case.error)
        assert [v.version for v in lk.history(TABLE)] == [0]
        assert _count(lk) == (2, 0, 2)
        return
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert report["records_read"] == expected
    assert report["records_failed"] == (
        case.flagged if case.id != "binary-garbage" else report["records_failed"]
    )
    rows, failed, raw = _count(lk)
    assert rows == 2 + expected, "every accepted record is in the table exactly once"
    assert raw == rows, "every record keeps its raw text"
    assert failed == report["records_failed"]
    if expected:
        assert [v.version for v in lk.history(TABLE)] == [0, 1]
