"""Printing results for the command line: a rich table for people, JSON for programs.

Inspecting commands take ``--output table|json``; JSON goes to standard output alone,
so ``lake tables --output json | jq`` works. Tables are for reading, so their cells are
short: run ids (UUIDs) to their first 8 characters (``lake runs --id`` takes them), times to
the second, local paths and ``file://`` URIs relative to the current folder when below it;
``--output json`` has every value whole. Piped, a table keeps each row on one line (no width
limit); in a terminal, headers never break and long cells fold.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lake.core.errors import one_line
from lake.core.terminal import text_console


def to_json_text(data: Any) -> str:
    return json.dumps(data, indent=2, default=_default, ensure_ascii=False)


def print_json(data: Any) -> None:
    sys.stdout.write(to_json_text(data) + "\n")
    sys.stdout.flush()


def print_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Iterable[str] | None = None,
    title: str | None = None,
    empty: str = "Nothing to show.",
) -> None:
    """A table of dict rows; ``columns`` picks and orders them."""
    from rich.table import Table

    console = text_console()
    if not rows:
        console.print(empty, style="dim")
        return
    names = list(columns) if columns is not None else list(rows[0].keys())
    table = Table(title=title, header_style="bold")
    for name in names:
        table.add_column(name, overflow="fold", min_width=len(name))
    for row in rows:
        table.add_row(*(_cell(row.get(name)) for name in names))
    console.print(table)


def print_mapping(data: Mapping[str, Any], *, title: str | None = None) -> None:
    """A two-column table of key/value pairs."""
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(str(key), _cell(value))
    text_console().print(table)


def print_presets(presets: Sequence[Mapping[str, Any]]) -> None:
    """Each log preset as a block: name and layout, its regex, time format and example."""
    console = text_console()
    hidden = False
    for p in presets:
        console.print(p["name"], style="bold", end="")
        console.print(f"  {p['description']}")
        for label, value in (
            ("regex:  ", p["pattern"]),
            ("time:   ", " | ".join(p["time_formats"])),
            ("example:", p["example"]),
        ):
            shown = _code_points_of_invisibles(value)
            hidden = hidden or shown != value
            console.print(f"  {label} {shown}", soft_wrap=True)
    if hidden:
        # A regex cannot escape them for both engines that read it (Python's re, RE2), so
        # they are written as themselves; here they would print as nothing.
        console.print(
            "<U+XXXX> stands for that one character, written as itself in the regex; "
            "`--output json` gives the exact text.",
            soft_wrap=True,
        )


def _code_points_of_invisibles(text: str) -> str:
    return "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in text)


def print_message(text: str) -> None:
    """One line for people: never broken by the terminal's width (a pipe gets it whole)."""
    text_console().print(text, soft_wrap=True)


def print_error(text: str) -> None:
    sys.stderr.write(f"error: {one_line(text)}\n")
    sys.stderr.flush()


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 file``, ``2 files``, ``1,024 records``."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def short_run_id(run_id: str | None) -> str | None:
    """A run id as tables show it: a UUID's first 8 characters (a prefix ``lake runs --id``
    accepts); other ids (from other tools) whole."""
    if run_id and _UUID.fullmatch(run_id):
        return run_id[:8]
    return run_id


def short_path(value: str) -> str:
    """A ``file://`` URI or an absolute local path, relative to the current folder when it
    is below it; anything else (``s3://``...) as it is."""
    from urllib.parse import unquote, urlsplit

    if value.startswith("file://"):
        path = unquote(urlsplit(value).path)
    elif value.startswith("/"):
        path = value
    else:
        return value
    try:
        relative = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return path
    return path if relative.startswith("..") else relative


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _short_time(value.isoformat())
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=_default, ensure_ascii=False)
    if isinstance(value, str):
        if _UUID.fullmatch(value):
            return value[:8]
        if _ISO_TIME.fullmatch(value):
            return _short_time(value)
        return short_path(value)
    return str(value)


def _short_time(text: str) -> str:
    """``2026-12-04T22:47:30.123456+00:00`` -> ``2026-12-04T22:47:30Z``: to the second, and in
    the form ``TABLE@TIME`` takes."""
    match = _ISO_TIME.fullmatch(text)
    if match is None:
        return text
    day, clock, zone = match.groups()
    zone = "Z" if zone in ("+00:00", "Z") else zone or ""
    return f"{day}T{clock}{zone}"


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "to_json"):
        return value.to_json()
    return str(value)
