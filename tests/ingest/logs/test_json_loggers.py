"""JSON logs of the world's loggers, written as their documentation shows them (systemd's
journal, Serilog's CLEF, log4j2's JsonLayout, python-json-logger, CloudWatch Logs exports):
each record's event time to the microsecond, with ``--format auto`` and with the options a
user would give, and the epoch rule's units."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.logs.eventtime import EventTimeParser, time_rules
from ingest.logs.stage import stage_logs
from tests.ingest.logs.landed import landed_rows, staged_rows

UTC = dt.UTC


def _at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def journald_json(folder: Path) -> Path:
    """``journalctl -o json``: every value a string, numbers too (``__REALTIME_TIMESTAMP``,
    when the journal received the entry, and ``_SOURCE_REALTIME_TIMESTAMP``, when the sender
    wrote it, in microseconds since the epoch); a message that is not UTF-8 an array of its
    bytes."""
    path = folder / "journal.json"
    records = [
        {
            "__CURSOR": "s=739ad463348b4ceca5a9e69c95a3c93f;i=4ece7;b=6c7c6013a8674bb4;m=4a1a;t=1",
            "__REALTIME_TIMESTAMP": "1705831200123456",
            "__MONOTONIC_TIMESTAMP": "18970123",
            "_BOOT_ID": "6c7c6013a8674bb4ad5b4a5b3fe5b0e6",
            "PRIORITY": "6",
            "_TRANSPORT": "stdout",
            "SYSLOG_IDENTIFIER": "nginx",
            "_PID": "1234",
            "MESSAGE": "Started nginx",
        },
        {
            "__CURSOR": "s=739ad463348b4ceca5a9e69c95a3c93f;i=4ece8;b=6c7c6013a8674bb4;m=4a1b;t=2",
            "__REALTIME_TIMESTAMP": "1705831201000001",
            "__MONOTONIC_TIMESTAMP": "18970124",
            "_BOOT_ID": "6c7c6013a8674bb4ad5b4a5b3fe5b0e6",
            "PRIORITY": "3",
            "_TRANSPORT": "syslog",
            "SYSLOG_IDENTIFIER": "app",
            "_PID": "99",
            "_SOURCE_REALTIME_TIMESTAMP": "1705831200999000",
            "MESSAGE": list("Hi \xfcber".encode("latin-1")),
        },
        {
            "__CURSOR": "s=739ad463348b4ceca5a9e69c95a3c93f;i=4ece9;b=6c7c6013a8674bb4;m=4a1c;t=3",
            "__REALTIME_TIMESTAMP": "1705881599999999",  # the day's last microsecond
            "__MONOTONIC_TIMESTAMP": "68970124",
            "_BOOT_ID": "6c7c6013a8674bb4ad5b4a5b3fe5b0e6",
            "PRIORITY": "4",
            "_TRANSPORT": "journal",
            "SYSLOG_IDENTIFIER": "cron",
            "MESSAGE": "last of the day",
        },
    ]
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))
    return path


def test_journald_json_gets_its_realtime_microseconds_as_the_event_time(lk, tmp_path):
    """Before: no event time at all (none of the known time fields, and a string of digits
    is never guessed to be an epoch); with --time-field __REALTIME_TIMESTAMP every record
    said 'is a number, not read as an epoch'."""
    path = str(journald_json(tmp_path))
    report = lk.ingest_logs("sys.journal", path)
    assert report.event_times_json() == {
        "time_field": "__REALTIME_TIMESTAMP",
        "with_time": 3,
        "without_time": 0,
        "reasons": {},
    }
    rows = landed_rows(lk, "sys.journal")
    assert [(r["_event_time"], r["_event_date"]) for r in rows] == [
        (_at(2024, 1, 21, 10, 0, 0, 123456), dt.date(2024, 1, 21)),
        (_at(2024, 1, 21, 10, 0, 1, 1), dt.date(2024, 1, 21)),
        (_at(2024, 1, 21, 23, 59, 59, 999999), dt.date(2024, 1, 21)),
    ]
    assert [r["_error"] for r in rows] == [None] * 3
    # The journal's own strings stay strings; a message as bytes is kept as the JSON the
    # journal wrote (the column holds each value's JSON text).
    assert [r["PRIORITY"] for r in rows] == ["6", "3", "4"]
    assert json.loads(rows[1]["MESSAGE"]) == list("Hi \xfcber".encode("latin-1"))
    assert json.loads(rows[0]["MESSAGE"]) == "Started nginx"


def test_journald_json_with_the_senders_time_field_reads_its_unit_too(tmp_path):
    """The sender's time (journalctl shows it where there is one) by the option, as
    microseconds without --time-format; the entries without it have no value there."""
    path = str(journald_json(tmp_path))
    staged = stage_logs(
        [path], staging_dir=tmp_path / "s", fmt="jsonl", time_field="_SOURCE_REALTIME_TIMESTAMP"
    )
    assert [r["_event_time"] for r in staged_rows(staged)] == [
        None,
        _at(2024, 1, 21, 10, 0, 0, 999000),
        None,
    ]
    assert staged.sources[0].time_reasons == {"no_value": 2}


CLEF = [
    # Serilog's compact format: @t ISO 8601 with seven fraction digits (.NET's ticks).
    '{"@t":"2024-01-21T10:00:00.1234567Z","@mt":"Hello, {User}","User":"nblumhardt"}',
    '{"@t":"2024-01-21T11:00:01.5000000+01:00","@mt":"Disk {Pct} full","@l":"Error",'
    '"@x":"System.IO.IOException: full\\r\\n   at X.Y()","Pct":99.5,"@r":["99.5"]}',
    '{"@t":"2024-01-21T10:00:02.0000000Z","@m":"plain","@i":"a1e77001","@l":"Warning"}',
]
PYTHON_JSON = [
    # python-json-logger with '%(asctime)s %(levelname)s %(name)s %(message)s': logging's
    # asctime, a comma before the milliseconds.
    '{"asctime": "2024-01-21 10:00:00,123", "levelname": "INFO", "name": "app", '
    '"message": "hello"}',
    '{"asctime": "2024-01-21 10:00:01,500", "levelname": "ERROR", "name": "app", '
    '"message": "boom", "exc_info": "Traceback (most recent call last):\\n  ..."}',
    '{"asctime": "2024-01-21 10:00:02,000", "levelname": "INFO", "name": "app", '
    '"message": "bye", "taskName": null}',
]
CLOUDWATCH = [
    # `aws logs filter-log-events` / a subscription's logEvents, one event a line:
    # timestamp in milliseconds, the message as logged (JSON text stays text).
    '{"timestamp":1705831200123,"message":"{\\"level\\":\\"info\\",\\"msg\\":\\"hi\\"}",'
    '"ingestionTime":1705831200500,"logStreamName":"2024/01/21/[$LATEST]abc","eventId":"1"}',
    '{"timestamp":1705831201500,"message":"START RequestId: 8f5 Version: $LATEST",'
    '"ingestionTime":1705831201600,"logStreamName":"2024/01/21/[$LATEST]abc","eventId":"2"}',
    '{"timestamp":1705831202000,"message":"END RequestId: 8f5","ingestionTime":1705831202100,'
    '"logStreamName":"2024/01/21/[$LATEST]abc","eventId":"3"}',
]
SECONDS = [_at(2024, 1, 21, 10, 0, 0), _at(2024, 1, 21, 10, 0, 1), _at(2024, 1, 21, 10, 0, 2)]


@pytest.mark.parametrize(
    ("lines", "field", "fractions", "column", "values"),
    [
        (CLEF, "@t", [123456, 500000, 0], "Pct", [None, 99.5, None]),
        (PYTHON_JSON, "asctime", [123000, 500000, 0], "levelname", ["INFO", "ERROR", "INFO"]),
        (
            CLOUDWATCH,
            "timestamp",
            [123000, 500000, 0],
            "ingestionTime",
            [1705831200500, 1705831201600, 1705831202100],
        ),
    ],
    ids=["serilog-clef", "python-json-logger", "cloudwatch-events"],
)
@pytest.mark.parametrize("given", [False, True], ids=["auto", "time-field"])
def test_json_loggers_records_get_their_documented_time_to_the_microsecond(
    tmp_path, lines, field, fractions, column, values, given
):
    """Before: CLEF's @t and python-json-logger's asctime were no time field: no event time,
    and nothing said why."""
    path = tmp_path / "app.json"
    path.write_text("\n".join(lines) + "\n")
    options = {"fmt": "jsonl", "time_field": field} if given else {}
    staged = stage_logs([str(path)], staging_dir=tmp_path / "s", **options)
    assert staged.time_field == field
    rows = staged_rows(staged)
    assert [r["_event_time"] for r in rows] == [
        t.replace(microsecond=f) for t, f in zip(SECONDS, fractions, strict=True)
    ]
    assert [r["_error"] for r in rows] == [None] * 3
    assert [r[column] for r in rows] == values


LOG4J2 = [
    # log4j2's JsonLayout (compact, eventEol): 2.11+ writes `instant`, seconds and the
    # nanoseconds into them; older versions (or includeTimeMillis) `timeMillis`.
    '{"instant":{"epochSecond":1705831200,"nanoOfSecond":123456789},"thread":"main",'
    '"level":"INFO","loggerName":"com.example.App","message":"Started","endOfBatch":false,'
    '"loggerFqcn":"org.apache.logging.log4j.spi.AbstractLogger","threadId":1,"threadPriority":5}',
    '{"instant":{"epochSecond":1705831201,"nanoOfSecond":500000000},"thread":"main",'
    '"level":"ERROR","loggerName":"com.example.App","message":"Boom","thrown":{'
    '"commonElementCount":0,"localizedMessage":"boom","message":"boom",'
    '"name":"java.lang.RuntimeException","extendedStackTrace":[{"class":"com.example.App",'
    '"method":"main","file":"App.java","line":10,"exact":true,"location":"classes/",'
    '"version":"?"}]},"endOfBatch":false,"loggerFqcn":"x","threadId":1,"threadPriority":5}',
    '{"timeMillis":1705831202000,"thread":"main","level":"WARN","loggerName":"com.example.Old",'
    '"message":"from before the upgrade","endOfBatch":false,"loggerFqcn":"x","threadId":1,'
    '"threadPriority":5}',
]


def test_log4j2_json_layout_reads_its_instant_object_and_its_time_millis(tmp_path):
    """Before: `instant` and `timeMillis` were no time field; given as --time-field, the
    instant said it was an object, not a time."""
    path = tmp_path / "log4j2.json"
    path.write_text("\n".join(LOG4J2) + "\n")
    staged = stage_logs([str(path)], staging_dir=tmp_path / "auto")
    assert staged.time_field == "instant"
    rows = staged_rows(staged)
    assert [r["_event_time"] for r in rows] == [
        _at(2024, 1, 21, 10, 0, 0, 123456),  # nanoseconds cut to the microsecond
        _at(2024, 1, 21, 10, 0, 1, 500000),
        _at(2024, 1, 21, 10, 0, 2),  # the older record's timeMillis
    ]
    assert [r["_error"] for r in rows] == [None] * 3
    assert rows[1]["thrown"]["name"] == "java.lang.RuntimeException"
    assert rows[1]["thrown"]["extendedStackTrace"][0]["line"] == 10
    assert rows[0]["instant"] == {"epochSecond": 1705831200, "nanoOfSecond": 123456789}

    given = stage_logs([str(path)], staging_dir=tmp_path / "given", time_field="instant")
    assert [r["_event_time"] for r in staged_rows(given)][:2] == [
        _at(2024, 1, 21, 10, 0, 0, 123456),
        _at(2024, 1, 21, 10, 0, 1, 500000),
    ]


def test_a_clef_event_with_a_property_named_time_keeps_its_at_t(tmp_path):
    """CLEF's ``@t`` is the event's time; its other keys are the message template's
    properties, named by the application (``{time}`` an elapsed time in ms, ``{timestamp}``
    a business date). Before: ``time`` came first among the time fields, so every event got
    no event time (34 ms reads as January 1970) and its ``@t`` was never read."""
    path = tmp_path / "app.clef"
    path.write_text(
        '{"@t":"2024-01-21T10:00:00.1234567Z","@mt":"Query took {time} ms","time":34}\n'
        '{"@t":"2024-01-21T10:00:01.0000000Z","@mt":"Invoice of {timestamp}",'
        '"timestamp":"2023-12-31"}\n'
    )
    staged = stage_logs([str(path)], staging_dir=tmp_path / "s")
    assert staged.time_field == "@t"
    rows = staged_rows(staged)
    assert [r["_event_time"] for r in rows] == [
        _at(2024, 1, 21, 10, 0, 0, 123456),
        _at(2024, 1, 21, 10, 0, 1),
    ]
    assert [(r["_error"], r["time"]) for r in rows] == [(None, 34), (None, None)]


def test_an_instant_field_that_is_no_object_leaves_the_event_time_to_the_time_field(tmp_path):
    """log4j2's ``instant`` is an object; the word alone is no time (an instant payment, a
    flag). Before: the first record's ``"instant": false`` made `instant` the file's time
    field, so no record got an event time, the later ones' ``time`` unread."""
    path = tmp_path / "payments.jsonl"
    path.write_text(
        '{"event":"quote","instant":false,"amount":12.5}\n'
        '{"event":"transfer","instant":true,"time":"2026-12-07T10:00:01Z","amount":12.5}\n'
        '{"event":"transfer","instant":"sepa-inst","time":"2026-12-07T10:00:02Z"}\n'
    )
    staged = stage_logs([str(path)], staging_dir=tmp_path / "s")
    assert staged.time_field == "time"
    rows = staged_rows(staged)
    assert [r["_event_time"] for r in rows] == [
        None,
        _at(2026, 12, 7, 10, 0, 1),
        _at(2026, 12, 7, 10, 0, 2),
    ]
    assert [r["_error"] for r in rows] == [None] * 3


