"""Recording commits: the catalog's side of the write protocol.

Writers follow one protocol (``lake.landing.commits``), so the catalog never records a
version that does not exist and never loses one that does:

1. :meth:`Catalog.start_run` records the run and what it will read (its inputs);
   :func:`start_write` does it in the writer's first transaction, with the look-up (or
   creation) of the table and of the file ranges it ingested before;
2. :func:`prepare_commit` records, before the Delta commit, what the commit will mean
   (row counts, schema drift, ingested file ranges, a new watermark);
3. the writer commits to Delta with the run id in the commit info;
4. :func:`record_commit` records the version with all of the above and completes the
   run, in one transaction.

If the process dies between 3 and 4, ``lake.landing.sync`` finds the commit by its run id and
does step 4 from what step 2 stored (:func:`running_runs` lists the runs that prepared a
commit and never recorded it). Recording is idempotent: whoever records a version first
wins, the other finds it recorded.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Row,
    String,
    Update,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from catalog.connection import Connection, CoreConnection
from catalog.definitions import EDGES, RUNS, SCHEMAS, TABLES, VERSIONS, jsonable
from catalog.edges import SourceRef, add_edges
from catalog.ledger import (
    IngestedFileInfo,
    PendingFile,
    add_pending_files,
    advance_watermark,
    claim_watermark,
    commit_pending_files,
    ingested_files_in,
)
from catalog.records import RECORDED_KEY
from catalog.runs import add_run, complete_run, reap_in
from catalog.schemas import describe_schema, intern_schema, record_drift
from catalog.tables import TableInfo, create_table, ensure_table
from catalog.versions import VersionInfo, find_version, version_record
from lake.core.errors import CatalogError, CommitConflict
from lake.core.failpoints import failpoint
from lake.core.names import TableName, TableVersion

if TYPE_CHECKING:
    from lake.delta.snapshot import Commit, Snapshot


@dataclass(frozen=True)
class WriteStart:
    """What a writer's first transaction gives: its table, its run, and (when asked) the
    committed ranges of the files it is about to read."""

    table: TableInfo
    run_id: str
    ingested: tuple[IngestedFileInfo, ...] | None = None


def start_write(
    db: Connection,
    name: TableName,
    *,
    table_kind: str,
    location: str,
    kind: str,
    parameters: Mapping[str, Any],
    inputs: Sequence[SourceRef | TableVersion] = (),
    ingested: Sequence[str] | None = None,
    sizes: Collection[int] = (),
) -> WriteStart:
    """Step 1 for a writer, in one transaction: the table (created on first write, as
    :meth:`Catalog.create_table` with ``exist_ok``), its committed file ranges of
    ``ingested`` (and whole files of ``sizes``, as :func:`catalog.ledger.ingested_files`)
    when asked, and the run, started as :meth:`Catalog.start_run` does (job
    ``kind:table``). One transaction where these were three: each cost a round trip to the
    catalog and a commit (on PostgreSQL the largest share of a small append's time).

    Raises:
        TableExists, ExternalTable: as ``create_table`` (no run is started).
        VersionNotFound: an input table version is not recorded.
    """
    run_id = str(uuid.uuid4())

    def work(conn: CoreConnection, *, started: bool = False) -> WriteStart:
        table = ensure_table(conn, name, kind=table_kind, location=location, exist_ok=True)
        ranges = None
        if ingested is not None:
            ranges = tuple(ingested_files_in(conn, table.id, ingested, sizes=sizes))
        if not started:
            reap_in(conn)
            add_run(conn, run_id, kind=kind, job=f"{kind}:{name}", parameters=parameters)
            add_edges(conn, run_id, "input", inputs)
        return WriteStart(table, run_id, ranges)

    try:
        return db.core_transaction(work)
    except CommitConflict:
        if db.core_transaction(lambda conn: conn.execute(_RUN_ROW, {"b_id": run_id}).first()):
            # A try that committed, whose answer was lost (the connection dropped after the
            # COMMIT), was tried again and met its own run: the run is started.
            return db.core_transaction(lambda conn: work(conn, started=True))
        # Another writer created the namespace or the table at the same moment: it exists
        # now (or the conflict was another one, and the second try says so).
        create_table(db, name, kind=table_kind, location=location, exist_ok=True)
        return db.core_transaction(work)


PREPARED_KEY = "prepared_by"
"""The key of a run's pending outcome naming the :func:`prepare_commit` call that stored it."""


def prepare_commit(
    db: Connection,
    run_id: str,
    *,
    table_id: int,
    outcome: Mapping[str, Any],
    files: Sequence[PendingFile] = (),
    inputs: Sequence[SourceRef | TableVersion] = (),
) -> None:
    """Store what the coming Delta commit of this run means, before it is made, and the
    dataset versions the run read (``inputs``), in one transaction.

    ``outcome`` may hold ``rows_added``, ``rows_removed``, ``rows_changed`` (ints),
    ``drift`` (a list of dicts with column, change, old_type, new_type, source, line,
    detail), ``watermark`` ({"cursor": ..., "value": {...}}) and ``watermark_from`` (the
    watermark an appending extract read from, or None: it claims the rows past it, see
    :func:`catalog.ledger.claim_watermark`). File ranges claim their files
    (:func:`catalog.ledger.add_pending_files`).

    Raises:
        CatalogError: the run is not in the catalog.
        FileBeingIngested, WatermarkTaken, ClaimsOfEndedRuns: another run's claim stands in
            the way (nothing is stored).
    """

    # The same for every try of this call: a try whose COMMIT the database made but whose
    # answer was lost (the connection dropped) is tried again, and must then change nothing
    # (it entered the run's file ranges and input edges a second time).
    attempt = uuid.uuid4().hex

    def work(conn: CoreConnection) -> None:
        # Core statements, not the ORM's unit of work: its flushes were the largest share of
        # the catalog's time in a small append.
        # The run's stats take their ``pending`` key in the database: one statement where
        # reading them and writing them back were two. Not when this call's earlier try put
        # it there (see ``attempt``): then nothing is done again.
        pending = {"table_id": table_id, PREPARED_KEY: attempt, **jsonable(outcome)}
        done = conn.execute(
            _set_pending(conn.dialect.name),
            {"b_id": run_id, "b_pending": pending, "b_attempt": attempt},
        )
        if done.rowcount == 0:
            if conn.execute(_RUN_ROW, {"b_id": run_id}).first() is not None:
                return  # this call's earlier try committed; only its answer was lost
            raise CatalogError(f"Run {run_id} is not in the catalog.")
        if "watermark_from" in outcome:
            claim_watermark(conn, table_id, run_id, outcome["watermark_from"])
        add_pending_files(conn, table_id, run_id, files)
        if inputs:
            add_edges(conn, run_id, "input", inputs)

    db.core_transaction(work)


def record_commit(
    db: Connection,
    table: TableInfo,
    commit: Commit,
    snapshot: Snapshot,
    *,
    previous: Snapshot | None,
) -> tuple[VersionInfo, list[str]]:
    """Record one Delta version, and complete the run that made it (idempotent); returns
    the version and the ids of the runs this call completed (none when another call had
    recorded the version; this call's own earlier try, whose answer was lost, counts as it).

    Everything the run prepared is applied in the same transaction: row counts, drift
    events, ingested file ranges, the watermark; the run becomes ``completed``.

    Raises:
        CommitConflict: the transaction lost a race and the version is still not recorded.
    """
    fingerprint, arrow_b64, columns = describe_schema(snapshot.schema)
    completed: list[str] = []
    # The same for every try of this call, and kept with the run it completes: a try whose
    # COMMIT the database made but whose answer was lost is tried again, meets the version
    # it recorded, and must still report the run it completed (its OpenLineage COMPLETE),
    # which a concurrent sync's record of the same version must not.
    attempt = uuid.uuid4().hex

    def work(conn: CoreConnection) -> VersionInfo:
        # No look for the version first: a version recorded already (a concurrent sync) fails
        # the insert on its unique key, and is read below; a look was one more round trip of
        # the catalog on every write. Core statements throughout (see prepare_commit).
        completed.clear()
        run = None
        if commit.run_id:
            run = conn.execute(_RUN_ROW, {"b_id": commit.run_id}).first()
        pending: dict[str, Any] = dict((run.stats or {}).get("pending") or {}) if run else {}
        counts = _version_counts(commit, snapshot, previous)
        for key in ("rows_added", "rows_removed", "rows_changed"):
            if pending.get(key) is not None:
                counts[key] = int(pending[key])
        values: dict[str, Any] = {
            "table_id": table.id,
            "version": commit.version,
            "committed_at": commit.committed_at,
            "operation": commit.operation,
            "run_id": run.id if run else None,
            "rows_total": snapshot.rows,
            "files_total": len(snapshot.files),
            "bytes_total": snapshot.bytes,
            **counts,
        }
        version_id, schema_id = conn.execute(
            _INSERT_VERSION, {**values, "b_fingerprint": fingerprint}
        ).one()
        if schema_id is None:
            schema_id = intern_schema(conn, fingerprint, arrow_b64, columns)
            conn.execute(
                update(VERSIONS).where(VERSIONS.c.id == version_id).values(schema_id=schema_id)
            )
        values["schema_id"] = schema_id
        conn.execute(
            _MOVE_TABLE,
            {"b_id": table.id, "b_version": commit.version, "b_before": commit.version - 1},
        )
        if run is not None:
            _apply_prepared(conn, run, table, commit.version, version_id, pending, attempt)
            completed.append(run.id)
        failpoint("catalog_write")
        return version_record(values, table.name)

    try:
        recorded_now = db.core_transaction(work)
    except CommitConflict:
        # Someone else (a concurrent sync) recorded this version first.
        recorded = find_version(db, table, commit.version)
        if recorded is None:
            raise
        if commit.run_id and recorded.run_id == commit.run_id:
            run = db.core_transaction(
                lambda conn: conn.execute(_RUN_ROW, {"b_id": commit.run_id}).first()
            )
            if run is not None and (run.stats or {}).get(RECORDED_KEY) == attempt:
                return recorded, [run.id]  # recorded by this call's earlier try
        return recorded, []
    return recorded_now, list(completed)


def running_runs(db: Connection, table_id: int) -> list[str]:
    """Runs still marked running that prepared a commit to ``table_id``."""

    def work(conn: CoreConnection) -> list[str]:
        rows = conn.execute(select(RUNS.c.id, RUNS.c.stats).where(RUNS.c.status == "running"))
        return [
            r.id for r in rows if ((r.stats or {}).get("pending") or {}).get("table_id") == table_id
        ]

    return db.core_transaction(work)


def _apply_prepared(
    conn: CoreConnection,
    run: Row[Any],
    table: TableInfo,
    version: int,
    version_id: int,
    pending: dict[str, Any],
    attempt: str,
) -> None:
    """What the run prepared, applied to the version it committed (its row ``version_id``);
    the run completes."""
    conn.execute(
        _INSERT_EDGE, {"run_id": run.id, "direction": "output", "table_version_id": version_id}
    )
    record_drift(conn, table.id, version, pending.get("drift") or [])
    if pending:  # a run that prepared nothing (write_table) entered no file ranges either
        commit_pending_files(conn, run.id, version)
    watermark = pending.get("watermark")
    if watermark:
        advance_watermark(conn, table.id, watermark, version=version, run_id=run.id)
    complete_run(conn, run.id, run.stats, run.ended_at, version, recorded_by=attempt)


# The statements of every write, built once (see catalog.runs: a statement built per call
# was walked for its cache key each time).
@functools.cache
def _set_pending(dialect: str) -> Update:
    """``UPDATE runs SET stats = stats with pending = :b_pending WHERE id = :b_id`` and the
    pending outcome there is not of ``:b_attempt`` (see :func:`prepare_commit`)."""
    pending = bindparam("b_pending", type_=JSON())
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        stats = cast(
            func.jsonb_set(
                cast(RUNS.c.stats, JSONB), literal_column("'{pending}'"), cast(pending, JSONB)
            ),
            RUNS.c.stats.type,
        )
        prepared_by = cast(RUNS.c.stats, JSONB).op("#>>", return_type=String())(
            literal_column(f"'{{pending,{PREPARED_KEY}}}'")
        )
    else:
        stats = func.json_set(RUNS.c.stats, "$.pending", func.json(pending))
        prepared_by = func.json_extract(RUNS.c.stats, f"$.pending.{PREPARED_KEY}")
    return (
        update(RUNS)
        .where(
            RUNS.c.id == bindparam("b_id"),
            func.coalesce(prepared_by, "") != bindparam("b_attempt", type_=String()),
        )
        .values(stats=stats)
    )


_RUN_ROW = select(RUNS.c.id, RUNS.c.stats, RUNS.c.ended_at).where(RUNS.c.id == bindparam("b_id"))
_INSERT_VERSION = (
    insert(VERSIONS)
    .values(
        # The schema's id is looked up by the insert itself (a statement fewer than asking
        # first); a schema new to the catalog is stored after. Not kept in the process: a
        # catalog restored under a running process gives its ids to other schemas, and a
        # kept id would then name the wrong one without an error.
        schema_id=select(SCHEMAS.c.id)
        .where(SCHEMAS.c.fingerprint == bindparam("b_fingerprint"))
        .scalar_subquery()
    )
    .returning(VERSIONS.c.id, VERSIONS.c.schema_id)
)
_NEWER = or_(TABLES.c.current_version.is_(None), TABLES.c.current_version < bindparam("b_version"))
_FOLLOWS = TABLES.c.versions_through == bindparam("b_before")
_MOVE_TABLE = (
    update(TABLES)
    .where(TABLES.c.id == bindparam("b_id"), or_(_NEWER, _FOLLOWS))
    .values(
        current_version=case((_NEWER, bindparam("b_version")), else_=TABLES.c.current_version),
        # The complete prefix grows by this version when it ended right before it (a version
        # recorded out of order is counted in by the next sync).
        versions_through=case((_FOLLOWS, bindparam("b_version")), else_=TABLES.c.versions_through),
    )
)
_INSERT_EDGE = insert(EDGES)


def _version_counts(
    commit: Commit, snapshot: Snapshot, previous: Snapshot | None
) -> dict[str, int | None]:
    current = {f.path: f for f in snapshot.files}
    if previous is not None:
        before = {f.path: f for f in previous.files}
        added = [f for p, f in current.items() if p not in before]
        removed = [f for p, f in before.items() if p not in current]
        rows_added = sum(f.rows or 0 for f in added)
        rows_removed = sum(f.rows or 0 for f in removed)
        # a file kept whose deletion vector grew (other engines' deletes) lost those rows
        rows_removed += sum(
            len(f.deleted_rows) - len(before[p].deleted_rows)
            for p, f in current.items()
            if p in before and f.deleted_rows != before[p].deleted_rows
        )
        return {
            "rows_added": rows_added,
            "rows_removed": rows_removed,
            "rows_changed": None,
            "files_added": len(added),
            "files_removed": len(removed),
            "bytes_added": sum(f.size for f in added),
        }
    metrics = commit.metrics
    return {
        "rows_added": _int(metrics.get("num_added_rows")) if metrics else snapshot.rows,
        "rows_removed": _int(metrics.get("num_removed_rows")) or 0,
        "rows_changed": None,
        "files_added": _int(metrics.get("num_added_files")) if metrics else len(snapshot.files),
        "files_removed": _int(metrics.get("num_removed_files")) or 0,
        "bytes_added": snapshot.bytes if commit.version == 0 else None,
    }


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


__all__ = [
    "WriteStart",
    "prepare_commit",
    "record_commit",
    "running_runs",
    "start_write",
]
