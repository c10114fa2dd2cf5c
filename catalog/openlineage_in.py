"""OpenLineage in: a run event from any producer, recorded as a run with its edges.

A run event from Airflow, Spark, dbt or the ``openlineage-python`` client becomes a run
with the event's ``runId`` as its id; START, RUNNING and COMPLETE/FAIL/ABORT of one
``runId`` update the same run. A dataset that is a lake table (namespace ``lake`` and a
table's name, or a table's storage location) links to one exact table version: the one
its ``version`` facet names, else the one current at the event's time; other datasets
become ``external`` sources (``catalog.edges``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import models as m
from catalog.catalog import Catalog
from catalog.edges import SourceRef, add_edges, source_id
from catalog.lineage import TABLE_NAMESPACE
from catalog.tables import TableInfo
from catalog.versions import VersionInfo
from lake.core.errors import LakeError, VersionNotFound
from lake.core.names import TableVersion

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
_ENDED = {"COMPLETE": "completed", "FAIL": "failed", "ABORT": "failed"}


class LineageEventInvalid(LakeError):
    """An OpenLineage event the catalog cannot record (malformed, or naming a missing version)."""


@dataclass(frozen=True)
class RecordedEvent:
    """What one incoming event did to the catalog."""

    run_id: str
    status: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    """Each dataset as ``namespace/name@version`` (``lake/web.access@3``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
        }


@dataclass(frozen=True)
class _Dataset:
    namespace: str
    name: str
    version: str | None
    facets: Mapping[str, Any]


def record_event(
    catalog: Catalog,
    event: Any,
    *,
    refresh: Callable[[TableInfo], None] | None = None,
) -> RecordedEvent:
    """Record one OpenLineage run event; START, RUNNING and COMPLETE/FAIL/ABORT of the same
    ``runId`` update the same run. ``refresh(table)`` brings a lake table's recorded
    versions up to date with its Delta log before a version is looked up.

    Raises:
        LineageEventInvalid: not a run event, a malformed field, or a version that does not exist.
    """
    parsed = _parse(event)
    tables = _lake_tables(catalog)
    resolved: dict[str, list[tuple[str, SourceRef | TableVersion]]] = {"input": [], "output": []}
    for direction, datasets in (("input", parsed.inputs), ("output", parsed.outputs)):
        for dataset in datasets:
            table = tables.get((dataset.namespace, dataset.name)) or tables.get(
                ("", _location(dataset.namespace, dataset.name))
            )
            if table is None:
                ref = SourceRef(
                    kind="external",
                    namespace=dataset.namespace,
                    name=dataset.name,
                    version=dataset.version,
                    facets={k: v for k, v in dataset.facets.items() if k != "version"},
                )
                label = f"{dataset.namespace}/{dataset.name}" + (
                    f"@{dataset.version}" if dataset.version else ""
                )
                resolved[direction].append((label, ref))
                continue
            found = _table_version(catalog, table, dataset, direction, parsed, refresh)
            if found is not None:
                resolved[direction].append(
                    (
                        f"{TABLE_NAMESPACE}/{table.name}@{found.version}",
                        TableVersion(table.name, found.version, found.committed_at, table.id),
                    )
                )

    def work(session: Session) -> str:
        run = session.get(m.Run, parsed.run_id)
        if run is None:
            run = m.Run(
                id=parsed.run_id,
                kind="external",
                job=parsed.job,
                status="running",
                started_at=parsed.time,
                parameters={"job_namespace": parsed.job_namespace, "producer": parsed.producer},
                stats={},
            )
            session.add(run)
            session.flush()
        if run.kind == "external":
            _apply_status(run, parsed)
        for direction in ("input", "output"):
            wanted = [ref for _, ref in resolved[direction]]
            add_edges(session, run.id, direction, _new_targets(session, run.id, direction, wanted))
        return run.status

    status = catalog.transaction(work)
    return RecordedEvent(
        parsed.run_id,
        status,
        tuple(label for label, _ in resolved["input"]),
        tuple(label for label, _ in resolved["output"]),
    )


@dataclass(frozen=True)
class _Event:
    event_type: str
    time: datetime
    run_id: str
    job_namespace: str
    job: str
    producer: str
    error: str | None
    inputs: tuple[_Dataset, ...]
    outputs: tuple[_Dataset, ...]


def _parse(event: Any) -> _Event:
    if not isinstance(event, Mapping):
        raise LineageEventInvalid(
            "An OpenLineage event is a JSON object; send one run event per request."
        )
    run, job = event.get("run"), event.get("job")
    if not isinstance(run, Mapping) or not isinstance(job, Mapping):
        raise LineageEventInvalid(
            "Only OpenLineage run events are recorded: the event needs a 'run' with a 'runId' "
            "and a 'job'."
        )
    event_type = event.get("eventType") or "OTHER"
    if event_type not in EVENT_TYPES:
        raise LineageEventInvalid(
            f"eventType must be one of {', '.join(EVENT_TYPES)}, not {event_type!r}."
        )
    run_id = run.get("runId")
    try:
        run_id = str(uuid.UUID(str(run_id)))
    except ValueError:
        raise LineageEventInvalid(f"run.runId must be a UUID, not {run_id!r}.") from None
    job_namespace, job_name = job.get("namespace"), job.get("name")
    if not _text(job_namespace) or not _text(job_name):
        raise LineageEventInvalid("job.namespace and job.name must be non-empty strings.")
    moment = _time(event.get("eventTime"))
    error = None
    facets = run.get("facets")
    if isinstance(facets, Mapping) and isinstance(facets.get("errorMessage"), Mapping):
        error = str(facets["errorMessage"].get("message") or "")[:2000] or None
    producer = event.get("producer")
    return _Event(
        event_type=str(event_type),
        time=moment,
        run_id=run_id,
        job_namespace=str(job_namespace),
        job=str(job_name),
        producer=str(producer) if isinstance(producer, str) else "",
        error=error,
        inputs=_datasets_of(event.get("inputs"), "inputs"),
        outputs=_datasets_of(event.get("outputs"), "outputs"),
    )


