"""The catalog: tables, recorded versions, schemas and drift, runs, sources and lineage.

Writers follow one protocol, so the catalog never records a version that does not exist
and never loses one that does:

1. :meth:`Catalog.start_run` records the run and what it will read (its inputs);
2. :meth:`Catalog.prepare_commit` records, before the Delta commit, what the commit will
   mean (row counts, schema drift, ingested file ranges, a new watermark);
3. the writer commits to Delta with the run id in the commit info;
4. :meth:`Catalog.record_commit` records the version with all of the above and completes
   the run, in one transaction.

If the process dies between 3 and 4, ``lake.landing.sync`` finds the commit by its run id and
does step 4 from what step 2 stored. Recording is idempotent: whoever records a version
first wins, the other finds it recorded.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from catalog import models as m
from catalog.database import describe_failure, ensure_schema, open_engine, with_retries
from lake.core.errors import (
    CatalogError,
    CommitConflict,
    TableExists,
    TableNotFound,
    VersionNotFound,
)
from lake.core.failpoints import failpoint
from lake.core.names import TableName, TableVersion

if TYPE_CHECKING:
    import pyarrow as pa

    from lake.delta.snapshot import Commit, Snapshot

T = TypeVar("T")
TRANSACTION_ATTEMPTS = 5


# -- what the catalog hands out ------------------------------------------------------------


@dataclass(frozen=True)
class TableInfo:
    id: int
    name: TableName
    kind: str
    location: str
    format: str
    created_at: datetime
    current_version: int | None
    properties: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": str(self.name),
            "kind": self.kind,
            "format": self.format,
            "location": self.location,
            "created_at": self.created_at.isoformat(),
            "current_version": self.current_version,
        }


@dataclass(frozen=True)
class VersionInfo:
    table: TableName
    version: int
    committed_at: datetime
    operation: str
    run_id: str | None
    rows_added: int | None
    rows_removed: int | None
    rows_changed: int | None
    files_added: int | None
    files_removed: int | None
    bytes_added: int | None
    rows_total: int | None
    files_total: int | None
    bytes_total: int | None
    schema_id: int | None

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("table",)}
        data["table"] = str(self.table)
        data["committed_at"] = self.committed_at.isoformat()
        return data


@dataclass(frozen=True)
class RunInfo:
    id: str
    kind: str
    job: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    parameters: Mapping[str, Any]
    user: str | None
    host: str | None
    code_version: str | None
    error: str | None
    stats: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.id,
            "kind": self.kind,
            "job": self.job,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "parameters": dict(self.parameters),
            "user": self.user,
            "host": self.host,
            "code_version": self.code_version,
            "error": self.error,
            "stats": {k: v for k, v in self.stats.items() if k not in ("pending", "pid_namespace")},
        }


@dataclass(frozen=True)
class SourceRef:
    """A dataset outside the lake at one version (OpenLineage: namespace + name)."""

    kind: str  # file | database | external
    namespace: str
    name: str
    version: str | None = None
    facets: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingFile:
    """The part of one source file an ingest is about to commit."""

    uri: str
    sha256: str
    start_offset: int
    end_offset: int
    end_line: int
    records: int


@dataclass(frozen=True)
class IngestedFileInfo:
    uri: str
    sha256: str
    start_offset: int
    end_offset: int
    end_line: int
    records: int
    version: int | None


@dataclass(frozen=True)
class SchemaChangeInfo:
    version: int
    column: str
    change: str
    old_type: str | None
    new_type: str | None
    source: str | None
    line: int | None
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# -- the catalog -----------------------------------------------------------------------------


class Catalog:
    """The lake's catalog on one SQLAlchemy database."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = open_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.migration = ensure_schema(self.engine, url) if migrate else "skipped"
        from catalog.openlineage import Emitter

        # OpenLineage out (LAKE_OPENLINEAGE_URL): None, and free, when unset.
        self.lineage_out = Emitter.from_environment()

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction, committed at the end; driver errors translated."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as error:
            session.rollback()
            raise describe_failure(error, self.url) from error
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction; retry a lost connection or a serialization
        conflict with backoff, then give up with one sentence."""

        def attempt() -> T:
            session = self._sessions()
            try:
                result = work(session)
                session.commit()
                return result
            except IntegrityError as error:
                session.rollback()
                raise CommitConflict(
                    f"Another writer changed the catalog at the same time ({_first_line(error)}); "
                    f"run the command again."
                ) from error
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

        return with_retries(attempt, url=self.url, attempts=TRANSACTION_ATTEMPTS)

    # -- namespaces and tables -----------------------------------------------------------------

    def list_tables(self) -> list[TableInfo]:
        def work(session: Session) -> list[TableInfo]:
            rows = session.scalars(
                select(m.Table).join(m.Namespace).order_by(m.Namespace.name, m.Table.name)
            )
            return [_table_info(row) for row in rows]

        return self.transaction(work)

    def find_table(self, name: TableName) -> TableInfo | None:
        def work(session: Session) -> TableInfo | None:
            row = _table_row(session, name)
            return _table_info(row) if row else None

        return self.transaction(work)

    def get_table(self, name: TableName) -> TableInfo:
        """Raises: TableNotFound (naming the tables that do exist, when few)."""
        found = self.find_table(name)
        if found is None:
            known = [str(t.name) for t in self.list_tables()]
            hint = (
                f" Known tables: {', '.join(known[:10])}."
                if known
                else " The lake has no tables yet."
            )
            raise TableNotFound(f"Table {name} does not exist.{hint}")
        return found

    def create_table(
        self,
        name: TableName,
        *,
        kind: str,
        location: str,
        properties: Mapping[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> TableInfo:
        """Register a table (and its namespace).

        Raises:
            TableExists: unless ``exist_ok``; an existing table of another kind always raises.
        """

        def work(session: Session) -> TableInfo:
            existing = _table_row(session, name)
            if existing is not None:
                if not exist_ok or existing.kind != kind:
                    raise TableExists(
                        f"Table {name} already exists "
                        f"(a {existing.kind} table at {existing.location})."
                    )
                return _table_info(existing)
            namespace = session.scalar(
                select(m.Namespace).where(m.Namespace.name == name.namespace)
            )
            if namespace is None:
                namespace = m.Namespace(name=name.namespace)
                session.add(namespace)
                session.flush()
            row = m.Table(
                namespace_id=namespace.id,
                name=name.name,
                kind=kind,
                location=location,
                properties=dict(properties or {}),
            )
            session.add(row)
            session.flush()
            return _table_info(row)

        try:
            return self.transaction(work)
        except CommitConflict:
            # Two writers created the namespace or table at once: the other one won.
            found = self.find_table(name)
            if found is None:
                raise
            if found.kind != kind or not exist_ok:
                raise TableExists(f"Table {name} already exists (a {found.kind} table).") from None
            return found

    def set_table_properties(self, table_id: int, properties: Mapping[str, Any]) -> None:
        def work(session: Session) -> None:
            row = session.get(m.Table, table_id)
            assert row is not None
            row.properties = {**(row.properties or {}), **properties}

        self.transaction(work)

    # -- runs ----------------------------------------------------------------------------------

    def start_run(
        self,
        *,
        kind: str,
        job: str,
        parameters: Mapping[str, Any],
        inputs: Sequence[SourceRef | TableVersion] = (),
        run_id: str | None = None,
    ) -> str:
        """Record a run as running, with the dataset versions it reads."""
        run_id = run_id or str(uuid.uuid4())
        self.reap_dead_runs()

        def work(session: Session) -> str:
            session.add(
                m.Run(
                    id=run_id,
                    kind=kind,
                    job=job,
                    status="running",
                    parameters=_jsonable(parameters),
                    user=_user(),
                    host=socket.gethostname(),
                    code_version=_code_version(),
                    stats={"pid": os.getpid(), "pid_namespace": _pid_namespace()},
                )
            )
            session.flush()
            _add_edges(session, run_id, "input", inputs)
            return run_id

        self.transaction(work)
        if self.lineage_out is not None:
            self.lineage_out.emit_run(self, run_id, "START")
        return run_id

    def reap_dead_runs(self) -> list[str]:
        """Mark failed the runs of this host whose process is gone (killed, or the machine
        restarted), so no run stays ``running`` forever; returns their ids.

        Safe against a commit such a run did make: recording it (``lake.landing.sync``) completes
        the run whatever its status. Runs of other hosts are left alone: their processes
        cannot be checked from here.
        """
        host = socket.gethostname()

        def work(session: Session) -> list[str]:
            reaped = []
            for run in session.scalars(
                select(m.Run).where(m.Run.status == "running", m.Run.host == host)
            ):
                pid = (run.stats or {}).get("pid")
                # Containers can share a host name; a pid means something only in its namespace.
                same_namespace = (run.stats or {}).get("pid_namespace") == _pid_namespace()
                if isinstance(pid, int) and same_namespace and not _process_alive(pid):
                    run.status = "failed"
                    run.ended_at = m.utcnow()
                    run.error = (
                        f"The process (pid {pid} on {host}) ended before the run finished; nothing "
                        f"it had not committed is visible. Run the command again."
                    )
                    reaped.append(run.id)
            return reaped

        return self.transaction(work)

    def add_inputs(self, run_id: str, inputs: Sequence[SourceRef | TableVersion]) -> None:
        self.transaction(lambda session: _add_edges(session, run_id, "input", inputs))

    def add_outputs(self, run_id: str, outputs: Sequence[SourceRef | TableVersion]) -> None:
        self.transaction(lambda session: _add_edges(session, run_id, "output", outputs))

    def prepare_commit(
        self,
        run_id: str,
        *,
        table_id: int,
        outcome: Mapping[str, Any],
        files: Sequence[PendingFile] = (),
    ) -> None:
        """Store what the coming Delta commit of this run means, before it is made.

        ``outcome`` may hold ``rows_added``, ``rows_removed``, ``rows_changed`` (ints),
        ``drift`` (a list of dicts with column, change, old_type, new_type, source, line,
        detail) and ``watermark`` ({"cursor": ..., "value": {...}}).
        """

        def work(session: Session) -> None:
            run = session.get(m.Run, run_id)
            if run is None:
                raise CatalogError(f"Run {run_id} is not in the catalog.")
            run.stats = {
                **(run.stats or {}),
                "pending": {"table_id": table_id, **_jsonable(outcome)},
            }
            session.add_all(
                m.IngestedFile(
                    table_id=table_id,
                    run_id=run_id,
                    uri=f.uri,
                    sha256=f.sha256,
                    start_offset=f.start_offset,
                    end_offset=f.end_offset,
                    end_line=f.end_line,
                    records=f.records,
                    state="pending",
                )
                for f in files
            )

        self.transaction(work)

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        error: str | None = None,
        stats: Mapping[str, Any] | None = None,
    ) -> None:
        def work(session: Session) -> None:
            run = session.get(m.Run, run_id)
            if run is None:
                return
            if run.status == "running" or status == "completed":
                run.status = status
                run.ended_at = m.utcnow()
            run.error = error
            if stats:
                run.stats = {**(run.stats or {}), **_jsonable(stats)}

        self.transaction(work)
        if self.lineage_out is not None and status in ("completed", "failed"):
            self.lineage_out.emit_run(self, run_id, "COMPLETE" if status == "completed" else "FAIL")

    def get_run(self, run_id: str) -> RunInfo:
        def work(session: Session) -> RunInfo:
            row = session.get(m.Run, run_id)
            if row is None:
                from catalog.exceptions import RunNotFound

                raise RunNotFound(run_id)
            return _run_info(row)

        return self.transaction(work)

    def list_runs(
        self, *, limit: int = 100, offset: int = 0, kind: str | None = None
    ) -> list[RunInfo]:
        def work(session: Session) -> list[RunInfo]:
            query = select(m.Run).order_by(m.Run.started_at.desc(), m.Run.id)
            if kind:
                query = query.where(m.Run.kind == kind)
            return [_run_info(r) for r in session.scalars(query.limit(limit).offset(offset))]

        return self.transaction(work)

    # -- versions ------------------------------------------------------------------------------

    def record_commit(
        self,
        table: TableInfo,
        commit: Commit,
        snapshot: Snapshot,
        *,
        previous: Snapshot | None,
    ) -> VersionInfo:
        """Record one Delta version, and complete the run that made it (idempotent).

        Everything the run prepared is applied in the same transaction: row counts, drift
        events, ingested file ranges, the watermark; the run becomes ``completed``.
        """
        fingerprint, arrow_b64, columns = describe_schema(snapshot.schema)
        completed: set[str] = set()

        def work(session: Session) -> VersionInfo:
            completed.clear()
            existing = session.scalar(
                select(m.TableVersion).where(
                    m.TableVersion.table_id == table.id, m.TableVersion.version == commit.version
                )
            )
            if existing is not None:
                return _version_info(existing, table.name)
            run = session.get(m.Run, commit.run_id) if commit.run_id else None
            pending: dict[str, Any] = dict((run.stats or {}).get("pending") or {}) if run else {}
            schema_id = _intern_schema(session, fingerprint, arrow_b64, columns)
            counts = _version_counts(commit, snapshot, previous)
            for key in ("rows_added", "rows_removed", "rows_changed"):
                if pending.get(key) is not None:
                    counts[key] = int(pending[key])
            row = m.TableVersion(
                table_id=table.id,
                version=commit.version,
                committed_at=commit.committed_at,
                operation=commit.operation,
                schema_id=schema_id,
                run_id=run.id if run else None,
                rows_total=snapshot.rows,
                files_total=len(snapshot.files),
                bytes_total=snapshot.bytes,
                **counts,
            )
            session.add(row)
            session.flush()
            session.execute(
                update(m.Table)
                .where(
                    m.Table.id == table.id,
                    or_(
                        m.Table.current_version.is_(None), m.Table.current_version < commit.version
                    ),
                )
                .values(current_version=commit.version)
            )
            if run is not None:
                _complete_run(session, run, table, row, pending)
                completed.add(run.id)
            failpoint("catalog_write")
            return _version_info(row, table.name)

        try:
            recorded_now = self.transaction(work)
        except CommitConflict:
            # Someone else (a concurrent sync) recorded this version first.
            recorded = self.find_version(table, commit.version)
            if recorded is None:
                raise
            return recorded
        if self.lineage_out is not None:
            for run_id in completed:
                self.lineage_out.emit_run(self, run_id, "COMPLETE")
        return recorded_now

    def find_version(self, table: TableInfo, version: int) -> VersionInfo | None:
        def work(session: Session) -> VersionInfo | None:
            row = session.scalar(
                select(m.TableVersion).where(
                    m.TableVersion.table_id == table.id, m.TableVersion.version == version
                )
            )
            return _version_info(row, table.name) if row else None

        return self.transaction(work)

    def get_version(self, table: TableInfo, version: int) -> VersionInfo:
        found = self.find_version(table, version)
        if found is None:
            raise VersionNotFound(
                f"Version {version} of {table.name} is not recorded; the latest is "
                f"{table.current_version if table.current_version is not None else 'none'}."
            )
        return found

    def recorded_versions(self, table: TableInfo) -> set[int]:
        def work(session: Session) -> set[int]:
            return set(
                session.scalars(
                    select(m.TableVersion.version).where(m.TableVersion.table_id == table.id)
                )
            )

        return self.transaction(work)

    def versions(self, table: TableInfo) -> list[VersionInfo]:
        def work(session: Session) -> list[VersionInfo]:
            rows = session.scalars(
                select(m.TableVersion)
                .where(m.TableVersion.table_id == table.id)
                .order_by(m.TableVersion.version)
            )
            return [_version_info(r, table.name) for r in rows]

        return self.transaction(work)

    def version_at(self, table: TableInfo, moment: datetime) -> VersionInfo:
        """The newest recorded version committed at or before ``moment``."""

        def work(session: Session) -> VersionInfo | None:
            row = session.scalar(
                select(m.TableVersion)
                .where(m.TableVersion.table_id == table.id, m.TableVersion.committed_at <= moment)
                .order_by(m.TableVersion.version.desc())
                .limit(1)
            )
            return _version_info(row, table.name) if row else None

        found = self.transaction(work)
        if found is None:
            raise VersionNotFound(
                f"{table.name} had no version at {moment.isoformat()}: it was created later."
            )
        return found

    def schema(self, schema_id: int) -> pa.Schema:
        import pyarrow as pa

        def work(session: Session) -> str:
            row = session.get(m.Schema, schema_id)
            if row is None:
                raise CatalogError(f"Schema {schema_id} is not in the catalog.")
            return row.arrow

        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(self.transaction(work))))

    def schema_changes(self, table: TableInfo) -> list[SchemaChangeInfo]:
        def work(session: Session) -> list[SchemaChangeInfo]:
            rows = session.scalars(
                select(m.SchemaChange)
                .where(m.SchemaChange.table_id == table.id)
                .order_by(m.SchemaChange.version, m.SchemaChange.id)
            )
            return [
                SchemaChangeInfo(
                    version=r.version,
                    column=r.column,
                    change=r.change,
                    old_type=r.old_type,
                    new_type=r.new_type,
                    source=r.source,
                    line=r.line,
                    detail=r.detail,
                )
                for r in rows
            ]

        return self.transaction(work)

    # -- ingest ledger and watermarks ------------------------------------------------------------

    def ingested_files(
        self, table: TableInfo, uris: Sequence[str] | None = None
    ) -> list[IngestedFileInfo]:
        """The committed ranges of source files ingested into ``table``."""

        def work(session: Session) -> list[IngestedFileInfo]:
            query = select(m.IngestedFile).where(
                m.IngestedFile.table_id == table.id, m.IngestedFile.state == "committed"
            )
            if uris is not None:
                query = query.where(m.IngestedFile.uri.in_(list(uris)))
            return [
                IngestedFileInfo(
                    uri=r.uri,
                    sha256=r.sha256,
                    start_offset=r.start_offset,
                    end_offset=r.end_offset,
                    end_line=r.end_line,
                    records=r.records,
                    version=r.version,
                )
                for r in session.scalars(query.order_by(m.IngestedFile.id))
            ]

        return self.transaction(work)

    def has_ingested_content(self, table: TableInfo, sha256: str) -> bool:
        def work(session: Session) -> bool:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(m.IngestedFile)
                    .where(
                        m.IngestedFile.table_id == table.id,
                        m.IngestedFile.sha256 == sha256,
                        m.IngestedFile.state == "committed",
                    )
                )
                or 0
            ) > 0

        return self.transaction(work)

    def watermark(self, table: TableInfo) -> tuple[str, dict[str, Any]] | None:
        """(cursor column, {"type": ..., "value": ...}) of the table's last committed extract."""

        def work(session: Session) -> tuple[str, dict[str, Any]] | None:
            row = session.get(m.Watermark, table.id)
            return (row.cursor, dict(row.value)) if row else None

        return self.transaction(work)

    # -- runs that never recorded their commit ---------------------------------------------------

    def running_runs(self, table_id: int) -> list[str]:
        """Runs still marked running that prepared a commit to ``table_id``."""

        def work(session: Session) -> list[str]:
            rows = session.scalars(select(m.Run).where(m.Run.status == "running"))
            return [
                r.id
                for r in rows
                if ((r.stats or {}).get("pending") or {}).get("table_id") == table_id
            ]

        return self.transaction(work)


