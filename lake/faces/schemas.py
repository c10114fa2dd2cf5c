"""The shapes of the lake's JSON answers, as pydantic models: one per kind of thing.

The HTTP service declares them as its response models (so ``/openapi.json`` types every
answer and a client generator gets real classes), and the command line's ``--output json``
prints the same shapes: both are built from the same ``to_json()`` of the catalog's records,
and the tests validate what each face prints against these models. Times are ISO 8601 with
an offset (``2026-12-04T22:47:30.123456+00:00``); every version (a table's, a training set's,
a model's) is an integer. Objects may carry more fields than listed (new ones are added, none
removed): clients keep what they do not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class Health(_Shape):
    status: Literal["ok"]


class Table(_Shape):
    """A table with its current version's size."""

    table: str = Field(description="namespace.table")
    kind: str = Field(description="logs, extract or arrow: how its data lands.")
    format: str
    location: str = Field(description="The Delta table's folder or s3:// URI.")
    created_at: datetime
    current_version: int | None
    rows: int | None = Field(description="Rows at the current version.")
    bytes: int | None = Field(description="Bytes of data files at the current version.")
    files: int | None = None
    last_write: datetime | None = Field(
        default=None, description="When the current version was committed."
    )


class TableVersion(_Shape):
    """One recorded version of a table: what changed and which run made it."""

    table: str
    version: int
    committed_at: datetime
    operation: str
    run_id: str | None
    rows_added: int | None
    rows_removed: int | None
    rows_changed: int | None = None
    files_added: int | None = None
    files_removed: int | None = None
    bytes_added: int | None = None
    rows_total: int | None
    files_total: int | None
    bytes_total: int | None
    schema_id: int | None = None


class Column(_Shape):
    name: str
    type: str
    nullable: bool


class SchemaChange(_Shape):
    """One entry of the drift ledger."""

    version: int
    column: str
    change: str = Field(description="added, widened, conflict...")
    old_type: str | None
    new_type: str | None
    source: str | None
    line: int | None
    detail: str | None = None


class TableSchema(_Shape):
    table: str
    version: int | None
    columns: list[Column]
    history: list[SchemaChange] | None = None


class VersionRead(_Shape):
    """A table version a training set read."""

    table: str
    version: int
    committed_at: datetime | None = None


class TrainingSet(_Shape):
    name: str
    version: int
    sql: str
    content_hash: str
    row_count: int
    location: str | None
    run_id: str | None
    created_at: datetime
    inputs: list[VersionRead]


class Manifest(_Shape):
    """A training set's ``lake-manifest.json``."""

    format: str
    name: str
    version: int
    sql: str
    inputs: list[VersionRead]
    row_count: int
    content_hash: str
    files: list[dict[str, Any]]
    created_at: datetime | None = None


class Model(_Shape):
    name: str
    version: int
    training_set: str | None = Field(description="name@version of the training set.")
    uri: str | None
    metrics: dict[str, Any]
    run_id: str | None
    created_at: datetime


class Run(_Shape):
    run_id: str
    kind: str
    job: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    parameters: dict[str, Any]
    user: str | None
    host: str | None
    code_version: str | None
    error: str | None
    stats: dict[str, Any]


class Dataset(_Shape):
    """A dataset version a run read or wrote, named as in OpenLineage."""

    namespace: str
    name: str
    facets: dict[str, Any] = {}


class RunLineage(Run):
    inputs: list[Dataset]
    outputs: list[Dataset]


class RecordedEvent(_Shape):
    run_id: str
    status: str
    inputs: list[Any]
    outputs: list[Any]


class Impact(_Shape):
    """Everything downstream of a table version or a source."""

    origin: dict[str, Any]
    rule: str
    table_versions: list[dict[str, Any]]
    training_sets: list[dict[str, Any]]
    models: list[dict[str, Any]]
    runs: list[dict[str, Any]]


class Audit(_Shape):
    """The chain behind a model: training set, table versions, runs, sources."""

    model: dict[str, Any]
    training_set: dict[str, Any] | None
    sources_listed: bool
    inputs_complete: bool = Field(
        description="False when some run's lake inputs lie too many levels up to be listed "
        "(that run's entry says inputs_truncated)."
    )
    rule: str


class _Page(_Shape):
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page; null on the last.")


class TablePage(_Page):
    items: list[Table]


class VersionPage(_Page):
    items: list[TableVersion]


class SchemaChangePage(_Page):
    items: list[SchemaChange]


class TrainingSetPage(_Page):
    items: list[TrainingSet]


class ModelPage(_Page):
    items: list[Model]


class RunPage(_Shape):
    """Runs, latest started first; the pages beside this one by cursor."""

    items: list[Run]
    limit: int
    next_cursor: str | None = Field(
        description="Ask for ?after=<this> for the older runs past this page; null when none "
        "is left. Runs started meanwhile shift no page."
    )
    previous_cursor: str | None = Field(
        description="Ask for ?before=<this> for the newer runs before this page; null when "
        "none is left."
    )
    offset: int | None = Field(
        description="Deprecated: the offset this page started at (null for a cursor's page)."
    )
    next_offset: int | None = Field(
        description="Deprecated (runs started meanwhile shift offset pages; use next_cursor): "
        "the offset of the next page; null on the last and for a cursor's page."
    )


class Error(_Shape):
    error: str = Field(description="One sentence: what went wrong, where, and what to do.")
