"""Text log presets, user patterns and multi-line records."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from ingest.exceptions import LogFormatError
from ingest.logs.lines import blank_mask
from ingest.logs.textlogs import RecordAssembler, parse_text, text_format


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
