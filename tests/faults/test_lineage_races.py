"""OpenLineage events in: concurrent events of one run, forged edges on the lake's own runs,
and events too large or malformed to record, on both backend pairs.

Concurrency is real: threads of one process, each with its own catalog session, released at
once by a barrier; the catalog database (SQLite file or Postgres) decides who wins.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from catalog.exceptions import RunNotFound
from catalog.openlineage_in import MAX_DATASETS, LineageEventInvalid, LineageRunOwned
from lake.core.errors import LakeError


def _event(event_type: str, run_id: str, inputs: list[dict], outputs: list[dict] = ()):
    return {
        "eventType": event_type,
        "eventTime": datetime.now(UTC).isoformat(),
        "run": {"runId": run_id},
        "job": {"namespace": "airflow", "name": "daily.aggregate"},
        "producer": "https://github.com/apache/airflow",
        "inputs": inputs,
        "outputs": list(outputs),
    }


def _dataset(name: str) -> dict:
    return {"namespace": "s3://raw", "name": name}


@pytest.mark.timeout(300)
def test_concurrent_events_of_one_run_make_one_run_with_every_edge(lk):
    lk.write_table("web.clicks", pa.table({"n": [1]}))
    runs = [str(uuid.uuid4()) for _ in range(4)]
    kinds = ["START", "RUNNING", "COMPLETE"]
    # 4 runs x 30 events = 120, each naming one input of its own plus one shared by all
    # (START, RUNNING and COMPLETE repeat datasets), sent by 8 threads at once.
    events = [
        _event(
            kinds[i % 3],
            run,
            [
                _dataset(f"{r}-in-{i}"),
                _dataset("shared.csv"),
                {"namespace": "lake", "name": "web.clicks"},
            ],
            [_dataset(f"{r}-out")],
        )
        for i in range(30)
        for r, run in enumerate(runs)
    ]
    failures: list[BaseException] = []
    barrier = threading.Barrier(8)

    def send(chunk: list[dict]) -> None:
        barrier.wait()
        for event in chunk:
            try:
                lk.record_lineage(event)
            except BaseException as error:  # noqa: BLE001 - collected and asserted below
                failures.append(error)

    threads = [threading.Thread(target=send, args=(events[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for r, run in enumerate(runs):
        lineage = lk.run_lineage(run)
        assert lineage["status"] == "completed"
        names = sorted(d["name"] for d in lineage["inputs"])
        assert names == sorted([f"{r}-in-{i}" for i in range(30)] + ["shared.csv", "web.clicks"])
        assert [d["name"] for d in lineage["outputs"]] == [f"{r}-out"]


@pytest.mark.timeout(120)
def test_events_in_any_order_give_the_same_run(lk):
    run = str(uuid.uuid4())
    for kind in ("COMPLETE", "START", "RUNNING", "START"):
        lk.record_lineage(_event(kind, run, [_dataset(kind.lower())]))
    lineage = lk.run_lineage(run)
    assert lineage["status"] == "completed"
    assert sorted(d["name"] for d in lineage["inputs"]) == ["complete", "running", "start"]


@pytest.mark.timeout(120)
def test_a_run_the_lake_made_accepts_no_edges_from_outside(lk, tmp_path):
    version = lk.write_table("web.clicks", pa.table({"n": [1, 2]}))
    before = lk.run_lineage(version.run_id)
    forged = _event("COMPLETE", version.run_id, [_dataset("poisoned.csv")], [_dataset("x")])
    with pytest.raises(LineageRunOwned, match=r"the lake's own .* accept no OpenLineage events"):
        lk.record_lineage(forged)
    assert lk.run_lineage(version.run_id) == before
    # `lake impact --source poisoned.csv` must not report the real table.
    try:
        impact = lk.impact(source="poisoned.csv").to_json()
    except LakeError:
        return  # no such source at all
    assert "web.clicks" not in str(impact)


@pytest.mark.timeout(120)
def test_an_event_too_large_or_malformed_is_refused_in_one_sentence(lk):
    lk.write_table("web.clicks", pa.table({"n": [1]}))
    run = str(uuid.uuid4())
    bad = {
        "too many inputs": _event(
            "START", run, [_dataset(f"f{i}") for i in range(MAX_DATASETS + 1)]
        ),
        "a 9 KB name": _event("START", run, [_dataset("x" * 9000)]),
        "300 four-byte characters": _event("START", run, [_dataset("🎉" * 300)]),
        "a lone surrogate": _event("START", run, [_dataset("a\ud800b")]),
        "a NUL in the job name": {
            **_event("START", run, []),
            "job": {"namespace": "airflow", "name": "a\x00b"},
        },
        "year 9999 with an offset": {
            **_event("START", run, []),
            "eventTime": "9999-12-31T23:00:00-05:00",
        },
        "year 1 with an offset": {
            **_event("START", run, []),
            "eventTime": "0001-01-01T00:00:00+05:00",
        },
        "a superscript version": _event(
            "START",
            run,
            [
                {
                    "namespace": "lake",
                    "name": "web.clicks",
                    "facets": {"version": {"datasetVersion": "²"}},
                }
            ],
        ),
        "a 30-digit version": _event(
            "START",
            run,
            [
                {
                    "namespace": "lake",
                    "name": "web.clicks",
                    "facets": {"version": {"datasetVersion": "9" * 30}},
                }
            ],
        ),
    }
    for what, event in bad.items():
        with pytest.raises(LineageEventInvalid) as caught:
            lk.record_lineage(event)
        message = str(caught.value)
        assert message.endswith(".") and "\n" not in message, (what, message)
    with pytest.raises(RunNotFound):
        lk.run_lineage(run)
    # At the limit, a namespace and a name of 1,000 bytes each fit the catalog's index.
    big = {"namespace": "n" * 996 + "🎉", "name": "🎉" * 250}
    assert lk.record_lineage(_event("START", run, [big])).run_id == run
    assert [d["name"] for d in lk.run_lineage(run)["inputs"]] == ["🎉" * 250]
