"""Errors of the ingest stage (raw logs and database extracts)."""

from __future__ import annotations

import functools
from datetime import datetime

from lake.core.errors import LakeError


class IngestError(LakeError):
    """An ingest could not be completed; the table stays at its last good version."""


class SourceNotFound(IngestError):
    """A path, glob or prefix given to an ingest matched nothing."""


class SourceUnreadable(IngestError):
    """A source file exists but cannot be read (permissions, truncated compression, a loop)."""


class SourceChanged(SourceUnreadable):
    """A source file changed while it was being read, so what was read is not one content."""


class ExtractError(IngestError):
    """A database extract failed."""


class SourceUnreachable(ExtractError):
    """The source database did not answer, or refused the login."""


# --- Database extracts (ingest/dbsource.py and friends) ---------------------------------------
# Each error keeps the offending values as attributes and builds its one-sentence message from
# them. None of them ever holds a password: sources are named by `describe_source`-style text.


class InvalidSourceUrl(ExtractError):
    """The --source value is not a SQLAlchemy URL the extractor can use."""

    def __init__(self, *, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"The source URL is not usable ({reason}); give a SQLAlchemy URL such as "
            "postgresql+psycopg2://user:password@host:5432/db, mysql+pymysql://user@host/db "
            "or sqlite:///path/to/file.db."
        )


class UnsupportedSource(ExtractError):
    """The URL names a database the extractor does not read."""

    def __init__(self, *, dialect: str) -> None:
        self.dialect = dialect
        super().__init__(
            f"Extracting from '{dialect}' databases is not supported; use a PostgreSQL "
            "(postgresql+psycopg2://), MySQL/MariaDB (mysql+pymysql://) or SQLite (sqlite:///) URL."
        )


class DriverMissing(ExtractError):
    """The Python driver a source needs is not installed."""

    def __init__(self, *, driver: str, package: str) -> None:
        self.driver = driver
        self.package = package
        super().__init__(
            f"The database driver '{driver}' is not installed; install it with "
            f"`pip install {package}` (or use a URL whose driver is installed)."
        )


class SourceLoginRefused(SourceUnreachable):
    """The source database refused the user name or password."""

    def __init__(self, *, source: str, user: str | None, detail: str = "") -> None:
        self.source = source
        self.user = user
        self.detail = detail
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"The source {source} refused the login of user '{user or ''}'{why}; "
            "check the user name and password in the URL."
        )


class SourceDatabaseMissing(SourceUnreachable):
    """The server answered, but the database named in the URL does not exist."""

    def __init__(self, *, source: str, database: str | None, detail: str = "") -> None:
        self.source = source
        self.database = database
        self.detail = detail
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"The database '{database or ''}' does not exist at {source}{why}; "
            "check the database name (or file path) at the end of the URL."
        )


class SourceTableMissing(ExtractError):
    """The --table named does not exist in the source database."""

    def __init__(self, *, source: str, table: str, suggestions: list[str]) -> None:
        self.source = source
        self.table = table
        self.suggestions = suggestions
        hint = (
            f"did you mean {', '.join(repr(s) for s in suggestions)}?"
            if suggestions
            else "list the source's tables and check the spelling and case."
        )
        super().__init__(f"No table or view '{table}' in {source}; {hint}")


class SourceQueryFailed(ExtractError):
    """The source database refused a query (SQL error, permission, lost connection)."""

    def __init__(self, *, source: str, detail: str) -> None:
        self.source = source
        self.detail = detail
        super().__init__(
            f"The source {source} refused the extract query: {detail}; fix the SQL or the table "
            f"name and retry."
        )


class SourceQueryRefused(ExtractError):
    """An extract query is not one query statement; nothing was sent to the source."""

    def __init__(self, *, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"The extract query was refused before it reached the source: {reason}; give one "
            f"SELECT statement (without ';' inside) in --query."
        )


class CursorColumnMissing(ExtractError):
    """The --cursor column is not among the extracted columns."""

    def __init__(self, *, column: str, available: list[str]) -> None:
        self.column = column
        self.available = available
        super().__init__(
            f"The cursor column '{column}' is not in the extracted columns "
            f"({', '.join(available)}); pass one of them to --cursor."
        )


class CursorColumnInvalid(ExtractError):
    """The cursor column cannot order rows, or does not match the stored watermark."""

    def __init__(self, *, column: str, reason: str) -> None:
        self.column = column
        self.reason = reason
        super().__init__(f"The cursor column '{column}' cannot be used: {reason}.")


class CursorHasNulls(ExtractError):
    """Rows with a NULL cursor could never be picked up by an incremental extract."""

    def __init__(self, *, column: str, source: str) -> None:
        self.column = column
        self.source = source
        super().__init__(
            f"The cursor column '{column}' holds NULLs in {source}, and such rows would never be "
            "extracted incrementally; fill them (or pick a NOT NULL column, or filter them out in "
            "a --query) and retry."
        )


class CursorHasNaN(ExtractError):
    """A NaN cursor has no place in a watermark's order: Postgres sorts it above every
    number, and a comparison with it is false, so such a row would be read and dropped."""

    def __init__(self, *, column: str, source: str) -> None:
        self.column = column
        self.source = source
        super().__init__(
            f"The cursor column '{column}' holds NaN in {source}, which no watermark can "
            "order, so such rows would never be extracted incrementally; replace them (or "
            "filter them out in a --query) and retry."
        )


