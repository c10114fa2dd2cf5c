"""The HTTP service (`lake serve`): a real server process on a free loopback port, fed by the
openlineage-python client as a real producer, on both backend pairs."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from tests.backends import lake_environment
from tests.conftest import BACKENDS

START_TIMEOUT_S = 60


@dataclass
class Service:
    url: str
    read: str
    write: str

    def get(self, path: str, token: str | None = None, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, headers=_auth(token), timeout=30, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs) -> httpx.Response:
        headers = {**_auth(token), **kwargs.pop("headers", {})}
        return httpx.post(self.url + path, headers=headers, timeout=30, **kwargs)


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def start_service(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`lake serve --port 0` as a child process (deltalake holds the GIL: not a thread),
    with the test's environment; returns once it has printed the URL it listens on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "lake", "serve", "--port", "0", "--timeout", "20"],
        env={**os.environ, **(extra_env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    try:
        line = lines.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        process.kill()
        raise AssertionError(
            f"lake serve printed nothing in {START_TIMEOUT_S}s: {process.stderr.read()}"
        ) from None
    if "listening on " not in line:
        process.kill()
        raise AssertionError(f"lake serve did not start: {line}{process.stderr.read()}")
    return process, line.split("listening on ")[1].split()[0]


def stop_service(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def own_service(lk) -> Iterator[Service]:
    """``lake serve`` over the test's own lake (``lk``), for a test whose assertions need
    every run or event of the lake to be its own."""
    lk.write_table("web.clicks", pa.table({"user_id": [1, 2, 3], "page": ["a", "b", "c"]}))
    lk.write_table("web.clicks", pa.table({"user_id": [4], "page": ["d"]}))
    read = lk.create_token(role="read", name="notebook").secret
    write = lk.create_token(role="write", name="airflow").secret
    process, url = start_service()
    try:
        yield Service(url, read, write)
    finally:
        stop_service(process)


@dataclass
class SharedLake:
    """One lake for the tests that only read it (or add runs no other test looks at)."""

    lk: object
    env: dict[str, str]
    read: str
    write: str
    admin: str


@pytest.fixture(scope="module", params=BACKENDS)
def shared_lake(request, tmp_path_factory, s3_server, pg_server) -> Iterator[SharedLake]:
    """``web.clicks`` at two versions (3 rows, then one more) and a token of each role, built
    once per backend pair for the module: building a lake (and serving it) was most of each
    such test's time. A test that changes what another reads takes ``service`` or ``backend``."""
    import lake

    root = tmp_path_factory.mktemp("shared")
    with lake_environment(request.param, root, s3_server, pg_server) as env:
        with lake.connect(environ=env, cwd=root) as lk:
            lk.write_table("web.clicks", pa.table({"user_id": [1, 2, 3], "page": ["a", "b", "c"]}))
            lk.write_table("web.clicks", pa.table({"user_id": [4], "page": ["d"]}))
            yield SharedLake(
                lk,
                env,
                read=lk.create_token(role="read", name="notebook").secret,
                write=lk.create_token(role="write", name="airflow").secret,
                admin=lk.create_token(role="admin", name="ops").secret,
            )


@pytest.fixture(scope="module")
def service(shared_lake) -> Iterator[Service]:
    """``lake serve`` over :func:`shared_lake`, one process for the module's reading tests."""
    process, url = start_service(shared_lake.env)
    try:
        yield Service(url, shared_lake.read, shared_lake.write)
    finally:
        stop_service(process)


def _client(service: Service):
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    config = HttpConfig(
        url=service.url, auth=ApiKeyTokenProvider({"apiKey": service.write}), timeout=30
    )
    return OpenLineageClient(transport=HttpTransport(config))


def _event(event_type: str, run_id: str, inputs: list, outputs: list, facets: dict | None = None):
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    return RunEvent(
        eventType=getattr(RunState, event_type),
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run_id, facets=facets or {}),
        job=Job(namespace="airflow", name="daily_clicks.aggregate"),
        producer="https://github.com/apache/airflow",
        inputs=inputs,
        outputs=outputs,
    )


