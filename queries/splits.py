"""Splitting a training set by a stable hash of a key column (``--split``, ``--split-key``).

The rule (``lake-split/1``), the same on every machine, in every version of the lake:

* the key's value as bytes: an integer as its decimal digits (``-12``), a string as its
  UTF-8 bytes, a binary as itself; a null key, or a key of any other type, is refused (cast
  it in the query, e.g. ``CAST(day AS VARCHAR)``);
* ``u = first 8 bytes of sha256(those bytes), big-endian, / 2**64``, a number in [0, 1);
* the splits, in the order given, take consecutive ranges of ``u`` by their fractions:
  ``train=0.8,validation=0.1,test=0.1`` sends ``u < 0.8`` to train, ``u < 0.9`` to
  validation, the rest to test.

So a row lands in the same split in every version of the training set (a user seen in
train stays in train as data grows): no row moves from train to test between versions.

Each split is written to its own subfolder (``DIR/train/part-00000.parquet`` ...), with
its own shards, row count and content hash (:mod:`queries.content_hash`); the set's
``content_hash`` is the hash of all its rows in output order, the same as unsplit.
"""

from __future__ import annotations

import hashlib
import math
import queue
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from queries.content_hash import ContentHasher
from queries.exceptions import TrainingSetError
from queries.shards import Progress, ShardFile, WrittenShards, write_shards

if TYPE_CHECKING:
    import pyarrow as pa

RULE = "lake-split/1"
RULE_TEXT = (
    "u = first 8 bytes of sha256(key: integer as decimal text, string as UTF-8) / 2**64; "
    "splits in order take consecutive ranges of u by their fractions"
)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")
_QUEUED = 4  # batches waiting per split: memory stays bounded


@dataclass(frozen=True)
class SplitRule:
    key: str
    fractions: tuple[tuple[str, float], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.fractions)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": RULE,
            "definition": RULE_TEXT,
            "key": self.key,
            "fractions": {n: f for n, f in self.fractions},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SplitRule:
        if data.get("rule") != RULE:
            raise TrainingSetError(
                f"The manifest's split rule is {data.get('rule')!r}; this lake knows {RULE!r}."
            )
        return cls(
            str(data["key"]), tuple((str(n), float(f)) for n, f in data["fractions"].items())
        )


def parse_split(text: str, key: str | None) -> SplitRule:
    """``train=0.8,validation=0.1,test=0.1`` and the key column, checked.

    Raises:
        TrainingSetError: a malformed spec, a fraction outside (0, 1], fractions that do not
            add up to 1, a repeated or unsafe split name, or no key.
    """
    if not key:
        raise TrainingSetError(
            "--split needs --split-key COLUMN: the column whose hash decides each row's split."
        )
    fractions: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        try:
            fraction = float(value) if sep else math.nan
        except ValueError:
            fraction = math.nan
        if not _NAME.fullmatch(name) or not 0 < fraction <= 1:
            raise TrainingSetError(
                f"--split {text!r}: {part.strip()!r} is not NAME=FRACTION with a fraction in "
                f"(0, 1]; write e.g. train=0.8,validation=0.1,test=0.1."
            )
        if name in (n for n, _ in fractions):
            raise TrainingSetError(f"--split {text!r} names the split {name!r} twice.")
        fractions.append((name, fraction))
    total = sum(f for _, f in fractions)
    if abs(total - 1) > 1e-9:
        raise TrainingSetError(f"--split {text!r}: the fractions add up to {total:g}, not 1.")
    return SplitRule(key, tuple(fractions))


def key_bytes(value: Any) -> bytes:
    """A key's bytes under the rule; raises TypeError for a type the rule does not cover."""
    if isinstance(value, bool) or value is None:
        raise TypeError(type(value).__name__)
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(type(value).__name__)


def position(value: Any) -> float:
    """``u`` of the rule: where the key falls in [0, 1)."""
    return int.from_bytes(hashlib.sha256(key_bytes(value)).digest()[:8], "big") / 2**64


def assign(values: Iterable[Any], rule: SplitRule) -> list[int]:
    """The split index of each key (pure; the rule in the module docstring)."""
    bounds = _bounds(rule)
    out = []
    for value in values:
        u = position(value)
        out.append(next(i for i, bound in enumerate(bounds) if u < bound))
    return out


def _bounds(rule: SplitRule) -> list[float]:
    bounds, total = [], 0.0
    for _, fraction in rule.fractions:
        total += fraction
        bounds.append(total)
    bounds[-1] = math.inf  # the last split takes the rest, whatever the float sums say
    return bounds


_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)


def split_sql(rule: SplitRule, key: str) -> str:
    """The rule as one DuckDB expression (a ``TINYINT``: the split's index) over ``key``, an
    expression giving the key's bytes (a ``VARCHAR`` or ``BLOB``). ``u`` is the same double
    as :func:`position`: DuckDB rounds the 64-bit integer to the nearest double as Python
    does, and the division by 2**64 is exact. A null key gives null."""
    bounds = _bounds(rule)
    u = (
        f"(CAST(CAST(('0x' || substr(sha256({key}), 1, 16)) AS UBIGINT) AS DOUBLE) "
        "/ 18446744073709551616.0)"
    )
    cases = " ".join(f"WHEN {u} < {bound!r} THEN {i}" for i, bound in enumerate(bounds[:-1]))
    # DuckDB computes the repeated hash once (common subexpressions are shared).
    return f"CAST(CASE WHEN {key} IS NULL THEN NULL {cases} ELSE {len(bounds) - 1} END AS TINYINT)"


