"""Models, audit and impact: the rule for which versions hold a batch's data (pure), and
the chain model -> training set -> table versions -> runs -> sources on both backend pairs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from catalog.exceptions import ModelExists, ModelNotFound, SourceNotFound, TrainingSetNotFound
from catalog.lineage import VersionFacts, carries_data, data_in, holders, source_spellings
from lake.core.errors import InvalidName
from tests.conftest import DATA

APACHE = DATA / "elastic-logs" / "apache_logs"


# -- the rule, on made-up histories -----------------------------------------------------------


def _history(*steps: tuple[str, set[str]]):
    """(operation, files of the version) per version -> (facts, files_of)."""
    files = [frozenset(f) for _, f in steps]
    facts = []
    for v, (operation, current) in enumerate(steps):
        before = files[v - 1] if v else frozenset()
        facts.append(VersionFacts(v, operation, len(current - before), len(before - current)))
    return facts, (lambda version: files[version] if version >= 0 else frozenset())


def _no_delta(version: int) -> frozenset[str]:
    raise AssertionError("an append-only history must be answered without the Delta log")


def test_in_an_append_only_table_every_later_version_holds_a_batch_and_the_log_is_not_read():
    facts = [VersionFacts(v, "APPEND", 1, 0) for v in range(6)]
    assert holders(3, facts, _no_delta) == [3, 4, 5]
    assert data_in(4, facts, _no_delta) == [0, 1, 2, 3, 4]


def test_a_version_that_added_no_files_contributes_no_data():
    facts = [
        VersionFacts(0, "APPEND", 1, 0),
        VersionFacts(1, "VACUUM END", 0, 0),
        VersionFacts(2, "APPEND", 1, 0),
    ]
    assert data_in(2, facts, _no_delta) == [0, 2]


def test_compaction_carries_a_batch_into_the_files_it_writes():
    facts, files_of = _history(
        ("APPEND", {"a"}),
        ("APPEND", {"a", "b"}),  # the bad batch
        ("OPTIMIZE", {"ab"}),
        ("APPEND", {"ab", "c"}),
    )
    assert holders(1, facts, files_of) == [1, 2, 3]
    assert data_in(3, facts, files_of) == [0, 1, 2, 3]


def test_an_overwrite_ends_a_batch():
    facts, files_of = _history(
        ("APPEND", {"a"}),
        ("APPEND", {"a", "b"}),
        ("OVERWRITE", {"x"}),
        ("APPEND", {"x", "y"}),
    )
    assert holders(1, facts, files_of) == [1]
    assert data_in(3, facts, files_of) == [2, 3]


def test_a_delete_that_rewrites_the_batch_file_is_assumed_to_keep_some_of_its_rows():
    facts, files_of = _history(
        ("APPEND", {"a"}),
        ("APPEND", {"a", "b"}),
        ("DELETE", {"a", "b2"}),  # b rewritten without some rows: which ones is not known
        ("APPEND", {"a", "b2", "c"}),
    )
    assert holders(1, facts, files_of) == [1, 2, 3]


def test_a_delete_of_other_files_does_not_extend_a_batch():
    facts, files_of = _history(
        ("APPEND", {"a"}),
        ("APPEND", {"a", "b"}),
        ("DELETE", {"b"}),  # removes a only
        ("APPEND", {"b", "c"}),
    )
    assert holders(0, facts, files_of) == [0, 1]
    assert holders(1, facts, files_of) == [1, 2, 3]


def test_a_restore_brings_a_batch_back():
    facts, files_of = _history(
        ("APPEND", {"a"}),
        ("APPEND", {"a", "b"}),
        ("OVERWRITE", {"x"}),
        ("RESTORE", {"a", "b"}),
    )
    assert holders(1, facts, files_of) == [1, 3]


def test_only_operations_that_replace_the_table_end_its_data():
    assert not carries_data("OVERWRITE")
    assert not carries_data("CREATE OR REPLACE TABLE")
    assert carries_data("OPTIMIZE") and carries_data("MERGE") and carries_data("DELETE")


# -- models --------------------------------------------------------------------------------------


def _labels(start: int, n: int) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array(range(start, start + n), pa.int64()),
            "label": [i % 2 for i in range(n)],
        }
    )


def test_models_are_versioned_per_name_and_never_overwritten(lk, tmp_path):
    lk.write_table("ml.labels", _labels(0, 10))
    lk.materialize("labels", sql="SELECT * FROM ml.labels", out=tmp_path / "v1")
    lk.write_table("ml.labels", _labels(10, 5))
    lk.materialize("labels", sql="SELECT * FROM ml.labels", out=tmp_path / "v2")

    first = lk.register_model("scorer", training_set="labels@1", metrics={"auc": 0.71})
    second = lk.register_model("scorer", training_set="labels", uri="s3://models/scorer/2")
    named = lk.register_model("scorer", training_set="labels@2", version=7)

    assert (first.version, second.version, named.version) == (1, 2, 7)
    with pytest.raises(InvalidName, match=r"Model version '2026-11-release' is not a whole number"):
        lk.register_model("scorer", training_set="labels@2", version="2026-11-release")
    assert (first.training_set, second.training_set) == ("labels@1", "labels@2")
    assert first.metrics == {"auc": 0.71}
    with pytest.raises(ModelExists, match="scorer@2 is already registered"):
        lk.register_model("scorer", training_set="labels@1", version=2)
    with pytest.raises(TrainingSetNotFound, match="has no version 7; its latest is 2"):
        lk.register_model("scorer", training_set="labels@7")
    with pytest.raises(ModelNotFound, match="registered versions: 1, 2, 7"):
        lk.audit("scorer@9")
    assert [m.version for m in lk.models("scorer")] == [1, 2, 7]
    run = lk.run(first.run_id)
    assert (run.kind, run.job, run.status) == ("train", "train:scorer", "completed")


def test_a_training_script_can_register_its_model_under_its_own_run(lk, tmp_path):
    lk.write_table("ml.labels", _labels(0, 4))
    lk.materialize("labels", sql="SELECT * FROM ml.labels", out=tmp_path / "ts")
    run_id = lk.catalog.start_run(kind="train", job="train:my_job", parameters={"lr": 0.1})

    model = lk.register_model("scorer", training_set="labels", run_id=run_id)

    assert model.run_id == run_id
    assert lk.run(run_id).status == "running"  # the script finishes its own run
    assert lk.audit("scorer").to_json()["model"]["run"]["job"] == "train:my_job"


# -- audit -------------------------------------------------------------------------------------


def test_audit_walks_from_the_model_to_every_source_file_and_extract(lk, tmp_path):
    lines = APACHE.read_text().splitlines(keepends=True)
    (tmp_path / "a.log").write_text("".join(lines[:30]))
    (tmp_path / "b.log").write_text("".join(lines[30:50]))
    first = lk.ingest_logs("web.access", str(tmp_path / "a.log"), preset="apache-combined")
    second = lk.ingest_logs("web.access", str(tmp_path / "b.log"), preset="apache-combined")
    lk.write_table(
        "shop.users",
        pa.table({"client_ip": ["83.149.9.216"], "plan": ["pro"]}),
        source="crm export 2026-11-20",
    )
    sql = (
        "SELECT a.client_ip, a.status, u.plan "
        "FROM web.access a LEFT JOIN shop.users u USING (client_ip)"
    )
    ts = lk.materialize("visits", sql=sql, out=tmp_path / "visits")
    lk.register_model(
        "visit_model", training_set="visits", uri="file:///models/1", metrics={"f1": 0.5}
    )
    lk.ingest_logs("web.access", str(APACHE), preset="apache-combined")  # a later version, not read

    audit = lk.audit("visit_model").to_json()

    assert audit["model"]["name"] == "visit_model" and audit["model"]["metrics"] == {"f1": 0.5}
    training_set = audit["training_set"]
    assert (training_set["name"], training_set["version"], training_set["sql"]) == (
        "visits",
        1,
        sql,
    )
    assert training_set["content_hash"] == ts.content_hash
    assert training_set["run"]["kind"] == "materialize"
    inputs = {i["table"]: i for i in training_set["inputs"]}
    assert {t: i["version"] for t, i in inputs.items()} == {"web.access": 1, "shop.users": 0}
    access = inputs["web.access"]
    assert [c["version"] for c in access["data_from"]] == [0, 1]  # version 1 holds both batches
    assert [c["run"]["run_id"] for c in access["data_from"]] == [first.run_id, second.run_id]
    sources = [s for c in access["data_from"] for s in c["sources"]]
    assert [s["name"] for s in sources] == [
        (tmp_path / "a.log").resolve().as_uri(),
        (tmp_path / "b.log").resolve().as_uri(),
    ]
    assert all(s["kind"] == "file" and len(s["version"]) == 64 for s in sources)
    assert sources[0]["facets"]["records"] == 30
    users = inputs["shop.users"]["data_from"][0]
    assert users["sources"][0]["name"] == "crm export 2026-11-20"


def test_audit_and_impact_print_trees_and_json(lk, cli, tmp_path):
    lk.write_table("ml.labels", _labels(0, 4), source="labelling tool")
    lk.materialize("labels", sql="SELECT * FROM ml.labels", out=tmp_path / "ts")
    lk.register_model("scorer", training_set="labels")

    tree = cli("audit", "scorer")
    assert tree.exit_code == 0, tree.stderr
    assert "model scorer@1" in tree.stdout and "training set labels@1" in tree.stdout
    assert "ml.labels@0" in tree.stdout and "labelling tool" in tree.stdout
    as_json = cli("audit", "scorer@1", "--output", "json")
    assert as_json.json()["training_set"]["inputs"][0]["table"] == "ml.labels"
    impact = cli("impact", "ml.labels@0", "--output", "json").json()
    assert [m["name"] for m in impact["models"]] == ["scorer"]
    assert "scorer@1" in cli("impact", "ml.labels@0").stdout
    registered = cli(
        "model",
        "register",
        "scorer",
        "--training-set",
        "labels@1",
        "--metrics",
        '{"auc": 0.8}',
        "--output",
        "json",
    )
    assert registered.json()["version"] == 2
    bad = cli("model", "register", "scorer", "--training-set", "labels", "--metrics", "{auc}")
    assert bad.exit_code == 1 and "--metrics is not valid JSON" in bad.stderr
    listed = cli("model", "list", "--output", "json").json()
    assert [m["version"] for m in listed] == [1, 2]


# -- impact ------------------------------------------------------------------------------------


def test_impact_of_a_bad_batch_reaches_consumers_of_later_versions_until_an_overwrite(lk, tmp_path):
    for start in (0, 10, 20):  # versions 0, 1 (the bad batch), 2
        lk.write_table("ml.events", _labels(start, 10))
    lk.materialize("before", sql="SELECT * FROM ml.events VERSION AS OF 0", out=tmp_path / "before")
    lk.materialize(
        "at_bad", sql="SELECT * FROM ml.events AT (VERSION => 1)", out=tmp_path / "at_bad"
    )
    lk.materialize("after", sql="SELECT * FROM ml.events", out=tmp_path / "after")  # version 2
    lk.register_model("m_after", training_set="after")
    lk.optimize("ml.events")  # version 3: the bad batch's rows move into a compacted file
    lk.materialize(
        "compacted", sql="SELECT count(*) AS n FROM ml.events", out=tmp_path / "compacted"
    )
    lk.write_table(
        "ml.events", _labels(100, 3), mode="overwrite"
    )  # version 4: the bad rows are gone
    lk.materialize("fresh", sql="SELECT * FROM ml.events", out=tmp_path / "fresh")

    impact = lk.impact("ml.events@1").to_json()

    assert [(v["version"], v["why"]) for v in impact["table_versions"]] == [
        (1, "the version asked about"),
        (2, "still holds data of version 1"),
        (3, "still holds data of version 1"),
    ]
    assert [(t["name"], t["read"]) for t in impact["training_sets"]] == [
        ("after", ["ml.events@2"]),
        ("at_bad", ["ml.events@1"]),
        ("compacted", ["ml.events@3"]),
    ]
    assert [m["name"] for m in impact["models"]] == ["m_after"]
    assert {r["kind"] for r in impact["runs"]} == {"materialize", "train"}
    assert [t["name"] for t in lk.impact("ml.events@4").to_json()["training_sets"]] == ["fresh"]


def test_impact_of_a_source_file_follows_it_into_the_table_and_on(lk, tmp_path):
    lines = APACHE.read_text().splitlines(keepends=True)
    (tmp_path / "bad.log").write_text("".join(lines[:20]))
    (tmp_path / "good.log").write_text("".join(lines[20:40]))
    lk.ingest_logs("web.access", str(tmp_path / "good.log"), preset="apache-combined")
    lk.ingest_logs("web.access", str(tmp_path / "bad.log"), preset="apache-combined")
    lk.materialize(
        "visits", sql="SELECT client_ip, status FROM web.access", out=tmp_path / "visits"
    )
    lk.register_model("visit_model", training_set="visits")

    impact = lk.impact(source=(tmp_path / "bad.log").resolve().as_uri()).to_json()

    assert impact["origin"]["versions"][0]["kind"] == "file"
    assert [(v["table"], v["version"]) for v in impact["table_versions"]] == [("web.access", 1)]
    assert [t["name"] for t in impact["training_sets"]] == ["visits"]
    assert [m["name"] for m in impact["models"]] == ["visit_model"]
    with pytest.raises(SourceNotFound, match="its impact is unknown, not empty"):
        lk.impact(source="file:///never/ingested.log")


def test_the_spellings_of_a_typed_source_are_its_recorded_uri(tmp_path):
    cwd = str(tmp_path)
    uri = (tmp_path / "logs" / "app one.log").as_uri()  # percent-encoded, as ingest records it
    for typed in (
        "logs/app one.log",
        "./logs/../logs/app one.log",
        f"{tmp_path}/logs/app one.log",
        uri,
        f"file:{tmp_path}/logs/app%20one.log",
        f"file://localhost{tmp_path}/logs/app%20one.log",
    ):
        assert uri in source_spellings(typed, cwd=cwd), typed
    assert source_spellings("s3://bucket/logs/", cwd=cwd) == [
        "s3://bucket/logs/",
        "s3://bucket/logs",
    ]
    assert source_spellings("Customer", cwd=cwd)[0] == "Customer"  # a database table's name


def test_impact_of_a_source_takes_the_forms_users_type_and_refuses_what_matches_nothing(
    lk, cli, tmp_path
):
    lines = APACHE.read_text().splitlines(keepends=True)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text("".join(lines[:20]))
    lk.ingest_logs("web.access", str(tmp_path / "logs" / "app.log"), preset="apache-combined")
    lk.materialize("visits", sql="SELECT client_ip FROM web.access", out=tmp_path / "visits")
    lk.register_model("visit_model", training_set="visits")
    uri = (tmp_path / "logs" / "app.log").resolve().as_uri()

    for typed in ("logs/app.log", str(tmp_path / "logs" / "app.log"), uri, "logs", "logs/"):
        impact = lk.impact(source=typed).to_json()  # the tests run in tmp_path
        assert impact["origin"]["matched"] == [uri], typed
        assert [m["name"] for m in impact["models"]] == ["visit_model"], typed

    typo = cli("impact", "--source", "logs/ap.log")
    assert typo.exit_code == 1 and typo.stdout == ""
    assert "No source the lake recorded matches 'logs/ap.log'" in typo.stderr
    assert "the nearest known sources are" in typo.stderr and "app.log" in typo.stderr
    tree = cli("impact", "--source", "logs/app.log")
    assert tree.exit_code == 0, tree.stderr
    assert "visit_model@1" in tree.stdout and "recorded as" in tree.stdout  # the URI, wrapped


def test_the_impact_tree_shows_runs_reported_through_openlineage(lk, cli, tmp_path):
    from datetime import UTC, datetime

    lk.write_table("ml.events", _labels(0, 4))
    run_id = "0191d7a0-0000-7000-8000-00000000beef"
    for state in ("START", "COMPLETE"):
        lk.record_lineage(
            {
                "eventType": state,
                "eventTime": datetime.now(UTC).isoformat(),
                "producer": "https://example.com/scorer",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "run": {"runId": run_id},
                "job": {"namespace": "batch", "name": "nightly_scoring"},
                "inputs": [{"namespace": "lake", "name": "ml.events"}],
                "outputs": [{"namespace": "s3://reports", "name": "scores.csv"}],
            }
        )

    tree = cli("impact", "ml.events@0")

    assert tree.exit_code == 0, tree.stderr
    assert "runs that read affected data (1)" in tree.stdout
    assert "nightly_scoring" in tree.stdout and "reported through OpenLineage" in tree.stdout
    assert "wrote scores.csv" in tree.stdout


def test_a_model_records_the_commit_of_its_training_code_and_the_audit_shows_it(
    lk, cli, tmp_path, monkeypatch
):
    import subprocess

    lk.write_table("ml.labels", _labels(0, 4))
    lk.materialize("labels", sql="SELECT * FROM ml.labels", out=tmp_path / "ts")
    code = tmp_path / "training-code"
    code.mkdir()
    (code / "train.py").write_text("print('training')\n")
    git = ["git", "-C", str(code), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "train"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(code)

    clean = lk.register_model("m", training_set="labels")
    (code / "train.py").write_text("print('changed')\n")
    dirty = lk.register_model("m", training_set="labels")
    said = cli("model", "register", "m", "--training-set", "labels", "--code-version", "v1.4.2")
    monkeypatch.chdir(tmp_path)  # not a git checkout
    unknown = lk.register_model("m", training_set="labels")

    assert said.exit_code == 0, said.stderr
    assert (clean.code_version, dirty.code_version) == (f"git:{commit}", f"git:{commit}+dirty")
    assert unknown.code_version == "unknown"
    assert lk.audit("m@1").to_json()["model"]["code_version"] == f"git:{commit}"
    assert lk.audit("m@3").to_json()["model"]["code_version"] == "v1.4.2"
    assert f"code git:{commit}" in cli("audit", "m@1").stdout
    assert "code version not recorded" in cli("audit", "m@4").stdout


def test_audit_and_impact_trees_show_brackets_in_paths_and_sql_as_they_are(lk, cli, tmp_path):
    # rich reads `[...]` as markup: a folder `[2024]` or SQL `tags[1]` lost its brackets.
    logs = tmp_path / "logs[2024]"
    logs.mkdir()
    (logs / "app.log").write_text("".join(APACHE.read_text().splitlines(keepends=True)[:5]))
    lk.ingest_logs("web.access", str(logs / "app.log"), preset="apache-combined")
    sql = "SELECT client_ip, [status][1] AS first_status FROM web.access"
    lk.materialize("visits", sql=sql, out=tmp_path / "visits")
    lk.register_model("visit_model", training_set="visits", code_version="[dirty] abc123")

    audit = cli("audit", "visit_model")
    assert audit.exit_code == 0, audit.stderr
    assert "[status][1]" in audit.stdout and "logs[2024]" in audit.stdout
    assert "code [dirty] abc123" in audit.stdout
    impact = cli("impact", "--source", "logs[2024]/app.log")
    assert impact.exit_code == 0, impact.stderr
    assert "logs[2024]" in impact.stdout and "visit_model@1" in impact.stdout


def test_a_reparse_that_rewrites_a_compacted_file_keeps_the_other_sources_in_its_lineage(
    lk, tmp_path
):
    lines = APACHE.read_text().splitlines(keepends=True)
    (tmp_path / "good.log").write_text("".join(lines[:20]))
    (tmp_path / "bad.log").write_text("".join(lines[20:40]))
    good = lk.ingest_logs("web.access", str(tmp_path / "good.log"), preset="apache-combined")
    lk.ingest_logs("web.access", str(tmp_path / "bad.log"), preset="apache-combined")
    lk.optimize("web.access")  # one file holds both sources' rows
    lk.ingest_logs(
        "web.access", str(tmp_path / "bad.log"), preset="apache-combined", reparse=True
    )  # rewrites that file: good.log's rows stay in the file it writes
    assert lk.sql("SELECT count(*) AS n FROM web.access").rows() == [{"n": 40}]
    lk.materialize("visits", sql="SELECT client_ip, status FROM web.access", out=tmp_path / "v")
    lk.register_model("visit_model", training_set="visits")

    impact = lk.impact(source=(tmp_path / "good.log").resolve().as_uri()).to_json()
    audit = lk.audit("visit_model").to_json()

    assert [m["name"] for m in impact["models"]] == ["visit_model"]
    assert [(v["table"], v["version"]) for v in impact["table_versions"]] == [
        ("web.access", v) for v in range(4)
    ]
    (access,) = audit["training_set"]["inputs"]
    assert good.run_id in [c["run"]["run_id"] for c in access["data_from"]]
    sources = {s["name"] for c in access["data_from"] for s in c["sources"]}
    assert (tmp_path / "good.log").resolve().as_uri() in sources


def test_a_rewrite_of_some_rows_carries_the_rest_and_only_a_whole_table_replace_ends_them():
    assert carries_data("INGEST LOGS (REPLACE LINES)")  # an overwrite with a predicate
    assert carries_data("WRITE")  # Delta's replaceWhere, deltalake's predicate overwrite
    assert not carries_data("REPLACE TABLE AS SELECT")
    assert not carries_data("EXTRACT OVERWRITE") and not carries_data("TRUNCATE")


def test_another_engines_write_ends_the_data_only_in_mode_overwrite_without_a_predicate():
    assert carries_data("WRITE", {"mode": "Append"})
    assert not carries_data("WRITE", {"mode": "Overwrite"})  # deltalake
    assert not carries_data("WRITE", {"mode": "Overwrite", "partitionBy": "[]"})  # Spark
    # replaceWhere keeps the rewritten files' other rows: conservatively, it carries.
    assert carries_data("WRITE", {"mode": "Overwrite", "predicate": "x > 1"})
    assert carries_data("WRITE", {"mode": "Overwrite", "predicate": '["(x > 1)"]'})
    assert carries_data("WRITE", None)  # the log entry is gone: not known, so it carries
    # The lake's own names are decided by the name alone, whatever the log's parameters say.
    assert carries_data("INGEST LOGS (REPLACE LINES)", {"mode": "Overwrite"})


def test_a_write_is_judged_by_its_parameters_and_only_a_writes_are_read():
    facts, files_of = _history(
        ("WRITE", {"a"}),
        ("WRITE", {"a", "b"}),
        ("WRITE", {"x"}),  # mode Overwrite: ends a and b
        ("OPTIMIZE", {"xy"}),
        ("WRITE", {"xy", "z"}),
    )
    asked: list[int] = []

    def parameters_of(version: int) -> dict[str, str]:
        asked.append(version)
        return {"mode": "Overwrite" if version == 2 else "Append"}

    assert holders(1, facts, files_of, parameters_of) == [1]
    assert data_in(4, facts, files_of, parameters_of) == [2, 3, 4]
    assert set(asked) == {2}  # never an OPTIMIZE's, nor a version that removed nothing
    assert holders(1, facts, files_of) == [1, 2, 3, 4]  # not known: carries


def _spark_overwrite(uri: str, options: dict[str, str], rows: pa.Table) -> None:
    """Version 1 as Spark commits ``df.write.mode("overwrite")``: operation WRITE with
    ``{"mode": "Overwrite", "partitionBy": "[]"}``, a remove of every file and an add."""
    import io
    import json
    import time

    import pyarrow.parquet as pq

    from tests.delta import external

    buffer = io.BytesIO()
    pq.write_table(rows, buffer)
    body = buffer.getvalue()
    name = "part-00000-spark-overwrite.c000.snappy.parquet"
    external.write_file(uri, options, name, body)
    now = int(time.time() * 1000)
    removes = [
        {"remove": {"path": a["add"]["path"], "deletionTimestamp": now, "dataChange": True}}
        for a in external.read_log_entry(uri, options, 0)
        if "add" in a
    ]
    info = {
        "timestamp": now,
        "operation": "WRITE",
        "operationParameters": {"mode": "Overwrite", "partitionBy": "[]"},
        "engineInfo": "Apache-Spark/3.5.1 Delta-Lake/3.2.0",
    }
    add = {
        "path": name,
        "partitionValues": {},
        "size": len(body),
        "modificationTime": now,
        "dataChange": True,
        "stats": json.dumps({"numRecords": rows.num_rows}),
    }
    external.write_log_entry(uri, options, 1, [{"commitInfo": info}, *removes, {"add": add}])


def test_another_engines_overwrite_ends_the_data_of_the_versions_before_it(backend, lk, tmp_path):
    """Another engine writes a table from a.csv (version 0), then overwrites it from b.csv
    (version 1); a model is trained on version 1. Spark and deltalake name an overwrite
    WRITE (``operationParameters`` ``{"mode": "Overwrite"}``), which the rule took for a
    rewrite that keeps rows: impact of a.csv reached the model and its audit listed a.csv,
    though no row of it is in version 1. A replaceWhere (an overwrite with a predicate)
    keeps the rewritten files' other rows, so a.csv still counts (the conservative answer).
    One lake holds the three engines' tables, each with sources and a model of its own."""
    import uuid

    from deltalake import write_deltalake

    options = lk.storage.delta_options()
    for number, how in enumerate(("deltalake", "spark", "replace_where")):
        table, model, first, second = f"spark.{how}", f"m_{how}", f"a_{how}.csv", f"b_{how}.csv"
        if backend.s3 is not None:
            uri = f"s3://{backend.s3.bucket}/spark-{uuid.uuid4().hex[:8]}/{how}"
        else:
            uri = str(tmp_path / "spark" / how)
        write_deltalake(uri, _labels(0, 4), storage_options=options)
        if how == "deltalake":
            write_deltalake(uri, _labels(10, 3), mode="overwrite", storage_options=options)
        elif how == "spark":
            _spark_overwrite(uri, options, _labels(10, 3))
        else:
            write_deltalake(
                uri,
                _labels(2, 2),
                mode="overwrite",
                predicate="user_id >= 2",
                storage_options=options,
            )
        lk.register_table(table, uri)
        for n, (version, source) in enumerate([("0", first), ("1", second)]):
            facet = {"version": {"_producer": "x", "_schemaURL": "y", "datasetVersion": version}}
            _reported(
                lk,
                f"0191d7a0-0000-7000-8000-00000000a{number}0{n}",
                f"load_{source}",
                [{"namespace": "s3://raw", "name": source}],
                [{"namespace": "lake", "name": table, "facets": facet}],
            )
        lk.materialize(f"s_{how}", sql=f"SELECT user_id FROM {table}", out=tmp_path / "sets" / how)
        lk.register_model(model, training_set=f"s_{how}")

        kept = how == "replace_where"
        impact = lk.impact(source=first).to_json()
        assert [m["name"] for m in impact["models"]] == ([model] if kept else []), how
        assert [(v["table"], v["version"]) for v in impact["table_versions"]] == (
            [(table, 0), (table, 1)] if kept else [(table, 0)]
        ), how
        assert [m["name"] for m in lk.impact(f"{table}@0").to_json()["models"]] == (
            [model] if kept else []
        ), how
        assert [m["name"] for m in lk.impact(source=second).to_json()["models"]] == [model], how
        (read,) = lk.audit(model).to_json()["training_set"]["inputs"]
        assert (read["table"], read["version"]) == (table, 1), how
        assert [c["version"] for c in read["data_from"]] == ([0, 1] if kept else [1]), how
        sources = sorted(s["name"] for c in read["data_from"] for s in c["sources"])
        assert sources == ([first, second] if kept else [second]), how


