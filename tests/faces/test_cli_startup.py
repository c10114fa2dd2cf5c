"""What the command line skips to start fast must not change what it does: the app holding
only the named command answers as the whole app, and a value taken as it is (without typer's
pydantic coercion) is the value typer would have made."""

from __future__ import annotations

import pytest
from typer.main import get_command, get_command_name
from typer.testing import CliRunner

from lake.faces import cli
from lake.faces.cli import NOT_PLAIN, app, app_for, plain_value

NAMES = sorted(
    [info.name or get_command_name(info.callback.__name__) for info in app.registered_commands]
    + [info.name for info in app.registered_groups]
)


@pytest.mark.parametrize("name", NAMES)
def test_the_app_of_one_command_answers_its_help_as_the_whole_app(name):
    runner = CliRunner()
    alone = runner.invoke(app_for([name, "-h"]), [name, "-h"])
    whole = runner.invoke(app, [name, "-h"])
    assert alone.exit_code == whole.exit_code == 0
    assert alone.output == whole.output


SUBCOMMANDS = sorted(
    [info.name, sub.name or get_command_name(sub.callback.__name__)]
    for info in app.registered_groups
    for sub in info.typer_instance.registered_commands
)


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_the_app_of_one_subcommand_answers_its_help_and_its_groups_as_the_whole_app(words):
    runner = CliRunner()
    for args in ([*words, "-h"], [words[0], "-h"], [words[0], "nosuch"]):
        alone = runner.invoke(app_for(args), args)
        whole = runner.invoke(app, args)
        assert alone.exit_code == whole.exit_code, args
        assert alone.output == whole.output, args


def test_a_subcommand_alone_is_built_without_its_groups_other_commands():
    alone = get_command(app_for(["--debug", "ingest", "logs", "web.access", "a.log"]))
    assert list(alone.commands) == ["ingest"]
    assert list(alone.commands["ingest"].commands) == ["logs"]


@pytest.mark.parametrize(
    "args",
    [["--help"], [], ["--version"], ["no-such-command"], ["--debug", "tablez"]],
    ids=" ".join,
)
def test_without_a_known_command_the_whole_app_answers(args):
    assert app_for(args) is app


def test_root_options_before_the_command_still_pick_it():
    alone = app_for(["--debug", "history", "web.access"])
    assert [c.callback for c in alone.registered_commands] == [cli.history]
    assert alone.registered_groups == []


def _params():
    group = get_command(app)
    for name, command in sorted(group.commands.items()):
        subcommands = getattr(command, "commands", None)
        for sub in [command] if subcommands is None else subcommands.values():
            for param in sub.params:
                yield f"{name} {sub.name} {param.name}", param


VALUES = [
    *(None, "json", "table", "web.access", "", "5", "-3", "x" * 3, "csv", "parquet", 0, 7),
    *(True, False, 1.5, ("a.log", "b.log"), ["x"], (), ("a", 1)),
]


