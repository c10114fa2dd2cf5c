"""A loopback HTTP proxy in front of the real moto server that loses chosen S3 answers.

Each request goes to moto as it came and moto's answer comes back, except where a rule of
the test says otherwise: a request moto carried out but whose answer the client never got
(as when a connection drops after the server stored a PUT), a server that fails some GETs.
The proxy runs in the test process; the lake that talks to it runs in a child process
(deltalake holds the GIL while it waits for a server, see tests/backends.py).
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Rule = Callable[[str, str, "S3FaultProxy"], "str | None"]
"""``rule(method, path, proxy)``: None to pass the request on, ``"lose"`` to carry it out
but answer 500 instead of moto's answer, ``"fail"`` to answer 503 without carrying it out,
``"hold"`` to answer 500 and carry it out only when the test calls ``proxy.release()`` (a
request that got no answer and lands late)."""

_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
    b"<Message>injected by the test</Message></Error>"
)


class S3FaultProxy:
    """``with S3FaultProxy(moto_endpoint, rule) as proxy``: ``proxy.endpoint`` is where the
    lake is pointed; ``proxy.seen`` lists ``(method, path, status)`` of every request."""

    def __init__(self, target: str, rule: Rule) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rule = rule
        self.seen: list[tuple[str, str, int]] = []
        self.held: list[tuple[str, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self) -> list[int]:
        """Carry out the held requests now, in order; moto's status for each."""
        with self.lock:
            held, self.held = self.held, []
        statuses = []
        for method, target, headers, body in held:
            status = _send(self.target, method, target, headers, body)[0].status
            with self.lock:
                self.seen.append((method, urlsplit(target).path, status))
            statuses.append(status)
        return statuses

    def __enter__(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _send(
    target: tuple[str, int], method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[http.client.HTTPResponse, bytes]:
    upstream = http.client.HTTPConnection(*target, timeout=30)
    try:
        upstream.request(method, path, body=body, headers=headers)
        answer = upstream.getresponse()
        return answer, answer.read()
    finally:
        upstream.close()


def _handler(proxy: S3FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:  # quiet
            return

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            with proxy.lock:
                action = proxy.rule(self.command, path, proxy)
            if action == "hold":
                with proxy.lock:
                    proxy.held.append((self.command, self.path, dict(self.headers), body))
                self._answer(500, _ERROR.replace(b"{code}", b"InternalError"))
                return
            if action == "fail":
                self._answer(503, _ERROR.replace(b"{code}", b"SlowDown"))
                with proxy.lock:
                    proxy.seen.append((self.command, path, 503))
                return
            answer, data = _send(proxy.target, self.command, self.path, dict(self.headers), body)
            with proxy.lock:
                proxy.seen.append((self.command, path, answer.status))
            if action == "lose":
                self._answer(500, _ERROR.replace(b"{code}", b"InternalError"))
                return
            self.send_response(answer.status)
            head = self.command == "HEAD"
            dropped = {"transfer-encoding", "connection"} | (set() if head else {"content-length"})
            for key, value in answer.getheaders():
                if key.lower() not in dropped:
                    self.send_header(key, value)
            if not head:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _forward

    return Handler


class LostAnswerThenUnreadable:
    """The first PUT of ``entry`` is stored but answered 500 (the client sends it again and
    moto refuses it: the entry exists); then every GET or HEAD of it fails, until a request
    for anything else comes (the writer gave up reading it)."""

    def __init__(self, entry: str) -> None:
        self.entry = entry
        self.state = "armed"

    def __call__(self, method: str, path: str, _proxy: object) -> str | None:
        ours = path.endswith(self.entry)
        if self.state == "armed" and ours and method == "PUT":
            self.state = "refusing"
            return "lose"
        if self.state == "refusing":
            if ours and method in ("GET", "HEAD"):
                return "fail"
            if not ours:
                self.state = "done"
        return None


class LostAnswer:
    """The first PUT of ``entry`` is stored but answered 500 (the client sends it again)."""

    def __init__(self, entry: str) -> None:
        self.entry = entry
        self.lost = False

    def __call__(self, method: str, path: str, _proxy: object) -> str | None:
        if not self.lost and method == "PUT" and path.endswith(self.entry):
            self.lost = True
            return "lose"
        return None


class HeldThenRefused:
    """The first PUT of ``entry`` gets no answer and is held (it lands when the test
    releases it); every later PUT of it fails with 503, until the entry was read back
    once when ``until_read`` (the writer then asks again, and that PUT goes through)."""

    def __init__(self, entry: str, *, until_read: bool) -> None:
        self.entry = entry
        self.until_read = until_read
        self.state = "armed"

    def __call__(self, method: str, path: str, _proxy: object) -> str | None:
        if not path.endswith(self.entry):
            return None
        if method == "PUT" and self.state == "armed":
            self.state = "held"
            return "hold"
        if self.state == "held" and method in ("GET", "HEAD") and self.until_read:
            self.state = "read"
        if method == "PUT" and self.state == "held":
            return "fail"
        return None
