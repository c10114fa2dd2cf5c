"""A live log followed into an append-only table (``delta.appendOnly``): the last record of
what an ingest read, when it may be unfinished, is held back (not landed, the ledger ending
before it) and lands whole once the file has grown past it, or as it is with ``final``.
Each growth below is a way a real writer leaves a file between two ingests; at the end the
table holds what one ingest of the complete file gives, row for row."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from ingest import sources
from ingest.logs.stage import stage_logs
from lake.core.errors import UnsupportedTableFeature
from tests.ingest.logs.landed import landed_rows

A = "a" * 16_384  # a line over the runtime's 16 KiB limit is written in pieces of this size


def _docker(log: str, stream: str = "stdout", time: str = "2026-12-07T10:00:00Z") -> str:
    """A record as Docker's json-file driver writes it (keys in its order, no spaces; a
    ``log`` of 16 KiB without a line feed is a piece of a longer line)."""
    return json.dumps({"log": log, "stream": stream, "time": time}, separators=(",", ":"))


def _json(n: int) -> str:
    return f'{{"ts": "2026-11-01T10:00:0{n}Z", "n": {n}}}'


LOG4J = "2026-12-07 10:00:01,250"
BOOM = f"{LOG4J} ERROR [main] com.example.App - boom"
NEXT = f"{LOG4J} INFO [main] com.example.App - next"
CRI_P = "2026-12-07T10:00:01Z stderr P " + A
EXC = "java.lang.IllegalStateException: connection pool closed"
AT_1 = "\tat com.example.Pool.take(Pool.java:42)"
AT_2 = "\tat java.base/java.lang.Thread.run(Thread.java:1583)"

# Files as they grow, by the table following them: per ingest, the bytes appended and the
# bytes held back after it. The first part is ingested before the table is made
# append-only; an empty part is a file that did not grow.
GROWTH = {
    "live.json": {
        "app.jsonl": [  # a line being written when the ingest came
            (_json(1) + "\n", 0),
            (_json(2) + "\n" + _json(3)[:20], 20),
            ("", 20),
            (_json(3)[20:] + "\n" + _json(4) + "\n", 0),
        ],
        "c0ffee-json.log": [  # Docker's json-file driver: a long line in 16 KiB pieces
            (_docker("one\n") + "\n", 0),
            (_docker(A, time="2026-12-07T10:00:01Z") + "\n", len(_docker(A)) + 1),
            ("", len(_docker(A)) + 1),
            (_docker("end\n", time="2026-12-07T10:00:02Z") + "\n" + _docker("two\n") + "\n", 0),
        ],
    },
    "live.text": {
        "pod.log": [  # Kubernetes CRI: a long line in P lines, ended by an F line
            ("2026-12-07T10:00:00Z stdout F one\n", 0),
            (f"{CRI_P}\n", len(CRI_P) + 1),
            (f"{CRI_P}\n", 2 * len(CRI_P) + 2),
            ("2026-12-07T10:00:01.2Z stderr F end\n2026-12-07T10:00:02Z stdout F tw", 32),
            ("o\n", 0),
        ],
        "app.log": [  # log4j: a record starts at a line with a date, so a trace goes on
            (f"{LOG4J} INFO [main] com.example.App - start\n", 0),
            (f"{BOOM}\n{EXC}\n", len(BOOM) + len(EXC) + 2),
            (f"{AT_1}\n{AT_2}\n", len(BOOM) + len(EXC) + len(AT_1) + len(AT_2) + 4),
            (f"{NEXT}\n", len(NEXT) + 1),
        ],
    },
}


def _make_append_only(lk, table: str) -> None:
    info = lk.table(table)
    DeltaTable(
        info.location, storage_options=lk.storage.delta_options()
    ).alter.set_table_properties({"delta.appendOnly": "true"})


def _without_ingest_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "_ingested_at"} for r in rows]


def test_growing_logs_land_each_record_once_whole_as_one_ingest_of_the_whole_files(lk, tmp_path):
    folders = {table: tmp_path / table for table in GROWTH}
    for table, files in GROWTH.items():
        folders[table].mkdir()
        for name, parts in files.items():
            (folders[table] / name).write_text(parts[0][0])
        lk.ingest_logs(table, str(folders[table]))
        _make_append_only(lk, table)
    for step in range(1, max(len(p) for files in GROWTH.values() for p in files.values())):
        for table, files in GROWTH.items():
            for name, parts in files.items():
                if step < len(parts):
                    with (folders[table] / name).open("a") as f:
                        f.write(parts[step][0])
            report = lk.ingest_logs(table, str(folders[table]))
            held = {f.uri.rsplit("/", 1)[1]: f.held_bytes for f in report.files}
            assert held == {n: p[min(step, len(p) - 1)][1] for n, p in files.items()}, step
            assert report.held_back == tuple(
                f"{f.held_bytes:,} bytes held back at the end of {f.uri} (last record "
                "unfinished): they land when an ingest finds the file grown past that record, "
                "or with --final once the file is complete."
                for f in report.files
                if f.held_bytes
            )
            if all(f.status == "held" for f in report.files):
                assert report.version is None  # nothing new but the held records
    for table in GROWTH:
        # The files are complete: the trace's last record, which another line could still
        # continue, lands as it is.
        assert lk.ingest_logs(table, str(folders[table]), final=True).held_back == ()
        once = f"{table}_once"
        lk.ingest_logs(once, str(folders[table]))
        expected = _without_ingest_time(landed_rows(lk, once))
        assert _without_ingest_time(landed_rows(lk, table)) == expected
        assert all(r["_error"] is None for r in expected)
    assert lk.ingest_logs("live.json", str(folders["live.json"])).version is None


def test_a_file_replaced_instead_of_grown_is_refused_in_one_sentence(lk, tmp_path):
    """Rotated (a new file under the old name) or rewritten: its new rows would replace
    those of the old content, which an append-only table refuses; appending them would keep
    both without saying which is which."""
    path = tmp_path / "app.jsonl"
    path.write_text(_json(1) + "\n")
    lk.ingest_logs("live.rot", str(path))
    _make_append_only(lk, "live.rot")
    path.write_text(_json(1) + "\n" + _json(2) + "\n" + _json(3)[:20])
    assert lk.ingest_logs("live.rot", str(path)).files[0].held_bytes == 20
    before = landed_rows(lk, "live.rot")
    # Rotated, the new file holding only a line being written: before, it was "held back"
    # as the old file's unfinished record, the rotation unsaid.
    path.write_text(_json(5)[:20])
    with pytest.raises(UnsupportedTableFeature, match="again whole, as it no longer starts"):
        lk.ingest_logs("live.rot", str(path))
    path.write_text(_json(5) + "\n" + _json(6) + "\n" + _json(7) + "\n")  # rotated
    with pytest.raises(UnsupportedTableFeature) as refused:
        lk.ingest_logs("live.rot", str(path))
    message = str(refused.value)
    assert f"reading {path.as_uri()} again whole" in message
    assert "no longer starts with the 78 bytes its last ingest read" in message
    assert message.count(". ") == 0 and message.endswith("."), message
    assert ",," not in message, message
    assert landed_rows(lk, "live.rot") == before


def test_the_cli_says_what_it_held_back_and_final_lands_it(lk, cli, tmp_path: Path):
    path = tmp_path / "app.jsonl"
    path.write_text(_json(1) + "\n")
    lk.ingest_logs("live.cli", str(path))
    _make_append_only(lk, "live.cli")
    with path.open("a") as f:
        f.write(_json(2)[:20])
    held = cli("ingest", "logs", "live.cli", str(path))
    assert held.exit_code == 0
    assert f"20 bytes held back at the end of {path.as_uri()} (last record unfinished)" in (
        held.stdout + held.stderr
    )
    landed = cli("ingest", "logs", "live.cli", str(path), "--final")
    assert landed.exit_code == 0 and "held back" not in landed.stdout + landed.stderr
    rows = landed_rows(lk, "live.cli")
    assert [(r["_line"], r["_raw"], r["_error"] is not None) for r in rows] == [
        (1, _json(1), False),
        (2, _json(2)[:20], True),  # kept as it is, with why it does not parse
    ]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_a_held_record_starts_at_its_first_line_found_across_read_blocks(
    tmp_path, monkeypatch, ending
):
    """The ledger's range ends where the held record starts, and its sha256 is of the bytes
    before: what the next ingest checks the file's start against. Found from the end, in
    blocks smaller than the record."""
    monkeypatch.setattr(sources, "READ_BLOCK", 64)  # the first holds a line's end
    monkeypatch.setattr(sources, "_BACK_BLOCK", 5)
    lines = [f"{LOG4J} INFO [main] com.example.App - start", BOOM, EXC, AT_1, AT_2]
    content = (ending.join(lines) + ending + AT_2[:9]).encode()  # the trace is being written
    path = tmp_path / "app.log"
    path.write_bytes(content)
    staged = stage_logs([str(path)], staging_dir=tmp_path / "staged", preset="log4j", hold=True)
    (report,) = staged.sources
    start = content.index(BOOM.encode())
    assert (report.records_read, report.next_line) == (1, 2)
    assert (report.bytes_consumed, report.held_bytes) == (start, len(content) - start)
    assert report.sha256 == hashlib.sha256(content[:start]).hexdigest()


def test_a_lone_cr_file_whose_first_ingest_saw_one_line_lands_each_later_line_once(lk, tmp_path):
    """A lone ``\\r`` ending what an ingest read decides nothing (its ``\\n`` may come),
    so the first ingest of a one-line file read it as LF lines. Before: when the file grew,
    that guess stayed: on a table taking replacements the first two records became one
    invalid record, and an append-only table held the whole file back at every ingest."""
    for table, append_only in (("cr.plain", False), ("cr.only", True)):
        path = tmp_path / f"{table}.jsonl"
        path.write_bytes(f"{_json(1)}\r".encode())
        lk.ingest_logs(table, str(path))
        if append_only:
            _make_append_only(lk, table)
        for more in (f"{_json(2)}\r{_json(3)[:9]}", f"{_json(3)[9:]}\r"):
            with path.open("ab") as f:
                f.write(more.encode())
            lk.ingest_logs(table, str(path))
        rows = landed_rows(lk, table)
        assert [(r["n"], r["_line"], r["_error"]) for r in rows] == [
            (1, 1, None),
            (2, 2, None),
            (3, 3, None),
        ], table
