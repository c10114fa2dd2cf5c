"""Key=value log records: logfmt lines and the W3C Extended Log File Format (IIS).

Both become JSON object text, one object per record, which the JSON reader of
:mod:`ingest.logs.jsonl` types from every record (its fast reader over a whole chunk, the
drift ledger and the rules of :mod:`ingest.logs.inference` as for JSON lines); ``_raw`` keeps
the line as written. What a value is comes from how it is written, one rule for both formats
(:func:`scalar`): unquoted text that is a JSON number literal is that number (``42`` an int,
``1.5`` a float; ``1.2ms``, ``007`` and ``0x1f`` stay text), ``true`` and ``false`` are
booleans, anything else is a string; a quoted value is always a string. A string that is an
ISO 8601 instant with a zone is then a timestamp, as in JSON.

logfmt (brandur.org/logfmt; the grammar of Go's github.com/go-logfmt/logfmt decoder, which
Loki, Prometheus and logrus readers share): pairs ``key=value`` separated by spaces; a key is
any run of bytes above the space but ``=`` and ``"``; a value is unquoted (no space, ``=`` or
``"``) or quoted with JSON's escapes (``\\"``, ``\\\\``, ``\\n``, ``\\u00e9``); ``key=`` is the
empty string and a bare ``key`` is ``true``. A line with no ``key=value`` pair at all (a Go
panic's ``goroutine 1 [running]:``) is no logfmt record, and a line the decoder would stop at
(an unterminated quote, ``=`` or ``"`` inside an unquoted value, ``=`` with no key) fails; so
does a quoted value with text right after it (``a="x"y``, where Go's decoder starts a key;
no writer leaves out that space). Both keep their text in ``_raw`` with the reason in
``_error``. A raw tab inside quotes is read as itself (Go's decoder refuses it). A key given
twice keeps its last value, as a JSON line with a duplicate key does
(:func:`ingest.logs.inference.parse_json_line`).

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

import pyarrow as pa
import pyarrow.compute as pc

from ingest.logs import inference as inf
from lake.core.arrow_values import FALSE
from lake.core.arrow_values import scalar as arrow_scalar

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""JSON's number grammar: what is a number in a JSON line is one here, and nothing else."""


def scalar(text: str) -> str:
    """The JSON text of an unquoted token's value (see the module doc)."""
    if text in ("true", "false") or (text[0] in _NUMBER_START and _NUMBER.fullmatch(text)):
        return text
    return _string(text)


_NUMBER_START = frozenset("-0123456789")


def _string(text: str) -> str:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # its own JSON string body: the common case, no encoder
    return json.dumps(text, ensure_ascii=False)


def _object(pairs: Sequence[tuple[str, str]]) -> str:
    """One JSON object of ``(key, value JSON)`` pairs; a key given twice keeps its last value
    (at its first place), as :func:`ingest.logs.inference.parse_json_line` reads such an
    object."""
    members = dict(pairs)
    return "{" + ",".join([f"{_string(k)}:{v}" for k, v in members.items()]) + "}"


# ---------------------------------------------------------------------------------------
# logfmt

NOT_LOGFMT = "not a logfmt line: no key=value pair"
_SPACE = r"[\x00- ]"
_KEY = r'[^\x00- ="]+'
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_VALID = re.compile(rf"{_SPACE}*(?:{_KEY}(?:=(?:{_QUOTED}|{_KEY})?)?(?:{_SPACE}+|$))*")
"""A whole line the decoder reads without error (checked first: one match per line)."""
_PAIR = re.compile(rf"({_KEY})(?:(=)({_QUOTED}|{_KEY})?)?")


def logfmt_json(line: str) -> tuple[str | None, str | None]:
    """One logfmt line as JSON object text: ``(text, None)`` or ``(None, reason)``."""
    if not _VALID.fullmatch(line):
        return None, _logfmt_error(line)
    if "=" not in line:  # in a valid line, every "=" is a pair's or inside its quotes
        return None, NOT_LOGFMT
    members: dict[str, str] = {}  # a key given twice: its last value, as in a JSON line
    for key, equal, value in _PAIR.findall(line):
        if not equal:
            members[key] = "true"
        elif not value:
            members[key] = '""'
        elif value[0] != '"':
            members[key] = scalar(value)
        else:
            quoted = _quoted_json(value)
            if quoted is None:
                return None, _bad_escape(line)
            members[key] = quoted
    return "{" + ",".join([f"{_key(k)}:{v}" for k, v in members.items()]) + "}", None


def _bad_escape(line: str) -> str:
    for m in _PAIR.finditer(line):
        value = m.group(3)
        if value and value[0] == '"' and _quoted_json(value) is None:
            return _at("invalid escape in a quoted value", m.start(3))
    raise AssertionError("no quoted value with a bad escape")  # pragma: no cover


_KEYS: dict[str, str] = {}


def _key(key: str) -> str:
    """A key's JSON string; the keys of a log repeat on every line, so each is made once."""
    found = _KEYS.get(key)
    if found is None:
        found = _string(key)
        if len(_KEYS) < 65536:
            _KEYS[key] = found
    return found


