"""Checking that a --key identifies one row in what an extract read.

The check runs on the extracted rows themselves (not on the source), so it is exact for what
the caller will merge, whatever the query or the source's constraints. It keeps only the key
columns of every batch: about 8 bytes per row for an integer key (40 MB for 5 million rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ingest.exceptions import DuplicateKey, KeyHasNulls

_EXAMPLES = 3


class KeyChecker:
    """Collects the key columns of each batch; :meth:`check` raises if the key repeats."""

    def __init__(self, key: Sequence[str]) -> None:
        self.key = list(key)
        self._parts: list[pa.RecordBatch] = []

    def add(self, batch: pa.RecordBatch) -> None:
        keys = batch.select(self.key)
        for name, col in zip(self.key, keys.columns, strict=True):
            if col.null_count:
                raise KeyHasNulls(key=self.key, column=name)
        self._parts.append(keys)

    def check(self) -> None:
        if not self._parts:
            return
        table = pa.Table.from_batches(self._parts)
        self._parts = []
        counts = table.group_by(self.key, use_threads=False).aggregate([([], "count_all")])
        dups = counts.filter(pc.greater(counts["count_all"], 1))
        if dups.num_rows:
            examples = [
                tuple(dups.column(k)[i].as_py() for k in self.key)
                for i in range(min(_EXAMPLES, dups.num_rows))
            ]
            raise DuplicateKey(key=self.key, examples=examples, duplicated=dups.num_rows)
