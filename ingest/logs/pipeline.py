"""``lake ingest logs``: raw log files into a Delta table, in one commit per call.

The engine (:mod:`ingest.logs.stage`) reads and parses the files into staged Parquet; this
module decides what to read (skipping content already ingested, resuming grown files from
where the last ingest stopped), runs the write protocol of ``lake.landing.commits`` and reports
what happened. The table is created on first ingest.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from catalog.catalog import Catalog
from catalog.edges import SourceRef
from catalog.ledger import IngestedFileInfo, PendingFile
from catalog.tables import TableInfo
from ingest.exceptions import LogFormatError
from ingest.logs.textlogs import PRESETS, presets_with_columns
from lake.core.names import TableName
from lake.core.storage import Storage
from lake.delta.requirements import append_only, append_only_refusal
from lake.landing.commits import TableRun
from lake.landing.staging import StagingFolder
from lake.landing.sync import sync_table

if TYPE_CHECKING:
    import pyarrow as pa

Progress = Callable[[int, int, int], None]
KIND = "logs"
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class FileOutcome:
    uri: str
    status: Literal["ingested", "appended", "reparsed", "skipped", "held"]
    """``held``: nothing new landed, the new bytes being one record that may be unfinished."""
    records_read: int = 0
    records_parsed: int = 0
    records_failed: int = 0
    bytes: int = 0
    note: str | None = None
    parser: str | None = None
    """Text records: the preset (chosen by ``--format auto`` or given) or "pattern"."""
    records_with_time: int | None = None
    """Records that got an ``_event_time``; None when the table has none."""
    time_reasons: dict[str, int] = field(default_factory=dict)
    """Records without an event time, per reason (:mod:`ingest.logs.eventtime`)."""
    time_from: dict[str, int] = field(default_factory=dict)
    """Records whose event time a field other than the file's time field gave, per field."""
    format: str | None = None
    """How its records were read: jsonl, text, logfmt or w3c (None: skipped)."""
    directives: int = 0
    """W3C directive lines read (``#Fields:``...): lines, not records."""
    held_bytes: int = 0
    """Bytes at the end of the file not landed: its last record, which may be unfinished (an
    append-only table's ingest holds it back until the file grows, or ``final``)."""

    @property
    def held_back(self) -> str | None:
        """What was held back, in one sentence (None: nothing)."""
        if not self.held_bytes:
            return None
        return (
            f"{self.held_bytes:,} bytes held back at the end of {self.uri} (last record "
            "unfinished): they land when an ingest finds the file grown past that record, or "
            "with --final once the file is complete."
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class IngestReport:
    """What ``lake ingest logs`` did."""

    table: str
    version: int | None
    """The new version, or None when nothing new was found (every file skipped)."""
    run_id: str
    files: tuple[FileOutcome, ...]
    drift: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    seconds: float = 0.0
    time_field: str | None = None
    """The field(s) the event time was read from (``date+time``), None when none."""
    engine: Mapping[str, Any] | None = None
    """What the Ray engine did (its tasks, bytes and rows each); None for the local engine."""

    @property
    def records_read(self) -> int:
        return sum(f.records_read for f in self.files)

    @property
    def records_parsed(self) -> int:
        return sum(f.records_parsed for f in self.files)

    @property
    def records_failed(self) -> int:
        return sum(f.records_failed for f in self.files)

    @property
    def has_event_time(self) -> bool:
        return any(f.records_with_time is not None for f in self.files)

    @property
    def records_with_time(self) -> int:
        return sum(f.records_with_time or 0 for f in self.files)

    @property
    def time_reasons(self) -> dict[str, int]:
        return _summed(f.time_reasons for f in self.files)

    @property
    def time_from(self) -> dict[str, int]:
        return _summed(f.time_from for f in self.files)

    def event_times_json(self) -> dict[str, Any] | None:
        """How many records got an event time, how many did not and why (None: the table
        has no ``_event_time``)."""
        if not self.has_event_time:
            return None
        reasons = self.time_reasons
        found = {
            "time_field": self.time_field,
            "with_time": self.records_with_time,
            "without_time": sum(reasons.values()),
            "reasons": reasons,
        }
        # Of with_time, the records whose time another field gave (JSON records whose time
        # field had no value, or one not used): only when there are any.
        others = self.time_from
        return found | ({"from_other_fields": others} if others else {})

    @property
    def files_skipped(self) -> int:
        return sum(1 for f in self.files if f.status == "skipped")

    @property
    def held_back(self) -> tuple[str, ...]:
        """One sentence per file whose last record was held back (see
        :attr:`FileOutcome.held_back`)."""
        return tuple(f.held_back for f in self.files if f.held_back)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "version": self.version,
            "run_id": self.run_id,
            "records_read": self.records_read,
            "records_parsed": self.records_parsed,
            "records_failed": self.records_failed,
            "files_skipped": self.files_skipped,
            "held_back": list(self.held_back),
            "event_times": self.event_times_json(),
            "files": [f.to_json() for f in self.files],
            "drift": list(self.drift),
            "seconds": round(self.seconds, 3),
            **({"engine": dict(self.engine)} if self.engine is not None else {}),
        }


