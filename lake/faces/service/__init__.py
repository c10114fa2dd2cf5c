"""The lake as an HTTP service (``lake serve``): the catalog's read API, read-only SQL,
OpenLineage in, bearer tokens. :func:`serve` runs it with uvicorn; :func:`create_app`
gives the ASGI app for tests and other servers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
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
    with _exit_handlers_on_sigterm():
        uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def _exit_handlers_on_sigterm() -> Iterator[None]:
    """A SIGTERM ends the process as an exit, with its exit handlers run.

    uvicorn shuts down on SIGTERM, then raises the signal again under the handler there was
    before it started; under the default one the process died without its exit handlers, and
    multiprocessing's folder of the query workers' forkserver (``pymp-*`` in the temporary
    folder, holding its socket) stayed behind, one for every service stopped so (30 after one
    run of the service tests)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # what a shell reports for a process a signal ended

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
