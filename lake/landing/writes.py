"""Writes that are no stage of their own: Arrow data from Python, and compaction.

``write_table`` lands data produced in Python (labels from user feedback, features) under
the strict policy: columns may be added, a column's type never changes on append (cast the
data, or overwrite). ``optimize`` compacts small files into large ones. Both go through
the one landing path (:mod:`lake.landing.commits`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Literal

from catalog.catalog import Catalog
from catalog.edges import SourceRef
from catalog.tables import TableInfo
from catalog.versions import VersionInfo
from lake.core.errors import ConfigError
from lake.core.names import TableName
from lake.core.storage import Storage
from lake.delta.store import DeltaStore
from lake.delta.types import storable_schema
from lake.landing.commits import TableRun, send_ahead
from lake.landing.sync import sync_table

if TYPE_CHECKING:
    import pyarrow as pa

WriteMode = Literal["append", "overwrite"]


def write_table(
    catalog: Catalog,
    storage: Storage,
    name: TableName,
    data: pa.Table | pa.RecordBatchReader,
    *,
    mode: WriteMode = "append",
    kind: str = "arrow",
    source: str | None = None,
) -> VersionInfo:
    """Land Arrow data as one new version of table ``name`` (created on first write).

    Raises:
        ConfigError: ``mode`` is neither ``append`` nor ``overwrite``.
        TypeNotStorable: a column has no Delta type (nothing is created or committed).
        SchemaConflict: the data changes the type of a column the table has.
    """
    if mode not in ("append", "overwrite"):
        raise ConfigError(f"mode must be 'append' or 'overwrite', not {mode!r}.")
    # Before the table is created: a refused first write leaves no trace.
    storable_schema(data.schema)
    inputs = [SourceRef(kind="external", namespace="python", name=source)] if source else []
    store = DeltaStore(storage.table_uri(name.namespace, name.name), storage)
    with contextlib.ExitStack() as cleanup:
        # On S3 an append's data goes up while the catalog's first transaction runs.
        ahead = (
            send_ahead(store, data, policy="strict", cleanup=cleanup) if mode == "append" else None
        )
        with TableRun.begin(
            catalog,
            storage,
            name,
            table_kind=kind,
            kind="write",
            parameters={"mode": mode},
            inputs=inputs,
            store=store,
        ) as run:
            # Commits of writers that died before recording them, recorded before this one's.
            sync_table(catalog, run.store, run.table, reap=False)  # the run's start reaped
            # Rows added and removed are the files' counts (the catalog reads them off the
            # log).
            landed = run.land(
                data,
                policy="strict",
                mode=mode,
                operation=mode.upper(),
                source=source or "python",
                ahead=ahead,
            )
    return landed.version


def optimize(
    catalog: Catalog, storage: Storage, info: TableInfo, *, owned: bool = False
) -> VersionInfo | None:
    """Compact a table's small files into large ones (a new version with the same rows);
    None when there was nothing to compact. An external table only when ``owned``.

    Raises:
        ExternalTable: an external table, not ``owned``.
    """
    from lake.landing.register import check_owned

    check_owned(info, owned=owned, doing="optimize")
    store = DeltaStore(info.location, storage)
    sync_table(catalog, store, info, reap=False)  # the run's start reaps
    with TableRun.start(catalog, store, info, kind="optimize", parameters={}) as run:
        return run.compact()
