"""Container logs as Kubernetes writes them (the CRI log format of containerd and CRI-O,
``/var/log/pods/...``): ``TIME STREAM TAG MESSAGE``, the time Go's RFC 3339 to the
nanosecond, a line over the runtime's limit (16 KiB) split into ``P`` lines ended by an ``F``
line, which are one record. Through the lake on both backend pairs, and staged with odd
bytes, endings and chunks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.logs.jsonl import PIECE_NOTE
from ingest.logs.stage import stage_logs
from ingest.logs.textlogs import PRESETS, choose_preset
from tests.ingest.logs.landed import landed_rows

UTC = dt.UTC
A = "a" * 16_384
B = "b" * 16_384
PARTIAL_NOTE = (
    "a partial line (tag P) whose end is not the next line: message holds only its first "
    "part (ingest the file again once its writer ends the line)"
)

CRI_LINES = [
    b"2026-12-07T10:00:00.123456789Z stdout F GET /healthz 200",
    # one line of 32 KiB and 6 bytes, split by the runtime: one record, its message whole
    b"2026-12-07T10:00:01.5Z stderr P " + A.encode(),
    b"2026-12-07T10:00:01.500000001Z stderr P " + B.encode(),
    b"2026-12-07T10:00:01.6Z stderr F  tail",
    b"2026-12-07T10:00:02Z stdout F ",  # an empty line written by the container
    b"Dec  7 10:00:03 host sshd[1]: Accepted publickey",  # another format: kept, failed
    b"2026-12-07T11:00:03.25+01:00 stdout F caf\xe9 au lait",  # Latin-1 byte
    b"2026-12-07T10:00:04.000000999Z stdout F done",
    b"2026-12-07T10:00:05.1Z stdout P torn",  # the last line, cut: no ending
]


def _cri_file(folder: Path, *, ending: bytes = b"\n", bom: bool = False) -> Path:
    path = folder / "pod.log"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ending.join(CRI_LINES))
    return path


def _staged_rows(staged) -> list[dict]:
    out = [r for f in staged.files for r in pq.read_table(f.path).to_pylist()]
    return sorted(out, key=lambda r: r["_line"])


def _at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


EXPECTED = [
    # _line, time, time_nanos, stream, tag, message, _error
    (1, _at(2026, 12, 7, 10, 0, 0, 123456), 123456789, "stdout", "F", "GET /healthz 200", None),
    (2, _at(2026, 12, 7, 10, 0, 1, 500000), 500000000, "stderr", "F", A + B + " tail", None),
    (5, _at(2026, 12, 7, 10, 0, 2), 0, "stdout", "F", "", None),
    (6, None, None, None, None, None, "did not match preset 'cri'"),
    (
        7,
        _at(2026, 12, 7, 10, 0, 3, 250000),
        250000000,
        "stdout",
        "F",
        "caf\\xe9 au lait",
        "invalid UTF-8 in line 7; the original bytes are in _raw_bytes",
    ),
    (8, _at(2026, 12, 7, 10, 0, 4), 999, "stdout", "F", "done", None),
    (9, _at(2026, 12, 7, 10, 0, 5, 100000), 100000000, "stdout", "P", "torn", PARTIAL_NOTE),
]
COLUMNS = ("_line", "time", "time_nanos", "stream", "tag", "message", "_error")


@pytest.mark.parametrize("how", ["preset", "auto"])
def test_a_cri_log_is_one_record_per_line_its_partial_lines_joined_nanoseconds_kept(
    lk, cli, tmp_path, how
):
    """Before: no preset read it; `--format auto` kept its lines as plain text, a line the
    runtime split over 16 KiB three rows of pieces, no stream, no time."""
    path = _cri_file(tmp_path)
    kw = {"preset": "cri"} if how == "preset" else {}
    report = lk.ingest_logs("k8s.pods", str(path), **kw)
    (outcome,) = report.files
    assert outcome.parser == "cri"
    assert (outcome.records_read, outcome.records_failed) == (7, 2)
    assert outcome.records_with_time == 6
    rows = landed_rows(lk, "k8s.pods")
    assert [tuple(r[c] for c in COLUMNS) for r in rows] == EXPECTED
    assert [r["_event_time"] for r in rows] == [e[1] for e in EXPECTED]
    # _raw keeps the lines as written, a joined record's lines joined by "\n"
    assert rows[1]["_raw"] == "\n".join(line.decode() for line in CRI_LINES[1:4])
    assert rows[3]["_raw"] == CRI_LINES[5].decode()
    assert rows[4]["_raw_bytes"] == CRI_LINES[6]
    day = (
        "SELECT stream, count(*) AS n FROM k8s.pods "
        "WHERE _event_time >= TIMESTAMP '2026-12-07 10:00:01' GROUP BY stream ORDER BY stream"
    )
    assert cli("sql", day, "--output", "json").json()["rows"] == [
        {"stream": "stderr", "n": 1},
        {"stream": "stdout", "n": 4},
    ]


@pytest.mark.parametrize(
    ("ending", "bom"), [(b"\r\n", False), (b"\r", False), (b"\n", True), (b"\r\n", True)]
)
def test_cr_and_crlf_endings_and_a_bom_give_the_rows_of_plain_lines(tmp_path, ending, bom):
    plain = stage_logs([str(_cri_file(tmp_path))], staging_dir=tmp_path / "plain")
    (tmp_path / "odd").mkdir()
    odd_path = _cri_file(tmp_path / "odd", ending=ending, bom=bom)
    odd = stage_logs([str(odd_path)], staging_dir=tmp_path / "odd-stage")
    assert odd.sources[0].parser == plain.sources[0].parser == "cri"
    keep = (*COLUMNS, "_raw", "_raw_bytes")
    assert [{c: r[c] for c in keep} for r in _staged_rows(odd)] == [
        {c: r[c] for c in keep} for r in _staged_rows(plain)
    ]


def test_partial_lines_joined_across_chunks_and_a_line_over_the_chunk_size(tmp_path, monkeypatch):
    """Records are cut from 32 KiB chunks here: the P lines of one record lie in several
    chunks, and one F line of 100 KiB is longer than a chunk."""
    import ingest.logs.lines
    import ingest.sources

    huge = "h" * 100_000
    lines = []
    for i in range(40):
        lines.append(f"2026-12-07T10:00:{i:02d}.{i:09d}Z stdout P {A}")
        lines.append(f"2026-12-07T10:00:{i:02d}.{i:09d}Z stdout P {B}")
        lines.append(f"2026-12-07T10:00:{i:02d}.{i:09d}Z stdout F {i}")
        lines.append(f"2026-12-07T10:00:{i:02d}.5Z stderr F {huge if i % 10 == 3 else i}")
    path = tmp_path / "big.log"
    path.write_text("\n".join(lines) + "\n")
    whole = stage_logs([str(path)], staging_dir=tmp_path / "whole")
    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 32_768)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 32_768)
    chunked = stage_logs([str(path)], staging_dir=tmp_path / "chunked")
    for staged in (whole, chunked):
        report = staged.sources[0]
        assert (report.parser, report.records_read, report.records_failed) == ("cri", 80, 0)
        rows = _staged_rows(staged)
        assert [r["_line"] for r in rows] == [n for i in range(40) for n in (4 * i + 1, 4 * i + 4)]
        assert [r["message"] for r in rows[0::2]] == [A + B + str(i) for i in range(40)]
        assert [r["time_nanos"] for r in rows[0::2]] == list(range(40))
        assert [len(r["message"]) for r in rows[1::2] if len(r["message"]) > 2] == [100_000] * 4
        assert all(r["_error"] is None for r in rows)
    drop = ("_ingested_at",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in _staged_rows(chunked)] == [
        {k: v for k, v in r.items() if k not in drop} for r in _staged_rows(whole)
    ]


def test_lines_of_two_streams_are_never_joined_into_one_message(tmp_path):
    """A P line of stdout followed by an F line of stderr: the record cannot be one line of
    one stream; it fails with both lines kept, not a message made of two streams."""
    path = tmp_path / "mixed.log"
    path.write_text(
        "2026-12-07T10:00:00Z stdout P half of stdout\n"
        "2026-12-07T10:00:01Z stderr F an error\n"
        "2026-12-07T10:00:02Z stdout F the rest\n"
    )
    staged = stage_logs([str(path)], preset="cri", staging_dir=tmp_path / "stage")
    rows = _staged_rows(staged)
    assert [(r["_line"], r["message"], r["_error"]) for r in rows] == [
        (
            1,
            None,
            "a partial line of stream stdout goes on in a line of stream stderr: no one "
            "record (message is null; the lines are in _raw as written)",
        ),
        (3, "the rest", None),
    ]
    assert rows[0]["_raw"] == "2026-12-07T10:00:00Z stdout P half of stdout\n" + (
        "2026-12-07T10:00:01Z stderr F an error"
    )


def test_a_partial_line_ended_after_an_ingest_is_read_again_into_one_record(lk, tmp_path):
    """The first ingest ends on a P line (the runtime is still writing the line): its row is
    its first part with a note. When the F line arrives, the file is read again whole and
    that row replaced: the table is what one ingest of the final file gives."""
    path = tmp_path / "pod.log"
    first = "2026-12-07T10:00:00Z stdout F one\n2026-12-07T10:00:01Z stdout P " + A + "\n"
    path.write_text(first)
    lk.ingest_logs("k8s.grow", str(path))
    before = landed_rows(lk, "k8s.grow")
    assert [(r["_line"], r["tag"], r["_error"]) for r in before] == [
        (1, "F", None),
        (2, "P", PARTIAL_NOTE),
    ]
    with path.open("a") as f:
        f.write("2026-12-07T10:00:01.1Z stdout F end\n2026-12-07T10:00:02Z stdout F two\n")
    report = lk.ingest_logs("k8s.grow", str(path))
    assert report.files[0].parser == "cri"
    after = landed_rows(lk, "k8s.grow")
    assert [(r["_line"], r["tag"], r["message"], r["_error"]) for r in after] == [
        (1, "F", "one", None),
        (2, "F", A + "end", None),
        (4, "F", "two", None),
    ]
    lk.ingest_logs("k8s.once", str(path))
    drop = ("_ingested_at", "_source")
    assert [{k: v for k, v in r.items() if k not in drop} for r in after] == [
        {k: v for k, v in r.items() if k not in drop} for r in landed_rows(lk, "k8s.once")
    ]


def test_auto_picks_cri_only_for_cri_lines_and_no_other_preset_for_them():
    """A CRI log is no syslog, log4j or Python log, and the cri preset reads no other
    preset's example."""
    lines = [line.decode("latin-1") for line in CRI_LINES]
    chosen = choose_preset(lines, where="pod.log")
    assert chosen is not None and chosen.preset is not None
    assert (chosen.preset.name, chosen.alike) == ("cri", ())
    for name, preset in PRESETS.items():
        if name == "cri":
            continue
        picked = choose_preset([preset.example] * 3, where=name)
        assert picked is not None and picked.preset is not None
        assert picked.preset.name != "cri"


