"""The web catalog: pages for people over the same :class:`lake.faces.api.Lake` calls as the
HTTP API, served by ``lake serve`` at ``/``.

Server-rendered (Jinja2 templates in ``templates/``, a stylesheet and a few lines of
JavaScript in ``static/``); nothing is loaded from the network, and the OpenAPI pages at
``/docs`` and ``/redoc`` use Swagger UI's and ReDoc's files shipped in the
``fastapi-offline`` wheel. Signing in stores a lake token in an HttpOnly, SameSite=Strict
cookie (``session.py``); every page but the sign-in form needs it. The lineage graphs are
drawn as SVG by ``graph.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from lake.faces.api import Lake
    from lake.faces.service.app import ServiceSettings


def mount(
    app: FastAPI, lake: Lake, settings: ServiceSettings, *, run_sql: Callable[..., Any]
) -> None:
    """Add the pages, their static files and the offline ``/docs`` to ``app``; SQL runs
    through ``run_sql(lake, settings, sql, max_rows=...)``, the service's own path."""
    from lake.faces.web.pages import add_pages

    add_pages(app, lake, settings, run_sql=run_sql)
