"""Raw logs -> staged Parquet files, one unified schema, drift events and a per-file ledger.

This is the engine under ``lake ingest logs``. It publishes nothing: the caller commits the
staged files (``StagedLogs.files``) to the Delta table in one commit, records
``StagedLogs.sources`` so a grown file is read from where this ingest stopped, and decides
what to do about ``StagedLogs.drift``.

How a file flows: stored bytes -> (decompress, sha256) -> chunks of whole lines
(:mod:`ingest.logs.lines`) -> records (blank lines skipped; multi-line records joined) -> typed
columns (:mod:`ingest.logs.jsonl` or :mod:`ingest.logs.textlogs`) -> our columns (``_source``,
``_line``, ``_ingested_at``, ``_raw``, ``_error``, ``_event_time``) -> Parquet (encodings
from :mod:`lake.delta.encoding`, row groups of at most 65,536 rows), one folder per
``_event_date``. Each chunk is written with the schema known so far; when later data
widens it, the files written before are rewritten at the end, so every staged file has the
final schema. No record is ever dropped: a record that does not parse keeps its text in
``_raw`` and says why in ``_error``.

Staged files hold every column except the partition column ``_event_date``, whose value is
in each file's ``partition_values`` (Delta keeps partition values out of data files).

Rules a user can see (each is tested in tests/test_log_*.py):

* Records: one per non-blank line (a blank or whitespace-only line is counted in
  ``lines_consumed`` but is no record), or one per multi-line group with
  ``--multiline-start``. ``_line`` is the 1-based number of the record's first line;
  ``_raw`` its text without the line ending (``\\r\\n`` or ``\\n``), lines of a multi-line
  record joined by ``\\n``. A last line without an ending is still a record.
* Bytes: line endings (LF, CRLF, lone CR) and the encoding (``encoding``, UTF-8 by default;
  a UTF-8/16/32 byte-order mark decides) are found per file (:mod:`ingest.logs.lines`).
* ``_error`` is null or one short reason: invalid JSON (with the column), not a JSON object,
  bytes not valid in the encoding (``_raw`` then shows them as ``\\xNN`` and
  ``_raw_bytes`` holds the record's exact bytes), JSON nested too deeply to
  parse (about 1,000 levels; deeper than 32 levels is kept as JSON text, no error), a line
  longer than 64 MiB (stored in pieces with the same ``_line``), a text record that does not
  match its pattern. Failed records keep null data columns; nothing is dropped.
* JSON: duplicate keys keep the last value; ``NaN``/``Infinity`` are floats; types and
  names follow :mod:`ingest.logs.inference` (int+float -> float, conflicts and numbers beyond
  64 bits -> a JSON-text string column, marked with field metadata
  ``lake.encoding = json``; case/reserved collisions get ``_2``, ``_3``...).
* Event time: ``time_field`` (a top-level key or a dotted path into objects; several are
  joined by a space), else a text format's own (a preset's time; for a pattern, a group named
  like one of the keys below in any case, or ``date`` and ``time`` together), else the first
  of ``timestamp``, ``time``, ``@timestamp``, ``ts``... present (a JSON record whose value
  there gives no event time takes it from the first other of them that gives one, its
  ``_error`` saying which, counted in ``FileReport.time_from``). Reading rules, the plausible
  window and the reasons are in :mod:`ingest.logs.eventtime`: a time not used is a null
  ``_event_time`` and a null partition (``__HIVE_DEFAULT_PARTITION__`` folder), its reason in
  ``_error`` (the record still counts as parsed) and in ``FileReport.time_reasons``. A new
  table gets ``_event_time``/``_event_date`` only when a time field exists; an existing table
  keeps its layout, and ``time_field`` on one without ``_event_time`` is refused.
* logfmt and W3C Extended (``fmt="logfmt"``/``"w3c"``, or found by ``fmt="auto"``): each
  record's JSON object text (:mod:`ingest.logs.keyvalue`) is read as a JSON line is, ``_raw``
  the line as written; a W3C directive is no record (``FileReport.directives``), and its
  ``date`` and ``time`` are the event time. A grown W3C file is read again whole.
* Text files under ``fmt="auto"`` without a pattern or preset: the preset that parses the
  file's head (``FileReport.parser``); lines kept unparsed when no preset parses any record
  there; LogFormatError naming the best three when some parse but none a clear majority.
  A ``multiline_start`` given cuts the chosen preset's records instead of its own.
* Appended files: ``resume[uri] = FileReport.resume_point()`` of the last ingest. When the
  stored prefix still hashes the same, reading starts at that offset with that line number;
  otherwise the file was rewritten and is read whole again (``restarted``). When the last
  ingest ended inside a line (no newline yet), reading starts where that line starts, and
  ``FileReport.replaces_from`` tells the caller to replace the row it made (a compressed or
  UTF-16/32 file is read whole again instead). New text whose first line is no record start
  of the file's multi-line start continues the last record: the file is read whole again.
  A resumed file keeps its format and parser (``parsers``).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import itertools
import json
import os
import queue
import re
import threading
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.exceptions import IngestError, LogFormatError, SourceUnreadable
from ingest.logs import inference as inf
from ingest.logs.eventtime import (
    OBJECT_TIME_FIELDS,
    TIME_FIELDS,
    EventTimeParser,
    EventTimes,
    TimeRules,
    event_dates,
    join_fields,
    time_rules,
)
from ingest.logs.inference import JSON, NULL, Names, Struct, Type
from ingest.logs.jsonl import (
    DockerPieces,
    Joined,
    NeedsReparse,
    conform_table,
    docker_piece,
    exact,
    parse_records,
    python_table,
    reader_hint,
)
from ingest.logs.keyvalue import (
    W3C_DATE,
    W3C_TIME,
    W3cFields,
    logfmt_json,
    logfmt_json_many,
    looks_like_logfmt,
    looks_like_w3c,
)
from ingest.logs.lines import (
    DEFAULT_ENCODING,
    LONG_LINE_ERROR,
    Ending,
    LineChunk,
    blank_mask,
    check_encoding,
    cr_as_lf,
    detect_ending,
    invalid_lines,
    iter_chunks,
    line_strings,
    original_bytes,
    sniff_encoding,
    to_utf8,
    wide,
)
from ingest.logs.textlogs import (
    AUTO_SAMPLE_LINES,
    RecordAssembler,
    TextFormat,
    choose_preset,
    looks_like_json,
    mend_split_characters,
    parse_text,
    part_notes,
    text_format,
)
from ingest.sources import MAX_TAIL, ContentReader, FilesystemFor, SourceFile, expand_paths
from lake.core import collection
from lake.core.arrow_memory import pages_kept
from lake.core.arrow_values import FALSE, TRUE, scalar
from lake.core.arrow_values import array as array_of
from lake.delta.encoding import MIN_SAMPLE, ROW_GROUP_ROWS, writer_options
from lake.delta.snapshot import StagedFile
from lake.delta.stats import BoundedWriter
from lake.landing.staging import Staged

Format = Literal["auto", "jsonl", "text", "logfmt", "w3c"]
Kind = Literal["jsonl", "text", "logfmt", "w3c"]
"""How a file's records were read (the report's ``format``); ``auto`` picks one per file."""
_FORMATS = ("auto", "jsonl", "text", "logfmt", "w3c")
Reread = Literal["jsonl", "logfmt", "typed"]
"""How the rows of a staged file get their values again to take a wider type: ``_raw`` read
again as a JSON or logfmt line, so a value that becomes JSON text keeps how it was written;
``typed``: from their typed columns (text presets; W3C, whose lines need the ``#Fields`` in
force; a file holding rows of several formats)."""
ResumePoint = tuple[int, int, str]
"""``(bytes_consumed, next_line, sha256)`` of a file from an earlier ingest."""
Progress = Callable[[int, int, int], None]
"""``progress(files_done, records, bytes)``, called after every chunk. When the callable also
has an ``expect(files, bytes)`` method, it is told first how many files and bytes there are to
read (so a bar can show percent and time left)."""

ROWS_PER_FILE = 1_048_576
PARTITION_COLUMN = "_event_date"
RAW_BYTES = "_raw_bytes"
"""Binary: a record's bytes as the file holds them, where ``_raw`` cannot show them exactly
(bytes not valid in the file's encoding); null for every other record. The column exists
only in tables that ever had such a record."""
EVENT_TIME = pa.timestamp("us", tz="UTC")
_MAX_OPEN_WRITERS = 64
INLINE_SOURCE_BYTES = 256 << 10
"""Files up to this size are staged on the calling thread alone (see ``_Stage._ingest_file``)."""
_WRITER_THREADS = 2
"""Parquet encoder threads. Each staged file is encoded on one of them, the thread it was
given when it opened (in turn), so a file's row groups stay in order and a partition has
no more files than with one thread. With one, the encoder ran alone at the end of a
many-day file, for the days still held for full row groups (0.2-0.3 s of a 1.7 s 60-day
ingest with a core idle); a 1-day file has one file at a time and gains nothing."""
_QUEUED_WRITES = 4
"""Row groups waiting for the encoder. With one, the parser stopped whenever the encoder
was behind, leaving a core idle (0.5 s of 4.8 s on 2M nested lines)."""
_MAX_PENDING_ROWS = 4 * ROW_GROUP_ROWS  # rows held for full row groups, over all partitions
_MAX_PENDING_BYTES = 256 << 20
"""Bytes held for full row groups: records of 64 MiB pieces (a 1.5 GiB line) were all held
for one row group, and an ingest took 1.9 GB."""


@dataclass(frozen=True)
class FileReport:
    """What one source file gave. Offsets, size and hash are of the bytes as stored."""

    uri: str
    size: int
    sha256: str  # of the stored bytes [0, size): compressed bytes for .gz/.zst
    compression: Literal["none", "gzip", "zstd", "bzip2"]
    format: Kind
    start_offset: int  # where this ingest started reading (the resume offset, or 0)
    bytes_consumed: int  # stored bytes covered once this ingest is committed (== size)
    start_line: int
    lines_consumed: int  # lines read by this ingest, blank ones included
    records_read: int
    records_parsed: int
    records_failed: int
    restarted: bool  # a resume point was given but the file changed before it: read again
    continued: bool = False
    """Read again whole because its new lines continued the last record read (restarted)."""
    rewritten: bool = False
    """Read again whole because it no longer starts with the bytes read last time (rotated,
    truncated or rewritten; restarted)."""
    replaces_from: int | None = None
    """Rows of this file at ``_line`` >= this number are in the table already and are replaced
    by this ingest's (a last line read before it was finished, a rewritten file, a re-parse);
    None: the ingest only adds rows."""
    encoding: str = "utf-8"
    line_ending: Ending = "lf"
    parser: str | None = None  # the preset or "pattern" its text records were parsed with
    parsed_alike: tuple[str, ...] = ()
    """Other presets that parse its first records as well (``--format auto``:
    :func:`choose_preset`)."""
    records_with_time: int | None = None  # None: the table has no _event_time
    time_reasons: Mapping[str, int] = field(default_factory=dict)
    """Records without an event time, per reason (:mod:`ingest.logs.eventtime`)."""
    time_from: Mapping[str, int] = field(default_factory=dict)
    """Records whose event time a field other than the chosen one gave, per field."""
    directives: int = 0
    """W3C directive lines (``#Fields:``, ``#Date:``...) read: lines, but no records."""
    held_bytes: int = 0
    """Stored bytes at the end of the file not staged (``hold``): its last record, which may
    be unfinished; ``bytes_consumed + held_bytes == size``."""

    @property
    def next_line(self) -> int:
        return self.start_line + self.lines_consumed

    def resume_point(self) -> ResumePoint:
        """What to pass back in ``resume`` next time so only new records are read."""
        return (self.bytes_consumed, self.next_line, self.sha256)


@dataclass(frozen=True)
class DriftEvent:
    """A column the table does not have yet, or must widen, and where data first needed it."""

    column: tuple[str, ...]  # column names from the top; "[]" steps into list elements
    kind: Literal["added", "widened", "conflict"]
    old_type: pa.DataType | None
    new_type: pa.DataType
    source: str
    line: int | None  # None: not found (see ``detail``)

    @property
    def detail(self) -> str | None:
        """Why ``line`` is unknown (None when it is known)."""
        if self.line is not None:
            return None
        return (
            "line unknown: the chunk's reader typed a value Python's json reads otherwise, "
            "so no line is shown rather than a wrong one"
        )


@dataclass(frozen=True)
class StagedLogs:
    """Everything an ingest staged. ``staged.schema`` is the table's schema after the ingest,
    ``_event_date`` (the partition column) included; files do not contain it."""

    staged: Staged
    sources: tuple[FileReport, ...]
    drift: tuple[DriftEvent, ...]
    ingested_at: datetime
    time_field: str | None

    @property
    def schema(self) -> pa.Schema:
        return self.staged.schema

    @property
    def partition_by(self) -> tuple[str, ...]:
        return self.staged.partition_by

    @property
    def files(self) -> tuple[StagedFile, ...]:
        return self.staged.files

    @property
    def records_read(self) -> int:
        return sum(s.records_read for s in self.sources)

    @property
    def records_parsed(self) -> int:
        return sum(s.records_parsed for s in self.sources)

    @property
    def records_failed(self) -> int:
        return sum(s.records_failed for s in self.sources)


def stage_logs(
    paths: Sequence[str] | Sequence[SourceFile],
    *,
    staging_dir: str | os.PathLike[str],
    filesystem_for: FilesystemFor | None = None,
    fmt: Format = "auto",
    pattern: str | None = None,
    preset: str | None = None,
    multiline_start: str | None = None,
    time_field: str | Sequence[str] | None = None,
    time_format: str | Sequence[str] | None = None,
    year: int | None = None,
    earliest: str | datetime | None = None,
    latest: str | datetime | None = None,
    existing_schema: pa.Schema | None = None,
    resume: Mapping[str, ResumePoint] | None = None,
    progress: Progress | None = None,
    encoding: str | None = None,
    parsers: Mapping[str, Mapping[str, Any]] | None = None,
    reparse: frozenset[str] = frozenset(),
    hold: bool = False,
) -> StagedLogs:
    """Read log files and stage them as Parquet under ``staging_dir`` (see the module doc).
    ``paths``: as :func:`ingest.sources.expand_paths` takes them, or the files it gave.

    Raises SourceNotFound (a path matches nothing), SourceUnreadable (a file cannot be read,
    or its compression is truncated: nothing of the ingest should be committed),
    LogFormatError (bad pattern or options).

    ``encoding``: the files' text encoding when they have no byte-order mark (UTF-8 when
    None). ``parsers``: how each resumed file was read before (``format``, and for text
    ``pattern``/``preset``/``multiline_start``): kept, never guessed again from the middle of
    a file. ``reparse``: URIs read whole again, whose
    rows already in the table these replace (``FileReport.replaces_from``). ``hold``: the
    last record of a file that may be unfinished is not staged (``FileReport.held_bytes``).
    """
    text = _options(fmt, pattern, preset, multiline_start)
    codec = check_encoding(encoding)
    rules = time_rules(
        time_field=time_field, time_format=time_format, year=year, earliest=earliest, latest=latest
    )
    if existing_schema is not None and not isinstance(existing_schema, pa.Schema):
        existing_schema = pa.schema(existing_schema)  # e.g. deltalake's arro3 schema
    if existing_schema is not None and rules.fields and "_event_time" not in existing_schema.names:
        raise LogFormatError(
            f"The table has no _event_time column (it was created without a time field), so "
            f"--time-field '{rules.field_label}' cannot apply; ingest into a new table to have "
            "event times, or leave --time-field out."
        )
    sources = [p for p in paths if isinstance(p, SourceFile)]
    if len(sources) != len(paths):
        sources = expand_paths([str(p) for p in paths], filesystem_for=filesystem_for)
    with pages_kept(), _long_lived_objects_frozen():
        return _stage_sources(
            sources,
            Path(staging_dir),
            _Stage(
                Path(staging_dir),
                existing_schema,
                rules,
                text,
                codec,
                explicit=bool(pattern or preset),
                hold=hold,
            ),
            fmt=fmt,
            resume=resume,
            progress=progress,
            parsers=parsers,
            reparse=reparse,
            text=text,
        )


def _stage_sources(
    sources: Sequence[SourceFile],
    staging_dir: Path,
    stage: _Stage,
    *,
    fmt: Format,
    resume: Mapping[str, ResumePoint] | None,
    progress: Progress | None,
    parsers: Mapping[str, Mapping[str, Any]] | None,
    reparse: frozenset[str],
    text: TextFormat,
) -> StagedLogs:
    expect = getattr(progress, "expect", None)
    if expect is not None:
        starts = {uri: point[0] for uri, point in (resume or {}).items() if uri not in reparse}
        expect(len(sources), sum(max(src.size - starts.get(src.uri, 0), 0) for src in sources))
    try:
        for i, src in enumerate(sources):
            again = src.uri in reparse
            point = None if again else (resume or {}).get(src.uri)
            parser = (parsers or {}).get(src.uri) or {}
            stage.ingest_file(
                src,
                fmt,
                point,
                progress=progress,
                files_done=i,
                known_format=parser.get("format"),
                replace=again,
                text=_text_of(parser, text),
            )
            if progress:
                progress(i + 1, stage.records, stage.bytes)
        return stage.finish()
    except BaseException as e:
        stage.close()
        stage.discard()
        raise _staging_failed(e, staging_dir) from e
    finally:
        stage.close()


@contextlib.contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """The objects alive before the ingest (modules, the catalog's engine: about 130,000)
    are left out of the garbage collector's walks while it runs: the chunks' short-lived
    wrappers set off full collections that each walked all of them again (0.1-0.25
    CPU-seconds of a 1M-line ingest in ``gc_collect_main``)."""
    collection.resume()  # the command line's start-up is over: data work collects as usual
    if gc.get_freeze_count():  # frozen already (by the application, or resume): leave them
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _staging_failed(e: BaseException, staging_dir: object) -> BaseException:
    if isinstance(e, (pa.ArrowException, OSError)):
        # An input or a disk state we did not foresee: still one sentence, no traceback.
        return IngestError(f"Staging logs into '{staging_dir}' failed: {e}; nothing was staged.")
    return e


# -- staging files apart (on a cluster) ----------------------------------------------------


@dataclass(frozen=True)
class StageContext:
    """What staging a file takes from the files staged before it in the same ingest:
    :func:`stage_logs` carries it from file to file, :func:`stage_part` is given it. The
    types steer the drift ledger (a change is found relative to them), the time keys and
    ``has_time`` the event times."""

    types: Struct = Struct(())
    """The records' types so far in this ingest (not the table's)."""
    time_keys: tuple[str, ...] | None = None
    time_label: str | None = None
    has_time: bool = False
    has_raw_bytes: bool = False


@dataclass(frozen=True)
class PartFile:
    """A file :func:`stage_part` staged, and the schema it was written in."""

    path: str
    date: str | None
    type: Struct
    names: Names
    has_time: bool
    has_raw_bytes: bool
    reread: Reread
    records: int


@dataclass(frozen=True)
class StagedPart:
    """One source file staged on its own, from ``start``: what :func:`finish_parts` needs to
    make of several parts what :func:`stage_logs` makes of their files."""

    report: FileReport
    files: tuple[PartFile, ...]
    start: StageContext
    end: StageContext
    own: Struct
    """The types of this file's records alone."""
    history: tuple[tuple[tuple[str, ...], Type, str, int | None], ...]
    """``(column path, type, source, line)`` of each change, relative to ``start``."""
    used_keys: tuple[tuple[str, ...], ...]
    """The event-time keys its record batches were read with, each once, in order."""
    time_all: bool
    """Every batch, and the file's report, had ``_event_time``."""

    @property
    def rows(self) -> int:
        return sum(f.records for f in self.files)


def _options(
    fmt: str, pattern: str | None, preset: str | None, multiline_start: str | None
) -> TextFormat:
    """The text layout the options name, checked once before any file is read. A layout given
    with a format that is not text would be ignored without a word (``--format jsonl --preset
    syslog`` read JSON lines), so it is refused. Raises LogFormatError."""
    if fmt not in _FORMATS:
        raise LogFormatError(f"Unknown log format '{fmt}'; use auto, jsonl, text, logfmt or w3c.")
    if fmt not in ("auto", "text") and (pattern or preset or multiline_start):
        given = "--pattern" if pattern else "--preset" if preset else "--multiline-start"
        raise LogFormatError(
            f"{given} describes text lines, but --format {fmt} reads no text layout: leave out "
            f"{given}, or use --format text (or auto) to read the files with it."
        )
    return text_format(pattern=pattern, preset=preset, multiline_start=multiline_start)


def stage_part(
    uri: str,
    *,
    staging_dir: str | os.PathLike[str],
    ingested_at: datetime,
    start: StageContext | None = None,
    filesystem_for: FilesystemFor | None = None,
    fmt: Format = "auto",
    pattern: str | None = None,
    preset: str | None = None,
    multiline_start: str | None = None,
    time_field: str | Sequence[str] | None = None,
    time_format: str | Sequence[str] | None = None,
    year: int | None = None,
    earliest: str | datetime | None = None,
    latest: str | datetime | None = None,
    existing_schema: pa.Schema | None = None,
    resume: ResumePoint | None = None,
    encoding: str | None = None,
    parser: Mapping[str, Any] | None = None,
    reparse: bool = False,
    hold: bool = False,
) -> StagedPart:
    """Stage the one file ``uri`` under ``staging_dir`` as :func:`stage_logs` stages it
    after files that left ``start`` (None: as the first file). The options mean what they
    mean there (``resume``, ``parser``, ``reparse``: this file's entries); ``ingested_at``
    is the ingest's one time, the same on every part.

    Raises what :func:`stage_logs` raises; nothing stays staged then.
    """
    text = _options(fmt, pattern, preset, multiline_start)
    codec = check_encoding(encoding)
    rules = time_rules(
        time_field=time_field, time_format=time_format, year=year, earliest=earliest, latest=latest
    )
    existing_schema = _as_schema(existing_schema)
    sources = expand_paths([uri], filesystem_for=filesystem_for)
    stage = _Stage(
        Path(staging_dir),
        existing_schema,
        rules,
        text,
        codec,
        explicit=bool(pattern or preset),
        ingested_at=ingested_at,
        hold=hold,
    )
    try:
        if start is not None:
            _enter(stage, start)
        first = _context_of(stage)
        for src in sources:
            stage.ingest_file(
                src,
                fmt,
                None if reparse else resume,
                known_format=(parser or {}).get("format"),
                replace=reparse,
                text=_text_of(parser or {}, text),
            )
        stage._close_writers()
        stage._wait()
        history = tuple(
            (path, t, where, line)
            for path, steps in stage.history.items()
            for t, where, line in steps
        )
        return StagedPart(
            report=stage.reports[0],
            files=tuple(
                PartFile(
                    w.path,
                    w.date,
                    w.type,
                    w.names,
                    w.has_time,
                    w.has_raw_bytes,
                    w.reread,
                    w.records,
                )
                for w in stage.written
            ),
            start=first,
            end=_context_of(stage),
            own=stage.own,
            history=history,
            used_keys=tuple(stage.used_keys),
            time_all=stage.time_all and stage.has_time,
        )
    except BaseException as e:
        stage.close()
        stage.discard()
        raise _staging_failed(e, staging_dir) from e
    finally:
        stage.close()


def reconcile_parts(
    parts: Sequence[StagedPart], existing_schema: pa.Schema | None
) -> tuple[list[StageContext], list[int]]:
    """The context each part starts from in :func:`stage_logs` of the parts' files in this
    order (the first part's own start, then each one's end in turn), and the indexes of the
    parts staged from another context where it changes what they staged: stage those again
    from the context given here, and reconcile again (each round settles at least the
    first of them, whose context is then exact).

    A part staged from fewer types than its files' predecessors left is still right when
    no column it changes had another type in them: a file that only repeats the types
    before it changes nothing (its own history is dropped), one that adds columns adds
    them at the same lines. A file whose event-time keys or ``has_time`` differ is right
    only when every one of its batches was read with the keys and time it would have had.
    """
    if not parts:
        return [], []
    existing = _existing_type(_as_schema(existing_schema))[1]
    contexts: list[StageContext] = []
    redo: list[int] = []
    context = parts[0].start
    for index, part in enumerate(parts):
        contexts.append(context)
        if not _fits(part, context, existing):
            redo.append(index)
        context = _after(context, part)
    return contexts, redo


def finish_parts(
    parts: Sequence[StagedPart],
    *,
    staging_dir: str | os.PathLike[str],
    ingested_at: datetime,
    existing_schema: pa.Schema | None = None,
    time_field: str | Sequence[str] | None = None,
    time_format: str | Sequence[str] | None = None,
    year: int | None = None,
    earliest: str | datetime | None = None,
    latest: str | datetime | None = None,
) -> StagedLogs:
    """What :func:`stage_logs` returns for the parts' files in this order: the parts (each
    staged from the context :func:`reconcile_parts` gives it, their files' ``path`` on local
    disk) joined, the files written in an older schema rewritten in the final one, the
    drift found from the parts' histories.

    Raises:
        ValueError: a part was staged from a context that changes it (a caller's bug).
    """
    existing_schema = _as_schema(existing_schema)
    contexts, redo = reconcile_parts(parts, existing_schema)
    if redo:
        raise ValueError(f"parts {redo} were staged from another context; stage them again")
    rules = time_rules(
        time_field=time_field, time_format=time_format, year=year, earliest=earliest, latest=latest
    )
    stage = _Stage(
        Path(staging_dir),
        existing_schema,
        rules,
        text_format(pattern=None, preset=None, multiline_start=None),
        ingested_at=ingested_at,
    )
    try:
        if parts:
            _enter(stage, _after(contexts[-1], parts[-1]))
        for part, context in zip(parts, contexts, strict=True):
            changed = _part_changes(part, context, stage.existing_type)
            for path, t, where, line in part.history:
                if path in changed:
                    stage.history.setdefault(path, []).append((t, where, line))
            stage.written.extend(
                _Written(
                    f.path,
                    f.date,
                    f.type,
                    f.names,
                    f.has_time,
                    records=f.records,
                    reread=f.reread,
                    has_raw_bytes=f.has_raw_bytes,
                )
                for f in part.files
            )
            stage.reports.append(part.report)
        return stage.finish()
    except BaseException as e:
        raise _staging_failed(e, staging_dir) from e
    finally:
        stage.close()


def after_parts(parts: Sequence[StagedPart], contexts: Sequence[StageContext]) -> StageContext:
    """The context the ingest ends in: after the last part, from the contexts
    :func:`reconcile_parts` gave (when it asked to stage none again)."""
    if not parts:
        return StageContext()
    return _after(contexts[-1], parts[-1])


def conform_part(
    part: StagedPart,
    *,
    final: StageContext,
    staging_dir: str | os.PathLike[str],
    existing_schema: pa.Schema | None = None,
    fetch: Callable[[PartFile, Path], str] | None = None,
) -> StagedPart:
    """``part`` with each file written in an older schema than the one the ingest ends in
    (``final``, from :func:`after_parts`) rewritten in it under ``staging_dir``, as
    :func:`finish_parts` would rewrite it (then it has nothing left to do). ``fetch(file,
    folder)``: a local copy of a file kept elsewhere (the warehouse), called only for the
    files to rewrite; without it the paths are local. A part with nothing to rewrite is
    returned as it is."""
    existing_schema = _as_schema(existing_schema)
    if not conform_needed(part, final=final, existing_schema=existing_schema):
        return part
    stage = _Stage(
        Path(staging_dir),
        existing_schema,
        time_rules(time_field=None, time_format=None, year=None, earliest=None, latest=None),
        text_format(pattern=None, preset=None, multiline_start=None),
    )
    try:
        _enter(stage, final)
        schema = stage._current_schema()
        files = []
        for f in part.files:
            if not _stale(f, final, existing_schema):
                files.append(f)
                continue
            path = fetch(f, stage.dir) if fetch is not None else f.path
            w = _Written(
                path,
                f.date,
                f.type,
                f.names,
                f.has_time,
                records=f.records,
                reread=f.reread,
                has_raw_bytes=f.has_raw_bytes,
            )
            stage._rewrite(w, schema)
            files.append(
                PartFile(
                    path, f.date, w.type, w.names, w.has_time, w.has_raw_bytes, f.reread, f.records
                )
            )
        return replace(part, files=tuple(files))
    except BaseException as e:
        raise _staging_failed(e, staging_dir) from e
    finally:
        stage.close()


def conform_needed(
    part: StagedPart, *, final: StageContext, existing_schema: pa.Schema | None = None
) -> bool:
    """Whether :func:`conform_part` has a file of ``part`` to rewrite."""
    existing_schema = _as_schema(existing_schema)
    return any(_stale(f, final, existing_schema) for f in part.files)


def _stale(file: PartFile, final: StageContext, existing: pa.Schema | None) -> bool:
    """Whether ``file`` is in an older schema than the one the ingest ends in (the names
    follow from the type)."""
    return (file.type, file.has_time, file.has_raw_bytes) != (
        _stored_type(_existing_type(existing)[1], final.types),
        final.has_time,
        final.has_raw_bytes,
    )


def _stored_type(existing: Struct, running: Struct) -> Struct:
    """The data columns' types the table ends with: what it had, widened by the records."""
    final = inf.storable(inf.merge(existing, running))
    return final if isinstance(final, Struct) else Struct(())


def _as_schema(existing: pa.Schema | None) -> pa.Schema | None:
    if existing is not None and not isinstance(existing, pa.Schema):
        return pa.schema(existing)  # e.g. deltalake's arro3 schema
    return existing


def _existing_type(existing: pa.Schema | None) -> tuple[pa.StructType, Struct]:
    """The table's data columns (reserved ones left out), as Arrow and as our type."""
    struct = pa.struct([f for f in (existing or []) if f.name not in inf.RESERVED_COLUMNS])
    ours = inf.from_arrow(struct)
    assert isinstance(ours, Struct)
    return struct, ours


def _context_of(stage: _Stage) -> StageContext:
    return StageContext(
        stage.running, stage.time_keys, stage.time_label, stage.has_time, stage.has_raw_bytes
    )


def _enter(stage: _Stage, context: StageContext) -> None:
    stage.running = context.types
    stage.time_keys = context.time_keys
    stage.time_label = context.time_label
    stage.has_time = context.has_time
    stage.has_raw_bytes = context.has_raw_bytes


def _after(context: StageContext, part: StagedPart) -> StageContext:
    """The context after ``part`` when it started from ``context`` (exact when it fits it)."""
    types = inf.merge(context.types, part.own)
    assert isinstance(types, Struct)
    return StageContext(
        types,
        context.time_keys if context.time_keys is not None else part.end.time_keys,
        context.time_label or part.end.time_label,
        context.has_time or part.end.has_time,
        context.has_raw_bytes or part.end.has_raw_bytes,
    )


def _part_changes(
    part: StagedPart, context: StageContext, existing: Struct
) -> dict[tuple[str, ...], tuple[Type | None, Type]]:
    """The column paths whose type ``part`` changes after ``context`` (as ``_record_history``
    finds them: relative to what the table and the files before can hold)."""
    base = inf.merge(existing, context.types)
    return _changed_paths(base, inf.merge(base, part.own))


def _fits(part: StagedPart, context: StageContext, existing: Struct) -> bool:
    """Whether ``part`` staged from ``part.start`` is what staging it from ``context`` gives."""
    start = part.start
    if start == context:
        return True
    had = inf.merge(existing, start.types)
    base = inf.merge(existing, context.types)
    for path in _part_changes(part, context, existing):
        if _type_at(had, path) != _type_at(base, path):
            return False  # its first lines of a change were found against other types
    if start.time_keys != context.time_keys and part.used_keys != (context.time_keys,):
        return False
    return start.has_time == context.has_time or (not start.has_time and part.time_all)


# ---------------------------------------------------------------------------------------


@dataclass
class _Batch:
    """Records of one chunk, parsed: data columns keyed by JSON key / group name."""

    table: pa.Table
    type: Struct
    raw: pa.StringArray
    lines: Sequence[int]  # a range when no line was skipped: _line is then built in C++
    errors: list[str | None] | None
    is_json: bool
    values: list[object] | None = None
    raw_bytes: list[bytes | None] | None = None  # original bytes where the text is not exact
    texts: dict[str, pa.Array] | None = None  # text records: each group's text
    text: TextFormat | None = None  # text records: the format they were parsed with
    notes: list[str | None] | None = None
    """``_error`` of records parsed with a remark (not failed): :func:`part_notes`."""
    time_notes: list[str | None] | None = None
    """``_error`` of each preset time read as different dates (:func:`parse_text`)."""
    json: pa.StringArray | None = None
    """JSON records whose ``_raw`` is no JSON text (logfmt, W3C): the JSON text of each."""
    time_fields: tuple[str, ...] | None = None
    """Keys the format itself gives the event time in (W3C: ``date`` and ``time``)."""
    reread: Reread = "jsonl"
    """How the records' values are had again when a file written before must take a wider
    type (:data:`Reread`)."""

    @property
    def json_texts(self) -> pa.StringArray:
        """JSON records: the JSON text each was parsed from."""
        return self.json if self.json is not None else self.raw


@dataclass
class _Written:
    path: str
    date: str | None
    type: Struct
    names: Names
    has_time: bool
    records: int = 0
    reread: Reread | None = None
    has_raw_bytes: bool = False
    writer: BoundedWriter | None = None
    """The writer of the file as it stands (its footer, once closed, is the file's)."""


@dataclass
class _Pending:
    """Rows of one partition not yet in a row group, and the schema they were built with."""

    schema: _Schema
    tables: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    reread: Reread | None = None
    last_batch: int = 0


@dataclass
class _Schema:
    type: Struct
    names: Names
    has_time: bool
    has_raw_bytes: bool = False
    arrow: pa.Schema = field(init=False)

    def __post_init__(self) -> None:
        data = [
            inf.arrow_field(self.names.names.get(k, k), t, self.names.child(k))
            for k, t in self.type.fields
        ]
        meta = [
            pa.field("_source", pa.string()),
            pa.field("_line", pa.int64()),
            pa.field("_ingested_at", EVENT_TIME),
            pa.field("_raw", pa.string()),
            pa.field("_error", pa.string()),
        ]
        if self.has_time:
            meta.append(pa.field("_event_time", EVENT_TIME))
        if self.has_raw_bytes:
            meta.append(pa.field(RAW_BYTES, pa.binary()))
        self.arrow = pa.schema(data + meta)

    def key(self) -> tuple[Struct, Names, bool, bool]:
        return (self.type, self.names, self.has_time, self.has_raw_bytes)


class _Stage:
    def __init__(
        self,
        staging_dir: Path,
        existing: pa.Schema | None,
        rules: TimeRules,
        text: TextFormat,
        encoding: str = "utf-8",
        *,
        explicit: bool = True,
        ingested_at: datetime | None = None,
        hold: bool = False,
    ) -> None:
        self.encoding = encoding
        self.hold = hold
        self.dir = staging_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ingested_at = ingested_at or datetime.now(UTC).replace(tzinfo=UTC)
        self.text = text
        self.explicit_text = explicit  # --pattern or --preset given: no preset is guessed
        self.file_text = text
        self.rules = rules
        self.year_base: datetime | None = None
        self.existing_arrow = existing
        self.existing_struct, self.existing_type = _existing_type(existing)
        # A table's partitioning cannot change: a table without _event_time stays without it.
        self.fixed_time = existing is not None
        # JSON keys / group names of the event time (joined by a space when several).
        self.time_keys: tuple[str, ...] | None = rules.fields or None
        self.time_label: str | None = rules.field_label
        self.has_time = (
            "_event_time" in existing.names if existing is not None else bool(rules.fields)
        )
        self.has_raw_bytes = existing is not None and RAW_BYTES in existing.names
        self.file_times: Counter[str] = Counter()
        self.file_time_from: Counter[str] = Counter()
        self.running: Struct = Struct(())
        self.schema: _Schema | None = None
        self.history: dict[tuple[str, ...], list[tuple[Type, str, int | None]]] = {}
        self.written: list[_Written] = []
        # The open file of each partition, and the encoder thread it was given.
        self.writers: dict[str | None, tuple[BoundedWriter, _Written, int]] = {}
        self._pending: dict[str | None, _Pending] = {}
        self._next_lane = 0
        # Encodings chosen once per schema from a full sample, not again for every day's file:
        # judging 16,384 rows of every column took about 12 ms per file, 42% of the main
        # thread's time on a 60-day ingest.
        self._options: dict[pa.Schema, dict[str, object]] = {}
        self.times = EventTimeParser(rules, now=self.ingested_at)
        self.docker = DockerPieces()
        self.w3c = W3cFields()
        self.reports: list[FileReport] = []
        self.records = 0
        self.bytes = 0
        self._pools = [_WriterThread(f"lake-log-writer-{i}") for i in range(_WRITER_THREADS)]
        self._closed = False
        self._pending_rows = 0
        self._pending_bytes = 0
        self._batches = 0
        self._hint_for: Struct | None = None
        self._hint_cache = pa.schema([])
        # What staging a file apart needs to say about it (stage_part): its own types, the
        # time keys its batches used, whether every batch had _event_time.
        self.own: Struct = Struct(())
        self.used_keys: list[tuple[str, ...]] = []
        self.time_all = True

    # -- per file ---------------------------------------------------------------------

    def ingest_file(
        self,
        src: SourceFile,
        fmt: Format,
        point: ResumePoint | None,
        *,
        progress: Progress | None = None,
        files_done: int = 0,
        known_format: Kind | None = None,
        replace: bool = False,
        text: TextFormat | None = None,
    ) -> None:
        """Stage one file. ``point``: where the last ingest of it stopped; ``known_format``:
        the format its rows were read with then (a resumed file keeps it), ``text`` its text
        parser; ``replace``: the file's rows already in the table are replaced by these (a
        re-parse)."""
        own, self.text = self.text, text or self.text
        try:
            self._ingest_file(src, fmt, point, progress, files_done, known_format, replace)
        finally:
            self.text = own

    def _ingest_file(
        self,
        src: SourceFile,
        fmt: Format,
        point: ResumePoint | None,
        progress: Progress | None,
        files_done: int,
        known_format: Kind | None,
        replace: bool,
    ) -> None:
        offset, line, sha = point if point else (0, 1, None)
        # A small file is read, parsed and encoded on this thread alone: starting threads and
        # handing chunks between them cost more than the overlap gave back (several ms of a
        # 100-line append, more under load).
        inline = src.size <= INLINE_SOURCE_BYTES
        for pool in self._pools:
            pool.inline = inline
        reader = ContentReader(src, resume_offset=offset, resume_sha256=sha)
        reader.check_resume()
        rewritten = reader.restarted
        replaces_from: int | None = 1 if replace else None
        codec, ending = self.encoding, "lf"
        if reader.start_offset and reader.start_offset < src.size:
            # The file grew. Did the last ingest end inside a line (one still being written)?
            codec, _ = sniff_encoding(reader.prefix_head, self.encoding)
            head = reader.prefix_head
            if reader.prefix_kind == "none" and len(head) == reader.start_offset:
                # All read so far: a \r ending it decided nothing (its \n may have been
                # unwritten), the new bytes do. Else a file of lone-\r lines whose first
                # ingest saw one line was read on as one line.
                head += reader.peek()
            ending = detect_ending(head[:65536])
            tail = reader.prefix_tails[1 if ending == "cr" else 0]
            if wide(codec):
                reader.restart()  # UTF-16/32: read again whole (rows replaced)
            elif tail:
                if reader.prefix_kind == "none":
                    # Read that line again whole, from where it starts, and replace its row.
                    reader.replay(tail)
                    line -= 1
                    replaces_from = line
                else:
                    reader.restart()  # a compressed stream cannot be entered mid-member
            elif tail is None:
                reader.restart()
        continued = False
        resumed_text = fmt == "text" or (fmt == "auto" and known_format == "text")
        if (
            reader.start_offset
            and not reader.restarted
            and resumed_text
            and self.text.multiline_start
        ):
            replayed = reader.prefix_tails[1 if ending == "cr" else 0] if replaces_from else b""
            if not self._starts_record(replayed + reader.peek(), codec, ending):
                # The new lines continue the last record read (a stack trace written after
                # the ingest): read again whole so that record is whole, its rows replaced.
                reader.restart()
                continued = True
        resumed_json = fmt == "jsonl" or (fmt == "auto" and known_format == "jsonl")
        if (
            reader.start_offset
            and not reader.restarted
            and (fmt == "w3c" or (fmt == "auto" and known_format == "w3c"))
        ):
            # Its new lines are named by the #Fields in force where the last ingest stopped,
            # which may be anywhere above: read again whole, its rows replaced.
            reader.restart()
        if (
            reader.start_offset
            and not reader.restarted
            and (resumed_text or resumed_json)
            and self._ends_partial(
                reader.prefix_lines[1 if ending == "cr" else 0], codec, is_json=resumed_json
            )
        ):
            # The last whole line read was partial (a container log's P line, a piece of a
            # line Docker split): the record goes on in the new lines; read again whole so
            # it is one, its rows replaced.
            reader.restart()
            continued = True
        if reader.restarted:
            line = 1
            replaces_from = 1 if point else replaces_from
        blocks: Iterator[bytes] = reader.blocks()
        if reader.start_offset == 0:
            # A fresh read: the encoding (byte-order mark) and the line endings are found
            # in the file's first bytes.
            first = next(blocks, b"")
            codec, bom = sniff_encoding(first, self.encoding)
            blocks = to_utf8(
                itertools.chain([first], blocks),
                codec,
                # A UTF-8 mark on UTF-8 is cut with the lines (iter_chunks); others here.
                skip=0 if codec == DEFAULT_ENCODING else bom,
                where=src.uri,
            )
            head = next(blocks, b"")
            ending = detect_ending(head[:65536])
            blocks = itertools.chain([head], blocks)
        else:
            blocks = to_utf8(blocks, codec, where=src.uri)
        if ending == "cr":
            blocks = cr_as_lf(blocks)
        torn: list[bytes] = []
        if self.hold:
            # An uncompressed file in an encoding whose line feed is one byte can be
            # resumed inside: its torn last line waits there for its end.
            blocks = _without_torn_tail(blocks, torn, lambda: _holdable(reader, codec))
        # Reading, hashing, decompressing and cutting lines run on a thread of their own
        # while this one parses and the writer thread encodes Parquet.
        chunks = _Prefetch(
            _with_strings(iter_chunks(blocks, first_line=line), codec),
            2,
            label=src.uri,
            inline=inline,
        )
        counts = [0, 0, 0]  # records read, records failed, line endings
        unterminated = False  # the content ends with a line that has no ending
        bad_lines: dict[int, bytes] = {}
        kind: Kind = "text" if fmt == "auto" else fmt
        if fmt == "auto" and known_format is not None and replaces_from != 1:
            kind = known_format  # never guessed again from the middle of a file
        assembler: RecordAssembler | None = None
        self.docker = DockerPieces()
        self.w3c = W3cFields()
        modified = _modified(src)
        self.year_base = modified or self.ingested_at
        self.times.start_file()
        self.file_text = self.text
        self.file_times = Counter()
        self.file_time_from = Counter()
        parsed: _Prefetch | None = None
        try:
            first = next(chunks, None)
            if first is not None:
                chunk, lines = first[0], first[1]
                if fmt == "auto" and (known_format is None or replaces_from == 1):
                    kind = "jsonl" if looks_like_json(_head(chunk)) else "text"
                    if kind == "text" and not self.explicit_text:
                        head = lines.slice(0, 4 * AUTO_SAMPLE_LINES).to_pylist()
                        sample = [x for x in head if x is not None]
                        if looks_like_w3c(sample):
                            kind = "w3c"
                        elif looks_like_logfmt(sample[:AUTO_SAMPLE_LINES]):
                            kind = "logfmt"
                        else:
                            chosen = choose_preset(
                                sample, where=src.uri, multiline_start=self.text.start_given
                            )
                            self.file_text = chosen or self.text
                assembler = (
                    RecordAssembler(None)
                    if kind == "jsonl"
                    else RecordAssembler(self.file_text.multiline_start, self.file_text.partials)
                )
            items: Iterator[tuple[_ChunkLines, _Batch | None]]
            if first is None:
                items = iter(())
            elif kind == "jsonl":
                # JSON chunks are parsed on a thread of their own, one chunk ahead, while
                # this one conforms, splits by day and queues the previous chunk's rows:
                # the parse (pyarrow's reader, then the instant and float checks) was half
                # of this thread's time, with a core idle meanwhile.
                parsed = _Prefetch(
                    ((c, self._json_batch(*c)) for c in itertools.chain([first], chunks)),
                    1,
                    label=src.uri,
                    translate=False,
                    inline=inline,
                )
                items = parsed
            else:
                items = ((c, None) for c in itertools.chain([first], chunks))
            for (chunk, lines, invalid, raw), parsed_batch in items:
                counts[2] += chunk.newlines
                unterminated = chunk.n_lines > chunk.newlines
                assert assembler is not None
                if kind == "jsonl":
                    batch = parsed_batch
                elif kind in ("logfmt", "w3c"):
                    batch = self._keyvalue_batch(chunk, lines, invalid, raw, w3c=kind == "w3c")
                else:
                    batch = self._text_batch(
                        chunk, lines, invalid, raw, assembler, bad_lines, codec
                    )
                if batch is not None:
                    self._add(batch, src.uri, counts)
                if progress:
                    progress(
                        files_done, self.records, self.bytes + reader.position - reader.start_offset
                    )
                for pool in self._pools:
                    if pool.error:
                        raise pool.error
            # Held back (``hold``): the first line of the last record, when it may go on.
            holding = self.hold and _holdable(reader, codec)
            held = [line + counts[2]] if torn else []
            if kind == "jsonl":
                if holding and self.docker.held_from is not None:
                    held.append(self.docker.held_from)
                else:
                    rest = self.docker.flush()
                    batch = self._joined_batch(rest, {}, {}) if rest is not None else None
                    if batch is not None:
                        self._add(batch, src.uri, counts)
            if kind == "text" and assembler is not None:
                unfinished = assembler.unfinished() if holding else None
                if unfinished is not None:
                    held.append(unfinished)
                else:
                    batch = self._text_records(*assembler.flush(), bad_lines, codec)
                    if batch is not None:
                        self._add(batch, src.uri, counts)
        finally:
            if parsed is not None:
                parsed.close()
            chunks.close()
        # Before the file counts as read: a refusal leaves nothing of the ingest staged.
        self.times.check_year(src.uri, modified)
        self.bytes += src.size - reader.start_offset
        end, sha256, lines = src.size, reader.sha256, counts[2] + int(unterminated)
        if held:
            first_held = min(held)
            # The line feeds from the held record's first line to the end, and the one
            # before it: the record starts right after that one.
            newline = b"\r" if ending == "cr" else b"\n"
            end = reader.after_newline_from_end(
                line + counts[2] - first_held + 1, newline, reader.start_offset
            )
            sha256, lines = reader.sha256_before(end), first_held - line
        self.reports.append(
            FileReport(
                uri=src.uri,
                size=src.size,
                sha256=sha256,
                compression=reader.compression,
                format=kind,
                start_offset=reader.start_offset,
                bytes_consumed=end,
                start_line=line,
                lines_consumed=lines,
                records_read=counts[0],
                records_parsed=counts[0] - counts[1],
                records_failed=counts[1],
                restarted=reader.restarted,
                continued=continued,
                rewritten=rewritten,
                replaces_from=replaces_from,
                encoding=codec,
                line_ending=ending,  # type: ignore[arg-type]
                parser=_parser_name(self.file_text) if kind == "text" else None,
                parsed_alike=self.file_text.alike if kind == "text" else (),
                records_with_time=(counts[0] - sum(self.file_times.values()))
                if self.has_time
                else None,
                time_reasons=dict(self.file_times) if self.has_time else {},
                time_from=dict(self.file_time_from) if self.has_time else {},
                held_bytes=src.size - end,
                directives=self.w3c.directives,
            )
        )

    def _starts_record(self, content: bytes, codec: str, ending: str) -> bool:
        """Whether the text ``content`` opens with a line that starts a record under this
        file's multi-line start (always, without one; nothing new is no continuation)."""
        start = self.text.multiline_start
        if not start or not content:
            return True
        first = content.split(b"\r" if ending == "cr" else b"\n", 1)[0].removesuffix(b"\r")
        text = first.decode(codec, errors="replace")
        return RecordAssembler(start).starts(pa.array([text], pa.string()))[0].as_py()

    def _ends_partial(self, line: bytes | None, codec: str, *, is_json: bool) -> bool:
        """Whether ``line`` (the last whole line an ingest read; None: too long to keep) is
        a partial line that the next one goes on from: a text preset's (:class:`Partials`),
        or a JSON file's piece of a line Docker split (:func:`docker_piece`)."""
        split = self.text.partials
        if not is_json and split is None:
            return False
        if line is None:
            return True
        text = line.removesuffix(b"\r").decode(codec, errors="replace")
        if is_json:
            return docker_piece(text)
        assert split is not None
        return re.search(split.above, text) is not None

    def _json_batch(
        self,
        chunk: LineChunk,
        lines: pa.StringArray,
        invalid: dict[int, str],
        raw: dict[int, bytes],
    ) -> _Batch | None:
        numbers = range(chunk.first_line, chunk.first_line + chunk.n_lines)
        if chunk.piece:
            errors: list[str | None] = [LONG_LINE_ERROR] * len(lines)
            return _Batch(
                pa.table({}),
                Struct(()),
                lines,
                numbers,
                errors,
                True,
                raw_bytes=_listed(raw, len(lines)),
            )
        # A line starting with "{" is not blank: most JSON chunks skip the blank scan.
        starts = pc.starts_with(lines, "{")
        blank = None if pc.all(starts).as_py() else blank_mask(lines)
        if blank is not None and pc.any(blank).as_py():
            keep = pc.invert(blank)
            kept = pc.indices_nonzero(keep).to_pylist()
            lines = lines.filter(keep)
            index = {old: new for new, old in enumerate(kept)}
            invalid = {index[i]: r for i, r in invalid.items() if i in index}
            raw = {index[i]: r for i, r in raw.items() if i in index}
            line_numbers: Sequence[int] = [chunk.first_line + i for i in kept]
        else:
            line_numbers = numbers
        if not len(lines):
            return None
        joined = self.docker.feed(lines, line_numbers, invalid)
        if joined is not None:
            return self._joined_batch(joined, invalid, raw)
        parsed = parse_records(lines, chunk.text, invalid, hint=self._hint())
        return _Batch(
            parsed.table,
            parsed.type,
            lines,
            line_numbers,
            parsed.errors,
            True,
            parsed.values,
            _listed(raw, len(lines)),
        )

    def _keyvalue_batch(
        self,
        chunk: LineChunk,
        lines: pa.StringArray,
        invalid: dict[int, str],
        raw: dict[int, bytes],
        *,
        w3c: bool,
    ) -> _Batch | None:
        """A batch of logfmt or W3C records (:mod:`ingest.logs.keyvalue`): each line's JSON
        object text read by the JSON reader; ``_raw`` the line as written. A W3C directive is
        no record (counted in the report); a blank line neither. A line that fails is the
        empty object (its columns null) with its reason."""
        numbers: list[int] = []
        kept: list[str] = []
        texts: list[str] = []
        errors: list[str | None] = []
        kept_raw: list[bytes | None] = []
        ready = logfmt_json_many(lines) if not w3c and not chunk.piece else None
        for i, line in enumerate(lines.to_pylist()):
            if line is None or not line.strip():
                continue
            if chunk.piece:
                text, err = None, LONG_LINE_ERROR
            elif w3c and self.w3c.directive(line):
                continue
            elif i in invalid:
                text, err = None, invalid[i]
            elif ready is not None and ready[i] is not None:
                text, err = ready[i], None
            else:
                text, err = self.w3c.entry_json(line) if w3c else logfmt_json(line)
            numbers.append(chunk.first_line + i)
            kept.append(line)
            texts.append(text or "{}")
            errors.append(err)
            kept_raw.append(raw.get(i))
        if not kept:
            return None
        json_texts = array_of(texts, pa.string())
        parsed = parse_records(
            json_texts,
            "\n".join(texts).encode("utf-8", "surrogateescape"),
            hint=self._hint(),
        )
        combined = _combine(errors, parsed.errors, len(texts))
        return _Batch(
            parsed.table,
            parsed.type,
            array_of(kept, pa.string()),
            numbers,
            combined if combined and any(e is not None for e in combined) else None,
            True,
            parsed.values,
            kept_raw if raw else None,
            json=json_texts,
            time_fields=(W3C_DATE, W3C_TIME) if w3c else None,
            reread="logfmt" if not w3c else "typed",
        )

    def _joined_batch(
        self, joined: Joined, invalid: dict[int, str], raw: dict[int, bytes]
    ) -> _Batch | None:
        """A JSON batch of records some of which are pieces Docker split, joined
        (:class:`DockerPieces`): parsed from their joined text, ``_raw`` as written."""
        if not joined.texts:
            return None
        invalid = {j: invalid[f] for j, f in enumerate(joined.firsts) if f in invalid}
        raw = {j: raw[f] for j, f in enumerate(joined.firsts) if f in raw}
        texts = array_of(joined.texts, pa.string())
        parsed = parse_records(
            texts,
            "\n".join(joined.texts).encode("utf-8", "surrogateescape"),
            invalid,
            hint=self._hint(),
        )
        return _Batch(
            parsed.table,
            parsed.type,
            pa.array(joined.raws, pa.string()),
            joined.numbers,
            parsed.errors,
            True,
            parsed.values,
            _listed(raw, len(texts)),
            notes=joined.notes if any(joined.notes) else None,
        )

    def _hint(self) -> pa.Schema:
        if self._hint_for is not self.running:
            self._hint_cache = reader_hint(self.running)
            self._hint_for = self.running
        return self._hint_cache

    def _text_batch(
        self,
        chunk: LineChunk,
        lines: pa.StringArray,
        invalid: dict[int, str],
        raw: dict[int, bytes],
        assembler: RecordAssembler,
        bad_lines: dict[int, bytes],
        codec: str,
    ) -> _Batch | None:
        numbers = list(range(chunk.first_line, chunk.first_line + chunk.n_lines))
        if chunk.piece:
            table, _ = parse_text(lines, self.file_text, times=self.times, year_base=self.year_base)
            return _Batch(
                table,
                self.file_text.type,
                lines,
                numbers,
                [LONG_LINE_ERROR] * len(lines),
                False,
                raw_bytes=_listed(raw, len(lines)),
                text=self.file_text,
            )
        if codec == "utf-8" and self.file_text.partials is not None and len(raw) > 1:
            lines = mend_split_characters(lines, raw, self.file_text)
        for i, data in raw.items():
            bad_lines[numbers[i]] = data
        return self._text_records(
            *assembler.feed(lines, numbers, blank_mask(lines)), bad_lines, codec
        )

    def _text_records(
        self,
        records: pa.StringArray,
        firsts: list[int],
        errors: list[str | None] | None,
        bad_lines: dict[int, bytes],
        codec: str,
    ) -> _Batch | None:
        if not len(records):
            return None
        texts: dict[str, pa.Array] = {}
        time_notes: list[str | None] = []
        table, parse_errors = parse_text(
            records,
            self.file_text,
            times=self.times,
            year_base=self.year_base,
            texts=texts,
            time_notes=time_notes,
        )
        errs = _combine(errors, parse_errors, len(records))
        raw_bytes: list[bytes | None] | None = None
        if bad_lines:
            errs = errs or [None] * len(records)
            raw_bytes = [None] * len(records)
            bad = sorted(bad_lines)
            for i, first in enumerate(firsts):
                # A record's lines are consecutive; the last one's end is its own line count.
                nxt = (
                    firsts[i + 1]
                    if i + 1 < len(firsts)
                    else first + records[i].as_py().count("\n") + 1
                )
                j = bisect.bisect_left(bad, first)
                if j < len(bad) and bad[j] < max(nxt, first + 1):
                    line = bad[j]
                    errs[i] = (
                        f"{'invalid UTF-8' if codec == 'utf-8' else f'not valid {codec} text'} "
                        f"in line {line}; the original bytes are in {RAW_BYTES}"
                    )
                    raw_bytes[i] = _record_bytes(records[i].as_py(), first, bad_lines, codec)
            for line in bad[: bisect.bisect_left(bad, firsts[-1])]:
                del bad_lines[line]
        return _Batch(
            table,
            self.file_text.type,
            records,
            firsts,
            errs,
            False,
            raw_bytes=raw_bytes,
            texts=texts,
            text=self.file_text,
            notes=part_notes(self.file_text, texts),
            time_notes=time_notes or None,
        )

    # -- per batch --------------------------------------------------------------------

    def _add(self, batch: _Batch, uri: str, counts: list[int]) -> None:
        n = len(batch.raw)
        if batch.raw_bytes is not None:
            self.has_raw_bytes = True
        self._choose_time_key(batch)
        merged = inf.merge(self.running, batch.type)
        assert isinstance(merged, Struct)
        if merged != self.running:
            self._record_history(self.running, merged, batch, uri)
            self.running = merged
        own = inf.merge(self.own, batch.type)
        assert isinstance(own, Struct)
        self.own = own
        schema = self._current_schema()
        self.time_all = self.time_all and schema.has_time
        data = self._conform(batch, schema)
        counts[0] += n
        counts[1] += sum(1 for e in batch.errors if e is not None) if batch.errors else 0
        self.records += n
        times = None
        record_errors = _combine(batch.errors, batch.notes, n)
        if not schema.has_time:
            # No time field yet: should a later batch bring one, these records have none.
            self.file_times["no_value"] += n
        else:
            found = self._event_times(batch)
            times = found.times
            self.file_times.update(found.counts)
            self.file_time_from.update(found.fields)
            if found.errors is not None:
                record_errors = _combine(record_errors, found.errors, n)
        errors = array_of(record_errors, pa.string()) if record_errors else pa.nulls(n, pa.string())
        columns = [
            *data,
            pa.repeat(scalar(uri, pa.string()), n),
            _line_array(batch.lines),
            pa.repeat(scalar(self.ingested_at, EVENT_TIME), n),
            batch.raw,
            errors,
        ]
        if times is not None:
            columns.append(times)
        if schema.has_raw_bytes:
            columns.append(
                pa.nulls(n, pa.binary())
                if batch.raw_bytes is None
                else pa.array(batch.raw_bytes, pa.binary())
            )
        table = pa.Table.from_arrays(columns, schema=schema.arrow)
        self._batches += 1
        reread: Reread = batch.reread if batch.is_json else "typed"
        self._flush_stale()
        if times is None:
            self._write(table, None, schema, reread)
            return
        dates = event_dates(times)
        uniq = pc.unique(dates)
        if len(uniq) == 1:
            d = uniq[0].as_py()
            self._write(table, d.isoformat() if d else None, schema, reread)
            return
        runs = _runs(dates)
        if runs is not None:
            # Logs are mostly in time order: slices (no copy) instead of one filter per date
            # (each a copy of the chunk, _raw included). A record without a time (a text
            # line that did not parse) cuts a day's run in two: still slices.
            for start, end, d in runs:
                self._write(table.slice(start, end - start), d, schema, reread)
            if _in_order(runs):
                # The days before the batch's last are over (logs in time order): their rows
                # go to the encoders now, not two batches later. At the end of a many-day
                # file only its last day's rows were then left to encode, not two chunks'.
                for _, _, d in runs[:-1]:
                    self._flush(d, whole_groups=False)
            return
        for d in uniq.to_pylist():
            mask = (
                pc.is_null(dates)
                if d is None
                else pc.fill_null(pc.equal(dates, scalar(d, dates.type)), FALSE)
            )
            self._write(table.filter(mask), d.isoformat() if d else None, schema, reread)

    def _choose_time_key(self, batch: _Batch) -> None:
        keys = self._time_keys(batch)
        if keys not in self.used_keys:
            self.used_keys.append(keys)
        if keys and self.time_label is None:
            self.time_label = "+".join(keys)
        if not self.fixed_time and (
            keys or (batch.is_json and any(batch.type.get(k) is not None for k in TIME_FIELDS))
        ):
            # A time field only null so far still gives the table its event time columns;
            # which field it is, the first record with a value decides.
            self.has_time = True

    def _time_keys(self, batch: _Batch) -> tuple[str, ...]:
        """The fields the batch's event time is read from: ``--time-field``; else a text
        format's own (a preset's time, or groups named like a time, any case: ``date`` and
        ``time`` together); else the JSON field :func:`_first_time_key` finds."""
        if self.time_keys is not None and (self.rules.fields or batch.time_fields is None):
            return self.time_keys
        if batch.time_fields is not None:
            keys = {k for k, _ in batch.type.fields}
            return batch.time_fields if keys.issuperset(batch.time_fields) else ()
        if not batch.is_json and batch.text is not None:
            fmt = batch.text
            if fmt.preset is not None:
                return fmt.preset.event_time_fields
            groups = {g.casefold(): g for g in fmt.group_names}
            if "date" in groups and "time" in groups:
                return (groups["date"], groups["time"])
            return next(((groups[k],) for k in TIME_FIELDS if k in groups), ())
        found = _first_time_key(batch)
        if found is not None:
            self.time_keys = (found,)  # JSON: the first key found stays the event time
            return self.time_keys
        return ()

    def _current_schema(self) -> _Schema:
        final = _stored_type(self.existing_type, self.running)
        names = inf.name_tree(final, self.existing_struct, top_level=True)
        if (
            self.schema is None
            or self.schema.type != final
            or self.schema.names != names
            or self.schema.has_time != self.has_time
            or self.schema.has_raw_bytes != self.has_raw_bytes
        ):
            self._close_writers()
            self.schema = _Schema(final, names, self.has_time, self.has_raw_bytes)
        return self.schema

    def _conform(self, batch: _Batch, schema: _Schema) -> list[pa.ChunkedArray]:
        try:
            return conform_table(
                batch.table,
                batch.type,
                schema.type,
                src_names=Names(),
                dst_names=schema.names,
                num_rows=len(batch.raw),
            )
        except NeedsReparse:
            pass
        errors = batch.errors or [None] * len(batch.raw)
        if batch.is_json:
            values = batch.values
            if values is None:
                values = exact(batch.json_texts.to_pylist(), {}).values or []
            values = [None if e is not None else v for v, e in zip(values, errors, strict=True)]
        else:
            values = batch.table.to_pylist()
        table = python_table(values, schema.type, schema.names, errors)
        if any(e is not None for e in errors):
            batch.errors = errors
        return list(table.columns)

    def _event_times(self, batch: _Batch) -> EventTimes:
        found = self._read_times(batch)
        if batch.errors is None:
            return found
        # A record that did not parse has no time of its own: count it as such.
        failed = array_of([e is not None for e in batch.errors], pa.bool_())
        moved = pc.sum(pc.and_(failed, pc.is_null(found.times))).as_py() or 0
        if moved:
            found.counts["no_value"] -= min(moved, found.counts["no_value"])
            found.counts["record_failed"] += moved
            found.counts = +found.counts
        return found

    def _read_times(self, batch: _Batch) -> EventTimes:
        n = len(batch.raw)
        keys = self._time_keys(batch)
        if not keys:
            return self.times.missing(n)
        fmt = batch.text
        if not batch.is_json and fmt is not None and batch.texts is not None:
            if not all(k in batch.texts for k in keys):
                return self.times.missing(n)
            text = join_fields([batch.texts[k] for k in keys])
            p = fmt.preset
            if p is not None and keys == p.event_time_fields:
                if p.time is not None and keys == (p.time,) and p.time in batch.table.column_names:
                    # Already read with the preset (or --time-format): the window is left.
                    return self.times.window(batch.table.column(p.time), text, batch.time_notes)
                return self.times.event_times(
                    text, formats=self.rules.formats or fmt.time_formats, year_base=self.year_base
                )
            return self.times.event_times(text, year_base=self.year_base)
        cols = []
        for key in keys:
            col, t = _find_column(batch.table, batch.type, key)
            if col is None or t is None:
                if batch.is_json and not self.rules.fields and batch.time_fields is None:
                    # the chosen field, not given
                    return self._other_time_fields(batch, key, self.times.missing(n))
                return self.times.missing(n)
            cols.append((col, t))
        nested = [(col, t) for col, t in cols if isinstance(t, (Struct, inf.List))]
        if len(cols) == 1 or nested:
            # An object or a list is read alone: an instant object is read as one, any other
            # is no time and its _error says so (counted as null before, with no reason).
            col, t = (nested or cols)[0]
            found = self.times.event_times(
                col,
                json_encoded=(t == JSON),
                year_base=self.year_base,
                field=keys[0] if len(keys) == 1 else None,
            )
            if batch.is_json and not self.rules.fields and batch.time_fields is None:
                found = self._other_time_fields(batch, keys[0], found)
            return found
        parts = [self.times.text_of(col, json_encoded=(t == JSON)) for col, t in cols]
        return self.times.event_times(join_fields(parts), year_base=self.year_base)

    def _other_time_fields(self, batch: _Batch, key: str, found: EventTimes) -> EventTimes:
        """A JSON record the chosen time field gives no event time (no value, or one not
        read or not used) takes it from the first other of :data:`TIME_FIELDS` that gives
        one: records of several loggers in one file (a collector writes one app's ``ts``
        beside another's ``time``), and python-json-logger's ``asctime`` beside a ``time``
        the application added (an elapsed time), which lost the record its time. Its
        ``_error`` says which field gave the time and why the chosen one did not (nothing
        when that had no value); a record no field gives one keeps the chosen field's
        reason, its ``_error`` adding each other field's. ``fields`` counts the records
        another field gave their time, which the reasons no longer count."""
        if found.kinds is None:
            return found
        kinds = found.kinds.to_pylist()
        whose = [key] * len(kinds)  # the field each record's reason (in kinds) is about
        times, errors = found.times, found.errors
        counts, fields = found.counts.copy(), Counter(found.fields)
        for other in TIME_FIELDS:
            unused = pc.is_valid(array_of(kinds, pa.string()))
            if not pc.any(unused).as_py():
                break
            if other == key:
                continue
            values, t = _find_column(batch.table, batch.type, other)
            if values is None or t is None or isinstance(t, (Struct, inf.List)):
                continue
            if other in OBJECT_TIME_FIELDS and t != JSON:  # text or a number: no instant
                continue
            values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
            # Empty text is no value either, as the reasons count it (no_value).
            take = pc.and_(unused, pc.is_valid(values))
            if other in OBJECT_TIME_FIELDS:  # JSON text: only its objects may be instants
                take = pc.and_(take, pc.fill_null(pc.starts_with(values, "{"), FALSE))
            if not pc.any(take).as_py():
                continue
            more = self.times.event_times(
                pc.filter(values, take),
                json_encoded=(t == JSON),
                year_base=self.year_base,
                field=other,
            )
            times = pc.replace_with_mask(times, take, more.times)
            errors = list(errors) if errors is not None else [None] * len(times)
            more_kinds = more.kinds.to_pylist() if more.kinds is not None else None
            read = pc.is_valid(more.times).to_pylist()
            for j, i in enumerate(pc.indices_nonzero(take).to_pylist()):
                was, mine = kinds[i], errors[i]
                theirs = more.errors[j] if more.errors is not None else None
                if read[j]:
                    counts[was] -= 1
                    kinds[i] = None
                    fields[other] += 1
                    if mine is not None:
                        errors[i] = f"event time from {other}, as {whose[i]}'s was not used: {mine}"
                elif was == "no_value":
                    now = more_kinds[j] if more_kinds is not None else "no_value"
                    counts[was] -= 1
                    counts[now] += 1
                    kinds[i], errors[i], whose[i] = now, theirs, other
                elif theirs is not None:
                    errors[i] = f"{mine}; {other} gave none either: {theirs}"
        if errors is not None and not any(e is not None for e in errors):
            errors = None
        return EventTimes(times, errors, +counts, array_of(kinds, pa.string()), fields)

    def _record_history(self, old: Struct, new: Struct, batch: _Batch, uri: str) -> None:
        # Changes are relative to what the table can already hold, so the line found is the
        # first whose value the table's own type could not take.
        changed = _changed_paths(
            inf.merge(self.existing_type, old), inf.merge(self.existing_type, new)
        )
        if not changed:
            return
        # The ledger shows what ``inf.type_changes`` reports against the table: a path inside
        # a column (or field) the table lacks is only part of it, "added" at the line where
        # that came, and a struct (list) the table has as a struct (list) only through its
        # fields (items). The lines of other paths are never shown, so none is looked for (a
        # new struct of 10 ints each a float by its chunk's end took 10 searches, 4 s of CPU
        # for a 15 MB chunk; the table's struct whose int field widens there, a Python parse
        # of the whole chunk for the struct besides the search for the field).
        shown = {
            path: change
            for path, change in changed.items()
            if _shown(self.existing_type, path, change[1])
        }
        firsts = _first_records(batch, shown)
        later = _later_floats(batch, shown, firsts)
        for path, (old_t, new_t) in changed.items():
            steps: list[tuple[Type, int | None]] = []
            if old_t is None and new_t == JSON and batch.values is not None:
                # Born and in conflict within one batch: keep each step, so the ledger shows
                # where the conflict arose and not only where the column appeared.
                steps = _type_steps(zip(batch.values, batch.lines, strict=True), path, new_t)
            elif old_t in (None, NULL) and new_t == inf.FLOAT and path in firsts:
                # Born as an int and widened to float within one batch (pyarrow's reader
                # types the whole chunk as double): the ledger shows both lines, as it does
                # when the float comes in a later chunk.
                steps = _float_steps(batch, path, firsts[path], later.get(path))
            if steps:
                self.history.setdefault(path, []).extend((t, uri, line) for t, line in steps)
                continue
            # Not found (the chunk's reader and Python's json read a line differently): the
            # line is unknown, and said so, rather than the chunk's first.
            line = batch.lines[firsts[path]] if path in firsts else None
            self.history.setdefault(path, []).append((new_t, uri, line))

    # -- writing ----------------------------------------------------------------------

    def _write(self, table: pa.Table, date: str | None, schema: _Schema, reread: Reread) -> None:
        # Chunks and date splits come in all sizes: gather rows so row groups are full
        # (65,536 rows), not one per piece (a line straddling two reads is a piece of one).
        buf = self._pending.get(date)
        if buf is None:
            buf = self._pending[date] = _Pending(schema)
        buf.last_batch = self._batches
        buf.tables.append(table)
        buf.rows += table.num_rows
        buf.reread = _both(buf.reread, reread)
        self._pending_rows += table.num_rows
        self._pending_bytes += table.nbytes
        if buf.rows >= ROW_GROUP_ROWS:
            self._flush(date, whole_groups=True)
        if self._pending_rows > _MAX_PENDING_ROWS or self._pending_bytes > _MAX_PENDING_BYTES:
            for d in list(self._pending):
                self._flush(d, whole_groups=False)
            self._pending_bytes = sum(t.nbytes for b in self._pending.values() for t in b.tables)

    def _flush_stale(self) -> None:
        # Logs come roughly in time order: a date no batch wrote to lately is done. Writing
        # its rows now keeps them from piling up for the end, where only the encoder works.
        for date, buf in list(self._pending.items()):
            if buf.rows and buf.last_batch < self._batches - 2:
                self._flush(date, whole_groups=False)

    def _flush(self, date: str | None, *, whole_groups: bool) -> None:
        buf = self._pending.get(date)
        if buf is None or not buf.rows:
            return
        table = pa.concat_tables(buf.tables)
        n = table.num_rows - table.num_rows % ROW_GROUP_ROWS if whole_groups else table.num_rows
        if not n:
            return
        ready, rest = table.slice(0, n), table.slice(n)
        buf.tables = [rest] if rest.num_rows else []
        buf.rows = rest.num_rows
        self._pending_rows -= n
        writer, written, lane = self._writer_for(date, buf.schema, ready)
        written.records += n
        written.reread = _both(written.reread, buf.reread)
        self._pools[lane].submit(lambda: writer.write_table(ready, row_group_size=ROW_GROUP_ROWS))

    def _options_for(self, schema: _Schema, sample: pa.Table) -> dict[str, object]:
        """Writer options for a file of ``schema`` starting with ``sample``: decided on the
        first sample of ``MIN_SAMPLE`` rows or more (a day of a 60-day file of 500,000 lines
        holds 8,300), and reused for the schema's later files; a smaller sample decides for
        its own file only."""
        options = self._options.get(schema.arrow)
        if options is None:
            options = _writer_options(sample)
            if sample.num_rows >= MIN_SAMPLE:
                self._options[schema.arrow] = options
        return options

    def _writer_for(
        self, date: str | None, schema: _Schema, table: pa.Table
    ) -> tuple[BoundedWriter, _Written, int]:
        """The open writer ``table``'s rows go to (a new file when they would overfill it),
        and the encoder thread that file is given to."""
        key = date
        entry = self.writers.get(key)
        if entry is not None and entry[1].records + table.num_rows > ROWS_PER_FILE:
            self._close_writer(key)
            entry = None
        if entry is None:
            if len(self.writers) >= _MAX_OPEN_WRITERS:
                self._close_writer(next(iter(self.writers)))
            folder = (
                self.dir / f"{PARTITION_COLUMN}={date or _NULL_PARTITION}"
                if schema.has_time
                else self.dir
            )
            folder.mkdir(parents=True, exist_ok=True)
            path = str(folder / f"part-{uuid.uuid4().hex}.parquet")
            written = _Written(
                path,
                date,
                schema.type,
                schema.names,
                schema.has_time,
                has_raw_bytes=schema.has_raw_bytes,
            )
            lane = self._next_lane
            self._next_lane = (lane + 1) % len(self._pools)
            written.writer = _parquet_writer(path, schema.arrow, self._options_for(schema, table))
            entry = (written.writer, written, lane)
            self.written.append(written)
            self.writers[key] = entry
        return entry

    def _close_writer(self, key: str | None) -> None:
        writer, _, lane = self.writers.pop(key)
        self._pools[lane].submit(writer.close)

    def _close_writers(self) -> None:
        for date in list(self._pending):
            self._flush(date, whole_groups=False)
        self._pending.clear()
        self._pending_bytes = 0
        for key in list(self.writers):
            self._close_writer(key)

    def _wait(self) -> None:
        for pool in self._pools:
            pool.wait()
        for pool in self._pools:
            if pool.error:
                raise pool.error

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._close_writers()
            for pool in self._pools:
                pool.wait()
        finally:
            for pool in self._pools:
                pool.stop()
            self.times.close()

    def discard(self) -> None:
        """Remove what this ingest staged (after a failure)."""
        for w in self.written:
            for p in (w.path, w.path + ".tmp"):
                if os.path.exists(p):
                    os.remove(p)

    # -- the end ----------------------------------------------------------------------

    def finish(self) -> StagedLogs:
        self._close_writers()
        self._wait()
        schema = self._current_schema()
        files = []
        for w in self.written:
            if (w.type, w.names, w.has_time, w.has_raw_bytes) != schema.key():
                self._rewrite(w, schema)
            files.append(
                StagedFile(
                    path=Path(w.path),
                    partition_values={PARTITION_COLUMN: w.date} if schema.has_time else {},
                    footer=w.writer.metadata if w.writer is not None else None,
                )
            )
        full = schema.arrow
        if schema.has_time:
            full = full.append(pa.field(PARTITION_COLUMN, pa.date32()))
        staged = Staged(
            files=tuple(files),
            schema=full,
            rows=sum(w.records for w in self.written),
            partition_by=(PARTITION_COLUMN,) if schema.has_time else (),
        )
        return StagedLogs(
            staged=staged,
            sources=tuple(self.reports),
            drift=tuple(self._drift(schema)),
            ingested_at=self.ingested_at,
            time_field=self.time_label,
        )

    def _rewrite(self, w: _Written, schema: _Schema) -> None:
        """Bring a file written under an older schema to the final one."""
        tmp = w.path + ".tmp"
        src = pq.ParquetFile(w.path)
        writer: BoundedWriter | None = None
        try:
            for rg in range(src.num_row_groups):
                t = src.read_row_group(rg)
                batch = _Batch(
                    t,
                    w.type,
                    t.column("_raw").combine_chunks(),
                    t.column("_line").to_pylist(),
                    t.column("_error").to_pylist(),
                    w.reread != "typed",
                )
                try:
                    data = conform_table(
                        t,
                        w.type,
                        schema.type,
                        src_names=w.names,
                        dst_names=schema.names,
                        num_rows=t.num_rows,
                    )
                except NeedsReparse:
                    data = self._reencode(batch, w, schema)
                meta = [t.column(n) for n in ("_source", "_line", "_ingested_at", "_raw", "_error")]
                if schema.has_time:
                    meta.append(
                        t.column("_event_time")
                        if w.has_time
                        else pa.chunked_array([pa.nulls(t.num_rows, EVENT_TIME)])
                    )
                if schema.has_raw_bytes:
                    meta.append(
                        t.column(RAW_BYTES)
                        if w.has_raw_bytes
                        else pa.chunked_array([pa.nulls(t.num_rows, pa.binary())])
                    )
                table = pa.Table.from_arrays([*data, *meta], schema=schema.arrow)
                if writer is None:
                    writer = _parquet_writer(tmp, schema.arrow, _writer_options(table))
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            if writer is None:  # a file without row groups still becomes the final schema
                writer = _parquet_writer(
                    tmp, schema.arrow, _writer_options(schema.arrow.empty_table())
                )
        finally:
            if writer is not None:
                writer.close()
        os.replace(tmp, w.path)
        w.writer = writer
        w.type, w.names, w.has_time = schema.type, schema.names, schema.has_time
        w.has_raw_bytes = schema.has_raw_bytes

    def _reencode(self, batch: _Batch, w: _Written, schema: _Schema) -> list[pa.ChunkedArray]:
        errors = list(batch.errors or [None] * len(batch.raw))
        if w.reread == "jsonl":
            values = exact(batch.raw.to_pylist(), {}).values or []
            values = [None if e is not None else v for v, e in zip(values, errors, strict=True)]
        elif w.reread == "logfmt":
            texts = [
                None if e is not None or r is None else logfmt_json(r)[0]
                for r, e in zip(batch.raw.to_pylist(), errors, strict=True)
            ]
            values = exact(texts, {}).values or []
        else:
            data_cols = [w.names.names.get(k, k) for k, _ in w.type.fields]
            rows = batch.table.select(data_cols).to_pylist()
            keys = [k for k, _ in w.type.fields]
            values = [dict(zip(keys, r.values(), strict=True)) for r in rows]
        return list(python_table(values, schema.type, schema.names, errors).columns)

    def _drift(self, schema: _Schema) -> list[DriftEvent]:
        out = []
        for change in inf.type_changes(self.existing_type, schema.type):
            hist = self.history.get(change.path, [])
            old = change.old
            entry = next((h for h in hist if old is None or inf.merge(old, h[0]) != old), None)
            if entry is None and hist:
                entry = hist[0]
            source, line = (entry[1], entry[2]) if entry else ("", 0)
            new_t = _type_at(schema.type, change.path)
            final = new_t if new_t is not None else change.new
            column = _named_path(schema.names, change.path)
            if old is None and hist and not isinstance(final, (Struct, inf.List)):
                # A column born in this ingest: record its first type, then each change the
                # later lines forced (a conflict on line 30,001 must show, not just "added").
                out.extend(self._changes_within(column, hist, final))
                continue
            out.append(
                DriftEvent(
                    column=column,
                    kind=change.kind,
                    old_type=None if old is None else inf.arrow_type(old),
                    new_type=inf.arrow_type(final),
                    source=source,
                    line=line,
                )
            )
        return out

    @staticmethod
    def _changes_within(
        column: tuple[str, ...], hist: list[tuple[Type, str, int | None]], final: Type
    ) -> list[DriftEvent]:
        first, uri, line = hist[0]
        current = inf.storable(first)
        events = [DriftEvent(column, "added", None, inf.arrow_type(current), uri, line)]
        for t, uri, line in hist[1:]:
            merged = inf.storable(inf.merge(current, t))
            if merged == current:
                continue
            kind: Literal["widened", "conflict"] = "conflict" if merged == JSON else "widened"
            events.append(
                DriftEvent(column, kind, inf.arrow_type(current), inf.arrow_type(merged), uri, line)
            )
            current = merged
        if current != final:  # e.g. a depth limit applied only to the whole
            kind2: Literal["widened", "conflict"] = "conflict" if final == JSON else "widened"
            events.append(
                DriftEvent(column, kind2, inf.arrow_type(current), inf.arrow_type(final), uri, line)
            )
        return events


_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def _both(a: Reread | None, b: Reread | None) -> Reread | None:
    """How a file's rows are read again once rows read as ``b`` join rows read as ``a``
    (None: no rows yet)."""
    return b if a is None or a == b else a if b is None else "typed"


def _writer_options(sample: pa.Table) -> dict[str, object]:
    """Encodings for a staged file whose first rows are ``sample``."""
    return writer_options(sample, unique=("_line",), archive=("_raw",))


def _parquet_writer(path: str, schema: pa.Schema, options: dict[str, object]) -> BoundedWriter:
    """A writer for one staged file, with ``options`` from :func:`_writer_options`."""
    return BoundedWriter(
        path,
        schema,
        **options,
        write_batch_size=8192,  # 8% less CPU than the default 1,024 on nested logs
    )


class _WriterThread:
    """Runs Parquet writes on one background thread, in order, up to ``_QUEUED_WRITES``
    waiting; on the caller's thread while ``inline`` (a small file), after the jobs queued
    before, so the order stays. The thread starts with the first job it gets."""

    def __init__(self, name: str = "lake-log-writer") -> None:
        self.name = name
        self._jobs: queue.Queue[Callable[[], object] | None] = queue.Queue(maxsize=_QUEUED_WRITES)
        self.error: BaseException | None = None
        self.inline = False
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                self._do(job)
            finally:
                self._jobs.task_done()

    def _do(self, job: Callable[[], object]) -> None:
        try:
            if self.error is None:
                job()
        except BaseException as e:  # noqa: BLE001 - re-raised on the caller's thread
            self.error = _translate_write_error(e)

    def submit(self, job: Callable[[], object]) -> None:
        if self.inline:
            self.wait()
            self._do(job)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
            self._thread.start()
        self._jobs.put(job)

    def wait(self) -> None:
        if self._thread is not None:
            self._jobs.join()

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()


def _translate_write_error(e: BaseException) -> BaseException:
    if isinstance(e, IngestError):
        return e
    return IngestError(f"Cannot write staged Parquet: {e}; check the staging folder's disk.")


_ChunkLines = tuple[LineChunk, pa.StringArray, dict[int, str], dict[int, bytes]]
"""A chunk, its lines as strings, reasons for lines not valid text, and their bytes."""


def _holdable(reader: ContentReader, codec: str) -> bool:
    """Whether a file read can be resumed at any line (``hold``): uncompressed, in an
    encoding whose line feed is one byte, so a line's stored offset is found by counting."""
    return reader.compression == "none" and not wide(codec)


def _without_torn_tail(
    blocks: Iterable[bytes], torn: list[bytes], holdable: Callable[[], bool]
) -> Iterator[bytes]:
    """Content blocks without what follows their last line feed (a last line whose end is
    not written yet), which goes into ``torn``; given back at the end when the file cannot
    be resumed inside (``holdable()`` false) or the line grows past :data:`MAX_TAIL`."""
    blocks = iter(blocks)
    tail: list[bytes] = []
    size = 0
    for block in blocks:
        cut = block.rfind(b"\n")
        if cut < 0:
            tail.append(block)
            size += len(block)
            if size > MAX_TAIL:
                yield from tail
                return (yield from blocks)
            continue
        yield from tail
        yield block[: cut + 1]
        tail = [block[cut + 1 :]] if cut + 1 < len(block) else []
        size = len(block) - cut - 1
    if any(tail) and holdable():
        torn.extend(tail)
    else:
        yield from tail


def _with_strings(chunks: Iterator[LineChunk], codec: str) -> Iterator[_ChunkLines]:
    for chunk in chunks:
        lines, invalid = line_strings(chunk, codec)
        raw = invalid_lines(chunk, invalid, codec) if invalid else {}
        yield chunk, lines, invalid, raw


def _text_of(parser: Mapping[str, Any], default: TextFormat) -> TextFormat:
    """The text parser a resumed file was read with (``default`` when it had none, or when
    it no longer checks out, e.g. a preset since renamed: the pipeline refuses such a grown
    file unless it is read again whole, when ``default`` parses all of it)."""
    options = {k: parser.get(k) for k in ("pattern", "preset", "multiline_start")}
    if not any(options.values()):
        return default
    try:
        fmt = text_format(**options)
    except LogFormatError:
        return default
    # A preset --format auto chose is read as auto reads it (TextFormat.time_formats): read
    # as the preset named, a European log's appended 08/11/26 became 2008-11-26.
    return replace(fmt, chosen=True) if parser.get("chosen") else fmt


def _listed(raw: Mapping[int, bytes], n: int) -> list[bytes | None] | None:
    if not raw:
        return None
    return [raw.get(i) for i in range(n)]


def _record_bytes(text: str, first: int, bad_lines: Mapping[int, bytes], codec: str) -> bytes:
    """A multi-line record's bytes as in the file (its lines joined by ``\\n`` in ``codec``,
    as ``_raw``)."""
    out = []
    for j, line in enumerate(text.split("\n")):
        data = bad_lines.get(first + j)
        out.append(data if data is not None else original_bytes(line.encode(), codec))
    return "\n".encode(codec).join(out)


def _parser_name(fmt: TextFormat) -> str | None:
    """What text records were parsed with: a preset's name, "pattern", or None (unparsed)."""
    if fmt.preset is not None:
        return fmt.preset.name
    return "pattern" if fmt.pattern else None


def _modified(src: SourceFile) -> datetime | None:
    """When the file was last written (the year rule of year-less times), if known."""
    try:
        if src.filesystem is None:
            return datetime.fromtimestamp(os.stat(src.path).st_mtime, UTC)
        mtime = src.filesystem.get_file_info(src.path).mtime
    except (OSError, ValueError):
        return None
    if mtime is None:
        return None
    return mtime if mtime.tzinfo else mtime.replace(tzinfo=UTC)


def _head(chunk: LineChunk) -> bytes:
    return memoryview(chunk.text)[:65536].tobytes()


class _Prefetch:
    """Runs an iterator on a thread of its own, a few items ahead of its consumer; with
    ``inline``, on the consumer's thread, item by item (errors told the same way)."""

    _END = object()

    def __init__(
        self,
        it: Iterator[Any],
        depth: int,
        *,
        label: str,
        translate: bool = True,
        inline: bool = False,
    ) -> None:
        self.label = label
        self.translate = translate  # False: errors are re-raised as they are
        self._q: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._it = it
        self._failed: BaseException | None = None
        self._thread: threading.Thread | None = None
        if not inline:
            self._thread = threading.Thread(target=self._run, daemon=True, name="lake-log-reader")
            self._thread.start()

    def _run(self) -> None:
        try:
            for block in self._it:
                while not self._stop.is_set():
                    try:
                        self._q.put(block, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._put(self._END)
        except BaseException as e:  # noqa: BLE001 - re-raised on the caller's thread
            self._put(e)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> _Prefetch:
        return self

    def __next__(self) -> Any:
        if self._thread is None:
            item = self._failed or self._next_inline()
        else:
            item = self._q.get()
        if item is self._END:
            if self._thread is not None:
                self._q.put(item)
            raise StopIteration
        if isinstance(item, BaseException):
            if self._thread is not None:
                self._q.put(item)
            if isinstance(item, IngestError) or not self.translate:
                raise item
            raise SourceUnreadable(
                f"Cannot read '{self.label}': {item}; check the file and retry."
            ) from item
        return item

    def _next_inline(self) -> object:
        try:
            return next(self._it)
        except StopIteration:
            return self._END
        except Exception as e:  # noqa: BLE001 - told as the thread would tell it
            self._failed = e
            return e

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _first_time_key(batch: _Batch) -> str | None:
    """The JSON event time field of the batch's first record holding a value in one of
    :data:`TIME_FIELDS` (of several in that record, the first in that list); None when no
    record has one. Decided by the record, never by which keys a chunk holds: that
    depended on where the file was cut into chunks, and a key only ever null won."""
    keys = {k for k, _ in batch.type.fields}
    firsts: dict[str, int] = {}
    for k in TIME_FIELDS:
        if k not in keys:
            continue
        objects_only = k in OBJECT_TIME_FIELDS
        if batch.values is not None:
            at = next(
                (
                    i
                    for i, v in enumerate(batch.values)
                    if isinstance(v, dict)
                    and v.get(k) is not None
                    and (not objects_only or isinstance(v[k], dict))
                ),
                -1,
            )
        elif objects_only and not isinstance(batch.type.get(k), Struct):
            at = -1
        elif k in batch.table.column_names:
            at = pc.index(pc.is_valid(batch.table.column(k)), TRUE).as_py()
        else:
            at = -1
        if at >= 0:
            firsts[k] = at
    if not firsts:
        return None
    return min(firsts, key=lambda k: (firsts[k], TIME_FIELDS.index(k)))


def _runs(dates: pa.Array) -> list[tuple[int, int, str | None]] | None:
    """``(start, end, date)`` for each run of equal dates, or None when there are too many."""
    values = dates.cast(pa.int32())
    prev = values.slice(0, len(values) - 1)
    nxt = values.slice(1)
    changed = pc.invert(pc.fill_null(pc.equal(prev, nxt), FALSE))
    both_null = pc.and_(pc.is_null(prev), pc.is_null(nxt))
    changed = pc.and_not(changed, both_null)
    cuts = pc.indices_nonzero(changed).to_pylist()
    if len(cuts) > 64:
        return None
    bounds = [0, *[c + 1 for c in cuts], len(values)]
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        d = dates[a].as_py()
        out.append((a, b, d.isoformat() if d else None))
    return out


def _in_order(runs: Sequence[tuple[int, int, str | None]]) -> bool:
    """Whether each run's date is later than the one before (none missing)."""
    dates = [d for _, _, d in runs if d is not None]
    return len(dates) == len(runs) and all(a < b for a, b in zip(dates, dates[1:], strict=False))


def _line_array(lines: Sequence[int]) -> pa.Array:
    if isinstance(lines, range) and lines.step == 1:
        return pa.arange(lines.start, lines.stop)  # 2M Python ints cost 0.1 s of GIL time
    # Line numbers are Python ints: packed in C as they are, with no per-value type check
    # (arrow_values.array's) and no pa.array (whose pandas probe imports pandas, 0.15 s).
    return pa.Array.from_buffers(pa.int64(), len(lines), [None, pa.py_buffer(array("q", lines))])


def _combine(
    a: list[str | None] | None, b: list[str | None] | None, n: int
) -> list[str | None] | None:
    if a is None:
        return b
    if b is None:
        return a
    return [x if x is not None else y for x, y in zip(a, b, strict=True)]


def _find_column(
    table: pa.Table, t: Struct, key: str
) -> tuple[pa.ChunkedArray | None, Type | None]:
    if key in table.column_names and t.get(key) is not None:
        return table.column(key), t.get(key)
    if "." not in key:
        return None, None
    parts = key.split(".")
    if parts[0] not in table.column_names:
        return None, None
    col: pa.ChunkedArray = table.column(parts[0])
    typ = t.get(parts[0])
    for p in parts[1:]:
        if not isinstance(typ, Struct) or typ.get(p) is None:
            return None, None
        col = (
            pa.chunked_array([c.field(p) for c in col.chunks], col.type.field(p).type)
            if col.num_chunks
            else col
        )
        typ = typ.get(p)
    return col, typ


def _changed_paths(
    old: Type | None, new: Type, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], tuple[Type | None, Type]]:
    """Every path whose type differs, including each path inside a new subtree (an int that
    became a wide int is no change: both are int64 columns)."""
    out: dict[tuple[str, ...], tuple[Type | None, Type]] = {}
    if path and old != new and new != NULL and (old is None or inf.plain(old) != inf.plain(new)):
        out[path] = (old, new)
    if isinstance(new, Struct):
        o = old if isinstance(old, Struct) else None
        for k, t in new.fields:
            out.update(_changed_paths(o.get(k) if o else None, t, (*path, k)))
    elif isinstance(new, inf.List):
        o_item = old.item if isinstance(old, inf.List) else None
        out.update(_changed_paths(o_item, new.item, (*path, inf.LIST_STEP)))
    return out


def _first_records(
    batch: _Batch, changed: Mapping[tuple[str, ...], tuple[Type | None, Type]]
) -> dict[tuple[str, ...], int]:
    """For each changed path, the index of the batch's first record whose value needed the
    change."""
    pending = dict(changed)
    found: dict[tuple[str, ...], int] = {}
    if batch.is_json:
        values = batch.values
        texts = None if values is not None else batch.json_texts
        if values is None:
            # An int column read as double: its first float is found by its text, not by
            # parsing every line before it in Python (a 16 MiB chunk took about 0.3 s).
            widened = {
                p: 0 for p, (old, new) in changed.items() if (old, new) == (inf.INT, inf.FLOAT)
            }
            for path in widened:
                del pending[path]
            found.update(_first_floats(batch.json_texts, widened))
        for i in range(len(batch.raw)):
            if not pending:
                break
            if values is not None:
                v = values[i]
            else:
                assert texts is not None
                v, _ = inf.parse_json_line(texts[i].as_py())
            if v is None:
                continue
            for path in list(pending):
                old = pending[path][0]
                if inf.needs_change(inf.value_at(v, path), None if old == NULL else old):
                    found[path] = i
                    del pending[path]
        return found
    for path in pending:
        col = batch.table.column(path[0]) if path and path[0] in batch.table.column_names else None
        if col is not None and col.null_count < len(col):
            found[path] = pc.index(pc.is_valid(col), TRUE).as_py()
    return found


def _type_steps(
    records: Iterable[tuple[object, int]], path: tuple[str, ...], final: Type
) -> list[tuple[Type, int]]:
    """Each type a new column takes as ``records`` (parsed values and their lines) are read,
    with the line that forced it; stops once the column has its ``final`` type."""
    steps: list[tuple[Type, int]] = []
    current: Type = NULL
    seen: Type = NULL  # not storable(): a wide int then a float is JSON, not a float
    for value, line in records:
        if value is None:
            continue
        for found in inf.value_at(value, path):
            seen = inf.merge(seen, inf.type_of(found))
            merged = inf.storable(seen)
            if merged != current:
                steps.append((merged, line))
                current = merged
        if current == JSON or current == final:
            break
    return steps


def _later_floats(
    batch: _Batch, changed: Mapping[tuple[str, ...], tuple[Type | None, Type]], firsts: dict
) -> dict[tuple[str, ...], int]:
    """For each column new in ``batch`` (fast reader) and typed float there whose first value
    (at its index in ``firsts``) is no float, the index of its first value written as a
    float: one search for all of them."""
    if batch.values is not None:
        return {}
    starts = {}
    for path, (old, new) in changed.items():
        if old in (None, NULL) and new == inf.FLOAT and path in firsts:
            value, _ = inf.parse_json_line(batch.json_texts[firsts[path]].as_py())
            if inf.merge_all(inf.type_of(v) for v in inf.value_at(value, path)) != inf.FLOAT:
                # Between the two, the column holds ints and nulls only (a string or a bool
                # beside a float is a conflict, read by the exact reader): no other step.
                starts[path] = firsts[path] + 1
    return _first_floats(batch.json_texts, starts)


def _float_steps(
    batch: _Batch, path: tuple[str, ...], first: int, later: int | None
) -> list[tuple[Type, int | None]]:
    """The steps of a column new in ``batch`` and typed float there: ``first`` is the index
    of its first value, ``later`` that of its first float when the first value is an int
    (fast reader: :func:`_later_floats`)."""
    if batch.values is not None:
        records = zip(batch.values[first:], batch.lines[first:], strict=True)
        return _type_steps(records, path, inf.FLOAT)
    seen = [
        (inf.parse_json_line(batch.json_texts[i].as_py())[0], batch.lines[i])
        for i in (first, later)
        if i is not None
    ]
    steps = _type_steps(seen, path, inf.FLOAT)
    if steps and steps[-1][0] != inf.FLOAT:
        # Its first float was not found (see _record_history): at a line unknown.
        steps.append((inf.FLOAT, None))
    return steps


_FLOAT_TEXT = "[0-9][.eE]|NaN|Infinity"
"""Where a JSON number is a float: a digit then a fraction or an exponent (``1.0``, ``1e3``),
or ``NaN``, which pyarrow's reader types as a double (missed, the chunk was parsed line by
line: see _first_floats). ``Infinity`` sends a chunk to the exact reader, which needs no
search; it is matched all the same."""
_ESCAPED_KEY = r'"(?:[^"\\]|\\.)*\\[u/](?:[^"\\]|\\.)*"'
"""A quoted string holding an escape a writer may use in a key that ``json.dumps`` writes as
it is (``\\u005f``, ``\\/``). Text outside strings has no backslash, so this is a string;
followed by a colon, a key. Escapes in values do not count: PHP writes every ``/`` as ``\\/``
and Python's json every non-ASCII letter as ``\\u``, so an escape and a float anywhere made
every line of such logs a candidate (15 MB, 10 columns widening at its last line: CPU
0.23 -> 4.0 s)."""


def _float_pattern(paths: Iterable[tuple[str, ...]]) -> str:
    """Where a record may hold a value written as a JSON float at one of ``paths``: the
    path's last key, then a number with a fraction or an exponent (for a list, anywhere
    after the key), or the same after a key written with an escape."""
    literals: dict[bool, set[str]] = {False: set(), True: set()}
    for path in paths:
        # A path's first step is always a key: a path of ``[]`` steps only is a key named
        # ``[]`` (and when a last ``[]`` is a key, the list pattern still finds its floats).
        key = next((step for step in reversed(path) if step != inf.LIST_STEP), path[0])
        literals[path[-1] == inf.LIST_STEP].add(
            "".join(
                c if c.isalnum() or not c.isascii() else f"\\x{{{ord(c):02x}}}"
                for c in json.dumps(key, ensure_ascii=False)
            )
        )
    # JSON allows whitespace before a colon too (``"vals" : [1, 2.5]``).
    after = {
        False: r"\s*:\s*(?:-?[0-9]+[.eE]|NaN|-?Infinity)",
        True: rf"\s*:.*(?:{_FLOAT_TEXT})",
    }
    return "|".join(
        f"(?:{'|'.join(sorted(keys))}|{_ESCAPED_KEY}){after[in_list]}"
        for in_list, keys in literals.items()
        if keys
    )


def _first_floats(
    raw: pa.StringArray, starts: Mapping[tuple[str, ...], int]
) -> dict[tuple[str, ...], int]:
    """For each path in ``starts``, the index of the first record at or after its start whose
    value there is written as a JSON float (absent: none). The text of the records is
    searched at once (RE2) for any path's :func:`_float_pattern`; only those records are
    parsed, each once for all paths (a search a path parsed a line that is a candidate for
    each of them once per path: 10 fields of a struct, 3x the CPU of parsing the chunk)."""
    pending = dict(starts)
    found: dict[tuple[str, ...], int] = {}
    start = min(pending.values(), default=len(raw))
    # Windows growing from 1,024 records: a float soon after the first int (a writer that
    # prints 2.0 as 2) is found without searching the whole chunk (30 ms a 16 MiB chunk).
    size = 1024
    while pending and start < len(raw):
        window = raw.slice(start, size)
        pattern = _float_pattern(pending)
        hits = pc.indices_nonzero(pc.match_substring_regex(window, pattern))
        for i in hits.to_pylist():
            value, _ = inf.parse_json_line(window[i].as_py())
            if value is None:
                continue
            for path, begin in list(pending.items()):
                if begin <= start + i and any(
                    inf.type_of(v) == inf.FLOAT for v in inf.value_at(value, path)
                ):
                    found[path] = start + i
                    del pending[path]
            if not pending:
                break
        start, size = start + size, size * 16
    if pending:
        # The reader typed a float the search did not find: a spelling the pattern does not
        # cover (``NaN``, which pyarrow reads as a double). Each record from the earliest
        # start is parsed instead, so the ledger shows the exact line, not a guess.
        found.update(_exact_first_floats(raw, pending))
    return found


def _exact_first_floats(
    raw: pa.StringArray, starts: Mapping[tuple[str, ...], int]
) -> dict[tuple[str, ...], int]:
    """As :func:`_first_floats`, by parsing every record from the earliest start (Python's
    json): the first value at each path an int column cannot hold."""
    pending = dict(starts)
    found: dict[tuple[str, ...], int] = {}
    for i in range(min(pending.values(), default=len(raw)), len(raw)):
        value, _ = inf.parse_json_line(raw[i].as_py())
        if value is None:
            continue
        for path, begin in list(pending.items()):
            if begin <= i and inf.needs_change(inf.value_at(value, path), inf.INT):
                found[path] = i
                del pending[path]
        if not pending:
            break
    return found


def _shown(table: Struct, path: tuple[str, ...], new: Type) -> bool:
    """Whether the drift ledger can show ``path`` (of type ``new``) apart from its columns
    and fields: see ``_record_history``."""
    if not isinstance(_type_at(table, path[:-1]), (Struct, inf.List)):
        return False
    had = _type_at(table, path)
    return not (
        (isinstance(had, Struct) and isinstance(new, Struct))
        or (isinstance(had, inf.List) and isinstance(new, inf.List))
    )


def _type_at(t: Type, path: tuple[str, ...]) -> Type | None:
    cur: Type | None = t
    for step in path:
        if isinstance(cur, Struct):
            cur = cur.get(step)
        elif isinstance(cur, inf.List) and step == inf.LIST_STEP:
            cur = cur.item
        else:
            return None
    return cur


def _named_path(names: Names, path: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    cur: Names | None = names
    for step in path:
        if step == inf.LIST_STEP:
            out.append(step)
            cur = cur.item if cur else None
            continue
        out.append(cur.names.get(step, step) if cur else step)
        cur = cur.child(step) if cur else None
    return tuple(out)