def _datasets_of(value: Any, field: str) -> tuple[_Dataset, ...]:
    if value is None:
        return ()
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise LineageEventInvalid(f"{field} must be a list of datasets.")
    found = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, Mapping)
            or not _text(item.get("namespace"))
            or not _text(item.get("name"))
        ):
            raise LineageEventInvalid(f"{field}[{i}] needs a non-empty 'namespace' and 'name'.")
        facets = item.get("facets") if isinstance(item.get("facets"), Mapping) else {}
        version_facet = facets.get("version") if isinstance(facets.get("version"), Mapping) else {}
        version = version_facet.get("datasetVersion")
        found.append(
            _Dataset(
                namespace=str(item["namespace"]),
                name=str(item["name"]),
                version=str(version) if version is not None and str(version) else None,
                facets=dict(facets),
            )
        )
    return tuple(found)


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise LineageEventInvalid(
            "eventTime must be an ISO 8601 time with a UTC offset, e.g. 2026-11-30T05:00:00Z."
        )
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise LineageEventInvalid(f"eventTime {value!r} is not an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise LineageEventInvalid(f"eventTime {value!r} has no UTC offset; add one (Z or +00:00).")
    return moment.astimezone(UTC)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _lake_tables(catalog: Catalog) -> dict[tuple[str, str], TableInfo]:
    found: dict[tuple[str, str], TableInfo] = {}
    for table in catalog.list_tables():
        found[(TABLE_NAMESPACE, str(table.name))] = table
        found[("", _location(table.location))] = table
    return found


def _location(namespace: str, name: str = "") -> str:
    """A storage location in one spelling: Spark's Delta integration names a table by
    ``(s3://bucket, /prefix/ns/table)`` or ``(file, /path)``."""
    if namespace in ("file", "file://") and name:
        text = name
    else:
        text = namespace if not name else f"{namespace.rstrip('/')}/{name.lstrip('/')}"
    for prefix in ("file://", "file:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return "/" + text.lstrip("/") if "://" not in text else text.rstrip("/")


def _table_version(
    catalog: Catalog,
    table: TableInfo,
    dataset: _Dataset,
    direction: str,
    event: _Event,
    refresh: Callable[[TableInfo], None] | None,
) -> VersionInfo | None:
    if dataset.version is not None:
        if not dataset.version.isdigit():
            raise LineageEventInvalid(
                f"{table.name}: a lake table's version facet is a Delta version number, "
                f"not {dataset.version!r}."
            )
        version = int(dataset.version)
        found = catalog.find_version(table, version)
        if found is None and refresh is not None:
            refresh(table)
            found = catalog.find_version(table, version)
        if found is None:
            raise LineageEventInvalid(
                f"Version {version} of {table.name} does not exist; name a recorded version."
            )
        return found
    if direction == "output" and event.event_type not in ("COMPLETE",):
        return None  # a run's output version exists only once it has completed
    if refresh is not None:
        refresh(table)
    try:
        return catalog.version_at(table, event.time)
    except VersionNotFound:
        raise LineageEventInvalid(
            f"{table.name} had no version at {event.time.isoformat()} (the event's time); "
            f"give the version in a 'version' dataset facet."
        ) from None


def _apply_status(run: m.Run, event: _Event) -> None:
    ended = _ENDED.get(event.event_type)
    if ended is not None:
        run.status = ended
        run.ended_at = event.time
        if ended == "failed":
            run.error = (
                event.error or f"{event.event_type} reported by {event.producer or 'the producer'}"
            )
    if event.event_type == "START" and event.time < run.started_at:
        run.started_at = event.time


def _new_targets(
    session: Session, run_id: str, direction: str, targets: Sequence[SourceRef | TableVersion]
) -> list[SourceRef | TableVersion]:
    """The targets the run has no edge to yet (START and COMPLETE repeat their datasets)."""
    rows = session.execute(
        select(m.LineageEdge.table_version_id, m.LineageEdge.source_id).where(
            m.LineageEdge.run_id == run_id, m.LineageEdge.direction == direction
        )
    ).all()
    versions = {r[0] for r in rows if r[0] is not None}
    sources = {r[1] for r in rows if r[1] is not None}
    fresh: list[SourceRef | TableVersion] = []
    for target in targets:
        if isinstance(target, SourceRef):
            found = source_id(session, target)
            if found in sources:
                continue
            sources.add(found)
        else:
            row_id = session.scalar(
                select(m.TableVersion.id).where(
                    m.TableVersion.table_id == target.table_id,
                    m.TableVersion.version == target.version,
                )
            )
            if row_id in versions:
                continue
            versions.add(row_id)
        fresh.append(target)
    return fresh


__all__ = ["EVENT_TYPES", "LineageEventInvalid", "RecordedEvent", "record_event"]
