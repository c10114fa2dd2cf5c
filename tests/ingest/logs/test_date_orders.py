"""Times whose text reads as different dates in another order of day, month and year
(``07/11/26``: Spark's log4j yy/MM/dd, a European dd/MM/yy, a US MM/dd/yy), when
``--format auto`` chose a preset by the shape of the lines: the lines decide the order, or
the time is null and its ``_error`` says which readings it has and the option that picks one.
Samples written after the log4j PatternLayout each writes (Spark's default
``%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n``, and the same with the day or month first)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from ingest.logs.stage import stage_logs
from tests.conftest import DATA
from tests.ingest.logs.landed import staged_rows

UTC = dt.UTC
LATEST = "2026-12-31"


def _at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


EUROPEAN = (
    # %d{dd/MM/yy HH:mm:ss} %p %c{1}: %m%n, over a midnight, with a stack trace
    "07/11/26 23:59:58 INFO SparkContext: Running Spark version 3.5.1\n"
    "07/11/26 23:59:59 WARN NativeCodeLoader: Unable to load native-hadoop library for your "
    "platform... using builtin-java classes where applicable\n"
    "08/11/26 00:00:01 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)\n"
    "java.lang.IllegalStateException: boom\n"
    "\tat org.example.Job.run(Job.scala:10)\n"
    "08/11/26 00:00:02 INFO Executor: Finished task 1.0 in stage 1.0 (TID 2)\n"
)
US = (
    # %d{MM/dd/yy HH:mm:ss} %p %c{1}: %m%n, over a midnight
    "11/05/26 23:59:59 INFO SparkContext: Running Spark version 3.5.1\n"
    "11/06/26 00:00:02 INFO SparkContext: Submitted application: etl\n"
    "11/06/26 00:00:03 INFO SparkContext: Stopped\n"
)
ONE_DAY = (
    "07/11/26 10:00:00 INFO SparkContext: Running Spark version 3.5.1\n"
    "07/11/26 10:00:01 INFO SparkContext: Submitted application: etl\n"
)


def _stage(tmp_path, name: str, text: str, **options):
    path = tmp_path / name
    path.write_text(text)
    return stage_logs([str(path)], staging_dir=tmp_path / f"s-{name}", latest=LATEST, **options)


def test_a_european_log4j_log_that_looks_like_sparks_is_read_day_first(tmp_path):
    """Before: ``--format auto`` chose the spark preset and read 07/11/26 as yy/MM/dd:
    2007-11-26, and the line after midnight a year later (2008-11-26), with no error."""
    staged = _stage(tmp_path, "eu.log", EUROPEAN)
    report = staged.sources[0]
    assert report.parser == "spark"
    assert (report.records_read, report.records_failed, report.records_with_time) == (4, 0, 4)
    assert report.time_reasons == {}
    rows = staged_rows(staged)
    assert [r["_event_time"] for r in rows] == [
        _at(2026, 11, 7, 23, 59, 58),
        _at(2026, 11, 7, 23, 59, 59),
        _at(2026, 11, 8, 0, 0, 1),
        _at(2026, 11, 8, 0, 0, 2),
    ]
    assert [r["time"] for r in rows] == [r["_event_time"] for r in rows]
    assert [r["_error"] for r in rows] == [None] * 4
    assert rows[2]["message"].endswith("at org.example.Job.run(Job.scala:10)")


def test_a_us_log_over_a_midnight_is_read_month_first(tmp_path):
    """Before: 11/05/26 read as 2011-05-26 and the next line a month later."""
    staged = _stage(tmp_path, "us.log", US)
    assert [r["_event_time"] for r in staged_rows(staged)] == [
        _at(2026, 11, 5, 23, 59, 59),
        _at(2026, 11, 6, 0, 0, 2),
        _at(2026, 11, 6, 0, 0, 3),
    ]


def test_sparks_own_log_is_still_read_year_first(tmp_path):
    """Spark's default layout over a midnight (20:10:43, then 00:00:01): read as dd/MM/yy
    the two lines are a year apart (2009-06-17, 2010-06-17); 17 is no month."""
    staged = stage_logs([str(DATA / "real-logs" / "spark.log")], staging_dir=tmp_path)
    assert staged.sources[0].parser == "spark"
    rows = staged_rows(staged)
    assert [r["_event_time"] for r in rows] == [
        _at(2017, 6, 9, 20, 10, 40),
        _at(2017, 6, 9, 20, 10, 40),
        _at(2017, 6, 9, 20, 10, 41),
        _at(2017, 6, 9, 20, 10, 41),
        _at(2017, 6, 9, 20, 10, 42),
        _at(2017, 6, 9, 20, 10, 43),
        _at(2017, 6, 10, 0, 0, 1),
        _at(2017, 6, 10, 0, 0, 2),
    ]
    assert {r["_error"] for r in rows} == {None}


def test_a_log_of_one_day_in_any_order_gets_no_time_and_says_how_to_pick_one(tmp_path):
    """Before: read as Spark's yy/MM/dd (2007-11-26), a European log's 7 November 2026."""
    staged = _stage(tmp_path, "day.log", ONE_DAY)
    report = staged.sources[0]
    assert (report.parser, report.records_with_time) == ("spark", 0)
    assert report.time_reasons == {"ambiguous": 2}
    rows = staged_rows(staged)
    assert [(r["time"], r["_event_time"]) for r in rows] == [(None, None)] * 2
    assert rows[0]["_error"] == (
        "event time '07/11/26 10:00:00' reads as '%y/%m/%d %H:%M:%S' 2007-11-26, "
        "'%d/%m/%y %H:%M:%S' 2026-11-07, '%m/%d/%y %H:%M:%S' 2026-07-11, and no time of the "
        "file read so far rules out all but one: not used (a time read later that does "
        "settles only the times after it: give the layout with --time-format)"
    )
    # The options that pick the layout: Spark's preset names yy/MM/dd, --time-format any.
    spark = _stage(tmp_path, "day.log", ONE_DAY, preset="spark")
    assert [r["_event_time"] for r in staged_rows(spark)] == [
        _at(2007, 11, 26, 10, 0, 0),
        _at(2007, 11, 26, 10, 0, 1),
    ]
    told = stage_logs(
        [str(tmp_path / "day.log")],
        staging_dir=tmp_path / "told",
        latest=LATEST,
        time_format="%d/%m/%y %H:%M:%S",
    )
    assert staged_rows(told)[0]["_event_time"] == _at(2026, 11, 7, 10, 0, 0)


def test_a_time_every_order_reads_as_one_date_is_read(tmp_path):
    """11/11/11 is 2011-11-11 in every order: no ambiguity. Before (default formats):
    null, its _error saying it read as three equal dates."""
    staged = _stage(
        tmp_path,
        "same.log",
        "11/11/11 11:11:11 INFO Main: one\n11/11/11 11:11:12 INFO Main: two\n",
        pattern=r"^(?P<time>\S+ \S+) (?P<level>[A-Z]+) (?P<message>.*)$",
    )
    rows = staged_rows(staged)
    assert [(r["_event_time"], r["_error"]) for r in rows] == [
        (_at(2011, 11, 11, 11, 11, 11), None),
        (_at(2011, 11, 11, 11, 11, 12), None),
    ]


def test_the_last_time_of_one_read_and_the_first_of_the_next_are_consecutive():
    """A file read in chunks: the midnight between two chunks decides the order too, and
    the next file starts afresh."""
    from ingest.logs.eventtime import DATE_ORDERS, EventTimeParser

    p = EventTimeParser(now=_at(2026, 12, 7))
    try:
        p.start_file()
        times, notes = p.parse_noted(pa.array(["07/11/26 23:59:59"]), formats=[DATE_ORDERS[0]])
        assert (
            times.to_pylist() == [None]
            and notes
            and notes[0].startswith(
                "event time '07/11/26 23:59:59' reads as '%y/%m/%d %H:%M:%S' 2007-11-26,"
            )
        )
        times, notes = p.parse_noted(pa.array(["08/11/26 00:00:01"]), formats=[DATE_ORDERS[0]])
        assert (times.to_pylist(), notes) == ([_at(2026, 11, 8, 0, 0, 1)], None)
        p.start_file()
        times, _ = p.parse_noted(pa.array(["08/11/26 00:00:01"]), formats=[DATE_ORDERS[0]])
        assert times.to_pylist() == [None]
    finally:
        p.close()


def test_a_grown_european_log_is_read_on_as_auto_read_it_not_as_sparks_layout(lk, tmp_path):
    """Before: the first ingest read the European log day first (its midnight), the second
    read the lines appended to it with Spark's preset as named, yy/MM/dd: 08/11/26 became
    2008-11-26, with no error. A grown file's lines are read as ``--format auto`` read the
    first (here of one day: no time, and why); ``--preset spark`` given names yy/MM/dd."""
    from tests.ingest.logs.landed import landed_rows

    path = tmp_path / "eu.log"
    path.write_text(EUROPEAN)
    first = lk.ingest_logs("app.eu", str(path), latest=LATEST)
    assert (first.files[0].parser, first.files[0].records_with_time) == ("spark", 4)
    day = "08/11/26 10:00:00 INFO Executor: five\n08/11/26 10:00:01 INFO Executor: six\n"
    path.write_text(EUROPEAN + day)
    again = lk.ingest_logs("app.eu", str(path), latest=LATEST)
    assert (again.files[0].status, again.files[0].records_read) == ("appended", 2)
    assert (again.files[0].records_with_time, again.files[0].time_reasons) == (0, {"ambiguous": 2})
    rows = landed_rows(lk, "app.eu")
    assert [r["_event_time"] for r in rows[4:]] == [None, None]
    assert rows[4]["_error"].startswith("event time '08/11/26 10:00:00' reads as")
    path.write_text(EUROPEAN + day * 2)
    told = lk.ingest_logs("app.eu", str(path), latest=LATEST, preset="spark")
    assert told.files[0].records_with_time == 2
    assert landed_rows(lk, "app.eu")[6]["_event_time"] == _at(2008, 11, 26, 10, 0, 0)


@pytest.mark.xfail(
    strict=True,
    reason="the midnight that settles the order settles only the times read after it: "
    "staged chunks before it keep null, ambiguous times (a fix reads the file's times "
    "before staging its chunks, or restages them)",
)
def test_how_a_european_log_is_cut_into_chunks_does_not_change_its_times(tmp_path, monkeypatch):
    """A day of a European dd/MM/yy log whose midnight comes at its end: read whole, every
    time is read day first; read in 8 KiB chunks (as a log of many MiB is in its default
    chunks), the 105 lines of the chunks before the midnight got no time."""
    import ingest.logs.lines
    import ingest.sources

    lines = "".join(
        f"07/11/26 {h:02d}:{m:02d}:00 INFO Main: {'y' * 200}\n"
        for h in range(20, 24)
        for m in range(0, 60, 2)
    ) + "".join(f"08/11/26 00:{m:02d}:00 INFO Main: x\n" for m in range(5))
    whole = _stage(tmp_path, "eu.log", lines)
    assert whole.sources[0].records_with_time == 125
    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 8_192)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 8_192)
    chunked = stage_logs([str(tmp_path / "eu.log")], staging_dir=tmp_path / "c", latest=LATEST)
    assert chunked.sources[0].time_reasons == {}
    assert [r["_event_time"] for r in staged_rows(chunked)] == [
        r["_event_time"] for r in staged_rows(whole)
    ]


def test_a_midnight_whose_other_readings_are_a_february_apart_settles_the_order(tmp_path):
    """Before: a US log over the midnight of 2 to 3 January read as dd/MM/yy is 1 February
    to 1 March, and as yy/MM/dd 2001-02-26 to 2001-03-26: 27 days and some hours, under
    the 28 days that rule a reading out, so every time stayed null and ambiguous."""
    staged = _stage(
        tmp_path,
        "us-jan.log",
        "01/02/26 23:59:58 INFO SparkContext: Running Spark version 3.5.1\n"
        "01/03/26 00:00:01 INFO SparkContext: Submitted application: etl\n"
        "01/03/26 00:00:02 INFO SparkContext: Stopped\n",
    )
    assert [r["_event_time"] for r in staged_rows(staged)] == [
        _at(2026, 1, 2, 23, 59, 58),
        _at(2026, 1, 3, 0, 0, 1),
        _at(2026, 1, 3, 0, 0, 2),
    ]
