"""The one exception root of the lake, and the errors every package shares.

Every error a user can act on derives from :class:`LakeError`. Its message is one
sentence that says what went wrong, where, and what to do about it. Driver errors
(SQLAlchemy, DuckDB, delta-rs, botocore) never reach a user untranslated: the
package that calls the driver re-raises one of these ``from`` the original, and the
command line turns a ``LakeError`` into one line and exit code 1 in one place.

Stage packages (``ingest``, ``queries``) keep their own errors in their own
``exceptions.py``, derived from the classes here.
"""

from __future__ import annotations


class LakeError(Exception):
    """Root of every error the lake raises on purpose.

    Its message is one sentence on one line: a line break or another control character that
    user text brought in (a name, a run id, a path echoed back) is shown escaped, in every
    face at once (the CLI's line, the HTTP service's ``error``), rather than each message
    quoting what it echoes."""

    def __str__(self) -> str:
        return one_line(super().__str__())


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``): a message quoting a file
    name or a driver's output stays one line and cannot drive a terminal."""
    return "".join(
        ch
        if ch >= " " and ch != "\x7f" or ch == "\t"
        else {"\n": "\\n", "\r": "\\r"}.get(ch, f"\\x{ord(ch):02x}")
        for ch in text
    )


class ConfigError(LakeError):
    """A setting is missing, malformed or contradictory."""


class NoLakeHere(ConfigError):
    """No lake is named here: no flag, no ``LAKE_*`` variable, no ``lake.toml`` up the folders."""


class InvalidName(LakeError):
    """A table, namespace or column name that the lake refuses."""


class StorageError(LakeError):
    """The warehouse (local folder or S3) could not be read or written."""


class StorageUnreachable(StorageError):
    """The warehouse's server did not answer or refused the credentials."""


class UnsupportedLocation(StorageError):
    """A location the lake's readers (deltalake, pyarrow, DuckDB) would not agree on, so one
    of them would read other objects or none (see :func:`lake.core.config.location_problem`)."""


class CommitInDoubt(StorageError):
    """A commit's outcome is unknown: the storage may have stored it (its answer was lost)
    and could not be asked. The writer stops instead of committing again (which would make
    the version twice); ``lake catalog sync`` records the version if it is the run's.

    Keeps ``table``, ``version``, ``reason`` (what failed) and ``unanswered`` (the entry's
    PUT got no answer and the entry was not there when read back: it may still land), and
    builds its sentence from them."""

    def __init__(self, *, table: str, version: int, reason: str, unanswered: bool = False) -> None:
        self.table, self.version, self.reason = table, version, reason
        self.unanswered = unanswered
        said = f"{reason[:1].lower()}{reason[1:]}"
        what = (
            f"its log entry's PUT got no answer ({said}) and the entry was not there when "
            "read back, but the PUT may still land"
            if unanswered
            else f"its log entry was stored or refused, and reading it back failed ({said})"
        )
        super().__init__(
            f"The commit of version {version} of {table} is in doubt: {what}; once the "
            f"storage answers, run `lake catalog sync {table}` (it records the version if "
            f"this run made it) and check `lake history {table}` before running the write "
            f"again."
        )

    def naming(self, table: str) -> CommitInDoubt:
        """The same doubt with the table called ``table`` (its catalog name)."""
        return CommitInDoubt(
            table=table, version=self.version, reason=self.reason, unanswered=self.unanswered
        )


class CatalogError(LakeError):
    """The catalog database could not do what was asked."""


class CatalogUnreachable(CatalogError):
    """The catalog's database server did not answer or refused the login."""


class CatalogOutdated(CatalogError):
    """The catalog's schema is older or newer than this version of the lake expects."""


class CommitConflict(LakeError):
    """Another writer won a race, and retrying did not help."""


class TableNotFound(LakeError):
    """No table of that name is in the catalog."""