# -- Docker's json-file driver --------------------------------------------------------------

E = "é" * 8_192  # 16 KiB of UTF-8 in 8,192 characters


def _docker(log: str, stream: str = "stdout", time: str = "2026-12-07T10:00:00.5Z") -> str:
    """One record as Docker's jsonlog encoder writes it (keys in its order, no spaces)."""
    return json.dumps({"log": log, "stream": stream, "time": time}, separators=(",", ":"))


DOCKER_LINES = [
    _docker("GET /healthz 200\n", time="2026-12-07T10:00:00.123456789Z"),
    # one line of 32 KiB and 4 bytes, split by Docker's copier at 16 KiB: one record
    _docker(A, "stderr", "2026-12-07T10:00:01.5Z"),
    _docker(E, "stderr", "2026-12-07T10:00:01.6Z"),
    _docker("end\n", "stderr", "2026-12-07T10:00:01.7Z"),
    _docker("last words, no line feed", time="2026-12-07T10:00:02Z"),  # a container's exit
    "Dec  7 10:00:03 host sshd[1]: Accepted publickey",  # no JSON: kept, failed
    _docker(A, "stdout", "2026-12-07T10:00:04Z"),  # a piece whose rest went to ...
    _docker("other stream\n", "stderr", "2026-12-07T10:00:05Z"),  # ... not this record
    _docker(B, "stdout", "2026-12-07T10:00:06Z"),  # the file ends inside a split line
]
DOCKER_EXPECTED = [
    # _line, log, stream, time, _error
    (1, "GET /healthz 200\n", "stdout", _at(2026, 12, 7, 10, 0, 0, 123456), None),
    (2, A + E + "end\n", "stderr", _at(2026, 12, 7, 10, 0, 1, 500000), None),
    (5, "last words, no line feed", "stdout", _at(2026, 12, 7, 10, 0, 2), None),
    (6, None, None, None, "invalid JSON: Expecting value at column 1"),
    (7, A, "stdout", _at(2026, 12, 7, 10, 0, 4), PIECE_NOTE),
    (8, "other stream\n", "stderr", _at(2026, 12, 7, 10, 0, 5), None),
    (9, B, "stdout", _at(2026, 12, 7, 10, 0, 6), PIECE_NOTE),
]


