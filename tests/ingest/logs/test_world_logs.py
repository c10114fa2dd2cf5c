"""Logs shaped as other systems document them (PostgreSQL's jsonlog, Spring Boot's default
layout): times, values and reasons through the lake, on both backend pairs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.ingest.logs.landed import landed_rows

UTC = dt.UTC


def postgres_jsonlog(folder: Path) -> Path:
    """PostgreSQL 15+ ``log_destination = jsonlog``: ``timestamp`` is ``%m``, its zone the
    abbreviation of ``log_timezone`` (Europe/London in summer: BST)."""
    path = folder / "postgresql.json"
    records = [
        ("2024-07-21 10:00:00.123 BST", "LOG", "checkpoint starting: time"),
        ("2024-07-21 10:00:05.001 BST", "ERROR", 'relation "t" does not exist'),
        ("2024-07-21 09:00:06.500 UTC", "LOG", "connection received"),
        ("2024-07-21 10:00:07 Europe/London", "LOG", "written by hand"),
    ]
    path.write_text(
        "".join(
            json.dumps({"timestamp": t, "pid": 4242, "error_severity": s, "message": m}) + "\n"
            for t, s, m in records
        )
    )
    return path


def test_a_postgres_jsonlog_in_bst_is_never_read_as_bangladesh_time(lk, cli, tmp_path):
    """Before: 10:00:00.123 BST landed as 04:00:00.123 UTC (ICU's BST is Asia/Dhaka, +06:00;
    British summer time is +01:00, 09:00 UTC), with no _error: a query for the 09:00 hour
    found only the UTC record."""
    report = lk.ingest_logs("pg.log", str(postgres_jsonlog(tmp_path)))
    assert report.time_field == "timestamp"
    assert report.event_times_json() == {
        "time_field": "timestamp",
        "with_time": 2,
        "without_time": 2,
        "reasons": {"unreadable": 2},
    }
    rows = landed_rows(lk, "pg.log")
    assert [r["_event_time"] for r in rows] == [
        None,
        None,
        dt.datetime(2024, 7, 21, 9, 0, 6, 500000, tzinfo=UTC),
        dt.datetime(2024, 7, 21, 9, 0, 7, tzinfo=UTC),
    ]
    assert rows[0]["_error"].startswith(
        "event time '2024-07-21 10:00:00.123 BST' gives its zone as 'BST', an abbreviation"
    )
    assert [r["timestamp"] for r in rows][:2] == [
        "2024-07-21 10:00:00.123 BST",
        "2024-07-21 10:00:05.001 BST",
    ]  # the value itself is kept as written
    hour = "SELECT count(*) AS n FROM pg.log WHERE _event_time < TIMESTAMP '2024-07-21 09:00'"
    assert cli("sql", hour, "--output", "json").json()["rows"] == [{"n": 0}]


def spring_boot_log(folder: Path) -> Path:
    """Spring Boot 2's default file layout (logback): ``%d{yyyy-MM-dd HH:mm:ss.SSS} %5p
    ${PID:- } --- [%t] %-40.40logger{39} : %m%n``; the PID is blank when it is unknown."""
    path = folder / "spring.log"
    path.write_text(
        "2023-11-14 10:15:30.123  INFO 12345 --- [           main] "
        "com.example.DemoApplication             : Started DemoApplication in 2.1 seconds\n"
        "2023-11-14 10:15:31.001  WARN   --- [nio-8080-exec-1] "
        "o.s.web.servlet.PageNotFound            : No mapping for GET /favicon.ico\n"
    )
    return path


def test_spring_boots_default_layout_is_no_log4j_record_with_its_pid_as_the_logger(lk, tmp_path):
    """Before: the log4j preset (which said it read Spring Boot) took the PID as the logger
    ('12345', or '---' without a PID) and '-- [ main] com.example...' as the message, with no
    _error, and --format auto chose it for such a file."""
    path = str(spring_boot_log(tmp_path))
    told = lk.ingest_logs("app.boot", path, preset="log4j")
    assert (told.records_read, told.records_failed) == (2, 2)
    rows = landed_rows(lk, "app.boot")
    assert [r["_error"] for r in rows] == ["did not match preset 'log4j'"] * 2
    assert [r["logger"] for r in rows] == [None, None]

    auto = lk.ingest_logs("app.boot_auto", path)
    assert auto.files[0].parser == "spring-boot"  # its own preset, not log4j
    rows = landed_rows(lk, "app.boot_auto")
    assert [r["_raw"] for r in rows] == Path(path).read_text().splitlines()
    assert [(r["pid"], r["thread"], r["logger"]) for r in rows] == [
        (12345, "main", "com.example.DemoApplication"),
        (None, "nio-8080-exec-1", "o.s.web.servlet.PageNotFound"),
    ]


def cloud_logging_structured(folder: Path) -> Path:
    """Google Cloud Logging's structured JSON: ``timestamp`` may be an object of ``seconds``
    and ``nanos`` (its documented special field), or RFC 3339 text; a record whose time field
    holds an object of another shape (MongoDB's extended JSON ``$date``) is no instant."""
    path = folder / "gcp.json"
    path.write_text(
        '{"timestamp":{"seconds":1705831200,"nanos":123456789},"severity":"INFO","message":"a"}\n'
        '{"timestamp":{"seconds":1705831260,"nanos":0},"severity":"ERROR","message":"b"}\n'
        '{"timestamp":"2024-01-21T10:02:00.5Z","severity":"INFO","message":"c"}\n'
        '{"timestamp":{"$date":{"$numberLong":"1705831200000"}},"message":"mongoexport"}\n'
    )
    return path


def test_a_time_object_of_seconds_and_nanos_is_its_instant_and_any_other_says_so(lk, tmp_path):
    """Before: Cloud Logging's ``{"seconds":...,"nanos":...}`` got no event time (an object
    is no time), though it is one exactly; and before that every record counted as having no
    time field at all ('no_value', no _error)."""
    path = str(cloud_logging_structured(tmp_path))
    report = lk.ingest_logs("gcp.obj", path)
    assert report.event_times_json() == {
        "time_field": "timestamp",
        "with_time": 3,
        "without_time": 1,
        "reasons": {"unreadable": 1},
    }
    rows = landed_rows(lk, "gcp.obj")
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2024, 1, 21, 10, 0, 0, 123456, tzinfo=UTC),  # nanoseconds cut
        dt.datetime(2024, 1, 21, 10, 1, tzinfo=UTC),
        dt.datetime(2024, 1, 21, 10, 2, 0, 500000, tzinfo=UTC),
        None,
    ]
    assert rows[3]["_error"] == (
        'event time \'{"$date":{"$numberLong":"1705831200000"}}\' is an object, not a time: '
        "not used (give --time-field the path of the field inside it that holds the time, e.g. "
        "timestamp.seconds with --time-format epoch)"
    )
    assert [r["_error"] for r in rows[:3]] == [None] * 3
    assert json.loads(rows[0]["timestamp"]) == {"seconds": 1705831200, "nanos": 123456789}


