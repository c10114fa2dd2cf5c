"""A client generated from the service's own /openapi.json (datamodel-code-generator: typed
pydantic classes for every answer) reads two endpoints; the CLI's --output json has the same
shapes; access is logged one line per request without secrets."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from datetime import datetime

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

import lake
from lake.faces import schemas
from lake.faces.service import create_app
from tests.conftest import run_cli


@pytest.fixture
def served(tmp_path):
    connected = lake.connect(
        warehouse=str(tmp_path / "warehouse"),
        catalog=f"sqlite:///{tmp_path / 'c.db'}",
        cwd=tmp_path,
    )
    connected.write_table("web.clicks", pa.table({"user_id": [1, 2, 3], "page": ["a", "b", "c"]}))
    connected.materialize("clicks", sql="SELECT * FROM web.clicks", out=tmp_path / "clicks")
    connected.register_model("gbm", training_set="clicks", metrics={"auc": 0.9})
    token = connected.create_token(role="read").secret
    client = TestClient(create_app(connected), headers={"Authorization": f"Bearer {token}"})
    yield client, token
    connected.close()


def _generated_models(document: dict, folder):  # noqa: ANN202 - a module made at run time
    from datamodel_code_generator import DataModelType, Formatter, InputFileType, generate

    out = folder / "lake_client.py"
    generate(
        json.dumps(document),
        input_file_type=InputFileType.OpenAPI,
        output=out,
        output_model_type=DataModelType.PydanticV2BaseModel,
        formatters=[Formatter.BUILTIN],
    )
    spec = importlib.util.spec_from_file_location("lake_client", out)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lake_client"] = module
    spec.loader.exec_module(module)
    return module


def test_a_generated_client_reads_tables_and_models_as_typed_objects(served, tmp_path):
    client, _ = served
    generated = _generated_models(client.get("/openapi.json").json(), tmp_path)

    tables = generated.TablePage.model_validate(client.get("/api/v1/tables").json())
    [table] = tables.items
    assert (table.table, table.current_version, table.rows) == ("web.clicks", 0, 3)
    assert table.bytes > 0 and isinstance(table.created_at, datetime)
    assert tables.next_offset is None

    models = generated.ModelPage.model_validate(client.get("/api/v1/models").json())
    [model] = models.items
    assert (model.name, model.version, model.training_set) == ("gbm", 1, "clicks@1")
    assert isinstance(model.version, int) and model.metrics == {"auc": 0.9}

    missing = client.get("/api/v1/tables/web.nothing")
    assert missing.status_code == 404
    assert generated.Error.model_validate(missing.json()).error.startswith("Table web.nothing")


def test_openapi_lists_only_the_statuses_each_endpoint_can_answer(served):
    client, _ = served
    paths = client.get("/openapi.json").json()["paths"]
    assert sorted(paths["/health"]["get"]["responses"]) == ["200"]
    assert sorted(paths["/api/v1/tables"]["get"]["responses"]) == ["200", "401", "422", "503"]
    assert "403" not in paths["/api/v1/tables/{table}"]["get"]["responses"]
    assert "403" in paths["/api/v1/lineage"]["post"]["responses"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            ok = operation["responses"].get("200") or operation["responses"].get("201")
            content = ok["content"]
            assert content, f"{method} {path} answers nothing typed"
            if "application/json" in content:
                assert "$ref" in content["application/json"]["schema"], f"{method} {path}"


def test_the_cli_prints_the_shapes_the_api_answers(served, tmp_path, monkeypatch):
    client, _ = served
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("LAKE_CATALOG_URL", f"sqlite:///{tmp_path / 'c.db'}")
    from_cli = run_cli("tables", "--output", "json").json()
    assert [schemas.Table.model_validate(t) for t in from_cli]
    assert from_cli == client.get("/api/v1/tables").json()["items"]
    models = run_cli("model", "list", "--output", "json").json()
    assert [schemas.Model.model_validate(m).version for m in models] == [1]
    assert models == client.get("/api/v1/models").json()["items"]


def test_every_request_is_logged_on_one_line_without_its_token(served, caplog):
    client, token = served
    with caplog.at_level(logging.INFO, logger="lake.access"):
        client.get("/api/v1/tables?limit=5")
        client.get("/api/v1/tables", headers={"Authorization": "Bearer not-a-token"})
    lines = [r.getMessage() for r in caplog.records if r.name == "lake.access"]
    assert len(lines) == 2
    assert '"GET /api/v1/tables" 200' in lines[0] and "token=1" in lines[0]
    assert '"GET /api/v1/tables" 401' in lines[1] and "token=-" in lines[1]
    assert all(token not in line and "not-a-token" not in line for line in lines)
