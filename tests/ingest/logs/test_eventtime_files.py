"""Event times read from whole files, on both backend pairs: what a log's times become when
the lake reads them with its default formats, and when it says it cannot be sure."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from pathlib import Path

import pytest

from tests.ingest.logs.landed import landed_rows

UTC = dt.UTC


def _jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_a_time_without_zone_after_one_with_a_zone_name_is_utc_not_that_zone(lk, tmp_path):
    """Before: DuckDB's cast carried Europe/Paris from the first record to the next two,
    which landed an hour early (09:00 UTC), the date-only one on the day before."""
    path = _jsonl(
        tmp_path / "app.jsonl",
        [
            {"ts": "2026-12-05 10:00:00 Europe/Paris", "n": 1},
            {"ts": "2026-12-05 10:00:00", "n": 2},
            {"ts": "2026-12-05", "n": 3},
        ],
    )
    lk.ingest_logs("app.zones", path)
    rows = landed_rows(lk, "app.zones")
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 5, 10, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 5, 0, 0, tzinfo=UTC),
    ]
    assert [r["_event_date"] for r in rows] == [dt.date(2026, 12, 5)] * 3
    assert [r["_error"] for r in rows] == [None] * 3


def test_utc_plus_an_hour_is_read_by_no_one_sign_and_says_so(lk, tmp_path):
    """Before: 'UTC+1' was read as +01:00 (DuckDB), where PostgreSQL and POSIX TZ read an hour
    behind UTC: two hours apart, no error."""
    path = _jsonl(
        tmp_path / "app.jsonl",
        [{"ts": "2026-12-05 10:00:00 UTC+1"}, {"ts": "2026-12-05 10:00:00 Etc/GMT+1"}],
    )
    lk.ingest_logs("app.signs", path)
    rows = landed_rows(lk, "app.signs")
    assert rows[0]["_event_time"] is None
    assert rows[0]["_error"].startswith(
        "event time '2026-12-05 10:00:00 UTC+1' gives its zone as 'UTC+1', whose sign is read "
        "both ways"
    )
    # A zone name of the tz database is read as it defines it (Etc/GMT+1 is UTC-1).
    assert rows[1]["_event_time"] == dt.datetime(2026, 12, 5, 11, 0, tzinfo=UTC)


APP = r"^(?P<time>\S+ \S+) (?P<level>[A-Z]+) (?P<message>.*)$"
"""An application's text log: its time, a level, a message."""


def _lines(path: Path, times: list[str]) -> str:
    path.write_text("".join(f"{t} INFO request {i} served\n" for i, t in enumerate(times)))
    return str(path)


def test_european_and_us_app_logs_are_read_by_the_layout_the_file_leaves(lk, tmp_path):
    """Before: every such time was read as Hadoop's yy/MM/dd: 26/11/26 (26 November 2026) as
    2026-11-26 by chance, 20/11/26 as 2020-11-26, and 27/11/26 (2027, after the window) lost;
    US 11/05/26 as 2011-05-26."""
    eu = _lines(tmp_path / "eu.log", [f"{d}/11/26 10:00:00" for d in range(20, 31)])
    lk.ingest_logs("app.eu", eu, pattern=APP, latest="2026-12-31")
    rows = landed_rows(lk, "app.eu")
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2026, 11, d, 10, tzinfo=UTC) for d in range(20, 31)
    ]
    assert {r["_error"] for r in rows} == {None}
    us = _lines(tmp_path / "us.log", [f"11/{d:02}/26 10:00:00" for d in range(5, 15)])
    lk.ingest_logs("app.us", us, pattern=APP, latest="2026-12-31")
    rows = landed_rows(lk, "app.us")
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2026, 11, d, 10, tzinfo=UTC) for d in range(5, 15)
    ]


