"""Fuzz the HTTP service from its own OpenAPI document: whatever schemathesis sends, the
answer is never a 5xx, and its status and body are ones the document declares for that
endpoint (bounded examples per endpoint, so the run stays short)."""

from __future__ import annotations

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

EXAMPLES = 25


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
        )
        def no_server_error(case) -> None:
            case.call_and_validate(
                headers=headers,
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        try:
            no_server_error()
        except Unsatisfiable:
            assert mode == "negative"  # an endpoint without parameters has no invalid input
