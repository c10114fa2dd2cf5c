"""Fuzz the HTTP service from its own OpenAPI document: whatever schemathesis sends, the
answer is never a 5xx nor a traceback, its status and body are ones the document declares
for that endpoint, and an error is one sentence. Bounded examples per endpoint
(``LAKE_TEST_FUZZ_EXAMPLES``, default 10: up to 300 cases over 15 operations and both modes), plus
OpenLineage events built field by field from hostile values (``LAKE_TEST_FUZZ_EVENTS``, default
100). Derandomized: every run sends the same cases, so a failure repeats; raise the counts
(and set ``LAKE_TEST_FUZZ_RANDOM=1`` for fresh cases) to search further."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import lake
from lake.faces.service import create_app
from lake.faces.service.app import ServiceSettings

EXAMPLES = int(os.environ.get("LAKE_TEST_FUZZ_EXAMPLES", "10"))
EVENTS = int(os.environ.get("LAKE_TEST_FUZZ_EVENTS", "100"))
DERANDOMIZE = os.environ.get("LAKE_TEST_FUZZ_RANDOM") != "1"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    connected = lake.connect(
        warehouse=str(root / "warehouse"), catalog=f"sqlite:///{root / 'catalog.db'}", cwd=root
    )
    connected.write_table("web.clicks", pa.table({"user_id": [1, 2, 3], "page": ["a", "b", "c"]}))
    connected.write_table("web.clicks", pa.table({"user_id": [4], "page": ["d"]}))
    connected.materialize("clicks", sql="SELECT * FROM web.clicks", out=root / "clicks")
    connected.register_model("gbm", training_set="clicks", metrics={"auc": 0.9})
    token = connected.create_token(role="admin").secret
    app = create_app(connected, ServiceSettings(max_rows=1_000, timeout_s=5))
    yield app, token
    connected.close()


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_input_makes_the_service_fail(served, mode):
    from hypothesis import given
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    app, token = served
    api = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 14
    headers = {"Authorization": f"Bearer {token}"}
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=DERANDOMIZE,
        )
        def no_server_error(case) -> None:
            response = case.call_and_validate(
                headers=headers,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )
            _one_sentence_or_success(response.status_code, response.text)

        try:
            no_server_error()
        except Unsatisfiable:
            assert mode == "negative"  # an endpoint without parameters has no invalid input


def _one_sentence_or_success(status: int, body: str) -> None:
    assert status < 500, body
    assert "Traceback" not in body, body
    if status >= 400 and body.startswith("{"):
        import json

        message = json.loads(body).get("error", "")
        assert isinstance(message, str) and message and "\n" not in message, body


def test_no_openlineage_event_makes_the_service_fail(served):
    """Events with every field drawn from values that broke the catalog before: times at the
    edges of the calendar with offsets, NULs, huge or non-ASCII names and versions, too many
    datasets, lake tables at versions that do not exist, a runId of the lake's own runs."""
    from fastapi.testclient import TestClient
    from hypothesis import given
    from hypothesis import strategies as st

    app, token = served
    client = TestClient(app)
    lake_run = client.get("/api/v1/runs", headers={"Authorization": f"Bearer {token}"}).json()[
        "items"
    ][0]["run_id"]
    texts = st.one_of(
        st.text(max_size=20),
        st.sampled_from(["\x00", "a\x00b", "x" * 9000, "²", "web.clicks", "lake", " ", ""]),
    )
    times = st.one_of(
        st.datetimes().map(lambda t: t.isoformat() + "Z"),
        st.sampled_from(
            [
                "9999-12-31T23:00:00-05:00",
                "0001-01-01T00:00:00+05:00",
                "2026-11-30T05:00:00",
                "not a time",
                "",
            ]
        ),
        st.integers(),
    )
    versions = st.one_of(
        st.none(), st.sampled_from(["0", "1", "99999999999999999999", "²", "-1", "1e3"]), texts
    )
    dataset = st.fixed_dictionaries(
        {
            "namespace": st.one_of(texts, st.just("lake")),
            "name": st.one_of(texts, st.just("web.clicks")),
        },
        optional={
            "facets": st.fixed_dictionaries(
                {"version": st.fixed_dictionaries({"datasetVersion": versions})}
            )
        },
    )
    event = st.fixed_dictionaries(
        {
            "eventType": st.sampled_from(["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "X"]),
            "eventTime": times,
            "run": st.fixed_dictionaries(
                {"runId": st.one_of(st.uuids().map(str), st.just(lake_run), texts)}
            ),
            "job": st.fixed_dictionaries({"namespace": texts, "name": texts}),
            "producer": texts,
        },
        optional={
            "inputs": st.one_of(
                st.lists(dataset, max_size=5), st.just([{"namespace": "s", "name": "n"}] * 1001)
            ),
            "outputs": st.lists(dataset, max_size=3),
        },
    )

    @given(event=event)
    @settings(
        max_examples=EVENTS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=DERANDOMIZE,
    )
    def no_server_error(event) -> None:
        answer = client.post(
            "/api/v1/lineage", headers={"Authorization": f"Bearer {token}"}, json=event
        )
        _one_sentence_or_success(answer.status_code, answer.text)

    no_server_error()
