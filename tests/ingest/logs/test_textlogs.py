"""Text log presets, user patterns and multi-line records."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.exceptions import LogFormatError
from ingest.logs.eventtime import EventTimeParser, TimeRules
from ingest.logs.lines import blank_mask
from ingest.logs.textlogs import PARALLEL_RECORDS, RecordAssembler, parse_text, text_format


def parse(lines: list[str], **kw):
    fmt = text_format(
        pattern=kw.get("pattern"),
        preset=kw.get("preset"),
        multiline_start=kw.get("multiline_start"),
    )
    table, errors = parse_text(pa.array(lines, pa.string()), fmt, year=kw.get("year"))
    return table.to_pylist(), errors


def test_nginx_combined_types_status_bytes_and_time():
    rows, errors = parse(
        [
            '10.0.0.1 - alice [10/Oct/2023:13:55:36 +0200] "POST /api?q=1 HTTP/2.0" 201 - '
            '"https://ref/" "curl/8.0 \\"quoted\\""',
        ],
        preset="nginx-combined",
    )
    assert errors is None
    assert rows[0] == {
        "client_ip": "10.0.0.1",
        "remote_user": "alice",
        "time": datetime(2023, 10, 10, 11, 55, 36, tzinfo=UTC),
        "request": "POST /api?q=1 HTTP/2.0",
        "method": "POST",
        "path": "/api?q=1",
        "protocol": "HTTP/2.0",
        "status": 201,
        "bytes": None,
        "referrer": "https://ref/",
        "agent": 'curl/8.0 \\"quoted\\"',
    }


def test_syslog_rfc3164_reads_priority_pid_and_a_time_without_year():
    rows, errors = parse(
        [
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
            "Feb  5 01:02:03 host sshd[123]: Accepted publickey",
            "not syslog at all",
        ],
        preset="syslog",
        year=2024,
    )
    assert errors == [None, None, "did not match preset 'syslog'"]
    assert rows[0]["priority"] == 34 and rows[0]["pid"] is None and rows[0]["program"] == "su"
    assert rows[1]["time"].replace(tzinfo=None) == datetime(2024, 2, 5, 1, 2, 3)
    assert rows[1]["pid"] == 123
    assert rows[2] == dict.fromkeys(rows[2])


def test_log4j_stack_traces_join_their_record_across_chunks():
    fmt = text_format(pattern=None, preset="log4j", multiline_start=None)
    lines = pa.array(
        [
            "2023-11-14 22:13:20,323 ERROR [main] com.x.Foo - boom",
            "java.lang.RuntimeException: x",
            "\tat com.x.Foo.run(Foo.java:1)",
            "2023-11-14 22:13:21,000 [worker-1] INFO com.x.Bar - ok",
        ]
    )
    asm = RecordAssembler(fmt.multiline_start)
    first = asm.feed(lines.slice(0, 2), [1, 2], blank_mask(lines.slice(0, 2)))
    second = asm.feed(lines.slice(2), [3, 4], blank_mask(lines.slice(2)))
    last = asm.flush()
    assert first[0].to_pylist() == []  # the record may go on in the next chunk
    assert second[1] == [1] and last[1] == [4]
    assert second[0].to_pylist() == [
        "2023-11-14 22:13:20,323 ERROR [main] com.x.Foo - boom\n"
        "java.lang.RuntimeException: x\n\tat com.x.Foo.run(Foo.java:1)"
    ]
    table, errors = parse_text(pa.concat_arrays([second[0], last[0]]), fmt)
    rows = table.to_pylist()
    assert errors is None
    assert rows[0]["time"] == datetime(2023, 11, 14, 22, 13, 20, 323000, tzinfo=UTC)
    assert rows[0]["message"].endswith("Foo.java:1)")
    assert [r["thread"] for r in rows] == ["main", "worker-1"]


def test_lines_before_the_first_start_form_their_own_record():
    asm = RecordAssembler(r"^START")
    lines = pa.array(["orphan", "more", "START a", "cont"])
    texts, firsts, _ = asm.feed(lines, [1, 2, 3, 4], blank_mask(lines))
    rest, rest_firsts, _ = asm.flush()
    assert texts.to_pylist() + rest.to_pylist() == ["orphan\nmore", "START a\ncont"]
    assert firsts + rest_firsts == [1, 3]


def test_user_patterns_give_string_columns_and_python_only_regex_still_works():
    rows, errors = parse(["id=7 ok", "nothing"], pattern=r"id=(?P<id>\d+) (?P<word>\w+)")
    assert rows == [{"id": "7", "word": "ok"}, {"id": None, "word": None}]
    assert errors == [None, "did not match the pattern"]
    rows, _ = parse(["a!", "b"], pattern=r"(?P<w>\w)(?=!)")  # look-ahead: RE2 refuses it
    assert rows == [{"w": "a"}, {"w": None}]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"preset": "iis"}, "Unknown log preset 'iis'"),
        ({"pattern": "(unclosed"}, "not a valid regex"),
        ({"pattern": r"\d+"}, "no named group"),
        ({"pattern": "(?P<a>x)", "preset": "syslog"}, "either --pattern or --preset"),
        ({"multiline_start": "[bad"}, "--multiline-start"),
    ],
)
def test_bad_format_options_raise_log_format_error(kw, message):
    with pytest.raises(LogFormatError, match=message):
        text_format(
            pattern=kw.get("pattern"),
            preset=kw.get("preset"),
            multiline_start=kw.get("multiline_start"),
        )


_ODD = st.sampled_from([" ", '"', "\\", "[", "]", "-", "\t", "\n", "é", "a", "7", "/", ":", "+"])
_WORD = st.text(alphabet=st.one_of(_ODD, st.sampled_from("abcXYZ019.")), max_size=6)


@st.composite
def _access_lines(draw):
    """Access-log lines as servers write them, with any field replaced by odd text now and
    then (delimiters inside fields, missing parts, trailing text, escapes)."""
    pick = {
        "ip": st.sampled_from(["10.0.0.1", "::1", "-"]),
        "ident": st.sampled_from(["-", "bob"]),
        "user": st.sampled_from(["-", "frank", "a]b"]),
        "time": st.sampled_from(["10/Oct/2000:13:55:36 -0700", "01/Jan/2026:00:00:00 +0000"]),
        "method": st.sampled_from(["GET", "POST", "get", ""]),
        "path": st.sampled_from(["/", "/a?b=c", "", "/x y"]),
        "protocol": st.sampled_from(["HTTP/1.1", "", "HTTP/1.1 extra"]),
        "status": st.sampled_from(["200", "-", "20"]),
        "bytes": st.sampled_from(["2326", "-", "0"]),
        "ref": st.sampled_from(["-", "http://r/", 'a \\" b', "", "x\\"]),
        "agent": st.sampled_from(["Mozilla/5.0 (X11; Linux)", "-", "c\\\\"]),
    }
    f = {
        k: draw(st.one_of(v, _WORD) if draw(st.integers(0, 5)) == 0 else v) for k, v in pick.items()
    }
    request = " ".join(x for x in (f["method"], f["path"], f["protocol"]) if x)
    if draw(st.booleans()):
        request = f["method"] + " " + f["path"] + " " + f["protocol"]
    if draw(st.integers(0, 9)) == 0:
        request = "-"
    line = (
        f'{f["ip"]} {f["ident"]} {f["user"]} [{f["time"]}] "{request}" {f["status"]} {f["bytes"]}'
    )
    tail = draw(st.integers(0, 9))
    if tail:
        line += f' "{f["ref"]}" "{f["agent"]}"'
    if tail == 1:
        line += draw(_WORD)
    if tail == 2:
        line = draw(_WORD) + line
    return line


_STRICT_LINE = '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "-"'


@pytest.fixture(scope="module")
def times_2024():
    """The time parser ``parse_text(year=2024)`` makes for itself, made once: an ingest
    passes its one parser to every chunk, and a new one (its own DuckDB database) for each
    of the property's 360 calls was two thirds of its time."""
    parser = EventTimeParser(TimeRules(year=2024))
    yield parser
    parser.close()


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_access_lines(), min_size=1, max_size=12))
@pytest.mark.parametrize("preset", ["apache-combined", "nginx-combined"])
def test_access_presets_split_fields_exactly_as_their_regex_reads_them(preset, times_2024, lines):
    fmt = text_format(pattern=None, preset=preset, multiline_start=None)
    # The same regex, written differently: parsed by RE2 alone, never split.
    by_regex = dataclasses.replace(fmt, pattern=fmt.pattern + "(?:)")
    nginx = [s.replace(" - - [", " - frank [", 1) for s in lines]
    for batch in (lines, nginx, lines + [_STRICT_LINE] * (len(lines) + 1)):
        records = pa.array(batch, pa.string())
        got_texts: dict = {}
        want_texts: dict = {}
        got = parse_text(records, fmt, times=times_2024, texts=got_texts)
        want = parse_text(records, by_regex, times=times_2024, texts=want_texts)
        assert got[0].to_pylist() == want[0].to_pylist()
        assert got[1] == want[1]
        assert {k: v.to_pylist() for k, v in got_texts.items()} == {
            k: v.to_pylist() for k, v in want_texts.items()
        }


