"""Training sets: a SQL query over pinned table versions, materialized as Parquet, provable.

``lake materialize NAME --sql QUERY --out DIR``:

1. **Pin.** Every lake table the query names is pinned to one version before anything is
   read (the latest, or what its ``VERSION AS OF`` / ``TIMESTAMP AS OF`` / ``AT (...)``
   clause names) by the preparation ``lake sql`` uses (:func:`queries.sql.prepare`: the
   text parsed once, pinned, rewritten and bound); the query then reads exactly those
   versions' files, so a concurrent ingest cannot change the result.
2. **Order.** Rows are written in one deterministic order (the *ordering rule*):

   * a query without a top-level ORDER BY is ordered by all its output columns, left to
     right (``ORDER BY ALL``);
   * a query with one keeps it, and every output column (by position, left to right) is
     appended as a tie-breaker, so the order is total and a LIMIT picks the same rows
     every time; ``ORDER BY ALL`` is total already.

   Rows that tie on every column are identical, so any order among them writes the same
   bytes. A LIMIT/OFFSET without ORDER BY, a sample, and functions whose value changes
   between runs (``random()``, ``now()``, ``uuid()`` ...) are refused: they cannot give
   the same rows twice. A query whose result depends on the order DuckDB meets the rows
   in (an aggregate: a sum of doubles, ``list()``, ``first()``; a window; a LIMIT below
   the top; an ASOF join; DISTINCT ON) runs on one thread, which meets them in the order of the
   pinned version's files every time (their path order, the same however the version is
   read: :func:`lake.delta.snapshot.in_file_order`): on several threads that order is
   whichever file a thread reaches first, and a sum of doubles changed in its last bits from
   run to run.
3. **Write** Parquet shards deterministically and hash the rows as they pass
   (:mod:`queries.shards`, :mod:`queries.content_hash`), into a temporary folder inside
   ``DIR``; then register the training-set version in the catalog (with the run's lineage
   and the pins that keep its data from vacuum), move the files into place and write
   ``.lake/manifest.json`` last (:mod:`queries.manifest`). The folder then holds Parquet
   files and nothing a loader trips on: ``pandas.read_parquet(DIR)``,
   ``pyarrow.dataset.dataset(DIR)``, ``datasets.load_dataset("parquet", data_dir=DIR)``,
   ``polars.read_parquet("DIR/*.parquet")`` and DuckDB's ``read_parquet('DIR/*.parquet')``
   read it as it is.

``DIR`` may be an ``s3://bucket/prefix`` (:mod:`queries.outputs`): the same shards are
staged locally and uploaded, the manifest last.

**History is never overwritten.** A folder holds one training-set version for good: a new
version (other SQL, or newer inputs) into a folder that holds another version is refused,
before the query runs, naming the version it holds; write it to a new folder. The same
version into its own folder is a cache hit when intact, and written again (the recorded
content, proven by its hash) when a file is missing or damaged.

**Cache.** When ``DIR`` holds a manifest of the same name, SQL, shard size and input
versions, registered in the catalog with the same content hash, and every file listed has
its recorded size and sha256, nothing is recomputed (a cache hit). Checking the sha256 of
every file reads the output once (about 2 GB/s); sizes alone would miss a corrupted file,
and re-running the query costs far more. The versions a hit needs are the catalog's: when
the folder holds a manifest, they are looked up before the query is prepared, so a hit
reads no input (no Delta log, no DuckDB), which on S3 was most of its time.

**Same SQL, same versions, another folder**: the registered version is written there
again (no new version); content that differs is refused as not reproducible.

**Rebuild** (``--from MANIFEST`` or ``--from NAME@VERSION``): the recorded SQL runs with
every table reference pinned to its recorded version (by position in the query, so even
a ``TIMESTAMP AS OF now() - ...`` clause reads what it read then); the output must have
the recorded schema, row count and content hash, or the rebuild fails saying what differs.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from catalog.reader import CatalogReader, full_catalog
from catalog.records import TrainingSetInfo
from lake.core.arrow_memory import pages_kept
from lake.core.config import location_problem
from lake.core.errors import LakeError, UnsupportedLocation, VersionVacuumed
from lake.core.failpoints import failpoint
from lake.core.names import TableVersion, check_name, parse_ref
from lake.core.storage import Storage
from lake.delta.store import DeltaStore
from lake.landing.staging import StagingFolder
from queries.assets import localize
from queries.content_hash import SCHEME, canonical_type
from queries.exceptions import (
    ManifestError,
    NotReproducible,
    OutputFolderNotEmpty,
    QueryInvalid,
    QueryRefused,
    RebuildMismatch,
    TrainingSetError,
)
from queries.manifest import (
    LAKE_FOLDER,
    MANIFEST_PATH,
    OLD_MANIFEST_NAME,
    Manifest,
    find_manifest,
    manifest_in,
    read_manifest,
    unlisted,
    write_manifest,
)
from queries.outputs import RemoteFolder, is_remote
from queries.parse import parse_statement, with_syntax_tree
from queries.resolve import Resolver
from queries.session import check_result_types
from queries.shards import (
    DEFAULT_SHARD_ROWS,
    ShardFile,
    WrittenShards,
    check_storable,
    sha256_file,
    write_shards,
    writer_settings,
)
from queries.splits import SplitRule, parse_split, write_splits
from queries.sql import Edit, PreparedQuery, Rewritten, is_duckdb_error, prepare
from queries.statement import Statement, TimeTravel

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from catalog.catalog import Catalog

Progress = Callable[[int, int, int], None]
Target = Path | RemoteFolder
"""A training set's folder: local, or an ``s3://`` prefix (:mod:`queries.outputs`)."""
BATCH_ROWS = 65_536
WRAPPER_ALIAS = "lake_training_set"
_TEMP_PREFIX = ".lake-tmp-"
_INSTALLING = f"{LAKE_FOLDER}/installing"
_VOLATILE = {
    "random",
    "rand",
    "setseed",
    "uuid",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "get_current_time",
    "get_current_timestamp",
    "transaction_timestamp",
    "localtimestamp",
    "localtime",
    "today",
}