class TableLogGone(TableNotFound):
    """The catalog records versions of a table whose Delta log is no longer in the warehouse
    (its folder was deleted or moved behind the lake's back). Names the table, never its
    location: the message may reach an HTTP client."""

    def __init__(self, *, table: str, recorded_through: int | None) -> None:
        self.table, self.recorded_through = table, recorded_through
        super().__init__(
            f"The Delta log of {table} is gone from the warehouse although the catalog records "
            f"its versions through {recorded_through}: restore the table's folder from a "
            f"backup, then run `lake catalog sync {table}`."
        )


class TableLogReplaced(TableNotFound):
    """A version in the table's Delta log is not the one the catalog recorded: another table
    was made at its location (the folder deleted and written again behind the lake's back),
    or the store broke the commit protocol (a conditional PUT that let two writers make one
    version: the S3 test server did, until tests/s3_server.py made it atomic).
    Reading it would answer with other rows under the recorded version's name, lineage and
    pins. Names the table, never its location."""

    def __init__(self, *, table: str, version: int, recorded: str, found: str) -> None:
        self.table, self.version = table, version
        super().__init__(
            f"Version {version} of {table} in its Delta log is not the one the catalog "
            f"recorded ({recorded} recorded, {found} in the log): another table was made at "
            f"its location, or the store let two writers make that version (an S3 store "
            f"without atomic conditional writes); restore the table's folder from a backup, "
            f"or move the new table to a location of its own and register it there under a "
            f"new name (lake table register NAME LOCATION): the catalog keeps the location "
            f"for {table}."
        )


class TableExists(LakeError):
    """A table of that name already exists."""


class VersionNotFound(LakeError):
    """The requested version of a table does not exist, or no longer exists."""


class VersionLogCleaned(VersionNotFound):
    """The version's log entry is gone: its writer cleaned up the Delta log before the oldest
    version the log can still rebuild (another engine's log retention). Built naming the
    table's location; :meth:`of_table` names the table (what a user knows it by)."""

    def __init__(self, *, where: str, version: int, oldest: int, latest: int) -> None:
        self.where, self.version, self.oldest, self.latest = where, version, oldest, latest
        super().__init__(
            f"Version {version} of {where} can no longer be read: its writer cleaned up the "
            f"Delta log before version {oldest} (log retention); {self.remedy}"
        )

    @property
    def remedy(self) -> str:
        """What to do, as the sentence's end."""
        readable = (
            f"only version {self.latest} can be read: read it"
            if self.oldest == self.latest
            else f"versions {self.oldest} to {self.latest} can be read: read one of those"
        )
        return f"{readable}, or put the cleaned-up log entries back from a backup."

    def of_table(self, table: str) -> VersionLogCleaned:
        """The same refusal naming the table ``table`` instead of its location."""
        return VersionLogCleaned(
            where=table, version=self.version, oldest=self.oldest, latest=self.latest
        )


class VersionVacuumed(VersionNotFound):
    """The version existed, but its data files were removed by vacuum."""


class SchemaConflict(LakeError):
    """New data does not fit the table's schema, and the lake will not widen it silently."""


class TypeNotStorable(SchemaConflict):
    """A column's type, or one of its values, has no exact form in a Delta table."""

    def __init__(self, message: str, *, column: str) -> None:
        super().__init__(message)
        self.column = column


class UnsupportedTableFeature(LakeError):
    """A Delta table (written by another engine) uses a feature the lake cannot read
    correctly, so it refuses rather than return wrong rows."""


class ConstraintViolation(SchemaConflict):
    """Rows a write would add break what the Delta table requires of every row (its CHECK
    constraints, column invariants, NOT NULL or generated columns): nothing is committed."""


class PartitionValueInvalid(LakeError):
    """A Delta log gives a file a partition value that is not a value of its column's type
    (the protocol's text of one): the engine that wrote the entry broke the protocol, and no
    reader can open that version."""


class ExternalTable(LakeError):
    """The table was registered from another engine's Delta table: the lake does not write
    to it, and touches its files only when told it owns them."""
