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

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from catalog import models as m
from catalog.connection import Connection
from lake.core.errors import VersionNotFound
from lake.core.names import TableVersion


@dataclass(frozen=True)
class SourceRef:
    """A dataset outside the lake at one version (OpenLineage: namespace + name)."""

    kind: str  # file | database | external
    namespace: str
    name: str
    version: str | None = None
    facets: Mapping[str, Any] = field(default_factory=dict)


def add_inputs(db: Connection, run_id: str, inputs: Sequence[SourceRef | TableVersion]) -> None:
    """Record that the run read these dataset versions.

    Raises:
        VersionNotFound: a table version is not recorded.
    """
    db.transaction(lambda session: add_edges(session, run_id, "input", inputs))


def add_outputs(db: Connection, run_id: str, outputs: Sequence[SourceRef | TableVersion]) -> None:
    """Record that the run wrote these dataset versions.

    Raises:
        VersionNotFound: a table version is not recorded.
    """
    db.transaction(lambda session: add_edges(session, run_id, "output", outputs))


def add_edges(
    session: Session,
    run_id: str,
    direction: str,
    targets: Sequence[SourceRef | TableVersion],
    *,
    version_row: m.TableVersion | None = None,
) -> None:
    """Add one edge per target in ``session`` (``version_row``: the table version's row,
    when the caller has it).

    Raises:
        VersionNotFound: a table version is not recorded.
    """
    refs = [t for t in targets if isinstance(t, SourceRef)]
    ids = source_ids(session, refs) if refs else {}
    for target in targets:
        if isinstance(target, SourceRef):
            found = ids[_identity(target)]
            session.add(m.LineageEdge(run_id=run_id, direction=direction, source_id=found))
        else:
            row = version_row or session.scalar(
                select(m.TableVersion).where(
                    m.TableVersion.table_id == target.table_id,
                    m.TableVersion.version == target.version,
                )
            )
            if row is None:
                raise VersionNotFound(
                    f"Version {target.version} of {target.table} is not recorded; "
                    f"run `lake catalog sync`."
                )
            session.add(m.LineageEdge(run_id=run_id, direction=direction, table_version_id=row.id))
    session.flush()


def _identity(ref: SourceRef) -> tuple[str, str, str, str | None]:
    return (ref.kind, ref.namespace, ref.name, ref.version)


def source_ids(
    session: Session, refs: Sequence[SourceRef]
) -> dict[tuple[str, str, str, str | None], int]:
    """The ids of the sources' rows by (kind, namespace, name, version), adding the missing
    ones: one query per 500 names and one batched insert, however many sources an event names
    (an event naming 1,000 inputs held the catalog's write lock for seconds one by one)."""
    wanted = {_identity(r): r for r in refs}
    found: dict[tuple[str, str, str, str | None], int] = {}
    names = sorted({r.name for r in refs})
    for start in range(0, len(names), 500):
        rows = session.execute(
            select(m.Source.id, m.Source.kind, m.Source.namespace, m.Source.name, m.Source.version)
            .where(m.Source.name.in_(names[start : start + 500]))
            .order_by(m.Source.id)
        )
        for row_id, *identity in rows:
            key = tuple(identity)
            if key in wanted and key not in found:
                found[key] = row_id  # type: ignore[index]
    missing = [ref for key, ref in wanted.items() if key not in found]
    if missing:
        rows = [
            m.Source(
                kind=ref.kind,
                namespace=ref.namespace,
                name=ref.name,
                version=ref.version,
                facets=m.jsonable(ref.facets),
            )
            for ref in missing
        ]
        session.add_all(rows)
        session.flush()
        for ref, row in zip(missing, rows, strict=True):
            found[_identity(ref)] = row.id
    return found


def source_id(session: Session, ref: SourceRef) -> int:
    """The id of the source's row, added when the catalog does not have it yet."""
    condition = and_(
        m.Source.kind == ref.kind,
        m.Source.namespace == ref.namespace,
        m.Source.name == ref.name,
        m.Source.version.is_(None) if ref.version is None else m.Source.version == ref.version,
    )
    found = session.scalar(select(m.Source.id).where(condition).order_by(m.Source.id).limit(1))
    if found is not None:
        return found
    row = m.Source(
        kind=ref.kind,
        namespace=ref.namespace,
        name=ref.name,
        version=ref.version,
        facets=m.jsonable(ref.facets),
    )
    session.add(row)
    session.flush()
    return row.id


__all__ = ["SourceRef", "add_edges", "add_inputs", "add_outputs", "source_id", "source_ids"]
