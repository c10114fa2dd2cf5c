"""Files as real systems leave them: growing while read, odd line endings and encodings,
hostile sizes, and files read again with a new parse (issue 13, sections 3 to 5).

Samples: ``tests/data/odd-bytes`` (see its README); large and growing inputs are made here.
"""

from __future__ import annotations

import bz2
import gzip
import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.exceptions import LogFormatError
from lake.core.names import TableName
from tests.conftest import DATA

ODD = DATA / "odd-bytes"
DATA_COLUMNS = ("_line", "_raw", "_error")


def _rows(lk, table: str, version: int | None = None) -> pa.Table:
    info = lk.catalog.get_table(TableName.parse(table))
    snapshot = lk.delta(info).snapshot(version)
    return pa.table(lk.delta(info).open(snapshot.version).to_pyarrow_table()).sort_by("_line")


def _ledger(lk, table: str) -> list:
    return lk.catalog.ingested_files(lk.catalog.get_table(TableName.parse(table)))


def _grow(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


# -- 3. A file that grows never splits a record ------------------------------------------


def test_a_last_line_read_half_written_is_replaced_whole_once_the_file_grows(lk, tmp_path):
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"a":1}\n{"a":2}\n{"a":')

    first = lk.ingest_logs("app.events", str(path))

    # The unfinished line is a record while the file ends there (nothing is dropped)...
    rows = _rows(lk, "app.events")
    assert rows.column("_line").to_pylist() == [1, 2, 3]
    assert rows.column("_raw").to_pylist()[2] == '{"a":'
    _grow(path, b'3}\n{"a":4}\n')

    second = lk.ingest_logs("app.events", str(path))

    # ...and once the rest is written, the whole line replaces it in the same commit.
    rows = _rows(lk, "app.events")
    assert rows.column("_line").to_pylist() == [1, 2, 3, 4]
    assert rows.column("a").to_pylist() == [1, 2, 3, 4]
    assert rows.column("_raw").to_pylist() == ['{"a":1}', '{"a":2}', '{"a":3}', '{"a":4}']
    assert rows.column("_error").null_count == 4
    assert second.version == first.version + 1
    assert second.files[0].status == "appended"
    assert "line 3 was unfinished" in second.files[0].note
    # The version before keeps what it held; the ledger says where each read started.
    assert _rows(lk, "app.events", first.version).num_rows == 3
    ledger = _ledger(lk, "app.events")
    assert [(e.start_offset, e.end_offset, e.end_line) for e in ledger] == [
        (0, 21, 3),
        (16, path.stat().st_size, 4),
    ]
    # Nothing new: nothing read, no version.
    assert lk.ingest_logs("app.events", str(path)).version is None


def test_a_file_that_never_gets_its_last_newline_yields_that_line_once(lk, tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"one\ntwo\nthree")

    lk.ingest_logs("app.text", str(path))
    again = lk.ingest_logs("app.text", str(path))

    assert again.version is None
    assert _rows(lk, "app.text").column("_raw").to_pylist() == ["one", "two", "three"]


def _cuts(content: bytes, rng: random.Random, n: int) -> list[int]:
    points = {len(content)}
    # Mid-line, right after "\r" of "\r\n", inside a UTF-8 character: every cut is fair.
    for marker in (b"\r", "é".encode()[:1]):
        at = content.find(marker)
        if at >= 0:
            points.add(at + 1)
    while len(points) < n:
        points.add(rng.randrange(1, len(content)))
    return sorted(points)


@pytest.mark.parametrize("compress", ["plain", "gzip", "bzip2"])
def test_any_sequence_of_appends_and_ingests_gives_the_records_one_ingest_would(
    lk, tmp_path, compress
):
    lines = [json.dumps({"n": i, "msg": "café" if i % 3 else "x" * (i * 7)}) for i in range(40)]
    content = "\r\n".join(lines[:20]).encode() + b"\r\n" + "\n".join(lines[20:]).encode()
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(content)
    lk.ingest_logs("app.once", str(whole))
    expected = _rows(lk, "app.once").select(["n", "msg", *DATA_COLUMNS]).to_pylist()

    growing = tmp_path / "growing.jsonl"
    growing.write_bytes(b"")
    done = 0
    for cut in _cuts(content, random.Random(13), 7):
        piece = content[done:cut]
        _grow(
            growing, {"plain": bytes, "gzip": gzip.compress, "bzip2": bz2.compress}[compress](piece)
        )
        done = cut
        lk.ingest_logs("app.grown", str(growing))
        # At every version: no record split, lines numbered right.
        rows = _rows(lk, "app.grown")
        seen = content[:cut].replace(b"\r\n", b"\n").split(b"\n")
        assert rows.column("_line").to_pylist() == [i + 1 for i, s in enumerate(seen) if s]

    assert _rows(lk, "app.grown").select(["n", "msg", *DATA_COLUMNS]).to_pylist() == expected


@pytest.mark.parametrize("start", [b'{"a":1', b"{", b'{"a":12}\r'])
def test_a_file_first_read_shorter_than_a_compression_header_never_splits_a_record(
    lk, tmp_path, start
):
    """A file whose first ingest saw fewer bytes than the 10 that tell a compressed stream
    from plain text (a log just created, its first line half written): the bytes of that
    part were held back undecided, so the ingest of the grown file did not see that its
    last line was unfinished and read the rest as a line of its own ('{"a":1' then '2}',
    both failed, where the file holds {"a":12})."""
    path = tmp_path / "new.jsonl"
    whole = b'{"a":12}\r\n{"a":2}\r\n'
    path.write_bytes(start)
    lk.ingest_logs("app.new", str(path))
    _grow(path, whole[len(start) :])

    lk.ingest_logs("app.new", str(path))

    rows = _rows(lk, "app.new")
    assert rows.column("_line").to_pylist() == [1, 2]
    assert rows.column("a").to_pylist() == [12, 2]
    assert rows.column("_raw").to_pylist() == ['{"a":12}', '{"a":2}']
    assert rows.column("_error").null_count == 2


def test_a_growing_file_with_lone_cr_endings_never_splits_a_record(lk, tmp_path):
    path = tmp_path / "mac.log"
    path.write_bytes(b"alpha\rbeta\rgam")
    lk.ingest_logs("mac.text", str(path))
    _grow(path, b"ma\rdelta\r")

    lk.ingest_logs("mac.text", str(path))

    rows = _rows(lk, "mac.text")
    assert rows.column("_raw").to_pylist() == ["alpha", "beta", "gamma", "delta"]
    assert rows.column("_line").to_pylist() == [1, 2, 3, 4]


@pytest.mark.parametrize("compress", ["plain", "gzip"])
def test_a_multi_line_record_continued_after_an_ingest_is_read_again_whole(lk, tmp_path, compress):
    """Before: the stack trace's next line, appended after an ingest, became a failed record
    of its own and the record above it stayed cut short."""
    parts = [
        b"2023-11-14 22:13:20,323 ERROR [main] com.x.Foo: boom\njava.lang.RuntimeException: x\n",
        b"\tat com.x.Foo.bar(Foo.java:10)\n2023-11-14 22:13:21,000 INFO [main] com.x.Foo: next\n",
    ]
    pack = {"plain": bytes, "gzip": gzip.compress}[compress]
    whole = tmp_path / f"whole.{compress}.log"
    whole.write_bytes(pack(b"".join(parts)))
    lk.ingest_logs("app.once", str(whole), preset="log4j")
    expected = _rows(lk, "app.once").select(["message", *DATA_COLUMNS]).to_pylist()
    growing = tmp_path / f"growing.{compress}.log"
    growing.write_bytes(b"")
    for part in parts:
        _grow(growing, pack(part))
        report = lk.ingest_logs("app.grown", str(growing), preset="log4j")

    rows = _rows(lk, "app.grown").select(["message", *DATA_COLUMNS]).to_pylist()

    assert rows == expected
    assert "new lines continuing its last record" in report.files[0].note
    assert [r["_line"] for r in rows] == [1, 4]


def test_a_grown_file_keeps_the_preset_format_auto_chose_for_it(lk, tmp_path):
    """Before: the preset chosen on the first ingest was not kept, so the appended lines
    were stored unparsed (no level, no event time) and counted as parsed, with no error."""
    path = tmp_path / "app.log"
    path.write_bytes(b"2023-11-14 22:13:20,323 ERROR [main] com.x.Foo: boom\n")
    lk.ingest_logs("app.auto", str(path))
    _grow(path, b"2023-11-14 22:13:25,000 INFO [main] com.x.Foo: five\n")

    report = lk.ingest_logs("app.auto", str(path))

    assert report.files[0].status == "appended"
    rows = _rows(lk, "app.auto").select(["level", "message", "_event_time", "_error"])
    assert rows.to_pylist()[1]["level"] == "INFO"
    assert rows.column("message").to_pylist() == ["boom", "five"]
    assert rows.column("_event_time").null_count == 0
    assert rows.column("_error").null_count == 2


def test_a_pattern_given_once_parses_every_later_growth_read_with_format_auto(lk, tmp_path):
    """Before: the run after the first growth named no parser, so the one after it read the
    file's new lines unparsed (the pattern was only in the first run's parameters)."""
    path = tmp_path / "app.log"
    path.write_bytes(b"alice says hi\n")
    lk.ingest_logs("app.said", str(path), pattern=r"^(?P<who>\w+) says (?P<message>.*)$")
    for who in (b"bob", b"carol"):
        _grow(path, who + b" says yo\n")
        lk.ingest_logs("app.said", str(path))

    rows = _rows(lk, "app.said")

    assert rows.column("who").to_pylist() == ["alice", "bob", "carol"]
    assert rows.column("_error").null_count == 3


def test_a_multi_line_start_given_once_cuts_every_later_growth_read_with_format_auto(lk, tmp_path):
    """Before: from the second growth on, the preset's own multi-line start cut records
    where the one given had joined them."""
    start = r"^\S+ 22:13:"
    lines = [
        b"2023-11-14 22:13:20,323 ERROR [main] com.x.Foo: boom\n",
        b"2023-11-14 22:13:21,000 INFO [main] com.x.Foo: one\n",
        b"2023-11-14 22:14:00,000 INFO [main] com.x.Foo: one more\n",
        b"2023-11-14 22:13:22,000 INFO [main] com.x.Foo: two\n",
        b"2023-11-14 22:14:01,000 INFO [main] com.x.Foo: two more\n",
    ]
    whole = tmp_path / "whole.log"
    whole.write_bytes(b"".join(lines))
    lk.ingest_logs("app.once", str(whole), preset="log4j", multiline_start=start)
    path = tmp_path / "app.log"
    path.write_bytes(lines[0])
    lk.ingest_logs("app.grown", str(path), preset="log4j", multiline_start=start)
    for part in (lines[1:3], lines[3:]):
        _grow(path, b"".join(part))
        lk.ingest_logs("app.grown", str(path))

    rows = _rows(lk, "app.grown").select(["message", *DATA_COLUMNS]).to_pylist()

    assert rows == _rows(lk, "app.once").select(["message", *DATA_COLUMNS]).to_pylist()
    assert [r["_line"] for r in rows] == [1, 2, 4]


@pytest.mark.parametrize("compress", ["plain", "gzip"])
def test_a_record_cut_mid_line_then_continued_is_read_again_whole_once(lk, tmp_path, compress):
    """The last ingest ended inside a stack trace's line: its end and the trace's next line
    make one record with the lines above them, not a second row."""
    pack = {"plain": bytes, "gzip": gzip.compress}[compress]
    path = tmp_path / f"app.{compress}.log"
    head = b"2023-11-14 22:13:20,323 ERROR [main] com.x.Foo: boom\n"
    path.write_bytes(pack(head + b"java.lang.Runtime"))
    lk.ingest_logs("app.cut", str(path), preset="log4j")
    _grow(path, pack(b"Exception: x\n\tat com.x.Foo.bar(Foo.java:10)\n"))

    lk.ingest_logs("app.cut", str(path), preset="log4j")

    rows = _rows(lk, "app.cut").to_pylist()
    assert [r["_line"] for r in rows] == [1]
    assert rows[0]["message"] == (
        "boom\njava.lang.RuntimeException: x\n\tat com.x.Foo.bar(Foo.java:10)"
    )


def test_a_record_continued_in_a_file_of_lone_cr_endings_is_read_again_whole(lk, tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(
        b"2023-11-14 22:13:20,323 ERROR [main] com.x.Foo: boom\rjava.lang.RuntimeException: x\r"
    )
    lk.ingest_logs("app.cr", str(path))
    _grow(path, b"\tat com.x.Foo.bar(Foo.java:10)\r2023-11-14 22:13:21,000 INFO [main] x: next\r")

    report = lk.ingest_logs("app.cr", str(path))

    assert "new lines continuing its last record" in report.files[0].note
    rows = _rows(lk, "app.cr").to_pylist()
    assert [r["_line"] for r in rows] == [1, 4]
    assert rows[0]["message"].endswith("(Foo.java:10)")


def test_a_plain_file_stays_plain_when_its_new_bytes_look_like_gzip(lk, tmp_path):
    path = tmp_path / "odd.log"
    path.write_bytes(b"first\n")
    lk.ingest_logs("app.text", str(path))
    _grow(path, b"\x1f\x8bnot really gzip\n")

    report = lk.ingest_logs("app.text", str(path))

    assert report.records_read == 1
    assert _rows(lk, "app.text").column("_raw").to_pylist()[1] == "\x1f\\x8bnot really gzip"


def test_a_rewritten_file_replaces_its_rows_instead_of_adding_them_twice(lk, tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"alpha\nbeta\n")
    lk.ingest_logs("app.text", str(path))
    path.write_bytes(b"ALPHA\nbeta\ngamma\n")  # rotated in place: not a grown file

    report = lk.ingest_logs("app.text", str(path))

    assert report.files[0].status == "ingested" and "read again whole" in report.files[0].note
    assert _rows(lk, "app.text").column("_raw").to_pylist() == ["ALPHA", "beta", "gamma"]


def test_a_resumed_file_keeps_the_format_its_table_read_it_with(lk, tmp_path):
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"a":1,"b":"x"}\n')
    lk.ingest_logs("app.events", str(path))
    # The new part starts with a line that is no JSON: it must not turn the file into text.
    _grow(path, b'garbage from a crashed writer\n{"a":2,"b":"y"}\n')

    report = lk.ingest_logs("app.events", str(path))

    assert (report.records_read, report.records_failed) == (2, 1)
    rows = _rows(lk, "app.events")
    assert rows.column("a").to_pylist() == [1, None, 2]
    assert rows.column("b").to_pylist() == ["x", None, "y"]
    assert rows.column("_error")[1].as_py().startswith("invalid JSON")


# -- 4. Bytes and line endings as they are -----------------------------------------------


def test_lone_cr_line_endings_are_lines(lk):
    # The year is given: a checked-out file's mtime is no evidence of its year-less times.
    report = lk.ingest_logs("mac.syslog", str(ODD / "classic-mac-cr.log"), year=2016)

    rows = _rows(lk, "mac.syslog")
    assert report.records_read == 3
    assert (
        rows.column("_raw").to_pylist()
        == ((ODD / "classic-mac-cr.log").read_bytes().decode().split("\r")[:3])
    )
    assert rows.column("_line").to_pylist() == [1, 2, 3]


def test_crlf_endings_are_not_part_of_the_record(lk):
    report = lk.ingest_logs("web.iis", str(ODD / "iis-crlf.log"))

    rows = _rows(lk, "web.iis")
    # A W3C file: its two directives are lines, not records.
    expected = (ODD / "iis-crlf.log").read_bytes().decode().split("\r\n")[2:4]
    assert [(f.format, f.directives) for f in report.files] == [("w3c", 2)]
    assert rows.column("_raw").to_pylist() == expected
    assert rows.column("cs-uri-stem").to_pylist() == ["/index.html", "/caf\u00e9.png"]


def test_utf16_with_a_bom_is_decoded_and_its_bytes_recoverable(lk):
    path = ODD / "powershell-utf16le.jsonl"
    report = lk.ingest_logs("win.ps", str(path))

    assert (report.records_read, report.records_failed) == (2, 0)
    rows = _rows(lk, "win.ps")
    assert rows.column("user").to_pylist() == ["Jürgen", None]
    assert rows.column("msg").to_pylist() == ["Service gestartet", "Speicher ≥ 90%"]
    assert all("\x00" not in r for r in rows.column("_raw").to_pylist())
    original = path.read_bytes()[2:].split("\r\n".encode("utf-16-le"))[:2]
    assert [r.encode("utf-16-le") for r in rows.column("_raw").to_pylist()] == original


@pytest.mark.parametrize(
    ("name", "text", "options"),
    [
        # PowerShell's UTF-16 output cut one byte into its last character ("}" is 7D 00).
        ("cut.jsonl", '{"a":1}\r\n{"user":"Jürgen"}\r\n{"a":3}', {}),
        # A whole file, then half a code unit that is a newline byte on its own.
        ("cut.log", "alpha ≥ 1\r\nbeta\r\n\n", {}),
        # The cut character is in a continuation line of a multi-line record.
        (
            "trace.log",
            "2024-01-21 a\n  more\n2024-01-22 b\n  at f()\n  tail",
            {"multiline_start": "^2024"},
        ),
    ],
    ids=["json", "text", "multi-line"],
)
def test_utf16_cut_inside_its_last_character_keeps_every_byte_exactly(
    lk, tmp_path, name, text, options
):
    # Measured: the odd last byte was kept as \xff plus its Latin-1 reading, not as itself.
    path = tmp_path / name
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le")[:-1])

    report = lk.ingest_logs("win.cut", str(path), **options)

    rows = _rows(lk, "win.cut").to_pylist()
    assert (report.records_read, report.records_failed) == (len(rows), 1)
    originals = [
        r["_raw_bytes"] if r["_raw_bytes"] is not None else r["_raw"].encode("utf-16-le")
        for r in rows
    ]
    ending = ("\r\n" if "\r\n" in text else "\n").encode("utf-16-le")
    assert b"\xff\xfe" + ending.join(originals) == path.read_bytes()
    assert [r["_raw_bytes"] is None for r in rows] == [True] * (len(rows) - 1) + [False]
    assert rows[-1]["_error"].startswith("not valid utf-16-le text")
    assert rows[-1]["_error"].endswith("; the original bytes are in _raw_bytes")


def test_invalid_bytes_in_a_continuation_line_keep_the_records_exact_bytes(lk, tmp_path):
    path = tmp_path / "trace.log"
    path.write_bytes(b"2024-01-21 a\n  m\xfcnchen\n2024-01-22 b\n")

    report = lk.ingest_logs("app.trace", str(path), multiline_start="^2024")

    assert (report.records_read, report.records_failed) == (2, 1)
    first, second = _rows(lk, "app.trace").to_pylist()
    assert first["_raw_bytes"] == b"2024-01-21 a\n  m\xfcnchen"
    assert first["_error"] == "invalid UTF-8 in line 2; the original bytes are in _raw_bytes"
    assert second["_raw_bytes"] is None and second["_error"] is None


def test_a_utf8_bom_is_not_text(lk):
    lk.ingest_logs("win.notepad", str(ODD / "notepad-utf8-bom.jsonl"))

    rows = _rows(lk, "win.notepad")
    assert rows.column("a").to_pylist() == [1, 2]
    assert rows.column("_raw").to_pylist() == ['{"a":1}', '{"a":2}']


def test_latin1_bytes_read_as_utf8_keep_their_exact_bytes_and_say_why(lk):
    path = ODD / "apache-latin1.log"
    report = lk.ingest_logs("web.old", str(path), preset="apache-combined")

    assert report.records_failed == 1
    row = _rows(lk, "web.old").to_pylist()[0]
    assert row["_raw_bytes"] == path.read_bytes().rstrip(b"\n")
    assert row["_error"] == "invalid UTF-8 in line 1; the original bytes are in _raw_bytes"
    assert "\\xfc" in row["_raw"]  # shown, escaped


def test_a_declared_latin1_file_is_text_whose_bytes_are_exact(lk):
    path = ODD / "apache-latin1.log"
    report = lk.ingest_logs("web.old", str(path), preset="apache-combined", encoding="latin-1")

    assert report.records_failed == 0
    row = _rows(lk, "web.old").to_pylist()[0]
    assert row["path"] == "/menü.html"
    assert "_raw_bytes" not in row
    assert row["_raw"].encode("latin-1") == path.read_bytes().rstrip(b"\n")


def test_cp1252_text_is_decoded_and_its_undefined_bytes_kept_exactly(lk):
    path = ODD / "windows-cp1252.log"
    report = lk.ingest_logs("win.app", str(path), encoding="cp1252")

    assert (report.records_read, report.records_failed) == (2, 1)
    ok, odd = _rows(lk, "win.app").to_pylist()
    assert ok["_raw"] == "2024-01-21 price “5 €” ok" and ok["_raw_bytes"] is None
    assert odd["_raw_bytes"] == b"2024-01-21 odd byte \x81 here"
    assert odd["_error"] == "not valid cp1252 text in line 2; the original bytes are in _raw_bytes"


def test_an_unknown_encoding_is_one_sentence_and_commits_nothing(lk):
    with pytest.raises(LogFormatError, match=r"^Unknown encoding 'klingon'; use utf-8") as e:
        lk.ingest_logs("win.app", str(ODD / "windows-cp1252.log"), encoding="klingon")
    assert str(e.value).count(". ") == 0
    info = lk.catalog.find_table(TableName.parse("win.app"))
    assert info is None or not lk.delta(info).exists()


# -- 5. Re-parsing -----------------------------------------------------------------------


def test_reparse_replaces_a_files_rows_in_one_commit_and_keeps_the_old_parse(lk, tmp_path):
    path = tmp_path / "app.log"
    path.write_text("2024-01-21 INFO started\n2024-01-21 WARN disk low\n")
    first = lk.ingest_logs(
        "app.text", str(path), pattern=r"^(?P<day>\S+) (?P<lvl>[a-z]+) (?P<m>.*)"
    )
    assert first.records_failed == 2  # the pattern was wrong: lower-case levels

    skipped = lk.ingest_logs(
        "app.text", str(path), pattern=r"^(?P<day>\S+) (?P<lvl>[A-Z]+) (?P<m>.*)"
    )
    assert skipped.version is None and "--reparse" in skipped.files[0].note

    again = lk.ingest_logs(
        "app.text", str(path), pattern=r"^(?P<day>\S+) (?P<lvl>[A-Z]+) (?P<m>.*)", reparse=True
    )

    assert again.version == first.version + 1
    assert (again.files[0].status, again.records_parsed, again.records_failed) == ("reparsed", 2, 0)
    rows = _rows(lk, "app.text")
    assert rows.column("lvl").to_pylist() == ["INFO", "WARN"]
    assert rows.column("_line").to_pylist() == [1, 2]
    old = _rows(lk, "app.text", first.version)
    assert old.column("_error").null_count == 0 and old.num_rows == 2
    ledger = _ledger(lk, "app.text")
    assert [(e.start_offset, e.end_offset, e.version) for e in ledger] == [
        (0, path.stat().st_size, first.version),
        (0, path.stat().st_size, again.version),
    ]
    info = lk.catalog.get_table(TableName.parse("app.text"))
    added = [c for c in lk.catalog.schema_changes(info) if c.column in ("lvl", "m")]
    assert added, "the reparse's new columns are in the drift history"


# -- 4. Fields with no value yet -----------------------------------------------------------


def test_fields_always_null_or_empty_are_columns_of_type_null_and_in_the_ledger(lk, tmp_path):
    # Measured: 13 such paths of a public event stream were missing from the schema, so a
    # query naming one failed with "Could not find key".
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"a":1,"n":null,"e":[],"o":{},"s":{"x":null,"y":1}}\n{"a":2,"n":null,"e":[]}\n'
    )

    report = lk.ingest_logs("app.events", str(path))

    rows = _rows(lk, "app.events")
    assert rows.column("n").to_pylist() == [None, None]
    assert rows.column("e").to_pylist() == [[], []]
    assert rows.column("o").to_pylist() == [None, None]
    assert rows.column("s").to_pylist() == [{"x": None, "y": 1}, None]
    drift = {d["column"]: d for d in report.drift}
    assert (drift["n"]["change"], drift["n"]["new_type"]) == ("added", "string")
    assert {"n", "e", "o", "s"} <= set(drift)
    info = lk.catalog.get_table(TableName.parse("app.events"))
    snapshot = lk.delta(info).snapshot()
    from lake.delta.types import column_type

    types = {f.name: column_type(f) for f in snapshot.schema}
    assert (types["n"], types["o"], types["e"]) == ("null", "null", "list<element: null>")
    assert types["s"] == "struct<x: null, y: int64>"
    found = lk.sql("SELECT count(*) AS c FROM app.events WHERE n IS NULL AND s.x IS NULL")
    assert found.table.to_pylist() == [{"c": 2}]

    # The first real values give the columns their types; the rows before read NULL.
    _grow(path, b'{"a":3,"n":5,"e":[1],"o":{"k":"v"},"s":{"x":"hi","y":2}}\n')
    second = lk.ingest_logs("app.events", str(path))

    rows = _rows(lk, "app.events")
    assert rows.schema.field("n").type == pa.int64()
    assert rows.column("n").to_pylist() == [None, None, 5]
    assert rows.column("e").to_pylist() == [[], [], [1]]
    assert rows.column("o").to_pylist() == [None, None, {"k": "v"}]
    assert rows.column("s").to_pylist()[2] == {"x": "hi", "y": 2}
    changed = {d["column"]: d["change"] for d in second.drift}
    assert changed["n"] == "widened"


