"""Progress bars for long commands (rich), drawn on standard error when it is a terminal.

An ingest knows how many bytes it will read before it starts (it is told through
``expect``): its bar shows percent, bytes read of the total, speed and time left. Work of
unknown size (a materialization) shows a spinner with files, rows and MB/s.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Bar:
    """``bar(files_done, records, bytes)`` after every chunk; ``bar.expect(files, bytes)``
    first when the total is known."""

    def __init__(self, progress: Any, noun: str) -> None:
        self.progress = progress
        self.noun = noun
        self.files = 0
        self.started = time.perf_counter()
        self.task = progress.add_task("reading", total=None, visible=True)

    def expect(self, files: int, size: int) -> None:
        self.files = files
        self.progress.update(self.task, total=max(size, 1), completed=0)

    def __call__(self, files: int, records: int, size: int) -> None:
        from lake.faces.render import plural

        of = f"/{self.files:,}" if self.files else ""
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        speed = "" if self.files else f", {size / 1e6 / elapsed:,.1f} MB/s"
        self.progress.update(
            self.task,
            completed=size,
            description=f"{files:,}{of} files, {plural(records, self.noun)}{speed}",
        )


@contextmanager
def ingest_progress(
    *, enabled: bool = True, sized: bool = True, noun: str = "record"
) -> Iterator[_Bar | None]:
    """A progress callback drawing on standard error, or None when disabled or when standard
    error is not a terminal. ``sized``: the work tells its total first (an ingest)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        [
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            TextColumn("left"),
        ]
        if sized
        else [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield _Bar(progress, noun)