def test_openlineage_events_from_the_client_become_one_run_linked_to_exact_table_versions(
    own_service, lk
):
    service = own_service
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset
    from openlineage.client.uuid import generate_new_uuid

    run_id = str(generate_new_uuid())
    clicks = InputDataset(
        namespace="lake", name="web.clicks"
    )  # no version facet: current at eventTime
    users = InputDataset(namespace="postgresql://db.internal:5432", name="shop.public.users")
    pinned = InputDataset(
        namespace="lake",
        name="web.clicks",
        facets={"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion="0")},
    )
    report = OutputDataset(namespace="s3://reports", name="daily/clicks.csv")
    client = _client(service)

    client.emit(_event("START", run_id, [clicks, users], [report]))
    started = service.get(f"/api/v1/runs/{run_id}", service.read).json()
    assert started["status"] == "running" and started["kind"] == "external"
    assert started["job"] == "daily_clicks.aggregate"

    client.emit(_event("COMPLETE", run_id, [clicks, users, pinned], [report]))
    run = service.get(f"/api/v1/runs/{run_id}", service.read).json()
    assert run["run_id"] == run_id and run["status"] == "completed"
    inputs = {
        (d["namespace"], d["name"], d["facets"].get("version", {}).get("datasetVersion"))
        for d in run["inputs"]
    }
    assert inputs == {
        ("lake", "web.clicks", "1"),
        ("lake", "web.clicks", "0"),
        ("postgresql://db.internal:5432", "shop.public.users", None),
    }
    assert [(d["namespace"], d["name"]) for d in run["outputs"]] == [
        ("s3://reports", "daily/clicks.csv")
    ]
    assert len(run["inputs"]) == 3  # START and COMPLETE repeat datasets; each edge is kept once

    impact = service.get("/api/v1/tables/web.clicks/versions/1/impact", service.read).json()
    assert run_id in [r["run_id"] for r in impact["runs"]]
    listed = service.get("/api/v1/runs", service.read, params={"kind": "external"}).json()
    assert [r["run_id"] for r in listed["items"]] == [run_id]


def test_an_outside_run_cannot_claim_a_version_the_lake_wrote_but_may_claim_a_foreign_commit(
    own_service, lk, backend, tmp_path
):
    """A write token could report a run whose OUTPUTS named web.clicks@1, which the lake's own
    write run made: the event was recorded, the version then had two writers, and impact of
    the outside run's input (s3://raw/forged.csv) reached everything trained on web.clicks@1.
    Now the event is refused (409, one sentence, nothing recorded), whether the output names
    the version or it is the one current at the event's time; a version another engine
    committed to a registered table may still be claimed, by several runs beside each other."""
    service = own_service
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset
    from openlineage.client.uuid import generate_new_uuid

    def version(n: str) -> dict:
        return {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=n)}

    def post(event) -> httpx.Response:
        from openlineage.client.serde import Serde

        return service.post(
            "/api/v1/lineage",
            service.write,
            content=Serde.to_json(event),
            headers={"Content-Type": "application/json"},
        )

    forged = InputDataset(namespace="s3://raw", name="forged.csv")
    versions = service.get("/api/v1/tables/web.clicks/versions", service.read).json()["items"]
    writers = {v["version"]: v["run_id"] for v in versions}
    for outputs in (
        [OutputDataset(namespace="lake", name="web.clicks", facets=version("1"))],
        [OutputDataset(namespace="lake", name="web.clicks")],  # current at eventTime: 1
        [
            OutputDataset(namespace="s3://reports", name="ok.csv"),
            OutputDataset(namespace="lake", name="web.clicks", facets=version("0")),
        ],
    ):
        run_id = str(generate_new_uuid())
        answer = post(_event("COMPLETE", run_id, [forged], outputs))
        assert answer.status_code == 409, answer.text
        error = answer.json()["error"]
        assert "the lake's own write run" in error and "no outside run may report it" in error
        assert error.count(". ") == 0 and error.endswith(".")
        assert service.get(f"/api/v1/runs/{run_id}", service.read).status_code == 404
        assert writers[1] in error or writers[0] in error
    external = service.get("/api/v1/runs", service.read, params={"kind": "external"}).json()
    assert external["items"] == []  # nothing of the refused events was recorded

    # Another engine's commit of a registered table has no lake run: outside runs may claim it.
    from deltalake import write_deltalake

    if backend.s3 is not None:
        uri = f"s3://{backend.s3.bucket}/spark-{uuid.uuid4().hex[:8]}/t"
    else:
        uri = str(tmp_path / "spark" / "t")
    write_deltalake(uri, pa.table({"id": [1]}), storage_options=lk.storage.delta_options())
    lk.register_table("spark.t", uri)
    claims = [str(generate_new_uuid()) for _ in range(2)]
    for run_id in claims:
        answer = post(
            _event(
                "COMPLETE",
                run_id,
                [forged],
                [OutputDataset(namespace="lake", name="spark.t", facets=version("0"))],
            )
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["outputs"] == ["lake/spark.t@0"]
    assert service.post("/api/v1/lineage", service.read, json={}).status_code == 403


def test_a_failed_run_keeps_the_producers_error(service):
    from openlineage.client.facet_v2 import error_message_run
    from openlineage.client.uuid import generate_new_uuid

    run_id = str(generate_new_uuid())
    client = _client(service)
    client.emit(_event("START", run_id, [], []))
    error = error_message_run.ErrorMessageRunFacet(
        message="disk full", programmingLanguage="python"
    )
    client.emit(_event("FAIL", run_id, [], [], facets={"errorMessage": error}))
    run = service.get(f"/api/v1/runs/{run_id}", service.read).json()
    assert (run["status"], run["error"]) == ("failed", "disk full")


def test_time_travel_sql_over_http_streams_json_lines_and_arrow(service):
    old = service.post(
        "/api/v1/sql",
        service.read,
        json={"sql": "SELECT user_id FROM web.clicks VERSION AS OF 0 ORDER BY 1"},
    )
    assert old.status_code == 200, old.text
    assert old.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line)["user_id"] for line in old.text.splitlines()] == [1, 2, 3]
    assert [v["version"] for v in json.loads(old.headers["lake-versions"])] == [0]

    latest = service.post(
        "/api/v1/sql",
        service.read,
        json={"sql": "SELECT count(*) AS n FROM web.clicks"},
        headers={"Accept": "application/vnd.apache.arrow.stream"},
    )
    assert latest.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert pa.ipc.open_stream(latest.content).read_all().to_pylist() == [{"n": 4}]

    cut = service.post(
        "/api/v1/sql", service.read, json={"sql": "SELECT * FROM web.clicks", "max_rows": 2}
    )
    assert len(cut.text.splitlines()) == 2 and cut.headers["lake-truncated"] == "true"