# -- schemas -------------------------------------------------------------------------------------


def describe_schema(schema: pa.Schema) -> tuple[str, str, list[tuple[str, str, bool]]]:
    """(fingerprint, base64 Arrow IPC, flattened columns) of a schema.

    The fingerprint hashes names, types (JSON text columns as ``json``) and nullability,
    not other metadata, so the same schema written twice is stored once.
    """
    import pyarrow as pa

    from lake.delta.types import column_type

    columns: list[tuple[str, str, bool]] = []

    def walk(prefix: str, f: pa.Field) -> None:
        # Postgres text cannot hold NUL; the Arrow schema below keeps the exact name.
        path = f"{prefix}{f.name}".replace("\x00", "\ufffd")
        columns.append((path, column_type(f), f.nullable))
        if pa.types.is_struct(f.type):
            for i in range(f.type.num_fields):
                walk(f"{path}.", f.type.field(i))

    for f in schema:
        walk("", f)
    canonical = json.dumps(columns, separators=(",", ":"))
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    plain = pa.schema([pa.field(f.name, f.type, f.nullable) for f in schema])
    arrow_b64 = base64.b64encode(plain.serialize().to_pybytes()).decode()
    return fingerprint, arrow_b64, columns


def _intern_schema(
    session: Session, fingerprint: str, arrow_b64: str, columns: list[tuple[str, str, bool]]
) -> int:
    found = session.scalar(select(m.Schema.id).where(m.Schema.fingerprint == fingerprint))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = m.Schema(fingerprint=fingerprint, arrow=arrow_b64)
            session.add(row)
            session.flush()
            session.add_all(
                m.SchemaColumn(
                    schema_id=row.id, position=i, path=path, type=type_, nullable=nullable
                )
                for i, (path, type_, nullable) in enumerate(columns)
            )
            session.flush()
            return row.id
    except IntegrityError:
        found = session.scalar(select(m.Schema.id).where(m.Schema.fingerprint == fingerprint))
        assert found is not None
        return found