@pytest.mark.parametrize(("where", "param"), list(_params()), ids=lambda v: str(v))
def test_a_value_taken_as_it_is_is_what_typer_would_make(where, param):
    context = get_command(app).make_context("lake", ["tables"], resilient_parsing=True)
    defaults = [param.default] if param.default is not None else []
    for value in [*VALUES, *defaults]:
        plain = plain_value(param, value)
        if plain is NOT_PLAIN:
            continue
        expected = param.get_runtime_param().coerce(value, param=param, ctx=context)
        assert plain == expected and type(plain) is type(expected), (where, value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "--limit", "many"], "Invalid value"),
        (["tables", "--output", "xml"], "Invalid value"),
        (["sql", "SELECT 1", "--threads", "0"], "Invalid value"),
        (["history"], "Missing argument"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_a_value_typer_refuses_is_still_refused_by_typer(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app_for(args), args)
    assert result.exit_code == 2
    assert message in result.output


HEAVY = ("pandas", "pydantic", "alembic")


def _python(args: list[str], cwd, env: dict[str, str]):
    """``python ARGS`` in a fresh process, with ``env`` over this one's environment."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=120,
    )


def _imported_by(args: list[str], cwd, env: dict[str, str], heavy=HEAVY) -> set[str]:
    """The heavy modules a whole ``lake`` command imported, run in a fresh process."""
    code = (
        "import sys\n"
        "from lake.faces.cli import main\n"
        f"sys.argv = ['lake', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        f"heavy = sorted(m for m in {heavy!r} if m in sys.modules)\n"
        "sys.stderr.write('IMPORTED=' + ','.join(heavy))\n"
    )
    done = _python(["-c", code], cwd, env)
    assert done.returncode == 0, done.stderr
    return set(filter(None, done.stderr.strip().rpartition("IMPORTED=")[2].split(",")))


def test_a_json_log_ingest_into_a_new_catalog_starts_without_pandas_pydantic_or_alembic(tmp_path):
    """pandas (imported by pyarrow to ask whether a Python value is a pandas object),
    pydantic (typer's coercion of options) and Alembic (a new catalog is made at head in
    one pass) each cost a writing command's start-up; a command that needs none of them
    must not import them, on a new catalog and on one already made."""
    logs = tmp_path / "app.jsonl"
    logs.write_text(
        "".join(
            f'{{"timestamp": "2026-10-0{1 + i % 3}T10:00:00Z", "status": {200 + i % 2}, '
            f'"latency": {i / 7}, "user": {{"id": {i}}}, "tags": ["a"]}}\n'
            for i in range(300)
        )
    )
    env = {
        "LAKE_WAREHOUSE": str(tmp_path / "warehouse"),
        "LAKE_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    args = ["ingest", "logs", "web.app", str(logs), "--reparse"]
    assert _imported_by(args, tmp_path, env) == set()  # new table, new catalog
    assert _imported_by(args, tmp_path, env) == set()  # replacing its rows


def test_a_text_log_ingest_with_a_preset_starts_without_pandas_or_pyarrow_dataset(tmp_path):
    """The access-log time is read by DuckDB (``strptime``): handed a pyarrow table, DuckDB
    imports ``pyarrow.dataset`` and with it pandas, 0.15 s of the command; the stream
    ``lake.core.duckdb.arrow_view`` hands it needs neither."""
    logs = tmp_path / "access.log"
    logs.write_text(
        "".join(
            f"10.0.0.{i % 9} - - [0{1 + i % 3}/Oct/2026:10:00:{i % 60:02d} +0000] "
            f'"GET /items/{i} HTTP/1.1" {200 + i % 2} {i * 10} "-" "curl/8.5.0"\n'
            for i in range(300)
        )
        + "not an access-log line\n"  # a record that fails: its error and flag are arrays too
    )
    env = {
        "LAKE_WAREHOUSE": str(tmp_path / "warehouse"),
        "LAKE_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    args = ["ingest", "logs", "web.access", str(logs), "--preset", "apache-combined"]
    heavy = ("pyarrow.dataset", *HEAVY)
    assert _imported_by(args, tmp_path, env, heavy) == set()  # new table, new catalog
    assert _imported_by([*args, "--reparse"], tmp_path, env, heavy) == set()  # replacing


def test_a_logfmt_ingest_starts_without_pandas(tmp_path):
    """The logfmt reader's Python strings and lists become Arrow values through
    ``lake.core.arrow_values``: handed to pyarrow as they are, they import pandas."""
    logs = tmp_path / "app.log"
    logs.write_text(
        "".join(
            f'ts=2026-10-0{1 + i % 3}T10:00:00Z level=info msg="req {i}" status={200 + i % 2}'
            + (" debug\n" if i % 7 == 0 else "\n")  # a bare key: the line-by-line reader
            for i in range(300)
        )
    )
    env = {
        "LAKE_WAREHOUSE": str(tmp_path / "warehouse"),
        "LAKE_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    assert _imported_by(["ingest", "logs", "app.kv", str(logs)], tmp_path, env) == set()


def test_a_materialize_that_finds_its_set_already_made_starts_without_sqlalchemy(tmp_path):
    """A cache hit only reads the catalog: plain SQL (``catalog.reader``), as read-only
    commands do; SQLAlchemy and its models cost a whole command about 0.2 s."""
    logs = tmp_path / "app.jsonl"
    logs.write_text("".join(f'{{"n": {i}, "kind": "k{i % 3}"}}\n' for i in range(50)))
    env = {
        "LAKE_WAREHOUSE": str(tmp_path / "warehouse"),
        "LAKE_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    sql = "SELECT kind, n FROM web.app ORDER BY n"
    materialize = ["materialize", "kinds", "--sql", sql, "--out", str(tmp_path / "set")]
    import lake

    # The set is made in this process: only the command that finds it is about start-up.
    with lake.connect(
        warehouse=env["LAKE_WAREHOUSE"], catalog=env["LAKE_CATALOG_URL"], cwd=tmp_path
    ) as lk:
        lk.ingest_logs("web.app", str(logs))
        lk.materialize("kinds", sql=sql, out=str(tmp_path / "set"))
    heavy = ("sqlalchemy", *HEAVY)
    assert _imported_by(materialize, tmp_path, env, heavy) == set()


ORM = ("sqlalchemy.orm", "catalog.models")


def test_the_writing_commands_start_without_the_orm_or_the_catalog_models(backend, cli, tmp_path):
    """Writes to the catalog are Core statements on ``catalog.definitions``' tables in Core
    transactions: importing ``sqlalchemy.orm`` and mapping the models cost a writing command
    0.15-0.2 s. Each command of a training set's life, on each backend pair."""
    logs = tmp_path / "app.jsonl"
    logs.write_text("".join(f'{{"n": {i}, "kind": "k{i % 3}"}}\n' for i in range(50)))
    grown = tmp_path / "more.jsonl"
    grown.write_text('{"n": 50, "kind": "k0", "extra": true}\n')
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "a.txt").write_text("one asset")
    sql = "SELECT kind, n FROM web.app ORDER BY n"
    commands = [
        ["ingest", "logs", "web.app", str(logs)],  # new catalog, new table
        ["ingest", "logs", "web.app", str(grown)],  # existing table, a new column (drift)
        ["ingest", "files", "raw.assets", str(assets)],
        ["materialize", "kinds", "--sql", sql, "--out", str(tmp_path / "set")],
        ["model", "register", "churn", "--training-set", "kinds", "--code-version", "v1"],
        ["tag", "web.app@0", "first"],
        ["vacuum", "web.app", "--apply", "--retain", "0d"],
    ]
    for args in commands:
        assert _imported_by(args, tmp_path, backend.env, ORM) == set(), args
    history = cli("history", "web.app", "--output", "json").json()
    assert [v["version"] for v in history] == [0, 1]


