"""Incremental extracts: which rows to read past a watermark, and what the next watermark is.

The boundary rule (why rows sharing the watermark value are neither lost nor duplicated):

* Every incremental read selects ``cursor >= watermark`` (inclusive), never ``>``. Rows that
  share the old maximum, including rows that arrived after the last run with exactly that
  value, are therefore read again. (``OR cursor IS NULL`` is added so that NULL cursors are
  seen and refused: such rows could never be picked up.)
* **With a key** (``--key``): the rows re-read at the boundary are merged by key by the caller,
  which is idempotent. Nothing is lost and nothing is duplicated; rows updated in place get a
  newer cursor and are merged too.
* **Without a key**: the watermark also remembers a fingerprint (a 128-bit BLAKE2b hash of all
  column values) of every row read whose cursor equals the new watermark, as a multiset. The
  next run drops exactly those rows from what it re-reads at that value, and delivers the
  others, so a row inserted later with a cursor equal to the old maximum is delivered once.
  This holds for insert-only sources. Numbers are hashed by value, so a boundary row re-read
  after its column was widened (numeric(5,2) to numeric(12,4), int to numeric or to a float)
  still matches (see :func:`fingerprint`). The watermark also names the columns its fingerprints
  cover, and the next run fingerprints the rows it re-reads on those columns only, so a column
  the source added since is no change (its boundary rows are not delivered again); a column
  the source dropped since makes the boundary rows unmatchable, and the extract is refused in
  one sentence (:class:`~ingest.exceptions.BoundaryColumnsMissing`: give a key, or extract
  fully once). The watermark also records how the values were read (``format``): after a
  version that reads some columns more exactly, a boundary row that matches no stored
  fingerprint may be one delivered before, and the extract is refused in one sentence
  (:class:`~ingest.exceptions.BoundaryFingerprintsOutdated`) rather than guess; rows that
  match go on as before. A row changed in place without changing its cursor re-delivers it (a
  duplicate), and a row changed in place with a newer cursor is delivered again as a new row
  (no key, no merge).
  The boundary costs one fingerprint (32 hex characters in the stored watermark) per row that
  shares the maximum: fine for a timestamp or a sequence, large for a coarse cursor such as a
  date (every row of the last day). With a coarse cursor, give a key.
* What no watermark can see: a row that becomes visible *after* a run with a cursor *below* the
  watermark it set (a long transaction that stamped ``now()`` early and committed late). Use a
  cursor set at commit time, or re-extract fully.

The SQL predicate only narrows what is read and may read a superset (SQLite's text dates are
compared by their date prefix); :class:`BoundaryTracker` then applies the exact rule on the
typed Arrow values, so every dialect obeys the same arithmetic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from ingest.exceptions import (
    BoundaryColumnsMissing,
    BoundaryFingerprintsOutdated,
    CursorColumnInvalid,
    CursorHasNaN,
    CursorHasNulls,
)

CursorValue = int | float | Decimal | str | dt.date | dt.datetime

#: How the values behind boundary fingerprints were read. 1 (stored without a ``format``): MySQL
#: FLOAT as the server's 6-digit text, Postgres text under the database's DateStyle and
#: extra_float_digits; 2: FLOAT exact, Postgres text with ISO dates and every float digit.
#: A stored boundary of an older format may not match the same rows read now (see
#: BoundaryTracker's ``reread``).
FINGERPRINT_FORMAT = 2


@dataclass(frozen=True)
class Watermark:
    """How far an incremental extract got: the largest cursor value read.

    ``boundary`` holds the sorted fingerprints of the rows read whose cursor equals ``value``
    (repeated for identical rows); it is empty when the extract had a key. ``columns`` names
    the columns those fingerprints cover (empty in watermarks stored before it was kept: then
    every column the next extract has). ``format`` is how the fingerprinted values were read
    (:data:`FINGERPRINT_FORMAT`; 1 in watermarks stored before it was kept).
    """

    column: str
    value: CursorValue
    boundary: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    format: int = FINGERPRINT_FORMAT

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form for the catalog: {"column", "type", "value", "boundary"}.

        ``type`` is one of int, decimal, float, string, date, datetime; ``value`` is exact text
        (or an int), so no JSON float rounding can move the boundary.
        """
        kind, text = _encode(self.value)
        data: dict[str, object] = {
            "column": self.column,
            "type": kind,
            "value": text,
            "boundary": list(self.boundary),
            "format": self.format,
        }
        if self.columns:
            data["columns"] = list(self.columns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object], *, column: str | None = None) -> Watermark:
        """The inverse of :meth:`to_dict`; ``column`` may be given apart (the catalog's cursor)."""
        name = column if column is not None else data["column"]
        return cls(
            column=str(name),
            value=_decode(str(data["type"]), data["value"]),
            boundary=tuple(str(b) for b in data.get("boundary") or ()),  # type: ignore[union-attr]
            columns=tuple(str(c) for c in data.get("columns") or ()),  # type: ignore[union-attr]
            format=int(data.get("format") or 1),  # type: ignore[call-overload]
        )


