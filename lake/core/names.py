"""Table names (``namespace.table``), version references (``TABLE@N``, ``TABLE@<time>``) and
resolved table versions.

Names are checked here and nowhere else, so a name that reaches the catalog, a storage
path or a SQL text is always a plain identifier: letters, digits and underscores,
starting with a letter or underscore, at most 64 characters. Names are case-insensitive
(DuckDB's identifiers are) and kept in lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lake.core.errors import InvalidName

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/:]{0,127}")
DEFAULT_NAMESPACE = "default"


def check_identifier(name: str, what: str = "name") -> str:
    """Return ``name`` in lower case, or raise :class:`InvalidName` saying what is allowed."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 80 else f"{str(name)[:80]}..."
        raise InvalidName(
            f"{what.capitalize()} {shown!r} is not allowed: use letters, digits and underscores, "
            f"starting with a letter or underscore, at most 64 characters."
        )
    return name.lower()


@dataclass(frozen=True, order=True)
class TableName:
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> TableName:
        """Parse ``namespace.table`` (or a bare ``table`` in the ``default`` namespace)."""
        if not isinstance(text, str) or text.count(".") > 1:
            raise InvalidName(
                f"Table name {text!r} is not of the form namespace.table "
                f"(for example web.access_logs)."
            )
        namespace, _, name = text.rpartition(".")
        return cls(
            check_identifier(namespace or DEFAULT_NAMESPACE, "namespace"),
            check_identifier(name, "table name"),
        )

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass(frozen=True)
class TableRef:
    """A table and, optionally, one version of it: by number or as of a time."""

    table: TableName
    version: int | None = None
    as_of: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> TableRef:
        """Parse ``TABLE``, ``TABLE@N`` or ``TABLE@2026-11-20T10:00:00Z``."""
        name, at, selector = text.partition("@")
        table = TableName.parse(name)
        if not at:
            return cls(table)
        if selector.isdigit():
            return cls(table, version=int(selector))
        return cls(table, as_of=parse_time(selector, context=text))

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.table}@{self.version}"
        if self.as_of is not None:
            return f"{self.table}@{self.as_of.isoformat().replace('+00:00', 'Z')}"
        return str(self.table)


@dataclass(frozen=True)
class TableVersion:
    """One exact, committed version of a lake table: what a query read, what a training set
    was made of, what a run consumed or produced. (A :class:`TableRef` is a request that
    still has to be resolved to one of these.)"""

    table: TableName
    version: int
    committed_at: datetime
    table_id: int | None = None
    """The catalog's id of the table, where the catalog gave it (lineage edges and pins are
    keyed by it); never part of the JSON form."""

    def to_json(self) -> dict[str, Any]:
        """``{"table": "web.logs", "version": 3, "committed_at": "2026-11-20T10:00:00+00:00"}``"""
        return {
            "table": str(self.table),
            "version": self.version,
            "committed_at": self.committed_at.isoformat(),
        }

    def __str__(self) -> str:
        return f"{self.table}@{self.version}"


def parse_time(text: str, *, context: str | None = None) -> datetime:
    """Parse an ISO 8601 time; a time without an offset is read as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        where = f" in {context!r}" if context else ""
        raise InvalidName(
            f"{text!r}{where} is neither a version number nor an ISO time such as "
            f"2026-11-20T10:00:00Z."
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as error:  # 0001-01-01T00:00+05:00 is before year 1 in UTC
        where = f" in {context!r}" if context else ""
        raise InvalidName(
            f"{text!r}{where} is out of range in UTC; write a time between years 1 and 9999."
        ) from error


def model_version(text: str) -> int | str:
    """A model version as the lake shows it: an integer, like every other version. (The
    catalog stores model versions as text; registration takes whole numbers only, so text is
    left only by catalogs written before that rule.)"""
    return int(text) if text.isdigit() else text


def check_model_version(version: int | str) -> str:
    """A model version given at registration, as the catalog stores it (``"3"``).

    Raises:
        InvalidName: it is not a whole number of 1 or more.
    """
    from lake.core.errors import InvalidName

    text = str(version).strip()
    if not text.isdigit() or int(text) < 1:
        raise InvalidName(
            f"Model version {str(version)!r} is not a whole number of 1 or more: versions "
            f"count 1, 2, 3 (leave the version out to register the next one)."
        )
    return str(int(text))


def check_name(name: str, what: str) -> str:
    """A training-set or model name: 1-128 characters, none of them whitespace, ``@`` or ``#``
    (they separate versions and pins).

    Raises:
        InvalidName: saying what is allowed.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(
            f"{what.capitalize()} name {name!r} is not allowed: use 1-128 letters, digits "
            f"or . _ - / :, starting with a letter or digit."
        )
    return name


def parse_ref(text: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME@VERSION`` -> (name, version or None)."""
    name, at, version = text.strip().partition("@")
    return name, (version if at and version else None)
