"""A catalog transaction whose COMMIT the server made but whose answer was lost.

The catalog tries a transaction again when its connection drops (catalog.database's
with_retries); when the drop came after the server committed, the second try must find the
first one's work done rather than do it twice. A loopback proxy in front of the real
PostgreSQL server cuts the connection right after a chosen COMMIT (tests/faults/pg_faults.py).
"""

from __future__ import annotations

import json

import pytest

from tests.faults.conftest import S3_POSTGRES, ledger_and_outputs, run_lake
from tests.faults.pg_faults import LostCommitProxy

TABLE = "doubt.catalog"


def _ingest_losing_the_commit_of(backend, statement: bytes, tmp_path) -> None:
    """``lake ingest logs`` of three lines through a proxy that cuts the PostgreSQL
    connection right after the COMMIT of the first transaction holding ``statement``; the
    command must still succeed."""
    log = tmp_path / "a.jsonl"
    log.write_text(
        "".join(json.dumps({"ts": "2026-11-20T10:00:00Z", "k": k}) + "\n" for k in range(3))
    )
    with LostCommitProxy(backend.pg.host, backend.pg.port, statement) as pg:
        url = backend.catalog_url.replace(f":{backend.pg.port}/", f":{pg.port}/")
        # The cut connection's one retry, after 0.01 s rather than the default 0.5 s.
        done = run_lake(
            backend,
            "ingest",
            "logs",
            TABLE,
            str(log),
            LAKE_CATALOG_URL=url,
            LAKE_CATALOG_RETRY_WAIT="0.01",
        )
        assert pg.fired
    assert done.returncode == 0, done.stderr


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_prepare_whose_commit_answer_was_lost_claims_its_ranges_once(s3_only, lk, tmp_path):
    backend = s3_only
    _ingest_losing_the_commit_of(backend, b"INSERT INTO ingested_files", tmp_path)
    ranges, outputs, running = ledger_and_outputs(backend)
    assert (ranges, outputs, running) == ([("committed", 0, 3)], 1, 0)
    history = lk.history(TABLE)
    assert [(v.version, v.rows_added, v.rows_total) for v in history] == [(0, 3, 3)]


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_write_whose_first_transaction_answer_was_lost_goes_on(s3_only, lk, tmp_path):
    """The writer's first transaction (its table and run) committed, its answer lost: tried
    again, it finds its run started instead of failing as a conflict with another writer."""
    backend = s3_only
    _ingest_losing_the_commit_of(backend, b"INSERT INTO runs", tmp_path)
    history = lk.history(TABLE)
    assert [(v.version, v.rows_added, v.rows_total) for v in history] == [(0, 3, 3)]
    assert lk.run(history[0].run_id).status == "completed"
    ranges, outputs, running = ledger_and_outputs(backend)
    assert (ranges, outputs, running) == ([("committed", 0, 3)], 1, 0)


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_a_recorded_version_whose_commit_answer_was_lost_completes_its_run_once(
    s3_only, lk, tmp_path, monkeypatch
):
    """The transaction recording the version committed, its answer lost: tried again, it
    meets the version it recorded itself, and still reports the run it completed (its
    OpenLineage COMPLETE is sent), where it reported none."""
    from tests.catalog.test_openlineage_out import Collector

    backend = s3_only
    collector = Collector()
    try:
        monkeypatch.setitem(backend.env, "LAKE_OPENLINEAGE_URL", collector.url)
        _ingest_losing_the_commit_of(backend, b"INSERT INTO table_versions", tmp_path)
    finally:
        collector.server.shutdown()
    history = lk.history(TABLE)
    assert [(v.version, v.rows_added, v.rows_total) for v in history] == [(0, 3, 3)]
    run_id = history[0].run_id
    assert lk.run(run_id).status == "completed"
    states = [e["eventType"] for e in collector.by_run().get(run_id, [])]
    assert states == ["START", "COMPLETE"], states
    ranges, outputs, running = ledger_and_outputs(backend)
    assert (ranges, outputs, running) == ([("committed", 0, 3)], 1, 0)


def _catalog_through(backend, pg):
    from catalog.catalog import Catalog

    url = backend.catalog_url.replace(f":{backend.pg.port}/", f":{pg.port}/")
    return Catalog(url, retry_wait=0.01)  # the cut connection's retry, without 0.5 s of wait


def _edges_of(backend, run_id: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(backend.catalog_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM lineage_edges WHERE run_id = :r"), {"r": run_id}
            ).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.timeout(120)
@S3_POSTGRES
def test_inputs_added_whose_commit_answer_was_lost_are_recorded_once(s3_only):
    from catalog.catalog import Catalog
    from catalog.edges import SourceRef

    backend = s3_only
    Catalog(backend.catalog_url).close()  # the schema, made before the proxy watches
    with LostCommitProxy(backend.pg.host, backend.pg.port, b"INSERT INTO lineage_edges") as pg:
        catalog = _catalog_through(backend, pg)
        try:
            run_id = catalog.start_run(kind="test", job="test:inputs", parameters={})
            inputs = [SourceRef(kind="file", namespace="file", name=f"/data/{i}") for i in (1, 2)]
            catalog.add_inputs(run_id, inputs)
            assert pg.fired
        finally:
            catalog.close()
    assert _edges_of(backend, run_id) == 2


@pytest.mark.timeout(120)
@S3_POSTGRES
def test_a_lease_taken_whose_commit_answer_was_lost_is_held_and_given_back(s3_only):
    """Taking a lease is an insert: tried again after its COMMIT's answer was lost, it meets
    its own row (the same holder) and holds the lease, rather than wait for itself."""
    from catalog.catalog import Catalog

    backend = s3_only
    Catalog(backend.catalog_url).close()
    with LostCommitProxy(backend.pg.host, backend.pg.port, b"INSERT INTO leases") as pg:
        catalog = _catalog_through(backend, pg)
        try:
            with catalog.lease("test:lease", seconds=60, what="testing"):
                assert pg.fired
                entered = True
            with catalog.lease("test:lease", seconds=60, what="testing"):
                pass  # given back: taken again at once
        finally:
            catalog.close()
    assert entered
