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
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

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
