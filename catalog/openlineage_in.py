"""OpenLineage in: a run event from any producer, recorded as a run with its edges.

A run event from Airflow, Spark, dbt or the ``openlineage-python`` client becomes a run
with the event's ``runId`` as its id; START, RUNNING and COMPLETE/FAIL/ABORT of one
``runId`` update the same run. A dataset that is a lake table (namespace ``lake`` and a
table's name, or a table's storage location) links to one exact table version: the one
its ``version`` facet names, else the one current at the event's time. An input named as
the lake names a training set or model (``lake.training_sets`` / ``lake.models``, a name and
a version facet of a registered version) links to it. Other datasets become ``external``
sources (``catalog.edges``).

**Idempotent, and safe at once.** Events of one run may arrive in any order and at the same
time (a producer's START and COMPLETE racing): the run is inserted if missing (``INSERT ... ON
CONFLICT DO NOTHING``) and its row locked (``SELECT ... FOR UPDATE`` on Postgres; SQLite has
one writer at a time) before its edges are compared and added, so they end as one run with
every edge once. A transaction that still loses a race is run again (``RECORD_ATTEMPTS``).

**The lake's own runs are closed.** A ``runId`` that names a run the lake made (an ingest, an
extract, a materialization...) is refused with one sentence (:class:`LineageRunOwned`):
nothing from outside may add inputs or outputs to it, or change its status.

**The lake's own versions are closed too.** An output that names a table version a lake run
wrote (an ingest, an extract, a write, a materialization...; directly, or as the version current
at the event's time) is refused with one sentence (:class:`LineageVersionOwned`) and nothing of
the event is recorded: the lake knows who wrote that version, and an outside run claiming it would
put its own inputs upstream of every model trained on it (impact and audit follow output
edges). Outputs may name versions another engine committed to a registered table (the lake
recorded them from the Delta log, without a run of its own); several outside runs may claim
one such version, and each is listed beside the others. Inputs may name any version.

**Limits.** An event names at most ``MAX_DATASETS`` inputs and as many outputs; job and
dataset names and namespaces are at most ``MAX_NAME`` bytes of UTF-8 and hold no NUL; times must
fit the catalog (years 1 to 9999 in UTC); a version facet of a lake table is ASCII digits.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import models as m
from catalog.catalog import Catalog
from catalog.edges import SourceRef, add_edges
from catalog.lineage import MODEL_NAMESPACE, TABLE_NAMESPACE, TRAINING_SET_NAMESPACE
from catalog.tables import TableInfo
from catalog.versions import VersionInfo
from lake.core.errors import CommitConflict, LakeError, VersionNotFound
from lake.core.names import TableVersion

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
_ENDED = {"COMPLETE": "completed", "FAIL": "failed", "ABORT": "failed"}
#: Most inputs (and most outputs) one event may name.
MAX_DATASETS = 1000
#: Longest job or dataset name or namespace, in UTF-8 bytes: a dataset's namespace and name
#: share one Postgres index row, which holds at most ~2,700 bytes.
MAX_NAME = 1000
#: Attempts at recording one event when concurrent writers keep winning.
RECORD_ATTEMPTS = 8


class LineageEventInvalid(LakeError):
    """An OpenLineage event the catalog cannot record (malformed, or naming a missing version)."""


class LineageRunOwned(LineageEventInvalid):
    """The event's runId names a run the lake made: its lineage takes nothing from outside."""

    def __init__(self, run_id: str, kind: str, job: str) -> None:
        self.run_id, self.kind, self.job = run_id, kind, job
        super().__init__(
            f"Run {run_id} is the lake's own {kind} run ({job}): its inputs, outputs and status "
            f"come from the lake alone and accept no OpenLineage events; send the event under "
            f"a runId of your own."
        )