_KINDS: tuple[tuple[str, type], ...] = (
    ("bool", bool),  # before int: bool is an int
    ("int", int),
    ("decimal", Decimal),
    ("float", float),
    ("string", str),
    ("datetime", dt.datetime),  # before date: datetime is a date
    ("date", dt.date),
)


def _encode(value: CursorValue) -> tuple[str, object]:
    for kind, typ in _KINDS:
        if isinstance(value, typ):
            if kind == "bool":
                break
            if kind in ("decimal",):
                return kind, str(value)
            if kind == "float":
                return kind, repr(value)
            if kind in ("datetime", "date"):
                return kind, value.isoformat()  # type: ignore[union-attr]
            return kind, value
    raise CursorColumnInvalid(column="?", reason=f"a watermark of type {type(value).__name__}")


def _decode(kind: str, raw: object) -> CursorValue:
    if kind == "int":
        return int(raw)  # type: ignore[call-overload]
    if kind == "decimal":
        return Decimal(str(raw))
    if kind == "float":
        return float(raw)  # type: ignore[arg-type]
    if kind == "string":
        return str(raw)
    if kind == "datetime":
        return dt.datetime.fromisoformat(str(raw))
    if kind == "date":
        return dt.date.fromisoformat(str(raw))
    raise ValueError(f"unknown watermark kind {kind!r}")


# Types a cursor can be: totally ordered, and the same order in SQL and in Arrow.
def cursor_type_ok(t: pa.DataType) -> bool:
    return (
        pa.types.is_integer(t)
        or pa.types.is_decimal(t)
        or pa.types.is_floating(t)
        or pa.types.is_string(t)
        or pa.types.is_date32(t)
        or pa.types.is_timestamp(t)
    )


def read_predicate(
    column: sa.ColumnElement[object], bound: sa.ColumnElement[object]
) -> sa.ColumnElement[bool]:
    """``column >= bound OR column IS NULL``: the rows an incremental extract reads.

    ``bound`` is a bind parameter (or, for the Postgres fast reader, a server-side setting);
    values are never pasted into SQL text. NULL cursors are read so that they can be refused.
    """
    return sa.or_(column >= bound, column.is_(None))


#: How :func:`fingerprint` hashes numbers. ``value``: exact numbers by their value (a decimal as
#: its shortest form, a whole one as the integer: 1.2500 as 1.25, 5.00 as 5), floats apart from
#: integers (1.0 is not 1). ``written``: decimals as the column's type wrote them, the hash of
#: watermarks stored before. ``widened``: as ``value``, and a whole float as the integer (an
#: integer column made a float column since).
Hashing = Literal["value", "written", "widened"]
HASHINGS: tuple[Hashing, ...] = ("value", "written", "widened")


def fingerprint(names: Sequence[str], row: Sequence[object], *, by: Hashing = "value") -> str:
    """128-bit hash of one row's values, stable across runs and machines for the same schema.

    Stored boundaries are hashed ``by="value"``, so a row re-read after its column was widened
    losslessly (more decimal places, an integer column made numeric) matches the fingerprint it
    had; a row that matches none is tried ``written`` and ``widened`` too (see
    :meth:`BoundaryTracker.admit`)."""
    parts = [f"{n}={_canon(v, by)}" for n, v in sorted(zip(names, row, strict=True))]
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).hexdigest()


