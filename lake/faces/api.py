"""The lake's Python API: the same verbs as the ``lake`` command line.

>>> import lake
>>> lk = lake.connect()                     # flags > environment > lake.toml > ./.lake
>>> lk.tables()
[]

Every method is keyword-only past its subject, returns plain data (dataclasses, dicts or
Arrow tables) and raises :class:`lake.core.errors.LakeError` subclasses only. The command line
calls these methods and holds no logic of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lake.core.config import LakeConfig, require_lake, resolve
from lake.core.names import TableName, TableRef
from lake.core.storage import Storage
from lake.delta.log import has_commit_after
from lake.delta.types import column_type

if TYPE_CHECKING:
    from datetime import datetime

    from catalog.catalog import Catalog
    from catalog.lineage import Audit, Impact
    from catalog.openlineage_in import RecordedEvent
    from catalog.openlineage_out import Emitter
    from catalog.pins import PinInfo
    from catalog.reader import CatalogReader
    from catalog.records import TrainingSetInfo
    from catalog.registry import ModelInfo
    from catalog.runs import RunInfo
    from catalog.tables import TableInfo
    from catalog.tokens import NewToken, TokenInfo
    from catalog.versions import VersionInfo
    from ingest.db.pipeline import ExtractReport
    from ingest.files import FilesReport
    from ingest.logs.pipeline import IngestReport
    from lake.delta.snapshot import Snapshot
    from lake.delta.store import DeltaStore
    from lake.landing.register import Registered
    from lake.landing.sync import SyncResult
    from lake.landing.vacuum import ObjectsReport, VacuumReport
    from queries.sql import QueryResult
    from queries.training import MaterializeResult


@dataclass(frozen=True)
class RunPage:
    """One page of runs, latest started first, and where the pages beside it start.

    ``older`` and ``newer`` are cursors (``RunCursor.token``): the page after ``older`` and the
    page before ``newer`` hold the same runs however many runs start meanwhile. ``offset``
    pages (deprecated) shift by one for each run started between two requests."""

    runs: list[RunInfo]
    limit: int
    older: str | None
    newer: str | None
    offset: int | None = None
    next_offset: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [r.to_json() for r in self.runs],
            "limit": self.limit,
            "next_cursor": self.older,
            "previous_cursor": self.newer,
            "offset": self.offset,
            "next_offset": self.next_offset,
        }


@dataclass(frozen=True)
class TableDescription:
    """What ``lake describe`` shows: a table at one version."""

    table: TableInfo
    version: VersionInfo | None
    snapshot: Snapshot | None
    run: RunInfo | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.table.to_json()
        data["version"] = self.version.to_json() if self.version else None
        if self.snapshot is not None:
            data["partition_columns"] = list(self.snapshot.partition_columns)
            data["columns"] = [
                {"name": f.name, "type": column_type(f), "nullable": f.nullable}
                for f in self.snapshot.schema
            ]
            data["files"] = len(self.snapshot.files)
        else:
            data["partition_columns"], data["columns"], data["files"] = [], [], 0
        data["run"] = self.run.to_json() if self.run else None
        return data


@dataclass(frozen=True)
class TableSummary:
    """A table with its current version's size: what a listing of tables shows."""

    table: TableInfo
    current: VersionInfo | None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = self.table.to_json()
        data["rows"] = self.current.rows_total if self.current else None
        data["bytes"] = self.current.bytes_total if self.current else None
        data["files"] = self.current.files_total if self.current else None
        data["last_write"] = self.current.committed_at.isoformat() if self.current else None
        return data


