"""Logs as real systems write them (tests/data/real-logs): presets, event times, reasons.

Each bug of issue 13 §1-2 has a test here that failed before the fix (named in its doc)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from ingest.exceptions import LogFormatError
from ingest.logs.stage import stage_logs
from ingest.logs.textlogs import PRESETS
from tests.conftest import DATA
from tests.ingest.logs.landed import landed_rows, staged_rows

REAL = DATA / "real-logs"
UTC = dt.UTC


_WRITTEN = {"syslog-macos.log": dt.datetime(2005, 7, 1, 12, tzinfo=UTC)}
"""When a year-less corpus file was last written, just after its newest line (the year rule
refuses a file whose mtime is days after it: a copy's); others: 2005-07-11."""


def _copy(tmp_path: Path, name: str, *, modified: dt.datetime | None = None) -> str:
    """The corpus file in tmp_path, last modified at ``modified`` (the year rule reads it)."""
    target = tmp_path / name
    shutil.copyfile(REAL / name, target)
    if modified is not None:
        os.utime(target, (modified.timestamp(), modified.timestamp()))
    return str(target)


# (file, preset, records, first event time, event dates)
CORPUS = [
    (
        "hdfs.log",
        "hdfs",
        10,
        dt.datetime(2008, 11, 9, 20, 36, 15, tzinfo=UTC),
        {"2008-11-09": 7, "2008-11-10": 3},
    ),
    (
        "spark.log",
        "spark",
        8,
        dt.datetime(2017, 6, 9, 20, 10, 40, tzinfo=UTC),
        {"2017-06-09": 6, "2017-06-10": 2},
    ),
    (
        "kafka-server.log",
        "kafka",
        7,
        dt.datetime(2016, 12, 19, 16, 0, 1, 234000, tzinfo=UTC),
        {"2016-12-19": 5, "2016-12-20": 2},
    ),
    (
        "zookeeper.log",
        "zookeeper",
        6,
        dt.datetime(2015, 7, 29, 17, 41, 44, 747000, tzinfo=UTC),
        {"2015-07-29": 4, "2015-07-30": 2},
    ),
    (
        "syslog-linux.log",
        "syslog",
        11,
        dt.datetime(2005, 6, 14, 15, 16, 1, tzinfo=UTC),
        {
            "2005-06-14": 2,
            "2005-06-15": 3,
            "2005-07-01": 3,
            "2005-07-10": 1,
            "2004-10-11": 1,
            "2004-12-31": 1,
        },
    ),
    (
        "syslog-macos.log",
        "syslog",
        6,
        dt.datetime(2005, 7, 1, 9, 0, 55, tzinfo=UTC),
        {"2005-07-01": 6},
    ),
    (
        "syslog-rfc5424.log",
        "syslog-rfc5424",
        5,
        dt.datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC),
        {"2003-10-11": 3, "2003-08-24": 1, None: 1},
    ),
    (
        "apache-error.log",
        "apache-error",
        5,
        dt.datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC),
        {"2005-12-04": 3, "2019-06-27": 2},
    ),
    (
        "nginx-error.log",
        "nginx-error",
        4,
        dt.datetime(2016, 12, 19, 16, 0, 1, tzinfo=UTC),
        {"2016-12-19": 3, "2016-12-20": 1},
    ),
    (
        "python.log",
        "python",
        7,
        dt.datetime(2003, 7, 8, 16, 49, 45, 896000, tzinfo=UTC),
        {"2003-07-08": 5, None: 2},
    ),
]


@pytest.mark.parametrize(
    ("name", "preset", "records", "first", "dates"), CORPUS, ids=[c[0] for c in CORPUS]
)
@pytest.mark.parametrize("how", ["preset", "auto"])
def test_each_preset_reads_its_systems_layout_whole_records_and_exact_times(
    tmp_path, name, preset, records, first, dates, how
):
    """Before: Kafka's server.log became one record per file, ZooKeeper failed every line,
    `syslogd 1.4.1:` / `sandboxd[129] ([31211]):` failed the syslog preset, and there were no
    presets for Spark, HDFS, RFC 5424, error logs or Python logging."""
    path = _copy(tmp_path, name, modified=_WRITTEN.get(name, dt.datetime(2005, 7, 11, tzinfo=UTC)))
    kw = {"preset": preset} if how == "preset" else {}
    staged = stage_logs([path], staging_dir=tmp_path / "stage", **kw)
    report = staged.sources[0]
    assert report.parser == preset
    assert (report.records_read, report.records_failed) == (records, 0)
    rows = staged_rows(staged)
    assert rows[0]["_event_time"] == first
    found = Counter(r["_event_date"].isoformat() if r["_event_date"] else None for r in rows)
    assert found == dates
    assert report.records_with_time == sum(n for d, n in dates.items() if d is not None)
    # Every record keeps its exact text; a multi-line record is its lines joined.
    text = (REAL / name).read_text().splitlines()
    assert "\n".join(r["_raw"] for r in rows) == "\n".join(text)