def _docker_file(folder: Path, *, ending: str = "\n", bom: bool = False) -> Path:
    path = folder / "0123abcd-json.log"
    text = ending.join(DOCKER_LINES) + ending
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_a_docker_json_file_line_split_at_16_kib_is_one_record(lk, cli, tmp_path):
    """Before: each 16 KiB piece was a record of its own (three rows for one line, the
    line's end alone in the third), with no _error."""
    report = lk.ingest_logs("docker.app", str(_docker_file(tmp_path)))
    (outcome,) = report.files
    assert (outcome.parser, outcome.records_read, outcome.records_failed) == (None, 7, 1)
    assert report.time_field == "time"
    rows = landed_rows(lk, "docker.app")
    assert [(r["_line"], r["log"], r["stream"], r["time"], r["_error"]) for r in rows] == (
        DOCKER_EXPECTED
    )
    assert [r["_event_time"] for r in rows] == [e[3] for e in DOCKER_EXPECTED]
    assert rows[1]["_raw"] == "\n".join(DOCKER_LINES[1:4])
    stderr = "SELECT length(log) AS n FROM docker.app WHERE stream = 'stderr' ORDER BY n"
    assert cli("sql", stderr, "--output", "json").json()["rows"] == [
        {"n": 13},
        {"n": 16_384 + 8_192 + 4},
    ]


