"""The lineage pictures (pure): which boxes and arrows an audit and an impact become, where
they sit, and that names from the catalog cannot become markup."""

from __future__ import annotations

import re

from lake.faces.web.graph import audit_graph, impact_graph, layout, to_svg


def _run(run_id: str, job: str = "ingest_logs:web.events") -> dict:
    return {"run_id": run_id, "kind": "ingest", "job": job, "status": "completed"}


def _audit(contributions: list[dict]) -> dict:
    return {
        "model": {"name": "churn_gbm", "version": "2"},
        "training_set": {
            "name": "churn",
            "version": 1,
            "row_count": 10,
            "content_hash": "ab" * 32,
            "inputs": [
                {
                    "table": "web.events",
                    "version": len(contributions) - 1,
                    "rows_total": 99,
                    "operation": "INGEST LOGS",
                    "data_from": contributions,
                }
            ],
        },
    }


def _contribution(version: int, sources: list[dict] | None = None) -> dict:
    return {
        "version": version,
        "rows_added": 3,
        "run": _run(f"run-{version:04d}"),
        "sources": sources if sources is not None else [],
        "source_count": len(sources or []),
        "inputs": [],
    }


def test_an_audit_runs_left_to_right_model_set_table_run_source():
    source = {"kind": "file", "namespace": "file://", "name": "file:///logs/a.jsonl"}
    graph = audit_graph(_audit([_contribution(0, [source])]))
    placed, _, _ = layout(graph)
    x = {p.node.key: p.x for p in placed}
    chain = [
        "model:churn_gbm@2",
        "training_set:churn@1",
        "table:web.events@0",
        "run:run-0000",
        "source:file:///logs/a.jsonl",
    ]
    assert [x[k] for k in chain] == sorted(x[k] for k in chain)
    assert len({x[k] for k in chain}) == 5
    assert graph.edges == list(zip(chain, chain[1:], strict=False))
    assert graph.nodes["source:file:///logs/a.jsonl"].href == (
        "/impact?source=file%3A%2F%2F%2Flogs%2Fa.jsonl"
    )
    assert graph.nodes["model:churn_gbm@2"].href == "/models/churn_gbm/audit?version=2"


def test_a_long_history_draws_its_ends_and_a_box_that_counts_the_rest():
    graph = audit_graph(_audit([_contribution(v) for v in range(30)]))
    runs = [k for k in graph.nodes if k.startswith("run:")]
    assert runs == [f"run:run-{v:04d}" for v in (*range(6), *range(24, 30))]
    more = graph.nodes["more-versions:web.events@29"]
    assert more.label == "... 18 more versions"
    assert more.href == "/tables/web.events?version=29"


def test_many_sources_of_a_run_are_cut_to_five_and_a_count():
    sources = [{"kind": "file", "name": f"file:///logs/{i}.log"} for i in range(8)]
    graph = audit_graph(_audit([_contribution(0, sources)]))
    assert len([k for k in graph.nodes if k.startswith("source:")]) == 5
    assert graph.nodes["more-sources:run-0000"].label == "... 3 more sources"


def test_an_impact_links_the_origin_to_the_runs_that_read_it_and_on_to_the_model():
    impact = {
        "origin": {"namespace": "lake", "table": "web.events", "version": 3},
        "table_versions": [
            {"table": "web.events", "version": v, "why": "..."} for v in (3, 4, 5, 7)
        ],
        "training_sets": [{"name": "churn", "version": 2, "read": ["web.events@5"]}],
        "models": [{"name": "churn_gbm", "version": "1", "training_set": "churn@2"}],
        "runs": [
            {
                **_run("m1", "materialize:churn"),
                "read": [{"kind": "table_version", "name": "web.events", "version": 5}],
                "wrote": [{"kind": "training_set", "name": "churn", "version": 2}],
            }
        ],
    }
    graph = impact_graph(impact)
    assert graph.nodes["versions:web.events"].label == "web.events v4-5, 7"
    assert graph.edges == [
        ("table:web.events@3", "versions:web.events"),
        ("versions:web.events", "run:m1"),
        ("run:m1", "training_set:churn@2"),
        ("training_set:churn@2", "model:churn_gbm@1"),
    ]


def test_names_from_the_catalog_are_text_in_the_svg_never_markup():
    evil = {"kind": "file", "name": 'file:///x/"><script>alert(1)</script>.log'}
    svg = str(to_svg(audit_graph(_audit([_contribution(0, [evil])])), title="<b>t</b>"))
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    assert len(re.findall(r"<a href=", svg)) == 5
