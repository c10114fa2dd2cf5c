"""Key=value log records: logfmt lines and the W3C Extended Log File Format (IIS).

Both give flat records whose keys become columns, typed from every record by the rules of
:mod:`ingest.logs.inference`, as JSON lines are. What a value is comes from how it is written,
one rule for both formats (:func:`scalar`): unquoted text that is a JSON number literal is a
number (``42`` an int, ``1.5`` a float; ``1.2ms``, ``007`` and ``0x1f`` stay text), ``true``
and ``false`` are booleans, anything else is a string; a quoted value is always a string. A
string that is an ISO 8601 instant with a zone is then a timestamp, as in JSON.

logfmt (brandur.org/logfmt; the grammar of Go's github.com/go-logfmt/logfmt decoder, which
Loki, Prometheus and logrus readers share): pairs ``key=value`` separated by spaces; a key is
any run of bytes above the space but ``=`` and ``"``; a value is unquoted (no space, ``=`` or
``"``) or quoted with JSON's escapes (``\\"``, ``\\\\``, ``\\n``, ``\\u00e9``); ``key=`` is the
empty string and a bare ``key`` is ``true``. A line with no ``key=value`` pair at all (a Go
panic's ``goroutine 1 [running]:``) is no logfmt record, and a line the decoder would stop at
(an unterminated quote, ``=`` or ``"`` inside an unquoted value, ``=`` with no key) fails:
both keep their text in ``_raw`` with the reason in ``_error``. A key given twice keeps its last
value, as a JSON line with a duplicate key does (:func:`ingest.logs.inference.parse_json_line`).

W3C Extended (www.w3.org/TR/WD-logfile; IIS, CloudFront): lines starting with ``#`` are
directives, not records (:class:`W3cFields` counts them); ``#Fields:`` names the values of the
lines after it, until the next ``#Fields:`` (IIS writes a new header block when it restarts).
Values are separated by spaces (tabs in CloudFront's files), ``-`` is an absent value, and a
value in double quotes (the draft's strings, ``""`` for a quote) is a string. IIS writes a
space inside ``cs(User-Agent)`` and other strings as ``+`` but a ``+`` the client sent as ``+``
too: the value is kept as written, since no reader can tell the two apart. Columns are named as
``#Fields:`` names them (``cs-uri-stem``, ``cs(User-Agent)``); ``date`` and ``time`` together
are the event time, UTC as the draft says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from ingest.logs import inference as inf

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""JSON's number grammar: what is a number in a JSON line is one here, and nothing else."""


def scalar(text: str) -> object:
    """The value of an unquoted token (see the module doc)."""
    if text == "true":
        return True
    if text == "false":
        return False
    if text[:1] in "-0123456789" and _NUMBER.fullmatch(text):
        return inf.parse_number(text)
    return text


# ---------------------------------------------------------------------------------------
# logfmt

NOT_LOGFMT = "not a logfmt line: no key=value pair"


def parse_logfmt(line: str) -> tuple[dict[str, object] | None, str | None]:
    """One logfmt line: ``(record, None)`` or ``(None, reason)``."""
    record: dict[str, object] = {}
    pairs = 0
    pos, n = 0, len(line)
    while True:
        while pos < n and line[pos] <= " ":
            pos += 1
        if pos >= n:
            break
        start = pos
        while pos < n and line[pos] > " " and line[pos] not in '="':
            pos += 1
        if pos < n and line[pos] == '"':
            return None, _at("unexpected '\"'", pos)
        if pos == start:  # "=" with no key before it
            return None, _at("unexpected '='", pos)
        key = line[start:pos]
        if pos >= n or line[pos] != "=":
            record.pop(key, None)  # the last value wins: keep the key's place at its last
            record[key] = True
            continue
        pos += 1
        pairs += 1
        record.pop(key, None)
        if pos >= n or line[pos] <= " ":
            record[key] = ""
            continue
        if line[pos] == '"':
            end, value, err = _quoted(line, pos)
            if err is not None:
                return None, err
            record[key] = value
            pos = end
            continue
        start = pos
        while pos < n and line[pos] > " ":
            if line[pos] in '="':
                return None, _at(f"unexpected '{line[pos]}' in an unquoted value", pos)
            pos += 1
        record[key] = scalar(line[start:pos])
    if not pairs:
        return None, NOT_LOGFMT
    return record, None


