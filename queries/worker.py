"""Read-only queries run in a worker process each, killed at the time limit.

DuckDB stops a running query when interrupted, but not its planning or constant folding: a
chain of 100 joins plans for minutes, and an expensive constant (``AT (TIMESTAMP => ...)``)
is folded before anything runs. Neither can be stopped from inside the process. So every
DuckDB step of a read-only query (``lake sql --read-only``, the HTTP service, the web
catalog's SQL console) runs in a process of its own:

* **time**: the parent waits for the answer until the query's deadline, then kills the
  worker (SIGKILL) and raises :class:`~queries.exceptions.QueryTimeout`; nothing is left
  behind (the database is in memory and never spills to disk);
* **memory**: DuckDB's ``memory_limit`` and ``threads`` are set, and the worker's address
  space is capped at ``memory_limit`` + :data:`ADDRESS_SPACE_MARGIN`, so memory DuckDB does
  not track (long strings) fails the query, never the service;
* **result size**: at most ``max_rows`` rows and ``max_bytes`` bytes of Arrow data come
  back (the rest is cut, ``truncated``), as one Arrow IPC stream over a pipe.

Workers are forked from a ``forkserver`` that has imported DuckDB and pyarrow once (its
start costs about a second, once per process; :func:`warm` starts it ahead of time), not
from the caller: a service's threads (and their locks) are never forked.

The worker sends back one message: the result, DuckDB's error text (translated by the
caller, which knows the query), or one of the lake's errors.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import forkserver, popen_forkserver, spawn, util
from multiprocessing.context import ForkServerProcess, reduction, set_spawning_popen
from typing import TYPE_CHECKING, Any, Literal

from lake.core.config import format_bytes
from lake.core.errors import LakeError
from lake.core.storage import Storage
from queries import session
from queries.exceptions import QueryFailed, QueryTimeout

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

ADDRESS_SPACE_MARGIN = 1536 << 20
"""Address space a worker may use beyond DuckDB's ``memory_limit``: the interpreter and its
libraries (about 400 MB of mappings), thread stacks and allocator arenas."""

_context_lock = threading.Lock()
_context: Any = None


@dataclass(frozen=True)
class Limits:
    """What one worker may use."""

    memory_limit: int
    """Bytes (DuckDB's ``memory_limit``)."""
    threads: int
    max_rows: int | None = None
    max_bytes: int | None = None


@dataclass(frozen=True)
class Job:
    kind: Literal["query", "time"]
    sql: str
    storage: Storage | None
    allowed_paths: tuple[str, ...]
    limits: Limits
    secrets: tuple[str, ...] = ()
    """The configuration's secret values (read here: reading them needs SQLAlchemy)."""


def warm() -> None:
    """Start the forkserver now (a service does it at start, so its first query does not
    wait for it)."""
    process = _process(_noop)
    process.start()
    process.join()
    process.close()


def run(
    storage: Storage,
    allowed_paths: tuple[str, ...],
    sql: str,
    *,
    limits: Limits,
    deadline: float,
    timeout_s: float,
) -> session.Fetched:
    """Run ``sql`` on a database locked to ``allowed_paths``, in a worker, until ``deadline``
    (``time.monotonic()``).

    Raises:
        DuckDBFailure: DuckDB refused or failed the query (the caller translates it).
        QueryTimeout: the deadline passed; the worker was killed.
        QueryFailed: the worker died (out of memory) or could not be started.
    """
    import pyarrow as pa

    job = Job("query", sql, storage, allowed_paths, limits, tuple(storage.config.secrets))
    answer = _call(job, deadline, timeout_s)
    types, truncated, stream = answer
    table = pa.ipc.open_stream(pa.py_buffer(stream)).read_all()
    return session.Fetched(table=table, types=tuple(types), truncated=truncated)


def constant_time(
    expression: str, *, context: str, limits: Limits, deadline: float, timeout_s: float
) -> datetime:
    """:func:`queries.session.constant_time` in a worker, until ``deadline``.

    Raises:
        QueryInvalid: the expression is not a time.
        QueryTimeout, QueryFailed: as :func:`run`.
    """
    try:
        value = _call(Job("time", expression, None, (), limits), deadline, timeout_s)
    except session.DuckDBFailure as error:
        raise session.not_a_time(error, context) from None
    return session.read_time(value, context)


# -- parent ------------------------------------------------------------------------------------


def _ctx() -> Any:
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["queries.worker", "duckdb", "pyarrow", "pyarrow.ipc"])
            _context = context
        return _context


