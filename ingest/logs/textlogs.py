"""Text logs: regex patterns with named groups, built-in presets, multi-line records.

A pattern is *searched* in each record (anchor it with ``^...$`` for a full match); each
named group becomes a string column (an optional group that did not take part gives an
empty string). Presets also give their columns types: integers for HTTP status, bytes,
syslog priority and pid ("-" is null), and the time parsed to timestamp[us, UTC] (syslog
lines carry no year: the year of the ingest is used, or the year before when that would put
the line more than a day in the future).

Patterns run on RE2 (Arrow's regex engine, vectorised); a pattern RE2 refuses (look-around,
back-references) runs on Python's ``re`` instead, record by record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from ingest.exceptions import LogFormatError
from ingest.logs import inference as inf

MAX_RECORD_LINES = 10_000
"""Lines joined into one multi-line record at most; the rest starts a new record (flagged)."""
RECORD_CUT_ERROR = f"multi-line record longer than {MAX_RECORD_LINES} lines: continued in the next"

_HTTP_REQUEST = (
    r'"(?:(?P<method>[A-Z]+) (?P<path>[^" ]*)(?: (?P<protocol>[^"]*))?|[^"]*)" '
    r"(?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r'(?: "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
)


@dataclass(frozen=True)
class Preset:
    """A named pattern, the types of its groups, and how to read its time."""

    name: str
    pattern: str
    ints: tuple[str, ...] = ()
    time: str | None = None
    time_format: str | None = None
    optional: tuple[str, ...] = ()  # groups whose empty string means "absent" (null)
    multiline_start: str | None = None
    alternates: tuple[tuple[str, str], ...] = ()  # (column, group): group fills the column's nulls


PRESETS: dict[str, Preset] = {
    "apache-combined": Preset(
        "apache-combined",
        r"^(?P<client_ip>\S+) (?P<ident>\S+) (?P<auth>\S+) \[(?P<time>[^\]]+)\] " + _HTTP_REQUEST,
        ints=("status", "bytes"),
        time="time",
        time_format="%d/%b/%Y:%H:%M:%S %z",
        optional=("method", "path", "protocol", "referrer", "agent"),
    ),
    "nginx-combined": Preset(
        "nginx-combined",
        r"^(?P<client_ip>\S+) - (?P<remote_user>\S+) \[(?P<time>[^\]]+)\] " + _HTTP_REQUEST,
        ints=("status", "bytes"),
        time="time",
        time_format="%d/%b/%Y:%H:%M:%S %z",
        optional=("method", "path", "protocol", "referrer", "agent"),
    ),
    "syslog": Preset(
        "syslog",
        r"^(?:<(?P<priority>\d{1,3})>)?(?P<time>[A-Z][a-z]{2} [ 0-9]\d \d{2}:\d{2}:\d{2}) "
        r"(?P<host>\S+) (?P<program>[^:\[\s]+)(?:\[(?P<pid>\d+)\])?: ?(?P<message>(?s:.*))$",
        ints=("priority", "pid"),
        time="time",
        time_format="syslog",
        optional=("priority", "pid"),
    ),
    "log4j": Preset(
        "log4j",
        r"^(?P<time>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[,.]\d{1,9})?)\s+"
        r"(?:\[(?P<thread>[^\]]*)\]\s+)?(?P<level>TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\s+"
        r"(?:\[(?P<thread_after_level>[^\]]*)\]\s+)?(?P<logger>[^\s:]+)\s*(?:-|:)?\s?"
        r"(?P<message>(?s:.*))$",
        time="time",
        time_format="log4j",
        optional=("thread", "thread_after_level"),
        alternates=(("thread", "thread_after_level"),),
        multiline_start=r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}",
    ),
}


@dataclass(frozen=True)
class TextFormat:
    """How text records are cut and parsed: a pattern (with preset types) and a start regex."""

    pattern: str | None
    label: str
    preset: Preset | None
    multiline_start: str | None
    group_names: tuple[str, ...]

    @property
    def type(self) -> inf.Struct:
        fields = []
        hidden = {g for _, g in self.preset.alternates} if self.preset else set()
        for g in self.group_names:
            if g in hidden:
                continue
            t = inf.STRING
            if self.preset and g in self.preset.ints:
                t = inf.INT
            elif self.preset and g == self.preset.time:
                t = inf.TIMESTAMP
            fields.append((g, t))
        return inf.Struct(tuple(fields))


def text_format(
    *, pattern: str | None, preset: str | None, multiline_start: str | None
) -> TextFormat:
    """Check the options once, before any file is read. Raises LogFormatError."""
    if pattern and preset:
        raise LogFormatError("Give either --pattern or --preset, not both.")
    p = None
    if preset:
        p = PRESETS.get(preset)
        if p is None:
            raise LogFormatError(
                f"Unknown log preset '{preset}'; use one of: {', '.join(sorted(PRESETS))}."
            )
        pattern = p.pattern
    groups: tuple[str, ...] = ()
    if pattern:
        try:
            groups = tuple(re.compile(pattern).groupindex)
        except re.error as e:
            raise LogFormatError(f"The pattern '{pattern}' is not a valid regex: {e}.") from e
        if not groups:
            raise LogFormatError(
                f"The pattern '{pattern}' has no named group; name the parts to keep, e.g. "
                "(?P<status>\\d+)."
            )
    start = multiline_start or (p.multiline_start if p else None)
    if start:
        try:
            re.compile(start)
        except re.error as e:
            raise LogFormatError(f"The --multiline-start regex '{start}' is not valid: {e}.") from e
    label = f"preset '{preset}'" if preset else "the pattern"
    return TextFormat(pattern, label, p, start, groups)


# ---------------------------------------------------------------------------------------
# Multi-line records


class RecordAssembler:
    """Joins continuation lines onto the record they belong to, across chunks.

    Without a start regex every non-blank line is a record. With one, a record starts at a
    line the regex matches (searched) and takes every following line that does not; lines
    before the first start form a record of their own.
    """

    def __init__(self, start: str | None) -> None:
        self.start = start
        self._py = None
        if start:
            try:
                pc.match_substring_regex(pa.array([""]), start)
            except pa.ArrowInvalid:
                self._py = re.compile(start)
        self._lines: pa.StringArray | None = None  # held back: the last, maybe unfinished, record
        self._numbers: list[int] = []

    def feed(
        self, lines: pa.StringArray, numbers: list[int], blank: pa.BooleanArray
    ) -> tuple[pa.StringArray, list[int], list[str | None] | None]:
        """Complete records from these lines: texts, first line numbers, errors (or None)."""
        if not self.start:
            keep = pc.invert(blank)
            if pc.all(keep).as_py():
                return lines, numbers, None
            return (
                lines.filter(keep),
                [n for n, k in zip(numbers, keep.to_pylist(), strict=True) if k],
                None,
            )
        if self._lines is not None and len(self._lines):
            lines = pa.concat_arrays([self._lines, lines])
            numbers = self._numbers + list(numbers)
        starts = self._starts(lines)
        idx = pc.indices_nonzero(starts).to_pylist()
        if not idx or idx[0] != 0:
            idx = [0, *idx]
        self._lines, self._numbers = lines.slice(idx[-1]), numbers[idx[-1] :]
        return self._join(lines, numbers, idx, idx[-1])

    def flush(self) -> tuple[pa.StringArray, list[int], list[str | None] | None]:
        if self._lines is None or not len(self._lines):
            return pa.array([], pa.string()), [], None
        lines, numbers = self._lines, self._numbers
        self._lines, self._numbers = None, []
        return self._join(lines, numbers, [0], len(lines))

    def _starts(self, lines: pa.StringArray) -> pa.BooleanArray:
        if self._py is not None:
            return pa.array([bool(self._py.search(s)) for s in lines.to_pylist()], pa.bool_())
        return pc.fill_null(pc.match_substring_regex(lines, self.start), False)

    def _join(
        self, lines: pa.StringArray, numbers: list[int], idx: list[int], end: int
    ) -> tuple[pa.StringArray, list[int], list[str | None] | None]:
        bounds: list[int] = []
        errors: list[str | None] = []
        for a, b in zip(idx, [*idx[1:], end], strict=True):
            if a >= b:
                continue
            while b - a > MAX_RECORD_LINES:
                bounds.append(a)
                errors.append(RECORD_CUT_ERROR)
                a += MAX_RECORD_LINES
            bounds.append(a)
            errors.append(None)
        if not bounds:
            return pa.array([], pa.string()), [], None
        offsets = pa.array([*bounds, end], pa.int32())
        joined = pc.binary_join(pa.ListArray.from_arrays(offsets, lines), "\n")
        firsts = [numbers[a] for a in bounds]
        return joined, firsts, errors if any(errors) else None


# ---------------------------------------------------------------------------------------
# Parsing records


def parse_text(
    records: pa.StringArray, fmt: TextFormat, *, year: int | None = None
) -> tuple[pa.Table, list[str | None] | None]:
    """Columns of the format's named groups, and an error for each record that did not match."""
    n = len(records)
    if not fmt.pattern:
        return pa.Table.from_batches([], schema=pa.schema([])), None
    try:
        extracted = pc.extract_regex(records, fmt.pattern)
        matched = extracted.is_valid()
        columns = {g: extracted.field(g) for g in fmt.group_names}
    except pa.ArrowInvalid:
        columns, matched = _python_extract(records, fmt)
    ok = pc.all(matched).as_py() if n else True
    errors = None
    if not ok:
        reason = f"did not match {fmt.label}"
        errors = [None if m else reason for m in matched.to_pylist()]
    arrays = []
    fields = []
    for g, t in fmt.type.fields:
        col = columns[g]
        if not ok:
            col = pc.if_else(matched, col, pa.scalar(None, col.type))
        if fmt.preset and g in fmt.preset.optional:
            col = _empty_to_null(col)
            for target, alt in fmt.preset.alternates:
                if target == g:
                    col = pc.coalesce(col, _empty_to_null(columns[alt]))
        if t == inf.INT:
            col = _empty_to_null(pc.if_else(pc.equal(col, "-"), pa.scalar(None, pa.string()), col))
            col = pc.cast(col, pa.int64())
        elif t == inf.TIMESTAMP:
            col = _preset_time(col, fmt.preset, year)
        arrays.append(col)
        fields.append(inf.arrow_field(g, t))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), errors


