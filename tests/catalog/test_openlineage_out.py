"""OpenLineage out: with LAKE_OPENLINEAGE_URL set, every ingest, write and materialization
sends START and COMPLETE/FAIL to a real HTTP endpoint, valid OpenLineage; a failing
endpoint never fails the run."""

from __future__ import annotations

import json
import socket
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
import pytest

from catalog.openlineage_out import LineageEmitWarning

# The parts of OpenLineage 2-0-2's RunEvent and DatasetVersionDatasetFacet our events use:
# required fields, types and formats as the spec states them.
_FACET = {
    "type": "object",
    "required": ["_producer", "_schemaURL"],
    "properties": {
        "_producer": {"type": "string", "format": "uri"},
        "_schemaURL": {"type": "string", "format": "uri"},
    },
}
_DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "facets": {
            "type": "object",
            "additionalProperties": _FACET,
            "properties": {
                "version": {
                    **_FACET,
                    "required": ["_producer", "_schemaURL", "datasetVersion"],
                    "properties": {**_FACET["properties"], "datasetVersion": {"type": "string"}},
                }
            },
        },
    },
}
RUN_EVENT = {
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {
                "runId": {"type": "string", "format": "uuid"},
                "facets": {"type": "object", "additionalProperties": _FACET},
            },
        },
        "job": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": {"type": "object"},
            },
        },
        "inputs": {"type": "array", "items": _DATASET},
        "outputs": {"type": "array", "items": _DATASET},
    },
}


def assert_valid_openlineage(event: dict) -> None:
    """Valid against the spec's constraints above, and accepted by openlineage-python's own
    event classes (which check the run id, the time and the URIs) without losing a field."""
    import jsonschema
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import dataset_version_dataset, error_message_run
    from openlineage.client.serde import Serde

    jsonschema.validate(
        event, RUN_EVENT, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    def facets(found: dict) -> dict:
        out = {}
        for key, value in found.items():
            fields = {k: v for k, v in value.items() if not k.startswith("_")}
            kind = {
                "version": dataset_version_dataset.DatasetVersionDatasetFacet,
                "errorMessage": error_message_run.ErrorMessageRunFacet,
            }[key]
            out[key] = kind(**fields, producer=value["_producer"])
        return out

    rebuilt = RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets=facets(event["run"]["facets"])),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        producer=event["producer"],
        inputs=[
            InputDataset(namespace=d["namespace"], name=d["name"], facets=facets(d["facets"]))
            for d in event["inputs"]
        ],
        outputs=[
            OutputDataset(namespace=d["namespace"], name=d["name"], facets=facets(d["facets"]))
            for d in event["outputs"]
        ],
    )
    again = Serde.to_dict(rebuilt)
    assert again["run"]["runId"] == event["run"]["runId"]
    for side in ("inputs", "outputs"):
        assert [
            (
                d["namespace"],
                d["name"],
                d.get("facets", {}).get("version", {}).get("datasetVersion"),
            )
            for d in again.get(side, [])
        ] == [
            (d["namespace"], d["name"], d["facets"].get("version", {}).get("datasetVersion"))
            for d in event[side]
        ]
        for d in again.get(side, []):
            if "version" in d.get("facets", {}):
                assert d["facets"]["version"]["_schemaURL"] == next(
                    e["facets"]["version"]["_schemaURL"]
                    for e in event[side]
                    if e["name"] == d["name"]
                )


