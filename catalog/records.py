"""What the catalog hands out: a table, a recorded version, a run, a training set, as plain
frozen dataclasses.

They live apart from the modules that read and write them (``catalog.tables``,
``catalog.versions``, ``catalog.runs``) so that a reader needs neither SQLAlchemy nor the
models to build them: ``catalog.reader`` answers start-up-sensitive reads with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lake.core.errors import TableLogReplaced
from lake.core.names import TableName

if TYPE_CHECKING:
    from lake.delta.snapshot import Snapshot

Totals = tuple[int | None, int | None, int | None]
"""A version's rows, files and bytes as the catalog recorded them (None: not recorded)."""

RECORDED_KEY = "recorded_by"
"""The key of a completed run's stats naming the call that recorded its version (see
``catalog.recording.record_commit``): the lake's own, never shown with the run."""


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
    versions_through: int | None = field(default=None, compare=False)
    """The newest version N with every version 0..N recorded (-1: none is) as the catalog
    kept it when this was read; None: not known (counted when asked)."""
    recorded_totals: Totals | None = field(default=None, compare=False)
    """The rows, files and bytes the catalog recorded for ``current_version``, when read with
    the table (a writer's first transaction, in the same statement); None otherwise."""

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

    @property
    def totals(self) -> Totals:
        """The rows, files and bytes the table held at this version, as recorded."""
        return (self.rows_total, self.files_total, self.bytes_total)

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("table",)}
        data["table"] = str(self.table)
        data["committed_at"] = self.committed_at.isoformat()
        return data


@dataclass(frozen=True)
class RunCursor:
    """A place in the list of runs, which is ordered by start time, latest first, then by id:
    the key of the run it follows from (stable as runs are added, unlike an offset)."""

    started_at: datetime
    run_id: str

    @classmethod
    def of(cls, run: RunInfo) -> RunCursor:
        return cls(run.started_at, run.id)

    def token(self) -> str:
        """The cursor as the API and the console hand it out: opaque, URL-safe text."""
        import base64

        text = f"{self.started_at.isoformat()}|{self.run_id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def parse(cls, token: str) -> RunCursor:
        """The cursor a :meth:`token` gave.

        Raises:
            RunCursorInvalid: the text is not a cursor of the runs' list.
        """
        import base64
        import binascii

        from catalog.exceptions import RunCursorInvalid

        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            moment, run_id = text.split("|")
            started_at = datetime.fromisoformat(moment)
            if started_at.tzinfo is not None:
                started_at = started_at.astimezone(UTC)
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
            raise RunCursorInvalid(token) from None
        if started_at.tzinfo is None or not run_id or len(run_id) > 64 or "\x00" in run_id:
            raise RunCursorInvalid(token)
        return cls(started_at, run_id)


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
            "stats": {
                k: v
                for k, v in self.stats.items()
                if k not in ("pending", "pid_namespace", RECORDED_KEY)
            },
        }


@dataclass(frozen=True)
class TrainingSetInfo:
    id: int
    name: str
    version: int
    sql: str
    content_hash: str
    row_count: int
    location: str | None
    run_id: str | None
    created_at: datetime
    manifest: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sql": self.sql,
            "content_hash": self.content_hash,
            "row_count": self.row_count,
            "location": self.location,
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat(),
            "inputs": list(self.manifest.get("inputs", [])),
        }


def check_recorded(snapshot: Snapshot, recorded: VersionInfo, name: TableName) -> None:
    """Refuse a log entry that is not the version the catalog recorded (the catalog records
    each version's rows, files and bytes from the same snapshot when it records it).

    Raises:
        TableLogReplaced: the totals differ: another table is at the location now.
    """
    _check_totals(snapshot, recorded.totals, name)


def check_base(snapshot: Snapshot, table: TableInfo) -> None:
    """Refuse to write on ``snapshot`` (the latest version a writer loaded) when it is the
    catalog's current version by number but not by its totals, as read with ``table``
    (:attr:`TableInfo.recorded_totals`): another table made at the location with as many
    versions as were recorded; or when it is older than the current version: a log never
    loses its latest version, so another table with fewer versions is there (its commit
    would take a number the catalog recorded for the old table, and the write report that
    version). A newer version passes: the sync that recorded it checked the one before it;
    so does a table read without its totals.

    Raises:
        TableLogReplaced: as :func:`check_recorded`.
    """
    current, totals = table.current_version, table.recorded_totals
    if totals is None or current is None or snapshot.version > current:
        return
    if snapshot.version == current:
        _check_totals(snapshot, totals, table.name)
        return
    raise _behind(table.name, current, totals, snapshot.version)


def check_behind(recorded: VersionInfo, latest: int, name: TableName) -> None:
    """Refuse a log whose latest version is older than ``recorded``, a version the catalog
    recorded of it: a log never loses its latest version, so another table with fewer
    versions is at the location.

    Raises:
        TableLogReplaced: naming the recorded version and the log's latest.
    """
    if latest < recorded.version:
        raise _behind(name, recorded.version, recorded.totals, latest)


def _behind(name: TableName, version: int, totals: Totals, latest: int) -> TableLogReplaced:
    return TableLogReplaced(
        table=str(name),
        version=version,
        recorded=_shown(totals),
        found=f"none: version {latest} is the latest",
    )


def _check_totals(snapshot: Snapshot, recorded: Totals, name: TableName) -> None:
    found = (snapshot.rows, len(snapshot.files), snapshot.bytes)
    if any(was is not None and was != now for was, now in zip(recorded, found, strict=True)):
        raise TableLogReplaced(
            table=str(name),
            version=snapshot.version,
            recorded=_shown(recorded),
            found=_shown(found),
        )


def _shown(totals: Totals) -> str:
    """``300 rows, 30 files, 106130 bytes`` (a total not recorded left out)."""
    return ", ".join(
        f"{value} {what}"
        for what, value in zip(("rows", "files", "bytes"), totals, strict=True)
        if value is not None
    )


__all__ = [
    "RunInfo",
    "TableInfo",
    "TrainingSetInfo",
    "VersionInfo",
    "check_base",
    "check_behind",
    "check_recorded",
]
