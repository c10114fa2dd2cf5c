"""A loopback proxy in front of the real PostgreSQL server that loses the answer to a chosen
COMMIT: the server commits, the client's connection is cut before it hears so.

It reads the client's messages (PostgreSQL's wire protocol: a type byte and a length after
the start-up), marks a transaction that sent a statement holding ``marker``, and when that
transaction's ``COMMIT`` has gone to the server, closes the client's connection instead of
passing on the answer. Once only.
"""

from __future__ import annotations

import socket
import struct
import threading


class LostCommitProxy:
    def __init__(self, host: str, port: int, marker: bytes) -> None:
        self.target = (host, port)
        self.marker = marker
        self.fired = False
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> LostCommitProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                _close(s)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            cut = threading.Event()
            threading.Thread(target=self._up, args=(client, upstream, cut), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client, cut), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket, cut: threading.Event) -> None:
        """Client to server, message by message."""
        marked = False
        started = False
        try:
            while True:
                if not started:  # SSLRequest or StartupMessage: a length, no type byte
                    head = _exactly(client, 4)
                    (length,) = struct.unpack("!I", head)
                    body = _exactly(client, length - 4)
                    upstream.sendall(head + body)
                    started = struct.unpack("!I", body[:4])[0] == 196608
                    continue
                head = _exactly(client, 5)
                (length,) = struct.unpack("!I", head[1:])
                body = _exactly(client, length - 4)
                kind = head[:1]
                if kind in (b"Q", b"P") and self.marker in body:
                    marked = True
                commit = kind == b"Q" and body.rstrip(b"\0").strip().upper() == b"COMMIT"
                with self._lock:
                    fire = commit and marked and not self.fired
                    if fire:
                        self.fired = True
                if fire:
                    cut.set()  # the answer to this COMMIT is not passed on
                upstream.sendall(head + body)
                if commit:
                    marked = False
        except OSError:
            pass
        finally:
            if not cut.is_set():
                _close(upstream)
            _close(client)

    @staticmethod
    def _down(upstream: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        try:
            while data := upstream.recv(65536):
                if cut.is_set():
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


def _exactly(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
