"""Text logs as current systems write them, where earlier reviews found the lake silently
wrong: rsyslog's RFC 3339 times, TLS bytes in access logs, leap days and leap seconds, BOMs
on Latin-1 files, files ingested before parsers were recorded, and ``--format auto`` between
presets that disagree. Each test's doc says what main did before its fix.

Samples: ``tests/data/real-logs`` (see its README); small odd files are written here.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from ingest.exceptions import LogFormatError
from tests.conftest import DATA
from tests.ingest.logs.landed import landed_rows

REAL = DATA / "real-logs"
UTC = dt.UTC


def _at(*parts: int, offset: float = 0) -> dt.datetime:
    """A wall-clock time at a UTC offset (hours), as the UTC instant it is."""
    local = dt.datetime(*parts, tzinfo=dt.timezone(dt.timedelta(hours=offset)))
    return local.astimezone(UTC)


# -- 1. Syslog with RFC 3339 times (rsyslog's RSYSLOG_FileFormat, Debian 12) --------------

RSYSLOG_TIMES = [
    _at(2025, 12, 6, 23, 7, 49, 123456),
    _at(2025, 12, 6, 23, 7, 50),
    _at(2025, 12, 6, 23, 7, 51, offset=1),
    _at(2025, 12, 6, 23, 7, 52, 500000, offset=-5),
    _at(2025, 12, 7, 0, 0, 0, 1, offset=5.5),
    _at(2025, 12, 6, 23, 7, 53, 999999),
    _at(2025, 12, 6, 23, 7, 54),
]


def test_rsyslog_file_format_lines_are_syslog_records_with_exact_times(lk, tmp_path):
    """Before: neither the time nor the record start of `--preset syslog` knew RFC 3339, so
    the whole file became one record failing the preset (every line inside its `_raw`), and
    `--format auto` kept it as unparsed text. Now each line is a record with its instant
    (offset applied), host, program, pid and message, by the preset or by auto."""
    path = REAL / "syslog-rsyslog.log"
    by_preset = lk.ingest_logs("sys.rsyslog", str(path), preset="syslog")
    by_auto = lk.ingest_logs("sys.rsyslog_auto", str(path))
    for report, table in ((by_preset, "sys.rsyslog"), (by_auto, "sys.rsyslog_auto")):
        assert report.files[0].parser == "syslog"
        assert (report.records_read, report.records_failed) == (7, 0)
        rows = landed_rows(lk, table)
        assert [r["_event_time"] for r in rows] == RSYSLOG_TIMES
        assert [r["time"] for r in rows] == RSYSLOG_TIMES
        assert [r["_error"] for r in rows] == [None] * 7
        assert {r["host"] for r in rows} == {"web1"}
        assert [r["program"] for r in rows] == [
            "sshd",
            "CRON",
            "kernel",
            "systemd",
            "rsyslogd",
            "sudo",
            "sshd",
        ]
        assert [r["pid"] for r in rows] == [812, 900, None, 1, None, None, 812]
        assert rows[0]["message"] == "Accepted publickey for bob from 10.0.0.7 port 50122 ssh2"
        assert rows[2]["message"].startswith("[    1.000000] e1000e: eth0")
        assert rows[4]["message"].startswith('[origin software="rsyslogd"')
        assert rows[6]["message"].endswith("port 50122 [pre")  # the torn last line is kept
        # BOM and CRLF are not text; every record keeps its exact line.
        text = path.read_bytes().decode("utf-8-sig").split("\r\n")
        assert [r["_raw"] for r in rows] == text


def test_rfc5424_lines_keep_nil_values_escaped_brackets_and_a_message_without_its_bom(lk, tmp_path):
    """RFC 5424 §6.4: a UTF-8 MSG starts with a BOM, which marks it and is not text. Before:
    the message kept it (`\\ufeff'su root' failed`). Under `--preset syslog` an RFC 5424 file
    was one record, every line inside it; now each line is a record failing that preset."""
    path = REAL / "syslog-rfc5424-odd.log"
    report = lk.ingest_logs("sys.ietf", str(path))
    assert report.files[0].parser == "syslog-rfc5424"
    assert (report.records_read, report.records_failed) == (5, 1)
    rows = landed_rows(lk, "sys.ietf")
    assert [r["_event_time"] for r in rows] == [
        _at(2025, 12, 6, 23, 7, 49, 123456),
        _at(2025, 12, 6, 23, 7, 50),
        _at(2025, 12, 6, 23, 7, 51, offset=1),
        None,  # "-": no time, and no error for it
        None,  # the torn line: its reason is the record's
    ]
    assert [r["message"] for r in rows] == [
        "'su root' failed for bob on /dev/pts/8",
        "An application event",
        None,
        "no time given",
        None,
    ]
    assert [r["procid"] for r in rows] == [None, "4242", None, "42", None]
    assert rows[1]["structured_data"] == (
        '[exampleSDID@32473 iut="3" eventSource="App\\]lication" eventID="1011"]'
        '[examplePriority@32473 class="high"]'
    )
    assert [r["host"] for r in rows][:3] == ["web1", "web1.example.com", None]
    assert [r["_error"] for r in rows] == [None] * 4 + ["did not match preset 'syslog-rfc5424'"]
    assert [r["_raw"] for r in rows] == path.read_bytes().decode().split("\r\n")

    as_bsd = lk.ingest_logs("sys.ietf_as_bsd", str(path), preset="syslog")
    assert (as_bsd.records_read, as_bsd.records_failed) == (5, 5)
    assert [r["_line"] for r in landed_rows(lk, "sys.ietf_as_bsd")] == [1, 2, 3, 4, 5]


# Application and container logs also open with an RFC 3339 time, then words: none is syslog.
_NOT_SYSLOG = {
    "plain app": [
        "2024-01-01T00:00:00Z INFO starting server on :8080",
        "2024-01-01T00:00:01Z WARN slow request took 2s",
        "2024-01-01T00:00:02Z ERROR db: connection refused",
    ],
    "zerolog console": [
        "2024-01-01T00:00:00.123Z INF Starting provider *file.Provider",
        "2024-01-01T00:00:01.456Z WRN slow key=v",
        "2024-01-01T00:00:02.789Z ERR main.go:12: failed",
    ],
    "CRI, micro": [
        "2024-01-01T00:00:00.123456Z stdout F hello world",
        "2024-01-01T00:00:01.123456Z stderr F oops: it failed",
    ],
    "docker --timestamps": [
        "2024-01-01T00:00:00.123456+00:00 hello world",
        "2024-01-01T00:00:01.123456+00:00 second line",
    ],
}


@pytest.mark.parametrize("kind", sorted(_NOT_SYSLOG))
def test_auto_reads_app_and_container_logs_with_rfc3339_times_as_text_not_syslog(
    lk, tmp_path, kind
):
    """rsyslog writes a host and a tag (`prog[pid]:`) after its time. Before: auto read any
    line "RFC 3339 time, then words" as syslog, a level word or a stream as the host
    (`host` 'INFO', 'stdout'), with no error. Now such files stay plain text, as on main
    before RFC 3339 syslog was read (a CRI container log is read by its own preset, `cri`);
    `--preset syslog` still reads them when asked."""
    path = tmp_path / "app.log"
    path.write_text("\n".join(_NOT_SYSLOG[kind]) + "\n")
    report = lk.ingest_logs("app.auto", str(path))
    assert report.files[0].parser == ("cri" if kind.startswith("CRI") else None)
    rows = landed_rows(lk, "app.auto")
    assert [r["_raw"] for r in rows] == _NOT_SYSLOG[kind]
    assert "host" not in rows[0]


@pytest.mark.parametrize("stamp", ["2026-12-07T10:00:00Z", "Dec  7 10:00:00"])
def test_a_level_word_after_a_syslog_time_is_no_host_or_program(lk, tmp_path, stamp):
    """A line of an application's own inside a syslog file (a multi-line message whose next
    line opens with a time and a level, or a log that is no syslog read with `--preset
    syslog`). Before: the level word was read as the host ('ERROR', 'stdout') or the
    program, with no error. Now neither is a level word or a stream: the word stays in
    the message, and a real host and tag on the same file are read as before."""
    lines = [
        f"{stamp} web1 app[12]: request failed",
        f"{stamp} ERROR inner detail from the app",
        f"{stamp} warn db: connection refused",
        f"{stamp} stdout F hello",
        f"{stamp} web1 sshd[812]: Accepted publickey for bob",
    ]
    path = tmp_path / "sys.log"
    path.write_text("\n".join(lines) + "\n")
    report = lk.ingest_logs("sys.levels", str(path), preset="syslog")
    assert (report.records_read, report.records_failed) == (5, 0)
    rows = landed_rows(lk, "sys.levels")
    assert [r["host"] for r in rows] == ["web1", None, None, None, "web1"]
    assert [r["program"] for r in rows] == ["app", None, None, None, "sshd"]
    assert [r["message"] for r in rows] == [
        "request failed",
        "ERROR inner detail from the app",
        "warn db: connection refused",
        "stdout F hello",
        "Accepted publickey for bob",
    ]
    assert [r["pid"] for r in rows] == [12, None, None, None, 812]
    assert all(r["_event_time"] is not None for r in rows)


# -- 2. Access logs with bytes that are no HTTP request ----------------------------------

_TLS = "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03\\xB5"  # as nginx escapes them
_REQUESTS = [
    # (request as logged, method, path, protocol, _error)
    (
        _TLS,
        None,
        None,
        None,
        f"request '{_TLS}' is no HTTP request line: method, path and "
        "protocol are null (request keeps it as logged)",
    ),
    ("-", None, None, None, None),  # nothing was received (Apache's 408)
    ("", None, None, None, None),  # nginx: the connection closed before a request
    ("GET /a b c HTTP/1.1", "GET", "/a b c", "HTTP/1.1", None),
    ("GET /ok?q=1 HTTP/2.0", "GET", "/ok?q=1", "HTTP/2.0", None),
    ("M-SEARCH * HTTP/1.1", "M-SEARCH", "*", "HTTP/1.1", None),
    ("GET /", "GET", "/", None, None),  # HTTP/0.9: no protocol
    (
        "SSH-2.0-OpenSSH_9.6",
        None,
        None,
        None,
        "request 'SSH-2.0-OpenSSH_9.6' is no HTTP "
        "request line: method, path and protocol are null (request keeps it as logged)",
    ),
]


@pytest.mark.parametrize(
    ("preset", "head"), [("nginx-combined", "10.0.0.9 - -"), ("apache-combined", "10.0.0.9 - -")]
)
def test_a_request_that_is_no_http_request_line_is_kept_whole_and_its_nulls_say_why(
    lk, tmp_path, preset, head
):
    """Before: a TLS handshake or an SSH banner sent to a plain HTTP port left method, path
    and protocol null with no `_error` and the request nowhere but `_raw`; `GET /a b c
    HTTP/1.1` gave path `/a` and protocol `b c HTTP/1.1`. Now `request` holds the request as
    logged, its parts are split as the servers split it (the protocol is the last word when it
    is `HTTP/x.y`), and a request that is none says so (the record is parsed, not failed)."""
    path = tmp_path / "access.log"
    lines = [
        f'{head} [06/Dec/2025:23:07:{i:02d} +0100] "{r}" 400 {i} "-" "-"'
        for i, (r, *_) in enumerate(_REQUESTS)
    ]
    path.write_text("\n".join(lines) + "\n")
    report = lk.ingest_logs("web.access", str(path), preset=preset)
    assert (report.records_read, report.records_failed) == (len(lines), 0)
    rows = landed_rows(lk, "web.access")
    got = [(r["request"], r["method"], r["path"], r["protocol"], r["_error"]) for r in rows]
    assert got == [tuple(x) for x in _REQUESTS]
    assert [r["bytes"] for r in rows] == list(range(len(lines)))
    assert [r["_event_time"] for r in rows] == [
        _at(2025, 12, 6, 23, 7, i, offset=1) for i in range(len(lines))
    ]
    assert [r["_raw"] for r in rows] == lines


# -- 3. Feb 29 without a year, and leap seconds ------------------------------------------

_LEAP = (
    "Feb 29 12:00:00 web1 app[1]: leap day\n"
    "Dec 31 23:59:60 web1 ntpd[2]: leap second\n"
    "2016-12-31T23:59:60Z web1 ntpd[2]: leap second, RFC 3339\n"
    "Mar  1 00:00:00 web1 app[1]: the day after\n"
)
_LEAP_SECOND = (
    "is a leap second (second 60), which no timestamp holds: not used (the record keeps its "
    "text in _raw)"
)


def _leap_file(tmp_path: Path, name: str, modified: dt.datetime) -> str:
    path = tmp_path / name
    path.write_text(_LEAP)
    os.utime(path, (modified.timestamp(), modified.timestamp()))
    return str(path)


def test_feb_29_and_leap_seconds_say_what_happened_and_what_to_do(lk, tmp_path):
    """Before: each said "matches no time format: give --time-format", though the format
    matched: Feb 29 was read in the file's year (2025, no leap year) and a leap second fits
    no timestamp. Feb 29 in a file last written in March 2025 is now 2024-02-29 (the latest
    such day the file can hold, as for any date without a year); where no such year is
    near, or `--year` is no leap year, the reason says so and names `--year`."""
    after = _leap_file(tmp_path, "after.log", dt.datetime(2025, 3, 1, 12, tzinfo=UTC))
    report = lk.ingest_logs("sys.leap", after, preset="syslog")
    assert (report.records_read, report.records_failed) == (4, 0)
    assert report.files[0].time_reasons == {"unreadable": 2}
    rows = landed_rows(lk, "sys.leap")
    assert [r["_event_time"] for r in rows] == [
        _at(2024, 2, 29, 12),
        None,
        None,
        _at(2025, 3, 1),
    ]
    assert [r["_error"] for r in rows] == [
        None,
        f"event time 'Dec 31 23:59:60' {_LEAP_SECOND}",
        f"event time '2016-12-31T23:59:60Z' {_LEAP_SECOND}",
        None,
    ]

    far = _leap_file(tmp_path, "far.log", dt.datetime(2023, 3, 1, 12, tzinfo=UTC))
    lk.ingest_logs("sys.leap_far", far, preset="syslog")
    assert landed_rows(lk, "sys.leap_far")[0]["_error"] == (
        "event time 'Feb 29 12:00:00' has no year, and the file's last modification puts it in "
        "a year without Feb 29: not used (give the log's year with --year)"
    )
    lk.ingest_logs("sys.leap_2023", after, preset="syslog", year=2023)
    assert landed_rows(lk, "sys.leap_2023")[0]["_error"] == (
        "event time 'Feb 29 12:00:00' is no date in 2023 (--year): not used (give the log's "
        "year with --year)"
    )
    lk.ingest_logs("sys.leap_2016", after, preset="syslog", year=2016)
    rows = landed_rows(lk, "sys.leap_2016")
    assert rows[0]["_event_time"] == _at(2016, 2, 29, 12)
    assert rows[1]["_error"] == f"event time 'Dec 31 23:59:60' {_LEAP_SECOND}"


# -- 4. A UTF-8 byte-order mark on a Latin-1 file ---------------------------------------

_LATIN1_LINES = [
    b"Feb  5 01:02:03 h\xf6st app[1]: M\xfcller ok",
    b"Feb  5 01:02:04 host app[1]: plain",
]


def test_a_utf8_mark_on_a_latin1_file_is_no_text_and_every_byte_is_kept(lk, tmp_path):
    """Before: with `--encoding latin-1` the mark was read as the text 'ï»¿' opening the first
    record, which then failed the preset ("did not match preset 'syslog'", its fields null).
    The mark is no text in any encoding now; without `--encoding` the mark says UTF-8 and the
    Latin-1 line is flagged with its exact bytes kept."""
    path = tmp_path / "editor.log"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(_LATIN1_LINES) + b"\n")

    as_utf8 = lk.ingest_logs("sys.marked", str(path), preset="syslog", year=2024)
    assert (as_utf8.records_read, as_utf8.records_failed) == (2, 1)
    rows = landed_rows(lk, "sys.marked")
    assert rows[0]["_error"] == "invalid UTF-8 in line 1; the original bytes are in _raw_bytes"
    assert rows[0]["_raw_bytes"] == _LATIN1_LINES[0]
    assert [r["_raw_bytes"] for r in rows[1:]] == [None]
    assert [r["_event_time"] for r in rows] == [_at(2024, 2, 5, 1, 2, 3), _at(2024, 2, 5, 1, 2, 4)]

    as_latin1 = lk.ingest_logs(
        "sys.latin1", str(path), preset="syslog", year=2024, encoding="latin-1"
    )
    assert (as_latin1.records_read, as_latin1.records_failed) == (2, 0)
    rows = landed_rows(lk, "sys.latin1")
    assert [(r["host"], r["message"], r["_error"]) for r in rows] == [
        ("höst", "Müller ok", None),
        ("host", "plain", None),
    ]
    assert [r["_raw"].encode("latin-1") for r in rows] == _LATIN1_LINES
    assert [r["_event_time"] for r in rows] == [_at(2024, 2, 5, 1, 2, 3), _at(2024, 2, 5, 1, 2, 4)]
    assert "_raw_bytes" not in rows[0]


# -- 5. A grown file whose parser an older version did not record ------------------------


def _forget_parsers(lk) -> None:
    """The file facets as versions before the parser was recorded left them (no "parser")."""
    from sqlalchemy import select, update

    from catalog.definitions import SOURCES

    def work(conn) -> None:
        for sid, facets in conn.execute(select(SOURCES.c.id, SOURCES.c.facets)).all():
            old = {k: v for k, v in (facets or {}).items() if k != "parser"}
            conn.execute(update(SOURCES).where(SOURCES.c.id == sid).values(facets=old))

    lk.catalog.core_transaction(work)


def test_a_grown_file_an_older_version_parsed_unrecorded_is_refused_not_read_as_text(lk, tmp_path):
    """Before: its new lines landed as plain text (every preset column null, no `_error`).
    Now the ingest is refused, naming the presets the table's columns are those of (more
    than one: the columns cannot tell which) and the options that read the file; the table
    stays at its version. A table with no parsed columns was plain text: its grown files are
    read so, as before."""
    path = tmp_path / "spark.log"
    spark = (REAL / "spark.log").read_text().splitlines(keepends=True)
    path.write_text("".join(spark[:4]))
    first = lk.ingest_logs("app.spark", str(path), earliest="1990-01-01")
    assert first.files[0].parser == "spark"
    _forget_parsers(lk)
    path.write_text("".join(spark))
    with pytest.raises(LogFormatError) as refused:
        lk.ingest_logs("app.spark", str(path), earliest="1990-01-01")
    assert str(refused.value) == (
        f"{path.as_uri()} was ingested into app.spark by a lake that did not record how it "
        "parsed the file's text, so its new lines cannot be read the same way without being "
        "told: give --preset spark or --preset python (the table's columns are those of "
        "presets 'spark' and 'python'), "
        "--pattern, or --format text, or --reparse to read it again whole."
    )
    assert lk.table("app.spark").current_version == first.version
    again = lk.ingest_logs("app.spark", str(path), preset="spark", earliest="1990-01-01")
    assert again.files[0].status == "appended"
    rows = landed_rows(lk, "app.spark")
    assert len(rows) == again.records_read + first.records_read == 8  # a stack trace joins
    assert all(r["level"] is not None for r in rows)
    # The first ingest's lines are of one day, auto chose the preset by their shape, and
    # 17/06/09 is as much 2009-06-17: no time, and why; --preset spark names yy/MM/dd.
    unsure = [r for r in rows if r["_event_time"] is None]
    assert len(unsure) == first.records_read
    assert all(r["_error"].startswith("event time '17/06/09 20:10:4") for r in unsure)
    assert all(r["_error"] is None for r in rows if r["_event_time"] is not None)

    # --reparse reads such a file again whole, its preset chosen anew (as the refusal says).
    path.write_text("".join(spark[:4]))
    lk.ingest_logs("app.spark2", str(path), earliest="1990-01-01")
    _forget_parsers(lk)
    path.write_text("".join(spark))
    whole = lk.ingest_logs("app.spark2", str(path), earliest="1990-01-01", reparse=True)
    assert (whole.files[0].status, whole.files[0].parser) == ("reparsed", "spark")
    assert [r["level"] is not None for r in landed_rows(lk, "app.spark2")] == [True] * 8

    notes = tmp_path / "notes.txt"
    notes.write_text("first note\n")
    lk.ingest_logs("app.notes", str(notes))
    _forget_parsers(lk)
    notes.write_text("first note\nsecond note\n")
    lk.ingest_logs("app.notes", str(notes))
    assert [r["_raw"] for r in landed_rows(lk, "app.notes")] == ["first note", "second note"]


def _rename_parsers(lk, old: str) -> None:
    """The file facets as a lake whose preset had another name left them."""
    from sqlalchemy import select, update

    from catalog.definitions import SOURCES

    def work(conn) -> None:
        for sid, facets in conn.execute(select(SOURCES.c.id, SOURCES.c.facets)).all():
            conn.execute(
                update(SOURCES).where(SOURCES.c.id == sid).values(facets={**facets, "parser": old})
            )

    lk.catalog.core_transaction(work)


def test_a_grown_file_read_with_a_preset_this_lake_lacks_is_refused_not_read_as_text(lk, tmp_path):
    """A preset renamed or dropped since the file's last ingest. Before: its new lines were
    read with the call's parser (plain text under auto: every column null, no `_error`).
    Now the ingest is refused naming the preset and the options; the table keeps its
    version, and `--reparse` reads the file again whole."""
    path = tmp_path / "spark.log"
    spark = (REAL / "spark.log").read_text().splitlines(keepends=True)
    path.write_text("".join(spark[:4]))
    first = lk.ingest_logs("app.spark", str(path), earliest="1990-01-01")
    _rename_parsers(lk, "spark-1x")
    path.write_text("".join(spark))
    with pytest.raises(LogFormatError) as refused:
        lk.ingest_logs("app.spark", str(path), earliest="1990-01-01")
    assert str(refused.value) == (
        f"{path.as_uri()} was read into app.spark with preset 'spark-1x', which this lake "
        "does not have: give --preset, --pattern or --format text to read its new lines, "
        "or --reparse to read it again whole."
    )
    assert lk.table("app.spark").current_version == first.version
    whole = lk.ingest_logs("app.spark", str(path), earliest="1990-01-01", reparse=True)
    assert (whole.files[0].status, whole.files[0].parser) == ("reparsed", "spark")


# -- 6. --format auto between presets that parse a file alike ----------------------------


def test_auto_says_which_other_preset_parses_the_file_as_well_with_other_columns(lk, tmp_path):
    """An access log parses wholly by apache-combined and by nginx-combined (NGINX's combined
    format is Apache's with the ident fixed to '-'), whose columns differ (ident, auth vs
    remote_user). Refusing would refuse every access log; auto takes the first, as before,
    but its report now says the other parses the records as well. Before: no word of it."""
    path = tmp_path / "access.log"
    path.write_text(
        '10.0.0.1 - - [06/Dec/2025:23:07:49 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n'
        '10.0.0.2 - bob [06/Dec/2025:23:07:50 +0000] "POST /a HTTP/1.1" 201 0 "-" "-"\n'
    )
    report = lk.ingest_logs("web.auto", str(path))
    outcome = report.files[0]
    assert outcome.parser == "apache-combined"
    assert outcome.note == (
        "--format auto read it with preset 'apache-combined'; preset 'nginx-combined' parses "
        "its first records as well, with other columns: give --preset to choose"
    )
    rows = landed_rows(lk, "web.auto")
    assert [(r["ident"], r["auth"], r["_error"]) for r in rows] == [
        ("-", "-", None),
        ("-", "bob", None),
    ]
    # A file only one preset parses has no such note.
    alone = lk.ingest_logs("sys.auto", str(REAL / "syslog-rsyslog.log"))
    assert alone.files[0].note is None