_OUT = r"\x00-\x1f\\"  # no control character nor backslash: nothing to escape
_SIMPLE_PAIR = rf'[^ ="{_OUT}]+=(?:"[^"{_OUT}]*"|[^ ="{_OUT}]+)'
_SIMPLE = rf"^{_SIMPLE_PAIR}(?: {_SIMPLE_PAIR})*$"
"""A line of ``key=value`` pairs one space apart, none empty, no bare key, nothing to
escape: the lines most loggers write, made JSON by :func:`logfmt_json_many` in Arrow."""
_SIMPLE_MEMBER = rf'(?:^| )([^ ="{_OUT}]+)=(?:("[^"{_OUT}]*")|([^ ="{_OUT}]+))'
_BARE = r"\x01(" + _NUMBER.pattern + r"|true|false)\x01"


def logfmt_json_many(lines: pa.StringArray) -> list[str | None]:
    """:func:`logfmt_json`'s text of each line it is sure of, None for the others (to be
    read one by one). The pairs are rewritten in a few passes over the whole array (RE2): a
    key and its value become ``,"key":`` and the value quoted as written or marked
    ``\x01value\x01``; a marked number or boolean loses its marks, the others become
    quotes. About 10x less CPU than the line-by-line reader on such lines."""
    simple = pc.fill_null(pc.match_substring_regex(lines, _SIMPLE), FALSE)
    found: list[str | None] = [None] * len(lines)
    if not pc.any(simple).as_py():
        return found
    a = pc.replace_substring_regex(lines.filter(simple), _SIMPLE_MEMBER, ',"\\1":\\2\x01\\3\x01')
    a = pc.replace_substring(a, "\x01\x01", "")  # a quoted value: no marks
    a = pc.replace_substring_regex(a, _BARE, "\\1")
    a = pc.replace_substring(a, "\x01", '"')
    # Arrow scalars: a Python str given to a compute function imports pandas (0.1 CPU-s).
    braces = (arrow_scalar(t, pa.string()) for t in ("{", "}", ""))
    opening, closing, separator = braces
    a = pc.binary_join_element_wise(opening, pc.utf8_slice_codeunits(a, 1), closing, separator)
    for i, text in zip(pc.indices_nonzero(simple).to_pylist(), a.to_pylist(), strict=True):
        found[i] = text
    return found


def parse_logfmt(line: str) -> tuple[dict[str, object] | None, str | None]:
    """One logfmt line as the JSON reader reads it: ``(record, None)`` or ``(None, reason)``."""
    text, err = logfmt_json(line)
    if text is None:
        return None, err
    value, err = inf.parse_json_line(text)
    return value if isinstance(value, dict) else None, err


def _quoted_json(value: str) -> str | None:
    """The JSON string of a quoted value (JSON's escapes, as go-logfmt's decoder reads them);
    None when an escape is not one."""
    body = value[1:-1]
    if "\\" not in body and body.isprintable():
        return value if body.isascii() else _string(body)
    try:
        return json.dumps(json.loads(value, strict=False), ensure_ascii=False)
    except json.JSONDecodeError:
        return None


def _logfmt_error(line: str) -> str:
    """Where the decoder stops in a line :data:`_VALID` does not match, and why."""
    pos, n = 0, len(line)
    while True:
        while pos < n and line[pos] <= " ":
            pos += 1
        if pos >= n:
            return _at("unexpected end", pos)  # not reached: such a line is valid
        start = pos
        while pos < n and line[pos] > " " and line[pos] not in '="':
            pos += 1
        if pos < n and line[pos] == '"':
            return _at("unexpected '\"'", pos)
        if pos == start:
            return _at("unexpected '='", pos)
        if pos >= n or line[pos] != "=":
            continue
        pos += 1
        if pos >= n or line[pos] <= " ":
            continue
        if line[pos] == '"':
            end = _QUOTED_AT.match(line, pos)
            if end is None:
                return _at("unterminated quoted value", pos)
            pos = end.end()
            if pos < n and line[pos] > " ":
                return _at(f"unexpected '{line[pos]}' after a quoted value", pos)
            continue
        while pos < n and line[pos] > " ":
            if line[pos] in '="':
                return _at(f"unexpected '{line[pos]}' in an unquoted value", pos)
            pos += 1


_QUOTED_AT = re.compile(_QUOTED)


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
    return _VALID.fullmatch(line) is not None and len(_PAIRS_WITH_VALUE.findall(line)) >= 2


_PAIRS_WITH_VALUE = re.compile(rf"{_KEY}=")


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

    def entry_json(self, line: str) -> tuple[str | None, str | None]:
        """One entry under the fields in force as JSON object text: ``(text, None)`` or
        ``(None, reason)``."""
        if self.fields is None:
            return None, NO_FIELDS
        values: list[str] = []
        for m in _TOKEN.finditer(line):
            quoted = m.group(1)
            if quoted is not None:
                values.append(_string(quoted.replace('""', '"')))
            else:
                token = m.group(0)
                values.append("null" if token == "-" else scalar(token))
        if len(values) != len(self.fields):
            return None, (
                f"{len(values)} values for the {len(self.fields)} fields of the #Fields "
                "directive in force"
            )
        return _object(list(zip(self.fields, values, strict=True))), None

    def parse(self, line: str) -> tuple[dict[str, object] | None, str | None]:
        """One entry as the JSON reader reads it: ``(record, None)`` or ``(None, reason)``."""
        text, err = self.entry_json(line)
        if text is None:
            return None, err
        value, err = inf.parse_json_line(text)
        return value if isinstance(value, dict) else None, err