def _reported(lk, run_id: str, job: str, inputs: list[dict], outputs: list[dict]) -> None:
    from datetime import UTC, datetime

    for state in ("START", "COMPLETE"):
        lk.record_lineage(
            {
                "eventType": state,
                "eventTime": datetime.now(UTC).isoformat(),
                "producer": "https://example.com/spark",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                "run": {"runId": run_id},
                "job": {"namespace": "spark", "name": job},
                "inputs": inputs,
                "outputs": outputs,
            }
        )


def test_audit_names_the_run_openlineage_reported_as_writing_a_version_as_impact_does(
    backend, lk, tmp_path
):
    """Another engine writes a Delta table the lake registered and reports its run through
    OpenLineage (read s3://raw/batch-17.csv, wrote spark.t version 0). Impact of that file
    reached the model trained on spark.t@0, but the model's audit said of spark.t@0 "no run
    recorded" and listed no source: the audit read only the run that committed a version
    (none, for another engine's commit), not the runs that reported writing it."""
    import uuid

    from deltalake import write_deltalake

    options = lk.storage.delta_options()
    if backend.s3 is not None:
        uri = f"s3://{backend.s3.bucket}/spark-{uuid.uuid4().hex[:8]}/t"
    else:
        uri = str(tmp_path / "spark" / "t")
    write_deltalake(uri, _labels(0, 3), storage_options=options)
    lk.register_table("spark.t", uri)
    run_id = "0191d7a0-0000-7000-8000-00000000cafe"
    version_facet = {"version": {"_producer": "x", "_schemaURL": "y", "datasetVersion": "0"}}
    _reported(
        lk,
        run_id,
        "load_t",
        [{"namespace": "s3://raw", "name": "batch-17.csv"}],
        [{"namespace": "lake", "name": "spark.t", "facets": version_facet}],
    )
    lk.materialize("s", sql="SELECT user_id FROM spark.t", out=tmp_path / "s")
    lk.register_model("m", training_set="s")

    impact = lk.impact(source="batch-17.csv").to_json()
    assert [m["name"] for m in impact["models"]] == ["m"]
    audit = lk.audit("m").to_json()
    (table,) = audit["training_set"]["inputs"]
    assert (table["table"], table["version"]) == ("spark.t", 0)
    assert [(c["version"], (c["run"] or {}).get("run_id")) for c in table["data_from"]] == [
        (0, run_id)
    ]
    (source,) = table["data_from"][0]["sources"]
    assert source["name"] == "batch-17.csv"


