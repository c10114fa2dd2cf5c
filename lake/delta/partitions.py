"""Partition values as the Delta protocol writes them: text in the log, and in folder names.

The protocol ("Partition Value Serialization") stores every partition value as a string:

===========  ==========================================================================
type         text
===========  ==========================================================================
string       the string itself
numbers      their decimal form (``7``, ``-1.5``, ``12.30`` for a decimal(4, 2))
boolean      ``true`` / ``false``
date         ``2026-11-01``
timestamp    ``2026-11-01 10:00:00.000000`` (a timestamp with a zone: its UTC instant)
binary       one character per byte (U+0000 to U+00FF), e.g. ``"\\u0001\\u0002"``
null         no value (``None``), or an empty string; in a folder name
             ``__HIVE_DEFAULT_PARTITION__``
===========  ==========================================================================

Writers read the binary line two ways: Spark (and the lake) put one character per byte in
the JSON string; delta-rs writes the escapes as text (the six characters ``\\u0068`` for
``h``), and both delta-rs and delta-kernel read that text back as the value's bytes.
:func:`binary_from_log` takes both to the bytes the writer was given.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    import pyarrow as pa

NULL_FOLDER = "__HIVE_DEFAULT_PARTITION__"
_ESCAPED_BYTES = re.compile(r"(?:\\u00[0-9A-Fa-f]{2})+")


def partition_text(value: object, type_: pa.DataType | None = None) -> str | None:
    """The log's text of one partition value (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def folder_name(column: str, text: str | None) -> str:
    """``column=value`` as a folder of the table, the value escaped for a path."""
    value = NULL_FOLDER if text is None else quote(text, safe="-_.:")
    return f"{column}={value}"


def read_text(value: object) -> str | None:
    """A partition value as deltalake hands it back (typed), as text the readers of a
    snapshot cast to the column's type: times keep their offset (``...+00:00``), bytes are
    one character per byte; an empty string is null, as the protocol says."""
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return binary_from_log(bytes(value)).decode("latin-1")
    return partition_text(value)


def binary_from_log(value: bytes) -> bytes:
    """The bytes of a binary partition value, from what deltalake hands back for it (the
    log's text as UTF-8): text made only of ``\\u00XX`` escapes (delta-rs's form) is the
    bytes it spells; otherwise each character is one byte (the protocol's form)."""
    text = value.decode("utf-8", errors="surrogateescape")
    if _ESCAPED_BYTES.fullmatch(text):
        return bytes(int(text[i + 2 : i + 6], 16) for i in range(0, len(text), 6))
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return value  # characters past U+00FF: not one byte each; keep the bytes as given