def key_sql(column: str, duckdb_type: str) -> str | None:
    """The key's bytes under the rule, in DuckDB SQL, for a column (``column``: quoted) of
    ``duckdb_type``; None for a type the rule does not cover."""
    kind = duckdb_type.upper()
    if kind in _INTEGERS:
        return f"CAST({column} AS VARCHAR)"  # decimal digits, "-12", as str(int)
    if kind in ("VARCHAR", "BLOB"):
        return column
    return None


def assign_array(keys: pa.Array, rule: SplitRule, connection: Any) -> pa.Array:
    """:func:`assign` over a column, in DuckDB (``connection``): the same rule
    (:func:`split_sql`), about 20x faster than hashing row by row in Python.

    Raises:
        TypeError: a null key (``"NoneType"``) or a key type the rule does not cover.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = keys.type
    if pa.types.is_integer(kind):
        keys = pc.cast(keys, pa.string())  # decimal digits, "-12"
    elif not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        raise TypeError(str(kind))
    if keys.null_count:
        raise TypeError("NoneType")
    connection.register("split_keys", pa.table({"k": keys}))
    try:
        chosen = connection.execute(
            f"SELECT {split_sql(rule, 'k')} AS s FROM split_keys"
        ).to_arrow_table()
    finally:
        connection.unregister("split_keys")
    return chosen.column("s").combine_chunks()


@dataclass(frozen=True)
class WrittenSplits:
    whole: WrittenShards
    """Every file (paths ``SPLIT/part-...``), all rows, the set's content hash."""
    splits: dict[str, WrittenShards]

    def to_json(self) -> dict[str, Any]:
        return {
            name: {"rows": w.rows, "content_hash": w.content_hash, "files": len(w.files)}
            for name, w in self.splits.items()
        }


def write_splits(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    folder: Path,
    rule: SplitRule,
    *,
    shard_rows: int,
    assigned: bool = False,
    progress: Progress | None = None,
) -> WrittenSplits:
    """Route each row to its split's writer (one thread per split, bounded queues), hashing
    the whole set on the way. With ``assigned``, each batch carries one more column than
    ``schema``, last: the split's index, computed by the query itself (:func:`split_sql`
    over :func:`key_sql`); otherwise the split is computed here, batch by batch.

    Raises:
        TrainingSetError: the key is not an output column, is null, or has another type.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if rule.key not in schema.names:
        raise TrainingSetError(
            f"The split key {rule.key!r} is not a column of the query's result "
            f"({', '.join(schema.names)}); --split-key names an output column."
        )
    from lake.core.duckdb import connect

    connection = None if assigned else connect(threads=1)
    hasher = ContentHasher(schema)
    queues: dict[str, queue.Queue[Any]] = {n: queue.Queue(_QUEUED) for n in rule.names}
    done: dict[str, WrittenShards] = {}
    failed: list[BaseException] = []
    end = object()

    def drain(name: str) -> Iterator[pa.RecordBatch]:
        while (item := queues[name].get()) is not end:
            yield item

    def run(name: str) -> None:
        try:
            (folder / name).mkdir(parents=True, exist_ok=True)
            done[name] = write_shards(drain(name), schema, folder / name, shard_rows=shard_rows)
        except BaseException as error:  # noqa: BLE001 - raised in the caller's thread
            failed.append(error)
            for _ in drain(name):  # keep taking, so the router never blocks
                pass

    threads = [
        threading.Thread(target=run, args=(n,), name=f"lake-split-{n}", daemon=True)
        for n in rule.names
    ]
    for thread in threads:
        thread.start()
    rows = 0
    try:
        index = schema.get_field_index(rule.key)
        for batch in batches:
            if assigned:
                chosen = batch.column(batch.num_columns - 1)
                if chosen.null_count:
                    raise _refused(rule, "null")
                batch = pa.RecordBatch.from_arrays(batch.columns[:-1], schema=schema)
            elif batch.schema != schema:
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            hasher.update(batch)
            if not assigned:
                try:
                    chosen = assign_array(batch.column(index), rule, connection)
                except TypeError as error:
                    raise _refused(
                        rule,
                        "null"
                        if str(error) == "NoneType"
                        else f"of type {batch.column(index).type}",
                    ) from None
            for i, name in enumerate(rule.names):
                part = batch.filter(pc.equal(chosen, i))
                if part.num_rows:
                    queues[name].put(part)
            rows += batch.num_rows
            if progress is not None:
                progress(0, rows, 0)
            if failed:
                break
    finally:
        if connection is not None:
            connection.close()
        for name in rule.names:
            queues[name].put(end)
        for thread in threads:
            thread.join()
    if failed:
        raise failed[0]
    files = tuple(
        ShardFile(f"{name}/{f.path}", f.rows, f.bytes, f.sha256)
        for name in rule.names
        for f in done[name].files
    )
    whole = WrittenShards(files, hasher.rows, hasher.hexdigest(), schema)
    return WrittenSplits(whole, {name: done[name] for name in rule.names})


def _refused(rule: SplitRule, kind: str) -> TrainingSetError:
    return TrainingSetError(
        f"The split key {rule.key!r} has a value that is {kind}; the split rule takes "
        f"integers and strings: filter the nulls or cast the key in the query."
    )


__all__ = [
    "SplitRule",
    "WrittenSplits",
    "assign",
    "key_sql",
    "parse_split",
    "position",
    "split_sql",
    "write_splits",
]