@dataclass(frozen=True)
class MaterializeResult:
    """What ``lake materialize`` did."""

    name: str
    version: int
    out: str
    status: str
    """``materialized`` (a new version), ``cached`` (nothing recomputed), ``copied`` (a
    registered version written to another folder) or ``rebuilt`` (proven identical)."""
    row_count: int
    content_hash: str
    files: tuple[ShardFile, ...]
    inputs: tuple[dict[str, Any], ...]
    manifest: str
    seconds: float
    run_id: str | None = None
    files_identical: bool | None = None
    """For a rebuild: every shard is byte-identical to the recorded one."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def cached(self) -> bool:
        return self.status == "cached"

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "out": self.out,
            "row_count": self.row_count,
            "content_hash": self.content_hash,
            "files": [f.to_json() for f in self.files],
            "inputs": list(self.inputs),
            "manifest": self.manifest,
            "seconds": round(self.seconds, 3),
            "run_id": self.run_id,
            "files_identical": self.files_identical,
            "notes": list(self.notes),
        }


# -- the ordering rule (pure) ------------------------------------------------------------------


@dataclass(frozen=True)
class OrderPlan:
    """How a query's rows get their deterministic order."""

    kind: str
    """``wrap`` (no ORDER BY: order by all columns), ``append`` (tie-breakers appended to the
    query's ORDER BY at ``insert_at``) or ``total`` (the query orders BY ALL)."""
    insert_at: int
    end: int
    """Where the query ends in ``source``: trailing semicolons (and comments) are dropped."""
    source: str = field(repr=False)
    """The statement's text."""
    one_thread: bool = False
    """The result depends on the order DuckDB meets the rows in (an aggregate, a window, a
    LIMIT below the top, an ASOF join): the query runs on one thread, which meets them in
    the order of the version's files every time (see :func:`order_sensitive`)."""

    @property
    def text(self) -> str:
        """The query without trailing semicolons."""
        return self.source[: self.end]

    @property
    def description(self) -> str:
        return {
            "wrap": "ORDER BY all output columns, left to right",
            "append": (
                "the query's ORDER BY, then every output column left to right as tie-breakers"
            ),
            "total": "the query's ORDER BY ALL",
        }[self.kind]

    def trimmed(self) -> tuple[Edit, ...]:
        """The statement as the query alone: what follows its end dropped."""
        return ((self.end, len(self.source), ""),)

    def edits(self, columns: int) -> tuple[Edit, ...]:
        """The ordering rule as edits of the statement's text, for a query of ``columns``
        output columns."""
        if self.kind == "wrap":
            return (
                (0, 0, "SELECT * FROM ("),
                (self.end, len(self.source), f"\n) AS {WRAPPER_ALIAS} ORDER BY ALL"),
            )
        if self.kind == "total":
            return self.trimmed()
        ties = ", ".join(str(i) for i in range(1, columns + 1))
        return ((self.insert_at, self.insert_at, f", {ties}"), *self.trimmed())

    def ordered_sql(self, columns: int) -> str:
        """The query with the ordering rule applied (table names as written)."""
        text, cursor, pieces = self.source, 0, []
        for start, end, replacement in sorted(self.edits(columns)):
            pieces += [text[cursor:start], replacement]
            cursor = end
        return "".join(pieces) + text[cursor:]


def plan_order(statement: Statement | str) -> OrderPlan:
    """Apply the ordering rule to a parsed query (see the module docstring).

    Raises:
        NotReproducible: a LIMIT/OFFSET without ORDER BY, a sample, or a volatile function.
        QueryRefused: the statement is not a query.
        QuerySyntaxError: the text is not one valid statement.
    """
    from sqlglot import exp
    from sqlglot.tokens import TokenType

    if isinstance(statement, str):
        statement = parse_statement(statement)
    statement = with_syntax_tree(statement)
    tree = statement.tree
    if statement.kind == "explain" or not isinstance(tree, exp.Query):
        raise QueryRefused(
            f"A training set is the result of a query (SELECT, WITH ..., VALUES), not of "
            f"{statement.kind.upper()}."
        )
    _refuse_nondeterminism(tree, exp)
    tokens = list(statement.tokens)
    while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        tokens.pop()
    text = statement.text
    end = tokens[-1].end + 1 if tokens else len(text)
    one_thread = order_sensitive(tree)
    order = tree.args.get("order")
    if order is None:
        return OrderPlan("wrap", end, end, text, one_thread)
    keys = order.expressions
    if len(keys) == 1 and isinstance(keys[0].this, exp.Var) and keys[0].this.name.upper() == "ALL":
        return OrderPlan("total", end, end, text, one_thread)
    depth, start = 0, None
    for index, token in enumerate(tokens):
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE):
            depth += 1
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE):
            depth -= 1
        elif depth == 0 and token.token_type == TokenType.ORDER_BY:
            start = index
    if start is None:  # pragma: no cover - the tree has an ORDER BY, so a token does
        raise QueryInvalid("The query's ORDER BY could not be located; write ORDER BY ALL.")
    insert_at = end
    depth, previous = 0, tokens[start]
    for token in tokens[start + 1 :]:
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE):
            depth += 1
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE):
            depth -= 1
        elif depth == 0 and (
            token.token_type in (TokenType.LIMIT, TokenType.OFFSET, TokenType.FETCH)
            or token.text.upper() in ("LIMIT", "OFFSET", "FETCH", "USING")
        ):
            insert_at = previous.end + 1
            break
        previous = token
    return OrderPlan("append", insert_at, end, text, one_thread)


def order_sensitive(tree: Any) -> bool:
    """Whether a query's result can depend on the order DuckDB meets the rows in, beyond
    the output order the ordering rule fixes: an aggregate (a sum of doubles adds them in
    that order: 16 files on 2 threads gave 7 different sums in 20 runs; ``list()`` and
    ``first()`` keep it), a window (its frames and ties), a LIMIT or OFFSET below the top
    (ties at its ORDER BY's cut), an ASOF join (ties in the right side's order), DISTINCT ON
    (the first row of each group). On
    several threads that order is whichever file a thread gets to first."""
    from sqlglot import exp

    for node in tree.walk():
        if isinstance(node, (exp.AggFunc, exp.Window)):
            return True
        if isinstance(node, exp.Anonymous) and node.name.lower() in _duckdb_aggregates():
            return True
        if (
            node is not tree
            and isinstance(node, (exp.Select, exp.SetOperation))
            and (node.args.get("limit") or node.args.get("offset"))
        ):
            return True
        if isinstance(node, exp.Join) and str(node.args.get("method") or "").upper() == "ASOF":
            return True
        if isinstance(node, exp.Distinct) and node.args.get("on") is not None:
            return True  # DISTINCT ON keeps the first row it meets of each group
    return False


@functools.cache
def _duckdb_aggregates() -> frozenset[str]:
    """The names of DuckDB's aggregate functions (sqlglot knows only some of them)."""
    from lake.core import duckdb as lake_duckdb

    connection = lake_duckdb.connect(threads=1)
    try:
        rows = connection.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE function_type = 'aggregate'"
        ).fetchall()
    finally:
        connection.close()
    return frozenset(name for (name,) in rows)


def _refuse_nondeterminism(tree: Any, exp: Any) -> None:
    for node in tree.walk():
        if isinstance(node, (exp.Select, exp.SetOperation)) and (
            node.args.get("limit") or node.args.get("offset")
        ):
            if node.args.get("order") is None:
                raise NotReproducible(
                    "The query has a LIMIT or OFFSET without ORDER BY, so which rows it keeps can "
                    "change from run to run; add an ORDER BY (e.g. ORDER BY ALL) before the LIMIT."
                )
        if isinstance(node, exp.TableSample) or (
            isinstance(node, exp.Select) and node.args.get("sample")
        ):
            raise NotReproducible(
                "The query samples rows (USING SAMPLE / TABLESAMPLE), which can pick other rows on "
                "another run; filter on a hash instead, e.g. WHERE hash(id) % 10 = 0."
            )
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _VOLATILE:
                name = {"rand": "random", "currentdate": "current_date"}.get(name, name)
                raise NotReproducible(
                    f"The query calls {name}(), whose value changes from run to run, so the "
                    f"training set could not be rebuilt; use a column or a literal instead."
                )