def test_kafka_records_keep_their_logger_and_stack_trace(tmp_path):
    staged = stage_logs([str(REAL / "kafka-server.log")], staging_dir=tmp_path, preset="kafka")
    rows = staged_rows(staged)
    assert [r["logger"] for r in rows[:2]] == [
        "kafka.server.KafkaConfig",
        "kafka.server.KafkaServer",
    ]
    warn = rows[4]
    assert warn["level"] == "WARN" and warn["logger"] == "kafka.server.ReplicaFetcherThread"
    assert warn["trace"].startswith("java.io.IOException: Connection to 1 was disconnected")


def test_zookeeper_threads_with_colons_and_brackets_split_at_the_class(tmp_path):
    staged = stage_logs([str(REAL / "zookeeper.log")], staging_dir=tmp_path, preset="zookeeper")
    first = staged_rows(staged)[0]
    assert (first["thread"], first["class"], first["source_line"]) == (
        "QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181",
        "FastLeaderElection",
        774,
    )


@pytest.mark.parametrize(
    ("name", "field", "times"),
    [
        (
            "go-zap.jsonl",
            "ts",
            [
                dt.datetime(2023, 11, 14, 22, 13, 20, 123457, tzinfo=UTC),
                dt.datetime(2023, 11, 14, 22, 13, 21, 500000, tzinfo=UTC),
                dt.datetime(2023, 11, 14, 22, 13, 22, tzinfo=UTC),
            ],
        ),
        (
            "go-slog.jsonl",
            "time",
            [
                dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC),
                dt.datetime(2023, 11, 14, 22, 13, 21, 500000, tzinfo=UTC),
                dt.datetime(2023, 11, 14, 22, 13, 22, tzinfo=UTC),
            ],
        ),
        (
            "java-logstash.jsonl",
            "@timestamp",
            [
                dt.datetime(2024, 1, 21, 9, 0, 0, 123000, tzinfo=UTC),
                dt.datetime(2024, 1, 21, 9, 0, 5, 1000, tzinfo=UTC),
            ],
        ),
    ],
)
def test_json_loggers_times_are_read_without_options(tmp_path, name, field, times):
    staged = stage_logs([str(REAL / name)], staging_dir=tmp_path)
    assert staged.time_field == field
    assert [r["_event_time"] for r in staged_rows(staged)] == times


# ---------------------------------------------------------------------------------------
# Through the lake, on both backend pairs


def test_hdfs_date_and_time_groups_of_a_user_pattern_give_2008_not_1970(lk, tmp_path):
    """Before: the 6-digit `time` group was read as a Unix epoch: 1970-01-03, no error."""
    pattern = (
        r"^(?P<date>\d{6}) (?P<time>\d{6}) (?P<pid>\d+) (?P<level>[A-Z]+) "
        r"(?P<component>[^:]+): (?P<content>.*)$"
    )
    path = _copy(tmp_path, "hdfs.log")
    # yyMMdd is HDFS's layout; by the default formats alone 081109 is also ddMMyy, MMddyy,
    # and the file's lines over midnight (081109 235959, then 081110 000001) rule those out.
    guessed = lk.ingest_logs("hdfs.guessed", path, pattern=pattern)
    assert guessed.event_times_json()["reasons"] == {}
    assert landed_rows(lk, "hdfs.guessed")[0]["_event_time"] == dt.datetime(
        2008, 11, 9, 20, 36, 15, tzinfo=UTC
    )
    report = lk.ingest_logs("hdfs.raw", path, pattern=pattern, time_format="%y%m%d %H%M%S")
    assert report.time_field == "date+time"
    assert report.event_times_json() == {
        "time_field": "date+time",
        "with_time": 10,
        "without_time": 0,
        "reasons": {},
    }
    rows = landed_rows(lk, "hdfs.raw")
    assert rows[0]["_event_time"] == dt.datetime(2008, 11, 9, 20, 36, 15, tzinfo=UTC)
    assert Counter(r["_event_date"] for r in rows) == {
        dt.date(2008, 11, 9): 7,
        dt.date(2008, 11, 10): 3,
    }
    found = lk.sql("SELECT count(*) AS n FROM hdfs.raw WHERE _event_time >= TIMESTAMP '2008-11-01'")
    assert found.rows() == [{"n": 10}]


