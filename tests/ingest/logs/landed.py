"""What a log ingest landed, as the tests read it back."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from lake.core.names import TableName


def landed_rows(lk, table: str) -> list[dict]:
    """The rows of ``table``'s latest version, in the order of their source files and lines."""
    info = lk.catalog.get_table(TableName.parse(table))
    found = pa.table(lk.delta(info).open().to_pyarrow_table()).to_pylist()
    return sorted(found, key=lambda r: (r["_source"], r["_line"]))


def staged_rows(staged) -> list[dict]:
    """The rows a ``stage_logs`` call staged, with their ``_event_date``, in line order."""
    import pyarrow.parquet as pq

    out = []
    for f in staged.files:
        for r in pq.read_table(f.path).to_pylist():
            d = f.partition_values.get("_event_date")
            r["_event_date"] = dt.date.fromisoformat(d) if d else None
            out.append(r)
    return sorted(out, key=lambda r: r["_line"])
