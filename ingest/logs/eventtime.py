"""Turning a record's time field into ``_event_time`` (timestamp[us, UTC]): the one place
where times are read.

Rules (each is tested in tests/ingest/logs/test_eventtime.py):

* **Formats.** ``--time-format`` (strptime-style, several allowed) lists the formats to try,
  in order, and only those. The names ``epoch``, ``epoch_ms``, ``epoch_us`` and ``epoch_ns``
  read a number (or a numeric string) as a Unix epoch in that unit; ``iso8601`` reads ISO 8601.
  ``%f`` reads 1 to 9 fraction digits (nanoseconds cut to the microsecond).
  Without ``--time-format``: ISO 8601 (``T`` or space, fractions, ``Z`` or an offset), then
  :data:`DEFAULT_FORMATS` (Apache ``17/May/2015:10:05:03 +0000``, log4j
  ``2023-11-14 22:13:20,323``, ctime, syslog ``Oct 11 22:14:15``...). Layouts that read one
  text as different dates (``07/12/26``: Hadoop/Spark yy/MM/dd, European dd/MM/yy, US
  MM/dd/yy; HDFS's ``081109``; :data:`DATE_ORDERS`) are read only as one the file's times
  leave (:meth:`EventTimeParser.start_file`): one that reads a time outside the window or
  not at all (``27/11/26``, ``17/06/09`` as MM/dd), or that puts two consecutive times a
  month (27 days) or more apart where another puts them hours apart (a midnight crossed: ``07/11/26
  23:59:59`` then ``08/11/26 00:00:01``, as yy/MM/dd a year apart); else such a time is
  ``ambiguous``, unless every layout reads it as one instant (``11/11/11``). A preset given
  reads its own layout (``--preset spark``: yy/MM/dd); one ``--format auto`` chose by the
  shape of the lines reads each of its layouts as its group (a European dd/MM/yy log4j
  layout writes Spark's shape). The mtime does not settle it: a file's newest time is known
  only after its chunks are staged, and a copy's mtime says nothing. ``--time-format`` (or
  ``--preset spark``) gives the layout.
* **Numbers.** A JSON number is a Unix epoch whose unit is read from its magnitude (|x| < 1e11:
  seconds, < 1e14: milliseconds, < 1e17: microseconds, else nanoseconds), or in the unit an
  ``epoch*`` format names. A *string* of digits is never guessed to be an epoch: it is read by
  the formats (``20081109203615``), or it gets no event time and says why. A field whose
  logger documents its unit (journald's microseconds as a string) is read in it
  (:data:`FIELD_FORMATS`). An epoch that lands at or after the epoch but before
  :data:`EPOCH_FLOOR` (1973-03-03) is ``ambiguous`` unless ``--earliest`` is before that
  floor: ``1705831200`` as ``epoch_ms`` is January 1970 where its digits are seconds, and
  ``200000`` an uptime rather than 1970-01-03. An object of seconds and nanoseconds
  (:data:`INSTANT_OBJECTS`) is an instant.
* **Zones.** A time without an offset is UTC. A zone written as letters after an ISO time
  (PostgreSQL's ``2024-07-21 10:00:00.123 BST``) is read only when it is ``UTC`` or ``GMT``:
  an abbreviation names no one offset (BST is British or Bangladesh time, CST US Central or
  China), so such a time is ``unreadable`` and its ``_error`` says so, as is ``UTC+1`` (or
  ``GMT-3``), whose sign POSIX reads the other way. A zone name (``Europe/London``,
  ``Etc/GMT+1``) is read. A time without a zone is UTC whatever zone the value before it named.
  Go's ``2026-12-07 10:00:00.123 +0100 CET`` is read by its offset unless the abbreviation
  after it names zones that are never at that offset (:func:`_go_conflict`).
* **No year** (RFC 3164 syslog, a format without ``%Y``/``%y``): the year is ``--year`` when
  given (every such time gets it); otherwise the latest of the years of the file's last
  modification, the one after and the one before that puts the time no more than a day after
  that modification (a file is written after its lines): ``Dec 31`` in a file last written in
  January is from the year before, ``Jan  1 00:30`` written on a host east of UTC into a file
  last modified at 23:30 UTC on Dec 31 from the year after, and ``Feb 29`` in a year without
  one from the year before, when that has one. That mtime is evidence only of a file as
  written (syslog writes a line as it happens; rotation and gzip keep the mtime): when the
  newest year-less time the ingest read of a file is more than :data:`YEAR_MARGIN` (2 days)
  before it (a copy without ``-p``, a download, an S3 upload set it), the file is refused
  with ``YearUnsure`` before anything is committed, naming the file, that time and the mtime,
  and saying to give ``--year`` (:meth:`EventTimeParser.check_year`; per file, of the part
  of a grown file read). Refused rather than nulled: every year-less time of the file is as
  unsure, so nulling would land a file without times that needs ``--reparse --year`` anyway.
  A copy made a whole year (within the margin) after the file was written is not caught.
* **No instant.** A leap second (``23:59:60``) fits no timestamp, and ``Feb 29`` none in a
  year without it: such a time is ``unreadable`` and its ``_error`` says which (and to give
  ``--year``), not that its format is unknown.
* **Plausible instants only.** A time before ``--earliest`` (default 1970-01-02) or after
  ``--latest`` (default: one day after the ingest started) is not used: ``_event_time`` is
  null, ``_error`` says why, and the ingest report counts it. A value too large for any
  timestamp is the same case; nothing here raises on a value.

Reasons, as counted in the ingest report (``event_times.reasons``); all but ``no_value`` are
also written to the record's ``_error`` (when the record has no other error):

======================  ===========================================================
``no_value``            the time field is absent, null or empty
``unreadable``          the value matches none of the formats
``ambiguous``           layouts read it as different dates and no value of the
                        file read so far rules out all but one (``07/12/26``); or
                        an epoch number reads before 1973-03-03 (a count, or in a finer
                        unit than its digits have)
``number_not_epoch``    a numeric string and no ``epoch*`` format was given
``before_earliest``     the instant is before ``--earliest``
``after_latest``        the instant is after ``--latest``
``record_failed``       the record itself did not parse (its ``_error`` says why)
======================  ===========================================================

JSON strings that are ISO 8601 instants arrive already typed as timestamps
(:func:`ingest.logs.inference.type_of`); only the window is applied to them.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ingest.exceptions import LogFormatError, YearUnsure
from lake.core import duckdb as lake_duckdb
from lake.core.arrow_values import FALSE, TRUE, scalar
from lake.core.arrow_values import array as array_of

if TYPE_CHECKING:
    import duckdb

TIME_FIELDS = (
    # CLEF's own keys start with @: its others are the application's properties, which may
    # be named time or timestamp and hold anything (an elapsed time in ms).
    "@t",  # Serilog's CLEF
    "timestamp",
    "time",
    "@timestamp",
    "ts",
    "instant",  # log4j2 JsonLayout (2.11+): {"epochSecond": ..., "nanoOfSecond": ...}
    "timeMillis",  # log4j2 JsonLayout before 2.11, or with includeTimeMillis
    "asctime",  # python-json-logger: logging's asctime, '2026-12-07 10:00:00,123'
    "__REALTIME_TIMESTAMP",  # systemd journald (journalctl -o json): when it was received
)
"""Top-level JSON keys recognised as the event time, in this order, when none is given."""

OBJECT_TIME_FIELDS = frozenset({"instant"})
"""Of :data:`TIME_FIELDS`, those picked as the event time only when their value is an object
(log4j2's instant, :data:`INSTANT_OBJECTS`): the word alone names no time (an instant payment,
a flag), and such a value would take the event time from a ``time`` beside it."""

FIELD_FORMATS: dict[str, tuple[str, ...]] = {
    "__REALTIME_TIMESTAMP": ("epoch_us",),
    "_SOURCE_REALTIME_TIMESTAMP": ("epoch_us",),
    "timeMillis": ("epoch_ms",),
}
"""How the documented time fields of known loggers are written, where no default reads them
(journald writes microseconds as a string of digits, which is never guessed to be an epoch):
used for such a field, picked or given by ``--time-field``, when no ``--time-format`` is."""

INSTANT_OBJECTS = (("seconds", "nanos"), ("epochSecond", "nanoOfSecond"), ("epochSecond", "nano"))
"""Objects that are an instant: whole seconds since the epoch and the nanoseconds into that
second (protobuf's Timestamp as Google Cloud Logging writes ``timestamp``; log4j2's
``instant``; a java.time.Instant as Jackson writes it without its time module)."""

EPOCH_FLOOR = datetime(1973, 3, 3, 9, 46, 40, tzinfo=UTC)
"""10^8 seconds after the epoch. An epoch number read as a time between the epoch itself
(a duration of seconds too) and this is not used unless ``--earliest`` is before it: no
log is from then, and such a number is a count (an uptime in seconds, a duration) or has
the digits of a coarser unit than the one named (1705831200 as epoch_ms is 1970-01-20, as
seconds 2024-01-21)."""

EVENT_TIME = pa.timestamp("us", tz="UTC")

EPOCH_UNITS = {"epoch": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1, "epoch_ns": None}
"""``--time-format`` names that read numbers: microseconds per unit (None: nanoseconds)."""
ISO8601 = "iso8601"

DATE_ORDERS: tuple[tuple[str, ...], ...] = (
    # Hadoop / Spark log4j yy/MM/dd, European dd/MM/yy, US MM/dd/yy: one text, other dates
    # ('07/12/26').
    ("%y/%m/%d %H:%M:%S", "%d/%m/%y %H:%M:%S", "%m/%d/%y %H:%M:%S"),
    ("%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S"),  # European and US, four-digit year
    ("%d/%m/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p"),  # Windows '12/7/2026 10:00:00 AM'
    ("%y%m%d %H%M%S", "%d%m%y %H%M%S", "%m%d%y %H%M%S"),  # HDFS: yyMMdd HHmmss
)
"""Layouts that read one text as different dates, each group the orders of day, month and
year one shape of text is written in. A group is read as :meth:`EventTimeParser.start_file`
says: by the layout the file's times leave."""