# -- preparing a query over pinned versions ----------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """A training set's query as the SQL layer prepared it (parsed once, every table pinned,
    bound), and the ordering rule to run it with."""

    query: PreparedQuery
    order: OrderPlan
    columns: int
    cursor: duckdb.DuckDBPyConnection = field(repr=False)
    """A database locked to the pinned versions' files (:meth:`close` it)."""
    spill: StagingFolder = field(repr=False)
    """The private folder DuckDB may spill to (sorting a large set); locked like a staging
    folder, so that the next run removes the one a killed run left."""

    def close(self) -> None:
        self.cursor.close()
        self.spill.close()

    @property
    def sql(self) -> str:
        """The query as recorded: the user's text without trailing semicolons."""
        return self.order.text

    def references(self) -> list[dict[str, Any]]:
        """Each lake table reference, in text order, with the version it read."""
        return [
            {
                "table": str(resolved.pinned.table),
                "clause": ref.time_travel.clause if ref.time_travel else None,
                "version": resolved.pinned.version,
            }
            for ref, resolved in self.query.references()
        ]

    def inputs(self) -> list[TableVersion]:
        """Every table version read, once each, by table and version."""
        return sorted(self.query.versions(), key=lambda v: (str(v.table), v.version))


def _prepare(
    catalog: Catalog,
    storage: Storage,
    sql: str,
    *,
    pins: Sequence[tuple[str, int]] | None = None,
    as_of: datetime | None = None,
) -> _Prepared:
    """Parse ``sql`` once, pin every table it reads (for a rebuild: the n-th reference in
    the text to the n-th of ``pins``) and bind it: ``DESCRIBE`` reads no data, and its
    errors point into the user's own text.

    The query runs read-only, in a database that can read the pinned versions' files and
    nothing else: a file outside the lake (``FROM 'x.parquet'``, ``read_csv(...)``) has no
    version to pin, so the set could not be rebuilt and its audit would not name it."""
    statement = parse_statement(sql)
    order = plan_order(statement)
    resolver = Resolver(catalog, storage)
    resolver.look_up(statement.tables)
    travel = _pinned(statement, resolver, pins) if pins is not None else None
    if as_of is not None:
        travel = _as_of(statement, resolver, as_of)
    query = prepare(resolver, statement, read_only=True, travel=travel)
    spill = StagingFolder("lake-spill-")
    try:
        cursor = query.connect(
            temp_directory=str(spill.path), threads=1 if order.one_thread else None
        )
    except BaseException:
        spill.close()
        raise
    prepared = _Prepared(query, order, 0, cursor, spill)
    try:
        described = query.run(
            lambda rewritten: cursor.execute(rewritten.text).fetchall(),
            edits=((0, 0, "DESCRIBE "), *order.trimmed()),
        )
        check_result_types([(str(row[0]), str(row[1])) for row in described])
        columns = len(described)
    except BaseException:
        prepared.close()
        raise
    return replace(prepared, columns=columns)


def _pinned(
    statement: Statement, resolver: Resolver, pins: Sequence[tuple[str, int]]
) -> dict[int, TimeTravel]:
    """``VERSION AS OF`` each recorded version, for the lake references of ``statement``
    (index in ``statement.tables``) in the order of the text."""
    lake = sorted(
        (i for i, ref in enumerate(statement.tables) if resolver.lake_name(ref) is not None),
        key=lambda i: statement.tables[i].start,
    )
    if len(pins) != len(lake):
        raise RebuildMismatch(
            f"The SQL reads {len(lake)} lake table reference(s) but the manifest records "
            f"{len(pins)}; the manifest's SQL and references do not match."
        )
    travel = {}
    for rank, (index, (table, version)) in enumerate(zip(lake, pins, strict=True)):
        ref = statement.tables[index]
        name = resolver.lake_name(ref)
        if str(name) != table:
            raise RebuildMismatch(
                f"The SQL's table reference {rank + 1} is {name} at line {ref.line}, column "
                f"{ref.column}, but the manifest records {table}; the manifest's SQL and "
                f"references do not match."
            )
        travel[index] = TimeTravel(clause=f"VERSION AS OF {version}", version=version)
    return travel


@dataclass(frozen=True)
class Engine:
    """Where the query runs: ``local`` (DuckDB in this process) or ``ray`` (a Ray cluster,
    :mod:`queries.ray_engine`); the ordering, shards, hash and manifest are the same."""

    name: str = "local"
    address: str | None = None
    """The Ray cluster's address (default: ``RAY_ADDRESS``, else a local Ray)."""

    def __post_init__(self) -> None:
        from queries.ray_engine import check_engine

        check_engine(self.name)


def _as_of(statement: Statement, resolver: Resolver, moment: datetime) -> dict[int, TimeTravel]:
    """``TIMESTAMP AS OF moment`` for every lake reference without a clause of its own."""
    clause = f"TIMESTAMP AS OF '{moment.isoformat()}'"
    return {
        index: TimeTravel(clause=clause, moment=moment)
        for index, ref in enumerate(statement.tables)
        if ref.time_travel is None and resolver.lake_name(ref) is not None
    }


def parse_as_of(value: str | datetime) -> datetime:
    """``--as-of``: an ISO 8601 time with its offset (``2026-11-20T10:00:00Z``).

    Raises:
        TrainingSetError: not such a time, or no offset (which time zone would be a guess).
    """
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise TrainingSetError(
                f"--as-of {value!r} is not an ISO 8601 time; write e.g. 2026-11-20T10:00:00Z."
            ) from None
    if moment.tzinfo is None:
        raise TrainingSetError(
            f"--as-of {moment.isoformat()} has no time zone; add one, e.g. "
            f"{moment.isoformat()}Z for UTC."
        )
    return moment.astimezone(UTC)