def test_nanoseconds_written_as_a_string_stay_in_their_second_and_day(lk, tmp_path):
    """OpenTelemetry's JSON writes ``timeUnixNano`` as a string (proto3's int64). Before:
    read through a double, 23:59:59.999999999 became 00:00:00 of the next day (another
    ``_event_date`` partition), where the same digits as a JSON number gave 23:59:59.999999."""
    path = tmp_path / "otel.json"
    path.write_text(
        '{"timeUnixNano":"1705881599999999999","severityText":"INFO","body":"last of the day"}\n'
        '{"timeUnixNano":"1705831200123456789","severityText":"WARN","body":"morning"}\n'
    )
    lk.ingest_logs("otel.logs", str(path), time_field="timeUnixNano", time_format="epoch_ns")
    rows = landed_rows(lk, "otel.logs")
    assert [(r["_event_time"], r["_event_date"]) for r in rows] == [
        (dt.datetime(2024, 1, 21, 23, 59, 59, 999999, tzinfo=UTC), dt.date(2024, 1, 21)),
        (dt.datetime(2024, 1, 21, 10, 0, 0, 123456, tzinfo=UTC), dt.date(2024, 1, 21)),
    ]
    assert rows[0]["timeUnixNano"] == "1705881599999999999"


def collected_json(folder: Path) -> Path:
    """What a node's collector writes when it passes on several apps' JSON lines: zap's
    ``ts`` (float seconds), pino's ``time`` (milliseconds), bunyan's ``time`` (ISO), ECS's
    ``@timestamp``, and a record with no time at all."""
    path = folder / "node.json"
    path.write_text(
        '{"level":"info","ts":1705831200.5,"caller":"main.go:12","msg":"zap"}\n'
        '{"level":30,"time":1705831201123,"pid":7,"msg":"pino"}\n'
        '{"name":"api","level":40,"time":"2024-01-21T10:00:02.250Z","msg":"bunyan","v":0}\n'
        '{"@timestamp":"2024-01-21T11:00:03+01:00","log.level":"warn","message":"ecs"}\n'
        '{"msg":"no time here"}\n'
    )
    return path


