"""Reaching a Ray cluster: the one place the lake imports Ray, starts a local one or joins one.

Ray is the ``lake[ray]`` extra, imported only when a command runs with ``--engine ray``.
A local Ray (no ``--ray-address``, no ``RAY_ADDRESS``) is started on loopback only: Ray's
head binds every interface and has no authentication unless told (see :data:`LOOPBACK_ONLY`).
Each stage raises its own error class (``error``), so a user sees the stage's kind of error.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from typing import Any

from lake.core.config import OpenLineageSettings
from lake.core.errors import LakeError
from lake.core.storage import Storage

LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's switch for single-machine clusters: set to ``0`` before Ray is imported, a Ray it
starts takes the loopback address as its node's address, and every server it runs (GCS,
raylet, workers, agents) listens on 127.0.0.1 only. Without it they listen on the machine's
network address, even with ``_node_ip_address="127.0.0.1"``."""


def import_ray(*, local: bool, error: type[LakeError]) -> Any:
    """The ``ray`` module (``local``: a Ray this process starts will listen on loopback only).

    Raises:
        error: Ray is not installed.
    """
    if local and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ONLY, "0")
    try:
        import ray
    except ImportError as missing:
        raise error(
            "The Ray engine needs Ray, which is not installed; pip install 'lake[ray]' on the "
            "driver and on every node of the cluster."
        ) from missing
    return ray


def connect(ray: Any, address: str | None, *, error: type[LakeError]) -> bool:
    """Connect to the cluster (``address``, else ``RAY_ADDRESS``), or start a local Ray on
    loopback; True when this call started or joined it (then the caller disconnects at the
    end with ``ray.shutdown()``).

    Raises:
        error: the cluster cannot be reached or a local Ray cannot start.
    """
    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    except Exception as failed:  # noqa: BLE001 - Ray raises many kinds; one sentence for all
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise error(
            f"Could not start or reach {where}: {first_line(failed)}; check --ray-address or "
            f"RAY_ADDRESS and the cluster's token (RAY_AUTH_TOKEN)."
        ) from failed
    return True


def worker_storage(storage: Storage) -> Storage:
    """The warehouse settings a task needs to read and write files: no catalog URL, no
    lineage key (tasks never touch the catalog)."""
    config = replace(storage.config, catalog_url="", openlineage=OpenLineageSettings())
    return Storage(config)


def first_line(error: BaseException) -> str:
    """The first line of an error's text (Ray's carry whole remote tracebacks)."""
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
