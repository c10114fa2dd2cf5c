"""The suite's own scheduling: tests marked with one ``xdist_group`` run on one worker.

The Ray tests share one in-process Ray per worker (tests/ray_cluster.py); when the group is
ignored, each of the two workers starts its own Ray on the same two cores. pytest 9.2 with
pytest-xdist 3.8 ignored it silently (xdist sets a node-id field that pytest 9.2 no longer
reads), which is why pytest is pinned below it.
"""

from __future__ import annotations

import os
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


UNUSED_PLUGINS = (
    *("-p", "no:schemathesis", "-p", "no:typeguard", "-p", "no:pytest_postgresql"),
    *("-p", "no:hypothesispytest", "-p", "no:anyio"),
)
"""The first three left out as pyproject's addopts leaves them out of the suite (1.6 CPU-s of
imports a process, three processes a run with ``-n 2``), which the sample's folder has not;
hypothesis's and anyio's plugins too, which no sample uses: with them a run of one empty
test took 2.5 CPU-s, without them 0.5 (5.9 and 2.1 with ``-n 2``)."""


def _pytest_on(
    tmp_path: Path,
    sample: str,
    *options: str,
    timeout: float,
    env: dict[str, str] | None = None,
    path: str = "test_sample.py",
) -> subprocess.CompletedProcess[str]:
    """pytest with ``options``, in a process of its own, on ``sample`` as a test module
    (``path``, or every test module in ``tmp_path`` when that is ``.``)."""
    if path != ".":
        (tmp_path / path).write_text(sample)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *UNUSED_PLUGINS, *options]
        + [str(tmp_path / path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
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
    # The options `make test` runs the suite with: "$(BYTECODE) $(BIN)/python -m pytest -n 2 ...".
    options = re.search(r"^test:.*\n\t[^\n]*\$\(BIN\)/python -m pytest (.*)$", makefile, re.M)
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


def test_loadgroup_hands_out_the_longest_module_first_and_keeps_a_modules_order(tmp_path):
    """tests/scheduling.py: a module recorded as long runs first, its tests in their order,
    and a group stays whole. xdist's own order was the collection's: the top-level test
    modules, collected last, ran at the end of the run."""
    root = Path(__file__).parent.parent
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.scheduling"]\n')
    test = "def test_{}():\n    pass\n"
    (tmp_path / "test_a.py").write_text("".join(test.format(i) for i in range(3)))
    (tmp_path / "test_b.py").write_text("".join(test.format(i) for i in range(2)))
    (tmp_path / "test_c.py").write_text(
        "import pytest\n\npytestmark = pytest.mark.xdist_group('c')\n\n"
        + "".join(test.format(i) for i in range(2))
    )
    durations = tmp_path / "durations.json"
    durations.write_text('{"test_b.py::test_1": 40, "test_c.py::test_0": 30}')
    env = {**os.environ, "PYTHONPATH": str(root), "LAKE_TEST_DURATIONS": str(durations)}
    done = _pytest_on(
        tmp_path, "", "-n", "1", "--dist", "loadgroup", "-v", timeout=300, env=env, path="."
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [line.split()[-1] for line in done.stdout.splitlines() if " PASSED " in line]
    assert ran == [
        *("test_b.py::test_0", "test_b.py::test_1"),
        *("test_c.py::test_0@c", "test_c.py::test_1@c"),
        *("test_a.py::test_0", "test_a.py::test_1", "test_a.py::test_2"),
    ], done.stdout


def test_the_recorded_durations_are_read_from_a_durations_listing():
    from tests.scheduling import durations_of

    listing = textwrap.dedent(
        """
        ============================= slowest durations ==============================
        28.41s call     tests/x.py::test_a[s3-postgres]
        0.30s setup    tests/x.py::test_a[s3-postgres]
        0.40s call     tests/x.py::test_b
        (4 durations < 0.005s hidden.)
        """
    )
    assert durations_of(listing) == {"tests/x.py::test_a[s3-postgres]": 28.7}


def test_a_grouped_test_of_a_listing_is_recorded_and_found_under_its_own_id():
    """``loadgroup`` lists a grouped test as ``id@group``: recorded so, it was looked up
    without the group and counted as unrecorded, and the long groups (Ray, the web site)
    were handed out last. An ``@`` in the parameters, or a space, is part of the id."""
    from tests.scheduling import durations_of, ordered_units

    listing = textwrap.dedent(
        """
        2.00s call     tests/r.py::test_ray[a]@ray
        0.50s setup    tests/r.py::test_ray[a]@ray
        0.90s call     tests/u.py::test_url[u@h]
        0.70s call     tests/s.py::test_say[an error: no]
        """
    )
    recorded = durations_of(listing)
    assert recorded == {
        "tests/r.py::test_ray[a]": 2.5,
        "tests/u.py::test_url[u@h]": 0.9,
        "tests/s.py::test_say[an error: no]": 0.7,
    }
    units = [
        ("tests/a.py::test_a", ["tests/a.py::test_a"]),
        ("tests/s.py::test_say[an error: no]", ["tests/s.py::test_say[an error: no]"]),
        ("tests/u.py::test_url[u@h]", ["tests/u.py::test_url[u@h]"]),
        ("ray", ["tests/r.py::test_ray[a]@ray"]),
    ]
    assert [scope for scope, _ in ordered_units(units, recorded)] == [
        "ray",
        "tests/u.py::test_url[u@h]",
        "tests/s.py::test_say[an error: no]",
        "tests/a.py::test_a",
    ]
