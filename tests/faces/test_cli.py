"""The command line: set-up, inspection on an empty and a populated lake, errors, help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import run_cli

LAKE = str(Path(sys.executable).with_name("lake"))


def test_init_then_tables_prints_an_empty_json_list(cli, backend, tmp_path):
    result = cli("init")
    assert result.exit_code == 0, result.stderr
    assert "Lake ready" in result.stdout
    assert (tmp_path / "lake.toml").is_file()
    tables = cli("tables", "--output", "json")
    assert tables.exit_code == 0, tables.stderr
    assert tables.json() == []


def test_init_in_a_new_folder_uses_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("init").exit_code == 0
    assert (tmp_path / ".lake" / "warehouse").is_dir()
    assert (tmp_path / ".lake" / "catalog.db").is_file()
    assert 'warehouse = "./.lake/warehouse"' in (tmp_path / "lake.toml").read_text()
    listed = run_cli("tables", "--output", "json")
    assert listed.json() == []


def test_init_records_flags_in_lake_toml_for_later_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("init", "--warehouse", "data/wh", "--catalog", "sqlite:///data/cat.db")
    assert result.exit_code == 0, result.stderr
    shown = run_cli("config", "--output", "json").json()
    assert shown["warehouse"] == {
        "value": str(tmp_path / "data" / "wh"),
        "from": f"lake.toml ({tmp_path / 'lake.toml'})",
    }
    assert (tmp_path / "data" / "cat.db").is_file()


def test_config_masks_secrets_and_names_origins(cli, backend):
    result = cli("config", "--output", "json")
    shown = result.json()
    assert shown["warehouse"]["from"] == "environment LAKE_WAREHOUSE"
    for secret in backend.secrets:
        assert secret not in result.stdout
    if backend.s3:
        assert shown["s3.secret_access_key"]["value"] == "****"


def test_tables_describe_and_history_on_a_populated_lake(cli, lk):
    lk.write_table("ml.labels", pa.table({"id": [1, 2], "label": ["a", "b"]}))
    lk.write_table("ml.labels", pa.table({"id": [3], "label": ["c"]}))

    tables = cli("tables", "--output", "json").json()
    assert [(t["table"], t["kind"], t["current_version"]) for t in tables] == [
        ("ml.labels", "arrow", 1)
    ]

    described = cli("describe", "ml.labels@0", "--output", "json").json()
    assert described["version"]["version"] == 0
    assert described["version"]["rows_total"] == 2
    assert [c["name"] for c in described["columns"]] == ["id", "label"]
    assert described["run"]["status"] == "completed"

    history = cli("history", "ml.labels", "--output", "json").json()
    assert [(v["version"], v["rows_added"], v["rows_total"]) for v in history] == [
        (0, 2, 2),
        (1, 1, 3),
    ]

    shown = cli("describe", "ml.labels")
    assert shown.exit_code == 0
    assert "label" in shown.stdout and "ml.labels" in shown.stdout


def test_describe_by_time_picks_the_version_current_at_that_moment(cli, lk):
    first = lk.write_table("ml.labels", pa.table({"id": [1]}))
    lk.write_table("ml.labels", pa.table({"id": [2]}))
    moment = first.committed_at.isoformat().replace("+00:00", "Z")
    described = cli("describe", f"ml.labels@{moment}", "--output", "json").json()
    assert described["version"]["version"] == 0
    before = cli("describe", "ml.labels@2001-01-01T00:00:00Z")
    assert before.exit_code == 1
    assert "had no version at 2001-01-01T00:00:00+00:00" in before.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["describe", "web.missing"],
            "error: Table web.missing does not exist. The lake has no tables yet.\n",
        ),
        (["history", "not a name"], "error: Table name 'not a name' is not allowed"),
        (["describe", "a.b.c"], "error: Table name 'a.b.c' is not of the form namespace.table"),
        (
            ["describe", "web.logs@yesterday"],
            "error: 'yesterday' in 'web.logs@yesterday' is neither a version number",
        ),
    ],
)
def test_a_user_mistake_is_one_line_and_exit_code_1(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_an_unreachable_catalog_is_one_line_naming_it(tmp_path):
    env = {
        **os.environ,
        "LAKE_CATALOG_URL": "postgresql+psycopg2://lake:pw-x@127.0.0.1:1/lake",
        "LAKE_WAREHOUSE": str(tmp_path),
    }
    result = subprocess.run(
        [LAKE, "tables"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: The catalog database at postgresql+psycopg2://lake:***@127.0.0.1:1/lake "
        "is unreachable"
    )
    assert "pw-x" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path):
    env = {
        **os.environ,
        "LAKE_WAREHOUSE": str(tmp_path / "wh"),
        "LAKE_CATALOG_URL": f"sqlite:///{tmp_path / 'c.db'}",
    }
    result = subprocess.run(
        [LAKE, "--debug", "describe", "x.y"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "TableNotFound" in result.stderr


def test_help_starts_without_loading_the_heavy_libraries():
    probe = (
        "import sys; from lake.faces.cli import app; from typer.testing import CliRunner;"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
        "print(json.dumps(sorted(m for m in "
        "('duckdb','deltalake','pyarrow','sqlalchemy','sqlglot') if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json;" + probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