class BoundaryColumnsMissing(ExtractError):
    """An incremental extract without a key cannot match the rows at its watermark: the
    source dropped a column their fingerprints cover."""

    def __init__(self, *, cursor: str, missing: list[str]) -> None:
        self.cursor, self.missing = cursor, missing
        names = ", ".join(f"'{c}'" for c in missing)
        super().__init__(
            f"The rows at the watermark on '{cursor}' were recorded with column(s) {names}, "
            f"which the source no longer has, so they could be delivered twice; give --key, or "
            f"run one extract with --mode full."
        )


class BoundaryFingerprintsOutdated(ExtractError):
    """An incremental extract without a key met a row at its watermark that the stored
    watermark, made by an older version that read some columns differently, cannot tell
    from a row already delivered."""

    def __init__(self, *, cursor: str, columns: list[str]) -> None:
        self.cursor, self.columns = cursor, columns
        names = ", ".join(f"'{c}'" for c in columns)
        super().__init__(
            f"The watermark on '{cursor}' was stored by an older version that read column(s) "
            f"{names} less exactly, so rows at it could be delivered twice; run one extract "
            f"with --mode full, or give --key."
        )


class KeyColumnMissing(ExtractError):
    """A --key column is not among the extracted columns."""

    def __init__(self, *, columns: list[str], available: list[str]) -> None:
        self.columns = columns
        self.available = available
        super().__init__(
            f"The key column(s) {', '.join(columns)} are not in the extracted columns "
            f"({', '.join(available)}); fix --key."
        )


class DuplicateKey(ExtractError):
    """The rows extracted hold the same --key more than once, so merging by it is ambiguous."""

    def __init__(
        self, *, key: list[str], examples: list[tuple[object, ...]], duplicated: int
    ) -> None:
        self.key = key
        self.examples = examples
        self.duplicated = duplicated
        shown = ", ".join(repr(e[0] if len(e) == 1 else e) for e in examples)
        super().__init__(
            f"The key ({', '.join(key)}) is not unique in the extracted rows: {duplicated} "
            f"value(s) occur more than once, e.g. {shown}; choose a unique --key (often the "
            "primary key)."
        )


class KeyEqualOnlyInSource(ExtractError):
    """Extracted keys equal stored keys under the source's comparison of the key (a MySQL
    ``_ci`` or PAD SPACE collation, Postgres ``citext``) but not byte for byte: the source's
    one row ('a' renamed 'A') would be two rows after a merge by bytes."""

    def __init__(
        self,
        *,
        table: str,
        key: list[str],
        comparisons: list[str],
        examples: list[tuple[object, object]],
    ) -> None:
        self.table = table
        self.key = key
        self.examples = examples
        shown = ", ".join(f"{new!r} (stored as {old!r})" for new, old in examples)
        super().__init__(
            f"The key ({', '.join(key)}) of {table} compares by {', '.join(comparisons)} in the "
            f"source, where extracted key(s) {shown} equal keys the table holds, which differ "
            "byte for byte, so a merge would keep one source row as two; nothing was "
            "committed: run this extract once with --mode full, which takes the source's rows "
            "as they are."
        )


class KeyHasNulls(ExtractError):
    """A --key column holds NULL, which cannot identify a row."""

    def __init__(self, *, key: list[str], column: str) -> None:
        self.key = key
        self.column = column
        super().__init__(
            f"The key column '{column}' holds NULLs in the extracted rows, so rows cannot be "
            f"merged by ({', '.join(key)}); choose NOT NULL key columns."
        )


class SourceValueUnsupported(ExtractError):
    """A source value has no lossless Arrow form under the column's mapped type."""

    def __init__(self, *, column: str, value: str, reason: str) -> None:
        self.column = column
        self.value = value
        self.reason = reason
        super().__init__(
            f"Column '{column}' holds {value}, which {reason}; cast or filter it in a --query "
            "(see docs/types.md) and retry."
        )


class RayIngestError(IngestError):
    """Ray is not installed, the cluster cannot be reached, or an ingest task died for good."""


class LogFormatError(IngestError):
    """The options describing a log format are invalid (a bad regex, an unknown preset)."""


class YearUnsure(IngestError):
    """A log file's times have no year, and its last modification is no evidence of one: its
    newest such time is long before that modification (a copy, download or upload sets it).

    ``newest`` is that time read in the year the modification gave; ``modified`` the
    modification (None: the file has none, and the ingest's start stood in for it)."""

    def __init__(
        self, *, uri: str, newest: datetime, modified: datetime | None, base: datetime
    ) -> None:
        self.uri, self.newest, self.modified, self.base = uri, newest, modified, base
        days = (base - newest).days
        when = (
            f"the file's last modification ({base:%Y-%m-%d %H:%M} UTC)"
            if modified is not None
            else f"this ingest ({base:%Y-%m-%d %H:%M} UTC; the file has no modification time)"
        )
        super().__init__(
            f"The log file '{uri}' has times without a year, and its newest, "
            f"'{newest:%b %d %H:%M:%S}' (read as {newest:%Y}), is {days} days before {when}, "
            "so the file was copied, downloaded or uploaded after it was written and its "
            "year is not sure: nothing was ingested; give --year (ingest this file on its own "
            "if other files are of other years)."
        )

    def __reduce__(self) -> tuple[object, tuple[()]]:
        # Crosses a process (a Ray task's outcome) by its values: the default pickle calls
        # __init__ with the message alone.
        return (
            functools.partial(
                type(self), uri=self.uri, newest=self.newest, modified=self.modified, base=self.base
            ),
            (),
        )
