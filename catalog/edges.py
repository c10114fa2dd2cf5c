"""Lineage edges: which dataset versions a run read (``input``) and wrote (``output``).

An edge joins a run to one *version* of a dataset, never to a dataset as a whole
(OpenLineage's model; ``catalog.lineage`` reads the graph these edges make). A dataset
version is a lake table at a recorded Delta version
(:class:`lake.core.names.TableVersion`) or a
source outside the lake at one version (:class:`SourceRef`: a file by its sha256, a
database extract by its watermark range, an external dataset named by an OpenLineage
event). Sources are stored once per ``(kind, namespace, name, version)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select

from catalog.connection import Connection, CoreConnection
from catalog.definitions import EDGES, SOURCES, VERSIONS, jsonable
from lake.core.errors import VersionNotFound
from lake.core.names import TableVersion

_IDENTITY = (SOURCES.c.kind, SOURCES.c.namespace, SOURCES.c.name, SOURCES.c.version)


@dataclass(frozen=True)
class SourceRef:
    """A dataset outside the lake at one version (OpenLineage: namespace + name)."""

    kind: str  # file | database | external
    namespace: str
    name: str
    version: str | None = None
    facets: Mapping[str, Any] = field(default_factory=dict)


def add_inputs(db: Connection, run_id: str, inputs: Sequence[SourceRef | TableVersion]) -> None:
    """Record that the run read these dataset versions (those it has already are kept once).

    Raises:
        VersionNotFound: a table version is not recorded.
    """
    db.core_transaction(lambda conn: add_edges(conn, run_id, "input", inputs, once=True))


def add_outputs(db: Connection, run_id: str, outputs: Sequence[SourceRef | TableVersion]) -> None:
    """Record that the run wrote these dataset versions (those it has already are kept once).

    Raises:
        VersionNotFound: a table version is not recorded.
    """
    db.core_transaction(lambda conn: add_edges(conn, run_id, "output", outputs, once=True))


def add_edges(
    conn: CoreConnection,
    run_id: str,
    direction: str,
    targets: Sequence[SourceRef | TableVersion],
    *,
    once: bool = False,
) -> None:
    """Add one edge per target in the caller's transaction, in one batched insert (an ORM
    caller flushes its pending rows first: the edges refer to them). ``once``: leave out the
    targets the run has an edge to in this direction already: a transaction of its own whose
    COMMIT the database made but whose answer was lost is tried again, and entered every
    edge a second time.

    Raises:
        VersionNotFound: a table version is not recorded.
    """
    if not targets:
        return
    refs = [t for t in targets if isinstance(t, SourceRef)]
    ids = source_ids(conn, refs) if refs else {}
    rows = []
    for target in targets:
        if isinstance(target, SourceRef):
            rows.append({"source_id": ids[_identity(target)], "table_version_id": None})
            continue
        found = conn.execute(
            select(VERSIONS.c.id).where(
                VERSIONS.c.table_id == target.table_id,
                VERSIONS.c.version == target.version,
            )
        ).scalar()
        if found is None:
            raise VersionNotFound(
                f"Version {target.version} of {target.table} is not recorded; "
                f"run `lake catalog sync`."
            )
        rows.append({"source_id": None, "table_version_id": found})
    if once:
        present = {
            (edge.source_id, edge.table_version_id)
            for edge in conn.execute(
                select(EDGES.c.source_id, EDGES.c.table_version_id).where(
                    EDGES.c.run_id == run_id, EDGES.c.direction == direction
                )
            )
        }
        rows = [r for r in rows if (r["source_id"], r["table_version_id"]) not in present]
        if not rows:
            return
    conn.execute(_INSERT_EDGES, [{"run_id": run_id, "direction": direction, **r} for r in rows])


def _identity(ref: SourceRef) -> tuple[str, str, str, str | None]:
    return (ref.kind, ref.namespace, ref.name, ref.version)


def source_ids(
    conn: CoreConnection, refs: Sequence[SourceRef]
) -> dict[tuple[str, str, str, str | None], int]:
    """The ids of the sources' rows by (kind, namespace, name, version), adding the missing
    ones: one query per 500 names and one batched insert, however many sources an event names
    (an event naming 1,000 inputs held the catalog's write lock for seconds one by one)."""
    wanted = {_identity(r): r for r in refs}
    found: dict[tuple[str, str, str, str | None], int] = {}
    names = sorted({r.name for r in refs})
    for start in range(0, len(names), 500):
        rows = conn.execute(_SOURCES_NAMED, {"b_names": names[start : start + 500]})
        for row_id, *identity in rows:
            key = tuple(identity)
            if key in wanted and key not in found:
                found[key] = row_id  # type: ignore[index]
    missing = [ref for key, ref in wanted.items() if key not in found]
    if missing:
        added = conn.execute(
            _INSERT_SOURCES,
            [
                {
                    "kind": ref.kind,
                    "namespace": ref.namespace,
                    "name": ref.name,
                    "version": ref.version,
                    "facets": jsonable(ref.facets),
                }
                for ref in missing
            ],
        )
        for ref, row_id in zip(missing, added.scalars().all(), strict=True):
            found[_identity(ref)] = row_id
    return found


# Built once: a log ingest names its files on every commit (see catalog.runs).
_SOURCES_NAMED = (
    select(SOURCES.c.id, SOURCES.c.kind, SOURCES.c.namespace, SOURCES.c.name, SOURCES.c.version)
    .where(SOURCES.c.name.in_(bindparam("b_names", expanding=True)))
    .order_by(SOURCES.c.id)
)
_INSERT_SOURCES = insert(SOURCES).returning(SOURCES.c.id, sort_by_parameter_order=True)
_INSERT_EDGES = insert(EDGES)


__all__ = [
    "EDGES",
    "SOURCES",
    "SourceRef",
    "add_edges",
    "add_inputs",
    "add_outputs",
    "source_ids",
]