def test_a_time_group_named_Time_or_given_as_two_fields_gives_event_times(lk, tmp_path):
    """Before: a group `Time` (capitalised), or --time-field naming two fields, gave no
    _event_time at all."""
    spark = _copy(tmp_path, "spark.log")
    pattern = r"^(?P<Time>\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) (?P<level>[A-Z]+) (?P<rest>(?s:.*))$"
    lk.ingest_logs(
        "spark.capital",
        spark,
        pattern=pattern,
        multiline_start=r"^\d{2}/",
        time_format="%y/%m/%d %H:%M:%S",  # Spark's layout: 17/06/09 is also 17 June 2009
    )
    rows = landed_rows(lk, "spark.capital")
    assert rows[0]["_event_time"] == dt.datetime(2017, 6, 9, 20, 10, 40, tzinfo=UTC)  # not 0017
    assert {r["_event_date"] for r in rows} == {dt.date(2017, 6, 9), dt.date(2017, 6, 10)}

    split = tmp_path / "split.jsonl"
    split.write_text(
        json.dumps({"d": "2024-01-21", "t": "10:00:00", "msg": "a"})
        + "\n"
        + json.dumps({"d": "2024-01-22", "t": "23:59:59.5", "msg": "b"})
        + "\n"
    )
    report = lk.ingest_logs("app.split", str(split), time_field=["d", "t"])
    assert report.time_field == "d+t"
    assert [r["_event_time"] for r in landed_rows(lk, "app.split")] == [
        dt.datetime(2024, 1, 21, 10, tzinfo=UTC),
        dt.datetime(2024, 1, 22, 23, 59, 59, 500000, tzinfo=UTC),
    ]


def test_time_field_on_a_table_created_without_event_time_is_refused(lk, tmp_path):
    """Before: --time-field on such a table was silently ignored."""
    first = tmp_path / "a.jsonl"
    first.write_text('{"when": "2024-01-21T10:00:00Z", "n": 1}\n')
    lk.ingest_logs("app.flat", str(first))
    second = tmp_path / "b.jsonl"
    second.write_text('{"when": "2024-01-22T10:00:00Z", "n": 2}\n')
    with pytest.raises(LogFormatError, match="has no _event_time column .* --time-field 'when'"):
        lk.ingest_logs("app.flat", str(second), time_field="when")
    assert lk.describe("app.flat").version.version == 0
    assert [r["n"] for r in landed_rows(lk, "app.flat")] == [1]


def test_out_of_range_times_land_with_their_reasons_counted(cli, tmp_path):
    """Before: one of these values raised OverflowError and nothing landed."""
    path = _copy(tmp_path, "odd-times.jsonl")
    result = cli("ingest", "logs", "app.odd", path, "--output", "json")
    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert (report["records_read"], report["records_failed"]) == (8, 0)
    assert report["event_times"] == {
        "time_field": "ts",
        "with_time": 1,
        "without_time": 7,
        "reasons": {
            "before_earliest": 3,
            "after_latest": 1,
            "number_not_epoch": 1,
            "unreadable": 1,
            "no_value": 1,
        },
    }
    rows = cli("sql", "SELECT n, _event_date, _error FROM app.odd ORDER BY n", "--output", "json")
    found = {r["n"]: r for r in rows.json()["rows"]}
    assert found[1]["_event_date"] == "2024-01-21" and found[1]["_error"] is None
    assert found[2]["_error"].startswith("event time '9999-12-31T23:59:59-05:00' is more than")
    assert found[4]["_error"].startswith("event time '-62135596801' is before 1970-01-02")
    assert found[7]["_error"] is None  # no time field at all: counted, not an error
    human = cli("ingest", "logs", "app.odd2", path)
    assert "Event time from ts: 1 records have one, 7 do not (before_earliest 3" in human.stdout