def test_sql_over_http_answers_the_end_of_day_time_as_24_00_not_midnight(service):
    """JSON lines gave TIME '24:00:00' (unequal to 00:00:00 in DuckDB) as "00:00:00"."""
    answer = service.post(
        "/api/v1/sql",
        service.read,
        json={"sql": "SELECT TIME '24:00:00' AS t, TIME '00:00:00' AS u FROM web.clicks LIMIT 1"},
    )
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text) == {"t": "24:00:00", "u": "00:00:00"}


def test_sql_over_http_answers_a_float32_as_its_shortest_decimal(service):
    """JSON lines gave FLOAT 0.1 as 0.10000000149011612 (the float32 widened to a double)."""
    answer = service.post(
        "/api/v1/sql",
        service.read,
        json={"sql": "SELECT 0.1::FLOAT AS f, [2.2::FLOAT] AS l FROM web.clicks LIMIT 1"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.strip() == '{"f": 0.1, "l": [2.2]}'


def test_sql_over_http_answers_infinite_and_bc_dates_as_duckdb_writes_them(service):
    """JSON lines failed on DATE '-infinity' or a BC date (Python's dates cannot hold them)."""
    answer = service.post(
        "/api/v1/sql",
        service.read,
        json={
            "sql": "SELECT '-infinity'::DATE AS d, '0044-03-15 (BC)'::DATE AS bc, "
            "'infinity'::TIMESTAMP AS t FROM web.clicks LIMIT 1"
        },
    )
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text) == {"d": "-infinity", "bc": "0044-03-15 (BC)", "t": "infinity"}


def test_sql_over_http_answers_nanoseconds_and_unnamed_structs_whole(service):
    """A TIMESTAMP_NS or ROW(1, 2) column was answered 200 and then the connection was cut
    with no row (the conversion failed after the status was sent)."""
    answer = service.post(
        "/api/v1/sql",
        service.read,
        json={
            "sql": "SELECT '2024-01-01 10:00:00.123456789'::TIMESTAMP_NS AS tn, "
            "'10:00:00.123456789'::TIME_NS AS t, ROW(1, 2) AS r FROM web.clicks LIMIT 1"
        },
    )
    assert answer.status_code == 200, answer.text
    assert json.loads(answer.text) == {
        "tn": "2024-01-01T10:00:00.123456789",
        "t": "10:00:00.123456789",
        "r": {"": 1, "_1": 2},
    }


def test_no_token_is_401_a_read_token_on_a_write_endpoint_403(service):
    event = {
        "eventType": "START",
        "eventTime": "2026-11-30T05:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "x", "name": "y"},
    }
    assert service.get("/api/v1/tables").status_code == 401
    assert service.get("/api/v1/tables", "lake_not-a-real-token").status_code == 401
    assert service.post("/api/v1/sql", json={"sql": "SELECT 1"}).status_code == 401
    refused = service.post("/api/v1/lineage", service.read, json=event)
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "This endpoint needs a write token; the one given has role read."
    }
    assert service.post("/api/v1/lineage", service.write, json=event).status_code == 201
    assert service.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM 'http://169.254.169.254/latest/meta-data'",
        "COPY (SELECT 1) TO 'stolen.csv'",
        "ATTACH 'other.db' AS other",
        "SET enable_external_access = true",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO web.clicks VALUES (5, 'e')",
        "SELECT current_setting('s3_secret_access_key')",
    ],
)
def test_sql_that_writes_or_reads_anything_but_lake_tables_is_a_4xx(shared_lake, sql):
    from fastapi.testclient import TestClient

    from lake.faces.service import create_app

    answer = TestClient(create_app(shared_lake.lk)).post(
        "/api/v1/sql", headers=_auth(shared_lake.admin), json={"sql": sql}
    )
    if answer.status_code == 200:  # only a setting that holds no secret may be read
        assert (
            sql.startswith("SELECT current_setting")
            and shared_lake.env.get("AWS_SECRET_ACCESS_KEY", "-") not in answer.text
        )
        return
    assert 400 <= answer.status_code < 500, answer.text
    message = answer.json()["error"]
    assert message.endswith(".") and "\n" not in message