def test_json_that_is_not_dockers_layout_is_never_joined(tmp_path):
    """A logger's own ``log`` key without a line feed, even of 16 KiB, is no piece: only
    Docker's record layout with a log of exactly 16 KiB is."""
    path = tmp_path / "app.jsonl"
    lines = [
        json.dumps({"log": A, "level": "info"}),
        json.dumps({"log": "b", "level": "info"}),
        json.dumps({"log": A + "x", "stream": "stdout", "time": "2026-12-07T10:00:00Z"}),
        _docker("c", time="2026-12-07T10:00:01Z"),
    ]
    path.write_text("\n".join(lines) + "\n")
    rows = _staged_rows(stage_logs([str(path)], staging_dir=tmp_path / "stage"))
    assert [(r["_line"], len(r["log"]), r["_error"]) for r in rows] == [
        (1, 16_384, None),
        (2, 1, None),
        (3, 16_385, None),
        (4, 1, None),
    ]


@pytest.mark.parametrize(("ending", "bom"), [("\r\n", False), ("\r", False), ("\n", True)])
def test_docker_pieces_with_cr_and_crlf_endings_and_a_bom_join_as_with_plain_lines(
    tmp_path, ending, bom
):
    plain = stage_logs([str(_docker_file(tmp_path))], staging_dir=tmp_path / "plain")
    (tmp_path / "odd").mkdir()
    odd_path = _docker_file(tmp_path / "odd", ending=ending, bom=bom)
    odd = stage_logs([str(odd_path)], staging_dir=tmp_path / "odd-stage")
    keep = ("_line", "log", "stream", "time", "_error", "_raw")
    assert [{c: r[c] for c in keep} for r in _staged_rows(odd)] == [
        {c: r[c] for c in keep} for r in _staged_rows(plain)
    ]