def test_syslog_years_come_from_year_or_from_the_files_last_write(lk, tmp_path):
    """Before: the year was the ingest's (2005 data landed in 2026), with no way to say."""
    path = _copy(tmp_path, "syslog-linux.log", modified=dt.datetime(2006, 1, 2, tzinfo=UTC))
    lk.ingest_logs("sys.bymtime", path, preset="syslog")
    rows = landed_rows(lk, "sys.bymtime")
    assert rows[0]["_event_time"] == dt.datetime(2005, 6, 14, 15, 16, 1, tzinfo=UTC)
    assert rows[-1]["_event_time"] == dt.datetime(2005, 12, 31, 23, 59, 59, tzinfo=UTC)
    lk.ingest_logs("sys.given", path, preset="syslog", year=2004)
    assert {r["_event_time"].year for r in landed_rows(lk, "sys.given")} == {2004}


def test_auto_refuses_a_text_file_no_preset_parses_and_names_the_best_three(lk, tmp_path):
    mixed = tmp_path / "mixed.log"
    # Free text first: a multi-line preset would take it as continuation lines otherwise.
    lines = ["free text"] * 5 + (REAL / "spark.log").read_text().splitlines()[:3]
    mixed.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        LogFormatError,
        match=r"No log preset parses .*mixed.log.* \(best on its first 8 lines: spark 75%, "
        r"apache-combined 0%, nginx-combined 0%\); give --preset or --pattern, or --format text",
    ):
        lk.ingest_logs("app.mixed", str(mixed))
    assert [t.current_version for t in lk.tables()] == [None]  # nothing committed
    assert [r.status for r in lk.runs()] == ["failed"]
    lk.ingest_logs("app.mixed", str(mixed), format="text")  # lines kept, unparsed
    assert len(landed_rows(lk, "app.mixed")) == 8


def test_lake_presets_lists_every_preset_with_its_regex_and_an_example(cli):
    listed = cli("presets", "--output", "json").json()
    assert [p["name"] for p in listed] == list(PRESETS)
    for p in listed:
        assert p["pattern"] and p["example"] and p["time_formats"]
    human = cli("presets")
    assert "zookeeper" in human.stdout and "FastLeaderElection@774" in human.stdout


def test_lake_presets_shows_an_invisible_character_of_a_regex_by_its_code_point(cli):
    """RFC 5424's regex holds the BOM as itself (neither engine shares an escape for it): the
    listing for people names it, where a terminal would show nothing; JSON keeps it exact."""
    assert "\ufeff" in PRESETS["syslog-rfc5424"].pattern
    exact = {p["name"]: p["pattern"] for p in cli("presets", "--output", "json").json()}
    assert exact["syslog-rfc5424"] == PRESETS["syslog-rfc5424"].pattern
    human = cli("presets").stdout
    assert "\ufeff" not in human
    block = human[human.index("syslog-rfc5424") :].split("\n")
    regex = next(line for line in block if line.strip().startswith("regex:"))
    assert "(?: <U+FEFF>?(?P<message>" in regex
    assert "<U+XXXX> stands for that one character" in human


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_presets_own_example_parses_with_an_event_time(tmp_path, name):
    path = tmp_path / "example.log"
    path.write_text(PRESETS[name].example + "\n")
    # The year of a year-less example is given: written now, the file's mtime is no evidence.
    staged = stage_logs(
        [str(path)], staging_dir=tmp_path / "s", preset=name, earliest="1990-01-01", year=2024
    )
    assert staged.records_failed == 0
    assert staged_rows(staged)[0]["_event_time"] is not None


# ---------------------------------------------------------------------------------------
# ISO 8601 strings in JSON are timestamps


