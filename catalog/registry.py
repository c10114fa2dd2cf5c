"""Training sets and models in the catalog, and the pins that keep their data.

A training set version is a SQL query over exact table versions, written once as Parquet
(see ``queries.training``). Registering it records, in one transaction, the training-set
row (with its manifest), the lineage edge from the run that produced it, and one *pin*
per input table version, so that vacuum never deletes data a registered training set
needs. A model version names the training set it was trained on; registering it records
a ``train`` run that consumed that training set and produced the model (OpenLineage:
job ``train:<model>``), and pins the same table versions under the model's name, so the
data stays as long as the model is registered even if the training set is dropped.

Pins are named by ``catalog.pins.pin_name``: ``<owner>@<version>#v<table version>``
(``churn@2#v5``), one per table version an owner needs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update

from catalog.catalog import Catalog
from catalog.connection import CoreConnection
from catalog.definitions import (
    EDGES,
    MODELS,
    NAMESPACES,
    PINS,
    RUNS,
    TABLES,
    TRAINING_SETS,
    VERSIONS,
    jsonable,
)
from catalog.exceptions import (
    ModelExists,
    ModelNotFound,
    TrainingSetLocationTaken,
    TrainingSetNotFound,
)
from catalog.pins import check_pinnable, pin_name, pinning
from catalog.records import TrainingSetInfo
from lake.core.errors import CommitConflict, ConfigError
from lake.core.failpoints import failpoint
from lake.core.names import TableName, TableVersion, check_model_version, model_version

REGISTER_ATTEMPTS = 12
CODE_VERSION_CHARS = 64
UNKNOWN_CODE_VERSION = "unknown"
"""A train run's code version when neither the caller nor a git checkout said it (never the
lake's own version, which says nothing about the model's code)."""


@dataclass(frozen=True)
class ModelInfo:
    id: int
    name: str
    version: int
    training_set: str | None
    """``name@version`` of the training set, when the model names one."""
    training_set_id: int | None
    uri: str | None
    metrics: Mapping[str, Any]
    run_id: str | None
    created_at: datetime
    code_version: str | None = None
    """The training code's version recorded on its train run (set by :func:`register_model`;
    the audit reads it from the run)."""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "training_set": self.training_set,
            "uri": self.uri,
            "metrics": dict(self.metrics),
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
        }


# -- training sets -------------------------------------------------------------------------


def register_training_set(
    catalog: Catalog,
    *,
    name: str,
    sql: str,
    content_hash: str,
    row_count: int,
    location: str | None,
    inputs: Sequence[TableVersion],
    run_id: str,
    manifest: Callable[[int], Mapping[str, Any]],
) -> TrainingSetInfo:
    """Register the next version of training set ``name``, produced by ``run_id``.

    ``manifest(version)`` builds the manifest once the version number is known. The
    version is ``1`` + the newest registered one; two writers racing for the same number
    are resolved by the unique constraint and a retry.

    Raises:
        TrainingSetLocationTaken: another training-set version is recorded at ``location``.
    """

    def work(conn: CoreConnection) -> TrainingSetInfo:
        if location is not None:
            _hold_off_registrations(conn)
            _check_location(conn, location, writing=None)
            failpoint("training_set_location_checked")
        newest = conn.scalar(
            select(func.max(TRAINING_SETS.c.version)).where(TRAINING_SETS.c.name == name)
        )
        version = (newest or 0) + 1
        row = conn.execute(
            insert(TRAINING_SETS)
            .values(
                name=name,
                version=version,
                sql=sql,
                content_hash=content_hash,
                row_count=row_count,
                location=location,
                manifest=jsonable(dict(manifest(version))),
                run_id=run_id,
            )
            .returning(*TRAINING_SETS.c)
        ).one()
        conn.execute(
            insert(EDGES).values(run_id=run_id, direction="output", training_set_id=row.id)
        )
        _add_pins(conn, inputs, kind="training_set", owner=f"{name}@{version}")
        return _training_set_info(row)

    with pinning(catalog, [i.table_id for i in inputs if i.table_id is not None]):
        return _register_with_retries(catalog, work, name)


def record_training_set_written(catalog: Catalog, run_id: str, name: str, version: int) -> None:
    """Record that ``run_id`` wrote the files of the registered training set ``name@version``
    into its own folder (a copy of the version, or a rebuild from its manifest): an output
    edge, as the run that registered it has, so that impact names that run and its folder.
    Nothing is recorded for a version this catalog does not hold (a rebuild from a manifest
    alone)."""

    def work(conn: CoreConnection) -> None:
        found = conn.scalar(
            select(TRAINING_SETS.c.id).where(
                TRAINING_SETS.c.name == name, TRAINING_SETS.c.version == version
            )
        )
        if found is not None:
            conn.execute(
                insert(EDGES).values(run_id=run_id, direction="output", training_set_id=found)
            )

    catalog.core_transaction(work)


def _add_pins(
    conn: CoreConnection, inputs: Sequence[TableVersion], *, kind: str, owner: str
) -> None:
    """Pin each input table version for ``owner`` (``name@version``), after checking that
    each can be pinned (``catalog.pins.check_pinnable``)."""
    for i in inputs:
        if i.table_id is not None:
            check_pinnable(conn, i.table_id, i.version, str(i.table))
    rows = [
        {"table_id": table_id, "version": version, "kind": kind, "name": pin_name(owner, version)}
        for table_id, version in sorted({(i.table_id, i.version) for i in inputs})
    ]
    if rows:
        conn.execute(insert(PINS), rows)


def _register_with_retries(
    catalog: Catalog, work: Callable[[CoreConnection], TrainingSetInfo], name: str
) -> TrainingSetInfo:
    for attempt in range(REGISTER_ATTEMPTS):
        try:
            return catalog.core_transaction(work)
        except CommitConflict as error:
            if attempt == REGISTER_ATTEMPTS - 1:
                raise CommitConflict(
                    f"Training set {name} got a new version from another writer at each of "
                    f"{REGISTER_ATTEMPTS} attempts; run the command again."
                ) from error
            # Jittered backoff: writers that took the same number do not collide again.
            time.sleep(random.uniform(0.02, 0.1) * min(2**attempt, 16))  # jittered backoff
    raise AssertionError("unreachable")


def check_training_set_location(
    catalog: Catalog, location: str, *, writing: tuple[str, int] | None
) -> None:
    """Refuse ``location`` when another training-set version than ``writing`` (``(name,
    version)``; None for a version not registered yet) is recorded there.

    Raises:
        TrainingSetLocationTaken: naming the version recorded there.
    """
    catalog.core_transaction(lambda conn: _check_location(conn, location, writing=writing))


def _hold_off_registrations(conn: CoreConnection) -> None:
    """Make other registrations wait for this transaction's end.

    Under READ COMMITTED (Postgres) two writers of different sets could both find a folder
    free and both commit a version there (pysqlite, too, reads before its implicit BEGIN);
    a unique index on the location cannot be added, as catalogs written before the check
    may hold a folder twice."""
    if conn.dialect.name == "postgresql":
        # Conflicts with itself and with INSERT, not with reads or foreign-key checks.
        conn.execute(text(f"LOCK TABLE {TRAINING_SETS.name} IN SHARE ROW EXCLUSIVE MODE"))
    else:
        # A write statement, even one that changes no row, begins SQLite's write lock.
        conn.execute(
            update(TRAINING_SETS)
            .where(TRAINING_SETS.c.id.is_(None))
            .values(location=TRAINING_SETS.c.location)
        )


def _check_location(
    conn: CoreConnection, location: str, *, writing: tuple[str, int] | None
) -> None:
    # Checked again inside the registering transaction: a writer that staged its shards
    # while another registered the same folder must not become a second owner of it.
    recorded = [
        (row.name, row.version)
        for row in conn.execute(
            select(TRAINING_SETS.c.name, TRAINING_SETS.c.version)
            .where(TRAINING_SETS.c.location == location)
            .order_by(TRAINING_SETS.c.id)
        )
    ]
    # A catalog written before this check may record one folder for several versions:
    # each of them may be put back there.
    if recorded and writing not in recorded:
        raise TrainingSetLocationTaken(location, *recorded[0])


def find_training_set(catalog: Catalog, name: str, version: int | None = None) -> TrainingSetInfo:
    """The training set ``name`` at ``version`` (default: its newest).

    Raises:
        TrainingSetNotFound: naming the newest version when only the number is wrong.
    """

    def work(conn: CoreConnection) -> TrainingSetInfo | int | None:
        query = select(TRAINING_SETS).where(TRAINING_SETS.c.name == name)
        if version is not None:
            row = conn.execute(query.where(TRAINING_SETS.c.version == version)).first()
        else:
            row = conn.execute(query.order_by(TRAINING_SETS.c.version.desc()).limit(1)).first()
        if row is not None:
            return _training_set_info(row)
        return conn.scalar(
            select(func.max(TRAINING_SETS.c.version)).where(TRAINING_SETS.c.name == name)
        )

    found = catalog.core_transaction(work)
    if isinstance(found, TrainingSetInfo):
        return found
    raise TrainingSetNotFound(name, version, latest=found)


def training_sets(catalog: Catalog, name: str | None = None) -> list[TrainingSetInfo]:
    def work(conn: CoreConnection) -> list[TrainingSetInfo]:
        query = select(TRAINING_SETS).order_by(TRAINING_SETS.c.name, TRAINING_SETS.c.version)
        if name is not None:
            query = query.where(TRAINING_SETS.c.name == name)
        return [_training_set_info(r) for r in conn.execute(query)]

    return catalog.core_transaction(work)


def training_sets_at(catalog: Catalog, locations: Sequence[str]) -> list[TrainingSetInfo]:
    """The versions recorded at any of ``locations``, by name and version."""
    if not locations:
        return []

    def work(conn: CoreConnection) -> list[TrainingSetInfo]:
        query = (
            select(TRAINING_SETS)
            .where(TRAINING_SETS.c.location.in_(sorted(set(locations))))
            .order_by(TRAINING_SETS.c.name, TRAINING_SETS.c.version)
        )
        return [_training_set_info(r) for r in conn.execute(query)]

    return catalog.core_transaction(work)


def training_set_inputs(catalog: Catalog, training_set: TrainingSetInfo) -> list[TableVersion]:
    """The table versions the run that produced ``training_set`` consumed."""

    def work(conn: CoreConnection) -> list[TableVersion]:
        rows = conn.execute(
            select(
                VERSIONS.c.table_id,
                NAMESPACES.c.name,
                TABLES.c.name,
                VERSIONS.c.version,
                VERSIONS.c.committed_at,
            )
            .select_from(EDGES)
            .join(VERSIONS, VERSIONS.c.id == EDGES.c.table_version_id)
            .join(TABLES, TABLES.c.id == VERSIONS.c.table_id)
            .join(NAMESPACES, NAMESPACES.c.id == TABLES.c.namespace_id)
            .where(EDGES.c.run_id == training_set.run_id, EDGES.c.direction == "input")
            .order_by(NAMESPACES.c.name, TABLES.c.name, VERSIONS.c.version)
        )
        return [TableVersion(TableName(r[1], r[2]), r[3], r[4], r[0]) for r in rows]

    if training_set.run_id is None:
        return []
    return catalog.core_transaction(work)


# -- models --------------------------------------------------------------------------------


def register_model(
    catalog: Catalog,
    *,
    name: str,
    training_set: TrainingSetInfo,
    version: int | str | None = None,
    uri: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    code_version: str | None = None,
) -> ModelInfo:
    """Register a model version trained on ``training_set``.

    The ``train`` run that links them is created here, or ``run_id`` names one the
    training job recorded itself (it then gets the edges and stays as it is).
    ``code_version`` (the training code's version, e.g. ``git:<commit>``) is recorded as the
    train run's code version (on a run the job recorded itself too, when given); at most
    64 characters.

    Raises:
        ModelExists: ``name@version`` is registered already.
    """
    if code_version is not None and not 0 < len(code_version) <= CODE_VERSION_CHARS:
        raise ConfigError(
            f"--code-version must be 1 to {CODE_VERSION_CHARS} characters (a commit, a tag, a "
            f"version), not {len(code_version)}."
        )
    inputs = training_set_inputs(catalog, training_set)
    parameters = {"training_set": training_set.ref, "uri": uri, "metrics": dict(metrics or {})}
    own_run = run_id is None or not _run_exists(catalog, run_id)
    if own_run:
        run_id = catalog.start_run(
            kind="train",
            job=f"train:{name}",
            parameters=parameters,
            run_id=run_id,
            code_version=code_version or UNKNOWN_CODE_VERSION,
        )
    assert run_id is not None

    def work(conn: CoreConnection) -> ModelInfo:
        chosen = (
            check_model_version(version) if version is not None else _next_model_version(conn, name)
        )
        exists = conn.scalar(
            select(MODELS.c.id).where(MODELS.c.name == name, MODELS.c.version == chosen)
        )
        if exists is not None:
            raise ModelExists(name, chosen)
        row = conn.execute(
            insert(MODELS)
            .values(
                name=name,
                version=chosen,
                training_set_id=training_set.id,
                uri=uri,
                metrics=jsonable(dict(metrics or {})),
                run_id=run_id,
            )
            .returning(*MODELS.c)
        ).one()
        if code_version is not None and not own_run:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(code_version=code_version))
        conn.execute(
            insert(EDGES),
            [
                # One key set for the batch: executemany takes every row's keys from the first.
                {
                    "run_id": run_id,
                    "direction": "input",
                    "training_set_id": training_set.id,
                    "model_id": None,
                },
                {
                    "run_id": run_id,
                    "direction": "output",
                    "training_set_id": None,
                    "model_id": row.id,
                },
            ],
        )
        _add_pins(conn, inputs, kind="model", owner=f"{name}@{chosen}")
        run_code = conn.scalar(select(RUNS.c.code_version).where(RUNS.c.id == run_id))
        return replace(_model_info(row, training_set.ref), code_version=run_code)

    try:
        with pinning(catalog, [i.table_id for i in inputs if i.table_id is not None]):
            for attempt in range(REGISTER_ATTEMPTS):
                try:
                    model = catalog.core_transaction(work)
                    break
                except CommitConflict:
                    if version is not None or attempt == REGISTER_ATTEMPTS - 1:
                        raise
    except BaseException as error:
        if own_run:
            catalog.finish_run(run_id, status="failed", error=str(error)[:2000])
        raise
    if own_run:
        catalog.finish_run(run_id, status="completed", stats={"model": model.ref})
    return model


def find_model(catalog: Catalog, name: str, version: str | None = None) -> ModelInfo:
    """The model ``name`` at ``version`` (default: the one registered last).

    Raises:
        ModelNotFound: listing the registered versions when only the version is wrong.
    """

    def work(conn: CoreConnection) -> ModelInfo | tuple[str, ...]:
        query = _MODEL_ROW.where(MODELS.c.name == name)
        if version is not None:
            query = query.where(MODELS.c.version == version)
        row = conn.execute(query.order_by(MODELS.c.id.desc()).limit(1)).first()
        if row is not None:
            return _model_info(row, _training_set_ref(row))
        return tuple(
            conn.scalars(
                select(MODELS.c.version).where(MODELS.c.name == name).order_by(MODELS.c.id)
            )
        )

    found = catalog.core_transaction(work)
    if isinstance(found, ModelInfo):
        return found
    raise ModelNotFound(name, version, known=found)


def models(catalog: Catalog, name: str | None = None) -> list[ModelInfo]:
    def work(conn: CoreConnection) -> list[ModelInfo]:
        query = _MODEL_ROW.order_by(MODELS.c.name, MODELS.c.id)
        if name is not None:
            query = query.where(MODELS.c.name == name)
        return [_model_info(row, _training_set_ref(row)) for row in conn.execute(query)]

    return catalog.core_transaction(work)


# -- helpers -------------------------------------------------------------------------------


_MODEL_ROW = select(
    MODELS,
    TRAINING_SETS.c.name.label("training_set_name"),
    TRAINING_SETS.c.version.label("training_set_version"),
).outerjoin(TRAINING_SETS, TRAINING_SETS.c.id == MODELS.c.training_set_id)
"""A model's row with the name and version of its training set (None when it names none)."""


def _training_set_ref(row: Any) -> str | None:
    name = row.training_set_name
    return f"{name}@{row.training_set_version}" if name else None


def _next_model_version(conn: CoreConnection, name: str) -> str:
    """One more than the largest numeric version registered (``1`` for the first)."""
    versions = conn.scalars(select(MODELS.c.version).where(MODELS.c.name == name))
    numbers = [int(v) for v in versions if v.isdigit()]
    return str(max(numbers, default=0) + 1)


def _run_exists(catalog: Catalog, run_id: str) -> bool:
    return catalog.core_transaction(
        lambda conn: conn.scalar(select(RUNS.c.id).where(RUNS.c.id == run_id)) is not None
    )


def _training_set_info(row: Any) -> TrainingSetInfo:
    return TrainingSetInfo(
        id=row.id,
        name=row.name,
        version=row.version,
        sql=row.sql,
        content_hash=row.content_hash,
        row_count=row.row_count,
        location=row.location,
        run_id=row.run_id,
        created_at=row.created_at,
        manifest=dict(row.manifest or {}),
    )


def _model_info(row: Any, training_set: str | None) -> ModelInfo:
    return ModelInfo(
        id=row.id,
        name=row.name,
        version=model_version(row.version),  # type: ignore[arg-type] - int but for old text
        training_set=training_set,
        training_set_id=row.training_set_id,
        uri=row.uri,
        metrics=dict(row.metrics or {}),
        run_id=row.run_id,
        created_at=row.created_at,
    )