def _quoted(line: str, pos: int) -> tuple[int, str, str | None]:
    """The quoted value opening at ``pos``: ``(end, value, error)``."""
    i, n, escaped = pos + 1, len(line), False
    while i < n:
        c = line[i]
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            text = line[pos : i + 1]
            if "\\" not in text:
                return i + 1, text[1:-1], None
            try:
                return i + 1, json.loads(text), None
            except json.JSONDecodeError:
                return i + 1, "", _at("invalid escape in a quoted value", pos)
        i += 1
    return n, "", _at("unterminated quoted value", pos)


def _at(what: str, pos: int) -> str:
    return f"invalid logfmt: {what} at column {pos + 1}"


def looks_like_logfmt(lines: Sequence[str]) -> bool:
    """Auto-detection: the first non-blank line, and at least half of the ``lines`` holding a
    ``=``, are logfmt records that open with a ``key=value`` pair and hold two or more. (A
    Go panic's stack trace after a record holds no ``=``.) Text layouts open with a time, a
    level or a bracket, never ``key=``, so no preset's lines are taken."""
    first = next((line for line in lines if line.strip()), None)
    if first is None or not _logfmt_record(first):
        return False
    flags = [_logfmt_record(line) for line in lines if "=" in line]
    return 2 * sum(flags) >= len(flags)


def _logfmt_record(line: str) -> bool:
    head = line.lstrip().split(" ", 1)[0]
    if "=" not in head or head.startswith(("=", '"')):
        return False
    record, err = parse_logfmt(line)
    return err is None and record is not None and sum(v is not True for v in record.values()) >= 2


# ---------------------------------------------------------------------------------------
# W3C Extended Log File Format

_DIRECTIVES = ("#Software:", "#Version:", "#Date:", "#Fields:", "#Remark:", "#Start-Date:")
_TOKEN = re.compile(r'"((?:[^"]|"")*)"(?=[ \t]|$)|[^ \t]+')
W3C_DATE, W3C_TIME = "date", "time"
"""The fields whose values together are an entry's time (UTC)."""
NO_FIELDS = "no #Fields directive above this line: its values have no names"


def looks_like_w3c(lines: Sequence[str]) -> bool:
    """Auto-detection: the first non-blank line is one of the draft's directives."""
    for line in lines:
        if line.strip():
            return line.startswith(_DIRECTIVES)
    return False


class W3cFields:
    """The ``#Fields:`` in force while a W3C file is read line by line (across chunks)."""

    def __init__(self) -> None:
        self.fields: tuple[str, ...] | None = None
        self.directives = 0

    def directive(self, line: str) -> bool:
        """Whether ``line`` is a directive (then taken in: a ``#Fields:`` line is in force
        from the next line on)."""
        if not line.startswith("#"):
            return False
        self.directives += 1
        name, _, rest = line.partition(":")
        if name == "#Fields":
            self.fields = tuple(rest.split())
        return True

    def parse(self, line: str) -> tuple[dict[str, object] | None, str | None]:
        """One entry under the fields in force: ``(record, None)`` or ``(None, reason)``."""
        if self.fields is None:
            return None, NO_FIELDS
        values: list[object] = []
        for m in _TOKEN.finditer(line):
            quoted = m.group(1)
            if quoted is not None:
                values.append(quoted.replace('""', '"'))
            else:
                token = m.group(0)
                values.append(None if token == "-" else scalar(token))
        if len(values) != len(self.fields):
            return None, (
                f"{len(values)} values for the {len(self.fields)} fields of the #Fields "
                "directive in force"
            )
        return dict(zip(self.fields, values, strict=True)), None
