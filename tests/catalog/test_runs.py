"""Runs whose process is gone are reaped, and only those (``catalog.runs``, by the rule of
``lake.core.processes``), on both catalogs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from catalog.catalog import Catalog
from lake.core.processes import INITIAL_PID_NAMESPACE, this_process
from tests.boots import earlier_boot


@pytest.fixture
def catalog(backend):
    connected = Catalog(backend.catalog_url)
    yield connected
    connected.close()


def _set_run_process(catalog_url: str, run_id: str, **changes: object) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(catalog_url)
    try:
        with engine.begin() as connection:
            stats = connection.execute(
                text("SELECT stats FROM runs WHERE id = :id"), {"id": run_id}
            ).scalar_one()
            stats = json.loads(stats) if isinstance(stats, str) else stats
            connection.execute(
                text("UPDATE runs SET stats = :stats WHERE id = :id"),
                {"stats": json.dumps({**stats, **changes}), "id": run_id},
            )
    finally:
        engine.dispose()


def _pid_of_a_process_that_exited() -> int:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(done.stdout)


def test_a_run_of_a_container_with_this_host_name_is_not_reaped_for_a_pid_missing_here(
    catalog, backend
):
    """Two containers (or a machine and its replacement) with one host name: the run's pid
    is not a process here, which proves nothing of a process in another boot. It was
    marked failed while it ran, and its claims let go."""
    import uuid

    run = catalog.start_run(kind="write", job="write:x.t", parameters={})
    pid = _pid_of_a_process_that_exited()
    _set_run_process(backend.catalog_url, run, pid=pid, boot_id=str(uuid.uuid4()))
    assert catalog.reap_dead_runs() == []
    assert catalog.get_run(run).status == "running"
    # The same record in this boot and namespace: provably gone.
    _set_run_process(backend.catalog_url, run, boot_id=this_process()["boot_id"])
    assert catalog.reap_dead_runs() == [run]


def test_a_run_whose_pid_another_process_took_again_is_reaped(catalog, backend):
    """The run's pid is held by a live process that started at another time (pids are used
    again): kill(pid, 0) took it for the run's, which stayed running for ever."""
    run = catalog.start_run(kind="write", job="write:x.t", parameters={})
    started = catalog.get_run(run).stats["started"]
    _set_run_process(backend.catalog_url, run, started=started - 1)
    assert catalog.reap_dead_runs() == [run]
    assert catalog.get_run(run).status == "failed"


def test_a_run_interrupted_by_a_reboot_of_this_machine_is_reaped_and_no_other_machines(
    catalog, backend
):
    """The embedded default (one laptop or server) after a power cut: a run of an earlier
    boot of this machine stayed running for ever (another boot was unknown). A run of
    another machine with this host name, or of this machine's clone started after this
    boot, is left running."""
    import uuid

    here = this_process()
    if here["pid_namespace"] != INITIAL_PID_NAMESPACE or here["machine_id"] is None:
        pytest.skip("not a process of the machine itself, or no /etc/machine-id")
    interrupted, other_machine, clone = (
        catalog.start_run(kind="write", job="write:x.t", parameters={}) for _ in range(3)
    )
    earlier = earlier_boot(here)
    _set_run_process(backend.catalog_url, interrupted, **earlier)
    _set_run_process(backend.catalog_url, other_machine, **earlier, machine_id=uuid.uuid4().hex)
    _set_run_process(
        backend.catalog_url, clone, boot_id=str(uuid.uuid4()), boot_time=here["boot_time"] + 60
    )
    assert catalog.reap_dead_runs() == [interrupted]
    run = catalog.get_run(interrupted)
    assert run.status == "failed" and "the machine restarted" in run.error
    assert catalog.get_run(other_machine).status == "running"
    assert catalog.get_run(clone).status == "running"
