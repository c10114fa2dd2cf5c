"""The lake as an HTTP service (``lake serve``): the catalog's read API, read-only SQL,
OpenLineage in, bearer tokens. :func:`serve` runs it with uvicorn; :func:`create_app`
gives the ASGI app for tests and other servers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lake.faces.api import Lake
    from lake.faces.service.app import ServiceSettings


def create_app(lake: Lake, settings: ServiceSettings | None = None):  # noqa: ANN201 - FastAPI is imported lazily
    from lake.faces.service.app import ServiceSettings, build_app

    return build_app(lake, settings or ServiceSettings())


def serve(
    lake: Lake,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    settings: ServiceSettings | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve ``lake`` until interrupted (one process; FastAPI's thread pool runs requests).

    The socket is bound before ``announce(url)`` is called, so a caller that reads the URL
    can connect at once; port 0 picks a free port.
    """
    import socket

    import uvicorn

    from lake.core.errors import ConfigError

    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, not {port}.")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this; without it Nagle and delayed ACKs add ~40 ms to every
    # answer (uvicorn sets it only on sockets it binds itself).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(
            f"lake serve could not listen on {host}:{port} ({error.strerror}); pick another --port."
        ) from None
    sock.listen(2048)
    bound = sock.getsockname()[1]
    import logging
    import sys

    access = logging.getLogger("lake.access")  # one line per request (app.AccessLog)
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    config = uvicorn.Config(
        create_app(lake, settings), log_level="warning", access_log=False, lifespan="off"
    )
    if announce is not None:
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        announce(f"http://{shown}:{bound}")
    uvicorn.Server(config).run(sockets=[sock])