def test_bad_input_gets_a_one_sentence_4xx(shared_lake):
    from fastapi.testclient import TestClient

    from lake.faces.service import create_app
    from lake.faces.service.app import ServiceSettings

    read, write = shared_lake.read, shared_lake.write
    client = TestClient(create_app(shared_lake.lk, ServiceSettings(max_body_bytes=10_000)))
    json_type = {"Content-Type": "application/json"}
    answers = {
        "malformed json": client.post(
            "/api/v1/sql", headers={**_auth(read), **json_type}, content=b'{"sql": '
        ),
        "unknown table": client.get("/api/v1/tables/web.nope", headers=_auth(read)),
        "unknown table in sql": client.post(
            "/api/v1/sql", headers=_auth(read), json={"sql": "SELECT * FROM web.nope"}
        ),
        "unknown version": client.post(
            "/api/v1/sql",
            headers=_auth(read),
            json={"sql": "SELECT * FROM web.clicks VERSION AS OF 9"},
        ),
        "bad table name": client.get("/api/v1/tables/a.b.c", headers=_auth(read)),
        "oversized": client.post(
            "/api/v1/lineage", headers={**_auth(write), **json_type}, content=b" " * 20_000
        ),
        "oversized chunked": client.post(
            "/api/v1/lineage",
            headers={**_auth(write), **json_type},
            content=iter([b"[" + b" " * 8_000] * 3),
        ),
        "not a run event": client.post(
            "/api/v1/lineage", headers=_auth(write), json={"eventType": "START"}
        ),
        "bad run id": client.post(
            "/api/v1/lineage",
            headers=_auth(write),
            json={
                "eventTime": "2026-11-30T05:00:00Z",
                "run": {"runId": "x"},
                "job": {"namespace": "a", "name": "b"},
            },
        ),
        "missing lake version": client.post(
            "/api/v1/lineage",
            headers=_auth(write),
            json={
                "eventType": "COMPLETE",
                "eventTime": "2026-11-30T05:00:00Z",
                "run": {"runId": str(uuid.uuid4())},
                "job": {"namespace": "a", "name": "b"},
                "inputs": [
                    {
                        "namespace": "lake",
                        "name": "web.clicks",
                        "facets": {"version": {"datasetVersion": "7"}},
                    }
                ],
            },
        ),
        "bad limit": client.get("/api/v1/tables?limit=0", headers=_auth(read)),
        "unknown run": client.get(f"/api/v1/runs/{uuid.uuid4()}", headers=_auth(read)),
        # found by the schemathesis run: the id was echoed as it came, newline included
        "run id with a newline": client.get("/api/v1/runs/%0A", headers=_auth(read)),
        "model name with a newline": client.get("/api/v1/models/a%0Ab/audit", headers=_auth(read)),
        "no such endpoint": client.get("/api/v1/nothing", headers=_auth(read)),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "malformed json": 400,
        "unknown table": 404,
        "unknown table in sql": 404,
        "unknown version": 404,
        "bad table name": 400,
        "oversized": 413,
        "oversized chunked": 413,
        "not a run event": 422,
        "bad run id": 422,
        "missing lake version": 422,
        "bad limit": 422,
        "unknown run": 404,
        "run id with a newline": 404,
        "model name with a newline": 404,
        "no such endpoint": 404,
    }
    for name, answer in answers.items():
        message = answer.json()["error"]
        assert message.endswith(".") and "\n" not in message and "Traceback" not in message, (
            name,
            message,
        )


