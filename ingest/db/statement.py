"""An extract query is one query statement: read here before any source sees it.

The query is spliced into a subquery (``SELECT ... FROM (<query>) AS lake_src``), so its text
must neither end the statement (a ``;`` followed by more SQL) nor close the subquery's
parenthesis. :func:`one_query` reads it the way the dialect's server does (strings, quoted
names, comments, Postgres dollar quotes and E'' strings, MySQL backslash escapes and ``#``
comments) and refuses, in one sentence:

* more than one statement (one trailing ``;`` and comments after it are dropped);
* a ``)`` without its ``(``, or a ``(`` left open;
* an unterminated string, quoted name or comment, and control characters outside strings;
* MySQL/MariaDB executable comments (``/*! ... */``, ``/*M! ... */``), which the server runs;
* text the servers might read differently from this reader (a Postgres ``$`` right after a
  digit, where a dollar quote may or may not start);

This is the first of three locks. The others are the servers' own (ingest/db/source.py): the
text is sent so that only one statement can run (Postgres: prepared through the extended
protocol first; MySQL: no multi-statement flag; SQLite: one statement per call), and in a
read-only session and transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.exceptions import SourceQueryRefused

__all__ = ["Syntax", "one_query"]


@dataclass(frozen=True)
class Syntax:
    """How a dialect's server reads SQL text (for MySQL, as its session's sql_mode says)."""

    dialect: str  # "postgresql", "mysql" or "sqlite"
    #: MySQL without NO_BACKSLASH_ESCAPES: ``\\`` escapes inside strings.
    backslash_escapes: bool = True
    #: MySQL with ANSI_QUOTES: ``"`` quotes names, not strings.
    ansi_quotes: bool = False

    @classmethod
    def for_mysql(cls, sql_mode: str) -> Syntax:
        modes = {m.strip().upper() for m in sql_mode.split(",")}
        return cls(
            "mysql",
            backslash_escapes="NO_BACKSLASH_ESCAPES" not in modes,
            ansi_quotes="ANSI_QUOTES" in modes,
        )


def _ident_char(c: str) -> bool:
    return c.isalnum() or c in "_$" or ord(c) >= 0x80


def one_query(query: str, syntax: Syntax) -> str:
    """The query's text without its trailing ``;``; raises SourceQueryRefused otherwise."""
    text = query
    n = len(text)
    i = 0
    depth = 0
    end: int | None = None  # where a top-level ';' was seen
    seen_sql = False
    d = syntax.dialect

    def refuse(reason: str) -> SourceQueryRefused:
        return SourceQueryRefused(reason=reason)

    def skip_quoted(start: int, quote: str, *, backslash: bool, what: str) -> int:
        """Index just past the closing ``quote`` of a literal opened at ``start``."""
        j = start + 1
        while j < n:
            c = text[j]
            if backslash and c == "\\":
                j += 2
                continue
            if c == quote:
                if j + 1 < n and text[j + 1] == quote:
                    j += 2
                    continue
                return j + 1
            j += 1
        raise refuse(f"it has an unterminated {what}")

    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        prev = text[i - 1] if i > 0 else ""
        if c in " \t\r\n":
            i += 1
            continue
        if ord(c) < 32 or c == "\x7f":
            raise refuse(f"it holds the control character {c!r} outside a string")
        if end is not None and not (c == "-" or c == "/" or c == "#" or c == ";"):
            raise refuse("it holds more than one statement (text after a ';')")

        # -- comments
        if c == "-" and nxt == "-":
            after = text[i + 2] if i + 2 < n else ""
            if d != "mysql" or after in ("", " ", "\t", "\r", "\n"):
                i = _line_end(text, i, refuse)
                continue
        if c == "#" and d == "mysql":
            i = _line_end(text, i, refuse)
            continue
        if c == "/" and nxt == "*":
            executable = text.startswith("!", i + 2) or text[i + 2 : i + 4].upper() == "M!"
            if d == "mysql" and executable:
                raise refuse("it holds a MySQL executable comment (/*! ... */), which runs as SQL")
            j, level = i + 2, 1
            while j < n and level:
                if text.startswith("*/", j):
                    level -= 1
                    j += 2
                elif d == "postgresql" and text.startswith("/*", j):
                    level += 1  # Postgres comments nest
                    j += 2
                else:
                    j += 1
            if level:
                raise refuse("it has an unterminated /* comment")
            i = j
            continue
        if end is not None:
            if c == ";":
                i += 1
                continue
            raise refuse("it holds more than one statement (text after a ';')")

        # -- literals and quoted names
        if c == "'":
            backslash = d == "mysql" and syntax.backslash_escapes
            if d == "postgresql" and i > 0 and prev in "eE":
                before = text[i - 2] if i > 1 else ""
                backslash = not (before and _ident_char(before))  # E'...' escape string
            i = skip_quoted(i, "'", backslash=backslash, what="string")
            seen_sql = True
            continue
        if c == '"':
            as_string = d == "mysql" and not syntax.ansi_quotes
            i = skip_quoted(
                i, '"', backslash=as_string and syntax.backslash_escapes,
                what="string" if as_string else "quoted name",
            )  # fmt: skip
            seen_sql = True
            continue
        if c == "`" and d in ("mysql", "sqlite"):
            i = skip_quoted(i, "`", backslash=False, what="quoted name")
            seen_sql = True
            continue
        if c == "[" and d == "sqlite":
            close = text.find("]", i + 1)
            if close < 0:
                raise refuse("it has an unterminated [quoted name]")
            i = close + 1
            seen_sql = True
            continue
        if c == "$" and d == "postgresql":
            if not (prev and _ident_char(prev)) and not nxt.isdigit():
                j = i + 1
                while j < n and _ident_char(text[j]) and text[j] != "$":
                    j += 1
                if j < n and text[j] == "$":
                    tag = text[i : j + 1]
                    close = text.find(tag, j + 1)
                    if close < 0:
                        raise refuse(f"it has an unterminated {tag}-quoted string")
                    i = close + len(tag)
                    seen_sql = True
                    continue

        # -- structure
        if c == ";":
            if depth:
                raise refuse("it has a ';' inside parentheses")
            end = i
            i += 1
            continue
        if c == "(":
            depth += 1
            i += 1
            continue
        if c == ")":
            depth -= 1
            if depth < 0:
                raise refuse("it closes a parenthesis it did not open")
            i += 1
            continue
        if _ident_char(c):
            j = i
            number = c.isdigit()
            while j < n and _ident_char(text[j]) and not (number and text[j] == "$"):
                j += 1
            if number and j < n and text[j] == "$" and d == "postgresql":
                # Postgres may read a dollar quote there (names hold '$', numbers do not).
                raise refuse("a '$' right after a number is ambiguous; put a space between them")
            seen_sql = True
            i = j
            continue
        seen_sql = True
        i += 1

    if depth:
        raise refuse("it leaves a parenthesis open")
    if not seen_sql:
        raise refuse("it holds no SQL, only comments")
    body = text if end is None else text[:end]
    return body.strip()


def _line_end(text: str, i: int, refuse: object) -> int:
    """Index past the end of the line comment at ``i``.

    Postgres ends it at a carriage return as well as a newline, MySQL and SQLite at a newline
    only: a lone carriage return inside would be read two ways, so it is refused.
    """
    eol = text.find("\n", i)
    body = text[i:] if eol < 0 else text[i:eol]
    if "\r" in (body[:-1] if body.endswith("\r") else body):
        raise refuse("a comment holds a carriage return without a newline")  # type: ignore[operator]
    return len(text) if eol < 0 else eol + 1
