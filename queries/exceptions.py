"""Errors of the SQL layer (``lake sql``, ``Lake.sql``).

Every failure of a query is a :class:`QueryError`: one sentence that says what went wrong
and, when the database says where, the line and column of the user's own query text (not
of the rewritten text DuckDB saw). Version errors are also the lake's version errors, so
``except VersionNotFound`` works the same for ``lake describe`` and for SQL.
"""

from __future__ import annotations

from lake.core.errors import (
    LakeError,
    StorageError,
    TableNotFound,
    VersionNotFound,
    VersionVacuumed,
)


class QueryError(LakeError):
    """A query could not be run; nothing was changed."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        super().__init__(message)


class QuerySyntaxError(QueryError):
    """The query is not valid SQL (or uses a form the lake does not read)."""


class UnknownTable(QueryError, TableNotFound):
    """A name in FROM is neither a lake table, a CTE nor a DuckDB object."""


class QueryInvalid(QueryError):
    """DuckDB refused the query while binding it: an unknown column, function or type."""


class QueryFailed(QueryError):
    """The query started but failed: a conversion, a division by zero, an unreadable file."""


class QueryRefused(QueryError):
    """Read-only mode refused the statement or the file it tried to reach."""


class QueryTimeout(QueryError):
    """The query ran longer than its time limit and was interrupted."""


class TimeTravelError(QueryError, VersionNotFound):
    """A time-travel clause names a version that does not exist, or a time before the table."""


class VacuumedVersion(TimeTravelError, VersionVacuumed):
    """The version exists in the log, but vacuum deleted its data files."""


class DataFileUnreadable(StorageError):
    """A data file of a table version the query reads is in the warehouse's listing but could
    not be read (damaged, or its storage failed): the lake's fault, not the query's. Names
    the table version and the file within the table, never the warehouse's location."""


class OutputError(QueryError):
    """The result could not be written in the requested format or place."""


# -- training sets (queries/training.py) -------------------------------------------------------


class TrainingSetError(LakeError):
    """A training set could not be materialized, rebuilt or verified."""


class ManifestError(TrainingSetError):
    """A manifest (``.lake/manifest.json``) is missing, unreadable or not a training set's."""


class OutputFolderNotEmpty(TrainingSetError):
    """The output folder holds files that are not a training set's: the lake will not delete
    them."""


class NotReproducible(TrainingSetError):
    """The query cannot give the same rows twice (a LIMIT without ORDER BY, random(), now())."""


class RebuildMismatch(TrainingSetError):
    """A rebuild from the recorded versions did not give the recorded content."""

    def __init__(self, message: str, *, differences: tuple[str, ...] = ()) -> None:
        self.differences = differences
        super().__init__(message)


# -- the Ray engine (queries/ray_engine.py) ----------------------------------------------------


class RayEngineRefused(QueryRefused):
    """The query has a part the Ray engine cannot split across tasks; the local engine runs it."""


class RayEngineError(QueryError):
    """Ray is not installed, the cluster cannot be reached, or a task died."""
