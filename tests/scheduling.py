"""The order in which ``--dist loadgroup`` hands the suite's tests to the xdist workers:
the longest work first, so that the run ends on short tests on both workers.

xdist 3.8's ``loadgroup`` hands out work units (an ``xdist_group``, or one test) one at a
time, the groups first (largest first) and the single tests in collection order. A long
test collected late (the top-level ``tests/test_*.py`` come last) then ran alone at the end
of the run, the other worker done and idle. Here the units are handed out by the time their
module took (``tests/durations.json``, seconds of setup, call and teardown per test, from a
full run), longest first: a module's tests stay together and in their collected order, so a
module-scoped fixture is made once per worker, as before, and each group is still one unit
on one worker. Nothing else changes: which tests run, their collection and their fixtures.

A test missing from the file (new, renamed, or under ``RECORDED_FROM`` seconds) counts
``UNRECORDED`` seconds: a stale file makes a worse order, never a different suite. Refresh
the file from a full run's listing::

    .venv/bin/python -m pytest -n 2 --dist loadgroup --durations=0 -vv > run.txt
    .venv/bin/python -m tests.scheduling run.txt
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import OrderedDict
from pathlib import Path

import pytest

DURATIONS = Path(
    os.environ.get("LAKE_TEST_DURATIONS") or Path(__file__).with_name("durations.json")
)
"""The recorded durations (``LAKE_TEST_DURATIONS`` names another file, for the test of this)."""
RECORDED_FROM = 0.5
"""Tests that took less (setup, call and teardown together) are left out of the file."""
UNRECORDED = 0.2
"""The seconds a test missing from the file is taken to take."""


def load_durations(path: Path = DURATIONS) -> dict[str, float]:
    """The recorded seconds of each test by node id; none when the file is missing."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def ordered_units(
    units: list[tuple[str, list[str]]], durations: dict[str, float]
) -> list[tuple[str, list[str]]]:
    """``units`` (scope, node ids; in collection order) in the order to hand them out.

    A group (node ids ``...@name``) is ranked by its own tests' time; a single test by the
    time of all the single tests of its module. Ties and a module's own tests keep the
    collection order."""

    def seconds(nodeid: str) -> float:
        return durations.get(recorded_id(nodeid), UNRECORDED)

    def block(scope: str, nodeids: list[str]) -> str:
        return scope if _in_group(nodeids[0]) else nodeids[0].split("::", 1)[0]

    totals: dict[str, float] = {}
    for scope, nodeids in units:
        key = block(scope, nodeids)
        totals[key] = totals.get(key, 0.0) + sum(seconds(n) for n in nodeids)
    first_seen: dict[str, int] = {}
    for index, (scope, nodeids) in enumerate(units):
        first_seen.setdefault(block(scope, nodeids), index)

    def rank(item: tuple[int, tuple[str, list[str]]]) -> tuple[float, int, int]:
        index, (scope, nodeids) = item
        key = block(scope, nodeids)
        return (-totals[key], first_seen[key], index)

    return [unit for _, unit in sorted(enumerate(units), key=rank)]


def _in_group(nodeid: str) -> bool:
    # xdist's own test for a group's node id (LoadGroupScheduling._split_scope)
    return nodeid.rfind("@") > nodeid.rfind("]")


def recorded_id(nodeid: str) -> str:
    """The id a test is recorded under: without the ``@group`` that ``loadgroup`` adds to a
    grouped test's id (and prints in the listing), so a group's tests are found whether the
    listing came from a run with groups or without; an ``@`` inside the parameters stays."""
    return nodeid.rpartition("@")[0] if _in_group(nodeid) else nodeid


def _longest_first_scheduling(durations: dict[str, float]):  # noqa: ANN202 - xdist's class
    from xdist.scheduler import LoadGroupScheduling

    class LongestFirstScheduling(LoadGroupScheduling):
        """xdist's ``loadgroup``, its work queue ordered once by :func:`ordered_units`
        before the first unit is handed out."""

        _ordered = False

        def _assign_work_unit(self, node) -> None:  # noqa: ANN001 - xdist's WorkerController
            if not self._ordered:
                self._ordered = True
                units = [(scope, list(work)) for scope, work in self.workqueue.items()]
                work = dict(self.workqueue)
                self.workqueue = OrderedDict(
                    (scope, work[scope]) for scope, _ in ordered_units(units, durations)
                )
            super()._assign_work_unit(node)

    return LongestFirstScheduling


@pytest.hookimpl(optionalhook=True)  # xdist's hook: without xdist, never called
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    """``--dist loadgroup`` (``make test``) hands out the longest work first; every other
    distribution is xdist's own."""
    if config.getoption("dist", None) != "loadgroup":
        return None
    return _longest_first_scheduling(load_durations())(config, log)


# the node id runs to the end of the line: parameters may hold spaces
_LINE = re.compile(r"^\s*([0-9.]+)s (setup|call|teardown)\s+(\S.*?)\s*$")


def durations_of(listing: str) -> dict[str, float]:
    """Each test's seconds (setup, call and teardown together) in a ``--durations=0 -vv``
    listing, those of at least ``RECORDED_FROM``, rounded to tenths."""
    total: dict[str, float] = {}
    for line in listing.splitlines():
        found = _LINE.match(line)
        if found:
            nodeid = recorded_id(found.group(3))
            total[nodeid] = total.get(nodeid, 0.0) + float(found.group(1))
    return {
        nodeid: round(seconds, 1)
        for nodeid, seconds in sorted(total.items())
        if seconds >= RECORDED_FROM
    }


if __name__ == "__main__":
    recorded = durations_of(Path(sys.argv[1]).read_text())
    if not recorded:
        sys.exit(f"no test durations in {sys.argv[1]}: run pytest with --durations=0 -vv")
    DURATIONS.write_text(json.dumps(recorded, indent=0, sort_keys=True) + "\n")
    print(f"{len(recorded)} tests recorded in {DURATIONS.name}")