DEFAULT_FORMATS: tuple[str | tuple[str, ...], ...] = (
    "%Y-%m-%d %H:%M:%S,%f",  # log4j, Python logging
    "%Y-%m-%dT%H:%M:%S,%f",
    "%d/%b/%Y:%H:%M:%S %z",  # Apache / NGINX access logs
    "%d/%b/%Y:%H:%M:%S",
    DATE_ORDERS[0],  # before %Y: %y takes 2 digits
    "%Y/%m/%d %H:%M:%S",  # NGINX error log
    DATE_ORDERS[1],
    DATE_ORDERS[2],
    DATE_ORDERS[3],
    "%Y%m%d%H%M%S",
    "%Y%m%dT%H%M%S%z",
    "%a %b %d %H:%M:%S.%f %Y",  # Apache error log
    "%a %b %d %H:%M:%S %Y",  # ctime
    "%b %d %H:%M:%S %Y",
    "%b %d %Y %H:%M:%S",
    "%b %d %H:%M:%S",  # RFC 3164 syslog: no year
)
"""Formats tried, in order, after ISO 8601 when no ``--time-format`` is given. A tuple holds
layouts that read one text as different dates: see :meth:`EventTimeParser.start_file`."""

NEAR = timedelta(hours=6)
APART = timedelta(days=27)
"""Two consecutive times of a file (of one shape) that one layout of a :data:`DATE_ORDERS`
group puts less than :data:`NEAR` apart and another at least :data:`APART` apart rule the
latter out (:meth:`EventTimeParser.start_file`). Read the other way round, a midnight is a
month apart at the least: 1 February to 1 March less the hours that were near, over 27
days (at 28, the 2nd to the 3rd of January stayed undecided)."""


def date_orders(fmt: str) -> str | tuple[str, ...]:
    """The :data:`DATE_ORDERS` group ``fmt`` is one layout of, or ``fmt`` itself: how a time
    is read whose layout is known only by the shape of its text (a preset ``--format auto``
    chose by its lines: Spark's yy/MM/dd has the shape of a European dd/MM/yy)."""
    return next((group for group in DATE_ORDERS if fmt in group), fmt)


_SHAPES = {
    "%y/%m/%d %H:%M:%S": r"^\s*[0-9]{2}/",
    "%d/%m/%Y %H:%M:%S": r"^\s*[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}\s",
    "%m/%d/%Y %H:%M:%S": r"^\s*[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}\s",
    "%d/%m/%Y %I:%M:%S %p": r"^\s*[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}\s",
    "%m/%d/%Y %I:%M:%S %p": r"^\s*[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}\s",
}
"""What a text must look like besides its format: DuckDB's %y reads '7' as 2007 and its %Y
'26' as the year 26; a year is written in two digits or four."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
"""Times before this are not used unless ``--earliest`` says otherwise."""
FUTURE_SLACK = timedelta(days=1)
"""Times more than this after the ingest are not used unless ``--latest`` says otherwise."""
YEAR_MARGIN = timedelta(days=2)
"""How long before a file's last modification its newest year-less time may be and the
modification still give its year (:meth:`EventTimeParser.check_year`). Syslog writes a line
as it happens, and rotation (rename, gzip) keeps the mtime, so in a file as written the
newest line is at most a host's zone offset (up to 14 h) from it; the rest is slack for late
or buffered writes. A copy, download or upload sets the mtime to when it was made."""

REASONS = (
    "no_value",
    "unreadable",
    "ambiguous",
    "number_not_epoch",
    "before_earliest",
    "after_latest",
    "record_failed",
)

_YEAR_DIRECTIVES = ("%Y", "%y", "%G", "%s", "%C")
_NUMERIC = r"^\s*[+-]?[0-9]+(\.[0-9]+)?\s*$"
_WHOLE = r"^\s*-?(?:[0-9]{1,18}|[1-8][0-9]{18})\s*$"
"""A numeric text that is surely an int64 (up to 8999999999999999999): read as one, exactly."""
_LEAP_SECOND = r"(?:[01]\d|2[0-3]):[0-5]\d:60(?:[.,]\d+)?(?:$|[\sZz+-])"
_FEB_29_NO_YEAR = r"(?:[A-Z][a-z]{2} )?Feb +29 \d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
# (Times whose format matches but that are no instant: their _error says why, not "format".)
_ISO_START = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}|\s*$)"
_ISO_NAIVE = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?\s*$"
# An ISO time without a zone is cast to TIMESTAMP, never to TIMESTAMPTZ: DuckDB 1.5.5's cast
# carried a zone name one row held (Europe/Paris) over to the rows after it that have none
# ('2026-12-07 10:00:00' read as Paris time, 09:00 UTC).
_POSIX_SIGN = r"(?:^|[^A-Za-z/])((?:UTC|GMT|UT)\s*[+-]\s*[0-9]{1,2}(?::?[0-9]{2})?)(?:[^0-9:]|$)"
# 'UTC+1' after a time: people mean +01:00 (DuckDB reads it so), POSIX's TZ=UTC+1 an hour
# behind UTC (PostgreSQL reads it so): no one offset, not read. Etc/GMT+1 is a zone name.
_NOT_ABBREVIATIONS = ("UTC", "UCT", "GMT", "UT")
# DuckDB reads a zone written in capitals (after an ISO time, or by %Z) by ICU's table of legacy
# IDs: BST is Bangladesh, IST India, CST Chicago (never China), AST Alaska, ART Cairo, ECT
# Paris, and CET or EET take summer time. Such a word names no one offset: a time holding one
# is not read (UTC and GMT are; zone names such as Europe/London too).
_GO_TIME = (
    r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?) "
    r"([+-][0-9]{2})([0-9]{2}) ([A-Za-z]{1,6}|[+-][0-9]{2}(?:[0-9]{2})?)"
    r"(?: m=[+-][0-9]+(?:\.[0-9]+)?)?\s*$"
)
"""Go's time.String() (and its default layout): '2026-12-07 10:00:00.123 +0100 CET', an
offset and then the zone's abbreviation (or the offset again, '+03'), and for a time from
time.Now() its monotonic clock reading (' m=+0.000012')."""
SHOWN_CHARS = 64
"""Characters of a value an ``_error`` text quotes at most."""


@dataclass(frozen=True)
class TimeRules:
    """How a table's event time is read: its field(s), formats, year and plausible window."""

    fields: tuple[str, ...] = ()
    """The field (JSON key, dotted path, or pattern group) or fields joined by a space."""
    formats: tuple[str, ...] = ()
    year: int | None = None
    earliest: datetime | None = None
    latest: datetime | None = None

    @property
    def field_label(self) -> str | None:
        return "+".join(self.fields) if self.fields else None

    def to_json(self) -> dict[str, object]:
        return {
            "time_field": self.field_label,
            "time_format": list(self.formats) or None,
            "year": self.year,
            "earliest": self.earliest.isoformat() if self.earliest else None,
            "latest": self.latest.isoformat() if self.latest else None,
        }