# ---------------------------------------------------------------------------------------
# The units of an epoch


def test_one_instant_in_each_unit_reads_alike_and_no_number_lands_silently_in_1970_or_3554():
    """The magnitude rule (seconds below 1e11, milliseconds below 1e14, microseconds below
    1e17, else nanoseconds) reads one instant alike in every unit. A value it reads in too
    coarse a unit lands far in the future, null with the reason. Before: an uptime in
    seconds (a `time` of 200000, two days after boot) landed on 1970-01-03 with no
    _error, inside the default window."""
    found = EventTimeParser().event_times(
        pa.array(
            [
                1705831200,
                1705831200123,
                1705831200123456,
                1705831200123456789,
                50_000_000_000,  # milliseconds of August 1971: the digits of seconds
                200_000,  # an uptime in seconds: two days after boot
            ]
        )
    )
    assert found.times.to_pylist() == [
        _at(2024, 1, 21, 10),
        _at(2024, 1, 21, 10, 0, 0, 123000),
        _at(2024, 1, 21, 10, 0, 0, 123456),
        _at(2024, 1, 21, 10, 0, 0, 123456),
        None,  # the year 3554
        None,
    ]
    assert found.counts == {"after_latest": 1, "ambiguous": 1}
    assert found.errors is not None and found.errors[5] == (
        "event time '200000' is 1970-01-03T07:33:20Z as an epoch, before 1973-03-03: "
        "so small a number is more likely a count (an uptime, a duration) than a time: not "
        "used (give an --earliest before 1973-03-03 to read it as one)"
    )
    old = EventTimeParser(time_rules(earliest="1970-01-01")).event_times(pa.array([200000.5]))
    assert old.times.to_pylist() == [_at(1970, 1, 3, 7, 33, 20, 500000)]  # asked for