# -- helpers -------------------------------------------------------------------------------------


def _complete_run(
    session: Session, run: m.Run, table: TableInfo, version: m.TableVersion, pending: dict[str, Any]
) -> None:
    table_id = table.id
    produced = TableVersion(table.name, version.version, version.committed_at, table_id)
    _add_edges(session, run.id, "output", [produced], version_row=version)
    for event in pending.get("drift") or []:
        session.add(
            m.SchemaChange(
                table_id=table_id,
                version=version.version,
                column=str(event.get("column")),
                change=str(event.get("change")),
                old_type=event.get("old_type"),
                new_type=event.get("new_type"),
                source=event.get("source"),
                line=event.get("line"),
                detail=event.get("detail"),
            )
        )
    session.execute(
        update(m.IngestedFile)
        .where(m.IngestedFile.run_id == run.id, m.IngestedFile.state == "pending")
        .values(state="committed", version=version.version)
    )
    watermark = pending.get("watermark")
    if watermark:
        row = session.get(m.Watermark, table_id)
        if row is None:
            session.add(
                m.Watermark(
                    table_id=table_id,
                    cursor=watermark["cursor"],
                    value=watermark["value"],
                    version=version.version,
                    run_id=run.id,
                )
            )
        elif row.version < version.version:
            row.cursor, row.value = watermark["cursor"], watermark["value"]
            row.version, row.run_id, row.updated_at = version.version, run.id, m.utcnow()
    stats = dict(run.stats or {})
    stats.pop("pending", None)
    stats["version"] = version.version
    run.stats = stats
    run.status = "completed"
    run.ended_at = run.ended_at or m.utcnow()
    run.error = None