# -- Bad input and the command line -------------------------------------------------------


def test_the_cli_reparses_and_reports_it_and_refuses_a_bad_encoding_in_one_line(lk, cli, tmp_path):
    path = tmp_path / "app.log"
    path.write_text("2024-01-21 INFO started\n")
    assert cli("ingest", "logs", "app.text", str(path)).exit_code == 0

    bad = cli("ingest", "logs", "app.text", str(path), "--encoding", "klingon", "--reparse")
    assert bad.exit_code == 1
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert "Unknown encoding 'klingon'" in bad.stderr
    assert _rows(lk, "app.text").num_rows == 1  # still the last good version

    done = cli(
        "ingest", "logs", "app.text", str(path), "--reparse", "--output", "json",
        "--pattern", r"^(?P<day>\S+) (?P<level>[A-Z]+) (?P<msg>.*)",
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["version"], report["files"][0]["status"]) == (1, "reparsed")
    assert _rows(lk, "app.text").column("level").to_pylist() == ["INFO"]


def test_a_line_over_the_64_mib_limit_is_kept_in_pieces_with_nothing_lost(tmp_path):
    # Measured: a 72 MiB line was kept whole although the README documents a 64 MiB cut.
    import pyarrow.parquet as pq

    from ingest.logs.stage import stage_logs

    long = b'{"msg":"' + b"x" * (72 << 20) + b'"}'
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"a":1}\n' + long + b'\n{"a":2}\n')

    staged = stage_logs([str(path)], staging_dir=tmp_path / "staged")

    t = pa.concat_tables(pq.read_table(f.path) for f in staged.files).sort_by("_line")
    assert t.column("_line").to_pylist() == [1, 2, 2, 3]
    pieces = [r for r in t.to_pylist() if r["_line"] == 2]
    assert [len(r["_raw"]) for r in pieces] == [64 << 20, len(long) - (64 << 20)]
    assert "".join(r["_raw"] for r in pieces).encode() == long
    assert {r["_error"] for r in pieces} == {"line longer than 64 MiB: stored in pieces"}