def _stream(
    prepared: _Prepared,
    engine: Engine | None = None,
    notes: list[str] | None = None,
    recorded: Sequence[str] | None = None,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Run the ordered query and stream its rows, repeated column names named apart by the
    lake's one rule (:func:`queries.output.unique_names`, DuckDB's own: ``a, a_1``), unless
    they are the ``recorded`` names of the set being rebuilt as they came (a set made before
    the rule, from a query with its own ORDER BY, kept them repeated: it rebuilds as it was)."""
    cursor = prepared.cursor
    if engine is not None and engine.name == "ray":
        from queries import ray_engine

        return _named_apart(
            *ray_engine.stream(
                prepared.query,
                prepared.order,
                cursor,
                address=engine.address,
                notes=notes,
            ),
            recorded,
        )

    def start(rewritten: Rewritten) -> tuple[Rewritten, pa.RecordBatchReader]:
        cursor.execute(rewritten.text)
        return rewritten, cursor.to_arrow_reader(BATCH_ROWS)

    rewritten, reader = prepared.query.run(start, edits=prepared.order.edits(prepared.columns))

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except Exception as error:  # noqa: BLE001
            if not is_duckdb_error(error) and not _is_arrow_error(error):
                raise
            raise prepared.query.translate(error, rewritten) from error

    return _named_apart(reader.schema, batches(), recorded)


def _named_apart(
    schema: pa.Schema, batches: Iterator[pa.RecordBatch], recorded: Sequence[str] | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The rows under unique column names (the shards, the manifest and the content hash
    all take them from here). DuckDB names a subquery's repeated columns so already, not
    those of a query with its own ORDER BY; this holds the rule whatever the query and the
    engine."""
    from queries.output import unique_names

    names = unique_names(schema.names)
    if names == schema.names or (recorded is not None and list(recorded) == schema.names):
        return schema, batches
    import pyarrow as pa

    named = pa.schema(
        [field.with_name(name) for field, name in zip(schema, names, strict=True)],
        metadata=schema.metadata,
    )
    return named, (pa.RecordBatch.from_arrays(b.columns, schema=named) for b in batches)


def _is_arrow_error(error: BaseException) -> bool:
    import pyarrow as pa

    return isinstance(error, pa.ArrowException)


# -- materialize -------------------------------------------------------------------------------


