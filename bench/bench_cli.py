"""Start-up of the command line: `lake --help` against a bare Python start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.common import compare

LAKE = str(Path(sys.executable).with_name("lake"))


def run(scale: float = 1.0) -> list[dict]:
    return [
        compare(
            "lake --help (start-up)",
            lambda: subprocess.run([LAKE, "--help"], capture_output=True, check=True),
            lambda: subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True),
            baseline_name="python -c pass",
            repeat=7,
        )
    ]