_GOOD = {
    "apache-combined": '10.0.0.{0} - - [10/Oct/2000:13:55:{1:02d} -0700] "GET /{2} HTTP/1.1" 200 '
    '{2} "-" "-"',
    # log4j: the thread before or after the level (one column filled from the other group).
    "log4j": "2015-10-18 18:01:{1:02d},978 INFO [main] org.x.App: record {2}",
}
_ODD_LINE = {
    "apache-combined": 'h - - [x] "-" 408 -',  # the regex reads it, the split does not
    "log4j": "2015-10-18 18:01:47,978 WARN [pool-{0}] org.x.App - record",
}


@pytest.mark.parametrize("preset", sorted(_GOOD))
def test_many_records_are_parsed_in_slices_as_they_would_be_one_by_one(preset):
    n = 2 * PARALLEL_RECORDS + 7
    # Records that do not match, and odd ones, around where the slices meet.
    odd = {0, PARALLEL_RECORDS - 1, PARALLEL_RECORDS, PARALLEL_RECORDS + 4, n - 1}
    lines = [
        ("not a log line" if i % 2 else _ODD_LINE[preset].format(i % 256))
        if i in odd
        else _GOOD[preset].format(i % 256, i % 60, i)
        for i in range(n)
    ]
    fmt = text_format(pattern=None, preset=preset, multiline_start=None)
    texts: dict = {}
    table, errors = parse_text(pa.array(lines), fmt, year=2024, texts=texts)
    step = PARALLEL_RECORDS // 2  # below the threshold: each piece on one thread
    rows, errs, piece_texts = [], [], {g: [] for g in fmt.group_names}
    for start in range(0, n, step):
        found: dict = {}
        t, e = parse_text(pa.array(lines[start : start + step]), fmt, year=2024, texts=found)
        rows += t.to_pylist()
        errs += e or [None] * t.num_rows
        for g in fmt.group_names:
            piece_texts[g] += found[g].to_pylist()
    assert table.to_pylist() == rows
    assert errors == errs
    assert {g: c.to_pylist() for g, c in texts.items()} == piece_texts
    assert sum(e is not None for e in errors) == sum(i % 2 for i in odd) > 0


@pytest.mark.parametrize("preset", ["apache-combined", "nginx-combined"])
def test_a_quote_escaped_in_the_request_is_read_as_apache_and_nginx_write_it(preset):
    # mod_log_config and NGINX write `"` inside %r as \" (a probe of /a"b, an injection try):
    # the line did not match and lost every field to _error.
    lines = [
        '203.0.113.9 - - [05/Dec/2026:10:00:00 +0100] "GET /a\\"b HTTP/1.1" 404 5 "-" "curl/8"',
        '203.0.113.9 - - [05/Dec/2026:10:00:01 +0100] "\\"GET / HTTP/1.1\\"" 400 0 "-" "-"',
    ]
    fmt = text_format(pattern=None, preset=preset, multiline_start=None)
    table, errors = parse_text(pa.array(lines), fmt, year=2024)
    assert errors is None
    rows = table.to_pylist()
    assert (rows[0]["method"], rows[0]["path"], rows[0]["protocol"]) == (
        "GET",
        '/a\\"b',
        "HTTP/1.1",
    )
    assert [r["status"] for r in rows] == [404, 400]
    assert rows[0]["time"] == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