@pytest.mark.parametrize(
    ("unit", "value", "read", "digits"),
    [
        ("epoch_ms", 1705831200, "1970-01-20T17:50:31.200000Z", "2024-01-21T10:00:00Z"),
        ("epoch_us", 1705831200123, "1970-01-20T17:50:31.200123Z", "2024-01-21T10:00:00.123000Z"),
        (
            "epoch_ns",
            "1705831200123456",
            "1970-01-20T17:50:31.200123Z",
            "2024-01-21T10:00:00.123456Z",
        ),
    ],
)
def test_an_epoch_in_a_finer_unit_than_its_digits_is_not_read_into_january_1970(
    unit, value, read, digits
):
    """Before: ``--time-format epoch_ms`` on a log of seconds (or epoch_us on milliseconds,
    epoch_ns on microseconds) put every record in January 1970, inside the default window,
    with no _error: a silently wrong answer. The value is now null, and says why."""
    parser = EventTimeParser(time_rules(time_format=unit))
    found = parser.event_times(pa.array([value]))
    assert found.times.to_pylist() == [None]
    assert found.counts == {"ambiguous": 1}
    assert found.errors == [
        f"event time '{value}' is {read} read as {unit}, but its digits are those of a coarser "
        f"unit ({digits}): not used (give the unit they have, e.g. --time-format epoch, or an "
        "--earliest before 1973-03-03 to read them as given)"
    ]
    # The same unit on values that have its digits reads them exactly.
    right = {"epoch_ms": 1705831200123, "epoch_us": 1705831200123456}.get(unit)
    if right is not None:
        assert parser.event_times(pa.array([right])).times[0].as_py() == _at(
            2024, 1, 21, 10, 0, 0, 123000 if unit == "epoch_ms" else 123456
        )
    # A window that holds 1970 reads the value as given.
    early = EventTimeParser(time_rules(time_format=unit, earliest="1970-01-01"))
    assert early.event_times(pa.array([value])).times[0].as_py().isoformat() == read.replace(
        "Z", "+00:00"
    )


