"""Lineage: what fed a model (audit), and what a bad batch reached (impact).

The model is OpenLineage's. A *run* (``runs``: its id is an OpenLineage ``runId``, its
``job`` the job name) consumes input dataset versions and produces output dataset
versions (``lineage_edges``, direction ``input``/``output``). Datasets are named by
``namespace`` and ``name``, as in OpenLineage:

==================  ==========================  =====================  ====================
dataset             namespace                   name                   version
==================  ==========================  =====================  ====================
lake table          ``lake``                    ``web.access``         Delta version ``5``
training set        ``lake.training_sets``      ``churn``              ``2``
model               ``lake.models``             ``churn_gbm``          ``3``
source file         ``file://``, ``s3://bkt``   the URI                its sha256
database extract    ``postgresql://host/db``    table or query         watermark range
==================  ==========================  =====================  ====================

so emitting OpenLineage events later maps each edge to an ``InputDataset`` or
``OutputDataset`` of the run's ``RunEvent``; nothing here needs to change.

**Which versions hold a version's data** (the rule behind both directions). A Delta
version holds data files; a file a version *adds* carries that version's data. Later
versions keep the file until one removes it. A version that removes files and adds
others (OPTIMIZE, MERGE, UPDATE, DELETE, anything that rewrites files) may copy the
removed files' rows into the files it adds, so its added files carry the removed files'
data too; only a version that replaces the whole table's data (an operation whose name
says OVERWRITE, TRUNCATE or REPLACE TABLE) does not, nor another engine's ``WRITE``
whose commit says ``mode: Overwrite`` without a predicate (Spark's and deltalake's
overwrite: the catalog records the operation's name only, so the Delta log's
``operationParameters`` of that version are read). Replacing some rows is a rewrite: a
reparse (``INGEST LOGS (REPLACE LINES)``) or a ``replaceWhere`` (a ``WRITE`` in mode
Overwrite with a ``predicate``) rewrites the files holding those rows, other sources' rows
included, so it carries. A RESTORE re-adds old files with their data. So:

* ``data_in(v)``: the versions whose data is in version ``v`` (audit lists the runs and
  sources of all of them, not only of the run that committed ``v``);
* ``holders(u)``: the versions ``v`` with ``u`` in ``data_in(v)``: every consumer of such
  a version is downstream of ``u`` (impact). For an append-only table that is ``u`` and
  every later version; a DELETE that rewrites the bad files still carries them (we cannot
  tell which rows it kept), an OVERWRITE ends them.

The rule errs toward reporting too much: an auditor can dismiss a false positive, not a
consumer that was never listed. The catalog's per-version ``files_removed`` lets an
append-only history be answered from the catalog alone; only a history with removals
reads the Delta log (one snapshot per version involved).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from catalog import models as m
from catalog.catalog import Catalog
from catalog.exceptions import SourceNotFound
from catalog.tables import TableInfo, table_info
from lake.core.errors import LakeError, VersionNotFound
from lake.core.names import TableName, model_version

FilesOf = Callable[[int], frozenset[str]]
SourcesMode = Literal["auto", "all", "none"]
AUTO_SOURCES = 2_000
MAX_DEPTH = 8
"""Levels of runs above a training set's inputs that an audit lists (its answer is a tree,
which a DAG of runs feeding each other would make exponential); a run whose own inputs lie
deeper is marked ``inputs_truncated`` and the audit ``inputs_complete: false``, never cut
silently. Impact has no such limit: it walks until nothing new is found."""
_CHUNK = 500

TABLE_NAMESPACE = "lake"
TRAINING_SET_NAMESPACE = "lake.training_sets"
MODEL_NAMESPACE = "lake.models"

RULE = (
    "A version holds the data of the files it adds; later versions hold it while they keep "
    "those files, and files added by a version that removed some of them (a rewrite such as "
    "OPTIMIZE, MERGE, UPDATE, DELETE or a replacement of some rows such as a replaceWhere) "
    "hold it too; an OVERWRITE (another engine's WRITE in mode Overwrite without a "
    "predicate) or REPLACE TABLE ends it."
)


# -- the rule (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionFacts:
    """What the catalog knows about one version, enough to skip the Delta log when nothing
    was removed."""

    version: int
    operation: str
    files_added: int | None = None
    files_removed: int | None = None


ENGINE_WRITE = "WRITE"
"""The operation Spark and deltalake name every append and overwrite of another engine's
table; what it did is in the commit's ``operationParameters`` (``mode``, ``predicate``)."""


def carries_data(operation: str, parameters: Mapping[str, object] | None = None) -> bool:
    """Whether the files a version adds may carry rows of the files it removes;
    ``parameters``: the commit's ``operationParameters``, which decide for a ``WRITE``
    (None when not known: then it carries)."""
    upper = operation.upper()
    # "REPLACE" alone also names replacing some rows (a reparse's REPLACE LINES), whose
    # rewritten files keep every other row: only a table's replacement ends its data.
    if any(word in upper for word in ("OVERWRITE", "REPLACE TABLE", "TRUNCATE")):
        return False
    if upper == ENGINE_WRITE and parameters is not None:
        # Spark's and deltalake's overwrite: mode Overwrite. With a predicate (replaceWhere)
        # it rewrites the files holding matching rows and keeps their other rows: it carries.
        # Without one it replaces every file (Spark's dynamic partition overwrite replaces
        # whole partitions' files): the files it adds hold only the rows it wrote.
        mode = str(parameters.get("mode") or "").upper()
        predicate = parameters.get("predicate")
        return mode != "OVERWRITE" or predicate not in (None, "", "[]", [])
    return True


