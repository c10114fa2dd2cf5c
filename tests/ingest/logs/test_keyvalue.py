"""logfmt and W3C Extended (IIS) logs: keys become columns, typed from every record.

Samples follow the documented formats: brandur.org/logfmt and Go's go-logfmt decoder
(Heroku's router, logrus's text formatter, Prometheus's go-kit lines), the W3C working draft
WD-logfile and Microsoft's IIS log file docs."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from ingest.exceptions import LogFormatError
from ingest.logs.inference import BigNumber, parse_json_line
from ingest.logs.keyvalue import (
    NO_FIELDS,
    NOT_LOGFMT,
    W3cFields,
    logfmt_json_many,
    looks_like_logfmt,
    parse_logfmt,
)
from tests.ingest.logs.landed import landed_rows
from tests.ingest.logs.test_stage import rows, stage, write_lines

UTC = dt.UTC


# ---------------------------------------------------------------------------------------
# The grammar


def test_brandurs_example_line_reads_as_his_post_says():
    record, err = parse_logfmt('foo=bar a=14 baz="hello kitty" cool%story=bro f %^asdf')
    assert err is None
    assert record == {
        "foo": "bar",
        "a": 14,
        "baz": "hello kitty",
        "cool%story": "bro",
        "f": True,
        "%^asdf": True,
    }


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("42", 42),
        ("-0.5", -0.5),
        ("1e3", 1000.0),
        ("true", True),
        ("false", False),
        ("1.2ms", "1.2ms"),  # a Go duration is text
        ("007", "007"),  # no JSON number: a leading zero
        ("0x1f", "0x1f"),
        ("+5", "+5"),
        ("NaN", "NaN"),
        ("null", "null"),  # go-logfmt writes nil so, and a string 'null' the same way
        ("True", "True"),
    ],
)
def test_an_unquoted_value_is_a_number_or_boolean_only_as_json_writes_one(token, value):
    record, err = parse_logfmt(f"k={token} w={token}")
    assert err is None
    got = record["k"]
    assert got == value and type(got) is type(value)
    quoted, _ = parse_logfmt(f'k="{token}" w=1')
    assert quoted["k"] == token  # quoted: always a string


def test_a_number_beyond_the_double_range_is_kept_as_written():
    assert parse_logfmt("k=1e999 n=-0") == ({"k": BigNumber("1e999"), "n": 0}, None)


def test_quoted_values_take_json_escapes_and_may_hold_spaces_and_equals():
    record, err = parse_logfmt(r'msg="say \"hi\" \\ a=b" path="/a?b=c" n="42" e="" k= t')
    assert err is None
    assert record == {
        "msg": 'say "hi" \\ a=b',
        "path": "/a?b=c",
        "n": "42",  # quoted: a string
        "e": "",
        "k": "",  # key= is the empty string, as logrus writes one
        "t": True,  # a bare key is true
    }
    assert parse_logfmt('msg="tab\there" who="Jürgen" n=1') == (
        {"msg": "tab\there", "who": "Jürgen", "n": 1},
        None,
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('level=info msg="started', "invalid logfmt: unterminated quoted value at column 16"),
        ("a=1 =2", "invalid logfmt: unexpected '=' at column 5"),
        ("url=/a?b=c", "invalid logfmt: unexpected '=' in an unquoted value at column 9"),
        ('a=1 b"c=2', "invalid logfmt: unexpected '\"' at column 6"),
        (r'a="x\qy"', "invalid logfmt: invalid escape in a quoted value at column 3"),
        ('a="x"y', "invalid logfmt: unexpected 'y' after a quoted value at column 6"),
        ("goroutine 1 [running]:", NOT_LOGFMT),
        ("panic: runtime error: index out of range [5] with length 3", NOT_LOGFMT),
    ],
)
def test_a_line_the_go_decoder_stops_at_fails_with_where(line, reason):
    assert parse_logfmt(line) == (None, reason)


def test_a_key_given_twice_keeps_its_last_value_as_a_json_line_does():
    assert parse_json_line('{"a": 1, "b": 2, "a": 3}') == ({"a": 3, "b": 2}, None)
    assert parse_logfmt("a=1 b=2 a=3") == ({"b": 2, "a": 3}, None)


def test_lines_rewritten_in_arrow_read_as_the_line_by_line_reader_reads_them():
    lines = [
        'at=info method=GET path="/" host=myapp.herokuapp.com fwd="204.204.204.204" '
        "dyno=web.1 connect=1ms service=18ms status=200 bytes=13 protocol=https",
        'a=1 b="x y=2" c=-0.5e3 d=true e=TRUE f=007 g=1.2ms h=-0 i=1e999 k=""',
        'u=Jürgen n=1 p=/a/b?c q="=" r="a  b" s=[running]: t=%^',
        "a=1 a=2 b=3",  # a key twice: the JSON reader keeps the last
        # read line by line: a bare key, an empty value, an escape, two spaces, a tab
        "a=1 debug b=2",
        "a=1 b= c=2",
        r'msg="say \"hi\"" n=1',
        "a=1  b=2",
        "a=1\tb=2",
        "goroutine 1 [running]:",
        'level=info msg="started',
    ]
    fast = logfmt_json_many(pa.array(lines, pa.string()))
    assert [text is not None for text in fast] == [True] * 4 + [False] * 7
    for line, text in zip(lines, fast, strict=True):
        if text is not None:
            value, expected = parse_json_line(text)[0], parse_logfmt(line)[0]
            assert value == expected and list(value) == list(expected)


def test_auto_takes_logfmt_only_for_lines_that_open_with_key_value_pairs():
    heroku = (
        'at=info method=GET path="/" host=myapp.herokuapp.com fwd="204.204.204.204" '
        "dyno=web.1 connect=1ms service=18ms status=200 bytes=13 protocol=https"
    )
    assert looks_like_logfmt([heroku, "goroutine 1 [running]:", heroku])
    assert not looks_like_logfmt(["Dec  7 10:00:00 host sshd[42]: a=1 b=2"])
    assert not looks_like_logfmt(["2026-12-07T10:00:00Z stdout F a=1 b=2"])
    assert not looks_like_logfmt(["msg=hello"])  # one pair: too little to tell


# ---------------------------------------------------------------------------------------
# logfmt files through the engine

LOGRUS = [
    # logrus's TextFormatter (no TTY): time quoted (':' needs quotes), strings bare when
    # they can be
    'time="2026-12-07T10:00:00+01:00" level=info msg="A walrus appears" animal=walrus size=10',
    'time="2026-12-07T10:00:01+01:00" level=warning msg="The group\'s number increased" '
    "omg=true number=122 ratio=0.5 dur=1.2ms",
    "goroutine 1 [running]:",
    "main.main()",
    "\t/usr/local/go/src/runtime/panic.go:884 +0x213",
    'time="2026-12-07T10:00:02+01:00" level=error msg="unterminated',
    'ts=2026-12-07T09:00:03.123Z caller=main.go:42 level=info component="tsdb" '
    "msg=ready http.status=204 x-request-id= debug ratio=2",
    "level=info size=1 size=2",  # a key twice: its last value
]


def test_a_logfmt_file_lands_typed_with_event_times_and_keeps_odd_lines(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(LOGRUS).encode() + b"\r\n")
    staged = stage(tmp_path, [path])
    (report,) = staged.sources
    assert (report.format, report.line_ending, report.records_read, report.records_failed) == (
        "logfmt",
        "crlf",
        8,
        4,
    )
    types = {f.name: f.type for f in staged.schema}
    assert types["time"] == pa.timestamp("us", tz="UTC")
    assert types["size"] == types["number"] == pa.int64()
    assert types["ratio"] == pa.float64()  # 0.5 and 2: int + float
    assert types["omg"] == types["debug"] == pa.bool_()
    assert types["dur"] == types["msg"] == types["x-request-id"] == pa.string()
    assert types["http.status"] == pa.int64()  # keys keep their dots and dashes
    got = rows(staged).to_pylist()
    assert [r["_error"] for r in got] == [
        None,
        None,
        NOT_LOGFMT,
        NOT_LOGFMT,
        NOT_LOGFMT,
        "invalid logfmt: unterminated quoted value at column 50",
        None,
        None,
    ]
    assert got[2]["_raw"] == "goroutine 1 [running]:"  # kept, never dropped
    assert got[0]["_raw"] == LOGRUS[0]  # no BOM, no \r
    assert [r["_event_time"] for r in got] == [
        dt.datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        dt.datetime(2026, 12, 7, 9, 0, 1, tzinfo=UTC),
        None,
        None,
        None,
        None,
        dt.datetime(2026, 12, 7, 9, 0, 3, 123000, tzinfo=UTC),  # a go-kit line's ts
        None,
    ]
    last = got[6]
    assert (last["msg"], last["x-request-id"], last["debug"], last["ratio"]) == (
        "ready",
        "",
        True,
        2.0,
    )
    assert (got[1]["number"], got[1]["dur"], got[1]["omg"]) == (122, "1.2ms", True)
    assert got[7]["size"] == 2


def test_a_column_a_later_file_turns_to_json_keeps_each_value_as_written(tmp_path):
    """The first file's rows are staged before the second makes ``n`` and ``time`` JSON:
    their values come again from their lines, not from the typed columns (``5.0``,
    ``+00:00``)."""
    first = write_lines(tmp_path / "a.log", ["time=2026-12-07T10:00:00Z n=5 m=1", "n=1.5 m=2"])
    second = write_lines(tmp_path / "b.log", ["time=yesterday n=abc m=3"])
    staged = stage(tmp_path, [first, second], fmt="logfmt")
    got = rows(staged).to_pylist()
    assert [r["n"] for r in got] == ["5", "1.5", '"abc"']
    assert [r["time"] for r in got] == ['"2026-12-07T10:00:00Z"', None, '"yesterday"']
    assert [r["m"] for r in got] == [1, 2, 3]


def test_latin_1_logfmt_is_read_as_text_logs_are(tmp_path):
    path = tmp_path / "latin.log"
    path.write_bytes('user="Jürgen Müller" action=login n=1\n'.encode("latin-1"))
    wrong = rows(stage(tmp_path, [path], fmt="logfmt")).to_pylist()[0]
    assert wrong["_error"] == "invalid UTF-8 at byte 8; the original bytes are in _raw_bytes"
    assert wrong["_raw_bytes"] == path.read_bytes().rstrip(b"\n")
    right = rows(stage(tmp_path, [path], fmt="logfmt", encoding="latin-1")).to_pylist()[0]
    assert (right["user"], right["n"], right["_error"]) == ("Jürgen Müller", 1, None)


# ---------------------------------------------------------------------------------------
# W3C Extended

IIS = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2026-12-07 10:00:00",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
    "2026-12-07 10:00:01 10.0.0.5 GET /default.htm - 80 - 192.168.1.20 "
    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) - 200 0 0 15",
    "2026-12-07 10:00:02 10.0.0.5 POST /api/login id=7 443 bob 192.168.1.21 "
    "Googlebot/2.1;++http://www.google.com/bot.html https://example.com/ 401 1 0 3",
    "2026-12-07 10:00:03 10.0.0.5 GET /x",
    "",
    # IIS restarted: a new header block, other fields
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2026-12-07 11:00:00",
    "#Fields: date time cs-method cs-uri-stem sc-status sc-bytes",
    "2026-12-07 11:00:05 GET /health 200 512",
    # a date without zero padding, as samples of IIS 5's time show: no layout the lake reads
    "2026-12-7 11:00:06 GET /health 503 -",
]


def test_an_iis_log_follows_the_fields_in_force_and_counts_its_directives(tmp_path):
    path = write_lines(tmp_path / "u_ex261207.log", IIS, end=b"\r\n")
    staged = stage(tmp_path, [path])
    (report,) = staged.sources
    assert (report.format, report.directives, report.lines_consumed) == ("w3c", 8, 14)
    assert (report.records_read, report.records_failed) == (5, 1)
    types = {f.name: f.type for f in staged.schema}
    assert types["sc-status"] == types["time-taken"] == types["sc-bytes"] == pa.int64()
    assert types["date"] == types["time"] == types["cs-uri-query"] == pa.string()
    got = rows(staged).to_pylist()
    assert [r["_line"] for r in got] == [5, 6, 7, 13, 14]
    first, second, short, health, padded = got
    assert (first["cs-uri-query"], first["cs-username"], first["cs(Referer)"]) == (None,) * 3
    # '+' stands for a space IIS replaced and for a '+' the client sent alike: as written
    assert first["cs(User-Agent)"] == "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)"
    assert second["cs(User-Agent)"] == "Googlebot/2.1;++http://www.google.com/bot.html"
    assert (second["sc-status"], second["cs-uri-query"], second["s-port"]) == (401, "id=7", 443)
    assert short["_error"] == "5 values for the 15 fields of the #Fields directive in force"
    assert short["_raw"] == "2026-12-07 10:00:03 10.0.0.5 GET /x"
    assert (health["sc-bytes"], health["s-ip"], health["cs-uri-stem"]) == (512, None, "/health")
    assert [r["_event_time"] for r in got] == [
        dt.datetime(2026, 12, 7, 10, 0, 1, tzinfo=UTC),
        dt.datetime(2026, 12, 7, 10, 0, 2, tzinfo=UTC),
        None,
        dt.datetime(2026, 12, 7, 11, 0, 5, tzinfo=UTC),
        None,
    ]
    assert padded["_error"] == (
        "event time '2026-12-7 11:00:06' matches no time format: give --time-format"
    )
    assert (padded["sc-status"], padded["sc-bytes"]) == (503, None)  # parsed all the same


def test_w3c_values_may_be_quoted_strings_and_tab_separated():
    fields = W3cFields()
    assert fields.parse("2026-12-07 10:00:00 GET") == (None, NO_FIELDS)
    assert fields.directive("#Fields: date\ttime\tx-edge-location\tcs(User-Agent)")
    assert not fields.directive("2026-12-07\t10:00:00\tIAD89-C1\t-")
    assert fields.parse('2026-12-07\t10:00:00\t"a ""b"" c"\tcurl/8.5.0') == (
        {
            "date": "2026-12-07",
            "time": "10:00:00",
            "x-edge-location": 'a "b" c',
            "cs(User-Agent)": "curl/8.5.0",
        },
        None,
    )
    assert fields.directives == 1


# ---------------------------------------------------------------------------------------
# Through the lake: a grown file


def test_grown_logfmt_and_iis_files_keep_their_format_and_rows(lk, cli, tmp_path):
    app = write_lines(tmp_path / "app.log", ["level=info n=1 msg=a", "level=info n=2 msg=b"])
    iis = write_lines(tmp_path / "u_ex.log", IIS[:6])
    first = cli("ingest", "logs", "web.app", str(app), "--format", "logfmt", "--output", "json")
    assert [(f["format"], f["records_read"]) for f in first.json()["files"]] == [("logfmt", 2)]
    first = cli("ingest", "logs", "web.iis", str(iis), "--output", "json").json()
    assert [(f["format"], f["directives"], f["records_read"]) for f in first["files"]] == [
        ("w3c", 4, 2)
    ]
    assert first["event_times"]["time_field"] == "date+time"
    with app.open("a") as f:
        f.write("goroutine 1 [running]:\nlevel=warn n=3 msg=c\n")
    with iis.open("a") as f:
        f.write("\n".join(IIS[8:13]) + "\n")
    app_report = lk.ingest_logs("web.app", str(app))
    iis_report = lk.ingest_logs("web.iis", str(iis))
    # The new lines of the logfmt file are read as logfmt, though a trace line comes first.
    assert app_report.records_read == 2
    got = landed_rows(lk, "web.app")
    assert [(r["_line"], r["n"], r["_error"]) for r in got] == [
        (1, 1, None),
        (2, 2, None),
        (3, None, NOT_LOGFMT),
        (4, 3, None),
    ]
    # A grown W3C file is read again whole (its new lines' #Fields may be anywhere above).
    assert iis_report.records_read == 3
    got = landed_rows(lk, "web.iis")
    assert [(r["_line"], r["sc-status"], r["sc-bytes"]) for r in got] == [
        (5, 200, None),
        (6, 401, None),
        (11, 200, 512),
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "logfmt", "w3c"])
@pytest.mark.parametrize(
    "option", [{"preset": "syslog"}, {"pattern": r"(?P<msg>.*)"}, {"multiline_start": "^ "}]
)
def test_a_text_layout_given_with_a_format_that_reads_none_is_refused_before_reading(
    tmp_path, fmt, option
):
    # Before: --format jsonl --preset syslog read JSON lines and dropped the preset unsaid.
    path = write_lines(tmp_path / "a.log", ['{"a": 1}'])
    given = "--" + next(iter(option)).replace("_", "-")
    with pytest.raises(LogFormatError) as refused:
        stage(tmp_path, [path], fmt=fmt, **option)
    assert str(refused.value) == (
        f"{given} describes text lines, but --format {fmt} reads no text layout: leave out "
        f"{given}, or use --format text (or auto) to read the files with it."
    )
    assert not list(tmp_path.glob("staging*/*"))
