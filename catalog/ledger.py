"""The ingest ledger and extract watermarks: what each table has taken in from its sources.

**Ingested files.** Each range of a source file an ingest commits (byte offsets, last
line, records, the file's sha256) is entered ``pending`` when the commit is prepared and
becomes ``committed``, with the version, when the commit is recorded; only committed
ranges are listed (:func:`ingested_files`), so a commit that never happened leaves no
trace an ingest would skip.

**One ingest per range.** An ingest plans on the committed ranges it read; two ingests of
one file at once plan on the same ones. Entering its ranges (:func:`add_pending_files`)
is where an ingest claims them: it is refused if another run has entered a range of the
same file since it planned (committed, or pending for a run that may still commit it), so
for any interleaving exactly one of them commits what they both read, and the other
commits nothing (:class:`FileBeingIngested`; run again, it skips what the first took).
A range left pending by a run that ended without recording a commit (killed, or failed)
blocks nobody for long: the prepare says so (:class:`ClaimsOfEndedRuns`), the writer
records what the table's log holds of those runs and lets the rest go
(:func:`abandon_claims`, state ``abandoned``), and tries again.

**Claims in doubt.** A run whose commit is in doubt because its log entry's PUT got no
answer (``lake.core.errors.CommitInDoubt``, ``unanswered``) keeps its claims after it ended
(:func:`keep_claims_in_doubt`): that PUT may land after the next writer read the log, and
had the claims been let go then, the next writer would commit the same rows again. Until
``lake catalog sync TABLE`` settles it (:func:`settle_claims_in_doubt`: the commit found is
recorded, as any; one not found lets its claims go), a writer whose claims meet them is
refused with :class:`ClaimsInDoubt`.

**Watermarks.** An incremental extract's cursor column and the value it reached, moved by
the recording of the extract's commit and only forward (a later version wins). An extract
that appends the rows past the watermark claims them when it prepares its commit
(:func:`claim_watermark`): refused if another extract moved the watermark since it read
it, or is about to; two such extracts at once would append the same rows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, insert, literal, null, or_, select, union_all, update

from catalog.connection import Connection, CoreConnection
from catalog.definitions import (
    EDGES,
    INGESTED,
    NAMESPACES,
    RUNS,
    SOURCES,
    TABLES,
    WATERMARKS,
    utcnow,
)
from catalog.exceptions import (
    ClaimsInDoubt,
    ClaimsOfEndedRuns,
    FileBeingIngested,
    WatermarkTaken,
)
from catalog.runs import reap_in
from catalog.tables import TableInfo
from lake.core.processes import alive

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

CLAIM_EXPIRY_S = 24 * 3600.0
"""A range pending for a run still marked running whose process cannot be checked (a run of
another host) is taken for one that run will never commit once the run started this long
ago (as a lease expires: a holder that dies keeps it only that long)."""
IN_DOUBT_KEY = "claims_in_doubt"
"""The table property naming the runs whose commit of the table is in doubt and whose
claims are kept until a sync settles them: ``{run id: version}``."""


@dataclass(frozen=True)
class PendingFile:
    """The part of one source file an ingest is about to commit."""

    uri: str
    sha256: str
    start_offset: int
    end_offset: int
    end_line: int
    records: int
    known_ranges: int | None = None
    """How many committed ranges of this file the run's plan read; when given, entering
    the range is refused if another run has entered one since (see
    :func:`add_pending_files`). None: not checked."""
    skip_copies: bool = False
    """Whether the plan skipped files whose content the table holds already (not a
    ``--reparse``): a new file read whole is then refused too when another run has entered
    a range of another file with its content since."""


@dataclass(frozen=True)
class IngestedFileInfo:
    uri: str
    sha256: str
    start_offset: int
    end_offset: int
    end_line: int
    records: int
    version: int | None


# -- ingested files --------------------------------------------------------------------------


def add_pending_files(
    conn: CoreConnection, table_id: int, run_id: str, files: Sequence[PendingFile]
) -> None:
    """Enter the ranges the run is about to commit, ``pending``, in the caller's transaction,
    claiming them: a file with ``known_ranges`` is refused when the ledger holds more
    ranges of it, of other runs, than the run's plan read (committed since, or pending).

    The claims of one table are taken one at a time: the table's row is locked first (FOR
    NO KEY UPDATE, which a recording of a version also takes; SQLite's one writer at a
    time does the same), so of two transactions that enter ranges of one file, the second
    counts after the first committed. Under PostgreSQL's READ COMMITTED each statement
    sees what was committed before it began, so the count after the lock sees the first's
    ranges, where a count then insert without it let both find nothing and both commit.

    Raises:
        FileBeingIngested: another run committed, or is committing, part of a file.
        ClaimsInDoubt: a range of a run whose commit is in doubt stands in the way.
        ClaimsOfEndedRuns: only ranges of runs that ended without recording a commit (or
            whose process is gone) stand in the way.
    """
    if not files:
        return
    checked = {f.uri: f.known_ranges for f in files if f.known_ranges is not None}
    doubted: Mapping[str, int] = {}
    if checked:
        properties = conn.execute(_LOCK_TABLE_ROW, {"b_id": table_id}).scalar()
        doubted = (properties or {}).get(IN_DOUBT_KEY) or {}
    conn.execute(
        _INSERT_RANGE,
        [
            {
                "table_id": table_id,
                "run_id": run_id,
                "uri": f.uri,
                "sha256": f.sha256,
                "start_offset": f.start_offset,
                "end_offset": f.end_offset,
                "end_line": f.end_line,
                "records": f.records,
                "state": "pending",
            }
            for f in files
        ],
    )
    if checked:
        _check_claims(
            conn, table_id, run_id, [f for f in files if f.known_ranges is not None], doubted
        )


def _check_claims(
    conn: CoreConnection,
    table_id: int,
    run_id: str,
    files: Sequence[PendingFile],
    doubted: Mapping[str, int],
) -> None:
    """Refuse the run's ranges (see :func:`add_pending_files`) when other runs hold more
    ranges of one of the files than the run planned on, or (``skip_copies``) a range
    ending where a new file of the run ends, with the same sha256: a copy of it.
    ``doubted``: the runs whose claims on the table are kept in doubt (version by run)."""
    known = {f.uri: f.known_ranges or 0 for f in files}
    # A new file read whole: the plan skipped it if the ledger had held its content, so
    # any such range is another run's since (as _plan in ingest.logs.pipeline matches).
    fresh = {
        (f.sha256, f.end_offset): f.uri
        for f in files
        if f.skip_copies and f.start_offset == 0 and not f.known_ranges
    }
    # One statement: the other runs' ranges of the files, counted by state, and how many
    # ranges of other files may be copies of the fresh ones (read in full below only when
    # some may: by sha256 and end alike, as the plan matches).
    counts = conn.execute(
        _CLAIM_COUNTS,
        {
            "b_table": table_id,
            "b_run": run_id,
            "b_uris": list(known),
            "b_shas": sorted({sha for sha, _ in fresh}),
            "b_ends": sorted({end for _, end in fresh}),
        },
    ).all()
    maybe_copies = sum(n for uri, state, n in counts if uri is None and state == _COPIES)
    counts = [(uri, state, n) for uri, state, n in counts if state != _COPIES]
    committed = {uri: n for uri, state, n in counts if state == "committed"}
    taken = {uri for uri, n in committed.items() if n > known[uri]}
    claimed = [uri for uri, state, _ in counts if state == "pending"]
    run_columns = (RUNS.c.id, RUNS.c.status, RUNS.c.host, RUNS.c.stats, RUNS.c.started_at)
    copies = []
    if fresh and maybe_copies:
        others = _other_runs(table_id, run_id)
        copies = [
            row
            for row in conn.execute(
                select(
                    INGESTED.c.uri,
                    INGESTED.c.sha256,
                    INGESTED.c.end_offset,
                    INGESTED.c.state,
                    INGESTED.c.version,
                    *run_columns,
                )
                .join(RUNS, RUNS.c.id == INGESTED.c.run_id)
                .where(
                    *others,
                    INGESTED.c.sha256.in_(sorted({sha for sha, _ in fresh})),
                    INGESTED.c.uri.not_in(list(known)),
                )
                .order_by(INGESTED.c.id)
            )
            if (row.sha256, row.end_offset) in fresh
        ]
    if not taken and not claimed and not copies:
        return
    others = _other_runs(table_id, run_id)
    pending = [
        (uri, None, *run)
        for uri, *run in conn.execute(
            select(INGESTED.c.uri, *run_columns)
            .join(RUNS, RUNS.c.id == INGESTED.c.run_id)
            .where(*others, INGESTED.c.uri.in_(claimed), INGESTED.c.state == "pending")
            .order_by(INGESTED.c.id)
        )
    ] + [
        (fresh[(c.sha256, c.end_offset)], c.uri, c.id, c.status, c.host, c.stats, c.started_at)
        for c in copies
        if c.state == "pending"
    ]
    ended: list[str] = []
    for uri, copy_of, other, status, host, stats, started_at in pending:
        if _may_commit(status, host, stats, started_at):
            raise FileBeingIngested(uri, _table_name(conn, table_id), other, same_as=copy_of)
        if other in doubted:
            raise ClaimsInDoubt(_table_name(conn, table_id), other, doubted[other])
        if other not in ended:
            ended.append(other)
    for uri in sorted(taken):
        other, version = conn.execute(
            select(INGESTED.c.run_id, INGESTED.c.version)
            .where(*others, INGESTED.c.uri == uri, INGESTED.c.state == "committed")
            .order_by(INGESTED.c.version.desc(), INGESTED.c.id.desc())
            .limit(1)
        ).one()
        raise FileBeingIngested(uri, _table_name(conn, table_id), other, version=version)
    for c in copies:
        if c.state == "committed":
            raise FileBeingIngested(
                fresh[(c.sha256, c.end_offset)],
                _table_name(conn, table_id),
                c.id,
                version=c.version,
                same_as=c.uri,
            )
    raise ClaimsOfEndedRuns(ended)


def _other_runs(table_id: int, run_id: str) -> tuple[ColumnElement[bool], ...]:
    """The ranges of other runs of the table that stand (built only when a claim meets
    some: on every log ingest they were built for nothing)."""
    return (
        INGESTED.c.table_id == table_id,
        INGESTED.c.run_id != run_id,
        INGESTED.c.state.in_(("pending", "committed")),
    )


_COPIES = "copies?"
"""The state :data:`_CLAIM_COUNTS` gives its count of possible copies (no range has it)."""
_OTHER_RUNS = (
    INGESTED.c.table_id == bindparam("b_table"),
    INGESTED.c.run_id != bindparam("b_run"),
    INGESTED.c.state.in_(("pending", "committed")),
)
_CLAIM_COUNTS = union_all(
    select(INGESTED.c.uri, INGESTED.c.state, func.count().label("n"))
    .where(*_OTHER_RUNS, INGESTED.c.uri.in_(bindparam("b_uris", expanding=True)))
    .group_by(INGESTED.c.uri, INGESTED.c.state),
    select(
        null().label("uri"), literal(_COPIES, INGESTED.c.state.type), func.count().label("n")
    ).where(
        *_OTHER_RUNS,
        INGESTED.c.sha256.in_(bindparam("b_shas", expanding=True)),
        INGESTED.c.end_offset.in_(bindparam("b_ends", expanding=True)),
        INGESTED.c.uri.not_in(bindparam("b_uris", expanding=True)),
    ),
)
"""Built once (see :mod:`catalog.runs`); one round trip where the count and the look for
copies were two on every log ingest."""


def _may_commit(status: str, host: str | None, stats: Any, started_at: datetime) -> bool:
    """Whether a run holding a claim may still commit: it is running, and its process lives
    (:func:`lake.core.processes.alive`), or, when that is unknown (another host's, another
    container's), it started less than CLAIM_EXPIRY_S ago."""
    if status != "running":
        return False
    found = alive(stats)
    if found is not None:
        return found
    return started_at > utcnow() - timedelta(seconds=CLAIM_EXPIRY_S)


def _table_name(conn: CoreConnection, table_id: int) -> str:
    namespace, name = conn.execute(
        select(NAMESPACES.c.name, TABLES.c.name)
        .join(NAMESPACES, NAMESPACES.c.id == TABLES.c.namespace_id)
        .where(TABLES.c.id == table_id)
    ).one()
    return f"{namespace}.{name}"


def abandon_claims(db: Connection, table_id: int, run_ids: Sequence[str]) -> None:
    """Let go of the claims of ``run_ids`` on ``table_id`` (see :class:`ClaimsOfEndedRuns`):
    runs that ended without recording a commit, or whose process is gone, whose commits
    the table's log has been read for and recorded since (``lake.landing.sync``). Their
    pending ranges become ``abandoned``; those still marked running are ended, failed (a
    dead process of this host as :func:`catalog.runs.reap_in` says; another host's after
    CLAIM_EXPIRY_S). They block no ingest any more."""

    def work(conn: CoreConnection) -> None:
        conn.execute(
            update(INGESTED)
            .where(
                INGESTED.c.table_id == table_id,
                INGESTED.c.run_id.in_(list(run_ids)),
                INGESTED.c.state == "pending",
            )
            .values(state="abandoned")
        )
        reap_in(conn)
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id.in_(list(run_ids)), RUNS.c.status == "running")
            .values(
                status="failed",
                ended_at=utcnow(),
                error=(
                    f"The run (on another host) held claims for more than "
                    f"{CLAIM_EXPIRY_S / 3600:g} hours without committing; they were let go, and "
                    "nothing it had not committed is visible. Run the command again."
                ),
            )
        )

    db.core_transaction(work)


