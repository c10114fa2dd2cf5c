"""Printing results for the command line: a rich table for people, JSON for programs.

Inspecting commands take ``--output table|json``; JSON goes to standard output alone,
so ``lake tables --output json | jq`` works.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any


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
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(empty, style="dim")
        return
    names = list(columns) if columns is not None else list(rows[0].keys())
    table = Table(title=title, header_style="bold")
    for name in names:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(name)) for name in names))
    console.print(table)


def print_mapping(data: Mapping[str, Any], *, title: str | None = None) -> None:
    """A two-column table of key/value pairs."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(str(key), _cell(value))
    Console().print(table)


def print_presets(presets: Sequence[Mapping[str, Any]]) -> None:
    """Each log preset as a block: name and layout, its regex, time format and example."""
    from rich.console import Console

    console = Console(highlight=False)
    for p in presets:
        console.print(p["name"], style="bold", markup=False, end="")
        console.print(f"  {p['description']}", markup=False)
        for label, value in (
            ("regex:  ", p["pattern"]),
            ("time:   ", " | ".join(p["time_formats"])),
            ("example:", p["example"]),
        ):
            console.print(f"  {label} {value}", markup=False, soft_wrap=True)


def print_message(text: str) -> None:
    from rich.console import Console

    Console(stderr=False, highlight=False).print(text)


def print_error(text: str) -> None:
    sys.stderr.write(f"error: {one_line(text)}\n")
    sys.stderr.flush()


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``): a message quoting a file
    name or a driver's output stays one line and cannot drive the terminal."""
    return "".join(
        ch
        if ch >= " " and ch != "\x7f" or ch == "\t"
        else {"\n": "\\n", "\r": "\\r"}.get(ch, f"\\x{ord(ch):02x}")
        for ch in text
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=_default, ensure_ascii=False)
    return str(value)


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
