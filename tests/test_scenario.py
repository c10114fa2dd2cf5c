"""The whole story on both backend pairs: land logs and an extract, materialize a training set
joining them, register a model, keep ingesting, vacuum with zero retention, then audit the
model, find it from its input version, and rebuild its training set bit for bit."""

from __future__ import annotations

import datetime
import json

import pytest

from lake.core.errors import VersionVacuumed
from tests.conftest import DATA
from tests.ingest.db.fixtures import unique

APACHE = DATA / "elastic-logs" / "apache_logs"


def _sql(lk, query: str):
    # the SQL layer itself (lk.sql is its face; this file does not depend on the face's wiring)
    from queries.sql import run_query

    return run_query(lk.catalog, lk.storage, query)


def _night(n: int) -> datetime.datetime:
    return datetime.datetime(2026, 1, n, 2, 0)


class _Crm:
    """A customers table in a source database, extracted in full every night."""

    def __init__(self, source) -> None:  # noqa: ANN001 - tests.ingest.db.fixtures.SourceDb
        self.source = source
        self.table = unique("customers")
        source.run(
            f"CREATE TABLE {self.table} "
            "(client_ip varchar(64) PRIMARY KEY, plan text, updated_at timestamp)"
        )

    def set(self, plans: dict[str, str], *, night: int) -> None:
        self.source.run(
            f"DELETE FROM {self.table}",
            *[(f"INSERT INTO {self.table} VALUES (:ip, :plan, :t)",
               {"ip": ip, "plan": plan, "t": _night(night)})
              for ip, plan in plans.items()],
        )  # fmt: skip

    def extract(self, lk):  # noqa: ANN001, ANN201
        return lk.ingest_db(
            "crm.customers",
            source=self.source.url,
            table_name=self.table,
            cursor="updated_at",
            key="client_ip",
        )


def _crm_database(backend, request) -> _Crm:  # noqa: ANN001
    return _Crm(
        request.getfixturevalue("sqlite_source" if backend.name == "local-sqlite" else "pg_source")
    )


def test_a_model_stays_auditable_and_its_training_set_rebuildable_after_zero_retention_vacuum(
    lk, backend, request, tmp_path
):
    lines = APACHE.read_text().splitlines(keepends=True)
    first_logs = tmp_path / "access-1.log"
    first_logs.write_text("".join(lines[:400]))
    ips = sorted({line.split(" ", 1)[0] for line in lines[:400]})[:40]

    logs_v0 = lk.ingest_logs("web.access", str(first_logs), preset="apache-combined")
    # The CRM's customers table, extracted from a real database: a SQLite file next to a local
    # lake, the test PostgreSQL next to the S3 one.
    crm = _crm_database(backend, request)
    crm.set({ip: ("pro" if i % 3 == 0 else "free") for i, ip in enumerate(ips)}, night=1)
    customers_v0 = crm.extract(lk)
    sql = (
        "SELECT a.client_ip, c.plan, count(*) AS requests, sum(a.bytes) AS bytes\n"
        "FROM web.access a JOIN crm.customers c USING (client_ip)\n"
        "GROUP BY ALL"
    )
    training = lk.materialize("plan_features", sql=sql, out=tmp_path / "features")
    model = lk.register_model(
        "plan_model",
        training_set="plan_features",
        uri="file:///models/plan/1",
        metrics={"auc": 0.77},
    )

    more_logs = tmp_path / "access-2.log"
    more_logs.write_text("".join(lines[400:900]))
    lk.ingest_logs("web.access", str(more_logs), preset="apache-combined")
    crm.set({ip: "team" for ip in ips}, night=2)
    crm.extract(lk)
    crm.set({ip: "free" for ip in ips[:5]}, night=3)
    crm.extract(lk)

    reports = {r.table: r for r in lk.vacuum(retain="0d", apply=True)}

    assert [k.version for k in reports["crm.customers"].kept] == [
        0,
        2,
    ]  # the model's version, the latest
    assert len(reports["crm.customers"].files) == 1  # version 1's file: pinned by nobody
    with pytest.raises(VersionVacuumed):
        _sql(lk, "SELECT * FROM crm.customers VERSION AS OF 1")

    audit = lk.audit("plan_model").to_json()
    assert audit["model"]["name"] == "plan_model" and audit["model"]["version"] == model.version
    assert audit["training_set"]["content_hash"] == training.content_hash
    assert audit["training_set"]["sql"] == sql
    read = {(i["table"], i["version"]) for i in audit["training_set"]["inputs"]}
    assert (
        read
        == {(i["table"], i["version"]) for i in training.inputs}
        == {
            ("web.access", logs_v0.version),
            ("crm.customers", customers_v0.version),
        }
    )
    by_table = {i["table"]: i for i in audit["training_set"]["inputs"]}
    log_sources = [s for c in by_table["web.access"]["data_from"] for s in c["sources"]]
    assert [s["name"] for s in log_sources] == [first_logs.resolve().as_uri()]
    assert log_sources[0]["version"] == log_sources[0]["facets"]["sha256"]
    extract = by_table["crm.customers"]["data_from"][0]["sources"][0]
    assert (extract["kind"], extract["name"]) == ("database", crm.table)
    assert extract["namespace"].startswith(crm.source.dialect) and "password" not in json.dumps(
        extract
    )
    assert (
        extract["version"] == f"updated_at up to {_night(1).isoformat()}"
    )  # the watermark range read
    assert extract["facets"]["watermark_to"] == _night(1).isoformat() and extract["facets"][
        "rows"
    ] == len(ips)

    impact = lk.impact(f"crm.customers@{customers_v0.version}").to_json()
    assert [(m["name"], m["version"]) for m in impact["models"]] == [("plan_model", model.version)]
    assert [t["name"] for t in impact["training_sets"]] == ["plan_features"]

    rebuilt = lk.materialize(
        from_=str(tmp_path / "features" / ".lake" / "manifest.json"), out=tmp_path / "rebuilt"
    )
    assert rebuilt.content_hash == training.content_hash
    assert rebuilt.files_identical is True
    assert (
        json.loads((tmp_path / "rebuilt" / ".lake" / "manifest.json").read_text())["rebuild"][
            "files_identical"
        ]
        is True
    )