def keep_claims_in_doubt(db: Connection, table_id: int, run_id: str, version: int) -> None:
    """Keep the claims of ``run_id`` on ``table_id`` after it ends: its commit of ``version``
    is in doubt (its log entry's PUT got no answer and may still land). They block every
    claim they meet (:class:`ClaimsInDoubt`) until :func:`settle_claims_in_doubt`."""

    def work(conn: CoreConnection) -> None:
        properties = dict(conn.execute(_LOCK_TABLE_ROW, {"b_id": table_id}).scalar() or {})
        properties[IN_DOUBT_KEY] = {**(properties.get(IN_DOUBT_KEY) or {}), run_id: version}
        conn.execute(update(TABLES).where(TABLES.c.id == table_id).values(properties=properties))

    db.core_transaction(work)


def settle_claims_in_doubt(db: Connection, table_id: int) -> list[str]:
    """After the table's log was read and every commit it holds recorded (``lake catalog
    sync``): the runs kept in doubt whose commit was not found let their claims go (their
    pending ranges become ``abandoned``), and none is kept in doubt any more. Returns the
    ids of the runs let go."""

    def work(conn: CoreConnection) -> list[str]:
        properties = dict(conn.execute(_LOCK_TABLE_ROW, {"b_id": table_id}).scalar() or {})
        doubted = properties.pop(IN_DOUBT_KEY, None) or {}
        if not doubted:
            return []
        # A run whose commit was recorded is completed, and its ranges committed with it.
        released = list(
            conn.scalars(
                select(RUNS.c.id).where(RUNS.c.id.in_(list(doubted)), RUNS.c.status != "completed")
            )
        )
        if released:
            conn.execute(
                update(INGESTED)
                .where(
                    INGESTED.c.table_id == table_id,
                    INGESTED.c.run_id.in_(released),
                    INGESTED.c.state == "pending",
                )
                .values(state="abandoned")
            )
        conn.execute(update(TABLES).where(TABLES.c.id == table_id).values(properties=properties))
        return released

    return db.core_transaction(work)