ParametersOf = Callable[[int], Mapping[str, object] | None]
"""A version's commit ``operationParameters`` (None when its log entry is gone)."""


def _carries(fact: VersionFacts, parameters_of: ParametersOf | None) -> bool:
    """:func:`carries_data` of one version, its parameters read only for a ``WRITE``."""
    if parameters_of is None or fact.operation.upper() != ENGINE_WRITE:
        return carries_data(fact.operation)
    return carries_data(fact.operation, parameters_of(fact.version))


def _appends_only(fact: VersionFacts) -> bool:
    return fact.files_removed == 0 and "RESTORE" not in fact.operation.upper()


def holders(
    origin: int,
    facts: Sequence[VersionFacts],
    files_of: FilesOf,
    parameters_of: ParametersOf | None = None,
) -> list[int]:
    """The versions (``origin`` and later) that hold data ``origin`` added; see the module
    docstring. ``facts`` covers every version from ``origin`` to the latest, ascending;
    ``parameters_of`` (the Delta log) tells what another engine's ``WRITE`` did."""
    later = [f for f in facts if f.version > origin]
    if all(_appends_only(f) for f in later):
        return [origin] + [f.version for f in later]
    tainted = files_of(origin) - (files_of(origin - 1) if origin > 0 else frozenset())
    ever = set(tainted)
    found = [origin]
    for fact in later:
        if not _appends_only(fact):
            before, after = files_of(fact.version - 1), files_of(fact.version)
            removed, added = before - after, after - before
            hit = tainted & removed
            tainted = (tainted - removed) | (added & ever)  # a RESTORE brings files back
            if hit and _carries(fact, parameters_of):
                tainted |= added
            ever |= tainted
        if tainted:
            found.append(fact.version)
    return found


def data_in(
    target: int,
    facts: Sequence[VersionFacts],
    files_of: FilesOf,
    parameters_of: ParametersOf | None = None,
) -> list[int]:
    """The versions whose data version ``target`` holds; ``facts`` covers versions 0 to
    ``target``, ascending; ``parameters_of`` as for :func:`holders`."""
    upto = [f for f in facts if f.version <= target]
    if all(_appends_only(f) for f in upto if f.version > 0):
        return [f.version for f in upto if f.files_added != 0 or f.version == target]
    origins: dict[str, frozenset[int]] = {}
    previous: frozenset[str] = frozenset()
    for fact in upto:
        current = files_of(fact.version)
        removed, added = previous - current, current - previous
        carried: frozenset[int] = frozenset()
        if removed and _carries(fact, parameters_of):
            carried = frozenset().union(*(origins.get(f, frozenset()) for f in removed))
        for name in added:
            origins[name] = origins.get(name, frozenset()) | carried | {fact.version}
        previous = current
    found = set().union(*(origins[f] for f in previous)) if previous else set()
    return sorted(found | {target})


# -- results ---------------------------------------------------------------------------------


@dataclass
class RunNode:
    run_id: str
    kind: str
    job: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    user: str | None
    code_version: str | None = None
    """What the run's code was: ``git:<commit>`` of a training job, ``lake X`` of the lake's."""

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "job": self.job,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "user": self.user,
            "code_version": self.code_version,
        }


@dataclass
class SourceNode:
    kind: str
    namespace: str
    name: str
    version: str | None
    facets: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "facets": dict(self.facets),
        }