def test_records_of_several_loggers_in_one_file_each_keep_their_time(lk, tmp_path):
    """Before: the file's time field was the first record's ('ts'), and the records of the
    other loggers got no event time, counted as having no time field, nothing in _error."""
    report = lk.ingest_logs("node.logs", str(collected_json(tmp_path)))
    assert report.event_times_json() == {
        "time_field": "ts",
        "with_time": 4,
        "without_time": 1,
        "reasons": {"no_value": 1},
        # of with_time, those another field gave (the report said all were ts's)
        "from_other_fields": {"time": 2, "@timestamp": 1},
    }
    rows = landed_rows(lk, "node.logs")
    assert [r["_event_time"] for r in rows] == [
        dt.datetime(2024, 1, 21, 10, 0, 0, 500000, tzinfo=UTC),
        dt.datetime(2024, 1, 21, 10, 0, 1, 123000, tzinfo=UTC),
        dt.datetime(2024, 1, 21, 10, 0, 2, 250000, tzinfo=UTC),
        dt.datetime(2024, 1, 21, 10, 0, 3, tzinfo=UTC),
        None,
    ]
    assert [r["_error"] for r in rows] == [None] * 5
    days = "SELECT count(*) AS n FROM node.logs WHERE _event_date = DATE '2024-01-21'"
    assert lk.sql(days).rows() == [{"n": 4}]


def test_a_record_whose_time_field_is_empty_takes_another_as_one_without_it(lk, tmp_path):
    """An empty time is no value (counted so): such a record takes another time field as a
    record without the field does. Before: the empty 'time' kept the record from zap's 'ts'
    it has beside it, so it got no event time while the same line with "time":null got it."""
    path = tmp_path / "node.json"
    path.write_text(
        '{"time":"2024-01-21T10:00:02.250Z","msg":"bunyan"}\n'
        '{"time":"","ts":1705831200.5,"msg":"empty"}\n'
        '{"time":" ","@timestamp":"2024-01-21T11:00:03+01:00","msg":"blank"}\n'
        '{"time":null,"ts":1705831200.5,"msg":"null"}\n'
        '{"time":"","msg":"no time here"}\n'
    )
    report = lk.ingest_logs("node.logs", str(path))
    assert report.event_times_json() == {
        "time_field": "time",
        "with_time": 4,
        "without_time": 1,
        "reasons": {"no_value": 1},
        "from_other_fields": {"ts": 2, "@timestamp": 1},
    }
    rows = landed_rows(lk, "node.logs")
    assert [(r["msg"], r["_event_time"]) for r in rows] == [
        ("bunyan", dt.datetime(2024, 1, 21, 10, 0, 2, 250000, tzinfo=UTC)),
        ("empty", dt.datetime(2024, 1, 21, 10, 0, 0, 500000, tzinfo=UTC)),
        ("blank", dt.datetime(2024, 1, 21, 10, 0, 3, tzinfo=UTC)),
        ("null", dt.datetime(2024, 1, 21, 10, 0, 0, 500000, tzinfo=UTC)),
        ("no time here", None),
    ]
    assert [r["_error"] for r in rows] == [None] * 5


