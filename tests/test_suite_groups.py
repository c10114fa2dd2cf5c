"""The suite's own scheduling: tests marked with one ``xdist_group`` run on one worker.

The Ray tests share one in-process Ray per worker (tests/ray_cluster.py); when the group is
ignored, each of the two workers starts its own Ray on the same two cores. pytest 9.2 with
pytest-xdist 3.8 ignored it silently (xdist sets a node-id field that pytest 9.2 no longer
reads), which is why pytest is pinned below it.
"""

from __future__ import annotations

import re
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


def _pytest_on(
    tmp_path: Path, sample: str, *options: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """pytest with ``options``, in a process of its own, on ``sample`` as a test module."""
    (tmp_path / "test_sample.py").write_text(sample)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options]
        + [str(tmp_path / "test_sample.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_tests_of_one_xdist_group_run_on_one_worker(tmp_path: Path) -> None:
    done = _pytest_on(tmp_path, SAMPLE, "-n", "2", "--dist", "loadgroup", "-v", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout
    # -v prints "[gw0] [ 12%] PASSED test_sample.py::test_worker[0]" for each test.
    workers = {line.split()[0] for line in done.stdout.splitlines() if " PASSED " in line}
    assert len(workers) == 1, done.stdout


def test_a_crashed_worker_ends_the_run_with_a_failure(tmp_path: Path) -> None:
    """Under ``--dist loadgroup`` a worker's segfault (libpq's, see tests/pg_databases.py)
    left the run waiting for ever for the dead worker's tests: `make test`'s options stop it."""
    sample = textwrap.dedent(
        """
        import os, signal, pytest

        @pytest.mark.parametrize("i", range(4))
        def test_crash(i):
            if i == 1:
                os.kill(os.getpid(), signal.SIGSEGV)

        @pytest.mark.xdist_group("together")
        @pytest.mark.parametrize("i", range(4))
        def test_group(i):
            pass
        """
    )
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    # The options `make test` runs the suite with: "$(BIN)/python -m pytest -n 2 ...".
    options = re.search(r"^test:.*\n\t\$\(BIN\)/python -m pytest (.*)$", makefile, re.M)
    assert options is not None, "the Makefile's test recipe runs no pytest"
    # The timeout bounds the hang this test is about; it is not a timing assertion.
    done = _pytest_on(tmp_path, sample, *options.group(1).split(), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "crashed while running 'test_sample.py::test_crash[1]'" in done.stdout, done.stdout


def test_the_tests_own_settings_outlive_the_clearing_of_the_users():
    """``LAKE_TEST_*`` (the fuzz test's example counts, the Postgres to use) reach the test
    modules; every other ``LAKE_*`` and ``AWS_*`` setting is cleared before them. The fuzz
    counts were ``LAKE_FUZZ_*``, cleared with the user's settings: raising them did nothing."""
    import os

    env = {
        **os.environ,
        "LAKE_TEST_FUZZ_EXAMPLES": "77",
        "LAKE_WAREHOUSE": "/somewhere",
        "AWS_REGION": "nowhere",
    }
    seen = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, tests.conftest, tests.faces.service.test_fuzz as fuzz; "
            "print(fuzz.EXAMPLES, os.environ.get('LAKE_WAREHOUSE'), os.environ.get('AWS_REGION'))",
        ],
        env=env,
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert seen.stdout.split() == ["77", "None", "None"], seen.stderr