class Lake:
    """One lake: a warehouse and a catalog."""

    def __init__(self, config: LakeConfig) -> None:
        self.config = config
        self.storage = Storage(config)
        self._catalog: Catalog | None = None
        self._reader: CatalogReader | None = None

    def __repr__(self) -> str:
        return f"Lake(warehouse={self.config.warehouse!r})"

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the upkeep of this process's writes (checkpoints written after a local
        append returns: see :mod:`lake.core.background`), then release the catalog
        connections and the lake's DuckDB database."""
        import sys

        from lake.core import background

        background.drain()

        if "queries.session" in sys.modules:  # else no DuckDB was opened: start-up stays light
            from queries.session import close_shared

            close_shared(self.storage)
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    @property
    def reads(self) -> Catalog | CatalogReader:
        """The catalog for reading (tables, versions, runs; the rows of a query's tables):
        a reader in plain SQL that needs no SQLAlchemy (``catalog.reader``), even once the
        full catalog is open, for what SQLAlchemy's ORM adds to each read (a read-only
        command starts in a fraction of the time; 0.6 ms of CPU of a 2 ms query). It hands
        the full catalog what it cannot answer."""
        if self._reader is None:
            from catalog.reader import CatalogReader

            self._reader = CatalogReader(self.config.catalog_url, lambda: self.catalog)
        return self._reader

    @property
    def catalog(self) -> Catalog:
        """The catalog, connected (and migrated) on first use."""
        if self._catalog is None:
            from catalog.catalog import Catalog

            self._catalog = Catalog(
                self.config.catalog_url,
                lineage_out=self._lineage_out(),
                retry_wait=self.config.catalog_retry_wait_s,
            )
        return self._catalog

    def _lineage_out(self) -> Emitter | None:
        """OpenLineage out, when the configuration names a URL (``openlineage.url``); with
        none, nothing is built or sent."""
        settings = self.config.openlineage
        if settings.url is None:
            return None
        from catalog.openlineage_out import Emitter

        return Emitter(settings.url, api_key=settings.api_key)

    # -- set-up ------------------------------------------------------------------------------

    def init(self) -> dict[str, str]:
        """Prepare both sides: the warehouse exists and is writable, the catalog is migrated."""
        self.storage.prepare()
        migration = self.catalog.migration
        return {"warehouse": self.config.warehouse, "catalog": migration}

    def describe_config(self) -> dict[str, dict[str, Any]]:
        """The resolved configuration with where each value came from; secrets masked."""
        return self.config.describe()

    # -- tables ------------------------------------------------------------------------------

    def tables(self) -> list[TableInfo]:
        return self.reads.list_tables()

    def table_summaries(self) -> list[TableSummary]:
        """Every table with its current version's rows, bytes and commit time (from the
        catalog alone: two queries whatever the number of tables)."""
        current = self.reads.current_versions()
        return [TableSummary(t, current.get(t.name)) for t in self.tables()]

    def table_summary(self, name: str | TableName) -> TableSummary:
        """One table with its current version's rows, bytes and commit time (catalog only)."""
        info = self.reads.get_table(_table_name(name))
        current = (
            self.reads.find_version(info, info.current_version)
            if info.current_version is not None
            else None
        )
        return TableSummary(info, current)

    def table(self, name: str | TableName) -> TableInfo:
        """A table, with the catalog brought up to date with its Delta log first."""
        info = self.catalog.get_table(_table_name(name))
        result = self.sync_table(info)
        return self.catalog.get_table(info.name) if result.recorded else info

    def describe(self, name: str, *, version: int | None = None) -> TableDescription:
        """A table at its latest version, or at ``version`` (``TABLE@N`` works too)."""
        ref = TableRef.parse(name) if isinstance(name, str) else TableRef(name)
        info = self.table(ref.table)
        wanted = version if version is not None else ref.version
        if wanted is None and ref.as_of is not None:
            wanted = self.catalog.version_at(info, ref.as_of).version
        if wanted is None:
            wanted = info.current_version
        if wanted is None:
            return TableDescription(
                info, None, None, notes=("The table has no committed version yet.",)
            )
        from lake.core.errors import VersionLogCleaned

        recorded = self.catalog.get_version(info, wanted)
        try:
            snapshot = self.delta(info).snapshot(wanted)
        except VersionLogCleaned as error:
            raise error.of_table(str(info.name)) from error
        from catalog.records import check_recorded

        check_recorded(snapshot, recorded, info.name)
        run = self.catalog.get_run(recorded.run_id) if recorded.run_id else None
        return TableDescription(info, recorded, snapshot, run)

    def history(self, name: str) -> list[VersionInfo]:
        """Every recorded version of a table, oldest first."""
        table = TableRef.parse(name).table if isinstance(name, str) else name
        info = self.reads.get_table(_table_name(table))
        if info.current_version is not None and not has_commit_after(
            self.storage, info.location, info.current_version
        ):
            found = self.reads.versions(info)
            if [v.version for v in found] == list(range(info.current_version + 1)):
                return found
        # The catalog is behind the Delta log, or misses a version below its newest (a writer
        # died before recording it; a registered table's log was cleaned up): sync first.
        info = self.table(info.name)
        return self.reads.versions(info)

    def runs(self, *, limit: int = 50, offset: int = 0, kind: str | None = None) -> list[RunInfo]:
        return self.reads.list_runs(limit=limit, offset=offset, kind=kind)

    def runs_page(
        self,
        *,
        limit: int = 100,
        kind: str | None = None,
        after: str | None = None,
        before: str | None = None,
        offset: int | None = None,
    ) -> RunPage:
        """A page of runs, latest started first (of one ``kind``, when given): the first, or
        the one just after the cursor ``after`` (older runs) or just before ``before`` (newer
        runs), or (deprecated) from ``offset``. The page's ``older`` and ``newer`` cursors
        lead to the pages beside it; None where no run is left that way.

        Raises:
            RunCursorInvalid: a cursor the lake did not hand out, or more than one of
                ``after``, ``before`` and ``offset``.
        """
        from catalog.exceptions import RunCursorInvalid
        from catalog.records import RunCursor

        if sum(x is not None for x in (after, before, offset)) > 1:
            raise RunCursorInvalid(
                None,
                reason="A page of runs starts at one place: give after, before or offset, "
                "not several.",
            )
        reads = self.reads
        if before is not None:
            found = reads.list_runs(limit=limit + 1, kind=kind, before=RunCursor.parse(before))
            newer_left = len(found) > limit
            runs = found[-limit:] if newer_left else found
            older_left = bool(runs) and bool(
                reads.list_runs(limit=1, kind=kind, after=RunCursor.of(runs[-1]))
            )
        else:
            cursor = RunCursor.parse(after) if after is not None else None
            found = reads.list_runs(limit=limit + 1, offset=offset or 0, kind=kind, after=cursor)
            older_left, runs = len(found) > limit, found[:limit]
            newer_left = (
                (after is not None or bool(offset))  # nothing is newer than the first page
                and bool(runs)
                and bool(reads.list_runs(limit=1, kind=kind, before=RunCursor.of(runs[0])))
            )
        by_offset = after is None and before is None
        return RunPage(
            runs=runs,
            limit=limit,
            older=RunCursor.of(runs[-1]).token() if older_left else None,
            newer=RunCursor.of(runs[0]).token() if newer_left else None,
            offset=(offset or 0) if by_offset else None,
            next_offset=(offset or 0) + limit if by_offset and older_left else None,
        )

    def run(self, run_id: str) -> RunInfo:
        return self.reads.get_run(run_id)

    def write_table(
        self,
        name: str,
        data: Any,
        *,
        mode: str = "append",
        kind: str = "arrow",
        source: str | None = None,
    ) -> VersionInfo:
        """Land an Arrow table (or anything exposing the Arrow stream interface, such as a
        pandas or polars frame via pyarrow) as a new version of a lake table.

        ``mode`` is ``append`` or ``overwrite``; the table is created on first write. For
        labels and other data produced in Python; ``source`` names where it came from.
        """
        import pyarrow as pa

        from lake.landing.writes import write_table

        arrow = data if isinstance(data, (pa.Table, pa.RecordBatchReader)) else pa.table(data)
        return write_table(
            self.catalog,
            self.storage,
            _table_name(name),
            arrow,
            mode=mode,  # type: ignore[arg-type]
            kind=kind,
            source=source,
        )

    # -- ingest ------------------------------------------------------------------------------

    def ingest_logs(
        self,
        table: str,
        paths: str | Sequence[str],
        *,
        format: str = "auto",
        pattern: str | None = None,
        preset: str | None = None,
        multiline_start: str | None = None,
        time_field: str | Sequence[str] | None = None,
        time_format: str | Sequence[str] | None = None,
        year: int | None = None,
        earliest: str | None = None,
        latest: str | None = None,
        progress: Callable[[int, int, int], None] | None = None,
        encoding: str | None = None,
        reparse: bool = False,
        final: bool = False,
        engine: str = "local",
        ray_address: str | None = None,
    ) -> IngestReport:
        """Ingest raw log files (a file, folder, glob or ``s3://`` prefix; plain, .gz, .zst, .bz2)
        into ``table`` as one new version; the table is created on first ingest.

        ``format`` is auto (JSON lines, W3C Extended, logfmt, or text parsed by the preset
        that fits), jsonl, text, logfmt or w3c;
        text logs take ``pattern`` (a regex with named groups) or ``preset`` (see
        :meth:`presets`). The event time: ``time_field`` (``"date+time"`` or a list joins
        fields), ``time_format`` (strptime formats tried in order; ``epoch``, ``epoch_ms``,
        ``epoch_us``, ``epoch_ns``, ``iso8601``), ``year`` for times without one, and the
        plausible window ``earliest``/``latest`` (ISO dates; default 1970-01-02 to a day
        after the ingest). ``encoding``: of files without a byte-order mark (UTF-8 when None).
        ``reparse``: read the files again even if already ingested, their rows replaced by the
        new parse in the same commit (older versions keep the old parse). On an append-only
        table a file's last record that may be unfinished is held back until the file grows
        (``IngestReport.held_back``); ``final``: the files are complete, land it as it is.
        ``engine="ray"``:
        the files are parsed on a Ray cluster (``ray_address``, else ``RAY_ADDRESS``, else a
        local Ray), with the same rows, ledger and drift as the local engine, in one version.
        """
        from ingest.logs.pipeline import ingest_logs

        return ingest_logs(
            self.catalog,
            self.storage,
            _table_name(table),
            [paths] if isinstance(paths, str) else list(paths),
            fmt=format,
            pattern=pattern,
            preset=preset,
            multiline_start=multiline_start,
            time_field=time_field,
            time_format=time_format,
            year=year,
            earliest=earliest,
            latest=latest,
            progress=progress,
            encoding=encoding,
            reparse=reparse,
            final=final,
            engine=engine,
            ray_address=ray_address,
        )

    def ingest_files(self, table: str, paths: str | Sequence[str]) -> FilesReport:
        """Store binary files (a file, folder, glob or ``s3://`` prefix) once each in the
        warehouse, by sha256 (``objects/ab/cdef...``), and land one row per file in
        ``table``: ``uri``, ``source``, ``sha256``, ``size``, ``media_type`` (from the bytes
        where the lake knows their signature), ``media_type_from``, ``width`` and ``height``
        for images (as displayed), ``duration_s``, ``sample_rate`` and ``channels`` for
        audio (libsndfile), ``_ingested_at``, ``_error`` (why a value is missing or the name
        disagrees with the bytes)."""
        from ingest.files import ingest_files

        return ingest_files(
            self.catalog,
            self.storage,
            _table_name(table),
            [paths] if isinstance(paths, str) else paths,
        )

    def presets(self) -> list[dict[str, object]]:
        """The text log presets: name, description, regex, time format, multi-line start and
        an example line."""
        from ingest.logs.textlogs import PRESETS

        return [p.to_json() for p in PRESETS.values()]

    def ingest_db(
        self,
        table: str,
        *,
        source: str,
        table_name: str | None = None,
        query: str | None = None,
        mode: str = "full",
        cursor: str | None = None,
        key: str | Sequence[str] | None = None,
    ) -> ExtractReport:
        """Extract a database table (``table_name``) or ``query`` from ``source`` (a SQLAlchemy
        URL: PostgreSQL, MySQL/MariaDB or SQLite) into ``table`` as one new version; the table
        is created on first extract.

        ``mode`` ``full`` makes the version exactly the source's rows and records rows added,
        removed and changed (matched by ``key`` when given); ``incremental`` reads the rows at
        or past the table's watermark on ``cursor`` and merges them by ``key`` (or appends them
        without one). The watermark moves only when the commit succeeds.
        """
        from ingest.db.pipeline import ingest_db

        keys = [k.strip() for k in key.split(",")] if isinstance(key, str) else list(key or [])
        return ingest_db(
            self.catalog,
            self.storage,
            _table_name(table),
            source=source,
            table=table_name,
            query=query,
            mode=mode,
            cursor=cursor,
            key=keys,
        )

    def schema(self, name: str, *, history: bool = False) -> dict[str, Any]:
        """A table's current schema (from the catalog) and, with ``history``, its drift ledger:
        every column added, widened or in conflict, with the version and source where it
        first appeared."""
        ref = TableRef.parse(name)
        info = self.table(ref.table)
        version = ref.version if ref.version is not None else info.current_version
        result: dict[str, Any] = {"table": str(info.name), "version": version, "columns": []}
        if version is not None:
            recorded = self.catalog.get_version(info, version)
            if recorded.schema_id is not None:
                schema = self.catalog.schema(recorded.schema_id)
                result["columns"] = [
                    {"name": f.name, "type": column_type(f), "nullable": f.nullable} for f in schema
                ]
        if history:
            result["history"] = [c.to_json() for c in self.catalog.schema_changes(info)]
        return result

    def optimize(self, name: str, *, owned: bool = False) -> VersionInfo | None:
        """Compact a table's small files into large ones (a new version with the same rows);
        None when there was nothing to compact. An external table (see
        :meth:`register_table`) only with ``owned``."""
        from lake.landing.writes import optimize

        return optimize(self.catalog, self.storage, self.table(name), owned=owned)

    def register_table(self, name: str, location: str) -> Registered:
        """Register the Delta table another engine wrote at ``location`` (a folder or an
        ``s3://`` prefix) as ``name``, with every version its log still has. The lake reads
        it (SQL, time travel, materialize, audit, impact) but never writes to it; vacuum and
        optimize touch it only with ``owned=True``."""
        from lake.landing.register import register_table

        return register_table(self.catalog, self.storage, _table_name(name), location)

    # -- queries -----------------------------------------------------------------------------

    def sql(
        self,
        query: str,
        *,
        read_only: bool = False,
        max_rows: int | None = None,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
        memory_limit: int | None = None,
        threads: int | None = None,
    ) -> QueryResult:
        """Run one DuckDB SQL statement over the lake's tables (``namespace.table``), each read
        at one exact version: the latest, or ``VERSION AS OF 3`` / ``TIMESTAMP AS OF '...'`` /
        ``AT (VERSION => 3)``. The result holds the rows (Arrow) and the versions read.

        ``read_only`` locks DuckDB down to the query's own table files (for services) and runs
        it in a worker process under the ``[query]`` limits of the configuration: a time limit
        covering parsing, planning and execution, DuckDB's memory (bytes) and threads, and a
        byte cap on the answer; each argument given overrides its setting. ``max_rows`` and
        ``max_bytes`` cut the result short (``truncated``); ``timeout_s`` stops it.
        Raises :class:`queries.exceptions.QueryError` subclasses.
        """
        from queries.sql import run_query

        return run_query(
            self.reads,
            self.storage,
            query,
            read_only=read_only,
            max_rows=max_rows,
            timeout_s=timeout_s,
            max_bytes=max_bytes,
            memory_limit=memory_limit,
            threads=threads,
        )

    # -- training sets, models, audit ----------------------------------------------------------

    def materialize(
        self,
        name: str | None = None,
        *,
        sql: str | None = None,
        out: str | Path,
        shard_rows: int | None = None,
        split: str | None = None,
        split_key: str | None = None,
        as_of: str | datetime | None = None,
        from_: str | None = None,
        progress: Callable[[int, int, int], None] | None = None,
        engine: str = "local",
        ray_address: str | None = None,
    ) -> MaterializeResult:
        """Materialize ``sql`` as the next version of training set ``name``: every table it
        reads pinned to one version, Parquet shards and ``.lake/manifest.json`` in ``out``.

        The same SQL over the same versions with the output already in ``out`` is a cache
        hit (nothing recomputed). With ``from_`` (a manifest path or ``NAME@VERSION``) the
        slice is rebuilt from its recorded versions and proven identical by its content hash.

        ``engine="ray"`` runs the query on a Ray cluster (``ray_address``, else
        ``RAY_ADDRESS``, else a local Ray): same versions, order, shards and content hash.
        ``split="train=0.8,test=0.2"`` with ``split_key=COLUMN`` writes one subfolder per
        split, each row placed by a stable hash of its key.
        """
        from lake.core.errors import ConfigError
        from queries.training import Engine, materialize, rebuild

        chosen = Engine(engine, ray_address)

        if from_ is not None:
            if sql is not None or split is not None or split_key is not None or as_of is not None:
                raise ConfigError(
                    "Give either --sql (a new training set) or --from (a rebuild, with its "
                    "recorded splits), not both."
                )
            return rebuild(
                self.catalog,
                self.storage,
                from_,
                out=out,
                progress=progress,
                engine=chosen,
            )
        if name is None or sql is None:
            raise ConfigError(
                "materialize needs a NAME and --sql QUERY (or --from MANIFEST to rebuild one)."
            )
        return materialize(
            self.reads,  # a cache hit only reads; the rest opens the full catalog
            self.storage,
            name,
            sql,
            out=out,
            shard_rows=shard_rows,
            split=split,
            split_key=split_key,
            as_of=as_of,
            progress=progress,
            engine=chosen,
        )

    def training_sets(self, name: str | None = None) -> list[TrainingSetInfo]:
        from catalog.registry import training_sets

        return training_sets(self.catalog, name)

    def register_model(
        self,
        name: str,
        *,
        training_set: str,
        version: int | None = None,
        uri: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        code_version: str | None = None,
    ) -> ModelInfo:
        """Register a model version trained on ``training_set`` (``NAME`` or ``NAME@VERSION``;
        default its newest version). ``version`` defaults to the next number; ``run_id`` names
        the training job's own run when it recorded one. Its input data is pinned: vacuum
        keeps it for as long as the model is registered.

        ``code_version`` is the training code's version; by default the git commit of the
        current folder (``git:<sha>``, ``+dirty`` when tracked files have changes), or
        ``unknown`` outside a git checkout. The audit shows it."""
        from catalog.registry import find_training_set, register_model
        from lake.core.names import check_name, parse_ref

        set_name, set_version = parse_ref(training_set)
        found = find_training_set(self.catalog, set_name, _int_version(set_version, training_set))
        return register_model(
            self.catalog,
            name=check_name(name, "model"),
            training_set=found,
            version=version,
            uri=uri,
            metrics=metrics,
            run_id=run_id,
            code_version=code_version if code_version is not None else git_commit(Path.cwd()),
        )

    def models(self, name: str | None = None) -> list[ModelInfo]:
        from catalog.registry import models

        return models(self.catalog, name)

    def audit(self, model: str, *, sources: str = "auto") -> Audit:
        """The chain behind ``MODEL[@VERSION]``: model -> training set -> table versions ->
        the runs that produced their data -> those runs' sources. ``sources`` is ``auto``
        (list them up to 2,000, else counts per run), ``all`` or ``none``."""
        from catalog.lineage import Lineage
        from catalog.registry import find_model
        from lake.core.errors import ConfigError
        from lake.core.names import parse_ref

        if sources not in ("auto", "all", "none"):
            raise ConfigError(f"sources must be auto, all or none, not {sources!r}.")
        name, version = parse_ref(model)
        found = find_model(self.catalog, name, version)
        lineage = Lineage(self.catalog, self._files_reader, self._parameters_reader)
        return lineage.audit_model(found, sources=sources)  # type: ignore[arg-type]

    def impact(self, table_version: str | None = None, *, source: str | None = None) -> Impact:
        """Every table version, training set and model downstream of ``TABLE@N`` (or of a
        source file or database table, by its URI or name)."""
        from catalog.lineage import Lineage, parse_table_version
        from lake.core.errors import ConfigError

        lineage = Lineage(self.catalog, self._files_reader, self._parameters_reader)
        if (table_version is None) == (source is None):
            raise ConfigError("impact needs either TABLE@VERSION or --source URI.")
        if source is not None:
            return lineage.impact_of_source(source)
        name, version = parse_table_version(table_version)  # type: ignore[arg-type]
        info = self.catalog.get_table(name)
        if self.catalog.find_version(info, version) is None:
            info = self.table(name)  # a version the catalog has not recorded yet: sync first
        return lineage.impact_of_version(info, version)

    # -- retention ---------------------------------------------------------------------------

    def vacuum(
        self,
        table: str | None = None,
        *,
        retain: str = "7d",
        apply: bool = False,
        owned: bool = False,
    ) -> list[VacuumReport]:
        """Delete data files no kept version needs (a dry run unless ``apply``): kept are the
        latest version, versions within ``retain``, and every version a training set, a model
        or a tag pins, whatever its age. External tables (see :meth:`register_table`) are left
        alone unless named with ``owned``."""
        from lake.core.errors import ConfigError
        from lake.landing.vacuum import VacuumReport, parse_retention, vacuum_table

        duration = parse_retention(retain)
        if owned and not table:
            raise ConfigError("--owned applies to one table: name the external table to vacuum.")
        targets = [self.table(table)] if table else [self.table(t.name) for t in self.tables()]
        reports = []
        for info in targets:
            if not table and info.kind == "external":
                note = "external table: not vacuumed (name it with --owned if the lake owns it)"
                reports.append(VacuumReport(str(info.name), 0, apply, (), (), 0, notes=(note,)))
                continue
            report = vacuum_table(
                self.catalog, self.delta(info), info, retain=duration, apply=apply, owned=owned
            )
            if apply:
                self.sync_table(info)  # vacuum commits VACUUM START/END versions
            reports.append(report)
        return reports

    def vacuum_objects(self, *, retain: str = "7d", apply: bool = False) -> ObjectsReport:
        """Delete the binary assets (``objects/``, from ``lake ingest files``) that no kept
        version of any table names in its ``uri`` column, once older than ``retain`` (a dry
        run unless ``apply``); kept versions follow :meth:`vacuum`'s rule, pins included."""
        from lake.landing.vacuum import parse_retention, vacuum_objects, vacuum_table

        duration = parse_retention(retain)
        kept = []
        for table in self.tables():
            info = self.table(table.name)
            store = self.delta(info)
            # a dry run of every table, external ones included: only its kept versions count
            plan = vacuum_table(self.catalog, store, info, retain=duration, apply=False, owned=True)
            kept.append((store, [k.version for k in plan.kept]))
        return vacuum_objects(self.storage, kept, retain=duration, apply=apply)

    def tag(self, ref: str, name: str, *, move: bool = False) -> PinInfo:
        """Tag ``TABLE@N`` as ``name``: vacuum keeps a tagged version's files."""
        from catalog.pins import add_tag
        from lake.core.errors import VersionNotFound

        parsed = TableRef.parse(ref)
        info = self.table(parsed.table)
        version = parsed.version
        if version is None and parsed.as_of is not None:
            version = self.catalog.version_at(info, parsed.as_of).version
        if version is None:
            raise VersionNotFound(
                f"{ref!r} names no version: write TABLE@N, e.g. {parsed.table}@3."
            )
        return add_tag(self.catalog, info, version, name, move=move)

    def untag(self, table: str, name: str) -> PinInfo:
        from catalog.pins import remove_tag

        return remove_tag(self.catalog, self.table(TableRef.parse(table).table), name)

    def pins(self, table: str) -> list[PinInfo]:
        """Tags, and pins by training sets and models, of a table."""
        from catalog.pins import pins

        return pins(self.catalog, self.table(TableRef.parse(table).table))

    def _files_reader(self, info: TableInfo) -> Callable[[int], frozenset[str]]:
        store = self.delta(info)
        return lambda version: frozenset(f.path for f in store.snapshot(version).files)

    def _parameters_reader(self, info: TableInfo) -> Callable[[int], Mapping[str, object] | None]:
        return self.delta(info).operation_parameters

    # -- the HTTP service: tokens and OpenLineage ------------------------------------------------

    def create_token(self, *, role: str, name: str | None = None) -> NewToken:
        """A new API token with role ``read``, ``write`` or ``admin``; its secret is in the
        result only (the catalog keeps a hash)."""
        from catalog.tokens import create_token

        return create_token(self.catalog, role=role, name=name)

    def tokens(self, *, include_revoked: bool = False) -> list[TokenInfo]:
        from catalog.tokens import list_tokens

        return list_tokens(self.catalog, include_revoked=include_revoked)

    def revoke_token(self, token_id: int) -> TokenInfo:
        from catalog.tokens import revoke_token

        return revoke_token(self.catalog, token_id)

    def check_token(self, secret: str) -> TokenInfo | None:
        """The live token with this secret, or None (for the service's bearer auth)."""
        from catalog.tokens import check_token

        return check_token(self.catalog, secret)

    def record_lineage(self, event: Mapping[str, Any]) -> RecordedEvent:
        """Record one OpenLineage run event (START, COMPLETE, FAIL... of one ``runId``):
        lake tables link to exact versions, other datasets become external sources."""
        from catalog.openlineage_in import record_event

        return record_event(self.catalog, event, refresh=self.sync_table)

    def run_lineage(self, run_id: str) -> dict[str, Any]:
        """A run with its input and output dataset versions, named as in OpenLineage."""
        from catalog.openlineage_out import run_lineage

        run = self.catalog.get_run(run_id)
        return {**run.to_json(), **run_lineage(self.catalog, run.id)}

    # -- catalog maintenance -----------------------------------------------------------------

    def sync(self, name: str | None = None) -> list[SyncResult]:
        """Record Delta versions the catalog is missing (all tables, or one), then let go of
        the claims of runs whose commit was in doubt and is not in the log.

        Every table: one that cannot be synced (its log gone or damaged) has a result whose
        ``error`` says why, and the others are synced. One table: its failure is raised."""
        from lake.landing.sync import sync_tables

        if name:
            named = [self.catalog.get_table(_table_name(name))]
            return sync_tables(self.catalog, named, self.delta, keep_going=False)
        return sync_tables(self.catalog, self.tables(), self.delta)

    def sync_table(self, info: TableInfo) -> SyncResult:
        from lake.landing.sync import sync_table

        return sync_table(self.catalog, self.delta(info), info)

    def delta(self, info: TableInfo) -> DeltaStore:
        from lake.delta.store import DeltaStore

        return DeltaStore(info.location, self.storage, name=str(info.name))