def time_rules(
    *,
    time_field: str | Sequence[str] | None = None,
    time_format: str | Sequence[str] | None = None,
    year: int | None = None,
    earliest: str | datetime | None = None,
    latest: str | datetime | None = None,
) -> TimeRules:
    """Check the time options once, before any file is read. Raises LogFormatError.

    ``time_field`` is a name, ``date+time`` (fields joined by a space before parsing), or a
    list of names (the same).
    """
    fields: list[str] = []
    for f in [time_field] if isinstance(time_field, str) else list(time_field or []):
        fields += [p.strip() for p in f.split("+")]
    if any(not f for f in fields):
        raise LogFormatError(
            f"The --time-field '{time_field}' names an empty field; give field names, "
            "e.g. --time-field date+time."
        )
    formats = [time_format] if isinstance(time_format, str) else list(time_format or [])
    for f in formats:
        if f in EPOCH_UNITS or f == ISO8601:
            continue
        if "%" not in f:
            raise LogFormatError(
                f"The --time-format '{f}' has no % directive; give a strptime format such as "
                "'%Y-%m-%d %H:%M:%S', or one of epoch, epoch_ms, epoch_us, epoch_ns, iso8601."
            )
        import duckdb  # only formats need it: an ingest of ISO times starts without it

        try:
            with lake_duckdb.connect(threads=1) as con:
                lake_duckdb.execute_on_text(con, "SELECT try_strptime('x', {})", f).fetchall()
        except duckdb.Error as e:
            raise LogFormatError(
                f"The --time-format '{f}' is not a valid strptime format: {e}."
            ) from e
    if year is not None and not 1 <= year <= 9999:
        raise LogFormatError(f"The --year {year} is not a year between 1 and 9999.")
    lo, hi = _instant(earliest, "--earliest"), _instant(latest, "--latest")
    if lo is not None and hi is not None and lo >= hi:
        raise LogFormatError(
            f"--earliest {lo.isoformat()} is not before --latest {hi.isoformat()}; "
            "give a window that holds the log's times."
        )
    return TimeRules(tuple(fields), tuple(formats), year, lo, hi)


