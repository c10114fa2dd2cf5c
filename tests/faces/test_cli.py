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
DATA_APACHE = Path(__file__).resolve().parents[1] / "data" / "elastic-logs" / "apache_logs"


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
        "LAKE_CATALOG_RETRY_WAIT": "0.01",  # the same tries, without 1.5 s of waits
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


# -- finding the lake, as git finds its repository -------------------------------------------

NO_LAKE = "error: no lake here: run `lake init`"


@pytest.mark.parametrize(
    "args",
    [
        ["tables"],
        ["config"],
        ["history", "web.access"],
        ["sql", "SELECT 1"],
        ["ingest", "logs", "web.access", "access.log"],
        ["token", "create", "--role", "read"],
    ],
    ids=" ".join,
)
def test_outside_any_lake_a_command_fails_and_creates_nothing(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "access.log").write_text(
        '127.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    )
    result = run_cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith(NO_LAKE)
    assert str(tmp_path) in result.stderr and result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["access.log"]


def test_a_command_in_a_subfolder_uses_the_lake_above_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("init").exit_code == 0
    logs = tmp_path / "logs" / "today"
    logs.mkdir(parents=True)
    (logs / "access.log").write_text(
        '127.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 12 "-" "curl"\n'
    )
    monkeypatch.chdir(logs)
    ingested = run_cli("ingest", "logs", "web.access", "access.log", "--preset", "apache-combined")
    assert ingested.exit_code == 0, ingested.stderr
    shown = run_cli("config", "--output", "json").json()
    assert shown["catalog_url"]["value"] == f"sqlite:///{tmp_path / '.lake' / 'catalog.db'}"
    assert shown["catalog_url"]["from"] == f"lake.toml ({tmp_path / 'lake.toml'})"
    monkeypatch.chdir(tmp_path)
    assert [t["table"] for t in run_cli("tables", "--output", "json").json()] == ["web.access"]
    assert not (logs / ".lake").exists() and not (tmp_path / "logs" / ".lake").exists()


def test_init_in_a_subfolder_of_a_lake_makes_a_lake_there(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("init").exit_code == 0
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    assert run_cli("init").exit_code == 0
    shown = run_cli("config", "--output", "json").json()
    assert shown["warehouse"]["value"] == str(tmp_path / "other" / ".lake" / "warehouse")


def test_the_environment_names_a_lake_without_lake_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAKE_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("LAKE_CATALOG_URL", f"sqlite:///{tmp_path / 'c.db'}")
    result = run_cli("tables", "--output", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == []


def test_the_python_api_refuses_to_invent_a_lake_too(tmp_path, monkeypatch):
    import lake
    from lake.core.errors import NoLakeHere

    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoLakeHere, match=r"^no lake here: run `lake init`"):
        lake.connect()
    assert list(tmp_path.iterdir()) == []
    with lake.connect(create=True) as lk:
        lk.init()
    assert (tmp_path / ".lake" / "catalog.db").is_file()


# -- behaving like the tools people know ------------------------------------------------------


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"lake {version('lake')}\n"


def test_help_shows_flags_as_flags_and_arguments_by_name():
    from typer.testing import CliRunner

    from lake.faces.cli import app

    shown = CliRunner().invoke(app, ["tag", "--help"], env={"COLUMNS": "120"}).stdout
    assert "Usage: lake tag [OPTIONS] REF [NAME]" in shown
    assert "<bool>" not in shown and "<str>" not in shown
    assert "--delete             TEXT" in shown
    assert "[table|json]" in shown
    root = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"}).stdout
    assert "--install-completion" in root and "--version" in root


def test_shell_completion_completes_commands(tmp_path):
    env = {
        **os.environ,
        "_LAKE_COMPLETE": "complete_bash",
        "COMP_WORDS": "lake ta",
        "COMP_CWORD": "1",
    }
    result = subprocess.run([LAKE], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "tables" in result.stdout.split() and "tag" in result.stdout.split()


def test_counts_are_written_in_the_singular_for_one(cli, backend, tmp_path):
    (tmp_path / "one.log").write_text(
        '127.0.0.1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 12 "-" "curl"\n'
    )
    result = cli("ingest", "logs", "web.access", "one.log", "--preset", "apache-combined")
    assert result.exit_code == 0, result.stderr
    assert "1 record read, 1 parsed, 0 failed (kept with _error), 0 files skipped" in result.stdout
    again = cli("ingest", "logs", "web.access", "one.log", "--preset", "apache-combined")
    assert "0 records read" in again.stdout and "1 file skipped" in again.stdout


def test_tables_in_a_pipe_keep_each_row_on_one_line_with_short_values(cli, lk, monkeypatch):
    # A width the user sets is kept; GNU readline, once any test loads it, exports COLUMNS=80.
    monkeypatch.delenv("COLUMNS", raising=False)
    lk.write_table("ml.labels", pa.table({"id": [1, 2]}))
    history = cli("history", "ml.labels", "--output", "json").json()
    run_id, committed_at = history[0]["run_id"], history[0]["committed_at"]
    assert len(run_id) == 36 and "." in committed_at  # JSON keeps the whole values

    shown = cli("history", "ml.labels").stdout  # CliRunner's output is a pipe, not a terminal
    header, row = (line for line in shown.splitlines() if "│" in line or "┃" in line)
    assert "committed_at" in header and "run_id" in header
    assert f"│ {run_id[:8]} │" in row and run_id not in row
    assert f"{committed_at[:19]}Z" in row
    listed = cli("tables").stdout
    assert len([line for line in listed.splitlines() if "ml.labels" in line]) == 1
    if not lk.config.is_s3:  # a local location is shown relative to here (the test's tmp_path)
        assert "warehouse/ml/labels" in listed and "file://" not in listed


def test_a_run_is_found_by_the_first_characters_of_its_id(cli, lk):
    written = lk.write_table("ml.labels", pa.table({"id": [1]}))
    shown = cli("runs", "--id", written.run_id[:8], "--output", "json")
    assert shown.exit_code == 0, shown.stderr
    assert shown.json()["run_id"] == written.run_id
    too_short = cli("runs", "--id", written.run_id[:3])
    assert too_short.exit_code == 1 and "is not in the catalog" in too_short.stderr


def test_sql_explain_counts_the_files_read_and_skipped(cli, lk, backend, tmp_path):
    from tests.conftest import DATA

    lines = (DATA / "elastic-logs" / "apache_logs").read_text().splitlines(keepends=True)
    (tmp_path / "access.log").write_text("".join(lines[:3000]))
    lk.ingest_logs("web.access", str(tmp_path / "access.log"), preset="apache-combined")
    files = lk.describe("web.access").to_json()["files"]
    query = (
        "SELECT count(*) AS n FROM web.access "
        "WHERE _event_time >= '2015-05-18' AND _event_time < '2015-05-19'"
    )
    document = cli("sql", query, "--output", "json").json()
    [scan] = document["scans"]
    assert scan["table"] == "web.access" and scan["version"] == 0
    assert scan["files_total"] == files > 1
    assert scan["files_read"] == 1 and scan["skipped_by_partition"] == files - 1
    assert scan["skipped_by_statistics"] == 0
    assert 0 < scan["bytes_read"] < scan["bytes_total"]

    explained = cli("sql", query, "--explain")
    assert explained.exit_code == 0, explained.stderr
    row = next(line for line in explained.stderr.splitlines() if "web.access@0" in line)
    assert f"1 of {files}" in row and f"│ {files - 1:>20} │" in row
    assert "skipped by partition" in explained.stderr
    assert "web.access@0" not in explained.stdout.split("Read")[0]  # results stay on stdout


def test_an_ingest_tells_its_progress_the_bytes_it_will_read(lk, tmp_path):
    log = tmp_path / "access.log"
    log.write_text((DATA_APACHE.read_text().splitlines(keepends=True)[0]) * 200)

    class Recorder:
        def __init__(self) -> None:
            self.expected, self.calls = None, []

        def expect(self, files: int, size: int) -> None:
            self.expected = (files, size)

        def __call__(self, files: int, records: int, size: int) -> None:
            self.calls.append((files, records, size))

    recorder = Recorder()
    lk.ingest_logs("web.access", str(log), preset="apache-combined", progress=recorder)
    assert recorder.expected == (1, log.stat().st_size)
    assert recorder.calls[-1] == (1, 200, log.stat().st_size)


def test_sql_prints_values_with_brackets_as_they_are(cli, lk, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # GNU readline exports COLUMNS=80
    # An Apache error log line: rich read `[error]` as markup and printed the line without it.
    line = "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6"
    lk.write_table("web.errors", pa.table({"line": [line], "tags": [["[a]", "b"]]}))
    shown = cli("sql", "SELECT line, tags FROM web.errors")
    assert shown.exit_code == 0, shown.stderr
    assert line in shown.stdout and '["[a]","b"]' in shown.stdout


def test_sql_table_tells_null_from_the_empty_string(cli, lk, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # GNU readline exports COLUMNS=80
    # Both were printed blank: a user could not tell a missing value from an empty one.
    lk.write_table("web.names", pa.table({"id": [1, 2], "name": [None, ""]}))
    shown = cli("sql", "SELECT id, name FROM web.names ORDER BY id")
    assert shown.exit_code == 0, shown.stderr
    cells = [
        [cell.strip() for cell in line.strip("│┃").split("│")]
        for line in shown.stdout.splitlines()
        if line.startswith("│")
    ]
    assert cells == [["1", "NULL"], ["2", ""]]


def test_sql_in_a_pipe_keeps_a_long_value_on_one_line(cli, lk, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # GNU readline exports COLUMNS=80
    long = "GET /" + "a" * 300 + " HTTP/1.1"
    lk.write_table("web.requests", pa.table({"request": [long]}))
    shown = cli("sql", "SELECT request FROM web.requests")
    assert shown.exit_code == 0, shown.stderr
    assert long in shown.stdout