def test_an_instant_object_outside_the_window_says_why_by_the_window_not_as_no_time():
    """Seconds and nanoseconds far out of range (year 0, or beyond any timestamp) are an
    instant the window refuses: never a raise, and the reason is the window's."""
    found = EventTimeParser().event_times(
        pa.array(
            [
                '{"seconds":-62135596801,"nanos":0}',
                '{"seconds":99999999999999999999,"nanos":0}',
                '{"seconds":1705831200,"nanos":-1}',
                '"2024-01-21T10:00:00Z"',
            ]
        ),
        json_encoded=True,
    )
    assert found.times.to_pylist() == [None, None, None, _at(2024, 1, 21, 10)]
    assert found.counts == {"before_earliest": 1, "after_latest": 1, "unreadable": 1}
    assert found.errors is not None
    assert "is before 1970-01-02: not used" in found.errors[0]
    assert "more than a day after the ingest" in found.errors[1]
    assert "is an object, not a time" in found.errors[2]  # nanoseconds no second holds


def test_an_instant_struct_outside_the_window_shows_its_json_text():
    """The text an instant column's _error shows is built by Arrow (a json.dumps of every
    record took 100 times the reading of an ISO text): the same as the record's JSON."""
    instant = pa.struct([("seconds", pa.int64()), ("nanos", pa.int64())])
    found = EventTimeParser().event_times(
        pa.array(
            [{"seconds": 1, "nanos": None}, None, {"seconds": 1705831200, "nanos": 5000}],
            instant,
        )
    )
    assert found.times.to_pylist() == [None, None, _at(2024, 1, 21, 10, 0, 0, 5)]
    assert found.counts == {"before_earliest": 1, "no_value": 1}
    assert found.errors is not None
    assert found.errors[0].startswith("""event time '{"seconds":1,"nanos":null}' is before""")


