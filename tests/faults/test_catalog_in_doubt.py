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
        done = run_lake(backend, "ingest", "logs", TABLE, str(log), LAKE_CATALOG_URL=url)
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