def test_lists_are_paginated_by_limit_and_offset(backend):
    from fastapi.testclient import TestClient

    import lake
    from lake.faces.service import create_app

    with lake.connect() as lk:
        for name in ("a.one", "a.two", "a.three"):
            lk.write_table(name, pa.table({"x": [1]}))
        token = lk.create_token(role="read").secret
        client = TestClient(create_app(lk))
        first = client.get("/api/v1/tables?limit=2", headers=_auth(token)).json()
        second = client.get(
            f"/api/v1/tables?limit=2&offset={first['next_offset']}", headers=_auth(token)
        ).json()
        runs = client.get("/api/v1/runs?limit=2", headers=_auth(token)).json()
    assert [t["table"] for t in first["items"]] == ["a.one", "a.three"] and first[
        "next_offset"
    ] == 2
    assert [t["table"] for t in second["items"]] == ["a.two"] and second["next_offset"] is None
    assert len(runs["items"]) == 2 and runs["next_offset"] == 2


def test_revoked_tokens_are_refused_and_secrets_are_stored_hashed(backend, cli):
    from fastapi.testclient import TestClient

    import lake
    from lake.faces.service import create_app
    from lake.faces.service.app import ServiceSettings

    created = cli("token create --role read --name ci --output json")
    assert created.exit_code == 0, created.stderr
    secret = created.json()["token"]
    listed = cli("token list --output json").json()
    assert [(t["name"], t["role"]) for t in listed] == [("ci", "read")] and "token" not in listed[0]
    with lake.connect() as lk:
        client = TestClient(create_app(lk, ServiceSettings(token_cache_s=0)))
        assert client.get("/api/v1/tables", headers=_auth(secret)).status_code == 200
        from sqlalchemy import text

        with lk.catalog.engine.connect() as connection:
            stored = connection.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
        assert secret not in stored and len(stored[0]) == 64
        assert cli(f"token revoke {created.json()['id']}").exit_code == 0
        assert client.get("/api/v1/tables", headers=_auth(secret)).status_code == 401
    again = cli(f"token revoke {created.json()['id']}")
    assert again.exit_code == 1 and "does not exist or is revoked" in again.stderr
    assert cli("token create --role superuser").exit_code == 2