def _instant(value: str | datetime | None, flag: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    try:
        found = datetime.fromisoformat(value.strip())
    except ValueError as e:
        raise LogFormatError(
            f"The {flag} '{value}' is not an ISO 8601 date or time; write e.g. 1960-01-01."
        ) from e
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def has_year(fmt: str) -> bool:
    return fmt in EPOCH_UNITS or fmt == ISO8601 or any(d in fmt for d in _YEAR_DIRECTIVES)


@dataclass
class EventTimes:
    """Event times of a batch, why some are null, and the counts per reason."""

    times: pa.Array
    errors: list[str | None] | None
    """``_error`` text per record (None where the time was used or had no value)."""
    counts: Counter[str] = field(default_factory=Counter)
    kinds: pa.Array | None = None
    """The reason of each record without an event time (null where it has one); None when
    every record has one."""
    fields: Counter[str] = field(default_factory=Counter)
    """Records whose event time another field than the chosen one gave, per field."""

    def without_value(self) -> pa.Array:
        """The records counted as ``no_value`` (absent, null, or empty text): no time and
        no ``_error`` saying why."""
        missing = pc.is_null(self.times)
        if self.errors is not None:
            missing = pc.and_(missing, pc.is_null(pa.array(self.errors, pa.string())))
        return missing


class EventTimeParser:
    """Reads time columns; holds one DuckDB connection for the strings Arrow cannot read,
    with a cursor per thread that reads (a text chunk's slices are read side by side:
    :func:`ingest.logs.textlogs.parse_text`).

    ``now`` is when the ingest started (the default ``--latest`` is a day after it).
    """

    def __init__(self, rules: TimeRules | None = None, *, now: datetime | None = None) -> None:
        self.rules = rules or TimeRules()
        self.now = now or datetime.now(UTC)
        self.earliest = self.rules.earliest or EARLIEST
        self.latest = self.rules.latest or self.now + FUTURE_SLACK
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cursors: dict[int, duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()
        self._abbreviations: re.Pattern[str] | None = None
        self._layouts: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._last: dict[tuple[str, ...], dict[str, int]] = {}
        self._newest_yearless: datetime | None = None

    def start_file(self) -> None:
        """The times read next are another file's.

        Of layouts that read one text as different dates (``07/12/26``: yy/MM/dd, dd/MM/yy
        or MM/dd/yy; :data:`DATE_ORDERS`), a file's times are read by the one layout that
        reads every such time of the file read so far inside the plausible window and that
        no two consecutive such times rule out (:meth:`_in_sequence`); while more than one
        does (or none), such times are null and ``ambiguous`` (unless every layout reads
        one as the same instant), their ``_error`` naming each reading and the
        ``--time-format`` that settles it. Nothing is carried from one file to the next."""
        self._layouts.clear()
        self._last.clear()
        self._newest_yearless = None

    def check_year(self, uri: str, modified: datetime | None) -> None:
        """Refuse the file read since :meth:`start_file` when it has times without a year
        (read without ``--year``) and the newest of them is more than :data:`YEAR_MARGIN`
        before ``modified`` (None: before the ingest's start, which stood in for it): that
        mtime is then no evidence of the year (a copy's), and every such time may be a year
        or more off. Raises YearUnsure."""
        newest = self._newest_yearless
        base = modified or self.now
        if newest is None or self.rules.year is not None or newest >= base - YEAR_MARGIN:
            return
        raise YearUnsure(uri=uri, newest=newest, modified=modified, base=base)

    def close(self) -> None:
        with self._lock:
            for cursor in self._cursors.values():
                cursor.close()
            self._cursors.clear()
            if self._con is not None:
                self._con.close()
                self._con = None

    # -- public ----------------------------------------------------------------------

    def parse(
        self,
        values: pa.Array | pa.ChunkedArray,
        *,
        json_encoded: bool = False,
        formats: Sequence[str | tuple[str, ...]] | None = None,
        year_base: datetime | None = None,
    ) -> pa.Array:
        """The instants a column holds (null where unreadable), without the plausibility
        window: for a typed time column (a preset's ``time``). Never raises on a value.
        A tuple of ``formats`` is layouts read as :meth:`start_file` says."""
        return self._read(values, json_encoded, formats, year_base)[0]

    def parse_noted(
        self,
        values: pa.Array | pa.ChunkedArray,
        *,
        formats: Sequence[str | tuple[str, ...]] | None = None,
        year_base: datetime | None = None,
    ) -> tuple[pa.Array, list[str | None] | None]:
        """:meth:`parse`, and the ``_error`` of each value layouts read as different dates
        (None when there is none), to hand to :meth:`window`."""
        found = self._read(values, False, formats, year_base)
        return found[0], found[3]

    def event_times(
        self,
        values: pa.Array | pa.ChunkedArray,
        *,
        json_encoded: bool = False,
        formats: Sequence[str | tuple[str, ...]] | None = None,
        year_base: datetime | None = None,
        field: str | None = None,
    ) -> EventTimes:
        """``_event_time`` for a column: read, then kept only inside the plausible window.
        ``field`` names the column, whose documented writing (:data:`FIELD_FORMATS`) is
        read when neither ``formats`` nor ``--time-format`` says how."""
        if not formats and not self.rules.formats and field in FIELD_FORMATS:
            formats = FIELD_FORMATS[field]
        times, text, numeric_text, ambiguous = self._read(values, json_encoded, formats, year_base)
        found = self._window(times, text, numeric_text, ambiguous)
        if found.errors is None:
            return found
        kind = _nested_kind(values.type)
        if kind is None and not json_encoded:
            return found
        # An object or a list is no time whatever the formats (but for an instant object,
        # whose _error is the window's): say so, and where to look.
        shown_as = text.to_pylist() if kind is not None else _as_text(values).to_pylist()
        read = pc.is_valid(times).to_pylist()
        for i, (error, value) in enumerate(zip(found.errors, shown_as, strict=True)):
            what = kind or {"{": "an object", "[": "a list"}.get((value or " ")[0])
            if error is not None and what is not None and not read[i]:
                found.errors[i] = (
                    f"event time '{shown(value)}' is {what}, not a time: not used (give "
                    "--time-field the path of the field inside it that holds the time, e.g. "
                    "timestamp.seconds with --time-format epoch)"
                )
        return found

    def window(
        self,
        times: pa.Array | pa.ChunkedArray,
        text: pa.Array | None,
        ambiguous: list[str | None] | None = None,
    ) -> EventTimes:
        """``_event_time`` from instants already read (a preset's typed time), ``text`` the
        values they were read from (a null instant with text is ``unreadable``, or
        ``ambiguous`` where :meth:`parse_noted` gave it a note)."""
        if isinstance(times, pa.ChunkedArray):
            times = times.combine_chunks() if times.num_chunks != 1 else times.chunk(0)
        return self._window(_to_utc(times), text, None, ambiguous)

    def text_of(
        self, values: pa.Array | pa.ChunkedArray, *, json_encoded: bool = False
    ) -> pa.Array:
        """A time column as text (to join it with another field before reading)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
        text = _as_text(values)
        if json_encoded:
            text = pa.array([_unjson(v) for v in text.to_pylist()], pa.string())
        return text

    def missing(self, n: int, reason: str = "no_value") -> EventTimes:
        """Null event times for ``n`` records, counted under ``reason``."""
        return EventTimes(
            pa.nulls(n, EVENT_TIME),
            None,
            Counter({reason: n} if n else {}),
            pa.repeat(scalar(reason, pa.string()), n),
        )

    # -- reading ---------------------------------------------------------------------

    def _read(
        self,
        values: pa.Array | pa.ChunkedArray,
        json_encoded: bool,
        formats: Sequence[str | tuple[str, ...]] | None,
        year_base: datetime | None,
    ) -> tuple[pa.Array, pa.Array | None, pa.Array | None, list[str | None] | None]:
        """(instants, the values as text, which texts are numeric and were not read, the
        ``_error`` of each text that layouts read as different dates)."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
        fmts = tuple(formats) if formats else self.rules.formats
        t = values.type
        n = len(values)
        if pa.types.is_timestamp(t):
            return _to_utc(values), None, None, None
        if pa.types.is_date(t):
            return _to_utc(values.cast(pa.timestamp("us"))), None, None, None
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            unit = next((EPOCH_UNITS[f] for f in fmts if f in EPOCH_UNITS), 0)
            if fmts and not any(f in EPOCH_UNITS for f in fmts):
                # Formats given, none of them an epoch: read the digits as text by them.
                return self._read(values.cast(pa.string()), False, fmts, year_base)
            text = values.cast(pa.string())
            times, notes = self._epoch_floor(values, unit, self._epochs(values, unit), text)
            return times, text, None, notes
        if pa.types.is_struct(t):
            found = _instant_object(values)
            if found is not None:
                return found, _instant_text(values), None, None
        if pa.types.is_boolean(t) or not (
            pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
        ):
            return pa.nulls(n, EVENT_TIME), _as_text(values), None, None
        text = values.cast(pa.string())
        if not json_encoded:
            return self._strings(text, fmts, year_base)
        # A column of JSON text (its values disagreed on type): a JSON number in it is an
        # epoch as in a numeric column; a JSON string is read as text.
        encoded = text
        text = pa.array([_unjson(v) for v in encoded.to_pylist()], pa.string())
        numbers = pc.and_(
            pc.invert(pc.fill_null(pc.starts_with(encoded, '"'), TRUE)),
            pc.fill_null(pc.match_substring_regex(encoded, _NUMERIC), FALSE),
        )
        objects = pc.fill_null(pc.starts_with(encoded, "{"), FALSE)
        if not pc.any(numbers).as_py() and not objects.true_count:
            return self._strings(text, fmts, year_base)
        as_text = pc.if_else(numbers, scalar(None, pa.string()), text)
        times, _, unread, ambiguous = self._strings(as_text, fmts, year_base)
        if objects.true_count:
            # Records that disagree on the time's type (Cloud Logging's object beside its
            # RFC 3339 text): each object that is an instant is read as one.
            micros = [_object_micros(v) for v in encoded.filter(objects).to_pylist()]
            if any(m is not None for m in micros):
                read = self._epochs(array_of(micros, pa.int64()), EPOCH_UNITS["epoch_us"])
                times = pc.replace_with_mask(times, objects, read)
        if not pc.any(numbers).as_py():
            return times, text, unread, ambiguous
        unit = next((EPOCH_UNITS[f] for f in fmts if f in EPOCH_UNITS), 0)
        nums = pc.if_else(numbers, encoded, scalar(None, pa.string()))
        epochs, notes = self._epoch_floor(nums, unit, self._epochs_of_text(nums, unit), text)
        times = pc.if_else(numbers, epochs, times)
        return times, text, unread, _either(ambiguous, notes)

    def _epochs_of_text(self, numbers: pa.Array, unit: int | None) -> pa.Array:
        """Numeric texts as epochs (see :meth:`_epochs`). Whole numbers are read as integers,
        exactly as a JSON number is: a double holds nanoseconds since 1970 only to 256 ns, and
        rounding them carried '1705881599999999999' (23:59:59.999999999) into the next day."""
        numbers = pc.utf8_trim_whitespace(numbers)
        whole = pc.fill_null(pc.match_substring_regex(numbers, _WHOLE), FALSE)
        ints = pc.cast(pc.if_else(whole, numbers, scalar(None, pa.string())), pa.int64())
        floats = pc.cast(pc.if_else(whole, scalar(None, pa.string()), numbers), pa.float64())
        return pc.if_else(whole, self._epochs(ints, unit), self._epochs(floats, unit))

    @staticmethod
    def _epochs(values: pa.Array, unit: int | None) -> pa.Array:
        """Epoch numbers to instants: ``unit`` microseconds per unit, None for nanoseconds,
        0 for the magnitude rule. A value beyond any timestamp becomes one far outside the
        window (about 146,000 years away), so it is reported as such, never raised."""
        f = values.cast(pa.float64(), safe=False)
        f = pc.if_else(pc.is_nan(f), scalar(None, pa.float64()), f)
        if unit == 0:
            a = pc.abs(f)
            f64 = {x: scalar(x, pa.float64()) for x in (1e11, 1e14, 1e17, 1e6, 1e3, 1.0, 1e-3)}
            factor = pc.if_else(
                pc.less(a, f64[1e11]),
                f64[1e6],
                pc.if_else(
                    pc.less(a, f64[1e14]),
                    f64[1e3],
                    pc.if_else(pc.less(a, f64[1e17]), f64[1.0], f64[1e-3]),
                ),
            )
        else:
            factor = scalar(1e-3 if unit is None else float(unit), pa.float64())
        micros = pc.multiply(f, factor)
        lo, hi = scalar(-(2.0**62), pa.float64()), scalar(2.0**62, pa.float64())
        inside = pc.and_(pc.greater(micros, lo), pc.less(micros, hi))
        bounded = pc.max_element_wise(
            pc.min_element_wise(micros, hi, skip_nulls=False), lo, skip_nulls=False
        )
        far = pc.cast(pc.round(bounded), pa.int64())
        if pa.types.is_integer(values.type):
            safe = pc.if_else(inside, values.cast(pa.int64()), scalar(0, pa.int64()))
            thousand = scalar(1000, pa.int64())
            if unit == 0:
                exact = pc.if_else(
                    pc.equal(factor, scalar(1e-3, pa.float64())),
                    pc.divide(safe, thousand),
                    pc.multiply(
                        safe,
                        pc.cast(pc.max_element_wise(factor, scalar(1.0, pa.float64())), pa.int64()),
                    ),
                )
            elif unit is None:
                exact = pc.divide(safe, thousand)
            else:
                exact = pc.multiply(safe, scalar(unit, pa.int64()))
            us = pc.if_else(inside, exact, far)
        else:
            us = far
        return pc.assume_timezone(us.cast(pa.timestamp("us")), "UTC").cast(EVENT_TIME)

    def _epoch_floor(
        self, values: pa.Array, unit: int | None, times: pa.Array, text: pa.Array
    ) -> tuple[pa.Array, list[str | None] | None]:
        """Epochs (read in ``unit``, 0: by magnitude) null where they fall inside the window
        but before :data:`EPOCH_FLOOR`, with the ``_error`` of each: the reading its digits
        give when that differs, else that such a number is more likely a count. None of them
        when ``--earliest`` is before the floor (such times are then plausible)."""
        if self.rules.earliest is not None and self.rules.earliest < EPOCH_FLOOR:
            return times, None
        # From the epoch itself when --earliest is the default: a duration under a day is
        # as much a count as an uptime, and widening the window would land it in 1970.
        start = EPOCH if self.rules.earliest is None else self.earliest
        lo, floor = scalar(start, EVENT_TIME), scalar(EPOCH_FLOOR, EVENT_TIME)
        early = pc.fill_null(pc.and_(pc.greater_equal(times, lo), pc.less(times, floor)), FALSE)
        if not early.true_count:
            return times, None
        if pa.types.is_string(values.type):
            guessed = self._epochs_of_text(values, 0)
        else:
            guessed = self._epochs(values, 0)
        given = next((f for f, u in EPOCH_UNITS.items() if u == unit and unit != 0), None)
        notes: list[str | None] = [None] * len(times)
        for i in pc.indices_nonzero(early).to_pylist():
            read, other = times[i].as_py(), guessed[i].as_py()
            v = shown(text[i].as_py())
            if given is not None and other is not None and other != read:
                notes[i] = (
                    f"event time '{v}' is {_iso(read)} read as {given}, but its digits are "
                    f"those of a coarser unit ({_iso(other)}): not used (give the unit they "
                    "have, e.g. --time-format epoch, or an --earliest before 1973-03-03 to "
                    "read them as given)"
                )
            else:
                notes[i] = (
                    f"event time '{v}' is {_iso(read)} as an epoch, before 1973-03-03: so "
                    "small a number is more likely a count (an uptime, a duration) than a "
                    "time: not used (give an --earliest before 1973-03-03 to read it as one)"
                )
        return pc.if_else(early, scalar(None, EVENT_TIME), times), notes

    def _strings(
        self, text: pa.Array, fmts: tuple[str | tuple[str, ...], ...], year_base: datetime | None
    ) -> tuple[pa.Array, pa.Array, pa.Array | None, list[str | None] | None]:
        n = len(text)
        shown = text
        if not fmts:
            try:  # ISO 8601 with a zone everywhere: Arrow's own parser, fastest
                return _to_utc(pc.cast(text, EVENT_TIME)), shown, None, None
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        if not fmts or ISO8601 in fmts:
            # After the cast above, which reads no Go time: the regex is 3x the cast's CPU
            # over a column of ISO times (70 against 22 ms per 1M values).
            text = _go_times(text)
        first = (fmts or (ISO8601,))[0]
        fast = _arrow_first_format(text, first) if isinstance(first, str) else None
        if fast is not None:  # the first format reads every value: no row goes further
            return fast, shown, None, None
        table = pa.Table.from_arrays([text], names=["s"])
        ambiguous = None
        if not fmts or any(isinstance(f, tuple) for f in fmts):
            times, ambiguous = self._in_order(
                table, n, fmts or (ISO8601, *DEFAULT_FORMATS), year_base
            )
            numeric = pc.fill_null(pc.match_substring_regex(text, _NUMERIC), FALSE)
            return times, shown, pc.and_(numeric, pc.is_null(times)), ambiguous
        epoch_units = [EPOCH_UNITS[f] for f in fmts if f in EPOCH_UNITS]
        times = self._first_of(table, [f for f in fmts if f not in EPOCH_UNITS], year_base)
        numeric = pc.fill_null(pc.match_substring_regex(text, _NUMERIC), FALSE)
        if epoch_units:
            as_number = pc.if_else(numeric, text, scalar(None, pa.string()))
            notes = None
            for unit in epoch_units:
                epochs, found = self._epoch_floor(
                    as_number, unit, self._epochs_of_text(as_number, unit), shown
                )
                taken = pc.and_(pc.is_null(times), pc.is_valid(epochs))
                notes = _either(notes, found) if found is not None else notes
                times = pc.if_else(taken, epochs, times)
            if notes is not None:  # a time an earlier format read has no note
                read = pc.is_valid(times).to_pylist()
                notes = [None if t else n for t, n in zip(read, notes, strict=True)]
            return times, shown, None, notes
        # A numeric string no format read is not guessed to be an epoch: say why instead.
        unread_numbers = pc.and_(numeric, pc.is_null(times))
        return times, shown, unread_numbers, None

    def _in_order(
        self,
        table: pa.Table,
        n: int,
        fmts: Sequence[str | tuple[str, ...]],
        year_base: datetime | None,
    ) -> tuple[pa.Array, list[str | None] | None]:
        """``fmts`` in order (without ``--time-format``: ISO 8601, then
        :data:`DEFAULT_FORMATS`), each reading the texts none before it read; a tuple of
        layouts reads them as :meth:`start_file` says."""
        steps: list[tuple[tuple[str, ...], bool]] = []
        for f in fmts:  # (formats tried in order, or layouts of one tuple)
            if isinstance(f, tuple):
                steps.append((f, True))
            elif not steps or steps[-1][1]:
                steps.append(((f,), False))
            else:
                steps[-1] = ((*steps[-1][0], f), False)
        text = _whole(table.column(0))
        times = pa.nulls(n, EVENT_TIME)
        taken = pc.is_null(text)  # read, or read as different dates: no later step's
        notes: list[str | None] | None = None
        for step, layouts in steps:
            left = pc.invert(taken)
            m = left.true_count
            if not m:
                break
            rest = pa.Table.from_arrays([text.filter(left)], names=["s"])
            if not layouts:
                times = pc.replace_with_mask(times, left, self._first_of(rest, step, year_base))
                taken = pc.is_valid(times)
                continue
            if not pc.any(pc.match_substring_regex(rest.column(0), r"^\s*[0-9]")).as_py():
                continue  # each layout of a tuple starts with a number ('Nov  7' none)
            read = {}
            for f in step:
                sql = self._format_sql(f, year_base)
                if f in _SHAPES:
                    sql = f"CASE WHEN regexp_matches(s, '{_SHAPES[f]}') THEN {sql} END"
                read[f] = self._sql(rest, f"SELECT {sql} FROM t", m)
            inside = {f: self._inside(c) for f, c in read.items()}
            some = functools.reduce(pc.or_, inside.values())
            possible = self._layouts.get(step, step)
            if pc.any(some).as_py():
                # A layout stays possible while it reads every text of the shape (one any
                # layout reads inside the window) inside the window.
                possible = tuple(
                    f for f in possible if pc.all(pc.or_(pc.invert(some), inside[f])).as_py()
                )
                if len(possible) > 1:
                    possible = self._in_sequence(
                        step, possible, {f: read[f] for f in possible}, some
                    )
                self._layouts[step] = possible
            if len(possible) == 1:
                times = pc.replace_with_mask(times, left, read[possible[0]])
                taken = pc.is_valid(times)
                continue
            candidates = possible or step
            readers = functools.reduce(
                pc.add, (pc.cast(pc.is_valid(read[f]), pa.int8()) for f in candidates)
            )
            # A text one layout alone reads, outside the window: the window says why. A text
            # every layout reads as one instant ('11/11/11 10:00:00') is no ambiguity.
            alone = pc.and_(pc.invert(some), pc.equal(readers, 1))
            first = read[candidates[0]]
            agree = functools.reduce(
                pc.and_, (pc.fill_null(pc.equal(read[f], first), FALSE) for f in candidates)
            )
            settled = pc.or_(alone, agree)
            if pc.any(settled).as_py():
                only = pc.coalesce(*(read[f] for f in candidates))
                got = pc.if_else(settled, only, pa.nulls(m, EVENT_TIME))
                times = pc.replace_with_mask(times, left, got)
            any_read = pc.and_not(
                functools.reduce(pc.or_, (pc.is_valid(c) for c in read.values())), settled
            )
            if not pc.any(any_read).as_py():
                taken = pc.is_valid(times)
                continue
            notes = notes or [None] * n
            rows = pc.indices_nonzero(left).to_pylist()
            shape = rest.column(0)
            for i in pc.indices_nonzero(any_read).to_pylist():
                readings = [
                    (f, read[f][i].as_py()) for f in (possible or step) if read[f][i].is_valid
                ]
                notes[rows[i]] = _ambiguous(shape[i].as_py(), readings, contradicted=not possible)
            taken = pc.or_(pc.is_valid(times), pc.replace_with_mask(taken, left, any_read))
        return times, notes

    def _in_sequence(
        self,
        step: tuple[str, ...],
        possible: tuple[str, ...],
        read: dict[str, pa.Array],
        some: pa.Array,
    ) -> tuple[str, ...]:
        """Of ``possible`` layouts, each of which reads every text of ``some`` inside the
        window, those that no two consecutive such texts of the file rule out: a layout that
        puts them :data:`APART` or more apart where another puts them less than :data:`NEAR`
        apart. A line at 23:59 and the next at 00:01 crossed a midnight: read the other way
        round, those two texts are a year (yy/MM/dd against dd/MM/yy) or a month (dd/MM
        against MM/dd) apart, and a log idle that long to within hours of it is not
        believed. The last text of one chunk and the first of the next are consecutive too."""
        last = self._last.get(step, {})
        micros = {}
        for f in possible:
            us = read[f].filter(some).cast(pa.int64())
            before = last.get(f)
            if before is not None:
                us = pa.concat_arrays([array_of([before], pa.int64()), us])
            micros[f] = us
        self._last[step] = {f: us[-1].as_py() for f, us in micros.items()}
        if len(micros[possible[0]]) < 2:
            return possible  # one time of the shape in the file so far: nothing to pair
        gaps = {
            f: pc.abs(pc.subtract(us.slice(1), us.slice(0, len(us) - 1)))
            for f, us in micros.items()
        }
        near = scalar(NEAR // timedelta(microseconds=1), pa.int64())
        apart = scalar(APART // timedelta(microseconds=1), pa.int64())
        close = functools.reduce(pc.or_, (pc.less(g, near) for g in gaps.values()))
        kept = tuple(
            f
            for f in possible
            if not pc.any(pc.and_(pc.greater_equal(gaps[f], apart), close)).as_py()
        )
        return kept or possible

    def _first_of(
        self, table: pa.Table, fmts: Sequence[str], year_base: datetime | None
    ) -> pa.Array:
        """Each text read by the first of ``fmts`` that reads it. Runs of formats with a year
        and of formats without one are read apart, in order, each on the texts no run before
        it read (what one COALESCE of them all gives), so the newest time read without a
        year is known (:meth:`check_year`)."""
        n = table.num_rows
        runs = [
            (yearless, list(group))
            for yearless, group in itertools.groupby(
                fmts, key=lambda f: self.rules.year is None and not has_year(f)
            )
        ]
        if len(runs) <= 1 and not (runs and runs[0][0]):
            sql = ", ".join(self._format_sql(f, year_base) for f in fmts) or "NULL::TIMESTAMPTZ"
            return self._sql(table, f"SELECT COALESCE({sql}) FROM t", n)
        times = pa.nulls(n, EVENT_TIME)
        for yearless, group in runs:
            left = pc.is_null(times)
            m = left.true_count
            if not m:
                break
            rest = table if m == n else table.filter(left)
            sql = ", ".join(self._format_sql(f, year_base) for f in group)
            read = self._sql(rest, f"SELECT COALESCE({sql}) FROM t", m)
            if yearless:
                self._note_yearless(read)
            times = read if m == n else pc.replace_with_mask(times, left, read)
        return times

    def _note_yearless(self, times: pa.Array) -> None:
        newest = pc.max(times).as_py()
        if newest is None:
            return
        with self._lock:  # a text chunk's slices are read side by side
            if self._newest_yearless is None or newest > self._newest_yearless:
                self._newest_yearless = newest

    def _inside(self, times: pa.Array) -> pa.Array:
        """Which instants are read and inside the plausible window."""
        lo, hi = scalar(self.earliest, EVENT_TIME), scalar(self.latest, EVENT_TIME)
        return pc.fill_null(pc.and_(pc.greater_equal(times, lo), pc.less_equal(times, hi)), FALSE)

    def _format_sql(self, fmt: str, year_base: datetime | None) -> str:
        if fmt == ISO8601:
            # DuckDB's cast would read '17/06/09' as the year 17: only ISO-shaped text.
            return (
                f"CASE WHEN NOT regexp_matches(s, '{_ISO_START}') OR regexp_matches(s, "
                f"'{self._abbreviation_regex().pattern}') OR regexp_matches(s, "
                f"'{_POSIX_SIGN}') THEN NULL "
                f"WHEN regexp_matches(s, '{_ISO_NAIVE}') "
                "THEN timezone('UTC', TRY_CAST(trim(s) AS TIMESTAMP)) "
                "ELSE TRY_CAST(trim(s) AS TIMESTAMPTZ) END"
            )
        if re.search(r"(?<!%)(?:%%)*%Z", fmt):
            return (
                f"CASE WHEN NOT regexp_matches(s, '{self._abbreviation_regex().pattern}') "
                f"THEN {self._format_sql_read(fmt, year_base)} END"
            )
        return self._format_sql_read(fmt, year_base)

    def _format_sql_read(self, fmt: str, year_base: datetime | None) -> str:
        q = fmt.replace("'", "''")
        if has_year(fmt):
            # One try_strptime per format: with a list of formats, DuckDB 1.5.5 carried one
            # row's zone offset over to the next row.
            nanos = _nanoseconds(q)
            if nanos is not None:
                # DuckDB's %f reads at most 6 digits, Arrow's path (and the presets' patterns)
                # 1 to 9: %n reads 1 to 9 and cuts to the microsecond as Arrow's path does,
                # but only within the years of 64-bit nanoseconds, so it comes second.
                return (
                    f"COALESCE(try_strptime(trim(s), '{q}')::TIMESTAMPTZ, "
                    f"try_strptime(trim(s), '{nanos}')::TIMESTAMPTZ)"
                )
            return f"try_strptime(trim(s), '{q}')::TIMESTAMPTZ"
        if self.rules.year is not None:
            return f"try_strptime(trim(s) || ' {self.rules.year}', '{q} %Y')::TIMESTAMPTZ"
        base = year_base or self.now
        y = base.year
        limit = (base + FUTURE_SLACK).strftime("%Y-%m-%d %H:%M:%S")
        after = f"try_strptime(trim(s) || ' {y + 1}', '{q} %Y')::TIMESTAMPTZ"
        this = f"try_strptime(trim(s) || ' {y}', '{q} %Y')::TIMESTAMPTZ"
        prev = f"try_strptime(trim(s) || ' {y - 1}', '{q} %Y')::TIMESTAMPTZ"
        # The latest year that puts the time before the limit: the next one too, for a host
        # east of UTC whose 'Jan  1 00:30' (local) was written at 23:30 UTC on Dec 31. Feb 29
        # in a year that has none is no date: the year before may have it.
        return (
            f"CASE WHEN {after} <= TIMESTAMPTZ '{limit}+00' THEN {after} "
            f"WHEN {this} IS NULL OR {this} > TIMESTAMPTZ '{limit}+00' THEN {prev} "
            f"ELSE {this} END"
        )

    def _abbreviation_regex(self) -> re.Pattern[str]:
        """A word DuckDB reads as a zone written in capitals (BST, CST; not UTC or GMT)."""
        if self._abbreviations is None:
            found = (
                self._cursor()
                .execute(
                    "SELECT list(name ORDER BY name) FROM pg_timezone_names() "
                    "WHERE regexp_matches(name, '^[A-Z]{2,5}$')"
                )
                .fetchone()
            )
            words = [w for w in (found[0] if found else None) or [] if w not in _NOT_ABBREVIATIONS]
            # A word that is part of a zone name is none: after a '/' (Australia/ACT), or
            # with digits after it (PST8PDT, EST5EDT: zones with their rules).
            self._abbreviations = re.compile(
                r"(?i)(?:^|[^A-Za-z/])(" + "|".join(words or [r"[^\s\S]"]) + r")(?:[^A-Za-z0-9]|$)"
            )
        return self._abbreviations

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # A DuckDB connection runs one query at a time; its cursors share the database (and
        # its global settings) and run side by side.
        with self._lock:
            if self._con is None:
                self._con = lake_duckdb.connect(threads=1)
            me = threading.get_ident()
            cursor = self._cursors.get(me)
            if cursor is None:
                cursor = self._cursors[me] = self._con.cursor()
            return cursor

    def _sql(self, t: pa.Table, sql: str, n: int) -> pa.Array:
        import duckdb  # only formats need it: an ingest of ISO times starts without it

        con = self._cursor()
        try:
            with lake_duckdb.arrow_view(con, "t", t):
                out = con.execute(sql).to_arrow_table().column(0)
        except duckdb.Error:
            return pa.nulls(n, EVENT_TIME)
        return _to_utc(out.combine_chunks() if out.num_chunks != 1 else out.chunk(0))

    # -- the window ------------------------------------------------------------------

    def _window(
        self,
        times: pa.Array,
        text: pa.Array | None,
        unread_numbers: pa.Array | None,
        ambiguous: list[str | None] | None = None,
    ) -> EventTimes:
        n = len(times)
        lo = scalar(self.earliest, EVENT_TIME)
        hi = scalar(self.latest, EVENT_TIME)
        if n and unread_numbers is None and not times.null_count and times.type == EVENT_TIME:
            # Every record has a time (the common case): when the earliest and the latest
            # are inside the window, none is refused or counted, which one min_max tells
            # (the masks below were a dozen kernels, most of a small file's event times).
            low, high = pc.min_max(times).values()
            if lo.value <= low.value and high.value <= hi.value:
                return EventTimes(times, None, Counter())
        early = pc.fill_null(pc.less(times, lo), FALSE)
        late = pc.fill_null(pc.greater(times, hi), FALSE)
        bad = pc.or_(early, late)
        no_text = (
            pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), scalar("", pa.string())), TRUE)
            if text is not None
            else pc.is_null(times)
        )
        unreadable = pc.and_(pc.is_null(times), pc.invert(no_text))
        counts: Counter[str] = Counter()
        kinds = {
            "before_earliest": early,
            "after_latest": late,
            "no_value": pc.and_(pc.is_null(times), no_text),
        }
        if unread_numbers is not None:
            unread_numbers = pc.fill_null(unread_numbers, FALSE)
            kinds["number_not_epoch"] = unread_numbers
            unreadable = pc.and_not(unreadable, unread_numbers)
        notes = array_of(ambiguous, pa.string()) if ambiguous is not None else None
        if notes is not None:
            kinds["ambiguous"] = pc.and_(unreadable, pc.is_valid(notes))
            unreadable = pc.and_not(unreadable, pc.is_valid(notes))
        kinds["unreadable"] = unreadable
        errors: list[str | None] | None = None
        reasons = pa.nulls(n, pa.string())
        for kind, mask in kinds.items():
            k = pc.sum(mask).as_py() or 0
            if not k:
                continue
            counts[kind] += k
            reasons = pc.if_else(mask, scalar(kind, pa.string()), reasons)
            if kind == "no_value":
                continue
            if errors is None:
                errors = [None] * n
            shown = text if text is not None else pc.cast(times, pa.string())
            for i in pc.indices_nonzero(mask).to_pylist():
                if kind == "ambiguous" and ambiguous is not None:
                    errors[i] = ambiguous[i]
                    continue
                errors[i] = self._message(kind, shown[i].as_py())
        if pc.any(bad).as_py():
            times = pc.if_else(bad, scalar(None, EVENT_TIME), times)
        return EventTimes(times, errors, counts, reasons if counts else None)

    def _message(self, kind: str, value: str | None) -> str:
        v = shown(value)
        if kind == "before_earliest":
            return (
                f"event time '{v}' is before {_day(self.earliest)}: not used (widen the "
                "window with --earliest)"
            )
        if kind == "after_latest":
            if self.rules.latest is None:
                return (
                    f"event time '{v}' is more than a day after the ingest: not used (widen "
                    "the window with --latest)"
                )
            return f"event time '{v}' is after {_day(self.latest)}: not used (see --latest)"
        if kind == "number_not_epoch":
            return (
                f"event time '{v}' is a number, not read as an epoch: give --time-format "
                "epoch (or epoch_ms, epoch_us, epoch_ns) or a format"
            )
        if re.search(_LEAP_SECOND, v):
            return (
                f"event time '{v}' is a leap second (second 60), which no timestamp holds: "
                "not used (the record keeps its text in _raw)"
            )
        go = _go_conflict(v)
        if go is not None:
            offset, zone, year = go
            what = (
                "another offset"
                if zone[0] in "+-"
                else f"no zone's abbreviation at that offset in {year}"
            )
            return (
                f"event time '{v}' gives the offset {offset} and the zone '{zone}', {what}: "
                "not used (the two disagree; the record keeps its text in _raw)"
            )
        sign = re.search(_POSIX_SIGN, v)
        if sign and re.match(_ISO_START, v):
            return (
                f"event time '{v}' gives its zone as '{sign.group(1)}', whose sign is read both "
                "ways (as written, +01:00 for UTC+1; by POSIX TZ rules, an hour behind UTC): not "
                "used (the lake reads an offset, +01:00, or a zone name, Etc/GMT-1)"
            )
        word = re.search(r"[A-Za-z]{2}", v) and self._abbreviation_regex().search(v)
        if word:
            return (
                f"event time '{v}' gives its zone as '{word.group(1)}', an abbreviation that "
                "stands for more than one offset (BST: British or Bangladesh): not used (the "
                "lake reads an offset, +01:00, or a zone name, Europe/London)"
            )
        if re.fullmatch(_FEB_29_NO_YEAR, v):
            if self.rules.year is not None:
                return (
                    f"event time '{v}' is no date in {self.rules.year} (--year): not used "
                    "(give the log's year with --year)"
                )
            return (
                f"event time '{v}' has no year, and the file's last modification puts it in "
                "a year without Feb 29: not used (give the log's year with --year)"
            )
        return f"event time '{v}' matches no time format: give --time-format"


_ARROW_DIRECTIVES = set("YmdHMSy")
"""Directives Arrow's strptime reads faster than DuckDB (measured in CPU time on 500,000
log4j times: 0.15 s vs 0.21 s); with names or zones (%b, %z) DuckDB is faster."""


def _arrow_first_format(text: pa.Array, fmt: str) -> pa.Array | None:
    """Every value read by ``fmt`` with Arrow's vectorised parser, or None when some value is
    not (or ``fmt`` is beyond what Arrow reads alike): then DuckDB tries the formats in
    order. Only a shortcut: where both read a value they give the same instant."""
    values = pc.utf8_trim_whitespace(text)
    present = len(values) - values.null_count
    if not present:
        return None
    if fmt == ISO8601:
        if not pc.all(pc.fill_null(pc.match_substring_regex(values, _ISO_START), TRUE)).as_py():
            return None
        try:
            return _to_utc(pc.cast(values, pa.timestamp("us")))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    base, frac = fmt, None
    if fmt[-3:] in (",%f", ".%f"):
        base, frac = fmt[:-3], fmt[-3]
    directives = [base[i + 1] for i in range(len(base) - 1) if base[i] == "%"]
    if not has_year(base) or not set(directives) <= _ARROW_DIRECTIVES:
        return None
    micros = None
    if frac is not None:
        parts = pc.split_pattern(values, frac, max_splits=1, reverse=True)
        if not pc.all(pc.equal(pc.list_value_length(parts), 2)).as_py():
            return None
        values = pc.list_element(parts, 0)
        digits = pc.list_element(parts, 1)
        if not pc.all(pc.match_substring_regex(digits, r"^[0-9]{1,9}$")).as_py():
            return None
        micros = pc.cast(pc.utf8_rpad(pc.utf8_slice_codeunits(digits, 0, 6), 6, "0"), pa.int64())
    try:
        parsed = pc.strptime(values, format=base, unit="us", error_is_null=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if parsed.null_count != values.null_count:
        return None
    if micros is not None:
        parsed = pc.add(parsed.cast(pa.int64()), micros).cast(parsed.type)
    return _to_utc(parsed)


def _ambiguous(
    value: str | None, readings: list[tuple[str, datetime]], *, contradicted: bool
) -> str:
    """The ``_error`` of a time that layouts read as different dates."""
    each = ", ".join(f"'{f}' {t.strftime('%Y-%m-%d')}" for f, t in readings)
    if contradicted:
        return (
            f"event time '{shown(value)}' reads as {each}, and no one of these layouts reads "
            "every time of the file written so: not used (give the layout with --time-format)"
        )
    return (
        f"event time '{shown(value)}' reads as {each}, and no time of the file read so far "
        "rules out all but one: not used (a time read later that does settles only the times "
        "after it: give the layout with --time-format)"
    )


_FRACTION = re.compile(r"(?<!%)((?:%%)*)%f")


def _nanoseconds(fmt: str) -> str | None:
    """``fmt`` with its fraction read as DuckDB's ``%n`` (1 to 9 digits), or None without one."""
    changed = _FRACTION.sub(r"\1%n", fmt)
    return changed if changed != fmt else None


def shown(value: str | None) -> str:
    """A value as an ``_error`` text quotes it: stripped, cut to :data:`SHOWN_CHARS`."""
    v = (value or "").strip()
    return v[:SHOWN_CHARS] + "..." if len(v) > SHOWN_CHARS else v


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _day(t: datetime) -> str:
    if t.hour == t.minute == t.second == t.microsecond == 0:
        return t.date().isoformat()
    return t.isoformat()


def _nested_kind(t: pa.DataType) -> str | None:
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "an object"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "a list"
    return None


def _as_text(values: pa.Array) -> pa.Array:
    try:
        return values.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # An object or a list: its JSON text, as the record wrote it (but for spacing).
        return pa.array(
            [
                "" if v is None else json.dumps(v, default=str, separators=(",", ":"))
                for v in values.to_pylist()
            ],
            pa.string(),
        )


def _go_times(text: pa.Array) -> pa.Array:
    """Go's times read by their offset ('... +0100 CET' as '...+01:00'), the abbreviation
    after it left out where it agrees with the offset or names no zone the lake knows; null
    where it names a zone that is never at that offset (:func:`_go_conflict`)."""
    go = pc.fill_null(pc.match_substring_regex(text, _GO_TIME), FALSE)
    if not go.true_count:
        return text
    read = pc.replace_substring_regex(text, _GO_TIME, r"\1\2:\3")
    if any(_go_conflict(v) for v in pc.unique(text.filter(go)).to_pylist()):
        bad = array_of([_go_conflict(v) is not None for v in text.to_pylist()], pa.bool_())
        read = pc.if_else(pc.fill_null(bad, FALSE), scalar(None, pa.string()), read)
    return pc.if_else(go, read, text)


def _go_conflict(value: str | None) -> tuple[str, str, int] | None:
    """(offset, zone, year) when a Go time's abbreviation is a zone's that is never at its
    offset that year ('+0100 EST'); None when it agrees, is the offset again, or is no
    abbreviation the tz database has."""
    found = re.match(_GO_TIME, value or "")
    if found is None:
        return None
    sign, hh, mm = found.group(2)[0], found.group(2)[1:], found.group(3)
    seconds = (int(hh) * 3600 + int(mm) * 60) * (-1 if sign == "-" else 1)
    zone, year = found.group(4), int(found.group(1)[:4])
    if zone[0] in "+-":
        written = int(zone[1:3]) * 3600 + int(zone[3:5] or 0) * 60
        agrees = written * (-1 if zone[0] == "-" else 1) == seconds
    else:
        known = _abbreviation_offsets(year).get(zone)
        agrees = known is None or seconds in known
    return None if agrees else (found.group(2) + mm, zone, year)


@functools.cache
def _abbreviation_offsets(year: int) -> dict[str, frozenset[int]]:
    """Each abbreviation the tz database gives a zone in ``year`` (mid-January and mid-July:
    winter and summer on either side of the equator), with the offsets it stands for."""
    import zoneinfo

    found: dict[str, set[int]] = {}
    for name in zoneinfo.available_timezones():
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (ValueError, OSError):
            continue
        for month in (1, 7):
            t = datetime(max(1, min(year, 9998)), month, 15, 12, tzinfo=UTC).astimezone(zone)
            offset = t.utcoffset()
            if t.tzname() and offset is not None:
                found.setdefault(t.tzname() or "", set()).add(int(offset.total_seconds()))
    return {k: frozenset(v) for k, v in found.items()}


def _whole(values: pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)


def _to_utc(arr: pa.Array) -> pa.Array:
    if arr.type.tz is None:
        arr = pc.assume_timezone(arr, "UTC")
    return arr.cast(EVENT_TIME)


def _unjson(text: str | None) -> str | None:
    if text is None or not text.startswith('"'):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _instant_object(values: pa.Array) -> pa.Array | None:
    """The instants of a struct column that is one of :data:`INSTANT_OBJECTS` (nanoseconds
    cut to the microsecond; null where the seconds are absent or the nanoseconds are not
    0 to 999,999,999), or None when it is none of them."""
    if not pa.types.is_struct(values.type):
        return None
    names = {values.type.field(i).name for i in range(values.type.num_fields)}
    for secs, nanos in INSTANT_OBJECTS:
        if secs not in names or not names <= {secs, nanos}:
            continue
        try:
            s = pc.struct_field(values, secs).cast(pa.int64())
            n = (
                pc.struct_field(values, nanos).cast(pa.int64())
                if nanos in names
                else pa.nulls(len(values), pa.int64())
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # seconds with a fraction, or text: no instant of this shape
        zero = scalar(0, pa.int64())
        n = pc.fill_null(n, zero)
        valid = pc.and_(pc.greater_equal(n, zero), pc.less(n, scalar(1_000_000_000, pa.int64())))
        # Seconds beyond any timestamp are an instant far outside the window (never a raise);
        # within 2^62 microseconds of it, so adding under a second stays inside int64.
        whole = EventTimeParser._epochs(s, EPOCH_UNITS["epoch"])
        micros = pc.divide(n, scalar(1000, pa.int64())).cast(pa.duration("us"))
        return pc.if_else(valid, pc.add(whole, micros), scalar(None, EVENT_TIME))
    return None


def _instant_text(values: pa.Array) -> pa.Array:
    """An instant object's JSON text, as :func:`_as_text` writes it, made by Arrow: that
    one's ``json.dumps`` of each record took 100 times what reading an ISO text does, for a
    text shown only in the ``_error`` of a record outside the window."""
    t = values.type
    parts = [scalar("{", pa.string())]
    for i in range(t.num_fields):
        name = t.field(i).name
        field = pc.fill_null(
            pc.struct_field(values, i).cast(pa.string()), scalar("null", pa.string())
        )
        parts += [scalar(("," if i else "") + json.dumps(name) + ":", pa.string()), field]
    parts.append(scalar("}", pa.string()))
    text = pc.binary_join_element_wise(*parts, scalar("", pa.string()))
    return pc.if_else(values.is_valid(), text, scalar("", pa.string()))


def _object_micros(text: str | None) -> int | None:
    """Microseconds since the epoch of a JSON object that is one of :data:`INSTANT_OBJECTS`,
    or None."""
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    for secs, nanos in INSTANT_OBJECTS:
        # Whole numbers written with a fraction (1705831200.0) are read as the struct path's
        # cast to int64 reads them: the same object is one instant in either column.
        s, n = _whole_number(value.get(secs)), _whole_number(value.get(nanos, 0))
        if set(value) <= {secs, nanos} and s is not None and n is not None:
            if not 0 <= n < 1_000_000_000:
                return None
            # Beyond any timestamp: an instant far outside the window, as _epochs makes it.
            return max(-(2**62), min(2**62, s * 1_000_000 + n // 1000))
    return None


def _whole_number(value: object) -> int | None:
    """``value`` as an int when it is a whole JSON number (``7`` or ``7.0``), else None."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def _either(
    first: list[str | None] | None, second: list[str | None] | None
) -> list[str | None] | None:
    """Two lists of ``_error`` notes as one (the first's where both have one)."""
    if first is None or second is None:
        return first if second is None else second
    return [a if a is not None else b for a, b in zip(first, second, strict=True)]


def join_fields(columns: Sequence[pa.Array]) -> pa.Array:
    """Several time fields (``date`` and ``time``) as one text: joined by a space; null when
    any part is null."""
    texts = [c.cast(pa.string()) for c in columns]
    if len(texts) == 1:
        return texts[0]
    return pc.binary_join_element_wise(*texts, " ")


def event_dates(times: pa.Array) -> pa.Array:
    """The UTC date of each event time (the partition column)."""
    return pc.cast(times, pa.date32())