def test_docker_pieces_join_across_chunks_as_in_one(tmp_path, monkeypatch):
    import ingest.logs.lines
    import ingest.sources

    lines = []
    for i in range(30):
        t = f"2026-12-07T10:00:{i:02d}.{i:09d}Z"
        lines += [_docker(A, time=t), _docker(E, time=t), _docker(f"{i}\n", time=t)]
        lines.append(_docker(f"short {i}\n", "stderr", t))
    path = tmp_path / "big-json.log"
    path.write_text("\n".join(lines) + "\n")
    whole = stage_logs([str(path)], staging_dir=tmp_path / "whole")
    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 32_768)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 32_768)
    chunked = stage_logs([str(path)], staging_dir=tmp_path / "chunked")
    for staged in (whole, chunked):
        assert (staged.sources[0].records_read, staged.sources[0].records_failed) == (60, 0)
        rows = _staged_rows(staged)
        assert [r["log"] for r in rows[0::2]] == [f"{A}{E}{i}\n" for i in range(30)]
        assert all(r["_error"] is None for r in rows)
    drop = ("_ingested_at",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in _staged_rows(chunked)] == [
        {k: v for k, v in r.items() if k not in drop} for r in _staged_rows(whole)
    ]


def test_a_docker_line_split_across_two_ingests_is_read_again_into_one_record(lk, tmp_path):
    path = tmp_path / "grow-json.log"
    path.write_text(_docker("one\n") + "\n" + _docker(A, time="2026-12-07T10:00:01Z") + "\n")
    lk.ingest_logs("docker.grow", str(path))
    assert [r["_error"] for r in landed_rows(lk, "docker.grow")] == [None, PIECE_NOTE]
    with path.open("a") as f:
        f.write(_docker("end\n", time="2026-12-07T10:00:02Z") + "\n" + _docker("two\n") + "\n")
    lk.ingest_logs("docker.grow", str(path))
    after = landed_rows(lk, "docker.grow")
    assert [(r["_line"], r["log"], r["_error"]) for r in after] == [
        (1, "one\n", None),
        (2, A + "end\n", None),
        (4, "two\n", None),
    ]
    lk.ingest_logs("docker.once", str(path))
    drop = ("_ingested_at", "_source")
    assert [{k: v for k, v in r.items() if k not in drop} for r in after] == [
        {k: v for k, v in r.items() if k not in drop} for r in landed_rows(lk, "docker.once")
    ]


def _docker_raw(log: str, stream: str = "stdout", time: str = "2026-12-07T10:00:00Z") -> str:
    """A record as Docker's encoder writes it: UTF-8 as is, each byte that is no UTF-8 as
    the escape ``\\ufffd`` (``log`` here is that escaped text already)."""
    return f'{{"log":"{log}","stream":"{stream}","time":"{time}"}}'


