"""Pins: table versions whose data must be kept, whatever their age.

A pin is a tag a person gave a version (kind ``tag``, ``lake tag TABLE@N NAME``), or a
version a registered training set (``training_set``) or model (``model``) read; the
registry (``catalog.registry``) adds those two when it registers one. Vacuum
(``lake.landing.vacuum``) keeps every pinned version's files.

**Pins and vacuum never cross.** Vacuum reads the pins, then deletes files; a pin added in
between would hold a version whose files go. So vacuum holds the table's lease
(:func:`vacuum_lease`, ``vacuum:<table id>`` in catalog/leases.py) from reading the pins
until its run is recorded, and every pin is added holding the same lease (:func:`pinning`,
waiting up to ``PIN_WAIT_S`` for a vacuum to finish). Under it, :func:`check_pinnable` refuses
a version that an earlier vacuum did not keep and that vacuum deleted files (its run records
the versions it kept and the table's latest version then): the caller read that version
before the vacuum and its files may be gone, so pinning it would promise what is lost.

Tag names are 1-128 letters, digits, ``_``, ``.`` or ``-`` (not ``.`` or ``-`` first), unique
per table. The pins of a training set or model are named ``<owner>@<version>#v<table
version>`` (``churn@2#v5``): one per table version an owner needs, unique as the pins table
requires.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from catalog.catalog import Catalog
from catalog.connection import CoreConnection
from catalog.definitions import NAMESPACES, PINS, RUNS, TABLES, utcnow
from catalog.exceptions import TagExists, TagNotFound, VersionNotPinnable
from catalog.tables import TableInfo
from lake.core.errors import InvalidName

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")

#: How long adding a pin waits for a vacuum of the same table to finish (seconds).
PIN_WAIT_S = 600.0
#: How long a vacuum's lease lasts: a vacuum that dies holding it blocks pins that long.
VACUUM_LEASE_S = 3600.0


def vacuum_lease_name(table_id: int) -> str:
    return f"vacuum:{table_id}"


def vacuum_lease(catalog: Catalog, table: TableInfo) -> AbstractContextManager[None]:
    """Held by a vacuum from reading the pins until its files are deleted and recorded."""
    return catalog.lease(
        vacuum_lease_name(table.id),
        seconds=VACUUM_LEASE_S,
        what=f"vacuuming {table.name}",
        wait_s=PIN_WAIT_S,
    )


@contextmanager
def pinning(catalog: Catalog, table_ids: Iterable[int]) -> Iterator[None]:
    """Hold the vacuum lease of each table (in id order, so holders never deadlock) while
    pins on them are added.

    Raises:
        LeaseHeld: a vacuum of one of them ran past ``PIN_WAIT_S``.
    """
    with ExitStack() as stack:
        for table_id in sorted(set(table_ids)):
            stack.enter_context(
                catalog.lease(
                    vacuum_lease_name(table_id),
                    seconds=VACUUM_LEASE_S,
                    what=f"vacuuming {_table_label(catalog, table_id)}",
                    wait_s=PIN_WAIT_S,
                )
            )
        yield


def check_pinnable(conn: CoreConnection, table_id: int, version: int, table: str) -> None:
    """Refuse to pin a version a vacuum did not keep, when that vacuum deleted files.

    Call it holding :func:`pinning`. Vacuum runs record ``table_id``, ``latest`` and
    ``kept_versions`` in their parameters (runs without them predate this rule: not counted).
    A run that did not finish may have deleted files; a completed one says how many.

    Raises:
        VersionNotPinnable: naming the vacuum run.
    """
    runs = conn.execute(
        select(RUNS.c.id, RUNS.c.status, RUNS.c.started_at, RUNS.c.parameters, RUNS.c.stats)
        .where(RUNS.c.kind == "vacuum", RUNS.c.job == f"vacuum:{table}")
        .order_by(RUNS.c.started_at.desc())
    )
    for run in runs:
        params = run.parameters or {}
        if params.get("table_id") != table_id:
            continue
        latest, kept = params.get("latest"), params.get("kept_versions")
        if not isinstance(latest, int) or not isinstance(kept, list):
            continue
        if version >= latest or version in kept:
            continue
        if run.status == "completed" and not (run.stats or {}).get("files_deleted"):
            continue
        when = run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        raise VersionNotPinnable(table, version, run.id, when)


def _table_label(catalog: Catalog, table_id: int) -> str:
    def work(conn: CoreConnection) -> str:
        row = conn.execute(
            select(TABLES.c.name, NAMESPACES.c.name.label("namespace"))
            .select_from(TABLES)
            .outerjoin(NAMESPACES, NAMESPACES.c.id == TABLES.c.namespace_id)
            .where(TABLES.c.id == table_id)
        ).first()
        if row is None:
            return str(table_id)
        return f"{row.namespace}.{row.name}" if row.namespace is not None else row.name

    return catalog.core_transaction(work)


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

    def work(conn: CoreConnection) -> PinInfo:
        check_pinnable(conn, table.id, version, str(table.name))
        row = conn.execute(select(PINS).where(*_tag(table, name))).first()
        if row is not None and row.version != version:
            if not move:
                raise TagExists(str(table.name), name, row.version)
            conn.execute(
                update(PINS).where(PINS.c.id == row.id).values(version=version, created_at=utcnow())
            )
            row = conn.execute(select(PINS).where(PINS.c.id == row.id)).one()
        elif row is None:
            row = conn.execute(
                insert(PINS)
                .values(table_id=table.id, version=version, kind="tag", name=name)
                .returning(*PINS.c)
            ).one()
        return _pin_info(row, str(table.name))

    with pinning(catalog, [table.id]):
        return catalog.core_transaction(work)


def _tag(table: TableInfo, name: str) -> tuple[Any, ...]:
    """The conditions naming the table's tag ``name``."""
    return (PINS.c.table_id == table.id, PINS.c.kind == "tag", PINS.c.name == name)


def remove_tag(catalog: Catalog, table: TableInfo, name: str) -> PinInfo:
    """Remove the tag ``name`` from ``table``; returns the pin it was.

    Raises:
        TagNotFound: the table has no such tag.
    """

    def work(conn: CoreConnection) -> PinInfo:
        row = conn.execute(select(PINS).where(*_tag(table, name))).first()
        if row is None:
            raise TagNotFound(str(table.name), name)
        conn.execute(delete(PINS).where(PINS.c.id == row.id))
        return _pin_info(row, str(table.name))

    return catalog.core_transaction(work)


def pins(catalog: Catalog, table: TableInfo, *, kind: str | None = None) -> list[PinInfo]:
    """The table's pins (of one ``kind``, when given), by version, kind and name."""

    def work(conn: CoreConnection) -> list[PinInfo]:
        query = (
            select(PINS)
            .where(PINS.c.table_id == table.id)
            .order_by(PINS.c.version, PINS.c.kind, PINS.c.name)
        )
        if kind is not None:
            query = query.where(PINS.c.kind == kind)
        return [_pin_info(r, str(table.name)) for r in conn.execute(query)]

    return catalog.core_transaction(work)


def _pin_info(row: Any, table: str) -> PinInfo:
    return PinInfo(
        table=table, version=row.version, kind=row.kind, name=row.name, created_at=row.created_at
    )


__all__ = [
    "PIN_WAIT_S",
    "PinInfo",
    "add_tag",
    "check_pinnable",
    "check_tag",
    "pin_name",
    "pinning",
    "pins",
    "remove_tag",
    "vacuum_lease",
]