def _add_edges(
    session: Session,
    run_id: str,
    direction: str,
    targets: Sequence[SourceRef | TableVersion],
    *,
    version_row: m.TableVersion | None = None,
) -> None:
    for target in targets:
        if isinstance(target, SourceRef):
            source_id = _source_id(session, target)
            session.add(m.LineageEdge(run_id=run_id, direction=direction, source_id=source_id))
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


def _source_id(session: Session, ref: SourceRef) -> int:
    condition = and_(
        m.Source.kind == ref.kind,
        m.Source.namespace == ref.namespace,
        m.Source.name == ref.name,
        m.Source.version.is_(None) if ref.version is None else m.Source.version == ref.version,
    )
    found = session.scalar(select(m.Source.id).where(condition).limit(1))
    if found is not None:
        return found
    row = m.Source(
        kind=ref.kind,
        namespace=ref.namespace,
        name=ref.name,
        version=ref.version,
        facets=_jsonable(ref.facets),
    )
    session.add(row)
    session.flush()
    return row.id


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


def _table_row(session: Session, name: TableName) -> m.Table | None:
    return session.scalar(
        select(m.Table)
        .join(m.Namespace)
        .where(m.Namespace.name == name.namespace, m.Table.name == name.name)
    )


def _table_info(row: m.Table) -> TableInfo:
    return TableInfo(
        id=row.id,
        name=TableName(row.namespace.name, row.name),
        kind=row.kind,
        location=row.location,
        format=row.format,
        created_at=row.created_at,
        current_version=row.current_version,
        properties=dict(row.properties or {}),
    )