def ingest_logs(
    catalog: Catalog,
    storage: Storage,
    name: TableName,
    paths: Sequence[str],
    *,
    fmt: str = "auto",
    pattern: str | None = None,
    preset: str | None = None,
    multiline_start: str | None = None,
    time_field: str | Sequence[str] | None = None,
    time_format: str | Sequence[str] | None = None,
    year: int | None = None,
    earliest: str | None = None,
    latest: str | None = None,
    progress: Progress | None = None,
    encoding: str | None = None,
    reparse: bool = False,
    final: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
) -> IngestReport:
    """Ingest log files into table ``name`` (created on first ingest) as one new version.

    A column the new logs widen (``int`` to ``float``, or to JSON text on a conflict) is
    widened in the rows already in the table too, in the same commit.

    ``encoding``: the text encoding of files without a byte-order mark (UTF-8 when None).
    ``reparse``: read the named files whole again, even when already ingested, and replace
    their rows in the table with the new parse, in the same commit (older versions keep the
    old parse). A grown file whose last ingest ended inside an unfinished last line has
    that line read again whole, its row replaced the same way.

    On an append-only table (``delta.appendOnly``), which refuses that replacement, a file's
    last record that may be unfinished (a last line without its line feed, a container log's
    partial line or Docker's 16 KiB piece, a record under a multi-line start, which later
    lines may continue) is held back instead: not landed, the ledger ending before it, so the
    next ingest of the grown file reads it from its start and lands it whole
    (``FileOutcome.held_bytes``, ``IngestReport.held_back``). A file that never grows keeps
    it held, ingest after ingest; ``final``: the files are complete, their last records
    land as they are. Other tables land them at once and replace them when the file grows
    (readers see the newest lines soonest). Compressed and UTF-16/32 files cannot be
    resumed inside a record and land whole.
    ``engine``: ``ray`` parses the files on a Ray cluster (``ray_address``, else
    ``RAY_ADDRESS``, else a local Ray; :mod:`ingest.logs.ray_stage`), with the same result.

    Raises:
        SourceNotFound, SourceUnreadable, LogFormatError: nothing is committed (bad options
            are refused before any table or run is created; a time field the existing
            table has no column for fails the run).
        CommitConflict: another writer committed while a widening rewrite was running.
        RayIngestError: Ray is missing or unreachable, or a task kept dying.
    """
    from ingest.logs.eventtime import time_rules
    from ingest.logs.stage import stage_logs
    from ingest.logs.textlogs import text_format
    from ingest.sources import expand_paths

    started = time.perf_counter()
    # Check the options before anything is created.
    if engine not in ENGINES:
        raise LogFormatError(f"Unknown engine {engine!r}; use one of: {', '.join(ENGINES)}.")
    if engine == "ray":
        from ingest.logs.ray_stage import check_ray

        check_ray(ray_address)
    text_format(pattern=pattern, preset=preset, multiline_start=multiline_start)
    rules = time_rules(
        time_field=time_field, time_format=time_format, year=year, earliest=earliest, latest=latest
    )
    # Expand first: a path that matches nothing must not create a table or a run.
    sources = expand_paths(paths, filesystem_for=storage.filesystem_for)
    parameters = {
        "paths": list(paths),
        "format": fmt,
        "pattern": pattern,
        "preset": preset,
        "multiline_start": multiline_start,
        "time_field": time_field if isinstance(time_field, str | None) else list(time_field),
        "time_format": time_format if isinstance(time_format, str | None) else list(time_format),
        "year": year,
        "earliest": earliest,
        "latest": latest,
        "encoding": encoding,
        "reparse": reparse,
        **({"final": final} if final else {}),
        **({"engine": engine} if engine != "local" else {}),
    }
    few = len(sources) <= PLAN_QUERY_SOURCES
    with TableRun.begin(
        catalog,
        storage,
        name,
        table_kind=KIND,
        kind="ingest_logs",
        parameters=parameters,
        # Only what these sources can match: their own ranges, and whole files of their
        # sizes (reading the table's whole ledger grew with every ingest). Past a few
        # thousand sources the query would be longer than the ledger.
        ingested=[s.uri for s in sources] if few else None,
        sizes=[s.size for s in sources] if few else (),
    ) as run:
        info, store = run.table, run.store
        # Commits of ingests that died before recording them are recorded first: their
        # file ranges are in the ledger only then (read again when there were any).
        synced = sync_table(catalog, store, info, reap=False)  # the run's start reaped
        ledger = run.ingested if not synced.recorded else None
        existing = store.snapshot() if store.exists() else None
        existing_schema = existing.schema if existing is not None else None
        if (
            existing_schema is not None
            and rules.fields
            and "_event_time" not in existing_schema.names
        ):
            raise LogFormatError(
                f"Table {name} has no _event_time column (it was created without a time "
                f"field), so --time-field '{rules.field_label}' cannot apply; ingest into a "
                "new table to have event times, or leave --time-field out."
            )
        resume, skipped, known = _plan(catalog, info, sources, ledger)
        if reparse:
            skipped = {}
        to_read = [s for s in sources if s.uri not in skipped]
        parsers = catalog.ingested_parsers(info, [s.uri for s in to_read if s.uri in resume])
        named = fmt != "auto" or bool(pattern or preset)
        if not reparse and not named:
            _refuse_unrecorded(parsers, existing_schema, str(name))
            _refuse_unknown_presets(parsers, str(name))
        # A grown file is read on as its last ingest read it (parser, preset, multi-line
        # start): options naming another are refused. Otherwise options given parse what
        # is read whole again (--reparse; a file rotated or rewritten) and the new lines of
        # a file whose parser is not known, as the refusals above say; its format is kept.
        grown = {
            s.uri
            for s in to_read
            if not reparse and _known(parsers.get(s.uri, {})) and s.size > resume[s.uri][0]
        }
        given = named or bool(multiline_start)
        _refuse_other_parsers(
            {u: parsers[u] for u in grown}, fmt, pattern, preset, multiline_start, str(name)
        )
        parsers = {
            u: _told(p, preset) if u in grown or not given else {"format": p["format"]}
            for u, p in parsers.items()
        }
        outcomes = [FileOutcome(uri, "skipped", note=why) for uri, why in skipped.items()]
        if not to_read:
            return IngestReport(
                str(name), None, run.run_id, tuple(outcomes), seconds=time.perf_counter() - started
            )
        # Only a table that refuses replacing rows waits for a record's end (see above).
        only_appends = existing is not None and append_only(existing.configuration)
        hold = only_appends and not final
        with StagingFolder("lake-stage-") as staging:
            options = {
                "fmt": fmt,
                "pattern": pattern,
                "preset": preset,
                "multiline_start": multiline_start,
                "time_field": time_field,
                "time_format": time_format,
                "year": year,
                "earliest": earliest,
                "latest": latest,
                "encoding": encoding,
                "hold": hold,
            }
            ray_run = None
            if engine == "ray":
                from ingest.logs.ray_stage import RayIngest, stage_logs_on_ray

                ray_run = RayIngest()
                staged = stage_logs_on_ray(
                    [s.uri for s in to_read],
                    storage=storage,
                    table_uri=info.location,
                    run_id=run.run_id,
                    staging_dir=staging,
                    address=ray_address,
                    options=options,
                    existing_schema=existing_schema,
                    resume=resume,
                    parsers=parsers,
                    reparse=frozenset(s.uri for s in to_read) if reparse else frozenset(),
                    progress=progress,
                    expected_bytes=sum(
                        max(s.size - (0 if reparse else resume.get(s.uri, (0,))[0]), 0)
                        for s in to_read
                    ),
                    run=ray_run,
                )
            else:
                staged = stage_logs(
                    to_read,  # as expanded for the plan: the same files, not listed again
                    staging_dir=staging,
                    filesystem_for=storage.filesystem_for,
                    **options,
                    existing_schema=existing_schema,
                    resume=resume,
                    progress=progress,
                    parsers=parsers,
                    reparse=frozenset(s.uri for s in to_read) if reparse else frozenset(),
                )
            new_records = [s for s in staged.sources if s.records_read or s.lines_consumed]
            for report in staged.sources:
                grown = report.uri in resume and not report.restarted and not reparse
                if report.records_read == 0 and report.start_offset == report.bytes_consumed:
                    if report.held_bytes:
                        outcomes.append(
                            FileOutcome(report.uri, "held", held_bytes=report.held_bytes)
                        )
                        continue
                    outcomes.append(
                        FileOutcome(
                            report.uri,
                            "skipped",
                            note="no new records since the last ingest; --reparse reads it again",
                        )
                    )
                    continue
                outcomes.append(
                    FileOutcome(
                        report.uri,
                        "reparsed" if reparse else "appended" if grown else "ingested",
                        records_read=report.records_read,
                        records_parsed=report.records_parsed,
                        records_failed=report.records_failed,
                        parser=report.parser,
                        records_with_time=report.records_with_time,
                        time_reasons=dict(report.time_reasons),
                        time_from=dict(report.time_from),
                        format=report.format,
                        directives=report.directives,
                        bytes=report.bytes_consumed - report.start_offset,
                        note=_note(report, grown=grown, reparse=reparse),
                        held_bytes=report.held_bytes,
                    )
                )
            if only_appends:  # even when all it holds is held back: say so now
                _refuse_rewritten(staged.sources, resume, info.location)
            drift = tuple(_drift_json(event) for event in staged.drift)
            if not staged.files:
                return IngestReport(
                    str(name),
                    None,
                    run.run_id,
                    tuple(outcomes),
                    drift,
                    time.perf_counter() - started,
                    staged.time_field,
                    _engine_json(ray_run),
                )
            replaced = [
                (r.uri, r.replaces_from) for r in staged.sources if r.replaces_from is not None
            ]
            landed = run.land(
                staged.staged,
                policy="logs",
                operation="INGEST LOGS",
                base=existing,
                inputs=[_source_ref(r) for r in new_records],
                outcome={
                    "rows_added": staged.staged.rows,
                    "drift": list(drift),
                    **(
                        {"rows_replaced_from": [{"source": u, "line": n} for u, n in replaced]}
                        if replaced
                        else {}
                    ),
                },
                replace_lines=replaced,
                ledger=[
                    PendingFile(
                        uri=r.uri,
                        sha256=r.sha256,
                        start_offset=r.start_offset,
                        end_offset=r.bytes_consumed,
                        end_line=r.next_line - 1,
                        records=r.records_read,
                        # The ranges planned on: the prepare refuses the file if another
                        # ingest entered one since (two ingests of it at once).
                        known_ranges=known[r.uri],
                        skip_copies=not reparse,
                    )
                    for r in staged.sources
                ],
            )
    return IngestReport(
        str(name),
        landed.version.version,
        run.run_id,
        tuple(outcomes),
        drift,
        time.perf_counter() - started,
        staged.time_field,
        _engine_json(ray_run),
    )


