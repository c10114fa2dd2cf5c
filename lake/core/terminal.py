"""The console every face prints people's text through (rich), with the two rules it keeps."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console


def text_console(stream: TextIO | None = None) -> Console:
    """A console for ``stream`` (standard output when none).

    Values are printed as they are: rich would read ``[error]`` in a log line, or ``tags[1]``
    in SQL, as markup and drop it. A pipe or a file gets each row whole, as ``ps`` and
    ``docker ps`` print them; a terminal (or a width the user set in ``COLUMNS``), its width.
    """
    from rich.console import Console

    target = stream or sys.stdout
    width = None if target.isatty() or os.environ.get("COLUMNS") else 100_000
    return Console(file=stream, highlight=False, markup=False, width=width)