def _version_info(row: m.TableVersion, name: TableName) -> VersionInfo:
    return VersionInfo(
        table=name,
        version=row.version,
        committed_at=row.committed_at,
        operation=row.operation,
        run_id=row.run_id,
        rows_added=row.rows_added,
        rows_removed=row.rows_removed,
        rows_changed=row.rows_changed,
        files_added=row.files_added,
        files_removed=row.files_removed,
        bytes_added=row.bytes_added,
        rows_total=row.rows_total,
        files_total=row.files_total,
        bytes_total=row.bytes_total,
        schema_id=row.schema_id,
    )


def _run_info(row: m.Run) -> RunInfo:
    return RunInfo(
        id=row.id,
        kind=row.kind,
        job=row.job,
        status=row.status,
        started_at=row.started_at,
        ended_at=row.ended_at,
        parameters=dict(row.parameters or {}),
        user=row.user,
        host=row.host,
        code_version=row.code_version,
        error=row.error,
        stats=dict(row.stats or {}),
    )


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so the catalog never stores something it cannot read back."""
    return json.loads(json.dumps(value, default=str))


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER")


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _code_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"lake {version('lake')}"
    except PackageNotFoundError:
        return None


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", error)).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


__all__ = [
    "Catalog",
    "IngestedFileInfo",
    "PendingFile",
    "RunInfo",
    "SchemaChangeInfo",
    "SourceRef",
    "TableInfo",
    "VersionInfo",
    "describe_schema",
]