def claim_watermark(
    conn: CoreConnection, table_id: int, run_id: str, planned: Mapping[str, Any] | None
) -> None:
    """Claim the rows past the table's watermark for an extract that appends them, which
    read the source from watermark ``planned`` ({"cursor": ..., "value": {...}}, None: the
    table had none), in the caller's transaction; under the table row's lock, as
    :func:`add_pending_files`.

    Raises:
        WatermarkTaken: another extract moved the watermark since (committed), or holds a
            claim of its own (its run still running, its process not known to be gone).
        ClaimsInDoubt: an extract whose commit is in doubt claimed the rows.
        ClaimsOfEndedRuns: only claims of runs whose process is gone stand in the way.
    """
    properties = conn.execute(_LOCK_TABLE_ROW, {"b_id": table_id}).scalar()
    doubted: Mapping[str, int] = (properties or {}).get(IN_DOUBT_KEY) or {}
    row = conn.execute(
        select(WATERMARKS.c.cursor, WATERMARKS.c.value, WATERMARKS.c.run_id).where(
            WATERMARKS.c.table_id == table_id
        )
    ).first()
    if row is not None and {"cursor": row.cursor, "value": dict(row.value)} != planned:
        raise WatermarkTaken(_table_name(conn, table_id), row.run_id, committed=True)
    if doubted:
        # A run in doubt has ended (failed) but kept its prepared outcome; recorded since,
        # it is completed and its outcome applied.
        for other, stats in conn.execute(
            select(RUNS.c.id, RUNS.c.stats).where(
                RUNS.c.id.in_(list(doubted)), RUNS.c.status != "completed"
            )
        ):
            pending = (stats or {}).get("pending") or {}
            if pending.get("table_id") == table_id and "watermark_from" in pending:
                raise ClaimsInDoubt(_table_name(conn, table_id), other, doubted[other])
    running = conn.execute(
        select(RUNS.c.id, RUNS.c.stats, RUNS.c.host, RUNS.c.started_at).where(
            RUNS.c.status == "running", RUNS.c.id != run_id
        )
    ).all()
    ended = []
    for other, stats, host, started_at in running:
        pending = (stats or {}).get("pending") or {}
        if pending.get("table_id") != table_id or "watermark_from" not in pending:
            continue
        if _may_commit("running", host, stats, started_at):
            raise WatermarkTaken(_table_name(conn, table_id), other, committed=False)
        ended.append(other)
    if ended:
        raise ClaimsOfEndedRuns(ended)


