"""A grown file's new lines are read as its first ingest read them: the parser (the preset
``--format auto`` chose, or the one named), and the multi-line start (the one given wins over
a preset's own). Given options that name another parser for it are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.exceptions import LogFormatError
from tests.ingest.logs.landed import landed_rows

START = r"^\d{4}-\d{2}-\d{2} "
# A log4j service's log with a stack trace (the preset's own start would cut it alike).
LOG4J = [
    b"2023-11-14 22:13:20,323 INFO [main] com.x.Foo: started\n",
    b"2023-11-14 22:13:21,000 ERROR [main] com.x.Foo: boom\n",
    b"java.lang.IllegalStateException: boom\n",
    b"\tat com.x.Foo.run(Foo.java:42)\n",
    b"2023-11-14 22:13:22,000 WARN [main] com.x.Foo: after\n",
]
COLUMNS = ("level", "message", "_line", "_raw", "_error", "_event_time")


def _grown_twice(lk, tmp_path: Path, first: dict, later: dict, table: str = "app.grown"):
    path = tmp_path / "service.log"
    path.write_bytes(b"".join(LOG4J[:1]))
    lk.ingest_logs(table, str(path), **first)
    path.write_bytes(b"".join(LOG4J))
    return path, lk.ingest_logs(table, str(path), **later)


def _seen(lk, table: str) -> list[tuple]:
    return [tuple(r[c] for c in COLUMNS) for r in landed_rows(lk, table)]


def test_new_lines_of_a_file_auto_read_with_a_start_given_are_parsed_by_the_chosen_preset(
    lk, tmp_path
):
    """Before: the new rows had level and message null and no `_error` (read as plain text),
    as the ledger kept the start given but dropped the preset auto chose."""
    options = {"multiline_start": START}
    whole = tmp_path / "whole.log"
    whole.write_bytes(b"".join(LOG4J))
    lk.ingest_logs("app.once", str(whole), **options)

    _, grown = _grown_twice(lk, tmp_path, options, options)

    assert (grown.files[0].status, grown.files[0].parser) == ("appended", "log4j")
    assert _seen(lk, "app.grown") == _seen(lk, "app.once")
    assert [r[0] for r in _seen(lk, "app.grown")] == ["INFO", "ERROR", "WARN"]
    assert landed_rows(lk, "app.grown")[0].keys() == landed_rows(lk, "app.once")[0].keys()


def test_a_start_given_with_format_auto_wins_over_the_chosen_presets_own(lk, tmp_path):
    """Before: the preset's own start cut two records where the one given joins them."""
    path = tmp_path / "service.log"
    path.write_bytes(b"".join(LOG4J[:2]))

    report = lk.ingest_logs("app.never", str(path), multiline_start="^NEVER")

    assert (report.records_read, report.files[0].parser) == (1, "log4j")
    (row,) = landed_rows(lk, "app.never")
    assert row["_raw"] == b"".join(LOG4J[:2]).decode().rstrip("\n")


def test_options_naming_another_parser_for_a_grown_file_are_refused_the_same_ones_read_on(
    lk, tmp_path
):
    """The first ingest let --format auto choose log4j. Before: a --preset, --pattern or
    --multiline-start given on the second ingest only parsed the new lines otherwise than
    the first (python's or the pattern's columns beside log4j's, a stack trace cut into
    rows), without a word. Now each is refused, the table left at its version; the
    options that agree (the chosen preset named) read on, as one ingest of the whole
    file would."""
    whole = tmp_path / "whole.log"
    whole.write_bytes(b"".join(LOG4J))
    lk.ingest_logs("app.once", str(whole))
    path = tmp_path / "service.log"
    path.write_bytes(LOG4J[0])
    first = lk.ingest_logs("app.grown", str(path))
    assert first.files[0].parser == "log4j"
    path.write_bytes(b"".join(LOG4J))
    uri = path.as_uri()
    told = (
        ", and its new lines are read the same way: leave out the options that differ (or "
        "give those), or add --reparse to read the whole file again with them."
    )
    for options in (
        {"preset": "python"},
        {"pattern": r"^(?P<day>\S+) (?P<rest>.*)$"},
        {"multiline_start": "^NEVER"},
        {"format": "jsonl"},
    ):
        with pytest.raises(LogFormatError) as refused:
            lk.ingest_logs("app.grown", str(path), **options)
        assert str(refused.value) == f"{uri} was read into app.grown with preset 'log4j'" + told
    assert lk.table("app.grown").current_version == first.version

    again = lk.ingest_logs("app.grown", str(path), format="text", preset="log4j")

    assert again.files[0].status == "appended"
    assert _seen(lk, "app.grown") == _seen(lk, "app.once")


def test_a_file_read_with_a_start_given_refuses_another_start_and_reads_on_with_none(lk, tmp_path):
    path, _ = _grown_twice(lk, tmp_path, {"multiline_start": START}, {})
    assert [r[0] for r in _seen(lk, "app.grown")] == ["INFO", "ERROR", "WARN"]
    path.write_bytes(b"".join(LOG4J) + LOG4J[0])

    with pytest.raises(LogFormatError) as refused:
        lk.ingest_logs("app.grown", str(path), multiline_start="^2023")

    assert str(refused.value).startswith(
        f"{path.as_uri()} was read into app.grown with preset 'log4j' and the multi-line "
        f"start '{START}', and its new lines"
    )