def test_a_file_whose_times_fit_several_layouts_gets_none_and_says_which(lk, tmp_path):
    """Spark's yy/MM/dd read by the default formats (not its preset), and a European week
    of days 20 to 24: each also a date in another layout, nothing in the file rules one out.
    Before: read as yy/MM/dd, the European week in 2020-2024."""
    eu = _lines(tmp_path / "eu.log", [f"{d}/11/26 10:00:00" for d in range(20, 25)])
    report = lk.ingest_logs("app.week", eu, pattern=APP, latest="2026-12-31")
    assert report.files[0].time_reasons == {"ambiguous": 5}
    rows = landed_rows(lk, "app.week")
    assert {r["_event_time"] for r in rows} == {None}
    assert rows[0]["_error"] == (
        "event time '20/11/26 10:00:00' reads as '%y/%m/%d %H:%M:%S' 2020-11-26, "
        "'%d/%m/%y %H:%M:%S' 2026-11-20, and no time of the file read so far rules out all "
        "but one: not used (a time read later that does settles only the times after it: give "
        "the layout with --time-format)"
    )
    lk.ingest_logs(
        "app.told", eu, pattern=APP, latest="2026-12-31", time_format="%d/%m/%y %H:%M:%S"
    )
    assert [r["_event_time"].day for r in landed_rows(lk, "app.told")] == [20, 21, 22, 23, 24]
    # Spark's own log, through its preset (it documents yy/MM/dd) and through a pattern.
    spark = tmp_path / "spark.log"
    spark.write_text(
        "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered\n"
        "17/06/09 20:10:41 INFO spark.SecurityManager: Changing view acls to: yarn\n"
    )
    lk.ingest_logs("spark.preset", str(spark), preset="spark")
    assert {r["_event_time"] for r in landed_rows(lk, "spark.preset")} == {
        dt.datetime(2017, 6, 9, 20, 10, 40, tzinfo=UTC),
        dt.datetime(2017, 6, 9, 20, 10, 41, tzinfo=UTC),
    }
    lk.ingest_logs("spark.pattern", str(spark), pattern=APP)
    assert {r["_event_time"] for r in landed_rows(lk, "spark.pattern")} == {None}


def test_times_read_before_a_later_one_settles_the_layout_say_so(lk, tmp_path, monkeypatch):
    """A file read in several chunks whose first only has times of several readings: those
    stay null, and a time of a later chunk that settles the layout (27/11/26 cannot be
    yy/MM/dd: 2027 is after --latest) reads the same text after it. Before: each early
    row's _error said no time of the file rules out all but one, which a later one did."""
    import ingest.logs.lines
    import ingest.sources

    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 32_768)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 32_768)
    times = ["20/11/26 10:00:00"] * 2_000 + ["27/11/26 10:00:00", "20/11/26 10:00:00"]
    report = lk.ingest_logs(
        "app.late", _lines(tmp_path / "eu.log", times), pattern=APP, latest="2026-12-31"
    )
    rows = landed_rows(lk, "app.late")
    early = [r for r in rows if r["_event_time"] is None]
    assert 0 < len(early) < 2_000 and early[-1]["_line"] < 2_000
    assert report.files[0].time_reasons == {"ambiguous": len(early)}
    assert early[0]["_error"] == (
        "event time '20/11/26 10:00:00' reads as '%y/%m/%d %H:%M:%S' 2020-11-26, "
        "'%d/%m/%y %H:%M:%S' 2026-11-20, and no time of the file read so far rules out all "
        "but one: not used (a time read later that does settles only the times after it: give "
        "the layout with --time-format)"
    )
    assert [r["_event_time"] for r in rows[-2:]] == [
        dt.datetime(2026, 11, 27, 10, tzinfo=UTC),
        dt.datetime(2026, 11, 20, 10, tzinfo=UTC),
    ]


def test_a_go_services_log_is_read_by_its_offsets(lk, tmp_path):
    """Before: every record of a Go service printing time.Now() got no event time: 'CET'
    was refused as an abbreviation, '+0000 UTC' matched no format."""
    path = _jsonl(
        tmp_path / "go.jsonl",
        [
            {"time": "2026-11-07 10:00:00.123 +0100 CET m=+0.000012001", "msg": "start"},
            {"time": "2026-11-07 09:30:00 +0000 UTC", "msg": "utc"},
            {"time": "2026-11-07 10:00:00 +0100 EST", "msg": "edited"},
        ],
    )
    report = lk.ingest_logs("go.svc", path)
    assert report.event_times_json()["reasons"] == {"unreadable": 1}
    rows = landed_rows(lk, "go.svc")
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2026, 11, 7, 9, 0, 0, 123000, tzinfo=UTC),
        dt.datetime(2026, 11, 7, 9, 30, tzinfo=UTC),
        None,
    ]
    assert rows[2]["_error"].startswith(
        "event time '2026-11-07 10:00:00 +0100 EST' gives the offset +0100 and the zone 'EST'"
    )


