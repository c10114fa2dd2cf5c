"""Upkeep done after a write returns: one worker thread per process, jobs by key.

A small append's Delta checkpoint (every ``delta.checkpointInterval`` versions) used to be
written inside the append's own call, so one append in ten took several times the median
(local + SQLite: 15-20 ms against a 3-5 ms append; S3 (moto) + PostgreSQL: about 190 ms
against 20 ms) and a loop of appends paid it in its mean. A checkpoint is optional (readers
replay the commits since the last one) and appears whole or not at all (one file put in
place, on a local disk and on S3), so it can be written after the call returns (on a local
disk: see ``DeltaStore`` for why not on S3):

* Jobs run one at a time, in order, on a daemon thread; a job submitted under a key whose
  job is still waiting replaces that job in its place (the newer checkpoint of a table, not
  the older one, and not neither).
* :func:`drain` waits until every job submitted so far has run: ``Lake.close`` calls it, and
  so does the interpreter's exit (registered when the worker starts, after the staging
  folders' handler, so it runs first), and a multiprocessing child's end (which skips the
  exit handlers). A process killed meanwhile loses only the jobs not yet done: the table
  reads as before, from the checkpoint before.
* A failed job fails nothing: it is logged, as the inline work was, whatever it raised (a
  Rust panic is a ``BaseException``).
* A forked child starts with no jobs and no worker (the parent's thread does not exist there).

Auto-compaction stays in the write's call: run here, beside a loop of appends, deltalake's
optimize lost its commit to the appends 15 times in a row and gave up (its retry reads the
log again each time; an append of the lake's own takes 3 ms). The lake's own compaction
commit now goes after appends without planning again; moving it here is for a measurement
on both backend pairs to decide.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.util import Finalize

log = logging.getLogger("lake")


class _Worker:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.jobs: deque[Hashable] = deque()
        self.waiting: dict[Hashable, Callable[[], None]] = {}
        """The job waiting under each key in ``jobs``."""
        self.running = 0
        """Jobs taken off the queue and not yet done (0 or 1)."""
        self.gate = threading.Lock()
        """Held by a job while it runs, and by :func:`paused`."""
        self.thread: threading.Thread | None = None
        self.finalizer: Finalize | None = None
        """multiprocessing's finalizer that drains this worker, if one was registered."""

    def submit(self, key: Hashable, job: Callable[[], None]) -> None:
        with self.lock:
            replacing = key in self.waiting
            self.waiting[key] = job
            if replacing:
                return  # in the place of the job it replaces
            self.jobs.append(key)
            if self.thread is None:
                # Registered now, after the modules whose exit handlers release what jobs
                # use (the staging folders'): handlers run last-registered first.
                atexit.register(self.drain)
                if "multiprocessing" in sys.modules:
                    # Its fork and forkserver children leave by os._exit, past the exit
                    # handlers, after running its finalizers: a child's checkpoint was lost.
                    from multiprocessing import util

                    self.finalizer = util.Finalize(None, self.drain, exitpriority=10)
                self.thread = threading.Thread(target=self._run, name="lake-upkeep", daemon=True)
                self.thread.start()
            self.changed.notify_all()

    def _run(self) -> None:
        while True:
            with self.lock:
                while not self.jobs:
                    self.changed.wait()
                key = self.jobs.popleft()
                job = self.waiting.pop(key)
                self.running += 1
            try:
                with self.gate:
                    job()
            except BaseException:  # noqa: BLE001 - upkeep fails nothing; the next write asks again
                # BaseException too: a Rust panic reaches Python as pyo3's PanicException, and
                # a thread ended by it left every later job waiting, and drain (Lake.close, the
                # process's exit) waiting for them forever.
                log.warning("Background upkeep %r failed", key, exc_info=True)
            finally:
                with self.lock:
                    self.running -= 1
                    self.changed.notify_all()

    def drain(self) -> None:
        if self.thread is threading.current_thread():
            return  # a job's own call to drain: the jobs after it wait for it, not it for them
        with self.lock:
            while self.jobs or self.running:
                self.changed.wait()


_worker = _Worker()


def submit(key: Hashable, job: Callable[[], None]) -> None:
    """Run ``job`` on the upkeep thread, after the jobs before it; in place of the job under
    ``key`` when one is still waiting to start."""
    _worker.submit(key, job)


def drain() -> None:
    """Wait until every job submitted so far has run."""
    _worker.drain()


def pending() -> int:
    """Jobs submitted and not yet done."""
    with _worker.lock:
        return len(_worker.jobs) + _worker.running


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No job starts inside the block (one running finishes first): for tests that look at
    a table between a write and its upkeep. Neither :func:`drain` nor ``Lake.close`` may be
    called inside it (they would wait for a job that cannot start)."""
    with _worker.gate:
        yield


def _forget_in_child() -> None:
    global _worker
    # The parent's worker has no thread here: its exit handler would wait forever for the
    # jobs the parent had at the fork (a child leaving by sys.exit hung).
    atexit.unregister(_worker.drain)
    if _worker.finalizer is not None:
        _worker.finalizer.cancel()
    _worker = _Worker()


os.register_at_fork(after_in_child=_forget_in_child)
