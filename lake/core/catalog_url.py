"""A catalog URL (``sqlite:///path`` or ``postgresql+psycopg2://user@host:5432/db``), read and
written exactly as SQLAlchemy's ``make_url`` and ``URL.render_as_string`` do, without importing
SQLAlchemy: every command resolves its configuration, and SQLAlchemy costs a catalog-only
command about 10 times a bare Python start-up. ``tests/core/test_catalog_url.py`` holds the
two to the same answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

# SQLAlchemy's own pattern (sqlalchemy.engine.url._parse_url).
_PATTERN = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
        """,
    re.X,
)


@dataclass(frozen=True)
class CatalogUrl:
    drivername: str
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, str | tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> CatalogUrl:
        """Raises ValueError: not a URL SQLAlchemy could read (a port that is no number too)."""
        match = _PATTERN.match(text)
        if match is None:
            raise ValueError("Could not parse SQLAlchemy URL from given URL string")
        parts = match.groupdict()
        query: dict[str, str | tuple[str, ...]] = {}
        for key, value in parse_qsl(parts["query"] or ""):
            previous = query.get(key)
            if previous is None:
                query[key] = value
            else:
                query[key] = (*((previous,) if isinstance(previous, str) else previous), value)
        port = parts["port"]
        return cls(
            drivername=parts["name"],
            username=_unquoted(parts["username"]),
            password=_unquoted(parts["password"]),
            host=parts["ipv4host"] or parts["ipv6host"],
            port=int(port) if port is not None else None,
            database=_unquoted(parts["database"]),
            query=query,
        )

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``: the name before the driver's."""
        return self.drivername.partition("+")[0]

    def set(self, **changes: Any) -> CatalogUrl:
        return replace(self, **changes)

    def render(self, *, hide_password: bool) -> str:
        text = self.drivername + "://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + quote(self.database, safe=" +/")
        if self.query:
            text += "?" + "&".join(
                f"{quote_plus(key)}={quote_plus(element)}"
                for key in sorted(self.query)
                for element in _as_tuple(self.query[key])
            )
        return text


def _unquoted(value: str | None) -> str | None:
    return unquote(value) if value is not None else None


def _as_tuple(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


__all__ = ["CatalogUrl"]