def test_a_syslog_file_across_new_year_east_of_utc_gets_each_line_its_year(lk, tmp_path):
    """Before: the last line, 'Jan  1 00:30:05' on a Berlin host (23:30 UTC on Dec 31, when
    the file was last written), landed in 2026-01-01, a year before the lines above it."""
    path = tmp_path / "syslog"
    path.write_text(
        "Dec 30 12:00:00 web1 cron[10]: (root) CMD (run-parts)\n"
        "Dec 31 23:59:58 web1 sshd[11]: Accepted publickey for deploy\n"
        "Jan  1 00:30:05 web1 systemd[1]: Started Happy New Year.\n"
    )
    written = dt.datetime(2026, 12, 31, 23, 30, 6, tzinfo=UTC)
    os.utime(path, (written.timestamp(), written.timestamp()))
    lk.ingest_logs("sys.newyear", str(path), preset="syslog", latest="2027-01-31")
    assert [r["_event_time"] for r in landed_rows(lk, "sys.newyear")] == [
        dt.datetime(2026, 12, 30, 12, tzinfo=UTC),
        dt.datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC),
        dt.datetime(2027, 1, 1, 0, 30, 5, tzinfo=UTC),
    ]


@pytest.mark.parametrize("backend", ["s3-postgres"], indirect=True)
def test_on_s3_a_year_less_time_takes_its_year_from_the_objects_upload(lk, backend, tmp_path):
    """An object's last modification on S3 is its upload: the year rule reads it as it reads
    a local file's mtime (a line dated more than a day after the upload is from the year
    before)."""
    client = backend.s3.client()
    now = dt.datetime.now(UTC)
    later = now + dt.timedelta(
        days=2 if (now + dt.timedelta(days=2)).strftime("%m%d") != "0229" else 3
    )
    path = tmp_path / "auth.log"
    path.write_text(
        f"{now.strftime('%b %e')} 00:00:01 web1 sshd[11]: Accepted publickey for deploy\n"
        f"{later.strftime('%b %e')} 00:00:01 web1 sshd[12]: Accepted publickey for deploy\n"
    )
    client.upload_file(str(path), backend.s3.bucket, "logs/auth.log")
    lk.ingest_logs(
        "sys.auth", f"s3://{backend.s3.bucket}/logs/auth.log", preset="syslog", latest="2262-01-01"
    )
    rows = landed_rows(lk, "sys.auth")
    assert rows[0]["_event_time"].date() == now.date()  # written just before the upload
    assert rows[1]["_event_time"].date() == later.date().replace(year=later.year - 1)


# -- a year-less time whose file's mtime is no evidence of its year --------------------

_NEW_YEAR = (
    "Dec 31 23:59:58 web1 sshd[11]: Accepted publickey for deploy from 10.0.0.5 port 50122\n"
    "Jan  1 00:00:03 web1 CRON[12]: (root) CMD (command -v debian-sa1 > /dev/null)\n"
)
_DECEMBER = (
    "Dec  3 10:00:01 web1 sshd[811]: Failed password for root from 203.0.113.9 port 4242\n"
    "Dec  3 10:00:02 web1 sshd[811]: Connection closed by 203.0.113.9 port 4242 [preauth]\n"
)


def _written(path: Path, text: str | bytes, modified: dt.datetime) -> str:
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    os.utime(path, (modified.timestamp(), modified.timestamp()))
    return str(path)


def _versions(lk, table: str) -> list[int]:
    from lake.core.names import TableName

    return [v.version for v in lk.catalog.versions(lk.catalog.get_table(TableName.parse(table)))]


@pytest.mark.parametrize("backend", ["local-sqlite"], indirect=True)
def test_a_syslog_file_copied_long_after_it_was_written_is_refused_naming_it_and_year(
    lk, backend, tmp_path
):
    """Before: a rotated file of 2024 copied in June 2026 landed in December 2025, a year
    late, with no error. Of a folder, the one copied file is named, nothing of the
    folder lands; that file alone with --year, then the folder, land every line in its
    year."""
    from ingest.exceptions import YearUnsure

    logs = tmp_path / "logs"
    logs.mkdir()
    # As written: its newest line a few seconds before its mtime, across New Year.
    _written(logs / "auth.log", _NEW_YEAR, dt.datetime(2025, 1, 1, 0, 0, 4, tzinfo=UTC))
    # Rotated and gzipped in 2024, copied (no -p) to this host in 2026.
    rotated = _written(
        logs / "auth.log.2.gz",
        gzip.compress(_DECEMBER.encode()),
        dt.datetime(2026, 6, 15, tzinfo=UTC),
    )
    with pytest.raises(YearUnsure) as refused:
        lk.ingest_logs("sys.auth", str(logs), preset="syslog")
    assert str(refused.value) == (
        f"The log file 'file://{rotated}' has times without a year, and its newest, "
        "'Dec 03 10:00:02' (read as 2025), is 193 days before the file's last modification "
        "(2026-06-15 00:00 UTC), so the file was copied, downloaded or uploaded after it was "
        "written and its year is not sure: nothing was ingested; give --year (ingest this file "
        "on its own if other files are of other years)."
    )
    assert _versions(lk, "sys.auth") == []  # nothing committed
    lk.ingest_logs("sys.auth", rotated, preset="syslog", year=2024)
    lk.ingest_logs("sys.auth", str(logs), preset="syslog")
    assert sorted(r["_event_time"] for r in landed_rows(lk, "sys.auth")) == [
        dt.datetime(2024, 12, 3, 10, 0, 1, tzinfo=UTC),
        dt.datetime(2024, 12, 3, 10, 0, 2, tzinfo=UTC),
        dt.datetime(2024, 12, 31, 23, 59, 58, tzinfo=UTC),
        dt.datetime(2025, 1, 1, 0, 0, 3, tzinfo=UTC),
    ]
    assert _versions(lk, "sys.auth") == [0, 1]