def _canon(v: object, by: Hashing = "value") -> str:
    if v is None:
        return "N"
    if isinstance(v, bool):
        return "B1" if v else "B0"
    if isinstance(v, int):
        return f"I{v}"
    if isinstance(v, float):
        if by == "widened" and v.is_integer():
            return f"I{int(v)}"
        return f"F{v.hex()}"
    if isinstance(v, Decimal):
        if by != "written" and v.is_finite():
            if v == v.to_integral_value():
                return f"I{int(v)}"
            return f"D{v.normalize():f}"
        return f"D{v}"
    if isinstance(v, str):
        return f"S{v!r}"
    if isinstance(v, bytes):
        return f"X{v.hex()}"
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
            return f"Z{v.isoformat()}"
        return f"T{v.isoformat()}"
    if isinstance(v, dt.date):
        return f"d{v.isoformat()}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_canon(x, by) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k!r}:{_canon(x, by)}" for k, x in sorted(v.items())) + "}"
    return f"?{v!r}"


def _fingerprints(batch: pa.RecordBatch, *, by: Hashing = "value") -> list[str]:
    names = batch.schema.names
    cols = [c.to_pylist() for c in batch.columns]
    return [fingerprint(names, row, by=by) for row in zip(*cols, strict=True)] if cols else []


