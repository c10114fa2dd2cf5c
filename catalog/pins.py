"""Pins: table versions whose data must be kept, whatever their age.

A pin is a tag a person gave a version (kind ``tag``, ``lake tag TABLE@N NAME``), or a
version a registered training set (``training_set``) or model (``model``) read; the
registry (``catalog.registry``) adds those two when it registers one. Vacuum
(``lake.landing.vacuum``) keeps every pinned version's files.

Tag names are 1-128 letters, digits, ``_``, ``.`` or ``-`` (not ``.`` or ``-`` first), unique
per table. The pins of a training set or model are named ``<owner>@<version>#v<table
version>`` (``churn@2#v5``): one per table version an owner needs, unique as the pins table
requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import models as m
from catalog.catalog import Catalog
from catalog.exceptions import TagExists, TagNotFound
from catalog.tables import TableInfo
from lake.core.errors import InvalidName

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")


@dataclass(frozen=True)
class PinInfo:
    table: str
    version: int
    kind: str  # tag | training_set | model
    name: str
    created_at: datetime

    @property
    def reason(self) -> str:
        owner = self.name.split("#", 1)[0]
        label = {"tag": "tag", "training_set": "training set", "model": "model"}.get(
            self.kind, self.kind
        )
        return f"{label} {owner}"

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "version": self.version,
            "kind": self.kind,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
        }


def pin_name(owner: str, table_version: int) -> str:
    """The name of the pin ``owner`` (``churn@2``) holds on a table version."""
    return f"{owner}#v{table_version}"


def check_tag(name: str) -> str:
    """A tag's name, checked.

    Raises:
        InvalidName: saying what is allowed.
    """
    if not isinstance(name, str) or not _TAG.fullmatch(name):
        raise InvalidName(
            f"Tag {name!r} is not allowed: use letters, digits, '_', '.', '-' "
            f"(at most 128 characters), starting with a letter, digit or '_'."
        )
    return name


def add_tag(
    catalog: Catalog, table: TableInfo, version: int, name: str, *, move: bool = False
) -> PinInfo:
    """Tag ``table@version`` as ``name`` (a pin vacuum respects).

    Raises:
        InvalidName: the tag's name is not allowed.
        TagExists: the tag marks another version and ``move`` is false.
        VersionNotFound: the version is not recorded.
    """
    check_tag(name)
    catalog.get_version(table, version)

    def work(session: Session) -> PinInfo:
        row = session.scalar(
            select(m.Pin).where(m.Pin.table_id == table.id, m.Pin.kind == "tag", m.Pin.name == name)
        )
        if row is not None and row.version != version:
            if not move:
                raise TagExists(str(table.name), name, row.version)
            row.version = version
            row.created_at = m.utcnow()
        elif row is None:
            row = m.Pin(table_id=table.id, version=version, kind="tag", name=name)
            session.add(row)
        session.flush()
        return _pin_info(row, str(table.name))

    return catalog.transaction(work)


def remove_tag(catalog: Catalog, table: TableInfo, name: str) -> PinInfo:
    """Remove the tag ``name`` from ``table``; returns the pin it was.

    Raises:
        TagNotFound: the table has no such tag.
    """

    def work(session: Session) -> PinInfo:
        row = session.scalar(
            select(m.Pin).where(m.Pin.table_id == table.id, m.Pin.kind == "tag", m.Pin.name == name)
        )
        if row is None:
            raise TagNotFound(str(table.name), name)
        info = _pin_info(row, str(table.name))
        session.delete(row)
        return info

    return catalog.transaction(work)


def pins(catalog: Catalog, table: TableInfo, *, kind: str | None = None) -> list[PinInfo]:
    """The table's pins (of one ``kind``, when given), by version, kind and name."""

    def work(session: Session) -> list[PinInfo]:
        query = (
            select(m.Pin)
            .where(m.Pin.table_id == table.id)
            .order_by(m.Pin.version, m.Pin.kind, m.Pin.name)
        )
        if kind is not None:
            query = query.where(m.Pin.kind == kind)
        return [_pin_info(r, str(table.name)) for r in session.scalars(query)]

    return catalog.transaction(work)


def _pin_info(row: m.Pin, table: str) -> PinInfo:
    return PinInfo(
        table=table, version=row.version, kind=row.kind, name=row.name, created_at=row.created_at
    )


__all__ = ["PinInfo", "add_tag", "check_tag", "pin_name", "pins", "remove_tag"]