def commit_pending_files(conn: CoreConnection, run_id: str, version: int) -> None:
    """Mark the run's pending ranges committed in ``version``, in the caller's transaction
    (abandoned ones too: a run taken for dead that did commit has its ranges in the table)."""
    conn.execute(_COMMIT_RANGES, {"b_run_id": run_id, "b_version": version})


# Statements of every ingest, built once (see catalog.runs: a statement built per call was
# walked for its cache key each time).
_LOCK_TABLE_ROW = (
    select(TABLES.c.properties)
    .where(TABLES.c.id == bindparam("b_id"))
    .with_for_update(key_share=True)
)
"""The table's row locked, and its properties read (the runs whose claims are in doubt)."""
_INSERT_RANGE = insert(INGESTED)
_COMMIT_RANGES = (
    update(INGESTED)
    .where(
        INGESTED.c.run_id == bindparam("b_run_id"), INGESTED.c.state.in_(("pending", "abandoned"))
    )
    .values(state="committed", version=bindparam("b_version", type_=INGESTED.c.version.type))
)


def ingested_files(
    db: Connection,
    table: TableInfo,
    uris: Sequence[str] | None = None,
    *,
    sizes: Collection[int] = (),
) -> list[IngestedFileInfo]:
    """The committed ranges of source files ingested into ``table`` (of ``uris`` only,
    when given, and then also those ending at one of ``sizes``: whole files of those sizes),
    in the order they were entered."""
    return db.core_transaction(lambda conn: ingested_files_in(conn, table.id, uris, sizes=sizes))