def _summed(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The files' counts added up, largest first."""
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(total.most_common())


def _refuse_rewritten(
    reports: Sequence[Any], resume: Mapping[str, tuple[int, int, str]], table: str
) -> None:
    """Raises UnsupportedTableFeature for a file that no longer starts with what its last
    ingest read, into an append-only table: its new content would replace the rows of the
    old, and appending it instead would keep rows of a rewritten file beside their new
    versions (or, rotated, leave the old content's end unlanded), silently."""
    for r in reports:
        if r.rewritten and r.uri in resume:
            raise append_only_refusal(
                table,
                f"reading {r.uri} again whole, as it no longer starts with the "
                f"{resume[r.uri][0]:,} bytes its last ingest read (rotated or rewritten)",
                "ingest its new content under a new file name",
            )


def _engine_json(run: Any) -> dict[str, Any] | None:
    return None if run is None else run.to_json()


def _note(report: Any, *, grown: bool, reparse: bool) -> str | None:
    notes = [n for n in (_read_note(report, grown=grown, reparse=reparse), _alike(report)) if n]
    return "; ".join(notes) or None


def _alike(report: Any) -> str | None:
    alike = report.parsed_alike
    if not alike:
        return None
    others = " and ".join(f"'{p}'" for p in alike)
    which = f"presets {others} parse" if len(alike) > 1 else f"preset {others} parses"
    return (
        f"--format auto read it with preset '{report.parser}'; {which} its first records as "
        "well, with other columns: give --preset to choose"
    )


def _read_note(report: Any, *, grown: bool, reparse: bool) -> str | None:
    first = report.replaces_from
    if reparse:
        return "read again whole: its rows in the table are replaced by this parse"
    if report.continued:
        return "file had grown, its new lines continuing its last record: read again whole"
    if report.restarted:
        return (
            "the file changed before the point read last time: read again whole, its rows replaced"
        )
    if first is not None:
        return (
            f"file had grown and its line {first} was unfinished last time: read from byte "
            f"{report.start_offset}, that line's row replaced"
        )
    return f"file had grown: read from byte {report.start_offset}" if grown else None


PLAN_QUERY_SOURCES = 2000


def _plan(
    catalog: Catalog,
    info: TableInfo,
    sources: Sequence[Any],
    ledger: Sequence[IngestedFileInfo] | None,
) -> tuple[dict[str, tuple[int, int, str]], dict[str, str], Counter[str]]:
    """Where to resume each file, which files to skip because their content is in the
    table already (under this name or another), and how many committed ranges of each file
    the plan read; ``ledger``: the table's committed ranges these sources can match, as
    the run's start read them (None: read them now)."""
    if ledger is None:
        few = len(sources) <= PLAN_QUERY_SOURCES
        ledger = catalog.ingested_files(
            info,
            [s.uri for s in sources] if few else None,
            sizes=[s.size for s in sources] if few else (),
        )
    resume: dict[str, tuple[int, int, str]] = {}
    for entry in ledger:  # oldest first: the last entry of a file is where it stopped
        resume[entry.uri] = (entry.end_offset, entry.end_line + 1, entry.sha256)
    whole_files = {(e.end_offset, e.sha256): e.uri for e in ledger}
    sizes = {size for size, _ in whole_files}
    in_this_call = Counter(s.size for s in sources)
    skipped: dict[str, str] = {}
    seen: dict[str, str] = {}
    for source in sources:
        point = resume.get(source.uri)
        if point is not None and point[0] == source.size:
            continue  # the engine checks the hash and reads nothing when unchanged
        # Hash only files that could be a copy: same size as an ingested or a sibling file.
        if (point is None and source.size in sizes) or in_this_call[source.size] > 1:
            digest = _sha256(source)
            earlier = whole_files.get((source.size, digest)) or seen.get(digest)
            if earlier is not None:
                skipped[source.uri] = (
                    f"same content as {earlier}, already ingested; --reparse reads it again"
                )
                continue
            seen[digest] = source.uri
    return resume, skipped, Counter(entry.uri for entry in ledger)


def _sha256(source: Any) -> str:
    digest = hashlib.sha256()
    if source.filesystem is None:
        with open(source.path, "rb") as handle:
            for block in iter(lambda: handle.read(8 << 20), b""):
                digest.update(block)
    else:
        with source.filesystem.open_input_stream(source.path) as handle:
            for block in iter(lambda: handle.read(8 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _drift_json(event: Any) -> dict[str, Any]:
    return {
        "column": ".".join(event.column),
        "change": event.kind,
        "old_type": None if event.old_type is None else str(event.old_type),
        # A conflict makes a string column of JSON text: say so, not just "string".
        "new_type": "json" if event.kind == "conflict" else str(event.new_type),
        "source": event.source,
        "line": event.line,
        "detail": event.detail,
    }


def _refuse_unrecorded(
    parsers: dict[str, dict[str, Any]], schema: pa.Schema | None, table: str
) -> None:
    """Raises LogFormatError for a grown file whose text an older version parsed without
    recording how, in a table with parsed columns (read as plain text, its new lines would
    land with every column null and no error). A table without any was plain text."""
    columns = {n for n in (schema.names if schema is not None else ()) if not n.startswith("_")}
    for uri, parser in parsers.items():
        if not parser.get("unrecorded") or not columns:
            continue
        # The columns alone may not tell (spark and python logging have the same four).
        same = presets_with_columns(columns)
        give = "--preset"
        if same:
            named = " and ".join(f"'{p}'" for p in same)
            give = (
                " or ".join(f"--preset {p}" for p in same)
                + f" (the table's columns are those of preset{'s' if len(same) > 1 else ''} "
                + f"{named})"
            )
        raise LogFormatError(
            f"{uri} was ingested into {table} by a lake that did not record how it parsed "
            "the file's text, so its new lines cannot be read the same way without being "
            f"told: give {give}, --pattern, or --format text, or --reparse to read it again "
            "whole."
        )


def _told(parser: dict[str, Any], preset: str | None) -> dict[str, Any]:
    """A grown file's parser, as the preset given names it: read by its own layouts, not as
    the one ``--format auto`` chose (whose times are read in every day-month-year order)."""
    return {k: v for k, v in parser.items() if k != "chosen"} if preset else parser


def _known(parser: Mapping[str, Any]) -> bool:
    """Whether a file's recorded parser can read its new lines (recorded, and its preset
    still one of this lake's)."""
    return (
        bool(parser) and not parser.get("unrecorded") and parser.get("preset") in (None, *PRESETS)
    )


def _refuse_other_parsers(
    parsers: Mapping[str, Mapping[str, Any]],
    fmt: str,
    pattern: str | None,
    preset: str | None,
    multiline_start: str | None,
    table: str,
) -> None:
    """Raises LogFormatError for a grown file whose last ingest read it otherwise than the
    options given say (another format, pattern, preset or multi-line start): read so, its
    new rows would not be those of one ingest of the whole file."""
    from ingest.logs.textlogs import text_format

    for uri, parser in parsers.items():
        was = parser["format"]
        if was == "text":
            read = text_format(
                pattern=parser.get("pattern"),
                preset=parser.get("preset"),
                multiline_start=parser.get("multiline_start"),
            )
            other = (
                (fmt not in ("auto", was))
                or (pattern is not None and pattern != read.pattern)
                or (preset is not None and preset != parser.get("preset"))
                or (multiline_start is not None and multiline_start != read.multiline_start)
            )
        else:
            other = fmt not in ("auto", was)
        if other:
            raise LogFormatError(
                f"{uri} was read into {table} {_described(parser)}, and its new lines are read "
                "the same way: leave out the options that differ (or give those), or add "
                "--reparse to read the whole file again with them."
            )


def _described(parser: Mapping[str, Any]) -> str:
    """How a file was read, for a refusal: "in format 'jsonl'", "with preset 'log4j' and
    the multi-line start '^x'"."""
    if parser["format"] != "text":
        return f"in format '{parser['format']}'"
    named = parser.get("preset")
    how = (
        f"with preset '{named}'"
        if named
        else f"with the pattern '{parser['pattern']}'"
        if parser.get("pattern")
        else "as plain text lines"
    )
    start = parser.get("multiline_start")
    return f"{how} and the multi-line start '{start}'" if start else how


def _refuse_unknown_presets(parsers: dict[str, dict[str, Any]], table: str) -> None:
    """Raises LogFormatError for a grown file last read with a preset this lake does not
    have (renamed or dropped since): its new lines would be read with another parser, as
    plain text under ``--format auto``, every column null and no error."""
    for uri, parser in parsers.items():
        named = parser.get("preset")
        if named and named not in PRESETS:
            raise LogFormatError(
                f"{uri} was read into {table} with preset '{named}', which this lake does not "
                "have: give --preset, --pattern or --format text to read its new lines, or "
                "--reparse to read it again whole."
            )


def _source_ref(report: Any) -> SourceRef:
    uri: str = report.uri
    scheme, _, rest = uri.partition("://")
    namespace = f"{scheme}://{rest.split('/', 1)[0]}" if scheme != "file" else "file://"
    return SourceRef(
        kind="file",
        namespace=namespace,
        name=uri,
        version=report.sha256,
        facets={
            "size": report.size,
            "sha256": report.sha256,
            "compression": report.compression,
            "format": report.format,
            "parser": report.parser,
            "encoding": report.encoding,
            "line_ending": report.line_ending,
            "byte_range": [report.start_offset, report.bytes_consumed],
            "first_line": report.start_line,
            "records": report.records_read,
            "records_failed": report.records_failed,
        },
    )