class Collector:
    """A loopback HTTP endpoint that keeps what it receives (an OpenLineage backend)."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.paths: set[str] = set()
        self.auth: set[str | None] = set()
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.events.append(json.loads(body))
                received.paths.add(self.path)
                received.auth.add(self.headers.get("Authorization"))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def by_run(self) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for event in self.events:
            found.setdefault(event["run"]["runId"], []).append(event)
        return found


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    yield found
    found.server.shutdown()


def _versions(datasets: list[dict]) -> list[tuple[str, str, str | None]]:
    return [
        (d["namespace"], d["name"], d["facets"].get("version", {}).get("datasetVersion"))
        for d in datasets
    ]


def test_ingest_write_and_materialize_send_start_and_complete_with_dataset_versions(
    backend, monkeypatch, collector, tmp_path
):
    import lake

    monkeypatch.setenv("LAKE_OPENLINEAGE_URL", collector.url)
    monkeypatch.setenv("LAKE_OPENLINEAGE_API_KEY", "collector-key")
    logs = tmp_path / "app.jsonl"
    logs.write_text(
        "".join(
            json.dumps({"ts": f"2026-11-30T05:00:0{i}Z", "level": "info", "n": i}) + "\n"
            for i in range(5)
        )
    )
    with lake.connect() as lk:
        ingested = lk.ingest_logs("web.app", str(logs))
        written = lk.write_table(
            "ml.labels", pa.table({"n": [0, 1, 2], "label": [True, False, True]})
        )
        made = lk.materialize(
            "train",
            sql="SELECT l.n, l.label FROM web.app a JOIN ml.labels l USING (n) ORDER BY n",
            out=tmp_path / "ts",
        )

    assert collector.paths == {"/api/v1/lineage"} and collector.auth == {"Bearer collector-key"}
    runs = collector.by_run()
    for run_id in (ingested.run_id, made.run_id):
        assert [e["eventType"] for e in runs[run_id]] == ["START", "COMPLETE"]
    for event in collector.events:
        assert_valid_openlineage(event)

    ingest_done = runs[ingested.run_id][-1]
    assert ingest_done["job"] == {"namespace": "lake", "name": "ingest_logs:web.app", "facets": {}}
    assert _versions(ingest_done["outputs"]) == [("lake", "web.app", str(ingested.version))]
    [(source_ns, source_name, sha)] = _versions(ingest_done["inputs"])
    assert source_name.endswith("app.jsonl") and len(sha or "") == 64

    write_done = [e for e in collector.events if e["job"]["name"] == "write:ml.labels"]
    assert [e["eventType"] for e in write_done] == ["START", "COMPLETE"]
    assert _versions(write_done[-1]["outputs"]) == [("lake", "ml.labels", str(written.version))]

    materialized = runs[made.run_id][-1]
    assert sorted(_versions(materialized["inputs"])) == [
        ("lake", "ml.labels", str(written.version)),
        ("lake", "web.app", str(ingested.version)),
    ]
    assert _versions(materialized["outputs"]) == [("lake.training_sets", "train", "1")]


def test_a_failed_write_sends_fail_with_the_error(backend, monkeypatch, collector):
    import lake
    from lake.core.errors import LakeError

    monkeypatch.setenv("LAKE_OPENLINEAGE_URL", collector.url)
    with lake.connect() as lk:
        lk.write_table("ml.labels", pa.table({"n": [1]}))
        with pytest.raises(LakeError):
            lk.write_table("ml.labels", pa.table({"n": ["not a number"]}))
    failed = [e for e in collector.events if e["eventType"] == "FAIL"]
    assert len(failed) == 1
    assert_valid_openlineage(failed[0])
    assert failed[0]["run"]["facets"]["errorMessage"]["message"]


def test_an_endpoint_that_fails_warns_once_and_never_fails_the_run(backend, monkeypatch, tmp_path):
    import lake

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("LAKE_OPENLINEAGE_URL", f"http://127.0.0.1:{closed}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with lake.connect() as lk:
            first = lk.write_table("ml.labels", pa.table({"n": [1]}))
            second = lk.write_table("ml.labels", pa.table({"n": [2]}))
            assert lk.run(second.run_id).status == "completed"
    assert (first.version, second.version) == (0, 1)
    sent = [w for w in caught if issubclass(w.category, LineageEmitWarning)]
    assert len(sent) == 1 and "reported once" in str(sent[0].message)


def test_nothing_is_built_or_sent_when_the_url_is_unset(backend):
    import lake

    with lake.connect() as lk:
        assert lk.catalog.lineage_out is None


def test_a_database_extract_sends_start_and_complete_with_its_source_and_table_version(
    backend, monkeypatch, collector, tmp_path
):
    import sqlite3

    import lake

    source = tmp_path / "shop.db"
    with sqlite3.connect(source) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        connection.executemany("INSERT INTO orders VALUES (?, ?)", [(1, 9.5), (2, 12.0)])
    monkeypatch.setenv("LAKE_OPENLINEAGE_URL", collector.url)
    with lake.connect() as lk:
        lk.ingest_db("shop.orders", source=f"sqlite:///{source}", table_name="orders", key="id")
        version = lk.table("shop.orders").current_version
    events = [e for e in collector.events if e["job"]["name"].endswith("shop.orders")]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        assert_valid_openlineage(event)
    assert _versions(events[-1]["outputs"]) == [("lake", "shop.orders", str(version))]
    assert [d["name"] for d in events[-1]["inputs"]] and all(
        d["namespace"] != "lake" for d in events[-1]["inputs"]
    )


def test_a_run_ends_once_no_fail_after_complete_and_its_error_stays_its_own(
    backend, monkeypatch, collector
):
    import lake

    monkeypatch.setenv("LAKE_OPENLINEAGE_URL", collector.url)
    with lake.connect() as lk:
        written = lk.write_table("ml.labels", pa.table({"n": [1]}))
        # A late "failed" (say, a cleanup step after the commit raised) must not turn a
        # completed run into a failed one, give it an error, or send FAIL after COMPLETE.
        lk.catalog.finish_run(written.run_id, status="failed", error="late trouble")
        run = lk.catalog.get_run(written.run_id)
    assert (run.status, run.error) == ("completed", None)
    assert [e["eventType"] for e in collector.by_run()[written.run_id]] == ["START", "COMPLETE"]


def test_a_run_whose_process_died_is_reaped_and_sends_fail(backend, monkeypatch, collector):
    import subprocess
    import sys

    from sqlalchemy import create_engine, text

    import lake

    monkeypatch.setenv("LAKE_OPENLINEAGE_URL", collector.url)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    with lake.connect() as lk:
        run_id = lk.catalog.start_run(kind="write", job="write:ml.gone", parameters={})
        # The run's process is the child that has exited: the state a kill -9 leaves.
        engine = create_engine(backend.catalog_url)
        try:
            with engine.begin() as connection:
                stats = connection.execute(
                    text("SELECT stats FROM runs WHERE id = :id"), {"id": run_id}
                ).scalar_one()
                stats = json.loads(stats) if isinstance(stats, str) else stats
                stats["pid"] = int(gone.stdout)
                connection.execute(
                    text("UPDATE runs SET stats = :stats WHERE id = :id"),
                    {"stats": json.dumps(stats), "id": run_id},
                )
        finally:
            engine.dispose()
        assert lk.catalog.reap_dead_runs() == [run_id]
        assert lk.catalog.get_run(run_id).status == "failed"
    events = collector.by_run()[run_id]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert_valid_openlineage(events[-1])
