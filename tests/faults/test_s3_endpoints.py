"""Every S3 client of the lake talks to the one server its settings name.

deltalake and obstore (object_store) read endpoint variables of the environment that pyarrow
and DuckDB do not, and let ``AWS_ENDPOINT_URL_S3`` override the endpoint they are given: a
user's variable could send the lake's writes to one server and its reads to another.
"""

from __future__ import annotations

import json

import pytest

from tests.faults.conftest import S3_POSTGRES, run_lake, write_log
from tests.faults.s3_faults import S3FaultProxy

TABLE = "endpoints.events"


@pytest.mark.timeout(300)
@S3_POSTGRES
def test_an_s3_endpoint_variable_of_the_environment_takes_no_request_elsewhere(
    s3_only, lk, tmp_path
):
    """AWS_ENDPOINT_URL_S3 in a user's environment, naming another server than the lake's
    AWS_ENDPOINT_URL: every client of the lake (deltalake, obstore, pyarrow, DuckDB) still
    sends its requests to the lake's server. The other server is a proxy that lets every
    request through to the same moto and counts them: none may reach it."""
    backend = s3_only
    with S3FaultProxy(backend.s3.endpoint, lambda *_: None) as other:
        for writer, rows in ((0, 2), (1, 3)):
            done = run_lake(
                backend,
                "ingest",
                "logs",
                TABLE,
                write_log(tmp_path / f"w{writer}.jsonl", rows, writer, field="writer"),
                AWS_ENDPOINT_URL_S3=other.endpoint,
            )
            assert done.returncode == 0, done.stderr
        read = run_lake(
            backend,
            "sql",
            f"SELECT count(*) AS n FROM {TABLE}",
            "--output",
            "json",
            AWS_ENDPOINT_URL_S3=other.endpoint,
        )
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["rows"] == [{"n": 5}]
    assert other.seen == []
    assert [v.rows_total for v in lk.history(TABLE)] == [2, 5]