def _committed_elsewhere(backend, lk, tmp_path, name: str, table: pa.Table) -> None:
    """``name`` as another engine makes it: a Delta table written outside the lake, then
    registered (its version 0 has no lake run, so an outside run may report writing it)."""
    import uuid

    from deltalake import write_deltalake

    if backend.s3 is not None:
        uri = f"s3://{backend.s3.bucket}/elsewhere-{uuid.uuid4().hex[:8]}/{name}"
    else:
        uri = str(tmp_path / "elsewhere" / name)
    write_deltalake(uri, table, storage_options=lk.storage.delta_options())
    lk.register_table(name, uri)


def test_impact_reaches_a_model_however_many_runs_lie_between_and_audit_says_where_it_stops(
    backend, lk, cli, tmp_path
):
    """A bad file loaded by one reported run into dag.t0, then 34 reported steps each
    reading dag.tN and writing dag.tN+1, a training set on dag.t34 and a model. Impact of
    the file walked at most 32 hops and answered "no model", with no error; the audit of
    the model walked 9 levels up and listed no source beyond them, as if there were none."""
    steps = 34
    version_facet = {"version": {"_producer": "x", "_schemaURL": "y", "datasetVersion": "0"}}
    for i in range(steps + 1):  # each written by the reported step, not by the lake
        _committed_elsewhere(backend, lk, tmp_path, f"dag.t{i}", pa.table({"id": [i]}))
    _reported(
        lk,
        "0191d7a0-0000-7000-8000-000000000100",
        "load_raw",
        [{"namespace": "s3://raw", "name": "bad.csv"}],
        [{"namespace": "lake", "name": "dag.t0", "facets": version_facet}],
    )
    for i in range(steps):
        _reported(
            lk,
            f"0191d7a0-0000-7000-8000-0000000000{i:02d}",
            f"step{i}",
            [{"namespace": "lake", "name": f"dag.t{i}", "facets": version_facet}],
            [{"namespace": "lake", "name": f"dag.t{i + 1}", "facets": version_facet}],
        )
    lk.materialize("s", sql=f"SELECT id FROM dag.t{steps}", out=tmp_path / "s")
    lk.register_model("m", training_set="s")

    impact = lk.impact(source="bad.csv").to_json()
    assert [m["name"] for m in impact["models"]] == ["m"]
    assert {t["table"] for t in impact["table_versions"]} == {f"dag.t{i}" for i in range(35)}

    audit = lk.audit("m").to_json()
    walked, cut = [], []

    def walk(node: dict) -> None:
        for contribution in node["data_from"]:
            walked.append((contribution["run"] or {}).get("job"))
            if contribution.get("inputs_truncated"):
                cut.append(node["table"])
            for upstream in contribution["inputs"]:
                walk(upstream)

    for table in audit["training_set"]["inputs"]:
        walk(table)
    # every level is listed up to the bad file, or the audit says where it stopped
    assert "load_raw" in walked or (cut and audit["inputs_complete"] is False)
    if "load_raw" not in walked:
        tree = cli("audit", "m")
        assert tree.exit_code == 0 and "upstream is not listed" in tree.stdout