def test_a_plain_query_starts_without_sqlglot_and_a_time_travel_query_still_reads_it(tmp_path):
    """sqlglot's imports were 0.1-0.15 s of a new process's first query: a plain SELECT is
    read by ``queries.plain`` (the same statement, held by ``tests/queries/test_plain_parse.py``)
    in ``lake sql`` and through the Python API; what it cannot read still goes to sqlglot."""
    logs = tmp_path / "app.jsonl"
    logs.write_text(
        "".join(f'{{"ts": "2026-10-0{1 + i % 9}T10:00:00Z", "n": {i}}}\n' for i in range(90))
    )
    env = {
        "LAKE_WAREHOUSE": str(tmp_path / "warehouse"),
        "LAKE_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    ingest = ["ingest", "logs", "web.app", str(logs)]
    assert _imported_by(ingest, tmp_path, env, ("sqlglot",)) == set()
    plain = "SELECT count(*) AS n FROM web.app WHERE ts >= '2026-10-05' AND ts < '2026-10-08'"
    heavy = ("sqlglot", "sqlalchemy", *HEAVY)
    assert _imported_by(["sql", plain, "--output", "json"], tmp_path, env, heavy) == set()
    # Read-only mode (the HTTP service's queries) checks the functions a query calls: a
    # plain query calls none that is private, read without sqlglot too.
    read_only = ["sql", plain, "--read-only", "--output", "json"]
    assert _imported_by(read_only, tmp_path, env, heavy) == set()
    private = "SELECT current_setting('threads') AS t FROM web.app"
    refused = _python(["-m", "lake", "sql", private, "--read-only"], tmp_path, env)
    assert refused.returncode == 1 and "Read-only mode refused current_setting" in refused.stderr
    travel = "SELECT count(*) AS n FROM web.app VERSION AS OF 0 WHERE n < 10"
    assert _imported_by(["sql", travel], tmp_path, env, ("sqlglot",)) == {"sqlglot"}
    code = (
        "import sys, lake\n"
        f"rows = lake.connect().sql({plain!r}).table.to_pylist()\n"
        f"rows += lake.connect().sql({plain!r}, read_only=True).table.to_pylist()\n"
        "print(rows, 'sqlglot' in sys.modules)\n"
    )
    done = _python(["-c", code], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[{'n':", "30},", "{'n':", "30}]", "False"]


def test_a_command_starts_no_blas_threads_unless_the_environment_asks_for_them(tmp_path):
    """numpy (imported by pyarrow and DuckDB) loads OpenBLAS, whose worker threads spin
    about 0.1 CPU-s each at start for work the lake never gives them (``lake.core.blas``):
    a command runs OpenBLAS on one thread; a number the environment sets is kept."""
    import os
    import subprocess
    import sys

    logs = tmp_path / "app.jsonl"
    logs.write_text("".join(f'{{"n": {i}}}\n' for i in range(20)))
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
    }
    env["LAKE_WAREHOUSE"] = str(tmp_path / "warehouse")
    env["LAKE_CATALOG_URL"] = f"sqlite:///{tmp_path / 'catalog.db'}"
    code = (
        "import ctypes, sys\n"
        "from lake.faces.cli import main\n"
        "sys.argv = ['lake', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "import numpy\n"  # the lake's commands import it through pyarrow; this one may not
        "path = next(line.split()[-1] for line in open('/proc/self/maps')\n"
        "            if 'openblas' in line.rsplit('/', 1)[-1].lower())\n"
        "blas = ctypes.CDLL(path)\n"
        "count = next(getattr(blas, name) for name in ('scipy_openblas_get_num_threads64_',\n"
        "    'openblas_get_num_threads64_', 'openblas_get_num_threads') if hasattr(blas, name))\n"
        "sys.stderr.write(f'BLAS_THREADS={count()}')\n"
    )

    def blas_threads(*args: str, **more: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env={**env, **more},
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return int(done.stderr.rpartition("BLAS_THREADS=")[2])

    assert blas_threads("ingest", "logs", "web.app", str(logs)) == 1
    assert blas_threads("sql", "SELECT count(*) FROM web.app") == 1
    assert blas_threads("sql", "SELECT 1", OPENBLAS_NUM_THREADS="2") == 2


def test_a_text_log_ingest_with_a_time_format_starts_without_pandas(tmp_path):
    """The ``--time-format`` is tried by DuckDB first; a query with parameters makes DuckDB's
    Python client import pandas (0.15-0.25 s), so the format goes in as a literal
    (``lake.core.duckdb.execute_on_text``)."""
    logs = tmp_path / "app.log"
    logs.write_text("01/10/2026 10:00:00 INFO start\n02/10/2026 11:00:00 WARN it's slow\n")
    env = {
        "LAKE_WAREHOUSE": str(tmp_path / "warehouse"),
        "LAKE_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
    }
    pattern = r"^(?P<ts>\S+ \S+) (?P<level>[A-Z]+) (?P<msg>.*)"
    args = ["ingest", "logs", "app.t", str(logs), "--pattern", pattern, "--time-field", "ts"]
    assert _imported_by([*args, "--time-format", "%d/%m/%Y %H:%M:%S"], tmp_path, env) == set()
    refused = _python(["-m", "lake", *args, "--time-format", "%Q'x"], tmp_path, env)
    assert refused.returncode == 1 and "is not a valid strptime format" in refused.stderr


def test_a_read_only_querys_worker_checks_the_names_duckdb_reads_without_pandas(tmp_path):
    """Each read-only query's worker asks DuckDB for its reading of the query
    (``queries.session.check_private_names``): with the query bound as a parameter, DuckDB's
    Python client imported pandas in every worker, 0.15-0.25 s of each query of the HTTP
    service. The query goes in as a literal; the check still refuses what it refused."""
    code = (
        "import sys\n"
        "from lake.core import duckdb\n"
        "from queries import session\n"
        "from queries.exceptions import QueryRefused\n"
        "connection = duckdb.connect()\n"
        "session.check_private_names(connection, \"SELECT 'it''s \\\\' AS a\")\n"
        "try:\n"
        "    session.check_private_names(connection, \"SELECT current_setting('threads')\")\n"
        "    refused = False\n"
        "except QueryRefused:\n"
        "    refused = True\n"
        "print(refused, 'pandas' in sys.modules)\n"
    )
    done = _python(["-c", code], tmp_path, {})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]