@pytest.mark.parametrize("backend", ["local-sqlite"], indirect=True)
def test_a_grown_syslog_file_copied_later_is_refused_and_its_ledger_kept(lk, backend, tmp_path):
    """Only the new part is read and judged: its newest line against the copy's mtime.
    The refused ingest leaves the table and the ledger as they were, so --year reads just
    the new lines."""
    from ingest.exceptions import YearUnsure

    path = tmp_path / "auth.log"
    _written(path, _DECEMBER, dt.datetime(2024, 12, 3, 10, 0, 3, tzinfo=UTC))
    lk.ingest_logs("sys.grown", str(path), preset="syslog")
    grown = _DECEMBER + "Dec  4 08:00:00 web1 sshd[900]: Accepted publickey for deploy\n"
    _written(path, grown, dt.datetime(2025, 2, 1, tzinfo=UTC))
    with pytest.raises(YearUnsure, match=r"'Dec 04 08:00:00' \(read as 2024\), is 58 days"):
        lk.ingest_logs("sys.grown", str(path), preset="syslog")
    assert _versions(lk, "sys.grown") == [0]
    report = lk.ingest_logs("sys.grown", str(path), preset="syslog", year=2024)
    assert report.records_read == 1
    assert [r["_event_time"] for r in landed_rows(lk, "sys.grown")][-1] == dt.datetime(
        2024, 12, 4, 8, tzinfo=UTC
    )


@pytest.mark.parametrize("backend", ["s3-postgres"], indirect=True)
def test_an_object_uploaded_days_after_its_syslog_lines_is_refused(lk, backend, tmp_path):
    """An S3 object's last modification is its upload: lines ten days older are no
    evidence of their year (read in this year, and refused rather than landed)."""
    from ingest.exceptions import YearUnsure

    client = backend.s3.client()
    old = dt.datetime.now(UTC) - dt.timedelta(days=10)
    path = tmp_path / "auth.log"
    path.write_text(f"{old.strftime('%b %e %H:%M:%S')} web1 sshd[11]: Accepted publickey\n")
    client.upload_file(str(path), backend.s3.bucket, "logs/auth.log")
    uri = f"s3://{backend.s3.bucket}/logs/auth.log"
    with pytest.raises(YearUnsure, match=f"The log file '{uri}' has times without a year"):
        lk.ingest_logs("sys.uploaded", uri, preset="syslog")


def test_a_syslog_file_read_in_several_chunks_is_judged_by_its_newest_line(tmp_path, monkeypatch):
    """The newest year-less time is the file's, over every chunk and slice read: as
    written, its last line is seconds before the mtime; copied, that line is named."""
    import ingest.logs.lines
    import ingest.sources
    from ingest.exceptions import YearUnsure
    from ingest.logs.stage import stage_logs

    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 32_768)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 32_768)
    start = dt.datetime(2024, 12, 1, tzinfo=UTC)
    lines = [
        f"{(start + dt.timedelta(minutes=i)):%b %e %H:%M:%S} web1 sshd[{i}]: "
        "Accepted publickey for deploy from 10.0.0.5\n"
        for i in range(1000)
    ]
    last = start + dt.timedelta(minutes=999)
    path = tmp_path / "auth.log"
    _written(path, "".join(lines), last + dt.timedelta(seconds=5))
    staged = stage_logs([str(path)], staging_dir=tmp_path / "as-written", preset="syslog")
    assert staged.records_read == 1000  # 76 kB: three chunks of 32 kB
    _written(path, "".join(lines), dt.datetime(2025, 3, 1, tzinfo=UTC))
    with pytest.raises(YearUnsure, match=f"'{last:%b %d %H:%M:%S}' \\(read as 2024\\)"):
        stage_logs([str(path)], staging_dir=tmp_path / "copied", preset="syslog")
