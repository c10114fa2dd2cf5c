"""OpenBLAS's threads in a command's process.

pyarrow and DuckDB import numpy, and numpy loads OpenBLAS, which starts a pool of worker
threads (one per core) when it is loaded. Each worker spins waiting for work before it
sleeps: about 0.1 CPU-s of a whole command, once per process, for work that never comes
(the lake does no linear algebra: nothing here calls numpy). On these 2-core machines that
was a third of a small ``lake sql``'s CPU (0.32 -> 0.21 CPU-s) and 0.08 of a 100-line
``lake ingest logs`` (December 2026, ``perf stat``).

So the command line asks OpenBLAS for one thread (none started) before anything imports
numpy, unless the environment already says how many (``OPENBLAS_NUM_THREADS``, or
``GOTO_NUM_THREADS`` / ``OMP_NUM_THREADS``, which OpenBLAS reads after it). Processes the
command starts (the read-only query worker, a local Ray cluster) inherit it; they do no
linear algebra either. The Python API (``lake.connect``) leaves the caller's environment as
it is: the caller's program may want its BLAS threads.
"""

from __future__ import annotations

import os

VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
"""Where OpenBLAS reads its number of threads, first found first."""


def one_thread() -> None:
    """Ask OpenBLAS for one thread, unless the environment already says how many; only
    effective before numpy is first imported."""
    if not any(os.environ.get(name) for name in VARIABLES):
        os.environ[VARIABLES[0]] = "1"
