"""The suite's own scheduling: tests marked with one ``xdist_group`` run on one worker.

The Ray tests share one in-process Ray per worker (tests/ray_cluster.py); when the group is
ignored, each of the two workers starts its own Ray on the same two cores. pytest 9.2 with
pytest-xdist 3.8 ignored it silently (xdist sets a node-id field that pytest 9.2 no longer
reads), which is why pytest is pinned below it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SAMPLE = textwrap.dedent(
    """
    import os
    import pytest

    pytestmark = pytest.mark.xdist_group("together")

    @pytest.mark.parametrize("i", range(8))
    def test_worker(i):
        assert os.environ["PYTEST_XDIST_WORKER"].startswith("gw")
    """
)


def test_tests_of_one_xdist_group_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-v",
            str(tmp_path / "test_sample.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout
    # -v prints "[gw0] [ 12%] PASSED test_sample.py::test_worker[0]" for each test.
    workers = {line.split()[0] for line in done.stdout.splitlines() if " PASSED " in line}
    assert len(workers) == 1, done.stdout