def connect(
    *,
    warehouse: str | None = None,
    catalog: str | None = None,
    cwd: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    create: bool = False,
) -> Lake:
    """Open a lake. Arguments override the environment, ``lake.toml`` (in ``cwd`` or the
    nearest folder above it) and the defaults.

    With ``create`` (what ``lake init`` does) the lake is the one named here: ``lake.toml`` is
    read from ``cwd`` only, and the embedded default is used when nothing names one.

    Raises:
        NoLakeHere: nothing names a lake (no argument, no ``LAKE_WAREHOUSE`` /
            ``LAKE_CATALOG_URL``, no ``lake.toml`` here or above) and ``create`` is false.
        ConfigError: a setting is malformed.
    """
    config = resolve(
        warehouse=warehouse,
        catalog_url=catalog,
        cwd=Path(cwd) if cwd is not None else None,
        environ=environ,
        search_parents=not create,
    )
    return Lake(config if create else require_lake(config))


def git_commit(folder: Path) -> str | None:
    """``git:<commit>`` of the checkout ``folder`` is in (``+dirty`` when tracked files have
    uncommitted changes), or None when it is not in one or git is not installed."""
    import subprocess

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--verify", "HEAD")
    if not commit:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"git:{commit}" + ("+dirty" if dirty else "")


def _table_name(name: str | TableName) -> TableName:
    return name if isinstance(name, TableName) else TableName.parse(name)


def _int_version(version: str | None, ref: str) -> int | None:
    from lake.core.errors import VersionNotFound

    if version is None:
        return None
    if not version.isdigit():
        raise VersionNotFound(f"{ref!r}: a training set version is a number, as in churn@2.")
    return int(version)