class LineageVersionOwned(LineageEventInvalid):
    """An event's output names a table version the lake's own run wrote: no outside run may
    claim to have written it."""

    def __init__(self, table: str, version: int, run_id: str, kind: str, job: str) -> None:
        self.table, self.version, self.run_id, self.kind, self.job = (
            table,
            version,
            run_id,
            kind,
            job,
        )
        super().__init__(
            f"{table}@{version} was written by the lake's own {kind} run {run_id} ({job}), so "
            f"no outside run may report it as an output; report the version your job committed "
            f"(a 'version' dataset facet), or name {table}@{version} among the inputs."
        )


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
    registered: dict[str, list[tuple[str, int]]] = {"input": [], "output": []}
    for direction, datasets in (("input", parsed.inputs), ("output", parsed.outputs)):
        for dataset in datasets:
            found_id = _registered(catalog, dataset) if direction == "input" else None
            if found_id is not None:
                registered[direction].append(found_id)
                resolved[direction].append(
                    (f"{dataset.namespace}/{dataset.name}@{dataset.version}", _NOT_A_SOURCE)
                )
                continue
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
        run = _locked_run(session, parsed)
        if run.kind != "external":
            raise LineageRunOwned(run.id, run.kind, run.job)
        _refuse_lake_versions(
            session, [ref for _, ref in resolved["output"] if isinstance(ref, TableVersion)]
        )
        _apply_status(run, parsed)
        for direction in ("input", "output"):
            wanted = [ref for _, ref in resolved[direction] if ref is not _NOT_A_SOURCE]
            targets = _new_targets(session, run.id, direction, wanted)
            session.flush()  # the run's changes first: the edges refer to it
            add_edges(session.connection(), run.id, direction, targets)
            for column, row_id in registered[direction]:
                _add_registered_edge(session, run.id, direction, column, row_id)
        return run.status

    status = _record_with_retries(catalog, work)
    return RecordedEvent(
        parsed.run_id,
        status,
        tuple(label for label, _ in resolved["input"]),
        tuple(label for label, _ in resolved["output"]),
    )


def _refuse_lake_versions(session: Session, outputs: Sequence[TableVersion]) -> None:
    """Refuse outputs naming a version a lake run wrote (its ``run_id``, or an output edge of
    a run that is not ``external``), in the transaction that would add the edges."""
    for target in outputs:
        row = session.execute(
            select(m.Run.id, m.Run.kind, m.Run.job)
            .select_from(m.TableVersion)
            .join(m.LineageEdge, m.LineageEdge.table_version_id == m.TableVersion.id, isouter=True)
            .join(
                m.Run,
                (m.Run.id == m.TableVersion.run_id)
                | ((m.Run.id == m.LineageEdge.run_id) & (m.LineageEdge.direction == "output")),
            )
            .where(
                m.TableVersion.table_id == target.table_id,
                m.TableVersion.version == target.version,
                m.Run.kind != "external",
            )
            .limit(1)
        ).first()
        if row is not None:
            raise LineageVersionOwned(str(target.table), target.version, row.id, row.kind, row.job)


_NOT_A_SOURCE = SourceRef(kind="external", namespace="", name="")
"""Stands for a dataset linked to a training set or model in the labels of an answer."""


def _registered(catalog: Catalog, dataset: _Dataset) -> tuple[str, int] | None:
    """The training set or model a dataset names as the lake names them in OpenLineage
    (namespace ``lake.training_sets`` or ``lake.models``, its name and its version facet):
    the lake edge's column and row id, or None (then it is an external source, as before).
    A job outside the lake that reports reading a set the lake made (training a model in its
    own registry) is then downstream of the set's inputs, as impact must find it."""
    column = {TRAINING_SET_NAMESPACE: "training_set_id", MODEL_NAMESPACE: "model_id"}.get(
        dataset.namespace
    )
    if column is None or dataset.version is None:
        return None
    row = m.TrainingSet if column == "training_set_id" else m.Model
    version: Any = dataset.version
    if column == "training_set_id":
        if not dataset.version.isdigit():
            return None
        version = int(dataset.version)

    def work(session: Session) -> int | None:
        return session.scalar(
            select(row.id).where(row.name == dataset.name, row.version == version)
        )

    found = catalog.transaction(work)
    return (column, found) if found is not None else None


def _add_registered_edge(
    session: Session, run_id: str, direction: str, column: str, row_id: int
) -> None:
    """An edge from the run to a training set or model, once (events repeat datasets)."""
    target = getattr(m.LineageEdge, column)
    present = session.scalar(
        select(m.LineageEdge.id).where(
            m.LineageEdge.run_id == run_id,
            m.LineageEdge.direction == direction,
            target == row_id,
        )
    )
    if present is None:
        session.add(m.LineageEdge(run_id=run_id, direction=direction, **{column: row_id}))
        session.flush()