SPRING_3 = [
    # Spring Boot 3.2+: ISO time with offset, application name, correlation id (Micrometer)
    b"2024-11-14T10:15:30.123+01:00  INFO 4711 --- [shop] [           main] "
    b"c.e.shop.ShopApplication                 : Started ShopApplication in 3.2 seconds",
    b"2024-11-14T10:15:31.456+01:00 ERROR 4711 --- [shop] [nio-8080-exec-3] "
    b"[6e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d-1a2b3c4d5e6f7a8b] c.e.shop.OrderController "
    b"                : Order 17 failed",
    b"java.lang.IllegalStateException: no stock",  # its stack trace: one record
    b"\tat c.e.shop.OrderController.place(OrderController.java:42)",
    b"2024-11-14 10:15:32,000 INFO [main] org.apache.hadoop.Foo: a log4j line",  # no Spring
    b"2024-11-14T10:15:33.000+01:00  WARN 4711 --- [shop] [           main] "
    b"c.e.shop.Caf\xe9                          : Latin-1 byte in the logger",
    b"2024-11-14T10:15:34Z DEBUG 4711 --- [shop] [           main] c.e.shop.Big "
    b"                            : " + b"x" * 100_000,  # longer than a 32 KiB chunk
    b"2024-11-14T10:15:35.999+01:00  INFO 4711 --- [shop] [           main] "
    b"c.e.shop.ShopApplication                 : torn, no line ending",
]


def test_spring_boot_3_lines_with_odd_bytes_endings_and_chunks_keep_every_value(
    lk, tmp_path, monkeypatch
):
    """Before: no preset read Spring Boot's layout: auto kept these lines unparsed."""
    import ingest.logs.lines
    import ingest.sources

    monkeypatch.setattr(ingest.sources, "READ_BLOCK", 32_768)
    monkeypatch.setattr(ingest.logs.lines, "CHUNK_BYTES", 32_768)
    path = tmp_path / "shop.log"
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(SPRING_3))
    report = lk.ingest_logs("app.shop", str(path), preset="spring-boot")
    (outcome,) = report.files
    assert outcome.parser == "spring-boot"
    assert (outcome.records_read, outcome.records_failed) == (6, 2)
    rows = landed_rows(lk, "app.shop")
    at = dt.datetime
    assert [
        (r["_line"], r["time"], r["level"], r["application"], r["thread"], r["correlation"])
        for r in rows
    ] == [
        (1, at(2024, 11, 14, 9, 15, 30, 123000, tzinfo=UTC), "INFO", "shop", "main", None),
        (
            2,
            at(2024, 11, 14, 9, 15, 31, 456000, tzinfo=UTC),
            "ERROR",
            "shop",
            "nio-8080-exec-3",
            "6e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d-1a2b3c4d5e6f7a8b",
        ),
        (5, None, None, None, None, None),
        (6, at(2024, 11, 14, 9, 15, 33, tzinfo=UTC), "WARN", "shop", "main", None),
        (7, at(2024, 11, 14, 10, 15, 34, tzinfo=UTC), "DEBUG", "shop", "main", None),
        (8, at(2024, 11, 14, 9, 15, 35, 999000, tzinfo=UTC), "INFO", "shop", "main", None),
    ]
    assert [r["_event_time"] for r in rows] == [r["time"] for r in rows]
    assert rows[1]["message"] == (
        "Order 17 failed\njava.lang.IllegalStateException: no stock\n"
        "\tat c.e.shop.OrderController.place(OrderController.java:42)"
    )
    assert rows[1]["logger"] == "c.e.shop.OrderController"
    assert [r["_error"] for r in rows] == [
        None,
        None,
        "did not match preset 'spring-boot'",
        "invalid UTF-8 in line 6; the original bytes are in _raw_bytes",
        None,
        None,
    ]
    assert rows[2]["_raw"] == SPRING_3[4].decode()
    assert rows[3]["_raw_bytes"] == SPRING_3[5]
    assert rows[4]["message"] == "x" * 100_000
    assert rows[5]["message"] == "torn, no line ending"


def test_auto_tells_spring_boot_3_from_log4j_both_ways():
    """Each layout's lines are read by its own preset, never the other's."""
    from ingest.logs.textlogs import PRESETS, choose_preset

    spring = [line.decode("latin-1") for line in SPRING_3[:4]] * 3
    log4j = [PRESETS["log4j"].example] * 3
    assert choose_preset(spring, where="shop.log").preset.name == "spring-boot"
    assert choose_preset(log4j, where="yarn.log").preset.name == "log4j"
