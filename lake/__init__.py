"""A data lake and catalog for machine-learning teams.

    import lake
    lk = lake.connect()          # or lake.connect(warehouse="s3://...", catalog="postgresql+psycopg2://...")
    lk.tables()

The shared core lives here (``lake.config``, ``lake.storage``, ``lake.tables``,
``lake.errors``); the stages live in the ``ingest``, ``queries`` and ``catalog``
packages. Importing ``lake`` stays cheap: heavy libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lake.errors import LakeError

if TYPE_CHECKING:
    from lake.api import Lake, connect

__all__ = ["Lake", "LakeError", "connect"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("connect", "Lake"):
        from lake import api

        return getattr(api, name)
    raise AttributeError(f"module 'lake' has no attribute {name!r}")
