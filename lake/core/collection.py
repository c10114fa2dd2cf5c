"""Python's garbage collector while a command starts.

A writing command imports about 1,500 modules (SQLAlchemy, pyarrow, DuckDB, deltalake...)
before its first record, and the collector, run every 700 new container objects, walks
them some 200 times on the way: 50-60 ms of a 0.6 s ``lake ingest logs`` of 1,000 lines
(``gc.callbacks``, December 2026), work that finds next to nothing, since modules and the
catalog's engine live until exit. Raising the threshold to 10,000 or 50,000 only took it to
25-45 ms (each young collection then walks more than the caches hold); not collecting
while starting takes it to 3 ms.

So the command line stops collecting while it starts (:func:`pause`), and the stage that
handles the data resumes it (:func:`resume`) before its first record: what start-up made
is frozen (later collections skip it, as the log stage did already) and the collector runs
as usual from there, so cycles holding Arrow buffers are freed as soon as before. A command
that never resumes it (``lake serve``, a query) has it back after :data:`AT_MOST` seconds,
from a timer, unfrozen. The Python API (``lake.connect``) never pauses it.
"""

from __future__ import annotations

import gc
import os
import threading

AT_MOST = 2.0
"""Seconds after which a paused collector runs again, whatever the command does."""

_lock = threading.Lock()
_timer: threading.Timer | None = None
_fork_hook = False


def pause() -> None:
    """Stop collecting until :func:`resume`, or :data:`AT_MOST` seconds, whichever first."""
    global _timer, _fork_hook
    with _lock:
        if _timer is not None or not gc.isenabled():
            return
        if not _fork_hook and hasattr(os, "register_at_fork"):
            # A child forked while paused has no timer thread: it collects from the start.
            os.register_at_fork(after_in_child=_forked)
            _fork_hook = True
        gc.disable()
        _timer = threading.Timer(AT_MOST, _enable)
        _timer.daemon = True
        _timer.start()


def resume() -> None:
    """Freeze what start-up made and collect again; nothing when not paused."""
    global _timer
    with _lock:
        if _timer is None:
            return
        _timer.cancel()
        _timer = None
        if not gc.isenabled():
            gc.freeze()  # modules, the catalog's engine: alive until exit
            gc.enable()


def _enable() -> None:
    with _lock:
        gc.enable()  # not frozen: the command may hold data now


def _forked() -> None:
    global _timer, _lock
    _lock = threading.Lock()  # the parent's may have been held by another thread
    if _timer is not None:
        _timer = None
        gc.enable()
