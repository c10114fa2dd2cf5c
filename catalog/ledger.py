"""The ingest ledger and extract watermarks: what each table has taken in from its sources.

**Ingested files.** Each range of a source file an ingest commits (byte offsets, last
line, records, the file's sha256) is entered ``pending`` when the commit is prepared and
becomes ``committed``, with the version, when the commit is recorded; only committed
ranges are listed (:func:`ingested_files`), so a commit that never happened leaves no
trace an ingest would skip.

**Watermarks.** An incremental extract's cursor column and the value it reached, moved by
the recording of the extract's commit and only forward (a later version wins).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from catalog.connection import Connection, CoreConnection
from catalog.definitions import EDGES, INGESTED, RUNS, SOURCES, WATERMARKS, utcnow
from catalog.tables import TableInfo


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


# -- ingested files --------------------------------------------------------------------------


def add_pending_files(
    conn: CoreConnection, table_id: int, run_id: str, files: Sequence[PendingFile]
) -> None:
    """Enter the ranges the run is about to commit, ``pending``, in the caller's transaction."""
    if not files:
        return
    conn.execute(
        insert(INGESTED),
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


def commit_pending_files(conn: CoreConnection, run_id: str, version: int) -> None:
    """Mark the run's pending ranges committed in ``version``, in the caller's transaction."""
    conn.execute(
        update(INGESTED)
        .where(INGESTED.c.run_id == run_id, INGESTED.c.state == "pending")
        .values(state="committed", version=version)
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
    query = select(
        INGESTED.c.uri,
        INGESTED.c.sha256,
        INGESTED.c.start_offset,
        INGESTED.c.end_offset,
        INGESTED.c.end_line,
        INGESTED.c.records,
        INGESTED.c.version,
    ).where(INGESTED.c.table_id == table_id, INGESTED.c.state == "committed")
    if uris is not None:
        wanted = INGESTED.c.uri.in_(list(uris))
        if sizes:
            wanted = or_(wanted, INGESTED.c.end_offset.in_(sorted(set(sizes))))
        query = query.where(wanted)
    rows = conn.execute(query.order_by(INGESTED.c.id))
    return [IngestedFileInfo(*row) for row in rows]


PARSER_PARAMETERS = ("pattern", "preset", "multiline_start")


def ingested_parsers(
    db: Connection, table: TableInfo, uris: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """How each of ``uris`` was last read into ``table``: ``{"format": "jsonl" | "text",
    "pattern", "preset", "multiline_start"}`` from the file facets and the parameters of its
    last committed ingest run; files never ingested are absent."""
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
            if fmt not in ("jsonl", "text"):
                fmt = (facets or {}).get("format")
            if fmt in ("jsonl", "text"):
                out[uri] = {
                    "format": fmt,
                    **{k: (parameters or {}).get(k) for k in PARSER_PARAMETERS},
                }
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
    "IngestedFileInfo",
    "PendingFile",
    "add_pending_files",
    "advance_watermark",
    "commit_pending_files",
    "has_ingested_content",
    "ingested_files",
    "ingested_files_in",
    "ingested_parsers",
    "watermark",
]