def ingested_files_in(
    conn: CoreConnection,
    table_id: int,
    uris: Sequence[str] | None = None,
    *,
    sizes: Collection[int] = (),
) -> list[IngestedFileInfo]:
    """:func:`ingested_files` inside a transaction of the caller's."""
    if uris is None:
        rows = conn.execute(_RANGES, {"b_table": table_id})
    else:
        rows = conn.execute(
            _RANGES_OF,
            {"b_table": table_id, "b_uris": list(uris), "b_sizes": sorted(set(sizes))},
        )
    return [IngestedFileInfo(*row) for row in rows]


# Built once (every log ingest reads its ranges): a statement built per call was walked for
# its cache key each time.
_COMMITTED_RANGES = select(
    INGESTED.c.uri,
    INGESTED.c.sha256,
    INGESTED.c.start_offset,
    INGESTED.c.end_offset,
    INGESTED.c.end_line,
    INGESTED.c.records,
    INGESTED.c.version,
).where(INGESTED.c.table_id == bindparam("b_table"), INGESTED.c.state == "committed")
_RANGES = _COMMITTED_RANGES.order_by(INGESTED.c.id)
_RANGES_OF = _COMMITTED_RANGES.where(
    or_(
        INGESTED.c.uri.in_(bindparam("b_uris", expanding=True)),
        INGESTED.c.end_offset.in_(bindparam("b_sizes", expanding=True)),
    )
).order_by(INGESTED.c.id)