def test_a_service_stopped_by_sigterm_leaves_no_folder_in_the_temporary_folder(lk):
    """multiprocessing keeps the socket of the query workers' forkserver in a ``pymp-*``
    folder of the temporary folder, which it removes at the process's exit: a service
    stopped with SIGTERM exits so, and leaves nothing there."""
    lk.write_table("web.clicks", pa.table({"user_id": [1, 2, 3]}))
    token = lk.create_token(role="read", name="notebook").secret
    # A short path of its own: a socket's path holds at most 107 bytes.
    with tempfile.TemporaryDirectory(prefix="lake-t-") as folder:
        _served_and_stopped_leaves_nothing(token, Path(folder))


def _served_and_stopped_leaves_nothing(token: str, temporary: Path) -> None:
    process, url = start_service({"TMPDIR": str(temporary)})
    try:
        answer = Service(url, token, "").post(
            "/api/v1/sql", token, json={"sql": "SELECT count(*) AS n FROM web.clicks"}
        )
        assert answer.status_code == 200, answer.text
        assert [p.name for p in temporary.iterdir() if p.name.startswith("pymp-")]
    finally:
        stop_service(process)
    assert [p.name for p in temporary.iterdir() if p.name.startswith("pymp-")] == []
    assert process.returncode == 128 + 15, process.stderr.read()


def test_a_runs_page_ending_at_the_last_run_has_no_next_page(backend):
    """The next page is promised only when a run is left for it (a page that held exactly
    the last runs used to point at an empty page)."""
    from fastapi.testclient import TestClient

    import lake
    from lake.faces.service import create_app

    with lake.connect() as lk:
        for name in ("a.one", "a.two", "a.three"):
            lk.write_table(name, pa.table({"x": [1]}))
        total = len(lk.runs(limit=1000))
        token = lk.create_token(role="read").secret
        client = TestClient(create_app(lk))
        whole = client.get(f"/api/v1/runs?limit={total}", headers=_auth(token)).json()
        first = client.get(f"/api/v1/runs?limit={total - 1}", headers=_auth(token)).json()
        rest = client.get(
            f"/api/v1/runs?limit={total - 1}&offset={first['next_offset']}", headers=_auth(token)
        ).json()
    assert total >= 3
    assert (len(whole["items"]), whole["next_offset"]) == (total, None)
    assert (len(first["items"]), first["next_offset"]) == (total - 1, total - 1)
    assert (len(rest["items"]), rest["next_offset"]) == (1, None)
    assert [r["run_id"] for r in first["items"] + rest["items"]] == [
        r["run_id"] for r in whole["items"]
    ]