def test_iso_time_strings_in_json_are_timestamps_a_query_can_compare(lk, tmp_path):
    """Before: they stayed text and `WHERE ts >= TIMESTAMP '...'` failed with "Cannot compare
    VARCHAR and TIMESTAMP"."""
    first = tmp_path / "a.jsonl"
    first.write_text(
        '{"ts":"2024-01-21T10:00:00.123Z","at":{"seen":"2024-01-20 23:00:00+01:00"},"n":1}\n'
        '{"ts":"2024-01-20T09:00:00Z","at":{"seen":"2024-01-20T08:00:00+01:00"},"n":2}\n'
        '{"ts":"2024-01-22T00:00:00.5+02:00","local":"2024-01-22 00:00:00","n":3}\n'
    )
    lk.ingest_logs("app.iso", str(first))
    rows = landed_rows(lk, "app.iso")
    assert rows[0]["ts"] == dt.datetime(2024, 1, 21, 10, 0, 0, 123000, tzinfo=UTC)
    assert rows[0]["at"]["seen"] == dt.datetime(2024, 1, 20, 22, tzinfo=UTC)
    assert rows[2]["local"] == "2024-01-22 00:00:00"  # no zone: no instant, kept as text
    assert rows[0]["_raw"].startswith('{"ts":"2024-01-21T10:00:00.123Z"')
    found = lk.sql("SELECT n FROM app.iso WHERE ts >= TIMESTAMP '2024-01-21' ORDER BY n")
    assert found.rows() == [{"n": 1}, {"n": 3}]

    # A later string that is no time: the column keeps every value as JSON text (the logs
    # policy's conflict, in the drift ledger), older rows rewritten in the same commit.
    later = tmp_path / "b.jsonl"
    later.write_text('{"ts":"not yet","n":4}\n')
    lk.ingest_logs("app.iso", str(later))
    by_n = {r["n"]: r for r in landed_rows(lk, "app.iso")}
    assert by_n[4]["ts"] == '"not yet"'
    assert by_n[1]["ts"] is not None and by_n[1]["ts"].startswith('"2024-01-21')
    assert all(r["ts"] is not None for r in by_n.values())
    changes = [c for c in lk.schema("app.iso", history=True)["history"] if c["column"] == "ts"]
    assert [c["change"] for c in changes][-1] == "conflict"


def test_auto_does_not_pick_a_preset_that_reads_a_file_as_one_record_of_its_first_line(
    tmp_path,
):
    """Before: one syslog line above a Spark log made syslog parse 1 of 1 records (100%,
    the Spark lines its continuation) against Spark's 8 of 9: the file landed as a single
    record with no error. Among presets that parse a clear majority, the one that parses the
    most records is chosen."""
    path = tmp_path / "service.log"
    spark = (REAL / "spark.log").read_text().splitlines()
    path.write_text("\n".join(["Jun 14 15:16:01 combo java[4]: starting", *spark]) + "\n")
    staged = stage_logs([str(path)], staging_dir=tmp_path / "s", earliest="1990-01-01")
    assert staged.sources[0].parser == "spark"
    alone = stage_logs([str(REAL / "spark.log")], staging_dir=tmp_path / "a", preset="spark")
    want = [r["message"] for r in staged_rows(alone)]
    rows = staged_rows(staged)
    assert [r["message"] for r in rows] == [None, *want]
    assert [r["_error"] is not None for r in rows] == [True] + [False] * len(want)


def test_auto_does_not_pick_a_preset_whose_records_start_inside_anothers(tmp_path):
    """A Java service passing on a Python child's logging: each log4j record is followed by
    two 'LEVEL:name:msg' lines. python parses 40 of 41 records (its start matches those
    lines, and the log4j lines became part of its messages), log4j 20 of 20; choosing by
    the count alone read the file as Python logging, every log4j record inside a message,
    with no error. log4j parses every record and at least half the most: it is taken."""
    path = tmp_path / "service.log"
    lines = []
    for i in range(20):
        lines += [
            f"2024-03-01 10:00:{i:02d},123 INFO  [main] com.acme.Job - step {i}",
            f"WARNING:root:child {i} is slow",
            f"INFO:root:child {i} done",
        ]
    path.write_text("\n".join(lines) + "\n")
    staged = stage_logs([str(path)], staging_dir=tmp_path / "s", earliest="1990-01-01")
    assert staged.sources[0].parser == "log4j"
    rows = staged_rows(staged)
    assert [r["_line"] for r in rows] == [1 + 3 * i for i in range(20)]
    assert all(r["_error"] is None for r in rows)
    assert rows[3]["message"].startswith("step 3")


def test_auto_keeps_plain_text_no_preset_parses_at_all_as_unparsed_lines(tmp_path):
    plain = tmp_path / "notes.txt"
    plain.write_text("first note\nsecond note\n")
    staged = stage_logs([str(plain)], staging_dir=tmp_path / "s")
    assert staged.sources[0].parser is None
    assert [r["_raw"] for r in staged_rows(staged)] == ["first note", "second note"]


def test_time_format_overrides_a_presets_own(tmp_path):
    # A cluster whose log4j layout writes dd/MM/yy: the user says so, the preset obeys.
    staged = stage_logs(
        [str(REAL / "spark.log")],
        staging_dir=tmp_path,
        preset="spark",
        time_format="%d/%m/%y %H:%M:%S",
    )
    first = staged_rows(staged)[0]
    assert first["time"] == first["_event_time"] == dt.datetime(2009, 6, 17, 20, 10, 40, tzinfo=UTC)
