"""The Ray engine of training sets: ``lake materialize ... --engine ray [--ray-address ADDRESS]``.

The lake does everything it does for the local engine (:mod:`queries.training`): it parses the
query once, pins every table to one version and binds it (:func:`queries.sql.prepare`); only
the reading and the per-row work move to a Ray cluster. The order of the rows, the Parquet
shards, the content hash and the manifest are made on the driver by the same code, so a set
built on the cluster has the same content hash as one built locally and each rebuilds with the
other engine.

How a query runs:

1. **Split.** The largest table version the query reads (by the bytes of its files) is the
   *big* table. Its files (after the data skipping the local engine does too) are split into
   contiguous groups of about equal bytes, two per CPU of the cluster (at most one file each).
2. **Broadcast.** Every other table version is read once on the driver into Arrow and put in
   Ray's object store; each task sees it whole. A broadcast table may hold at most
   :data:`BROADCAST_BYTES` of Parquet files.
3. **Map.** Each Ray task opens its own DuckDB (one thread, the warehouse's settings) and runs
   the query text as the local engine rewrites it, with the big table's reference reading only
   the task's files and the broadcast tables read from Arrow. Tasks return Arrow tables.
4. **Order and write.** The driver applies the ordering rule to the union of the task results
   in DuckDB (``ORDER BY ALL``, or the query's ORDER BY keys then every column) and streams the
   rows into the same shard writer as the local engine.

This is right only when the query's result over all the files is the union of its results over
any split of them (a *map-only* query): projections, filters, CASE and per-row functions, and
joins of the big table with the small ones that keep the big table's rows apart (inner, cross,
semi, anti, ASOF, a LEFT JOIN with the big table on the left, a RIGHT JOIN with it on the
right). Everything else is refused before any task starts, with one sentence naming the part:
GROUP BY, HAVING, aggregates, DISTINCT, window functions, QUALIFY, LIMIT/OFFSET, set operations
(UNION ...), a PIVOT in the main FROM, the big table read twice or inside a WITH or a
subquery, a FULL join or an outer join that keeps a small table's rows (in the main join or
in one written in parentheses), an ORDER BY key that is not an output column. The local
engine runs all of them. A result column whose DuckDB type does not come back from Arrow
unchanged (UUID, JSON, ENUM, HUGEINT) is refused once the tasks are done, naming the column.

The driver receives every result row (it writes the shards), so the result must fit in the
driver's memory; the tasks' reading, filtering and joining is what the cluster spreads.
Deletion vectors are refused (no writer of the lake makes them; a table another tool wrote with
them cannot be read file by file).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lake.core.cluster import connect, first_line, import_ray, worker_storage
from lake.core.errors import LakeError
from lake.core.names import TableVersion
from lake.core.quoting import quote_ident
from lake.core.storage import Storage
from lake.delta.store import DeltaStore
from queries.exceptions import QueryRefused, RayEngineError, RayEngineRefused
from queries.parse import with_syntax_tree
from queries.scan import scan_sql
from queries.sql import PreparedQuery, Rewritten

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from lake.delta.snapshot import DataFile
    from queries.training import OrderPlan

ENGINES = ("local", "ray")
BROADCAST_BYTES = 64 * 1024 * 1024
"""The largest table (bytes of Parquet files of the version read) sent whole to every task."""
TASKS_PER_CPU = 2
BATCH_ROWS = 65_536
RESULT = "lake_ray_result"


@dataclass(frozen=True)
class TaskReport:
    """What one Ray task read and returned (the bench's work split)."""

    task: int
    files: int
    bytes: int
    """Bytes of the Parquet files it read (from the Delta log)."""
    rows_read: int
    """Rows of those files (from the Delta log)."""
    rows_out: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "files": self.files,
            "bytes": self.bytes,
            "rows_read": self.rows_read,
            "rows_out": self.rows_out,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RayRun:
    """What the Ray engine did for one query: filled while it runs."""

    big: str = ""
    broadcast: tuple[str, ...] = ()
    tasks: list[TaskReport] | None = None
    seconds_tasks: float = 0.0
    seconds_order: float = 0.0

    def note(self) -> str:
        tasks = self.tasks or []
        rows = [t.rows_read for t in tasks]
        nbytes = [t.bytes for t in tasks]
        seconds = [t.seconds for t in tasks]
        spread = (
            f"; rows per task {min(rows):,}-{max(rows):,}, bytes {min(nbytes):,}-{max(nbytes):,}"
            f", seconds {min(seconds):.3f}-{max(seconds):.3f}"
            if tasks
            else ""
        )
        small = f", broadcast {', '.join(self.broadcast)}" if self.broadcast else ""
        return (
            f"ray engine: {len(tasks)} task(s) over {self.big}{small}{spread}; tasks "
            f"{self.seconds_tasks:.3f} s, ordering and writing {self.seconds_order:.3f} s"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": "ray",
            "big_table": self.big,
            "broadcast": list(self.broadcast),
            "tasks": [t.to_json() for t in self.tasks or []],
            "seconds_tasks": round(self.seconds_tasks, 3),
            "seconds_order": round(self.seconds_order, 3),
        }


def check_engine(engine: str) -> str:
    """``engine`` if it is one the lake has.

    Raises:
        QueryRefused: an unknown engine.
    """
    if engine not in ENGINES:
        raise QueryRefused(f"Unknown engine {engine!r}; use one of: {', '.join(ENGINES)}.")
    return engine


# -- the plan (pure: what can run on the cluster) ------------------------------------------------


@dataclass(frozen=True)
class Plan:
    big: TableVersion
    big_index: int
    """Index in ``statement.tables`` of the big table's one reference."""
    small: tuple[TableVersion, ...]
    order_by: str
    """The ORDER BY the driver applies to the union of the task results."""


def plan(
    query: PreparedQuery, order: OrderPlan, names: Sequence[str], aggregates: frozenset[str]
) -> Plan:
    """Decide how ``query`` (prepared and pinned; ``order`` its :class:`OrderPlan`, ``names``
    its output columns, ``aggregates`` the names of DuckDB's aggregate functions) runs on
    the cluster.

    Raises:
        RayEngineRefused: a part of the query the Ray engine cannot run, named.
    """
    from sqlglot import exp

    statement = with_syntax_tree(query.statement)
    tree = statement.tree
    if not isinstance(tree, exp.Select):
        part = (
            "a set operation (UNION, INTERSECT, EXCEPT)"
            if isinstance(tree, exp.SetOperation)
            else f"a {type(tree).__name__.upper()} query"
        )
        raise _refused(part)
    versions = query.resolved()
    if not versions:
        raise _refused("a query that reads no lake table")
    big = max(versions, key=lambda r: (r.snapshot.bytes, str(r.pinned.table))).pinned
    for resolved in versions:
        _check_deletion_vectors(query.storage, resolved)
    refs = [i for i, r in query.lake.items() if r.pinned == big]
    if len(refs) > 1:
        raise _refused(f"reading the largest table {big.table} twice (a self-join)")
    big_index = refs[0]
    node = _table_node(tree, statement.tables[big_index].start - statement.offset)
    if node is None or node.parent_select is not tree:
        raise _refused(
            f"reading the largest table {big.table} inside a WITH clause or a subquery "
            f"(it must be in the main FROM or JOIN)"
        )
    _check_select(tree, exp, aggregates)
    _check_pivots(tree, exp)
    _check_joins(tree, node, big, exp)
    small = tuple(r.pinned for r in versions if r.pinned != big)
    for resolved in versions:
        if resolved.pinned != big and resolved.snapshot.bytes > BROADCAST_BYTES:
            raise _refused(
                f"joining {big.table} with {resolved.pinned.table} "
                f"({resolved.snapshot.bytes / 2**20:.1f} MiB): only the largest table is split "
                f"and the others are sent whole to every task, up to "
                f"{BROADCAST_BYTES // 2**20} MiB each"
            )
    return Plan(big, big_index, small, _order_by(tree, order, names, exp))


def _refused(part: str) -> RayEngineRefused:
    return RayEngineRefused(
        f"The Ray engine cannot run {part}: it splits the largest table's files across tasks, "
        f"so it runs only projections, filters and joins with small tables; run this query "
        f"with --engine local."
    )


def _table_node(tree: Any, start: int) -> Any:
    from sqlglot import exp

    for table in tree.find_all(exp.Table):
        names = [table.args.get(k) for k in ("catalog", "db", "this")]
        starts = [p.meta["start"] for p in names if p is not None and "start" in p.meta]
        if starts and min(starts) == start:
            return table
    return None


def _check_select(tree: Any, exp: Any, aggregates: frozenset[str]) -> None:
    if tree.args.get("group"):
        raise _refused("GROUP BY")
    if tree.args.get("having"):
        raise _refused("HAVING")
    if tree.args.get("qualify"):
        raise _refused("QUALIFY")
    if tree.args.get("distinct"):
        raise _refused("SELECT DISTINCT")
    if tree.args.get("limit") or tree.args.get("offset"):
        raise _refused("LIMIT or OFFSET")
    for projection in tree.expressions:
        for node in projection.walk():
            if isinstance(node, exp.Window):
                raise _refused(f"the window function {node.this.sql(dialect='duckdb')}")
            if _aggregate(node, exp, aggregates) and _outer(node, tree, exp):
                raise _refused(f"the aggregate {node.sql(dialect='duckdb')}")
    for node in tree.walk():
        if isinstance(node, exp.Window) and _outer(node, tree, exp):
            raise _refused(f"the window function {node.this.sql(dialect='duckdb')}")


def _aggregate(node: Any, exp: Any, aggregates: frozenset[str]) -> bool:
    if isinstance(node, exp.AggFunc):
        return True
    if not isinstance(node, exp.Func):
        return False
    name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
    return name.lower() in aggregates


def _outer(node: Any, tree: Any, exp: Any) -> bool:
    """Whether ``node`` belongs to ``tree`` itself, not to a subquery inside it."""
    parent = node.parent
    while parent is not None and parent is not tree:
        if isinstance(parent, (exp.Select, exp.SetOperation)):
            return False
        parent = parent.parent
    return True


def _check_pivots(tree: Any, exp: Any) -> None:
    """A PIVOT in the main FROM aggregates (``count(*)`` by default) over the rows it meets:
    each task's share would give its own groups, and the union would hold a group once per
    task that met it. Its aggregate is not in the select list, where :func:`_check_select`
    looks. An UNPIVOT is per row."""
    for pivot in tree.find_all(exp.Pivot):
        if not pivot.args.get("unpivot") and _outer(pivot, tree, exp):
            raise _refused(f"a PIVOT ({pivot.sql(dialect='duckdb')[:80]})")


def _check_joins(tree: Any, node: Any, big: TableVersion, exp: Any) -> None:
    """The big table's rows must stay apart: a join that keeps or matches a small table's rows
    against the whole big table (an outer join keeping them, SEMI/ANTI/ASOF with the big table
    on the right) would give another answer on each task's share. A join group written in
    parentheses (``FROM (a LEFT JOIN big ...)``) is held to the same rule as the main one."""
    from_ = tree.args.get("from_") or tree.args.get("from")
    if not _check_group(from_, tree.args.get("joins") or [], node, big, exp):
        raise _refused(f"reading {big.table} outside the main FROM")  # pragma: no cover
    for owner in tree.find_all(exp.Expression):
        if owner is tree or not owner.args.get("joins") or not _outer(owner, tree, exp):
            continue
        _check_group(owner, owner.args["joins"], node, big, exp)


def _check_group(base: Any, joins: Sequence[Any], node: Any, big: TableVersion, exp: Any) -> bool:
    """Check one join group (``base`` then ``joins`` in order); whether it reads the big table."""
    nested = {id(t) for join in joins for t in join.find_all(exp.Table)}
    seen = base is not None and any(
        t is node and id(t) not in nested for t in base.find_all(exp.Table)
    )
    for join in joins:
        side = (join.side or "").upper()
        kind = (join.kind or "").upper()
        method = str(join.args.get("method") or "").upper()
        written = " ".join(w for w in (method, side, kind) if w) or "INNER"
        if method == "POSITIONAL":
            raise _refused("a POSITIONAL JOIN")
        if any(t is node for t in join.this.find_all(exp.Table)):
            if side in ("LEFT", "FULL") or kind in ("OUTER", "SEMI", "ANTI") or method == "ASOF":
                raise _refused(
                    f"a {written} JOIN with {big.table} on its right (each task holds part of it)"
                )
            seen = True
        elif seen and side in ("RIGHT", "FULL"):
            raise _refused(f"a {written} JOIN that keeps the rows of a table joined to {big.table}")
    return seen


def _order_by(tree: Any, order: OrderPlan, names: Sequence[str], exp: Any) -> str:
    """The ordering rule as an ORDER BY over the result's columns (by position)."""
    columns = len(names)
    ties = ", ".join(str(i) for i in range(1, columns + 1))
    if order.kind == "wrap":
        return "ALL"
    keys = tree.args["order"].expressions
    if len({n.lower() for n in names}) != len(names):
        raise _refused("an ORDER BY over output columns of the same name (name them apart)")
    if order.kind == "total":
        return "ALL" + _direction(keys[0])
    rendered = [f"{_position(key, tree, names, exp)}{_direction(key)}" for key in keys]
    return ", ".join([*rendered, ties])


def _direction(key: Any) -> str:
    desc = bool(key.args.get("desc"))
    nulls = " NULLS FIRST" if key.args.get("nulls_first") else " NULLS LAST"
    return (" DESC" if desc else " ASC") + nulls


def _position(key: Any, tree: Any, names: Sequence[str], exp: Any) -> int:
    """The output column an ORDER BY key names, as DuckDB binds it."""
    term = key.this
    if isinstance(term, exp.Literal) and term.is_int and 1 <= int(term.name) <= len(names):
        return int(term.name)
    projections = tree.expressions
    if isinstance(term, exp.Column) and not term.table:
        wanted = term.name.lower()
        aliased = [
            i
            for i, p in enumerate(projections)
            if isinstance(p, exp.Alias) and p.alias.lower() == wanted
        ]
        # ``t.x`` with ``t`` a table of the FROM (not a struct column ``s.x``): DuckDB binds
        # ORDER BY x to the input column x, the same one.
        sources = _sources(tree)
        plain = [
            i
            for i, p in enumerate(projections)
            if isinstance(p, exp.Column)
            and p.name.lower() == wanted
            and (not p.table or (p.table.lower() in sources and not p.args.get("db")))
        ]
        found = aliased or plain
        if len(found) == 1 and not any(isinstance(p, exp.Star) for p in projections):
            return found[0] + 1
        if all(isinstance(p, exp.Star) for p in projections):
            matches = [i for i, n in enumerate(names) if n.lower() == wanted]
            if len(matches) == 1:
                return matches[0] + 1
    same = [i for i, p in enumerate(projections) if p == term]
    if len(same) == 1 and not any(isinstance(p, exp.Star) for p in projections):
        return same[0] + 1
    raise _refused(f"ORDER BY {key.sql(dialect='duckdb')}, which is not an output column")


def _sources(tree: Any) -> set[str]:
    """The names (aliases) of the tables and subqueries of the main FROM and JOINs."""
    from_ = tree.args.get("from_") or tree.args.get("from")
    found = [from_.this] if from_ is not None else []
    found += [join.this for join in tree.args.get("joins") or []]
    return {str(source.alias_or_name).lower() for source in found}


def _check_deletion_vectors(storage: Storage, resolved: Any) -> None:
    store = DeltaStore(resolved.info.location, storage)
    features = store.reader_features(resolved.pinned.version)
    if "deletionVectors" in features or "columnMapping" in features:
        raise RayEngineRefused(
            f"The Ray engine cannot read {resolved.pinned.table}@{resolved.pinned.version}: its "
            f"Delta protocol allows deletion vectors or column mapping, so its rows are not "
            f"simply its files' rows; run this query with --engine local."
        )


# -- running ---------------------------------------------------------------------------------


def stream(
    query: PreparedQuery,
    order: OrderPlan,
    cursor: duckdb.DuckDBPyConnection,
    *,
    address: str | None = None,
    run: RayRun | None = None,
    notes: list[str] | None = None,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Run the pinned ``query`` on Ray and stream its rows in the ordering rule's order;
    ``run`` is filled as it goes, and once the rows are consumed its summary (the work
    split, the time of the tasks and of the ordering) is added to ``notes``.

    Raises:
        RayEngineRefused: the query has a part the Ray engine cannot run.
        RayEngineError: Ray is missing or unreachable, or a task failed for another reason
            than the query.
        QueryError: DuckDB refused or failed the query in a task (line and column of the
            user's text).
    """
    import pyarrow as pa

    run = run if run is not None else RayRun()
    described = query.run(
        lambda rewritten: [
            (str(r[0]), str(r[1])) for r in cursor.execute(rewritten.text).fetchall()
        ],
        edits=((0, 0, "DESCRIBE "), *order.trimmed()),
    )
    names = [name for name, _ in described]
    aggregates = frozenset(
        str(r[0]).lower()
        for r in cursor.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE function_type = 'aggregate'"
        ).fetchall()
    )
    found = plan(query, order, names, aggregates)
    run.big = str(found.big.table) + f"@{found.big.version}"
    run.broadcast = tuple(f"{v.table}@{v.version}" for v in found.small)
    address = address or os.environ.get("RAY_ADDRESS") or None
    ray = import_ray(local=address is None, error=RayEngineError)
    started_by_us = connect(ray, address, error=RayEngineError)
    try:
        started = time.perf_counter()
        tables = _run_tasks(ray, query, order, found, cursor, run)
        run.seconds_tasks = time.perf_counter() - started
    finally:
        if started_by_us:
            ray.shutdown()
    started = time.perf_counter()
    result = pa.concat_tables(tables) if tables else None
    if result is None:  # pragma: no cover - there is always at least one task
        raise RayEngineError("The Ray engine ran no task; report this as a bug.")
    cursor.register(RESULT, result)
    try:
        _check_types(cursor, described)
    except BaseException:
        cursor.unregister(RESULT)
        raise
    cursor.execute(f"SELECT * FROM {quote_ident(RESULT)} ORDER BY {found.order_by}")
    reader = cursor.to_arrow_reader(BATCH_ROWS)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        finally:
            cursor.unregister(RESULT)
            run.seconds_order = time.perf_counter() - started
            if notes is not None:
                notes.append(run.note())

    return reader.schema, batches()


def _check_types(cursor: duckdb.DuckDBPyConnection, described: Sequence[tuple[str, str]]) -> None:
    """The task results, read back from Arrow, must have the query's own DuckDB types: a type
    Arrow does not carry (UUID, ENUM, HUGEINT ... arrive as text, dictionaries, decimals)
    could order or hash differently from the local engine."""
    back = cursor.execute(f"DESCRIBE SELECT * FROM {quote_ident(RESULT)}").fetchall()
    for (name, wanted), row in zip(described, back, strict=True):
        if str(row[1]) != wanted:
            raise _refused(
                f"column {name} of type {wanted}, which comes back from the tasks as "
                f"{row[1]} (cast it in the query, e.g. to VARCHAR)"
            )


def _parts(files: Sequence[DataFile], count: int) -> list[list[int]]:
    """Contiguous groups of file indexes of about equal bytes (``count`` at most, none empty;
    one file each when there are no more files than groups)."""
    if not files:
        return [[]]
    if len(files) <= count:
        return [[i] for i in range(len(files))]
    total = sum(max(f.size, 1) for f in files)
    groups: list[list[int]] = [[] for _ in range(count)]
    done = 0
    for index, file in enumerate(files):
        size = max(file.size, 1)
        groups[min(count - 1, int((done + size / 2) * count / total))].append(index)
        done += size
    return [g for g in groups if g]


def _run_tasks(
    ray: Any,
    query: PreparedQuery,
    order: OrderPlan,
    found: Plan,
    cursor: duckdb.DuckDBPyConnection,
    run: RayRun,
) -> list[pa.Table]:
    snapshot, paths = query.files_read(found.big_index)
    resolved = query.lake[found.big_index]
    broadcast: dict[TableVersion, str] = {}
    refs = []
    for number, version in enumerate(found.small):
        small = query.reads[version][0]
        scan = scan_sql(small.snapshot, query.reads[version][1], robust=True)
        table = cursor.execute(f"SELECT * FROM {scan}").to_arrow_table()
        name = f"lake_broadcast_{number}"
        broadcast[version] = quote_ident(name)
        refs.append((name, ray.put(table)))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    groups = _parts(snapshot.files, max(1, cpus * TASKS_PER_CPU))
    storage = worker_storage(query.storage)
    task = ray.remote(num_cpus=1, max_retries=3)(run_task)
    pending, texts = [], []
    for number, group in enumerate(groups):
        sub = replace(snapshot, files=tuple(snapshot.files[i] for i in group))
        sub_paths = [paths[i] for i in group]
        part = replace(resolved, snapshot=sub)
        variants = []
        for robust in (False, True):
            copy = replace(
                query,
                lake={i: (part if i == found.big_index else r) for i, r in query.lake.items()},
                reads={**query.reads, found.big: (part, sub_paths)},
                robust=(query.robust | {found.big}) if robust else set(query.robust),
            )
            variants.append(copy.rewrite(order.trimmed(), scans=broadcast))
        texts.append(variants)
        report = TaskReport(
            task=number,
            files=len(group),
            bytes=sum(f.size for f in sub.files),
            rows_read=sum(f.rows or 0 for f in sub.files),
            rows_out=0,
            seconds=0.0,
        )
        pending.append(
            (
                report,
                task.remote(
                    storage,
                    sub_paths,
                    [v.text for v in variants],
                    [n for n, _ in refs],
                    *[r for _, r in refs],
                ),
            )
        )
    # On a failure the other tasks are left to finish and their results dropped with their
    # references, never cancelled: Ray 2.60's ``ray.cancel`` of a task whose reply is
    # arriving aborts the calling process ("Tried to complete task that was not pending",
    # ray-project/ray#54846). A Ray we started is shut down right after, which stops them.
    tables, reports = [], []
    for (report, ref), variants in zip(pending, texts, strict=True):
        try:
            outcome = ray.get(ref)
        except Exception as error:  # noqa: BLE001 - a task that died (after Ray's retries)
            raise RayEngineError(
                f"Ray task {report.task} of {len(pending)} failed: {first_line(error)}; "
                f"nothing was written."
            ) from error
        if outcome[0] == "error":
            _, which, text = outcome
            raise _translate(query, variants[which], text)
        _, table, seconds = outcome
        tables.append(table)
        reports.append(replace(report, rows_out=table.num_rows, seconds=seconds))
    run.tasks = reports
    return tables


def _translate(query: PreparedQuery, rewritten: Rewritten, text: str) -> LakeError:
    import duckdb

    return query.translate(duckdb.Error(text), rewritten)


def run_task(
    storage: Storage,
    files: Sequence[str],
    texts: Sequence[str],
    names: Sequence[str],
    *tables: pa.Table,
) -> tuple[Any, ...]:
    """One Ray task: the first of ``texts`` that binds, over ``files`` (its part of the big
    table) and the broadcast ``tables`` (as ``names``), in a one-thread DuckDB locked to
    those files as a read-only query's is (spilling to a private folder).
    ``("ok", table, seconds)`` or ``("error", index of the text, DuckDB's error text)``."""
    import duckdb

    from queries.session import locked_connection

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lake-ray-task-") as spill:
        connection = locked_connection(storage, files, threads=1, temp_directory=spill)
        try:
            for name, table in zip(names, tables, strict=True):
                connection.register(name, table)
            for which, text in enumerate(texts):
                try:
                    result = connection.execute(text).to_arrow_table()
                except duckdb.BinderException as error:
                    if which + 1 < len(texts):
                        continue  # a column none of this task's files holds: NULL-filling scan
                    return ("error", which, str(error))
                except duckdb.Error as error:
                    return ("error", which, str(error))
                return ("ok", result, time.perf_counter() - started)
        finally:
            connection.close()
    return ("error", len(texts) - 1, "no query ran")  # pragma: no cover


__all__ = [
    "BROADCAST_BYTES",
    "ENGINES",
    "RayEngineError",
    "RayEngineRefused",
    "RayRun",
    "TaskReport",
    "check_engine",
    "plan",
    "run_task",
    "stream",
]