def test_a_duration_given_as_the_time_field_is_called_a_count_not_a_time_to_widen_for():
    """Seconds under a day (a request's 0.35 s, a 42 s job) read as an epoch fall before
    the default --earliest. Before: their _error said to widen the window with
    --earliest, which would land them in January 1970; like the larger counts below
    1973-03-03 they are ambiguous, with why."""
    found = EventTimeParser().event_times(pa.array([0.35, 42, 0, 200_000]))
    assert found.times.to_pylist() == [None] * 4
    assert found.counts == {"ambiguous": 4}
    assert found.errors is not None
    assert all("more likely a count" in e for e in found.errors), found.errors
    negative = EventTimeParser().event_times(pa.array([-5]))
    assert negative.counts == {"before_earliest": 1}


@pytest.mark.parametrize(
    "seconds, read",
    [("1705831200.0", _at(2024, 1, 21, 10, 0, 0, 5)), ("1705831200.5", None)],
)
def test_an_instant_object_is_read_alike_as_a_struct_column_and_as_json_text(seconds, read):
    """One rule for whole seconds written with a fraction: the struct column's cast and the
    JSON text's reading (a file mixing objects and text) give the same instant, and a
    fraction of a second in the seconds is no instant in either."""
    record = f'{{"seconds":{seconds},"nanos":5000}}'
    as_text = EventTimeParser().event_times(
        pa.array([record, '"2024-01-21T10:00:00Z"']), json_encoded=True
    )
    struct = pa.struct([("seconds", pa.float64()), ("nanos", pa.int64())])
    as_struct = EventTimeParser().event_times(pa.array([json.loads(record)], struct))
    assert as_text.times[0].as_py() == read
    assert as_struct.times[0].as_py() == read