@dataclass
class ContributionNode:
    """One version whose data is in an audited table version, with the run that committed
    it and what that run read."""

    version: int
    committed_at: datetime
    operation: str
    rows_added: int | None
    run: RunNode | None
    sources: list[SourceNode] | None = field(default_factory=list)
    """None when the audit lists counts only (see ``Lineage.audit_run_inputs``)."""
    source_count: int = 0
    inputs: list[TableVersionNode] = field(default_factory=list)
    inputs_truncated: bool = False
    """The run read lake tables that are not listed: they lie deeper than ``MAX_DEPTH``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "committed_at": self.committed_at.isoformat(),
            "operation": self.operation,
            "rows_added": self.rows_added,
            "run": self.run.to_json() if self.run else None,
            "source_count": self.source_count,
            "sources": [s.to_json() for s in self.sources] if self.sources is not None else None,
            "inputs": [i.to_json() for i in self.inputs],
            "inputs_truncated": self.inputs_truncated,
        }


@dataclass
class TableVersionNode:
    table: str
    version: int
    committed_at: datetime
    operation: str
    rows_total: int | None
    data_from: list[ContributionNode] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": TABLE_NAMESPACE,
            "table": self.table,
            "version": self.version,
            "committed_at": self.committed_at.isoformat(),
            "operation": self.operation,
            "rows_total": self.rows_total,
            "data_from": [c.to_json() for c in self.data_from],
        }


@dataclass
class Audit:
    """The chain behind a model: model -> training set -> table versions -> runs -> sources."""

    model: dict[str, Any] | None
    training_set: dict[str, Any] | None
    inputs: list[TableVersionNode]
    sources_listed: bool = True
    """False when there were too many sources to list (counts only; ask for all)."""
    inputs_complete: bool = True
    """False when some run's lake inputs lie deeper than ``MAX_DEPTH`` levels and are not
    listed (that run is marked ``inputs_truncated``)."""

    def to_json(self) -> dict[str, Any]:
        training_set = dict(self.training_set) if self.training_set else None
        if training_set is not None:
            training_set["inputs"] = [i.to_json() for i in self.inputs]
        return {
            "model": self.model,
            "training_set": training_set,
            "sources_listed": self.sources_listed,
            "inputs_complete": self.inputs_complete,
            "rule": RULE,
        }


@dataclass
class Impact:
    """Everything downstream of a table version or a source."""

    origin: dict[str, Any]
    table_versions: list[dict[str, Any]]
    training_sets: list[dict[str, Any]]
    models: list[dict[str, Any]]
    runs: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "rule": RULE,
            "table_versions": self.table_versions,
            "training_sets": self.training_sets,
            "models": self.models,
            "runs": self.runs,
        }


# -- the catalog side ------------------------------------------------------------------------


class Lineage:
    """Audit and impact over one catalog; ``files_for(table)`` gives a table's
    ``version -> data file paths`` reader (the Delta log), used only when the rule needs it;
    ``parameters_for(table)`` its ``version -> operationParameters`` reader, read only for a
    version another engine named ``WRITE`` that removed files (without it such a version
    carries, as if it kept every row)."""

    def __init__(
        self,
        catalog: Catalog,
        files_for: Callable[[TableInfo], FilesOf],
        parameters_for: Callable[[TableInfo], ParametersOf] | None = None,
    ) -> None:
        self.catalog = catalog
        self._parameters_for = parameters_for
        self._parameters: dict[int, ParametersOf] = {}
        self._sources_mode: SourcesMode = "auto"
        self._sources_listed = True
        self._inputs_complete = True
        self._files_for = files_for
        self._files: dict[int, FilesOf] = {}
        self._tables: dict[int, TableInfo] = {}

    # -- audit ---------------------------------------------------------------------------------

    def audit_model(self, model: Any, *, sources: SourcesMode = "auto") -> Audit:
        """``model`` is a :class:`catalog.registry.ModelInfo`; see :meth:`audit_run_inputs`
        for ``sources``."""
        from catalog.registry import find_training_set

        self._sources_mode = sources
        self._inputs_complete = True
        training_set = None
        inputs: list[TableVersionNode] = []
        if model.training_set is not None:
            name, _, version = model.training_set.rpartition("@")
            ts = find_training_set(self.catalog, name, int(version))
            training_set, inputs = self._training_set_json(ts), self.audit_run_inputs(ts.run_id)
        model_json = model.to_json()
        model_json["namespace"] = MODEL_NAMESPACE
        model_json["run"] = self._run_json(model.run_id)
        model_json["code_version"] = (model_json["run"] or {}).get("code_version")
        return Audit(model_json, training_set, inputs, self._sources_listed, self._inputs_complete)

    def audit_training_set(self, training_set: Any, *, sources: SourcesMode = "auto") -> Audit:
        self._sources_mode = sources
        self._inputs_complete = True
        inputs = self.audit_run_inputs(training_set.run_id)
        return Audit(
            None,
            self._training_set_json(training_set),
            inputs,
            self._sources_listed,
            self._inputs_complete,
        )

    def audit_run_inputs(self, run_id: str | None, depth: int = 0) -> list[TableVersionNode]:
        """The table versions a run consumed, each with the versions whose data it holds,
        their runs and sources (and, recursively, lake tables those runs read).

        Sources (``sources`` of the audit call): ``all`` lists every source of every run;
        ``auto`` (the default) lists them when there are at most ``AUTO_SOURCES`` in all,
        else gives each run its ``source_count`` only (``lake audit --sources all`` lists
        them: an append-only table ingested hourly for a year has ~9,000 runs behind it);
        ``none`` gives counts only. One transaction, a handful of indexed queries whatever
        the number of versions.
        """
        if run_id is None:
            return []
        return self.catalog.transaction(lambda session: self._audit_inputs(session, run_id, 0))

    def _audit_inputs(self, session: Session, run_id: str, depth: int) -> list[TableVersionNode]:
        consumed = sorted(
            {
                (r[0], r[1])
                for r in session.execute(
                    select(m.TableVersion.table_id, m.TableVersion.version)
                    .join(m.LineageEdge, m.LineageEdge.table_version_id == m.TableVersion.id)
                    .where(m.LineageEdge.run_id == run_id, m.LineageEdge.direction == "input")
                )
            }
        )
        history, names = self._histories(session, consumed)
        nodes: list[TableVersionNode] = []
        for table_id, version in consumed:
            nodes.append(self._contributions(table_id, names[table_id], version, history[table_id]))
        reported = self._reported_writers(session, consumed)
        for (table_id, _), node in zip(consumed, nodes, strict=True):
            node.data_from = _with_reported_writers(node.data_from, reported.get(table_id, {}))
        run_ids = sorted({c.run.run_id for n in nodes for c in n.data_from if c.run is not None})
        runs, counts, upstream = self._runs_of(session, run_ids)
        listed = self._sources_of(session, run_ids, counts)
        for node in nodes:
            for contribution in node.data_from:
                if contribution.run is None:
                    continue
                producer = contribution.run.run_id
                contribution.run = runs.get(producer)
                contribution.source_count = counts.get(producer, 0)
                contribution.sources = listed.get(producer, []) if listed is not None else None
                if producer in upstream:
                    if depth + 1 > MAX_DEPTH:
                        contribution.inputs_truncated = True
                        self._inputs_complete = False
                    else:
                        contribution.inputs = self._audit_inputs(session, producer, depth + 1)
        return nodes

    def _histories(
        self, session: Session, consumed: Sequence[tuple[int, int]]
    ) -> tuple[dict[int, list[Any]], dict[int, str]]:
        """Versions 0..v of every consumed table version's table (one query), and the
        tables' names."""
        newest: dict[int, int] = {}
        for table_id, version in consumed:
            newest[table_id] = max(version, newest.get(table_id, version))
        if not newest:
            return {}, {}
        rows = session.execute(
            select(
                m.TableVersion.table_id,
                m.TableVersion.version,
                m.TableVersion.operation,
                m.TableVersion.files_added,
                m.TableVersion.files_removed,
                m.TableVersion.committed_at,
                m.TableVersion.rows_added,
                m.TableVersion.rows_total,
                m.TableVersion.run_id,
            )
            .where(
                or_(
                    *(
                        and_(m.TableVersion.table_id == t, m.TableVersion.version <= v)
                        for t, v in newest.items()
                    )
                )
            )
            .order_by(m.TableVersion.table_id, m.TableVersion.version)
        )
        found: dict[int, list[Any]] = {t: [] for t in newest}
        for row in rows:
            found[row[0]].append(row)
        names = {
            r[0]: f"{r[1]}.{r[2]}"
            for r in session.execute(
                select(m.Table.id, m.Namespace.name, m.Table.name)
                .join(m.Namespace, m.Namespace.id == m.Table.namespace_id)
                .where(m.Table.id.in_(list(newest)))
            )
        }
        return found, names

    def _contributions(
        self, table_id: int, name: str, version: int, history: Sequence[Any]
    ) -> TableVersionNode:
        rows = [r for r in history if r.version <= version]
        by_version = {r.version: r for r in rows}
        if version not in by_version:
            raise VersionNotFound(
                f"Version {version} of {name} is not recorded; run `lake catalog sync`."
            )
        facts = [VersionFacts(r.version, r.operation, r.files_added, r.files_removed) for r in rows]
        # The Delta log is read only when the history removed files (see the rule).
        contributing = [
            v
            for v in data_in(
                version,
                facts,
                lambda v: self._files_of(self._table(table_id))(v),
                lambda v: self._parameters_of(self._table(table_id))(v),
            )
            if v in by_version
        ]
        head = by_version[version]
        node = TableVersionNode(name, version, head.committed_at, head.operation, head.rows_total)
        for v in contributing:
            row = by_version[v]
            placeholder = (
                RunNode(row.run_id, "", "", "", row.committed_at, None, None)
                if row.run_id
                else None
            )
            node.data_from.append(
                ContributionNode(v, row.committed_at, row.operation, row.rows_added, placeholder)
            )
        return node

    def _reported_writers(
        self, session: Session, consumed: Sequence[tuple[int, int]]
    ) -> dict[int, dict[int, list[str]]]:
        """The runs with an output edge on each version up to the consumed one, per table
        (table id -> version -> run ids): the lake's own runs, and runs reported through
        OpenLineage as writing the version (another engine's commit has no lake run), which
        impact follows downstream and the audit must name upstream."""
        newest: dict[int, int] = {}
        for table_id, version in consumed:
            newest[table_id] = max(version, newest.get(table_id, version))
        found: dict[int, dict[int, list[str]]] = {}
        for table_id, version in newest.items():
            rows = session.execute(
                select(m.TableVersion.version, m.LineageEdge.run_id)
                .join(m.LineageEdge, m.LineageEdge.table_version_id == m.TableVersion.id)
                .where(
                    m.TableVersion.table_id == table_id,
                    m.TableVersion.version <= version,
                    m.LineageEdge.direction == "output",
                )
                .order_by(m.TableVersion.version, m.LineageEdge.run_id)
            )
            for v, run_id in rows:
                runs = found.setdefault(table_id, {}).setdefault(v, [])
                if run_id not in runs:
                    runs.append(run_id)
        return found

    def _runs_of(
        self, session: Session, run_ids: Sequence[str]
    ) -> tuple[dict[str, RunNode], dict[str, int], set[str]]:
        """The runs, how many sources each read, and which of them also read lake tables."""
        runs: dict[str, RunNode] = {}
        counts: dict[str, int] = {}
        upstream: set[str] = set()
        for chunk in _chunks(run_ids, 5_000):
            for row in session.execute(
                select(
                    m.Run.id,
                    m.Run.kind,
                    m.Run.job,
                    m.Run.status,
                    m.Run.started_at,
                    m.Run.ended_at,
                    m.Run.user,
                ).where(self._among(m.Run.id, chunk))
            ):
                runs[row[0]] = RunNode(*row)
            for run, sources, tables in session.execute(
                select(
                    m.LineageEdge.run_id,
                    func.count(m.LineageEdge.source_id),
                    func.count(m.LineageEdge.table_version_id),
                )
                .where(self._among(m.LineageEdge.run_id, chunk), m.LineageEdge.direction == "input")
                .group_by(m.LineageEdge.run_id)
            ):
                counts[run] = sources
                if tables:
                    upstream.add(run)
        return runs, counts, upstream

    def _sources_of(
        self, session: Session, run_ids: Sequence[str], counts: Mapping[str, int]
    ) -> dict[str, list[SourceNode]] | None:
        """The sources each run read, or None when the audit gives counts only."""
        total = sum(counts.get(r, 0) for r in run_ids)
        mode = self._sources_mode
        if mode == "none" or (mode == "auto" and total > AUTO_SOURCES):
            if total:
                self._sources_listed = False
            return None
        wanted = [r for r in run_ids if counts.get(r)]
        found: dict[str, list[SourceNode]] = {}
        for chunk in _chunks(wanted, 5_000):
            rows = session.execute(
                select(
                    m.LineageEdge.run_id,
                    m.Source.kind,
                    m.Source.namespace,
                    m.Source.name,
                    m.Source.version,
                    m.Source.facets,
                )
                .join(m.Source, m.Source.id == m.LineageEdge.source_id)
                .where(self._among(m.LineageEdge.run_id, chunk), m.LineageEdge.direction == "input")
                .order_by(m.LineageEdge.id)
            )
            for run_id, kind, namespace, name, version, facets in rows:
                found.setdefault(run_id, []).append(
                    SourceNode(kind, namespace, name, version, facets or {})
                )
        return found

    # -- impact --------------------------------------------------------------------------------

    def impact_of_version(self, table: TableInfo, version: int) -> Impact:
        origin = {"namespace": TABLE_NAMESPACE, "table": str(table.name), "version": version}
        return self._impact(origin, {table.id: {version}}, sources=())

    def impact_of_source(self, name: str) -> Impact:
        """Everything downstream of a source, whatever version (sha256, watermark range) of
        it was read. ``name`` is what a user types (:func:`source_spellings`): a path,
        relative or absolute, a ``file://`` or ``s3://`` URI, a database table or query
        name; a folder or prefix stands for every source below it.

        Raises:
            SourceNotFound: nothing recorded matches, with the nearest known sources (an
                empty answer would read as "nothing was affected").
        """
        spellings = source_spellings(name)
        columns = (m.Source.id, m.Source.kind, m.Source.namespace, m.Source.name, m.Source.version)

        def work(session: Session) -> list[tuple[Any, ...]]:
            exact = session.execute(select(*columns).where(m.Source.name.in_(spellings))).all()
            if exact:
                return [tuple(r) for r in exact]
            prefixes = [s.rstrip("/") + "/" for s in spellings if "://" in s]
            if not prefixes:
                return []
            below = or_(*(m.Source.name.startswith(p, autoescape=True) for p in prefixes))
            return [tuple(r) for r in session.execute(select(*columns).where(below))]

        found = self.catalog.transaction(work)
        if not found:
            raise SourceNotFound(
                name, tried=tuple(spellings), nearest=self._nearest_sources(spellings)
            )
        origin = {
            "source": name,
            "matched": sorted({n for _, _, _, n, _ in found}),
            "versions": [
                {"kind": k, "namespace": ns, "name": n, "version": v} for _, k, ns, n, v in found
            ],
        }
        return self._impact(origin, {}, sources=[r[0] for r in found])

    def _nearest_sources(self, spellings: Sequence[str], limit: int = 3) -> tuple[str, ...]:
        """The recorded source names most like any spelling (difflib's ratio), best first."""

        def work(session: Session) -> list[str]:
            query = select(m.Source.name).distinct().limit(NEAREST_SCAN)
            return [r[0] for r in session.execute(query)]

        names = self.catalog.transaction(work)
        scored: dict[str, float] = {}
        for spelling in spellings:
            for candidate in difflib.get_close_matches(spelling, names, n=limit, cutoff=0.5):
                ratio = difflib.SequenceMatcher(None, spelling, candidate).ratio()
                scored[candidate] = max(scored.get(candidate, 0.0), ratio)
        return tuple(sorted(scored, key=lambda n: (-scored[n], n))[:limit])

    def _impact(
        self, origin: dict[str, Any], start: dict[int, set[int]], *, sources: Sequence[int]
    ) -> Impact:
        """Walk downstream: table versions -> the versions holding their data -> runs that
        consumed any of them -> what those runs produced (table versions, training sets,
        models) -> ... until nothing new."""
        versions: dict[int, dict[int, str]] = {}  # table id -> version -> why it is listed
        expanded: set[tuple[int, int]] = set()
        set_ids: set[int] = set()
        model_ids: set[int] = set()
        run_ids: set[str] = set()
        pending: dict[int, dict[int, str]] = {
            t: {v: "the version asked about" for v in vs} for t, vs in start.items()
        }
        pending_sets: set[int] = set()
        pending_models: set[int] = set()
        consumers = self._consumers("source_id", sources) if sources else set()
        # Every pass handles one more hop; each run, version, set and model is expanded once,
        # so the walk ends when a pass finds nothing new, however long the chain.
        while True:
            produced = self._outputs_of(consumers - run_ids)
            run_ids |= consumers
            for table_id, version in produced.table_versions:
                pending.setdefault(table_id, {}).setdefault(
                    version, "written by a run that read affected data"
                )
            pending_sets |= produced.training_sets - set_ids
            pending_models |= produced.models - model_ids
            if not (pending or pending_sets or pending_models):
                break
            affected: dict[int, set[int]] = {}
            for table_id, origins in pending.items():
                table = self._table(table_id)
                known = versions.setdefault(table_id, {})
                for u, why in sorted(origins.items()):
                    if (table_id, u) in expanded:
                        continue
                    expanded.add((table_id, u))
                    known.setdefault(u, why)
                    affected.setdefault(table_id, set()).add(u)
                    for v in self._holders(table, u):
                        if v not in known:
                            known[v] = f"still holds data of version {u}"
                            affected[table_id].add(v)
            set_ids |= pending_sets
            new_models = (self._models_of_sets(sorted(pending_sets)) | pending_models) - model_ids
            model_ids |= new_models | pending_models
            consumers = (
                self._consumers_of_versions(affected)
                | self._consumers("training_set_id", sorted(pending_sets))
                | self._consumers("model_id", sorted(new_models))
            )
            pending, pending_sets, pending_models = {}, set(), set()
        return Impact(
            origin=origin,
            table_versions=[
                {"table": str(self._table(t).name), "version": v, "why": why}
                for t in sorted(versions, key=lambda t: str(self._table(t).name))
                for v, why in sorted(versions[t].items())
            ],
            training_sets=self._describe_sets(sorted(set_ids), versions),
            models=self._describe_models(sorted(model_ids)),
            runs=self._describe_runs(sorted(run_ids)),
        )

    def _holders(self, table: TableInfo, version: int) -> list[int]:
        rows = self._version_rows(table.id, version, None)
        if not rows or rows[0].version != version:
            raise VersionNotFound(
                f"Version {version} of {table.name} is not recorded; `lake history {table.name}` "
                f"lists its versions."
            )
        facts = [VersionFacts(r.version, r.operation, r.files_added, r.files_removed) for r in rows]
        return holders(version, facts, self._files_of(table), self._parameters_of(table))

    def _consumers_of_versions(self, affected: Mapping[int, set[int]]) -> set[str]:
        """Runs with an input edge on any of the given table versions (ranges per table)."""
        conditions = []
        for table_id, found in affected.items():
            for low, high in _ranges(sorted(found)):
                conditions.append(
                    and_(
                        m.TableVersion.table_id == table_id,
                        m.TableVersion.version.between(low, high),
                    )
                )
        if not conditions:
            return set()

        def work(session: Session) -> set[str]:
            found_runs: set[str] = set()
            for start in range(0, len(conditions), 50):
                found_runs |= set(
                    session.execute(
                        select(m.LineageEdge.run_id)
                        .join(m.TableVersion, m.TableVersion.id == m.LineageEdge.table_version_id)
                        .where(
                            m.LineageEdge.direction == "input", or_(*conditions[start : start + 50])
                        )
                        .distinct()
                    ).scalars()
                )
            return found_runs

        return self.catalog.transaction(work)

    def _consumers(self, column: str, ids: Sequence[int]) -> set[str]:
        if not ids:
            return set()
        target = getattr(m.LineageEdge, column)

        def work(session: Session) -> set[str]:
            found: set[str] = set()
            for chunk in _chunks(ids):
                found |= set(
                    session.execute(
                        select(m.LineageEdge.run_id)
                        .where(target.in_(chunk), m.LineageEdge.direction == "input")
                        .distinct()
                    ).scalars()
                )
            return found

        return self.catalog.transaction(work)

    def _outputs_of(self, run_ids: Iterable[str]) -> _Outputs:
        ids = sorted(run_ids)
        out = _Outputs(runs=set(ids))
        if not ids:
            return out

        def work(session: Session) -> None:
            for chunk in _chunks(ids):
                rows = session.execute(
                    select(
                        m.LineageEdge.training_set_id,
                        m.LineageEdge.model_id,
                        m.TableVersion.table_id,
                        m.TableVersion.version,
                    )
                    .outerjoin(m.TableVersion, m.TableVersion.id == m.LineageEdge.table_version_id)
                    .where(m.LineageEdge.run_id.in_(chunk), m.LineageEdge.direction == "output")
                )
                for set_id, model_id, table_id, version in rows:
                    if set_id is not None:
                        out.training_sets.add(set_id)
                    if model_id is not None:
                        out.models.add(model_id)
                    if table_id is not None:
                        out.table_versions.add((table_id, version))

        self.catalog.transaction(work)
        return out

    def _models_of_sets(self, set_ids: Sequence[int]) -> set[int]:
        if not set_ids:
            return set()

        def work(session: Session) -> set[int]:
            found: set[int] = set()
            for chunk in _chunks(set_ids):
                found |= set(
                    session.scalars(select(m.Model.id).where(m.Model.training_set_id.in_(chunk)))
                )
            return found

        return self.catalog.transaction(work)

    def _describe_sets(
        self, ids: Sequence[int], versions: Mapping[int, Mapping[int, str]]
    ) -> list[dict[str, Any]]:
        if not ids:
            return []

        def work(session: Session) -> list[dict[str, Any]]:
            described = []
            for chunk in _chunks(ids):
                rows = session.scalars(select(m.TrainingSet).where(m.TrainingSet.id.in_(chunk)))
                for row in rows:
                    read = [
                        f"{i['table']}@{i['version']}"
                        for i in (row.manifest or {}).get("inputs", [])
                        if self._is_affected(i, versions)
                    ]
                    described.append(
                        {
                            "namespace": TRAINING_SET_NAMESPACE,
                            "name": row.name,
                            "version": row.version,
                            "content_hash": row.content_hash,
                            "row_count": row.row_count,
                            "created_at": row.created_at.isoformat(),
                            "location": row.location,
                            "read": read,
                        }
                    )
            return sorted(described, key=lambda d: (d["name"], d["version"]))

        return self.catalog.transaction(work)

    def _is_affected(
        self, entry: Mapping[str, Any], versions: Mapping[int, Mapping[int, str]]
    ) -> bool:
        for table_id, found in versions.items():
            if (
                str(self._table(table_id).name) == entry.get("table")
                and entry.get("version") in found
            ):
                return True
        return False

    def _describe_models(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []

        def work(session: Session) -> list[dict[str, Any]]:
            described = []
            for chunk in _chunks(ids):
                rows = session.execute(
                    select(m.Model, m.TrainingSet.name, m.TrainingSet.version)
                    .outerjoin(m.TrainingSet, m.TrainingSet.id == m.Model.training_set_id)
                    .where(m.Model.id.in_(chunk))
                )
                for model, ts_name, ts_version in rows:
                    described.append(
                        {
                            "namespace": MODEL_NAMESPACE,
                            "name": model.name,
                            "version": model_version(model.version),
                            "training_set": f"{ts_name}@{ts_version}" if ts_name else None,
                            "uri": model.uri,
                            "created_at": model.created_at.isoformat(),
                        }
                    )
            return sorted(described, key=lambda d: (d["name"], d["created_at"]))

        return self.catalog.transaction(work)

    def _describe_runs(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []

        def work(session: Session) -> list[dict[str, Any]]:
            found = []
            for chunk in _chunks(ids):
                rows = session.execute(
                    select(
                        m.Run.id,
                        m.Run.kind,
                        m.Run.job,
                        m.Run.status,
                        m.Run.started_at,
                        m.Run.ended_at,
                        m.Run.user,
                        m.Run.code_version,
                    ).where(m.Run.id.in_(chunk))
                )
                found += [RunNode(*r).to_json() for r in rows]
            links = self._links_of(session, ids)
            for run in found:
                run.update(links.get(run["run_id"], {"read": [], "wrote": []}))
            return sorted(found, key=lambda r: r["started_at"])

        return self.catalog.transaction(work)

    def _links_of(self, session: Session, ids: Sequence[str]) -> dict[str, dict[str, list]]:
        """Each run's inputs (``read``) and outputs (``wrote``): table versions, training
        sets, models and sources, so that an impact can be drawn edge by edge."""
        found: dict[str, dict[str, list]] = {}
        for chunk in _chunks(ids):
            rows = session.execute(
                select(
                    m.LineageEdge.run_id,
                    m.LineageEdge.direction,
                    m.Namespace.name,
                    m.Table.name,
                    m.TableVersion.version,
                    m.TrainingSet.name,
                    m.TrainingSet.version,
                    m.Model.name,
                    m.Model.version,
                    m.Source.kind,
                    m.Source.name,
                    m.TrainingSet.location,
                    m.Run.parameters,
                )
                .join(m.Run, m.Run.id == m.LineageEdge.run_id)
                .outerjoin(m.TableVersion, m.TableVersion.id == m.LineageEdge.table_version_id)
                .outerjoin(m.Table, m.Table.id == m.TableVersion.table_id)
                .outerjoin(m.Namespace, m.Namespace.id == m.Table.namespace_id)
                .outerjoin(m.TrainingSet, m.TrainingSet.id == m.LineageEdge.training_set_id)
                .outerjoin(m.Model, m.Model.id == m.LineageEdge.model_id)
                .outerjoin(m.Source, m.Source.id == m.LineageEdge.source_id)
                .where(m.LineageEdge.run_id.in_(chunk))
                .order_by(m.LineageEdge.id)
            )
            for (
                run_id,
                direction,
                ns,
                table,
                version,
                ts,
                ts_v,
                model,
                model_v,
                kind,
                src,
                registered_at,
                parameters,
            ) in rows:
                if table is not None:
                    link = {"kind": "table_version", "name": f"{ns}.{table}", "version": version}
                elif ts is not None:
                    link = {"kind": "training_set", "name": ts, "version": ts_v}
                    if direction == "output":
                        # Where this run wrote the set's files: a copy or a rebuild writes
                        # them to a folder of its own, not the one the version is recorded at.
                        out = (parameters or {}).get("out")
                        link["location"] = str(out) if out else registered_at
                elif model is not None:
                    link = {"kind": "model", "name": model, "version": model_version(model_v)}
                else:
                    link = {"kind": "source", "name": src, "source_kind": kind}
                lists = found.setdefault(run_id, {"read": [], "wrote": []})
                lists["read" if direction == "input" else "wrote"].append(link)
        return found

    # -- helpers -------------------------------------------------------------------------------

    def _among(self, column: Any, values: Sequence[str]) -> Any:
        """``column IN values``; on PostgreSQL one array parameter (``= ANY(:values)``), which
        thousands of values compile and plan far faster as."""
        if self.catalog.dialect == "postgresql":
            from sqlalchemy import String, any_, bindparam
            from sqlalchemy.dialects.postgresql import ARRAY

            return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
        return column.in_(list(values))

    def _table(self, table_id: int) -> TableInfo:
        found = self._tables.get(table_id)
        if found is None:

            def work(session: Session) -> TableInfo:
                row = session.get(m.Table, table_id)
                if row is None:
                    raise LakeError(
                        f"Table id {table_id} is referenced by lineage but not in the catalog."
                    )
                return table_info(row)

            found = self._tables[table_id] = self.catalog.transaction(work)
        return found

    def _files_of(self, table: TableInfo) -> FilesOf:
        found = self._files.get(table.id)
        if found is None:
            reader = self._files_for(table)
            cache: dict[int, frozenset[str]] = {}

            def files_of(version: int) -> frozenset[str]:
                if version < 0:
                    return frozenset()
                if version not in cache:
                    cache[version] = reader(version)
                return cache[version]

            found = self._files[table.id] = files_of
        return found

    def _parameters_of(self, table: TableInfo) -> ParametersOf:
        found = self._parameters.get(table.id)
        if found is None:
            reader = self._parameters_for(table) if self._parameters_for else None
            cache: dict[int, Mapping[str, object] | None] = {}

            def parameters_of(version: int) -> Mapping[str, object] | None:
                if reader is None:
                    return None
                if version not in cache:
                    cache[version] = reader(version)
                return cache[version]

            found = self._parameters[table.id] = parameters_of
        return found

    def _version_rows(self, table_id: int, low: int, high: int | None) -> list[Any]:
        def work(session: Session) -> list[Any]:
            query = select(
                m.TableVersion.version,
                m.TableVersion.operation,
                m.TableVersion.files_added,
                m.TableVersion.files_removed,
                m.TableVersion.committed_at,
                m.TableVersion.rows_added,
                m.TableVersion.rows_total,
                m.TableVersion.run_id,
            ).where(m.TableVersion.table_id == table_id, m.TableVersion.version >= low)
            if high is not None:
                query = query.where(m.TableVersion.version <= high)
            return list(session.execute(query.order_by(m.TableVersion.version)))

        return self.catalog.transaction(work)

    def _training_set_json(self, ts: Any) -> dict[str, Any]:
        return {
            "namespace": TRAINING_SET_NAMESPACE,
            "name": ts.name,
            "version": ts.version,
            "sql": ts.sql,
            "content_hash": ts.content_hash,
            "row_count": ts.row_count,
            "created_at": ts.created_at.isoformat(),
            "location": ts.location,
            "run": self._run_json(ts.run_id),
        }

    def _run_json(self, run_id: str | None) -> dict[str, Any] | None:
        if run_id is None:
            return None

        def work(session: Session) -> dict[str, Any] | None:
            row = session.get(m.Run, run_id)
            if row is None:
                return None
            return RunNode(
                row.id,
                row.kind,
                row.job,
                row.status,
                row.started_at,
                row.ended_at,
                row.user,
                row.code_version,
            ).to_json()

        return self.catalog.transaction(work)


@dataclass
class _Outputs:
    runs: set[str]
    table_versions: set[tuple[int, int]] = field(default_factory=set)
    training_sets: set[int] = field(default_factory=set)
    models: set[int] = field(default_factory=set)


def _ranges(values: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted integers as inclusive (low, high) runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    found: list[tuple[int, int]] = []
    for value in values:
        if found and value == found[-1][1] + 1:
            found[-1] = (found[-1][0], value)
        else:
            found.append((value, value))
    return found


def _with_reported_writers(
    data_from: Sequence[ContributionNode], writers: Mapping[int, Sequence[str]]
) -> list[ContributionNode]:
    """Each contribution once per run that wrote its version: the run that committed it
    first, then every other run with an output edge on it (one reported through
    OpenLineage); a version no run is known to have written keeps its one entry."""
    out: list[ContributionNode] = []
    for contribution in data_from:
        committed = contribution.run.run_id if contribution.run is not None else None
        others = [r for r in writers.get(contribution.version, ()) if r != committed]
        if committed is not None or not others:
            out.append(contribution)
        for run_id in others:
            out.append(
                ContributionNode(
                    contribution.version,
                    contribution.committed_at,
                    contribution.operation,
                    contribution.rows_added,
                    RunNode(run_id, "", "", "", contribution.committed_at, None, None),
                )
            )
    return out


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


NEAREST_SCAN = 50_000
"""How many distinct source names the nearest-match hint compares against at most."""


def source_spellings(text: str, *, cwd: str | None = None) -> list[str]:
    """The names a source typed by a user may be recorded under, the text itself first.

    Sources are recorded as the ingest named them: a local file as its absolute
    ``file:///`` URI (percent-encoded, :meth:`pathlib.Path.as_uri`), an object as
    ``s3://bucket/key``, a database extract by its table or query name. So a relative or
    absolute path, ``~/...``, ``file:/path`` or ``file://localhost/path`` all become the
    ``file:///`` URI of the absolute path (as typed, and with symbolic links resolved);
    a remote URI loses a trailing ``/``.
    """
    text = text.strip()
    found = [text]
    if "://" in text and not text.startswith("file:"):
        found.append(text.rstrip("/"))
    else:
        local = url2pathname(urlsplit(text).path) if text.startswith("file:") else text
        local = os.path.expanduser(local)
        absolute = os.path.normpath(os.path.join(cwd or os.getcwd(), local))
        for path in (absolute, os.path.realpath(absolute)):
            found += [Path(path).as_uri(), f"file://{path}"]
    return list(dict.fromkeys(s for s in found if s))


def parse_table_version(text: str) -> tuple[TableName, int]:
    """``namespace.table@N`` -> (name, N)."""
    from lake.core.names import TableRef

    ref = TableRef.parse(text)
    if ref.version is None:
        raise VersionNotFound(f"{text!r} names no version: write TABLE@N, e.g. web.access@3.")
    return ref.table, ref.version