class BoundaryTracker:
    """Applies the exact boundary rule to each batch read and computes the next watermark.

    Feed every batch through :meth:`admit` (in any order); afterwards :meth:`watermark` is the
    watermark to store. ``dedupe`` is for extracts without a key (see the module docstring);
    ``keyed`` says the caller merges by a key, so boundary fingerprints that no longer match
    the source's columns are dropped (the rows are merged again) instead of refused.
    ``reread`` names the columns whose values are read differently now than under an older
    :data:`FINGERPRINT_FORMAT`: when the stored boundary is older and covers one of them, a
    row at the old watermark that matches no stored fingerprint may be a row already delivered
    (read then less exactly) or a new one, and the extract is refused rather than guessing.
    """

    def __init__(
        self,
        column: str,
        *,
        arrow_type: pa.DataType,
        since: Watermark | None,
        dedupe: bool,
        columns: Sequence[str] | None = None,
        keyed: bool = False,
        reread: Sequence[str] = (),
    ) -> None:
        if since is not None and since.column != column:
            raise CursorColumnInvalid(
                column=column,
                reason=f"the stored watermark is on column '{since.column}'; pass "
                f"--cursor {since.column} or start a full extract",
            )
        if not cursor_type_ok(arrow_type):
            raise CursorColumnInvalid(
                column=column,
                reason=f"its type {arrow_type} has no total order (use an integer, decimal, "
                "date, timestamp or text column)",
            )
        self.column = column
        self.since = since
        self.dedupe = dedupe
        self._since_scalar = None if since is None else _scalar(since.value, arrow_type, column)
        self._seen_boundary: Counter[str] = Counter(since.boundary if since and dedupe else ())
        #: The columns the stored boundary's fingerprints cover (None: every column read).
        self._since_columns: list[str] | None = None
        if self._seen_boundary and since is not None and since.columns:
            self._since_columns = list(since.columns)
            if columns is not None:
                missing = [c for c in since.columns if c not in columns]
                if missing and keyed:
                    # The key makes re-merging the boundary rows harmless: forget them.
                    self._seen_boundary, self._since_columns = Counter(), None
                elif missing:
                    raise BoundaryColumnsMissing(cursor=column, missing=missing)
        #: Columns read differently since the stored boundary was fingerprinted: an unmatched
        #: row at the old watermark is then ambiguous.
        self._outdated: list[str] = []
        if self._seen_boundary and since is not None and since.format < FINGERPRINT_FORMAT:
            covered = self._since_columns if self._since_columns is not None else columns
            self._outdated = [c for c in reread if covered is None or c in covered]
            if keyed:
                # Re-merging the boundary rows by key is harmless: never refuse for it.
                self._outdated = []
        if since is not None and since.format < FINGERPRINT_FORMAT and not keyed:
            if column in reread:
                # The old value itself was read less exactly (a FLOAT's 6 digits): rows just
                # above it may be rows delivered then, which no fingerprint is kept for.
                raise BoundaryFingerprintsOutdated(cursor=column, columns=[column])
        self._names: tuple[str, ...] = ()
        self._max: pa.Scalar | None = None
        self._at_max: Counter[str] = Counter()
        self.rows_read = 0
        self.rows_skipped = 0

    def admit(self, batch: pa.RecordBatch, *, source: str = "the source") -> pa.RecordBatch:
        """The rows of ``batch`` to deliver; raises CursorHasNulls on a NULL cursor and
        CursorHasNaN on a NaN one."""
        self.rows_read += batch.num_rows
        col = batch.column(self.column)
        if col.null_count:
            raise CursorHasNulls(column=self.column, source=source)
        if pa.types.is_floating(col.type) and pc.any(pc.is_nan(col)).as_py():
            # Postgres sorts NaN above every number, so the SQL reads it; Arrow's max skips
            # it and every comparison with it is false: it would be read and dropped.
            raise CursorHasNaN(column=self.column, source=source)
        if self._since_scalar is not None:
            keep = pc.greater_equal(col, self._since_scalar)
            if not pc.all(keep).as_py():
                batch = batch.filter(keep)
                col = batch.column(self.column)
        if batch.num_rows == 0:
            return batch
        batch_max = pc.max(col)
        self._names = tuple(batch.schema.names)
        if not self.dedupe:
            self._track(batch_max, ())
            return batch

        # Rows at the old watermark that an earlier run delivered: drop them (multiset).
        drop: list[int] = []
        fps_at_since: list[str] = []
        if self._seen_boundary:
            assert self._since_scalar is not None
            at_since = pc.equal(col, self._since_scalar)
            if pc.any(at_since).as_py():
                positions = pc.indices_nonzero(at_since).to_pylist()
                rows = batch.take(positions)
                if self._since_columns is not None:
                    missing = [c for c in self._since_columns if c not in rows.schema.names]
                    if missing:
                        raise BoundaryColumnsMissing(cursor=self.column, missing=missing)
                    rows = rows.select(self._since_columns)
                fps_at_since = _fingerprints(rows)
                # A row that matches no stored fingerprint may match as watermarks stored
                # before hashed it, or as it was hashed before its column became a float.
                hashed: dict[Hashing, list[str]] = {"value": fps_at_since}
                for index, pos in enumerate(positions):
                    for by in HASHINGS:
                        if by not in hashed:
                            hashed[by] = _fingerprints(rows, by=by)
                        candidate = hashed[by][index]
                        if self._seen_boundary[candidate] > 0:
                            self._seen_boundary[candidate] -= 1
                            drop.append(pos)
                            break
                    else:
                        if self._outdated:
                            raise BoundaryFingerprintsOutdated(
                                cursor=self.column, columns=self._outdated
                            )

        # The next boundary counts every row read at the maximum, dropped or delivered.
        same_columns = self._since_columns in (None, list(self._names))
        if fps_at_since and same_columns and batch_max.equals(self._since_scalar):
            fps_at_max = fps_at_since
        else:
            fps_at_max = _fingerprints(batch.filter(pc.equal(col, batch_max)))
        self._track(batch_max, fps_at_max)

        if drop:
            self.rows_skipped += len(drop)
            dropped = pc.is_in(
                pa.array(range(batch.num_rows), type=pa.int64()),
                value_set=pa.array(drop, type=pa.int64()),
            )
            batch = batch.filter(pc.invert(dropped))
        return batch

    def _track(self, batch_max: pa.Scalar, fps: Iterable[str]) -> None:
        if self._max is None or pc.greater(batch_max, self._max).as_py():
            self._max = batch_max
            self._at_max = Counter(fps)
        elif batch_max.equals(self._max):
            self._at_max.update(fps)

    def watermark(self) -> Watermark | None:
        """The next watermark: the largest cursor read, or the old one if nothing was read."""
        if self._max is None:
            return self.since
        boundary = tuple(sorted(self._at_max.elements())) if self.dedupe else ()
        return Watermark(self.column, self._max.as_py(), boundary, self._names if boundary else ())


def _scalar(value: CursorValue, t: pa.DataType, column: str) -> pa.Scalar:
    try:
        if pa.types.is_timestamp(t) and isinstance(value, dt.datetime):
            if (t.tz is None) != (value.tzinfo is None):
                raise TypeError("time zone mismatch")
        return pa.scalar(value, type=t)
    except (pa.ArrowException, TypeError, ValueError) as e:
        raise CursorColumnInvalid(
            column=column,
            reason=f"the stored watermark {value!r} does not fit its current type {t} ({e}); "
            "the source column's type changed, start a full extract",
        ) from None