def test_a_resumed_text_file_keeps_the_pattern_it_was_read_with(lk, tmp_path):
    path = tmp_path / "app.log"
    pattern = r"^(?P<day>\S+) (?P<level>[A-Z]+) (?P<msg>.*)$"
    path.write_text("2024-01-21 INFO started\n")
    lk.ingest_logs("app.text", str(path), pattern=pattern)
    _grow(path, b"2024-01-21 WARN disk low\n")

    report = lk.ingest_logs("app.text", str(path))  # a cron job that forgot the pattern

    assert (report.records_parsed, report.records_failed) == (1, 0)
    assert _rows(lk, "app.text").column("level").to_pylist() == ["INFO", "WARN"]


def test_a_utf32_unit_beyond_unicode_is_refused_in_one_sentence_and_the_table_stands(lk, tmp_path):
    import codecs

    good = tmp_path / "good.log"
    good.write_bytes(codecs.BOM_UTF32_LE + "first\n".encode("utf-32-le"))
    lk.ingest_logs("win.u32", str(good), format="text")
    bad = tmp_path / "bad.log"
    # 0x00110000 is one past U+10FFFF: no code point, and no error handler keeps its bytes.
    bad.write_bytes(
        codecs.BOM_UTF32_LE
        + "a line\n".encode("utf-32-le")
        + b"\x00\x00\x11\x00"
        + "\nnext\n".encode("utf-32-le")
    )
    with pytest.raises(LogFormatError) as refused:
        lk.ingest_logs("win.u32", str(bad), format="text")
    message = str(refused.value)
    assert "bad.log is not utf-32-le text near byte 32" in message
    assert "--encoding latin-1" in message and "\n" not in message
    assert [v.version for v in lk.history("win.u32")] == [0]
    assert _rows(lk, "win.u32").column("_raw").to_pylist() == ["first"]
