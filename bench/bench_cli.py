"""Start-up of the command line against a bare Python start-up, in the same run.

Goals (issue 17): a command that touches only the catalog (`lake tables`) under 10x a bare
`python -c pass`, `lake sql` on a small table under 20x; `lake --help` answers at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import compare

LAKE = str(Path(sys.executable).with_name("lake"))
APACHE = Path(__file__).resolve().parent.parent / "tests" / "data" / "elastic-logs" / "apache_logs"


def run(scale: float = 1.0) -> list[dict]:
    def bare() -> None:
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)

    rows = [
        compare(
            "lake --help (start-up)",
            lambda: subprocess.run([LAKE, "--help"], capture_output=True, check=True),
            bare,
            baseline_name="python -c pass",
            repeat=7,
        )
    ]
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKE_", "AWS_"))}

        def lake(*args: str) -> None:
            subprocess.run([LAKE, *args], capture_output=True, check=True, cwd=folder, env=env)

        lake("init")
        lines = APACHE.read_text().splitlines(keepends=True)[:1000]
        Path(folder, "access.log").write_text("".join(lines))
        lake("ingest", "logs", "web.access", "access.log", "--preset", "apache-combined")
        rows.append(
            compare(
                "lake tables (catalog only, embedded default)",
                lambda: lake("tables"),
                bare,
                baseline_name="python -c pass",
                repeat=7,
                goal="< 10x",
            )
        )
        rows.append(
            compare(
                "lake sql on a 1,000-row table (embedded default)",
                lambda: lake("sql", "SELECT status, count(*) FROM web.access GROUP BY 1"),
                bare,
                baseline_name="python -c pass",
                repeat=7,
                goal="< 20x",
            )
        )
    return rows
