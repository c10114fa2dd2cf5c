"""S3 or Postgres unreachable at the start of a command, or going away in its middle.

Expected every time: bounded retries, then one ``error: ...`` line naming what was
unreachable and exit code 1; no partial version becomes visible; the same command run
again once the server is back completes the work, with one copy of the data.

"In the middle" is made exact with a stopping failpoint (lake/failpoints.py): the child
stops itself (SIGSTOP) at a named point, the test takes the server away (a loopback TCP
proxy in front of the real moto or Postgres server is closed), then lets it go on (SIGCONT).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading

import pytest

from lake.core.names import TableName
from tests.faults.conftest import (
    S3_POSTGRES,
    assert_one_line_error,
    child_env,
    lake_argv,
    run_lake,
    write_log,
)

TABLE = "out.events"
QUICK_RECONNECTS = {"LAKE_CATALOG_RETRY_WAIT": "0.01"}
"""The children that meet a catalog that is gone wait 0.01 + 0.02 + ... s between their tries
(the same tries, the same one-line error), not the default 0.5 + 1 + 2 + 4 s."""


class Proxy:
    """A loopback TCP proxy that can be closed (refusing and cutting every connection) and
    opened again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _count(lk) -> int:
    row = lk.sql(f"SELECT count(*) AS n, count(DISTINCT (tag, k)) AS d FROM {TABLE}").rows()[0]
    assert row["n"] == row["d"]
    return row["n"]


@pytest.mark.timeout(180)
@S3_POSTGRES
def test_s3_and_postgres_unreachable_at_start_fail_in_one_line_then_the_rerun_works(
    s3_only, lk, tmp_path
):
    backend = s3_only
    first = write_log(tmp_path / "a.jsonl", 4, "a")
    no_s3 = run_lake(
        backend,
        "ingest",
        "logs",
        TABLE,
        first,
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{_closed_port()}",
    )
    assert no_s3.returncode == 1
    line = assert_one_line_error(
        no_s3.stderr, r"S3 server at http://127\.0\.0\.1:\d+ is unreachable"
    )
    assert "\x1b[" not in line, "no terminal colour codes from the driver"

    closed_pg = backend.catalog_url.replace(f":{backend.pg.port}/", f":{_closed_port()}/")
    no_pg = run_lake(
        backend, "ingest", "logs", TABLE, first, LAKE_CATALOG_URL=closed_pg, **QUICK_RECONNECTS
    )
    assert no_pg.returncode == 1
    assert_one_line_error(no_pg.stderr, r"catalog database at postgresql.* is unreachable")

    registered = lk.catalog.find_table(TableName.parse(TABLE))
    assert registered is None or registered.current_version is None, (
        "no version from the failed runs"
    )
    again = run_lake(backend, "ingest", "logs", TABLE, first, "--output", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["version"] == 0
    assert _count(lk) == 4


def _stopped_child(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    child = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status = os.waitpid(child.pid, os.WUNTRACED)  # returns once the failpoint stopped it
    assert os.WIFSTOPPED(status), "the child reached the failpoint"
    return child


@pytest.mark.timeout(240)
@S3_POSTGRES
def test_s3_going_away_during_an_ingest_leaves_no_version_and_the_rerun_completes(
    s3_only, lk, tmp_path
):
    backend = s3_only
    endpoint = backend.s3.endpoint.rsplit(":", 1)
    proxy = Proxy("127.0.0.1", int(endpoint[1]))
    proxy.open()
    try:
        env = child_env(backend, AWS_ENDPOINT_URL=f"http://127.0.0.1:{proxy.port}")
        assert (
            run_lake(
                backend,
                "ingest",
                "logs",
                TABLE,
                write_log(tmp_path / "a.jsonl", 4, "a"),
                AWS_ENDPOINT_URL=env["AWS_ENDPOINT_URL"],
            ).returncode
            == 0
        )
        second = write_log(tmp_path / "b.jsonl", 6, "b")
        env["LAKE_FAILPOINT"] = "upload:stop"
        child = _stopped_child(lake_argv("ingest", "logs", TABLE, second), env)
        proxy.close()  # S3 goes away between the data file upload and the commit
        os.kill(child.pid, signal.SIGCONT)
        out, err = child.communicate(timeout=200)
        assert child.returncode == 1, (out, err)
        assert_one_line_error(err, r"S3 server at http://127\.0\.0\.1:\d+ is unreachable")

        assert [v.version for v in lk.history(TABLE)] == [0]
        assert _count(lk) == 4, "no partial version"
        proxy.open()  # the server is back, on the same address
        again = run_lake(
            backend,
            "ingest",
            "logs",
            TABLE,
            second,
            "--output",
            "json",
            AWS_ENDPOINT_URL=env["AWS_ENDPOINT_URL"],
        )
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["version"] == 1
        assert _count(lk) == 10
    finally:
        proxy.close()


@pytest.mark.timeout(240)
@S3_POSTGRES
def test_postgres_going_away_after_the_delta_commit_heals_on_the_next_run(s3_only, lk, tmp_path):
    backend = s3_only
    proxy = Proxy(backend.pg.host, backend.pg.port)
    proxy.open()
    try:
        url = backend.catalog_url.replace(f":{backend.pg.port}/", f":{proxy.port}/")
        assert (
            run_lake(
                backend,
                "ingest",
                "logs",
                TABLE,
                write_log(tmp_path / "a.jsonl", 4, "a"),
                LAKE_CATALOG_URL=url,
            ).returncode
            == 0
        )
        second = write_log(tmp_path / "b.jsonl", 6, "b")
        env = child_env(
            backend,
            LAKE_CATALOG_URL=url,
            LAKE_FAILPOINT="after_delta_commit:stop",
            **QUICK_RECONNECTS,
        )
        child = _stopped_child(lake_argv("ingest", "logs", TABLE, second), env)
        proxy.close()  # the catalog goes away between the Delta commit and its record
        os.kill(child.pid, signal.SIGCONT)
        out, err = child.communicate(timeout=200)
        assert child.returncode == 1, (out, err)
        assert_one_line_error(err, r"catalog database at postgresql.* is unreachable")

        proxy.open()
        # The Delta commit is whole: readers see all of it; the catalog heals on next use.
        assert _count(lk) == 10
        history = lk.history(TABLE)
        assert [v.version for v in history] == [0, 1]
        assert history[1].run_id is not None
        again = run_lake(
            backend, "ingest", "logs", TABLE, second, "--output", "json", LAKE_CATALOG_URL=url
        )
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["version"] is None, "already ingested: skipped"
        assert _count(lk) == 10
    finally:
        proxy.close()