def test_runs_are_paged_by_cursor_and_runs_started_between_two_pages_shift_none(backend):
    """/api/v1/runs paged by offset: the runs started between two requests pushed the runs
    of the first page onto the second (with 3 new runs, ?offset=2 answered a run of the first
    page again, and the next pages skipped as many). A page's next_cursor and
    previous_cursor (a run's start time and id) lead to the same runs whatever starts
    meanwhile; runs of one start time are ordered by id. offset still works, deprecated."""
    from fastapi.testclient import TestClient

    import lake
    from lake.faces.service import create_app

    def external(i: int, when: str) -> None:
        lk.record_lineage(
            {
                "eventType": "COMPLETE",
                "eventTime": when,
                "run": {"runId": f"00000000-0000-4000-8000-{i:012d}"},
                "job": {"namespace": "airflow", "name": f"job{i}"},
                "producer": "https://example.invalid/test",
            }
        )

    with lake.connect() as lk:
        for i in (5, 3, 1, 4, 2):  # one start time: ordered by id, whatever the insert order
            external(i, "2026-11-20T10:00:00.000001Z")
        lk.write_table("a.one", pa.table({"x": [1]}))
        token = lk.create_token(role="read").secret
        client = TestClient(create_app(lk))

        def page(**params) -> dict:
            answer = client.get("/api/v1/runs", params=params, headers=_auth(token))
            assert answer.status_code == 200, answer.text
            return answer.json()

        def ids(found: dict) -> list[str]:
            return [r["run_id"][-1] if r["kind"] == "external" else "w" for r in found["items"]]

        first = page(limit=2)
        assert ids(first) == ["w", "1"] and first["previous_cursor"] is None
        for i, day in ((7, 1), (6, 2), (8, 3)):  # started between two requests
            external(i, f"2030-01-0{day}T10:00:00Z")
        assert ids(page(limit=2, offset=2)) == ["7", "w"]  # deprecated: shifted by the new runs
        second = page(limit=2, after=first["next_cursor"])
        assert ids(second) == ["2", "3"] and (second["offset"], second["next_offset"]) == (
            None,
            None,
        )
        third = page(limit=2, after=second["next_cursor"])
        assert ids(third) == ["4", "5"] and third["next_cursor"] is None

        back = page(limit=2, before=third["previous_cursor"])
        assert ids(back) == ["2", "3"]
        back = page(limit=2, before=back["previous_cursor"])
        assert ids(back) == ["w", "1"]
        newer = page(limit=2, before=back["previous_cursor"])
        assert ids(newer) == ["6", "7"] and newer["next_cursor"] and newer["previous_cursor"]
        newest = page(limit=2, before=newer["previous_cursor"])
        assert ids(newest) == ["8"] and newest["previous_cursor"] is None
        assert ids(page(limit=2, kind="external", after=first["next_cursor"])) == ["2", "3"]

        for params in ({"after": "bm90IGEgY3Vyc29y"}, {"after": first["next_cursor"], "offset": 2}):
            refused = client.get("/api/v1/runs", params=params, headers=_auth(token))
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"].count(". ") == 0


