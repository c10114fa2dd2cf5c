"""Every DuckDB database the lake opens is opened here, with the same settings.

Every database gets:

* nothing installed or loaded on its own (``autoinstall_known_extensions`` and
  ``autoload_known_extensions`` off): extensions come from their PyPI wheels and are loaded
  where they are needed (:meth:`lake.core.storage.Storage.configure_duckdb` loads httpfs
  and the S3 secret for a database that reads the warehouse);
* times without an offset read as UTC (``SET GLOBAL TimeZone``, so its cursors too), the
  rule everywhere in the lake; DuckDB's own default is the host's zone;
* no progress bar: DuckDB draws it on stdout, into the CSV or JSON a command writes there.

What differs by use is asked for by name: ``threads``; ``memory_limit`` with
``temp_directory``, where DuckDB spills beyond the limit; ``external_access=False`` (no
file, network or extension from the start); ``persistent_secrets=False``.

Arrow data goes to DuckDB through :func:`arrow_view`, never ``register`` of a pyarrow object
(the reason is in its docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

SETTINGS = "SET GLOBAL TimeZone = 'UTC'; SET enable_progress_bar = false"


def connect(
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    external_access: bool = True,
    persistent_secrets: bool = True,
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB database with the lake's settings (see the module docstring).

    Raises:
        duckdb.Error: untranslated; the caller knows what the database was for and says so.
    """
    import duckdb

    config: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    if threads is not None:
        config["threads"] = threads
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    if not external_access:
        config["enable_external_access"] = False
    if not persistent_secrets:
        config["allow_persistent_secrets"] = False
    connection = duckdb.connect(config=config)
    try:
        connection.execute(SETTINGS)
    except duckdb.Error:
        connection.close()
        raise
    return connection


def execute_on_text(
    connection: duckdb.DuckDBPyConnection, template: str, value: str
) -> duckdb.DuckDBPyConnection:
    """``connection.execute`` of ``template`` (which holds one ``{}``) with ``value`` in place
    of the ``{}`` as a string literal: the same string a bound parameter would pass.

    A query with parameters makes DuckDB 1.5.5's Python client import pandas (to ask whether
    each value is a pandas one): 0.15-0.25 s of a process that has no other use for it, such
    as each read-only query's worker. A text holding NUL, which no literal can hold, is still
    bound as a parameter.

    Raises:
        duckdb.Error: untranslated, as ``execute``.
    """
    from lake.core.quoting import quote_literal

    if "\x00" in value:
        return connection.execute(template.format("?"), [value])
    return connection.execute(template.format(quote_literal(value)))


@contextmanager
def arrow_view(
    connection: duckdb.DuckDBPyConnection, name: str, data: pa.Table | pa.RecordBatchReader
) -> Iterator[None]:
    """``data`` as the view ``name`` of ``connection`` for ONE query, unregistered after.

    DuckDB is handed the data's Arrow C stream (a PyCapsule), not the object: for a pyarrow
    object (table, reader, or anything with ``__arrow_c_stream__``) DuckDB 1.5.5 imports
    ``pyarrow.dataset`` to offer it filters, and that imports pandas, about 0.15 s of a
    command that needs neither; a bare stream it scans as it comes (projection and filters
    then run in DuckDB). A stream can be read once: a second query of the view fails with
    DuckDB's "already been consumed" error, so each query gets its own ``arrow_view``.
    """
    connection.register(name, data.__arrow_c_stream__())
    try:
        yield
    finally:
        connection.unregister(name)