def materialize(
    catalog: Catalog | CatalogReader,
    storage: Storage,
    name: str,
    sql: str,
    *,
    out: str | Path,
    shard_rows: int | None = None,
    split: str | None = None,
    split_key: str | None = None,
    as_of: str | datetime | None = None,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> MaterializeResult:
    """Materialize ``sql`` as training set ``name`` into folder ``out``, local or an
    ``s3://bucket/prefix`` (see the module docstring for the rules). With ``split``
    (``train=0.8,validation=0.1,test=0.1``) and ``split_key``, each row goes to one split's
    subfolder by a stable hash of its key (:mod:`queries.splits`). With ``as_of`` every
    table read without a clause of its own is pinned to its version current at that time
    (what the lake knew then), and the manifest records it. ``engine`` runs the query on Ray
    instead of locally (same ordering, shards and content hash).

    Raises:
        NotReproducible: the query cannot give the same rows twice.
        OutputFolderNotEmpty: ``out`` holds files that are not a training set's, or another
            training-set version (history is never overwritten).
        QueryError: the query is not valid or failed (line and column of ``sql``).
        VersionVacuumed: a version the query names lost its files to vacuum.
    """
    started = time.perf_counter()
    notes: list[str] = []
    check_name(name, "training set")
    shard_rows = shard_rows or DEFAULT_SHARD_ROWS
    if shard_rows <= 0:
        raise TrainingSetError(f"--shard-rows must be a positive number of rows, not {shard_rows}.")
    if split_key is not None and split is None:
        raise TrainingSetError("--split-key needs --split, e.g. --split train=0.8,test=0.2.")
    rule = parse_split(split, split_key) if split is not None else None
    moment = parse_as_of(as_of) if as_of is not None else None
    out = _target(out, storage, catalog)
    previous = _existing_manifest(out)
    if previous is not None:
        hit = _quick_cache_hit(catalog, storage, name, sql, previous, out, shard_rows, rule, moment)
        if hit is not None:
            return _result(previous, out, "cached", started, hit.run_id)
    # Past a cache hit the catalog is written (runs, lineage, the new version): the full one.
    catalog = full_catalog(catalog)
    prepared = _prepare(catalog, storage, sql, as_of=moment)
    try:
        inputs = prepared.inputs()
        registered = _registered_with_same_inputs(
            catalog,
            name,
            prepared.sql,
            [(str(r["table"]), int(r["version"])) for r in prepared.references()],
            rule,
        )
        if previous is not None:
            if registered is None:
                _refuse_overwrite(out, previous, f"a new version of {name}")
            elif (previous.name, previous.version) != (registered.name, registered.version):
                _refuse_overwrite(out, previous, registered.ref)
            elif _cache_hit(previous, registered, out, shard_rows):
                return _result(previous, out, "cached", started, registered.run_id)
        from catalog.registry import check_training_set_location  # past a cache hit only

        check_training_set_location(
            catalog, str(out), writing=(registered.name, registered.version) if registered else None
        )
        staging = _prepare_folder(out, previous)
        try:
            run_id = catalog.start_run(
                kind="materialize",
                job=f"materialize:{name}",
                parameters={
                    "name": name,
                    "sql": prepared.sql,
                    "out": str(out),
                    "shard_rows": shard_rows,
                    "as_of": moment.isoformat() if moment else None,
                },
                inputs=inputs,
            )
            try:
                recorded = registered.manifest.get("schema") if registered else None
                schema, batches = _stream(
                    prepared, engine, notes, [str(c["name"]) for c in recorded or ()] or None
                )
                written, split_json = _write(
                    storage,
                    batches,
                    schema,
                    staging,
                    rule,
                    shard_rows=shard_rows,
                    progress=progress,
                )
                failpoint("materialize_shards")
                base = {
                    "name": name,
                    "sql": prepared.sql,
                    "order": prepared.order.description,
                    "inputs": tuple(i.to_json() for i in inputs),
                    "references": tuple(prepared.references()),
                    "schema": tuple(_schema_json(written.schema)),
                    "row_count": written.rows,
                    "content_hash": written.content_hash,
                    "content_hash_scheme": SCHEME,
                    "files": tuple(f.to_json() for f in written.files),
                    "writer": writer_settings(shard_rows),
                }
                if registered is not None:
                    from catalog.registry import record_training_set_written

                    manifest = _copy_of(registered, written, base, run_id)
                    record_training_set_written(
                        catalog, run_id, registered.name, registered.version
                    )
                    status = "copied"
                else:
                    from catalog.registry import register_training_set

                    info = register_training_set(
                        catalog,
                        name=name,
                        sql=prepared.sql,
                        content_hash=written.content_hash,
                        row_count=written.rows,
                        location=str(out),
                        inputs=inputs,
                        run_id=run_id,
                        manifest=lambda version: _manifest(
                            base, version, run_id, split_json, moment
                        ).to_json(),
                    )
                    manifest = Manifest.from_json(info.manifest, where=f"training set {info.ref}")
                    status = "materialized"
            except BaseException as error:
                catalog.finish_run(run_id, status="failed", error=_message(error))
                raise
            failpoint("materialize_registered")
            manifest = _install(out, staging, previous, manifest)
            catalog.finish_run(
                run_id,
                status="completed",
                stats={
                    "training_set": f"{name}@{manifest.version}",
                    "rows": written.rows,
                    "status": status,
                    **({"engine": engine.name} if engine is not None else {}),
                },
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        prepared.close()
    return _result(manifest, out, status, started, run_id, notes)


def rebuild(
    catalog: Catalog,
    storage: Storage,
    source: str,
    *,
    out: str | Path,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> MaterializeResult:
    """Rebuild a training set from its manifest (a path to the manifest or the training
    set's folder, or ``NAME@VERSION`` of a registered one) and prove it is the same. When
    ``out`` already holds that version, intact, nothing is recomputed (``cached``).

    Raises:
        ManifestError: the manifest is missing or damaged.
        OutputFolderNotEmpty: ``out`` holds another training-set version or foreign files.
        VersionVacuumed: a recorded version lost its files (vacuum without a pin).
        RebuildMismatch: the result differs; the message says how.
        QueryRefused: the recorded SQL is refused now (a set made before its query could
            read only lake tables, which read something else).
    """
    started = time.perf_counter()
    engine_notes: list[str] = []
    manifest = _load_manifest(catalog, storage, source)
    out = _target(out, storage, catalog)
    previous = _existing_manifest(out)
    if previous is not None:
        if (previous.name, previous.version) != (manifest.name, manifest.version):
            _refuse_overwrite(out, previous, f"{manifest.name}@{manifest.version}")
        if previous.content_hash == manifest.content_hash and _intact(previous, out):
            return _result(previous, out, "cached", started, previous.run_id)
    pins = _recorded_pins(manifest)
    try:
        prepared = _prepare(catalog, storage, manifest.sql, pins=pins)
    except QueryRefused as refused:
        # The manifest's SQL ran when the set was made: sets made before the query was held
        # to its pinned files could read others (the likely case; an edited manifest, too).
        raise QueryRefused(
            f"{manifest.name}@{manifest.version} cannot be rebuilt: its recorded SQL is refused "
            f"now (sets made before a training set's query could read only lake tables may "
            f"read other files, which have no version to pin); its rows are only in its own "
            f"folder. {refused}",
            line=refused.line,
            column=refused.column,
        ) from refused
    try:
        _check_inputs(manifest, prepared)
        _check_files_present(manifest, prepared, storage)
        from catalog.registry import check_training_set_location

        check_training_set_location(catalog, str(out), writing=(manifest.name, manifest.version))
        staging = _prepare_folder(out, previous)
        try:
            run_id = catalog.start_run(
                kind="rebuild",
                job=f"rebuild:{manifest.name}",
                parameters={"training_set": f"{manifest.name}@{manifest.version}", "out": str(out)},
                inputs=prepared.inputs(),
            )
            try:
                shard_rows = int(manifest.writer.get("shard_rows") or DEFAULT_SHARD_ROWS)
                schema, batches = _stream(
                    prepared, engine, engine_notes, [str(c["name"]) for c in manifest.schema]
                )
                written, split_json = _write(
                    storage,
                    batches,
                    schema,
                    staging,
                    _split_rule(manifest.extra),
                    shard_rows=shard_rows,
                    progress=progress,
                )
                _compare(manifest, written, split_json)
                from catalog.registry import record_training_set_written

                record_training_set_written(catalog, run_id, manifest.name, manifest.version)
            except BaseException as error:
                catalog.finish_run(run_id, status="failed", error=_message(error))
                raise
            identical = [f.sha256 for f in written.files] == [
                str(f["sha256"]) for f in manifest.files
            ]
            rebuilt = Manifest(
                **{
                    **{
                        k: getattr(manifest, k)
                        for k in Manifest.__dataclass_fields__
                        if k != "extra"
                    },
                    "files": tuple(f.to_json() for f in written.files),
                    "writer": writer_settings(shard_rows),
                    "extra": {
                        **manifest.extra,
                        "rebuild": {
                            "run_id": run_id,
                            "at": datetime.now(UTC).isoformat(),
                            "files_identical": identical,
                        },
                    },
                }
            )
            rebuilt = _install(out, staging, previous, rebuilt)
            catalog.finish_run(
                run_id,
                status="completed",
                stats={
                    "training_set": f"{manifest.name}@{manifest.version}",
                    "verified": True,
                    "files_identical": identical,
                },
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        prepared.close()
    notes = (
        ()
        if identical
        else (
            "same content hash; the Parquet bytes differ "
            "(another pyarrow version, other writer settings, or rows batched "
            "differently by another version of the lake)",
        )
    )
    result = _result(rebuilt, out, "rebuilt", started, run_id, engine_notes)
    return MaterializeResult(
        **{**result.__dict__, "files_identical": identical, "notes": (*result.notes, *notes)}
    )


# -- helpers ---------------------------------------------------------------------------------


def _registered_with_same_inputs(
    catalog: Catalog | CatalogReader,
    name: str,
    sql: str,
    references: Sequence[tuple[str, int]],
    rule: SplitRule | None,
) -> TrainingSetInfo | None:
    """The registered version of ``name`` made by the same SQL, each lake table reference
    (``(table, version)`` pairs in the order of the text) reading the same version, and
    split by the same rule. The set of versions read is not enough: a table read at two
    versions by clauses of their own and once more without one reads the same two versions
    whichever of them that reference is pinned to (by ``--as-of`` or not), and gives other
    rows."""
    wanted = [(table, version) for table, version in references]
    for candidate in reversed(_recorded_sets(catalog, "training_sets", name)):
        recorded = [
            (str(r.get("table")), int(r.get("version", -1)))
            for r in candidate.manifest.get("references") or ()
        ]
        if candidate.sql == sql and recorded == wanted and _split_rule(candidate.manifest) == rule:
            return candidate
    return None


def _recorded_sets(
    catalog: Catalog | CatalogReader,
    question: Literal["training_sets", "training_sets_at"],
    about: str | Sequence[str],
) -> list[TrainingSetInfo]:
    """The registered training-set versions ``question`` finds (``training_sets(name)``: every
    version of a name; ``training_sets_at(locations)``: those recorded at any of them), from
    the plain-SQL reader when it can answer, else from the registry on the full catalog (the
    reader names its questions as the registry does and answers None for what it cannot)."""
    if isinstance(catalog, CatalogReader):
        found = getattr(catalog, question)(about)
        if found is not None:
            return found
    from catalog import registry

    return getattr(registry, question)(full_catalog(catalog), about)


def _quick_cache_hit(
    catalog: Catalog | CatalogReader,
    storage: Storage,
    name: str,
    sql: str,
    previous: Manifest,
    out: Target,
    shard_rows: int,
    rule: SplitRule | None,
    moment: datetime | None,
) -> TrainingSetInfo | None:
    """The registered version ``out`` holds intact, when the query would pin the versions it
    was made from: found from the catalog alone, before the query is prepared (reading each
    version's Delta log on S3 and starting DuckDB cost most of a cache hit). None when that
    cannot be told so cheaply (a time-travel clause DuckDB must compute) or it is no hit:
    the full path then decides, with the same rules.

    Raises:
        NotReproducible, QueryRefused, QuerySyntaxError: as :func:`materialize`.
    """
    statement = parse_statement(sql)
    order = plan_order(statement)
    resolver = Resolver(catalog, storage)
    resolver.look_up(statement.tables)
    travel = _as_of(statement, resolver, moment) if moment is not None else {}
    pins: list[tuple[int, str, int]] = []
    for index, ref in enumerate(statement.tables):
        table = resolver.lake_name(ref)
        clause = travel.get(index, ref.time_travel)
        if table is None or ref.role == "target":
            if ref.time_travel is not None or ref.role == "target":
                return None  # the full path says what is wrong
            continue
        if clause is not None and clause.version is None and clause.moment is None:
            return None  # an expression such as now() - INTERVAL 1 DAY: DuckDB computes it
        try:
            _, version = resolver.version(table, clause, where="", evaluate=_no_evaluation)
        except LakeError:
            return None
        pins.append((ref.start, str(table), version))
    in_text_order = [(table, version) for _, table, version in sorted(pins)]
    registered = _registered_with_same_inputs(catalog, name, order.text, in_text_order, rule)
    if registered is None or (previous.name, previous.version) != (
        registered.name,
        registered.version,
    ):
        return None
    return registered if _cache_hit(previous, registered, out, shard_rows) else None


def _no_evaluation(expression: str) -> datetime:  # pragma: no cover - never called
    raise AssertionError(f"{expression} was to be computed by DuckDB")


def _cache_hit(
    previous: Manifest, registered: TrainingSetInfo, out: Target, shard_rows: int
) -> bool:
    if (previous.name, previous.version, previous.content_hash) != (
        registered.name,
        registered.version,
        registered.content_hash,
    ):
        return False
    if int(previous.writer.get("shard_rows") or 0) != shard_rows:
        return False
    return _intact(previous, out)


def _target(out: str | Path, storage: Storage, catalog: Catalog | CatalogReader) -> Target:
    """``out`` as a training set's folder, checked before anything is read or written.

    Raises:
        UnsupportedLocation: the lake's readers would name another S3 prefix than the one
            written (the warehouse's rule, :func:`lake.core.config.location_problem`).
        TrainingSetError: ``out`` is inside the warehouse or a table's folder.
        OutputFolderNotEmpty: ``out`` is inside another training set's folder or prefix.
    """
    target: Target
    if is_remote(out):
        target = RemoteFolder(str(out).rstrip("/"), storage)
        # A local folder is not: a set is no Delta table, and every reader of a local
        # folder (pyarrow, DuckDB, the loaders) takes its path literally, '%41', '?' and
        # '#' included; sets written there by earlier versions stay readable and rebuildable.
        problem = location_problem(target.location)
        if problem:
            what, avoid = problem
            raise UnsupportedLocation(
                f"The output location {target} {what}; choose a location without {avoid}."
            )
    else:
        target = Path(out).expanduser().resolve()
    _refuse_inside_the_lake(target, storage, catalog)
    _refuse_inside_another_set(target, storage, catalog)
    return target


def _refuse_inside_the_lake(
    out: Target, storage: Storage, catalog: Catalog | CatalogReader
) -> None:
    """Vacuum deletes the files in a table's folder that no kept version lists, and the
    warehouse's other folders are the lake's own (objects, staging): a set written there
    would lose its files under the model trained on it."""
    where = str(out).rstrip("/")

    def within(folder: str) -> bool:
        if not is_remote(folder):  # as ``out``: through symlinks
            folder = str(Path(folder).expanduser().resolve())
        folder = folder.rstrip("/")
        return where == folder or where.startswith(folder + "/")

    if within(storage.warehouse):
        raise TrainingSetError(
            f"The output folder {out} is inside the lake's warehouse {storage.warehouse}, "
            f"whose files the lake manages (vacuum deletes what no table version lists): "
            f"choose a folder outside it."
        )
    for table in catalog.list_tables():
        if within(table.location):
            raise TrainingSetError(
                f"The output folder {out} is inside the folder of table {table.name} "
                f"({table.location}), where vacuum deletes what no table version lists: "
                f"choose a folder outside it."
            )


def _refuse_inside_another_set(
    out: Target, storage: Storage, catalog: Catalog | CatalogReader
) -> None:
    """A set written inside another set's folder would become part of it for every loader
    (``pandas.read_parquet(DIR)`` and ``pyarrow.dataset`` read subfolders): the files a
    model was trained on would silently gain rows. A folder where a set is recorded counts
    even when its files are gone: they may be put back there (``--from NAME@V --out``)."""
    if isinstance(out, RemoteFolder):
        bucket_and_key = out.location[len("s3://") :].split("/")
        enclosing: list[Target] = [
            RemoteFolder("s3://" + "/".join(bucket_and_key[:end]), storage)
            for end in range(len(bucket_and_key) - 1, 1, -1)
        ]
    else:
        enclosing = list(out.parents)
    for folder in enclosing:
        holds = _existing_manifest(folder)
        if holds is not None:
            raise OutputFolderNotEmpty(
                f"The output folder {out} is inside {folder}, which holds training set "
                f"{holds.name}@{holds.version}, and every loader of that folder would read "
                f"the new files as part of it: choose a folder outside {folder}."
            )
    locations = [str(folder) for folder in enclosing]
    recorded = _recorded_sets(catalog, "training_sets_at", locations)
    if recorded:
        found = recorded[0]
        raise OutputFolderNotEmpty(
            f"The output folder {out} is inside {found.location}, where training set "
            f"{found.name}@{found.version} is recorded; its files are not there now, but put "
            f"back (lake materialize --from {found.name}@{found.version} --out "
            f"{found.location}) they would take in the new files: choose a folder outside "
            f"{found.location}."
        )


def _intact(manifest: Manifest, out: Target) -> bool:
    """Every listed file is there with its recorded size and sha256, and no other file a
    loader of the folder reads (a cache hit said the set was there while loaders read the
    rows of a stray shard beside it)."""
    if isinstance(out, RemoteFolder):
        return out.intact(manifest)
    try:
        present = [str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()]
    except OSError:
        return False
    if unlisted(present, manifest):
        return False
    for entry in manifest.files:
        path = out / str(entry["path"])
        try:
            if path.stat().st_size != int(entry["bytes"]):
                return False
        except OSError:
            return False
    return all(sha256_file(out / str(entry["path"])) == entry["sha256"] for entry in manifest.files)


def _existing_manifest(out: Target) -> Manifest | None:
    if isinstance(out, RemoteFolder):
        return out.read_manifest()
    path = find_manifest(out)
    if path is None:
        return None
    try:
        return read_manifest(path)
    except ManifestError as error:
        raise OutputFolderNotEmpty(
            f"{out} holds a manifest the lake cannot read ({error}); remove the folder's "
            f"contents or choose another --out."
        ) from error


def _refuse_overwrite(out: Target, previous: Manifest, writing: str) -> None:
    other = f"{out}-v2" if isinstance(out, RemoteFolder) else out.parent / (out.name + "-v2")
    raise OutputFolderNotEmpty(
        f"The output folder {out} holds training set {previous.name}@{previous.version}, and "
        f"the lake never writes over a recorded version (a model or an audit may refer to its "
        f"files): write {writing} to a new folder, e.g. --out {other}."
    )


def _prepare_folder(out: Target, previous: Manifest | None) -> Path:
    """Create ``out``; refuse when it holds files that are not the previous training set's.
    Returns the local folder to stage the shards in (inside ``out`` when it is local)."""
    if isinstance(out, RemoteFolder):
        out.check_foreign(previous)
        return Path(tempfile.mkdtemp(prefix=_TEMP_PREFIX))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainingSetError(
            f"Cannot create the output folder {out}: {error.strerror}."
        ) from error
    with _folder_lock(out, wait=False):
        return _clear_folder(out, previous)


@contextmanager
def _folder_lock(out: Path, *, wait: bool) -> Iterator[None]:
    """An exclusive ``flock`` on the output folder itself, which the kernel lets go when
    the process dies: held by a writer moving its shards in and writing its manifest
    (:func:`_install`), and taken without waiting by one about to clear what a dead writer
    left. A second writer of the same set into the folder took a live writer's journal for
    a dead one's and deleted the files it was installing; the first then wrote a manifest
    naming files the folder did not hold.

    Raises:
        OutputFolderNotEmpty: ``wait`` is false and a live writer is installing there.
    """
    import fcntl

    fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise OutputFolderNotEmpty(
                f"Another writer is moving a training set into {out} now; run this again "
                f"once it has finished."
            ) from None
        yield
    finally:
        os.close(fd)


def _clear_folder(out: Path, previous: Manifest | None) -> Path:
    """Under the folder's lock: refuse foreign files, clear what a dead writer left (its
    journal's files, its staging folders), and make this writer's staging folder."""
    # A writer that died installing left a journal: the files it names are the lake's own.
    journal = out / _INSTALLING
    installing = (
        {
            n
            for n in journal.read_text(encoding="utf-8").splitlines()
            if n and "/" not in n and n != LAKE_FOLDER
        }
        if journal.exists()
        else set()
    )
    previous_files = {str(f["path"]).split("/")[0] for f in previous.files} if previous else set()
    ours = {LAKE_FOLDER, OLD_MANIFEST_NAME} | previous_files | installing
    foreign = sorted(
        p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith(_TEMP_PREFIX)
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise OutputFolderNotEmpty(
            f"The output folder {out} holds files that are not a training set's ({shown}); the "
            f"lake does not delete them: choose an empty or new folder."
        )
    for stale in out.glob(f"{_TEMP_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a writer that died
    for name in installing:
        if (out / name).is_dir():  # a split's subfolder
            shutil.rmtree(out / name)
        else:
            (out / name).unlink(missing_ok=True)
    journal.unlink(missing_ok=True)
    staging = out / f"{_TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    return staging


def _install(out: Target, staging: Path, previous: Manifest | None, manifest: Manifest) -> Manifest:
    """Replace the folder's training set with the staged one; the manifest goes last, so a
    folder with a manifest always holds the files it lists. The journal names the files
    being moved in, so a writer dying half-way leaves nothing the next one takes for foreign.
    The manifest the folder then holds: on S3, another writer's when it finished the same
    set first (:meth:`RemoteFolder.install`)."""
    if isinstance(out, RemoteFolder):
        return out.install(staging, previous, manifest)
    with _folder_lock(out, wait=True):
        # Another writer of the same version may have installed since this one looked: its
        # files go, or those its manifest lists and this one does not would stay as extra
        # shards that loaders read.
        current = _existing_manifest(out)
        _install_locked(out, staging, current or previous, manifest)
    return manifest


def _install_locked(
    out: Path, staging: Path, previous: Manifest | None, manifest: Manifest
) -> None:
    journal = out / _INSTALLING
    journal.parent.mkdir(exist_ok=True)
    journal.write_text("".join(f"{p.name}\n" for p in staging.iterdir()), encoding="utf-8")
    (out / MANIFEST_PATH).unlink(missing_ok=True)
    (out / OLD_MANIFEST_NAME).unlink(missing_ok=True)
    if previous is not None:
        for entry in previous.files:
            path = out / str(entry["path"])
            path.unlink(missing_ok=True)
            for parent in path.relative_to(out).parents[:-1]:  # a split's or assets' folders
                try:
                    (out / parent).rmdir()
                except OSError:
                    break  # not empty: another file of the set is still there
    for path in sorted(staging.iterdir()):
        path.replace(out / path.name)
    failpoint("materialize_install")
    write_manifest(out, manifest)
    journal.unlink()


def _manifest(
    base: dict[str, Any],
    version: int,
    run_id: str,
    split: dict[str, Any] | None,
    as_of: datetime | None,
) -> Manifest:
    extra: dict[str, Any] = {"split": split} if split else {}
    if as_of is not None:
        extra["as_of"] = as_of.isoformat()
    extra["file_order"] = FILE_ORDER
    return Manifest(
        version=version,
        run_id=run_id,
        created_at=datetime.now(UTC).isoformat(),
        **base,
        extra=extra,
    )


def _write(
    storage: Storage,
    batches: Iterator[pa.RecordBatch],
    schema: pa.Schema,
    staging: Path,
    rule: SplitRule | None,
    *,
    shard_rows: int,
    progress: Progress | None,
) -> tuple[WrittenShards, dict[str, Any] | None]:
    """Write the shards (one subfolder per split with a rule) and the assets the ``uri``
    column names (:mod:`queries.assets`); the manifest's ``split``. Arrow's buffers come
    from a pool that keeps freed pages (:mod:`lake.core.arrow_memory`): with the default one
    the kernel's page zeroing was 0.04-0.06 of 0.8-1.2 CPU-seconds of a 500,000-row set."""
    check_storable(schema)
    with pages_kept():
        if rule is None:
            whole = write_shards(batches, schema, staging, shard_rows=shard_rows, progress=progress)
            split = None
        else:
            written = write_splits(
                batches, schema, staging, rule, shard_rows=shard_rows, progress=progress
            )
            whole, split = written.whole, {**rule.to_json(), "splits": written.to_json()}
    assets = localize(storage, staging, whole.files)
    if assets:
        whole = WrittenShards((*whole.files, *assets), whole.rows, whole.content_hash, whole.schema)
    return whole, split


def _split_rule(manifest: Mapping[str, Any]) -> SplitRule | None:
    recorded = manifest.get("split")
    return SplitRule.from_json(recorded) if recorded else None


def _copy_of(
    registered: TrainingSetInfo, written: Any, base: dict[str, Any], run_id: str
) -> Manifest:
    if written.content_hash != registered.content_hash:
        raise NotReproducible(
            f"The same SQL over the same table versions as {registered.ref} gave different rows "
            f"(content hash {written.content_hash[:12]}..., registered "
            f"{registered.content_hash[:12]}...): the query is not deterministic (an "
            f"order-dependent aggregate such as list() or first()?)"
            f"{_older_file_order(registered.manifest, registered.sql)}."
        )
    recorded = Manifest.from_json(registered.manifest, where=f"training set {registered.ref}")
    return Manifest(
        **{
            **{k: getattr(recorded, k) for k in Manifest.__dataclass_fields__ if k != "extra"},
            "files": base["files"],
            "writer": base["writer"],
            "extra": {**recorded.extra, "copied_by_run": run_id},
        }
    )


def _load_manifest(catalog: Catalog, storage: Storage, source: str) -> Manifest:
    if is_remote(source):
        folder = source.rstrip("/").removesuffix(f"/{MANIFEST_PATH}")
        found = RemoteFolder(folder, storage).read_manifest()
        if found is None:
            raise ManifestError(f"No manifest under {folder}; give a training set's prefix.")
        return found
    path = manifest_in(Path(source).expanduser())
    if path.suffix == ".json" or path.exists():
        return read_manifest(path)
    name, version = parse_ref(source)
    if version is not None and not version.isdigit():
        raise ManifestError(
            f"{source!r} is neither a manifest file nor NAME@VERSION (e.g. churn@2)."
        )
    from catalog.registry import find_training_set

    found = find_training_set(catalog, name, int(version) if version else None)
    return Manifest.from_json(found.manifest, where=f"training set {found.ref}")


def _recorded_pins(manifest: Manifest) -> list[tuple[str, int]]:
    if manifest.references:
        return [(str(r["table"]), int(r["version"])) for r in manifest.references]
    # A manifest without references: every table must have been read at one version.
    tables = [str(i["table"]) for i in manifest.inputs]
    if len(set(tables)) != len(tables):
        raise ManifestError(
            f"The manifest of {manifest.name}@{manifest.version} lists a table at several versions "
            f"but not which reference read which; it cannot be rebuilt."
        )
    raise ManifestError(
        f"The manifest of {manifest.name}@{manifest.version} has no 'references'; it is damaged."
    )


def _check_inputs(manifest: Manifest, prepared: _Prepared) -> None:
    recorded = sorted((str(i["table"]), int(i["version"])) for i in manifest.inputs)
    now = sorted((str(i.table), i.version) for i in prepared.inputs())
    if recorded != now:
        raise RebuildMismatch(
            f"The rebuild of {manifest.name}@{manifest.version} would read {_versions(now)} but "
            f"the manifest records {_versions(recorded)}.",
            differences=("inputs",),
        )


def _check_files_present(manifest: Manifest, prepared: _Prepared, storage: Storage) -> None:
    for resolved in prepared.query.resolved():
        try:
            DeltaStore(resolved.info.location, storage).check_files(resolved.snapshot)
        except VersionVacuumed as error:
            raise VersionVacuumed(
                f"{manifest.name}@{manifest.version} cannot be rebuilt: version "
                f"{resolved.pinned.version} of {resolved.pinned.table} lost its data files to "
                f"vacuum (it was not pinned). {error}"
            ) from error


FILE_ORDER = "path"
"""The order a set's query met each version's files in (``file_order`` in its manifest):
:func:`lake.delta.snapshot.in_file_order`. Sets made before it met them in deltalake's order
(newest commit first, unless a checkpoint said otherwise) and have no ``file_order``."""


def _older_file_order(recorded: Mapping[str, Any], sql: str) -> str:
    """What to add to a refusal of a set whose content differs, when the set was made
    before :data:`FILE_ORDER` and its query depends on the order it meets rows in."""
    if recorded.get("file_order") is not None or not plan_order(sql).one_thread:
        return ""
    return (
        ", and the set was made before the lake met a version's files in path order, which its "
        "query depends on (an aggregate, a window, DISTINCT ON): rebuild it with the lake "
        "that made it, or materialize it under a new name"
    )


def _compare(manifest: Manifest, written: Any, split: dict[str, Any] | None = None) -> None:
    differences: list[str] = []
    recorded_splits = (manifest.extra.get("split") or {}).get("splits") or {}
    for name, now in ((split or {}).get("splits") or {}).items():
        if (recorded_splits.get(name) or {}).get("content_hash") != now["content_hash"]:
            differences.append(f"split {name} ({now['rows']} rows now)")
    recorded_schema = [(str(c["name"]), str(c["type"])) for c in manifest.schema]
    new_schema = [(c["name"], c["type"]) for c in _schema_json(written.schema)]
    if recorded_schema != new_schema:
        changed = [
            f"{a[0]} {a[1]} became {b[0]} {b[1]}"
            for a, b in zip(recorded_schema, new_schema, strict=False)
            if a != b
        ]
        if len(recorded_schema) != len(new_schema):
            changed.append(f"{len(recorded_schema)} columns became {len(new_schema)}")
        differences.append(f"schema ({'; '.join(changed)})")
    if written.rows != manifest.row_count:
        differences.append(f"row count ({manifest.row_count} recorded, {written.rows} now)")
    if written.content_hash != manifest.content_hash:
        differences.append(
            f"content hash ({manifest.content_hash[:16]}... recorded, "
            f"{written.content_hash[:16]}... now)"
        )
    if differences:
        older = ""
        if written.content_hash != manifest.content_hash:
            older = _older_file_order(manifest.extra, manifest.sql)
        raise RebuildMismatch(
            f"The rebuild of {manifest.name}@{manifest.version} from the recorded versions "
            f"differs: {'; '.join(differences)}{older}. The folder was left as it was.",
            differences=tuple(differences),
        )


def _schema_json(schema: pa.Schema) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "type": canonical_type(f.type), "nullable": f.nullable} for f in schema
    ]


def _result(
    manifest: Manifest,
    out: Target,
    status: str,
    started: float,
    run_id: str | None,
    notes: Sequence[str] = (),
) -> MaterializeResult:
    return MaterializeResult(
        name=manifest.name,
        version=manifest.version,
        out=str(out),
        status=status,
        row_count=manifest.row_count,
        content_hash=manifest.content_hash,
        files=tuple(
            ShardFile(str(f["path"]), int(f.get("rows") or 0), int(f["bytes"]), str(f["sha256"]))
            for f in manifest.files
        ),
        inputs=tuple(dict(i) for i in manifest.inputs),
        manifest=str(out / MANIFEST_PATH),
        seconds=time.perf_counter() - started,
        run_id=run_id,
        notes=tuple(notes),
    )


def _versions(pairs: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{t}@{v}" for t, v in pairs) or "no tables"


def _message(error: BaseException) -> str:
    text = str(error) if isinstance(error, LakeError) else f"{type(error).__name__}: {error}"
    return text[:2000]


__all__ = ["Engine", "MaterializeResult", "OrderPlan", "materialize", "plan_order", "rebuild"]