def test_a_body_nested_deeper_than_the_json_parser_goes_is_a_one_sentence_400(shared_lake):
    from fastapi.testclient import TestClient

    from lake.faces.service import create_app

    token, lk = shared_lake.write, shared_lake.lk
    client = TestClient(create_app(lk))
    headers = {**_auth(token), "Content-Type": "application/json"}
    answers = [
        client.post("/api/v1/lineage", headers=headers, content=b"[" * 5000 + b"]" * 5000),
        client.post("/api/v1/sql", headers=headers, content=b'{"a":' * 3000 + b"1" + b"}" * 3000),
    ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json() == {
            "error": "The request body could not be read as JSON (malformed or nested too "
            "deeply); send one JSON object."
        }


def test_sql_over_a_table_whose_folder_is_gone_names_the_table_not_a_machine_path(backend):
    from fastapi.testclient import TestClient

    import lake
    from lake.faces.service import create_app

    with lake.connect() as lk:
        lk.write_table("web.gone", pa.table({"x": [1]}))
        location = lk.catalog.get_table(_table_name("web.gone")).location
        fs, path = lk.storage.filesystem_for(location)
        fs.delete_dir(path)
        token = lk.create_token(role="read").secret
        answer = TestClient(create_app(lk)).post(
            "/api/v1/sql", headers=_auth(token), json={"sql": "SELECT * FROM web.gone"}
        )
    assert answer.status_code == 404, answer.text
    message = answer.json()["error"]
    assert message.startswith("The Delta log of web.gone is gone from the warehouse"), message
    assert path not in message and location not in message


def test_sql_over_a_damaged_data_file_is_a_503_naming_the_version_not_a_machine_path(backend):
    """A data file the log lists but that cannot be read (damaged in the warehouse) was a 400,
    as if the query were wrong, with the file's full path in the warehouse in the error."""
    import pyarrow.fs as pafs
    from fastapi.testclient import TestClient

    import lake
    from lake.faces.service import create_app

    with lake.connect() as lk:
        lk.write_table("web.bad", pa.table({"x": [1]}))
        location = lk.catalog.get_table(_table_name("web.bad")).location
        fs, path = lk.storage.filesystem_for(location)
        (data,) = [
            f.path
            for f in fs.get_file_info(pafs.FileSelector(path, recursive=True))
            if f.path.endswith(".parquet")
        ]
        with fs.open_output_stream(data) as out:
            out.write(b"not a parquet file")
        token = lk.create_token(role="read").secret
        answer = TestClient(create_app(lk)).post(
            "/api/v1/sql", headers=_auth(token), json={"sql": "SELECT * FROM web.bad"}
        )
    assert answer.status_code == 503, answer.text
    message = answer.json()["error"]
    name = data.rsplit("/", 1)[1]
    assert message.startswith(f"web.bad@0 cannot be read: its data file {name} is damaged")
    assert path not in message and location not in message


def _table_name(text: str):  # noqa: ANN201
    from lake.core.names import TableName

    return TableName.parse(text)


def test_an_error_echoing_control_characters_shows_them_escaped(shared_lake):
    """A name with a terminal escape is echoed in the error as ``\\x1b``, never as the
    character itself (a client printing the error would run it); a name or id with a NUL is
    refused before the catalog is asked, on every backend."""
    from fastapi.testclient import TestClient

    from lake.faces.service import create_app

    token, lk = shared_lake.read, shared_lake.lk
    client = TestClient(create_app(lk))
    escape = client.get("/api/v1/models/%1B%5B31mred/audit", headers=_auth(token))
    nuls = [  # Postgres's driver cannot send a NUL: these were 500s there
        client.get(f"/api/v1/{path}", headers=_auth(token))
        for path in (
            "models/a%00b/audit",
            "models?name=a%00",
            "training-sets?name=a%00",
            "training-sets/a%00/versions/1/manifest",
            "runs?kind=a%00",
            "runs/a%00",
        )
    ]
    assert escape.status_code == 404, escape.text
    message = escape.json()["error"]
    assert "\x1b" not in message and "\\x1b[31mred" in message, message
    for answer in nuls:
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"].endswith(
            ": holds a NUL character, which no name or id in the lake holds."
        ), answer.text


def test_an_answer_whose_first_row_is_over_the_byte_limit_is_refused_not_empty(shared_lake):
    """A row larger than the answer's byte limit was cut away and the answer was a 200 with
    no rows, its only sign a ``Lake-Truncated`` header: a client not reading it saw an empty
    result. Refused in one sentence instead; an answer cut after its first rows still comes."""
    from fastapi.testclient import TestClient

    from lake.faces.service import create_app
    from lake.faces.service.app import ServiceSettings

    token, lk = shared_lake.read, shared_lake.lk
    client = TestClient(create_app(lk, ServiceSettings(max_bytes=10_000)))
    wide = client.post(
        "/api/v1/sql", headers=_auth(token), json={"sql": "SELECT repeat('x', 50000) AS s"}
    )
    cut = client.post(
        "/api/v1/sql",
        headers=_auth(token),
        json={"sql": "SELECT repeat('x', 1000) AS s FROM range(100)"},
    )
    nothing_asked = client.post(
        "/api/v1/sql",
        headers=_auth(token),
        json={"sql": "SELECT repeat('x', 50000) AS s", "max_rows": 0},
    )
    assert wide.status_code == 400, wide.text
    message = wide.json()["error"]
    assert message.startswith("The first row of the answer alone is over the 10,000-byte limit")
    assert len(message.splitlines()) == 1
    assert cut.status_code == 200 and cut.headers["Lake-Truncated"] == "true"
    assert 0 < len(cut.text.splitlines()) < 100
    assert nothing_asked.status_code == 200 and nothing_asked.text == ""