def _empty_to_null(col: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)


def _python_extract(
    records: pa.StringArray, fmt: TextFormat
) -> tuple[dict[str, pa.Array], pa.BooleanArray]:
    rx = re.compile(fmt.pattern or "")
    cols: dict[str, list[str | None]] = {g: [] for g in fmt.group_names}
    matched = []
    for s in records.to_pylist():
        m = rx.search(s) if s is not None else None
        matched.append(m is not None)
        for g in fmt.group_names:
            cols[g].append((m.group(g) or "") if m else None)
    return {g: pa.array(v, pa.string()) for g, v in cols.items()}, pa.array(matched, pa.bool_())


def _preset_time(col: pa.Array, preset: Preset | None, year: int | None) -> pa.Array:
    assert preset is not None and preset.time_format is not None
    ts = pa.timestamp("us", tz="UTC")
    if preset.time_format == "log4j":
        col = pc.replace_substring(pc.replace_substring(col, ",", "."), "T", " ")
        parsed = pc.strptime(
            pc.utf8_slice_codeunits(col, 0, 19),
            format="%Y-%m-%d %H:%M:%S",
            unit="us",
            error_is_null=True,
        )
        frac = pc.utf8_slice_codeunits(col, 20, 26)
        frac = pc.utf8_rpad(frac, 6, "0")
        micros = pc.cast(pc.if_else(pc.equal(frac, "000000"), "0", frac), pa.int64())
        out = pc.add(pc.cast(parsed, pa.int64()), micros)
        return pc.assume_timezone(out.cast(pa.timestamp("us")), "UTC")
    if preset.time_format == "syslog":
        now = datetime.utcnow()
        y = year or now.year
        fixed = pc.replace_substring(col, "  ", " 0")
        parsed = pc.strptime(
            pc.binary_join_element_wise(fixed, pa.scalar(str(y)), " "),
            format="%b %d %H:%M:%S %Y",
            unit="us",
            error_is_null=True,
        )
        limit = pa.scalar(now + timedelta(days=1), pa.timestamp("us"))
        prev = pc.strptime(
            pc.binary_join_element_wise(fixed, pa.scalar(str(y - 1)), " "),
            format="%b %d %H:%M:%S %Y",
            unit="us",
            error_is_null=True,
        )
        parsed = pc.if_else(pc.greater(parsed, limit), prev, parsed)
        return pc.assume_timezone(parsed, "UTC")
    parsed = pc.strptime(col, format=preset.time_format, unit="us", error_is_null=True)
    if parsed.type.tz is None:
        return pc.assume_timezone(parsed, "UTC")
    return parsed.cast(ts)


def looks_like_json(sample: bytes) -> bool:
    """Auto-detection: the first non-blank line starts with ``{``."""
    for line in sample.split(b"\n"):
        s = line.strip().lstrip(b"\xef\xbb\xbf").strip()
        if s:
            return s.startswith(b"{")
    return True