def test_a_docker_line_whose_16_kib_cut_splits_a_character_is_one_record(tmp_path):
    """Docker's copier cuts a long line after 16,384 bytes, inside a character when one
    spans the cut, and its encoder writes each byte that is no longer UTF-8 as ``\\ufffd``:
    a piece's log decodes to more than 16 KiB. Before: a line of Greek, Chinese or accented
    text over 16 KiB was two records when the cut fell inside a character (the first with
    no _error), one when it did not."""
    path = tmp_path / "0123abcd-json.log"
    lines = [
        # 'a' and 8,192 'é' (2 bytes each) and a line feed: the cut after byte 16,384 falls
        # inside the last 'é'; each half of it is one \ufffd
        _docker_raw("a" + "é" * 8_191 + "\\ufffd", time="2026-12-07T10:00:01Z"),
        _docker_raw("\\ufffd\\n", time="2026-12-07T10:00:01Z"),
        # three pieces, a 3-byte character cut at each cut
        _docker_raw("中" * 5_461 + "\\ufffd", time="2026-12-07T10:00:02Z"),
        _docker_raw(
            "\\ufffd\\ufffd" + "中" * 5_460 + "\\ufffd\\ufffd", time="2026-12-07T10:00:02Z"
        ),
        _docker_raw("\\ufffd" + "end\\n", time="2026-12-07T10:00:02Z"),
        # the character U+FFFD the container wrote is UTF-8 (written as is, 3 bytes): a log
        # of 16,386 bytes, no piece, and the next record is its own
        _docker_raw("a" * 16_383 + "\ufffd", time="2026-12-07T10:00:03Z"),
        _docker_raw("next\\n", time="2026-12-07T10:00:04Z"),
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode())
    rows = _staged_rows(stage_logs([str(path)], staging_dir=tmp_path / "stage"))
    assert [(r["_line"], r["log"], r["_error"]) for r in rows] == [
        (1, "a" + "é" * 8_191 + "\ufffd\ufffd\n", None),
        (3, "中" * 5_461 + "\ufffd" * 3 + "中" * 5_460 + "\ufffd" * 3 + "end\n", None),
        (6, "a" * 16_383 + "\ufffd", None),
        (7, "next\n", None),
    ]


def test_a_cri_line_whose_16_kib_cut_splits_a_character_is_one_valid_record(tmp_path):
    """The runtime cuts a long line after 16,384 bytes, inside a character when one spans
    the cut, and writes the bytes as they are: each piece alone is no UTF-8, the pieces
    joined are. Before: the record's message held the character as two escapes ('\\xc3',
    '\\xa9') and its _error said 'invalid UTF-8 in line 1' for a line that has none."""
    text = ("a" + "é" * 8_192 + "b" + "中" * 5_462 + "!").encode()  # both cuts inside one
    cuts = [0, 16_384, 32_768, len(text)]
    pieces = [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    lines = [
        b"2026-12-07T10:00:01.5Z stdout P " + pieces[0],
        b"2026-12-07T10:00:01.6Z stdout P " + pieces[1],
        b"2026-12-07T10:00:01.7Z stdout F " + pieces[2],
        b"2026-12-07T10:00:02Z stdout F caf\xe9",  # Latin-1: still invalid, still said
        b"2026-12-07T10:00:03Z stdout F next",
    ]
    path = tmp_path / "pod.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = _staged_rows(stage_logs([str(path)], staging_dir=tmp_path / "stage"))
    assert rows[0]["_line"] == 1
    assert rows[0]["message"] == text.decode()
    assert (rows[0]["_error"], rows[0]["_raw_bytes"]) == (None, None)
    assert [(r["_line"], r["message"], r["_error"]) for r in rows[1:]] == [
        (
            4,
            "caf\\xe9",
            "invalid UTF-8 in line 4; the original bytes are in _raw_bytes",
        ),
        (5, "next", None),
    ]


def test_a_cut_character_is_not_mended_when_its_lines_hold_other_invalid_bytes(tmp_path):
    """A piece with a byte that is no UTF-8 besides the cut character: the lines stay as
    they were written, the record says it is invalid, and no character is shown twice."""
    text = ("a" + "é" * 8_192).encode()
    lines = [
        b"2026-12-07T10:00:01.5Z stdout P " + text[:16_384],
        b"2026-12-07T10:00:01.6Z stdout F " + text[16_384:] + b" caf\xe9",
    ]
    path = tmp_path / "pod.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    (row,) = _staged_rows(stage_logs([str(path)], staging_dir=tmp_path / "stage"))
    assert row["message"] == text[:16_384].decode("utf-8", "backslashreplace") + (
        text[16_384:] + b" caf\xe9"
    ).decode("utf-8", "backslashreplace")
    assert row["_error"] == "invalid UTF-8 in line 1; the original bytes are in _raw_bytes"
    assert row["_raw_bytes"] == b"\n".join(lines)
