"""Quoting of names and values for SQL text, in one place.

Every identifier or literal that reaches DuckDB as text goes through these two
functions; nothing else in the lake pastes a name or a value into SQL. (The catalog
uses SQLAlchemy's bound parameters and needs neither.)
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """A DuckDB identifier: double quotes, embedded double quotes doubled."""
    if "\x00" in name:
        raise ValueError("an identifier cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A DuckDB string literal: single quotes, embedded single quotes doubled."""
    if "\x00" in value:
        raise ValueError("a string literal cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def quote_path(parts: list[str]) -> str:
    """A dotted reference (``namespace.table`` or ``struct.field``), each part quoted."""
    return ".".join(quote_ident(part) for part in parts)