class _Popen(popen_forkserver.Popen):
    """multiprocessing's forkserver launch (Python 3.11-3.13), without the caller's
    ``__main__`` in the child's preparation.

    multiprocessing re-imports the main script in every child (the reason for its
    ``if __name__ == "__main__"`` rule); a worker needs nothing from it, and a library may not
    impose that rule on its callers' scripts."""

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _Process(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # noqa: N802 - multiprocessing's name
        return _Popen(process_obj)


def _process(target: Any, args: tuple[Any, ...] = ()) -> _Process:
    _ctx()  # the forkserver's preload is set before its first process
    return _Process(target=target, args=args, daemon=True)


def _call(job: Job, deadline: float, timeout_s: float) -> Any:
    if deadline - time.monotonic() <= 0:  # parsing and pinning took the whole time
        raise _timeout(timeout_s)
    receiver, sender = _ctx().Pipe(duplex=False)
    process = _process(_work, (sender, job))
    try:
        try:
            process.start()
        except OSError as error:
            raise QueryFailed(
                f"The query's worker process could not be started ({error.strerror}); try again."
            ) from error
        finally:
            sender.close()  # the worker holds its own end: EOF here when it dies
        if not receiver.poll(max(0.0, deadline - time.monotonic())):
            raise _timeout(timeout_s)
        try:
            status, payload = receiver.recv()
        except (EOFError, OSError):
            process.join(5)
            raise _died(process.exitcode, job.limits) from None
    finally:
        receiver.close()
        if process.pid is not None:
            if process.is_alive():
                process.kill()  # past the deadline, or done: its clean-up is not waited for
            process.join()
            process.close()
    if status == "ok":
        return payload
    if status == "duckdb":
        raise session.DuckDBFailure(payload)
    if isinstance(payload, LakeError):
        raise payload
    raise QueryFailed(f"The query's worker failed unexpectedly ({payload}); report this as a bug.")


def _timeout(timeout_s: float) -> QueryTimeout:
    return QueryTimeout(
        f"The query ran past its time limit of {timeout_s:g} s and was stopped; narrow it (a "
        f"WHERE on a partition column, fewer columns or joins) or allow more time."
    )


def _died(exitcode: int | None, limits: Limits) -> QueryFailed:
    """The query's worker ran out of memory (``exitcode`` None) or died."""
    limit = format_bytes(limits.memory_limit)
    if exitcode is None:
        return QueryFailed(
            f"The query needed more memory than its limit of {limit} and was stopped; narrow it "
            f"or allow more memory (--memory-limit)."
        )
    how = f"signal {-exitcode}" if exitcode < 0 else f"exit {exitcode}"
    return QueryFailed(
        f"The query's worker stopped ({how}), most likely past its memory limit of {limit}; "
        f"narrow the query or allow more memory (--memory-limit)."
    )


# -- worker --------------------------------------------------------------------------------------


def _noop() -> None:
    pass


def _work(sender: Connection, job: Job) -> None:
    """The worker's body: one job, one message back."""
    try:
        cap = job.limits.memory_limit + ADDRESS_SPACE_MARGIN
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            del os.environ[name]  # credentials come from the configuration only
        message = ("ok", _query(job) if job.kind == "query" else _time(job))
    except LakeError as error:
        message = ("lake", error)
    except Exception as error:  # noqa: BLE001 - sent to the caller, which translates it
        if session.is_duckdb_error(error):
            message = ("duckdb", str(error))
        elif isinstance(error, MemoryError):
            message = ("lake", _died(None, job.limits))
        else:
            message = ("other", type(error).__name__)
    try:
        sender.send(message)
    except MemoryError:
        sender.send(("lake", _died(None, job.limits)))
    finally:
        sender.close()


def _query(job: Job) -> tuple[list[str], bool, bytes]:
    import pyarrow as pa

    assert job.storage is not None
    connection = session.locked_connection(
        job.storage,
        job.allowed_paths,
        memory_limit=job.limits.memory_limit,
        threads=job.limits.threads,
        secrets=job.secrets,
    )
    try:
        session.check_private_names(connection, job.sql)
        fetched = session.run(
            connection,
            job.sql,
            max_rows=job.limits.max_rows,
            max_bytes=job.limits.max_bytes,
            timeout_s=None,
        )
    finally:
        connection.close()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, fetched.table.schema) as writer:
        writer.write_table(fetched.table)
    return list(fetched.types), fetched.truncated, sink.getvalue().to_pybytes()


def _time(job: Job) -> Any:
    connection = session.time_connection(
        memory_limit=job.limits.memory_limit, threads=job.limits.threads
    )
    try:
        return session.evaluate_time(connection, job.sql)
    finally:
        connection.close()
