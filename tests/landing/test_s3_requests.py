"""S3 requests the lake promises not to send, counted in the log of a moto server of this
module's own (S3 + PostgreSQL only: the requests are S3's). Only what is a guarantee is
pinned: no listing to find a key the lake knows, no HEAD of a file a query has asked about
already, no second load of a log an operation already loaded. Figures per operation are
``bench/bench_s3_requests.py``'s."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from tests.backends import S3Server, logged_requests, start_s3, unavailable


@pytest.fixture(scope="module")
def logged_s3(tmp_path_factory) -> Iterator[tuple[S3Server, Path]]:
    log = tmp_path_factory.mktemp("moto") / "requests.log"
    try:
        with start_s3(requests_log=log) as server:
            yield server, log
    except RuntimeError as error:
        unavailable(f"the loopback S3 server (moto) could not start: {error}")


class Counted:
    """A lake on the logged server and a fresh PostgreSQL catalog; ``requests(action)``
    runs ``action`` and gives the (method, path) of each request it sent."""

    def __init__(self, lk, log: Path, prefix: str) -> None:
        self.lk, self.log, self.prefix = lk, log, prefix

    def requests(self, action) -> list[tuple[str, str]]:
        from lake.core import background

        background.drain()
        start, _ = logged_requests(self.log)
        action()
        background.drain()
        _, found = logged_requests(self.log, start)
        return found


@pytest.fixture
def counted(logged_s3, pg_server, monkeypatch, tmp_path) -> Iterator[Counted]:
    import lake

    if pg_server is None:
        unavailable("no PostgreSQL at 127.0.0.1:5432 and no pg_ctl to start one")
    server, log = logged_s3
    s3 = server.with_new_bucket()
    database = pg_server.create_database(catalog=True)
    prefix = uuid.uuid4().hex[:12]
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    try:
        with lake.connect(
            warehouse=f"s3://{s3.bucket}/{prefix}", catalog=pg_server.url(database)
        ) as lk:
            yield Counted(lk, log, prefix)
    finally:
        pg_server.drop_database_later(database)


def _listings(found: list[tuple[str, str]], under: str) -> list[str]:
    return [p for m, p in found if m == "GET" and "list-type" in p and under in p]


def test_storing_a_new_file_in_objects_lists_nothing(counted, tmp_path):
    source = tmp_path / "files"
    source.mkdir()
    for n in range(3):
        (source / f"f{n}.bin").write_bytes(bytes([n]) * 500)
    found = counted.requests(lambda: counted.lk.ingest_files("media.files", str(source)))
    assert _listings(found, "objects") == []
    objects = [(m, p) for m, p in found if "/objects/" in p]
    assert sorted(m for m, _ in objects) == ["HEAD"] * 3 + ["PUT"] * 3


def test_a_materialize_asks_each_data_file_its_size_once(counted, tmp_path):
    for i in range(4):
        counted.lk.write_table("web.t", pa.table({"id": list(range(i * 10, i * 10 + 10))}))
    found = counted.requests(
        lambda: counted.lk.materialize(
            "ts", sql="SELECT * FROM web.t ORDER BY id", out=str(tmp_path / "ts")
        )
    )
    heads = [p for m, p in found if m == "HEAD" and p.endswith(".parquet")]
    assert len(heads) == 4
    assert len(set(heads)) == len(heads)


def test_an_optimize_loads_the_log_once(counted):
    for i in range(4):
        counted.lk.write_table("web.t", pa.table({"id": list(range(i * 10, i * 10 + 10))}))
    found = counted.requests(lambda: counted.lk.optimize("web.t"))
    loads = [p for m, p in found if m == "GET" and p.endswith("_last_checkpoint")]
    assert len(loads) == 1
    assert counted.lk.sql("SELECT count(*) AS n FROM web.t").table.to_pylist() == [{"n": 40}]
