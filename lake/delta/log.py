"""Looking at a Delta table's log without opening the table (no deltalake, no Arrow): what a
read asks before it trusts the catalog.

Commits are numbered without gaps, so a commit newer than version ``N`` exists exactly when
the log holds ``N+1``: one existence check, where opening the table reads the whole log.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from lake.core.storage import Storage


def has_commit_after(storage: Storage, table_uri: str, version: int) -> bool:
    """Whether the Delta log of the table at ``table_uri`` holds a commit newer than
    ``version``.

    Raises:
        StorageError: the warehouse could not be read.
    """
    name = f"_delta_log/{version + 1:020d}.json"
    if not table_uri.startswith("s3://"):
        base = urlsplit(table_uri).path if table_uri.startswith("file://") else table_uri
        return os.path.exists(os.path.join(base, name))
    import pyarrow.fs as pafs

    fs, base = storage.filesystem_for(table_uri)
    try:
        return fs.get_file_info(f"{base.rstrip('/')}/{name}").type != pafs.FileType.NotFound
    except OSError as error:
        raise storage.translate(error, table_uri) from error


__all__ = ["has_commit_after"]
