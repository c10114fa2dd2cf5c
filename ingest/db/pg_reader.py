"""PostgreSQL rows -> Arrow batches through ADBC's libpq driver (binary COPY, streamed).

Why ADBC: it reads ``COPY (query) TO STDOUT (FORMAT binary)`` in C and hands over Arrow
batches, as fast as the raw COPY stream on our machines (bench/bench_extract.py), with exact
numerics (as text, cast here to decimal128), timestamptz in UTC, arrays as lists and bytea as
binary. DuckDB's postgres scanner was faster on plain tables (parallel ctid ranges) but reads
unbounded NUMERIC and numeric[] as DOUBLE and timetz as time, and loses that parallelism on
queries; psycopg2 row fetching runs at a fraction of COPY's speed.

Two things ADBC does not do, handled here:

* A query with bind parameters is executed eagerly, the whole result in memory. The watermark
  is therefore bound once, as a parameter, into a session setting (``set_config``), and the
  streamed query reads it with ``current_setting`` in a scalar subquery (evaluated once).
* ``'infinity'`` dates and timestamps come out as wrapped integers, and multi-dimensional arrays
  are flattened: both are detected and refused (see ingest/dbtypes.py).

Reading runs in one background thread that stays at most ``prefetch`` batches ahead, so that
the server, the decoding and the caller's work (e.g. writing Parquet) overlap on two cores
while memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from ingest.db.errors import DriverFailure
from ingest.db.types import (
    CHECK_PG_NDIMS,
    READ_TIME,
    READ_TIME_ARRAY,
    SourceColumn,
    canonical_time_text,
    pg_out_of_range,
    pg_temporal,
    schema_of,
)
from ingest.exceptions import SourceValueUnsupported

#: The session setting that carries the watermark into the streamed query.
SINCE_SETTING = "lake.since"

#: Session options of every extract connection: never write; intervals as ISO 8601 text;
#: backslashes in '' strings are plain characters (as ingest/db/statement.py reads them);
#: floats printed with every digit inside the values read as text (composites, points), which
#: a database set to extra_float_digits=0 would cut to 15; times in UTC, the lake's rule (and
#: the MySQL session's ``time_zone``): an instant inside a value read as text (a tstzrange, a
#: composite) is printed in the session's zone, so a database whose TimeZone changed gave the
#: same row other text (a boundary row delivered twice, every row of a keyed extract
#: "changed"). A time without an offset in a --query is therefore read as UTC.
SESSION_OPTIONS = (
    "-c default_transaction_read_only=on -c intervalstyle=iso_8601 "
    "-c standard_conforming_strings=on -c extra_float_digits=3 -c TimeZone=UTC"
)

#: Dates inside values read as text (ranges, composites) printed as ISO whatever the database's
#: DateStyle ('SQL, DMY' prints '01/02/2024'), while its day/month order, which a query's own
#: date literals are read in, stays: a startup ``DateStyle=ISO`` would reset it to MDY.
ISO_DATES = (
    "SELECT set_config('DateStyle', 'ISO, ' || split_part(current_setting('DateStyle'), ', ', 2), "
    "false)"
)

BATCH_HINT_OPTION = "adbc.postgresql.batch_size_hint_bytes"
BATCH_HINT_BYTES = 4 << 20

_END = object()


def adbc_uri(url: sa.URL, *, connect_timeout: float, options: str = SESSION_OPTIONS) -> str:
    """The libpq URI for a SQLAlchemy Postgres URL (query parameters pass through)."""
    auth = ""
    if url.username:
        auth = quote(url.username, safe="")
        if url.password:
            auth += ":" + quote(str(url.password), safe="")
        auth += "@"
    host = url.host or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{url.port}" if url.port else ""
    db = "/" + quote(url.database, safe="") if url.database else ""
    params: dict[str, str] = {}
    for k, v in url.query.items():
        params[k] = v if isinstance(v, str) else v[-1]
    params["connect_timeout"] = str(max(2, int(round(connect_timeout))))
    params["options"] = (params.get("options", "") + " " + options).strip()
    params.setdefault("application_name", "lake-extract")
    return f"postgresql://{auth}{host}{port}{db}?{urlencode(params, quote_via=quote)}"


def text_settings(uri: str) -> tuple[str, int, int]:
    """(DateStyle, extra_float_digits, server_version_num) of a session opened with ``uri``,
    through the driver that reads rows (psycopg2 would set DateStyle to ISO on connect).
    Driver errors are raised as they are, for the caller to translate."""
    import adbc_driver_postgresql.dbapi as pgdb

    with pgdb.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT current_setting('DateStyle'), current_setting('extra_float_digits')::int, "
            "current_setting('server_version_num')::int"
        )
        style, digits, version = cur.fetchone()  # type: ignore[misc]
    return str(style), int(digits), int(version)


def read_only_transaction() -> str:
    """The first statement of every extract transaction (before any query, so it holds).

    ``default_transaction_read_only`` is a session default that a function called by the query
    could turn off for later transactions; a transaction made read-only before its first query
    cannot be made read-write again.
    """
    return "SET TRANSACTION READ ONLY"


def prepare_only(uri: str, sql: str) -> None:
    """Have the server parse ``sql`` through the extended protocol, without running it.

    A prepared statement holds one command: text that the server would read as several is
    refused ("cannot insert multiple commands into a prepared statement") before any of it
    runs. Driver errors are raised as they are, for the caller to translate.
    """
    import adbc_driver_postgresql.dbapi as pgdb

    with pgdb.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(read_only_transaction())
        cur.adbc_execute_schema(sql)


def stream_pg(
    *,
    uri: str,
    sql: str,
    since_text: str | None,
    columns: Sequence[SourceColumn],
    ndims_at: dict[int, int],
    batch_rows: int,
    prefetch: int = 2,
) -> Iterator[pa.RecordBatch]:
    """Batches of at most ``batch_rows`` rows of ``sql``, typed as ``columns`` say.

    ``sql`` selects ``columns`` in order, then one ``array_ndims`` column per array column
    (``ndims_at`` maps the column's index to it). Driver errors are raised as they are, for the
    caller to translate. Closing the generator early cancels the query.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()
    live: dict[str, object] = {}
    schema = schema_of(columns)

    def put(item: object) -> bool:
        q.put(item)
        return not stop.is_set()

    def produce() -> None:
        import adbc_driver_postgresql.dbapi as pgdb

        conn = cur = reader = None
        try:
            conn = pgdb.connect(uri)
            cur = conn.cursor()
            # Batches of ~4 MB instead of the driver's 16 MB: the first arrives sooner and
            # decoding overlaps the caller's work better (bench: 500k rows into Parquet took
            # 0.47 s instead of 0.57 s; COPY 0.36 s).
            cur.adbc_statement.set_options(**{BATCH_HINT_OPTION: str(BATCH_HINT_BYTES)})
            live["cursor"] = cur
            cur.execute(read_only_transaction())
            cur.execute(ISO_DATES)
            cur.fetchall()
            if since_text is not None:
                cur.execute(
                    f"SELECT set_config('{SINCE_SETTING}', $1, false)", parameters=(since_text,)
                )
                cur.fetchall()
            cur.execute(sql)
            reader = cur.fetch_record_batch()
            while not stop.is_set():
                try:
                    raw = reader.read_next_batch()
                except StopIteration:
                    return
                except OSError as e:  # libpq failures arrive through Arrow's C stream as OSError
                    raise DriverFailure(str(e)) from None
                out = coerce_batch(raw, columns, ndims_at, schema)
                for offset in range(0, out.num_rows, batch_rows):
                    if not put(out.slice(offset, batch_rows)):
                        return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, who raises it
            if not stop.is_set():
                q.put(e)
        finally:
            live.pop("cursor", None)
            for closable in (reader, cur, conn):
                if closable is not None:
                    try:
                        closable.close()
                    except Exception:  # noqa: BLE001 - closing after a failure or a cancel
                        pass
            q.put(_END)

    thread = threading.Thread(target=produce, name="lake-pg-reader", daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            item = q.get()
            if item is _END:
                finished = True
                return
            if isinstance(item, BaseException):
                finished = _drain(q)
                raise item
            yield item  # type: ignore[misc]
    finally:
        if not finished:
            stop.set()
            cur = live.get("cursor")
            if cur is not None:
                try:
                    cur.adbc_cancel()  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - the query may have ended meanwhile
                    pass
            _drain(q)
        thread.join()


def _drain(q: queue.Queue[object]) -> bool:
    """Take items until the producer's end marker (unblocking it); True once seen."""
    while q.get() is not _END:
        pass
    return True


def coerce_batch(
    raw: pa.RecordBatch,
    columns: Sequence[SourceColumn],
    ndims_at: dict[int, int],
    schema: pa.Schema,
) -> pa.RecordBatch:
    """ADBC's batch -> the planned Arrow types, refusing what would lose information."""
    arrays = []
    for i, col in enumerate(columns):
        arr = raw.column(i)
        if isinstance(arr.type, pa.ExtensionType):
            arr = arr.storage  # numeric (exact text), json/jsonb (text), uuid
        # Array elements too: the reader flattens nothing there, but wraps 'infinity' alike.
        if pg_temporal(col.arrow_type) and arr.null_count < len(arr):
            if pg_out_of_range(arr) is not None:
                # Say so for an array: its other elements are fine, one element is not.
                where = "an element that is " if pa.types.is_list(col.arrow_type) else ""
                raise SourceValueUnsupported(
                    column=col.name,
                    value=f"{where}'infinity', '-infinity', a BC date or one past the year 9999",
                    reason="no lake table can hold (they hold the years 1 to 9999)",
                )
        if col.check == CHECK_PG_NDIMS and i in ndims_at:
            dims = pc.max(raw.column(ndims_at[i])).as_py()
            if dims is not None and dims > 1:
                raise SourceValueUnsupported(
                    column=col.name,
                    value=f"a {dims}-dimensional array",
                    reason="a list column would flatten (unnest it or pick elements in SQL)",
                )
        if col.read_as in (READ_TIME, READ_TIME_ARRAY):
            arr = canonical_time_text(arr)
        if not arr.type.equals(col.arrow_type):
            try:
                arr = arr.cast(col.arrow_type, safe=True)
            except pa.ArrowException as e:
                raise SourceValueUnsupported(
                    column=col.name,
                    value=_first_uncastable(arr, col.arrow_type),
                    reason=f"has no exact {col.arrow_type} form ({str(e).splitlines()[0]})",
                ) from None
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _first_uncastable(arr: pa.Array, t: pa.DataType) -> str:
    for i in range(len(arr)):
        try:
            arr.slice(i, 1).cast(t, safe=True)
        except pa.ArrowException:
            return repr(arr[i].as_py())
    return "a value"
