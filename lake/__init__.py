"""A data lake and catalog for machine-learning teams.

    import lake
    lk = lake.connect()          # or lake.connect(warehouse="s3://...", catalog="postgresql+psycopg2://...")
    lk.tables()

The packages run one way (see the README's "Architecture"): the faces (``lake.faces``:
the Python API, the command line, the HTTP service) call the stages (``ingest``,
``queries``), which land data through the write protocol (``lake.landing``) and record it
in the catalog (``catalog``), over the Delta table format (``lake.delta``) and the shared
core (``lake.core``). Importing ``lake`` stays cheap and loads no face: ``connect`` and
``Lake`` are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lake.core.errors import LakeError

if TYPE_CHECKING:
    from lake.faces.api import Lake, connect

__all__ = ["Lake", "LakeError", "connect"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("connect", "Lake"):
        from lake.faces import api

        return getattr(api, name)
    raise AttributeError(f"module 'lake' has no attribute {name!r}")