def test_impact_names_every_folder_a_training_set_was_written_to_copies_and_rebuilds_too(
    lk, tmp_path
):
    """The same SQL over the same versions into a second folder is a copy of the registered
    version, and `--from` rebuilds one into any folder: both runs read the bad version and
    wrote the set's files, but impact said they wrote nothing and named the first folder
    only, so an auditor purging a bad batch's sets never heard of the other two."""
    lk.write_table("ml.labels", _labels(0, 4))
    sql = "SELECT user_id, label FROM ml.labels"
    lk.materialize("s", sql=sql, out=tmp_path / "first")
    copied = lk.materialize("s", sql=sql, out=tmp_path / "copy")
    rebuilt = lk.materialize(from_="s@1", out=tmp_path / "rebuilt")
    assert (copied.status, rebuilt.status) == ("copied", "rebuilt")

    impact = lk.impact("ml.labels@0").to_json()

    written = sorted(
        (w["name"], w["version"], w.get("location"))
        for run in impact["runs"]
        for w in run["wrote"]
        if w["kind"] == "training_set"
    )
    assert written == sorted(
        ("s", 1, str(tmp_path / folder)) for folder in ("first", "copy", "rebuilt")
    )


def test_a_run_reported_reading_a_training_set_is_downstream_of_its_inputs(lk, tmp_path):
    """The lake names a training set in OpenLineage as namespace lake.training_sets, name
    and version (and a model as lake.models): a training job outside the lake that reports
    reading set s@1 and writing a model to its own registry was recorded as reading an
    external source named "s", so impact of the bad batch in s@1 never reached that job."""
    lk.write_table("ml.labels", _labels(0, 4))
    lk.materialize("s", sql="SELECT user_id, label FROM ml.labels", out=tmp_path / "s")
    lk.register_model("m", training_set="s")
    facet = {"version": {"_producer": "x", "_schemaURL": "y", "datasetVersion": "1"}}
    _reported(
        lk,
        "0191d7a0-0000-7000-8000-0000000000aa",
        "train_outside",
        [{"namespace": "lake.training_sets", "name": "s", "facets": facet}],
        [{"namespace": "mlflow://registry", "name": "models/churn"}],
    )
    _reported(
        lk,
        "0191d7a0-0000-7000-8000-0000000000bb",
        "deploy",
        [{"namespace": "lake.models", "name": "m", "facets": facet}],
        [{"namespace": "k8s://prod", "name": "churn-service"}],
    )

    impact = lk.impact("ml.labels@0").to_json()

    jobs = {run["job"]: run for run in impact["runs"]}
    assert {"train_outside", "deploy"} <= set(jobs)
    assert jobs["train_outside"]["read"] == [{"kind": "training_set", "name": "s", "version": 1}]
    assert [w["name"] for w in jobs["deploy"]["wrote"]] == ["churn-service"]
