"""Event times (ingest.logs.eventtime): formats, epochs, years, the plausible window, zones."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from ingest.exceptions import LogFormatError
from ingest.logs.eventtime import EventTimeParser, time_rules


def test_a_log_time_without_offset_is_utc_on_a_host_in_another_zone():
    # These formats go through DuckDB (Arrow reads neither); ICU reads the host's zone once
    # per process, so the parser runs in a process that starts in Tokyo.
    code = (
        "import pyarrow as pa; from ingest.logs.eventtime import EventTimeParser; "
        "p = EventTimeParser(); "
        "print([t.isoformat() for t in p.parse(pa.array("
        "['2023-11-14 22:13:20,323', '17/May/2015:10:05:03', '17/May/2015:10:05:03 +0200']"
        ")).to_pylist()]); p.close()"
    )
    found = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TZ": "Asia/Tokyo"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == str(
        [
            "2023-11-14T22:13:20.323000+00:00",
            "2015-05-17T10:05:03+00:00",
            "2015-05-17T08:05:03+00:00",
        ]
    )


# ---------------------------------------------------------------------------------------
# The rules of ingest.logs.eventtime, one value at a time

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _times(values, rules=None, **kw):
    p = EventTimeParser(rules, now=NOW)
    try:
        return p.event_times(pa.array(values), **kw)
    finally:
        p.close()


def test_a_text_default_layouts_read_as_different_dates_is_not_used_and_says_so():
    """Before: '03/12/26' (3 December 2026 in a European log) was read as yy/MM/dd,
    2003-12-26, and '081109' always as yyMMdd, with no error."""
    found = _times(["081109 203615", "03/12/26 10:00:00", "2017/06/09 20:10:40"])
    assert found.times.to_pylist() == [
        None,
        None,
        datetime(2017, 6, 9, 20, 10, 40, tzinfo=UTC),  # a four-digit year first: one reading
    ]
    assert found.counts == {"ambiguous": 2}
    assert found.errors[1] == (
        "event time '03/12/26 10:00:00' reads as '%y/%m/%d %H:%M:%S' 2003-12-26, "
        "'%d/%m/%y %H:%M:%S' 2026-12-03, '%m/%d/%y %H:%M:%S' 2026-03-12, and no time of the "
        "file read so far rules out all but one: not used (a time read later that does "
        "settles only the times after it: give the layout with --time-format)"
    )
    assert found.errors[0].startswith(
        "event time '081109 203615' reads as '%y%m%d %H%M%S' 2008-11-09, '%d%m%y %H%M%S' "
        "2009-11-08, '%m%d%y %H%M%S' 2009-08-11, and"
    )
    # The presets that document their layout (Spark's yy/MM/dd, HDFS's yyMMdd) read it.
    told = _times(["17/06/09 20:10:40"], time_rules(time_format="%y/%m/%d %H:%M:%S"))
    assert told.times.to_pylist() == [datetime(2017, 6, 9, 20, 10, 40, tzinfo=UTC)]


def test_one_time_of_a_file_that_rules_out_the_other_layouts_settles_them_for_the_file():
    p = EventTimeParser(now=NOW)
    try:
        # US: the 13th rules out the day first, and 2013-11-26 (yy/MM/dd) the month 13.
        first = p.event_times(pa.array(["11/05/26 10:00:00", "11/06/26 10:00:00"]))
        assert first.counts == {"ambiguous": 2}
        second = p.event_times(pa.array(["11/13/26 10:00:00", "11/14/26 09:00:00"]))
        assert second.times.to_pylist() == [
            datetime(2026, 11, 13, 10, tzinfo=UTC),
            datetime(2026, 11, 14, 9, tzinfo=UTC),
        ]
        later = p.event_times(pa.array(["11/05/26 11:00:00"]))  # settled for the file
        assert later.times.to_pylist() == [datetime(2026, 11, 5, 11, tzinfo=UTC)]
        # European: 27/11/26 as yy/MM/dd would be 2027, after the window: day first.
        p.start_file()
        eu = p.event_times(pa.array(["26/11/26 23:00:00", "27/11/26 01:00:00"]))
        assert eu.times.to_pylist() == [
            datetime(2026, 11, 26, 23, tzinfo=UTC),
            datetime(2026, 11, 27, 1, tzinfo=UTC),
        ]
        # Texts no one layout reads all of: none is used.
        p.start_file()
        mixed = p.event_times(pa.array(["11/13/26 10:00:00", "27/11/26 01:00:00"]))
        assert mixed.times.to_pylist() == [None, None]
        assert mixed.counts == {"ambiguous": 2}
        assert "no one of these layouts reads every time of the file" in mixed.errors[0]
        # Windows event logs: a four-digit year last, a 12-hour clock.
        p.start_file()
        win = p.event_times(pa.array(["12/7/2025 10:00:00 AM", "12/13/2025 1:00:00 PM"]))
        assert win.times.to_pylist() == [
            datetime(2025, 12, 7, 10, tzinfo=UTC),
            datetime(2025, 12, 13, 13, tzinfo=UTC),
        ]
        # A year in one digit is no yy/MM/dd, and one in two digits no %Y.
        p.start_file()
        short = p.event_times(pa.array(["7/12/25 10:00:00", "13/12/25 10:00:00"]))
        assert short.times.to_pylist() == [
            datetime(2025, 12, 7, 10, tzinfo=UTC),
            datetime(2025, 12, 13, 10, tzinfo=UTC),
        ]
    finally:
        p.close()


def test_a_numeric_string_is_an_epoch_only_when_the_format_says_so():
    found = _times(["1700000000", "081109"])
    assert found.times.to_pylist() == [None, None]
    assert found.counts == {"number_not_epoch": 2}
    assert found.errors[0] == (
        "event time '1700000000' is a number, not read as an epoch: give --time-format epoch "
        "(or epoch_ms, epoch_us, epoch_ns) or a format"
    )
    told = _times(["1700000000123"], time_rules(time_format="epoch_ms"))
    assert told.times.to_pylist() == [datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)]
    # JSON numbers keep the magnitude rule.
    numbers = _times([1_700_000_000, 1_700_000_000_123])
    assert [t.microsecond for t in numbers.times.to_pylist()] == [0, 123000]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("9999-12-31T23:59:59-05:00", "after_latest"),
        ("0001-01-01T00:00:00+05:00", "before_earliest"),
        (-62135596801, "before_earliest"),
        (2**63 - 1, "after_latest"),
        ("1969-12-31T23:59:59Z", "before_earliest"),
        ("2026-12-06T00:00:00Z", "after_latest"),
        (1e300, "after_latest"),
    ],
)
def test_an_implausible_or_out_of_range_time_is_a_reason_never_an_exception(value, reason):
    found = _times([value])
    assert found.times.to_pylist() == [None]
    assert found.counts == {reason: 1}
    assert "not used" in found.errors[0] and str(value)[:10] in found.errors[0]


def test_the_window_can_be_widened():
    rules = time_rules(earliest="1900-01-01", latest="2200-01-01")
    found = _times(["1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z"], rules)
    assert found.times.to_pylist() == [
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
    ]


def test_a_year_less_time_takes_the_year_given_or_the_files_year_with_rollover():
    values = ["Dec 31 23:59:59", "Jan  1 00:00:01"]
    given = _times(values, time_rules(year=2005))
    assert [t.year for t in given.times.to_pylist()] == [2005, 2005]
    # The file was last written on 2006-01-02: December is the year before.
    base = datetime(2006, 1, 2, tzinfo=UTC)
    found = _times(values, year_base=base)
    assert found.times.to_pylist() == [
        datetime(2005, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2006, 1, 1, 0, 0, 1, tzinfo=UTC),
    ]


def test_a_file_whose_newest_year_less_time_is_days_before_its_mtime_is_refused():
    """Only times read without a year count (a dated log4j time beside them is no evidence
    of their year), by any formats that read them; two days before the mtime is still
    evidence, a second more is not; --year, or the next file, ends it."""
    from ingest.exceptions import YearUnsure

    mtime = datetime(2026, 12, 7, 10, tzinfo=UTC)
    cases = [
        ((), ["2026-12-07 09:59:00,123", "Dec  5 09:59:59"], True),
        ((), ["2026-12-07 09:59:00,123", "Dec  5 10:00:00"], False),
        (("iso8601", "%b %d %H:%M:%S"), ["2026-12-07T09:59:00Z", "Nov 30 10:00:00"], True),
        (("%b %d %H:%M:%S", "iso8601"), ["Dec  7 09:00:00", "2026-11-30T10:00:00Z"], False),
    ]
    for formats, values, refused in cases:
        p = EventTimeParser(time_rules(time_format=list(formats) or None), now=mtime)
        try:
            p.start_file()
            p.event_times(pa.array(values), year_base=mtime)
            if refused:
                with pytest.raises(YearUnsure, match="give --year"):
                    p.check_year("file:///var/log/auth.log", mtime)
                p.start_file()
            p.check_year("file:///var/log/auth.log", mtime)
        finally:
            p.close()
    given = EventTimeParser(time_rules(year=2026), now=mtime)
    try:
        given.event_times(pa.array(["Jan  3 10:00:00"]), year_base=mtime)
        given.check_year("file:///var/log/auth.log", mtime)
    finally:
        given.close()


def test_new_year_on_a_host_east_of_utc_is_the_year_after_the_files_last_write():
    """A Berlin host writes 'Jan  1 00:30' (local, read as UTC) into a file last modified at
    23:30 UTC on Dec 31. Before: 2026-01-01, a year early (only that year and the one before
    were tried)."""
    p = EventTimeParser(now=datetime(2027, 1, 5, tzinfo=UTC))
    try:
        found = p.event_times(
            pa.array(["Dec 31 23:59:00", "Jan  1 00:30:00", "Jan  2 00:30:00"]),
            year_base=datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
        )
    finally:
        p.close()
    assert found.times.to_pylist() == [
        datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 30, tzinfo=UTC),
        datetime(2026, 1, 2, 0, 30, tzinfo=UTC),  # more than a day after: the year before
    ]


def test_a_preset_reads_the_fractions_its_pattern_takes_whatever_the_lines_beside_them():
    """The log4j preset's pattern takes 1 to 9 fraction digits after a comma or a dot; a
    time with 7 to 9 after a dot got no event time ("matches no time format") when the
    first of the preset's formats (the comma's) did not read every line of the chunk."""
    from ingest.logs.textlogs import PRESETS

    rules = time_rules(time_format=list(PRESETS["log4j"].time_formats))
    found = _times(
        ["2024-01-01 00:00:00,5", "2024-01-01 00:00:00.123456789", "2024-01-01T00:00:00.1234567"],
        rules,
    )
    assert found.times.to_pylist() == [
        datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
    ]
    assert found.counts == {}


def test_time_formats_are_tried_in_order_and_only_they():
    rules = time_rules(time_format=["%d.%m.%Y %H:%M", "%Y%m%d"])
    found = _times(["09.06.2017 20:10", "20170610", "2017-06-11T00:00:00Z"], rules)
    assert found.times.to_pylist() == [
        datetime(2017, 6, 9, 20, 10, tzinfo=UTC),
        datetime(2017, 6, 10, tzinfo=UTC),
        None,  # ISO 8601 was not among the formats given
    ]
    assert found.counts == {"unreadable": 1}


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"time_format": "yyyy-MM-dd"}, "has no % directive"),
        ({"time_field": "date+"}, "names an empty field"),
        ({"year": 0}, "is not a year"),
        ({"earliest": "last week"}, "is not an ISO 8601 date"),
        ({"earliest": "2020-01-01", "latest": "2010-01-01"}, "is not before --latest"),
    ],
)
def test_bad_time_options_are_refused_in_one_sentence(kw, message):
    with pytest.raises(LogFormatError, match=message):
        time_rules(**kw)


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2015-10-18 18:01:47,978", "2015-10-18 18:01:47,9"], "%Y-%m-%d %H:%M:%S,%f"),
        (["17/06/09 20:10:40"], "%y/%m/%d %H:%M:%S"),
        (["081109 203615"], "%y%m%d %H%M%S"),
        (["2016/12/19 16:00:01"], "%Y/%m/%d %H:%M:%S"),
        (["2024-01-21 10:00:00", "2024-01-21T10:00:00.5"], "iso8601"),
        (["17/May/2015:10:05:03 +0200"], "%d/%b/%Y:%H:%M:%S %z"),
        # %f reads 1 to 9 digits (log4j2/logback write nanoseconds), cut to microseconds
        (["2015-10-18 18:01:47.123456789", "2015-10-18 18:01:47.1234567"], "%Y-%m-%d %H:%M:%S.%f"),
        (["2015-10-18 18:01:47,999999999"], "%Y-%m-%d %H:%M:%S,%f"),
        (["Thu Jun 27 06:58:09.123456789 2019"], "%a %b %d %H:%M:%S.%f %Y"),
    ],
)
def test_a_column_every_value_of_which_one_format_reads_gets_the_same_instants(values, fmt):
    # A column the first format reads whole may take Arrow's parser; one with a value it
    # cannot read goes through DuckDB. Both must give the same instants.
    p = EventTimeParser(now=NOW)
    try:
        whole = p.parse(pa.array(values), formats=[fmt]).to_pylist()
        mixed = p.parse(pa.array([*values, "zzz"]), formats=[fmt]).to_pylist()
    finally:
        p.close()
    assert whole == mixed[:-1] and mixed[-1] is None
    assert None not in whole


@pytest.mark.parametrize(
    ("value", "abbreviation"),
    [
        ("2024-07-21 10:00:00.123 BST", "BST"),  # PostgreSQL, log_timezone Europe/London
        ("2024-01-21 10:00:00 CST", "CST"),  # China Standard Time, +08:00
        ("2024-01-21 10:00:00 IST", "IST"),  # Israel, Ireland or India
        ("2024-01-21T10:00:00 AST", "AST"),  # Atlantic or Arabia
        ("2024-07-21 10:00:00 EET", "EET"),  # +02:00 as written, whatever the season
    ],
)
def test_a_zone_abbreviation_names_no_offset_and_says_so(value, abbreviation):
    """Before: DuckDB read them by ICU's legacy IDs, 10:00 BST as 04:00 UTC (Bangladesh,
    not British summer time: 09:00), CST as Chicago (a Chinese server's 10:00 is 02:00 UTC,
    not 16:00), AST as Alaska, and EET in July as summer time: hours off, no error."""
    found = _times([value])
    assert found.times.to_pylist() == [None]
    assert found.counts == {"unreadable": 1}
    assert f"gives its zone as '{abbreviation}', an abbreviation" in found.errors[0]


def test_utc_gmt_and_zone_names_after_an_iso_time_are_read():
    found = _times(
        [
            "2024-07-21 10:00:00.123 UTC",
            "2024-07-21 10:00:00 GMT",
            "2024-07-21 10:00:00 Europe/London",
            "2024-01-21 10:00:00 Asia/Shanghai",
        ]
    )
    assert found.times.to_pylist() == [
        datetime(2024, 7, 21, 10, 0, 0, 123000, tzinfo=UTC),
        datetime(2024, 7, 21, 10, tzinfo=UTC),
        datetime(2024, 7, 21, 9, tzinfo=UTC),
        datetime(2024, 1, 21, 2, tzinfo=UTC),
    ]
    assert found.errors is None


def test_zone_names_holding_a_listed_word_are_read_as_zone_names():
    """A zone name whose part is also a capitalised legacy ID (Australia/ACT, Canberra) or
    that starts with one (PST8PDT, EST5EDT: the tz database's US zones with their rules) is
    one zone, not an abbreviation. Before: refused as 'ACT' and 'PST', no event time."""
    found = _times(
        [
            "2024-01-21 10:00:00 Australia/ACT",
            "2024-01-21 10:00:00 PST8PDT",
            "2024-07-21 10:00:00 EST5EDT",
        ]
    )
    assert found.times.to_pylist() == [
        datetime(2024, 1, 20, 23, tzinfo=UTC),  # +11:00, Canberra's summer time
        datetime(2024, 1, 21, 18, tzinfo=UTC),
        datetime(2024, 7, 21, 14, tzinfo=UTC),
    ]
    assert found.errors is None


def test_a_word_after_an_iso_time_that_is_no_zone_is_not_called_an_abbreviation():
    found = _times(["2024-01-21 10:00:00 PM", "2024-01-21 10:00:00 UTC"])
    assert found.times.to_pylist() == [None, datetime(2024, 1, 21, 10, tzinfo=UTC)]
    assert (
        found.errors[0]
        == "event time '2024-01-21 10:00:00 PM' matches no time format: give --time-format"
    )


def test_a_zone_abbreviation_read_by_a_formats_percent_z_says_so_too():
    """Java's Date.toString() with --time-format '%a %b %d %H:%M:%S %Z %Y': before, 'BST'
    (a London server in summer, 09:00 UTC) was read as Bangladesh time, 04:00 UTC."""
    rules = time_rules(time_format="%a %b %d %H:%M:%S %Z %Y")
    found = _times(["Sun Jul 21 10:00:00 BST 2024", "Sun Jul 21 10:00:00 UTC 2024"], rules)
    assert found.times.to_pylist() == [None, datetime(2024, 7, 21, 10, tzinfo=UTC)]
    assert found.counts == {"unreadable": 1}
    assert "gives its zone as 'BST', an abbreviation" in found.errors[0]


@pytest.mark.parametrize("unit", ["epoch_ns", "epoch_us", "epoch_ms", "epoch"])
def test_an_epoch_written_as_a_string_gives_the_instant_the_same_json_number_gives(unit):
    """Whole numbers in text were read through a double: nanoseconds were rounded to the
    next microsecond, 23:59:59.999999999 to the next day."""
    digits = {"epoch_ns": 9, "epoch_us": 6, "epoch_ms": 3, "epoch": 0}[unit]
    values = [int("1705881599" + "9" * digits), int("1705831200" + "123456789"[:digits])]
    rules = time_rules(time_format=unit)
    as_text = _times([str(v) for v in values], rules).times.to_pylist()
    as_numbers = _times(values, rules).times.to_pylist()
    assert as_text == as_numbers
    assert as_text[0].date() == datetime(2024, 1, 21).date()


def test_a_time_without_zone_is_utc_whatever_zone_the_record_before_it_named():
    """Before: DuckDB 1.5.5's cast carried the zone name of one value to the values after it
    that have none (10:00 read as Paris time, 09:00 UTC; a bare date as 05:00 UTC after New
    York's)."""
    found = _times(
        [
            "2024-01-21 10:00:00 Europe/Paris",
            "2024-01-21 10:00:00",
            "2024-01-21 10:00:00 America/New_York",
            "2024-01-21",
            "2024-01-21T24:00:00",
        ]
    )
    assert found.times.to_pylist() == [
        datetime(2024, 1, 21, 9, tzinfo=UTC),
        datetime(2024, 1, 21, 10, tzinfo=UTC),
        datetime(2024, 1, 21, 15, tzinfo=UTC),
        datetime(2024, 1, 21, tzinfo=UTC),
        datetime(2024, 1, 22, tzinfo=UTC),  # ISO 8601's end of the day
    ]
    assert found.errors is None


@pytest.mark.parametrize(
    "value, zone",
    [
        ("2024-01-21 10:00:00 UTC+1", "UTC+1"),
        ("2024-01-21 10:00:00 GMT-03:00", "GMT-03:00"),
        ("2024-01-21T10:00:00 UTC -5", "UTC -5"),
    ],
)
def test_utc_or_gmt_with_a_signed_hour_names_no_one_offset_and_says_so(value, zone):
    """Before: DuckDB read 'UTC+1' as +01:00 where POSIX TZ rules (and PostgreSQL) read an
    hour behind UTC: two hours apart, no error."""
    found = _times([value])
    assert found.times.to_pylist() == [None]
    assert found.counts == {"unreadable": 1}
    assert f"gives its zone as '{zone}', whose sign is read both ways" in found.errors[0]


def test_a_go_time_is_read_by_its_offset_when_its_zone_agrees_or_names_no_other():
    """Go's time.String() writes the offset, then the zone's abbreviation (or the offset
    again), then for time.Now() the monotonic clock. Before: 'CET' refused the first as an
    abbreviation, and '+0000 UTC' matched no format."""
    found = _times(
        [
            "2026-11-07 10:00:00.123 +0100 CET",
            "2026-11-07 10:00:00 +0000 UTC",
            "2026-11-07 10:00:00.123456789 -0500 EST m=+0.000012001",
            "2026-07-07 10:00:00 +0200 CEST",
            "2026-11-07 10:00:00 +0300 +03",
            "2026-11-07 10:00:00 +0100 XYZ",  # no abbreviation the tz database has
        ]
    )
    assert found.times.to_pylist() == [
        datetime(2026, 11, 7, 9, 0, 0, 123000, tzinfo=UTC),
        datetime(2026, 11, 7, 10, tzinfo=UTC),
        datetime(2026, 11, 7, 15, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 7, 7, 8, tzinfo=UTC),
        datetime(2026, 11, 7, 7, tzinfo=UTC),
        datetime(2026, 11, 7, 9, tzinfo=UTC),
    ]
    assert found.errors is None


def test_a_go_time_whose_zone_contradicts_its_offset_is_not_used_and_says_so():
    found = _times(["2026-11-07 10:00:00 +0100 EST", "2026-11-07 10:00:00 +0100 +02"])
    assert found.times.to_pylist() == [None, None]
    assert found.counts == {"unreadable": 2}
    assert found.errors == [
        "event time '2026-11-07 10:00:00 +0100 EST' gives the offset +0100 and the zone 'EST', "
        "no zone's abbreviation at that offset in 2026: not used (the two disagree; the record "
        "keeps its text in _raw)",
        "event time '2026-11-07 10:00:00 +0100 +02' gives the offset +0100 and the zone '+02', "
        "another offset: not used (the two disagree; the record keeps its text in _raw)",
    ]


def test_times_on_the_windows_bounds_are_used_and_a_microsecond_past_is_not():
    """Every time inside the window (bounds included) is used as read, with no reason
    counted; one a microsecond past a bound is refused with its reason."""
    rules = time_rules(earliest="2000-01-01", latest="2000-01-02")
    inside = ["2000-01-01T00:00:00Z", "2000-01-01T12:00:00Z", "2000-01-02T00:00:00Z"]
    found = _times(inside, rules)
    assert found.times.to_pylist() == [
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2000, 1, 1, 12, tzinfo=UTC),
        datetime(2000, 1, 2, tzinfo=UTC),
    ]
    assert found.errors is None and found.counts == {}
    for past, reason in (
        ("2000-01-02T00:00:00.000001Z", "after_latest"),
        ("1999-12-31T23:59:59.999999Z", "before_earliest"),
    ):
        found = _times([*inside, past], rules)
        assert found.times.to_pylist()[3] is None
        assert found.counts == {reason: 1}
        assert found.errors[:3] == [None, None, None] and "not used" in found.errors[3]
