"""What a log ingest landed, as the tests read it back."""

from __future__ import annotations

import pyarrow as pa

from lake.core.names import TableName


def landed_rows(lk, table: str) -> list[dict]:
    """The rows of ``table``'s latest version, in the order of their source files and lines."""
    info = lk.catalog.get_table(TableName.parse(table))
    found = pa.table(lk.delta(info).open().to_pyarrow_table()).to_pylist()
    return sorted(found, key=lambda r: (r["_source"], r["_line"]))
