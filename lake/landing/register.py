"""Delta tables written by other engines (Spark, Databricks, delta-rs, Flink...), registered
in the catalog as they are: ``lake table register NAME LOCATION``.

The rules:

* The table stays where it is and belongs to its writer. The catalog records it (kind
  ``external``) with every version its Delta log can still rebuild, and
  :func:`lake.landing.sync.sync_table` records the versions its writer commits later, as for
  any table. Versions the writer's log retention cleaned up are never recorded; asking for one
  says which versions can be read.
* The lake reads it through the same path as its own tables (exact files of one version),
  with partition values decoded as the Delta protocol writes them, column mapping (mode
  ``name``) applied and the rows deletion vectors delete left out. A version whose files
  cannot be read without returning wrong rows (column mapping by id or inside nested columns,
  an unknown reader feature) is refused in one sentence naming the feature
  (:meth:`DeltaStore.check_readable`).
* The lake never writes to it: ingests and ``write_table`` into it are refused. Vacuum and
  optimize touch its files only when the user says the lake owns it (``--owned``); they then
  commit to its log under the table's own protocol.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from catalog.catalog import Catalog
from catalog.tables import EXTERNAL_KIND, TableInfo
from lake.core.config import location_problem
from lake.core.errors import ExternalTable, TableExists, TableNotFound, UnsupportedLocation
from lake.core.names import TableName
from lake.core.storage import Storage
from lake.delta.store import DeltaStore
from lake.landing.sync import OLDEST_KEY, sync_table


@dataclass(frozen=True)
class Registered:
    """What ``lake table register`` did."""

    table: TableInfo
    oldest: int
    """The oldest version its log can rebuild (earlier ones were cleaned up by its writer)."""
    latest: int
    recorded: tuple[int, ...]
    """Versions recorded by this registration (empty when it was registered already)."""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.table.to_json(),
            "oldest_version": self.oldest,
            "latest_version": self.latest,
            "recorded": list(self.recorded),
        }


def register_table(
    catalog: Catalog, storage: Storage, name: TableName, location: str
) -> Registered:
    """Record the Delta table at ``location`` (a folder or ``s3://`` prefix) as ``name``.

    Registering the same location under the same name again only records new versions.

    Raises:
        TableNotFound: no Delta table is at ``location``.
        TableExists: ``name`` is taken, or the location is already in the catalog.
        UnsupportedLocation: the lake's readers would not agree on what the location names
            (it holds '%' and two hex digits, '?' or '#'; on S3 '[', ']', '*' or an empty or
            dot segment).
        UnsupportedTableFeature, StorageError: its latest version cannot be read correctly
            (a feature the lake does not read, a broken deletion vector); nothing is recorded.
    """
    uri = normalized_location(location)
    problem = location_problem(uri)
    if problem:
        what, avoid = problem
        raise UnsupportedLocation(
            f"The location {uri} {what}; move the table to a location without {avoid}."
        )
    store = DeltaStore(uri, storage, name=str(name))
    if not store.exists():
        raise TableNotFound(
            f"No Delta table at {uri}: give the folder (or s3:// prefix) that holds its _delta_log."
        )
    store.snapshot()  # its latest version must read correctly before anything is recorded
    oldest = store.oldest_version()
    existing = catalog.find_table(name)
    if existing is not None and not (existing.kind == EXTERNAL_KIND and existing.location == uri):
        raise TableExists(
            f"Table {name} already exists (a {existing.kind} table at {existing.location}); "
            "register the Delta table under another name."
        )
    if existing is None:
        for other in catalog.list_tables():
            if other.location.rstrip("/") == uri:
                raise TableExists(
                    f"The Delta table at {uri} is already in the catalog as {other.name}."
                )
    info = existing or catalog.create_table(
        name, kind=EXTERNAL_KIND, location=uri, properties={OLDEST_KEY: oldest}
    )
    result = sync_table(catalog, store, info)
    info = catalog.get_table(name)
    return Registered(
        info,
        int(info.properties.get(OLDEST_KEY, oldest)),
        result.latest if result.latest is not None else -1,
        result.recorded,
    )


def normalized_location(location: str) -> str:
    """A table location as the catalog keeps it: ``s3://bucket/prefix`` or an absolute path
    (a ``file://`` URL unescaped), without a trailing slash."""
    text = location.strip()
    if text.startswith("s3://") or text.startswith("s3a://"):
        return "s3://" + text.split("://", 1)[1].rstrip("/")
    if text.startswith("file://"):
        # A URL's path is escaped: file:///x/a%20b is the folder "a b" (deltalake prints
        # a table's URI so).
        text = unquote(urlsplit(text).path)
    return os.path.abspath(os.path.expanduser(text)).rstrip("/") or "/"


def check_owned(table: TableInfo, *, owned: bool, doing: str) -> None:
    """Refuse to ``doing`` (e.g. "vacuum") an external table the user did not say the lake
    owns.

    Raises:
        ExternalTable: naming the table and how to go on.
    """
    if table.kind == EXTERNAL_KIND and not owned:
        raise ExternalTable(
            f"Table {table.name} is an external Delta table (registered from "
            f"{table.location}); the lake will not {doing} it unless you say it owns the table "
            "(--owned), since its writer may still need the files."
        )
