"""Progress bars for long commands (rich): files, records and MB/s."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def ingest_progress(*, enabled: bool = True) -> Iterator[Callable[[int, int, int], None] | None]:
    """A ``progress(files_done, records, bytes)`` callback drawing a bar on standard error,
    or None when disabled or when standard error is not a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("reading", total=None)

        def update(files: int, records: int, size: int) -> None:
            elapsed = max(time.perf_counter() - started, 1e-6)
            bar.update(
                task,
                description=f"{files} files, {records:,} records, {size / 1e6 / elapsed:,.1f} MB/s",
            )

        yield update