PARSER_PARAMETERS = ("pattern", "preset", "multiline_start")
RECORD_FORMATS = ("jsonl", "text", "logfmt", "w3c")
"""The formats a file's records are read in (never ``auto``: each file's is recorded)."""


def ingested_parsers(
    db: Connection, table: TableInfo, uris: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """How each of ``uris`` was last read into ``table``: ``{"format"`` (one of
    :data:`RECORD_FORMATS`), ``"pattern", "preset", "multiline_start"}`` from the file
    facets and the parameters of its last committed ingest run (the preset ``--format
    auto`` chose is in the facets' ``parser``, and ``"chosen": True`` then says no run named
    it); files never ingested are absent. ``"unrecorded": True`` marks a text file read by
    a version that did not record that choice."""
    if not uris:
        return {}

    def work(conn: CoreConnection) -> dict[str, dict[str, Any]]:
        query = (
            select(INGESTED.c.uri, SOURCES.c.facets, RUNS.c.parameters)
            .select_from(INGESTED)
            .join(
                EDGES,
                (EDGES.c.run_id == INGESTED.c.run_id) & (EDGES.c.direction == "input"),
            )
            .join(SOURCES, (SOURCES.c.id == EDGES.c.source_id))
            .join(RUNS, RUNS.c.id == INGESTED.c.run_id)
            .where(
                INGESTED.c.table_id == table.id,
                INGESTED.c.state == "committed",
                INGESTED.c.uri.in_(list(uris)),
                SOURCES.c.kind == "file",
                SOURCES.c.name == INGESTED.c.uri,
            )
            .order_by(INGESTED.c.id)
        )
        out: dict[str, dict[str, Any]] = {}
        for uri, facets, parameters in conn.execute(query):
            # A format the run was told wins: a file's facets are those of its first
            # ingest with that content (a re-parse with --format reuses them).
            fmt = (parameters or {}).get("format")
            if fmt not in RECORD_FORMATS:
                fmt = (facets or {}).get("format")
            if fmt in RECORD_FORMATS:
                options = {k: (parameters or {}).get(k) for k in PARSER_PARAMETERS}
                chosen = (facets or {}).get("parser")
                # A multi-line start alone names no parser: --format auto still chose one.
                named = options["pattern"] or options["preset"]
                auto = False
                if not named and chosen is not None:
                    before = {k: (out.get(uri) or {}).get(k) for k in PARSER_PARAMETERS}
                    if chosen == "pattern" or before["preset"] == chosen:
                        # The run named no parser and kept the one an earlier run named or
                        # chose (pattern, multi-line start): the next one keeps it too.
                        options = {**before, **{k: v for k, v in options.items() if v}}
                        auto = bool((out.get(uri) or {}).get("chosen"))
                    else:
                        # --format auto chose this preset for the file (cutting its records
                        # by the start given, if any): its new lines are read with it too,
                        # not as plain text.
                        options["preset"] = chosen
                        auto = True
                # A preset auto chose reads its times as one the user named does not (a
                # European dd/MM/yy log has the shape of Spark's yy/MM/dd): say which.
                out[uri] = {"format": fmt, **options, **({"chosen": True} if auto else {})}
                if fmt == "text" and not named and "parser" not in (facets or {}):
                    # Read by a version that did not record the preset --format auto chose:
                    # how its text was parsed is not known here.
                    out[uri]["unrecorded"] = True
        return out

    return db.core_transaction(work)


def has_ingested_content(db: Connection, table: TableInfo, sha256: str) -> bool:
    """Whether a committed range of ``table`` came from a file with this sha256."""

    def work(conn: CoreConnection) -> bool:
        return (
            conn.scalar(
                select(func.count())
                .select_from(INGESTED)
                .where(
                    INGESTED.c.table_id == table.id,
                    INGESTED.c.sha256 == sha256,
                    INGESTED.c.state == "committed",
                )
            )
            or 0
        ) > 0

    return db.core_transaction(work)


# -- watermarks ------------------------------------------------------------------------------


def watermark(db: Connection, table: TableInfo) -> tuple[str, dict[str, Any]] | None:
    """(cursor column, {"type": ..., "value": ...}) of the table's last committed extract."""

    def work(conn: CoreConnection) -> tuple[str, dict[str, Any]] | None:
        row = conn.execute(
            select(WATERMARKS.c.cursor, WATERMARKS.c.value).where(WATERMARKS.c.table_id == table.id)
        ).first()
        return (row.cursor, dict(row.value)) if row else None

    return db.core_transaction(work)


def advance_watermark(
    conn: CoreConnection, table_id: int, mark: Mapping[str, Any], *, version: int, run_id: str
) -> None:
    """Set the table's watermark to ``mark`` ({"cursor": ..., "value": {...}}) reached by
    ``version``, unless a later version set it already; in the caller's transaction."""
    row = conn.execute(
        select(WATERMARKS.c.version).where(WATERMARKS.c.table_id == table_id)
    ).first()
    if row is None:
        conn.execute(
            insert(WATERMARKS).values(
                table_id=table_id,
                cursor=mark["cursor"],
                value=mark["value"],
                version=version,
                run_id=run_id,
            )
        )
    elif row.version < version:
        conn.execute(
            update(WATERMARKS)
            .where(WATERMARKS.c.table_id == table_id)
            .values(
                cursor=mark["cursor"],
                value=mark["value"],
                version=version,
                run_id=run_id,
                updated_at=utcnow(),
            )
        )


__all__ = [
    "CLAIM_EXPIRY_S",
    "IN_DOUBT_KEY",
    "IngestedFileInfo",
    "PendingFile",
    "abandon_claims",
    "add_pending_files",
    "claim_watermark",
    "advance_watermark",
    "commit_pending_files",
    "has_ingested_content",
    "ingested_files",
    "ingested_files_in",
    "ingested_parsers",
    "keep_claims_in_doubt",
    "settle_claims_in_doubt",
    "watermark",
]