def _record_with_retries(catalog: Catalog, work: Callable[[Session], str]) -> str:
    for attempt in range(RECORD_ATTEMPTS):
        try:
            return catalog.transaction(work)
        except CommitConflict:
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            # Jittered, so the events that collided do not collide again.
            time.sleep(random.uniform(0.01, 0.05) * 2 ** min(attempt, 5))
    raise AssertionError("unreachable")


def _locked_run(session: Session, event: _Event) -> m.Run:
    """The event's run, inserted when missing, its row locked for this transaction."""
    values = {
        "id": event.run_id,
        "kind": "external",
        "job": event.job,
        "status": "running",
        "started_at": event.time,
        "parameters": {"job_namespace": event.job_namespace, "producer": event.producer},
        "stats": {},
    }
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    session.execute(dialect_insert(m.Run).values(**values).on_conflict_do_nothing())
    run = session.scalars(select(m.Run).where(m.Run.id == event.run_id).with_for_update()).one()
    session.refresh(run)
    return run


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
    _name(job_namespace, "job.namespace")
    _name(job_name, "job.name")
    moment = _time(event.get("eventTime"))
    error = None
    facets = run.get("facets")
    if isinstance(facets, Mapping) and isinstance(facets.get("errorMessage"), Mapping):
        error = _clean(str(facets["errorMessage"].get("message") or "")[:2000]) or None
    producer = event.get("producer")
    if isinstance(producer, str):
        producer = _clean(producer[:MAX_NAME])
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
    if len(value) > MAX_DATASETS:
        raise LineageEventInvalid(
            f"{field} names {len(value)} datasets, more than the {MAX_DATASETS} one event may "
            f"name; send the rest in further events of the same run."
        )
    found = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, Mapping)
            or not _text(item.get("namespace"))
            or not _text(item.get("name"))
        ):
            raise LineageEventInvalid(f"{field}[{i}] needs a non-empty 'namespace' and 'name'.")
        _name(item["namespace"], f"{field}[{i}].namespace")
        _name(item["name"], f"{field}[{i}].name")
        facets = item.get("facets") if isinstance(item.get("facets"), Mapping) else {}
        version_facet = facets.get("version") if isinstance(facets.get("version"), Mapping) else {}
        version = version_facet.get("datasetVersion")
        if version is not None:
            _name(str(version), f"{field}[{i}].facets.version.datasetVersion")
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
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is past the year 9999 in UTC
        raise LineageEventInvalid(
            f"eventTime {value!r} is outside the years 1 to 9999 once in UTC."
        ) from None


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _clean(text: str) -> str:
    """Free text kept as it is, less what no catalog column can hold (NUL, lone surrogates)."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _name(value: str, field: str) -> None:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise LineageEventInvalid(
            f"{field} holds a lone UTF-16 surrogate (a broken \\u escape), which is not text."
        ) from None
    if size > MAX_NAME:
        raise LineageEventInvalid(
            f"{field} is {size} bytes long in UTF-8, more than the {MAX_NAME} allowed."
        )
    if "\x00" in value:
        raise LineageEventInvalid(f"{field} holds a NUL character, which no name may hold.")


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
        if (
            not (dataset.version.isascii() and dataset.version.isdigit())
            or len(dataset.version) > 18
        ):
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
    """The targets the run has no edge to yet (START and COMPLETE repeat their datasets).

    Sources are compared by what they are (kind, namespace, name, version), not by row id:
    events of other runs recording the same new source at once may each have added a row.
    """
    rows = session.execute(
        select(m.LineageEdge.table_version_id, m.LineageEdge.source_id).where(
            m.LineageEdge.run_id == run_id, m.LineageEdge.direction == direction
        )
    ).all()
    versions = {r[0] for r in rows if r[0] is not None}
    source_ids = [r[1] for r in rows if r[1] is not None]
    sources = set()
    if source_ids:
        sources = {
            tuple(r)
            for r in session.execute(
                select(m.Source.kind, m.Source.namespace, m.Source.name, m.Source.version).where(
                    m.Source.id.in_(source_ids)
                )
            )
        }
    fresh: list[SourceRef | TableVersion] = []
    for target in targets:
        if isinstance(target, SourceRef):
            identity = (target.kind, target.namespace, target.name, target.version)
            if identity in sources:
                continue
            sources.add(identity)
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


__all__ = [
    "EVENT_TYPES",
    "MAX_DATASETS",
    "MAX_NAME",
    "LineageEventInvalid",
    "LineageRunOwned",
    "LineageVersionOwned",
    "RecordedEvent",
    "record_event",
]