PYTHON_JSON_EXTRA = [
    # python-json-logger, '%(asctime)s %(levelname)s %(name)s %(message)s', and the
    # application's own `extra={"time": ...}` (an elapsed time): its keys after the format's.
    '{"asctime": "2024-01-21 10:00:00,123", "levelname": "INFO", "name": "app", '
    '"message": "query done", "time": 0.25}',
    '{"asctime": "2024-01-21 10:00:01,500", "levelname": "INFO", "name": "app", '
    '"message": "request served", "time": "12ms"}',
    '{"asctime": "2024-01-21 10:00:02,000", "levelname": "WARNING", "name": "app", '
    '"message": "no extra"}',
    '{"asctime": "2024-01-21 10:00:03,000", "levelname": "INFO", "name": "app", '
    '"message": "a real time", "time": "2024-01-21T10:00:03.250Z"}',
    '{"asctime": "", "levelname": "INFO", "name": "app", "message": "odd", "time": "soon"}',
    '{"asctime": "yesterday", "levelname": "INFO", "name": "app", "message": "odder", '
    '"time": "later"}',
]


def test_a_time_property_that_is_no_time_leaves_the_record_its_asctime(lk, tmp_path):
    """Before: `time` (first in the record, and before asctime among the time fields) was
    the file's time field; 0.25 and '12ms' read as no time, and those records got none,
    their asctime unread. Now the next time field of the record gives it, its _error says
    which and why `time` did not, and the report counts those records apart."""
    path = tmp_path / "app.json"
    path.write_text("\n".join(PYTHON_JSON_EXTRA) + "\n")
    report = lk.ingest_logs("app.extra", str(path))
    assert report.event_times_json() == {
        "time_field": "time",
        "with_time": 4,
        "without_time": 2,
        "reasons": {"unreadable": 2},
        "from_other_fields": {"asctime": 3},
    }
    assert (report.files[0].records_with_time, report.files[0].time_from) == (4, {"asctime": 3})
    rows = landed_rows(lk, "app.extra")
    assert [r["_event_time"] for r in rows] == [
        _at(2024, 1, 21, 10, 0, 0, 123000),
        _at(2024, 1, 21, 10, 0, 1, 500000),
        _at(2024, 1, 21, 10, 0, 2),
        _at(2024, 1, 21, 10, 0, 3, 250000),
        None,
        None,
    ]
    assert [r["_error"] for r in rows] == [
        "event time from asctime, as time's was not used: event time '0.25' is "
        "1970-01-01T00:00:00.250000Z as an epoch, before 1973-03-03: so small a number is "
        "more likely a count (an uptime, a duration) than a time: not used (give an "
        "--earliest before 1973-03-03 to read it as one)",
        "event time from asctime, as time's was not used: event time '12ms' matches no time "
        "format: give --time-format",
        None,
        None,
        "event time 'soon' matches no time format: give --time-format",
        "event time 'later' matches no time format: give --time-format; asctime gave none "
        "either: event time 'yesterday' matches no time format: give --time-format",
    ]
    # Told which field holds the time, the lake reads that one only.
    told = lk.ingest_logs("app.told", str(path), time_field="time")
    assert told.event_times_json()["with_time"] == 1


def test_a_record_another_field_gives_its_time_names_the_field_whose_value_was_not_used(
    tmp_path,
):
    """Before: a record without `time` (the file's time field), whose `timestamp` was no
    time and whose asctime gave it, said "as time's was not used: event time 'nope'...",
    'nope' being the timestamp's."""
    path = tmp_path / "mixed.json"
    records = [
        {"time": "2024-01-21T10:00:00Z", "msg": "a"},
        {"timestamp": "nope", "asctime": "2024-01-21 10:00:01,000", "msg": "b"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    staged = stage_logs([str(path)], staging_dir=tmp_path / "s")
    assert staged.sources[0].time_from == {"asctime": 1}
    rows = staged_rows(staged)
    assert [r["_event_time"] for r in rows] == [
        _at(2024, 1, 21, 10, 0, 0),
        _at(2024, 1, 21, 10, 0, 1),
    ]
    assert rows[1]["_error"] == (
        "event time from asctime, as timestamp's was not used: event time 'nope' matches no "
        "time format: give --time-format"
    )
