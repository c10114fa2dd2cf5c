"""A table made again at its location by another tool, read by one long-lived process (a
``Lake`` object, ``lake serve``): the answers are the new table's, never the rows DuckDB cached
from the old one's files (the lake trusts those caches: its own data files never change in
place, but another tool's deterministic names are used again)."""

from __future__ import annotations

import multiprocessing
import uuid

import pyarrow as pa
import pytest

from lake.core.errors import TableLogReplaced

SPARK_NAME = "part-00000-0f0e0d0c-0b0a-0908-0706-050403020100-c000.parquet"


def _spark_style(
    uri: str, options: dict[str, str], values: list[int], spark_name: str = SPARK_NAME
) -> None:
    """A table as Spark writes one (deterministic file name ``part-00000-...-c000``), with
    ``values`` in one file: deltalake's own file renamed, its log entry rewritten."""
    import io

    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    from tests.delta import external

    write_deltalake(uri, pa.table({"id": pa.array(values, pa.int64())}), storage_options=options)
    [entry] = [a for a in external.read_log_entry(uri, options, 0) if "add" in a]
    body = io.BytesIO()
    # Plain values, uncompressed: as many values make a file of the same size.
    pq.write_table(
        pa.table({"id": pa.array(values, pa.int64())}),
        body,
        compression="none",
        use_dictionary=False,
        write_statistics=False,
    )
    external.write_file(uri, options, spark_name, body.getvalue())

    def renamed(action: dict) -> dict:
        if "add" in action:
            action["add"]["path"] = spark_name
            action["add"]["size"] = len(body.getvalue())
        return action

    external.rewrite_log_entry(uri, options, 0, renamed)
    assert entry["add"]["path"] != spark_name


def _location(backend, tmp_path) -> str:
    if backend.s3 is not None:
        return f"s3://{backend.s3.bucket}/spark-{uuid.uuid4().hex[:8]}/t"
    return str(tmp_path / "spark" / "t")


def _answer_of_a_new_process(query: str) -> list[dict] | str:
    import lake

    with lake.connect() as fresh:
        try:
            return fresh.sql(query).rows()
        except TableLogReplaced as refused:
            return type(refused).__name__


def _made_again(lk, uri: str, values: list[int]) -> None:
    """Another tool drops the table and makes it again at its location, its file named as
    before."""
    fs, path = lk.storage.filesystem_for(uri)
    fs.delete_dir(path)
    _spark_style(uri, lk.storage.delta_options(), values)


QUERY = "SELECT sum(id) AS s, count(*) AS n FROM ext.t"


@pytest.fixture
def looks_again_at_once(monkeypatch):
    """A long-lived process on S3 looks at a cached version's log entry again once a minute;
    here at every query."""
    import queries.resolve

    monkeypatch.setattr(queries.resolve, "RECHECK_S3_SECONDS", 0.0)


def test_a_long_lived_process_answers_a_table_made_again_with_the_same_file_names_anew(
    lk, backend, tmp_path, looks_again_at_once
):
    """The same number of rows in a file of the same name and size: the catalog's totals
    cannot tell the tables apart, and a new process answers the new rows. The process that
    had read the old table answered its rows from the cached snapshot and DuckDB's cached
    blocks (sum 500500)."""
    uri = _location(backend, tmp_path)
    _spark_style(uri, lk.storage.delta_options(), list(range(1, 1001)))
    lk.register_table("ext.t", uri)
    assert lk.sql(QUERY).rows() == [{"s": 500500, "n": 1000}]
    _made_again(lk, uri, list(range(1001, 2001)))

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        fresh = pool.apply(_answer_of_a_new_process, (QUERY,))
    assert fresh == [{"s": 1500500, "n": 1000}]
    assert lk.sql(QUERY).rows() == fresh


def test_a_long_lived_process_refuses_a_table_made_again_with_other_rows_as_a_new_one_does(
    lk, backend, tmp_path, looks_again_at_once
):
    uri = _location(backend, tmp_path)
    _spark_style(uri, lk.storage.delta_options(), list(range(1, 1001)))
    lk.register_table("ext.t", uri)
    assert lk.sql(QUERY).rows() == [{"s": 500500, "n": 1000}]
    _made_again(lk, uri, list(range(1, 11)))

    with pytest.raises(TableLogReplaced, match=r"^Version 0 of ext\.t in its Delta log is not"):
        lk.sql(QUERY)


def test_a_long_lived_process_reads_the_files_of_a_table_made_again_under_other_names(
    lk, backend, tmp_path, looks_again_at_once
):
    """Made again with as many rows in a file of the same size under another name (another
    job id in Spark's name): the catalog's totals cannot tell the tables apart, and a new
    process answers the new rows. The process that had read the old table read its new
    snapshot, but the paths it kept for the version (per table version and location) were
    the old table's: DuckDB was sent to the deleted file, and the query refused."""
    uri = _location(backend, tmp_path)
    _spark_style(uri, lk.storage.delta_options(), list(range(1, 1001)))
    lk.register_table("ext.t", uri)
    assert lk.sql(QUERY).rows() == [{"s": 500500, "n": 1000}]
    fs, path = lk.storage.filesystem_for(uri)
    fs.delete_dir(path)
    other = SPARK_NAME.replace("0f0e0d0c", "1f1e1d1c")
    _spark_style(uri, lk.storage.delta_options(), list(range(1001, 2001)), other)

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        fresh = pool.apply(_answer_of_a_new_process, (QUERY,))
    assert fresh == [{"s": 1500500, "n": 1000}]
    assert lk.sql(QUERY).rows() == fresh


def test_a_long_lived_process_looks_again_at_a_version_it_read_without_its_log_entry(
    lk, backend, tmp_path, looks_again_at_once
):
    """The version was read from its checkpoint, its log entry removed (a lifecycle rule
    that expires old ``_delta_log`` objects): no identity to keep. The snapshot cached so
    was never looked at again, and the process answered the old rows of a table made again
    at the location for ever (sum 500500), where a new process refuses it."""
    from deltalake import DeltaTable

    from lake.core import objects

    uri = _location(backend, tmp_path)
    options = lk.storage.delta_options()
    _spark_style(uri, options, list(range(1, 1001)))
    DeltaTable(uri, storage_options=options).create_checkpoint()
    lk.register_table("ext.t", uri)
    objects.delete(lk.storage, f"{uri}/_delta_log/{0:020d}.json")
    assert lk.sql(QUERY).rows() == [{"s": 500500, "n": 1000}]
    assert lk.sql(QUERY).rows() == [{"s": 500500, "n": 1000}]
    _made_again(lk, uri, list(range(1, 11)))

    with pytest.raises(TableLogReplaced, match=r"^Version 0 of ext\.t in its Delta log is not"):
        lk.sql(QUERY)


def test_a_version_read_from_its_checkpoint_is_not_read_again_while_its_checkpoint_stays(
    lk, backend, tmp_path, looks_again_at_once, monkeypatch
):
    """Its log entry removed, the version had no identity: every look read the log again
    and dropped DuckDB's cached files of the whole warehouse (every query locally, once a
    minute on S3). Its checkpoint tells it now, and a checkpoint written again (the table
    made again, its entry removed again) is still told from it."""
    from deltalake import DeltaTable

    import queries.session
    from lake.core import objects

    forgotten = []
    forget = queries.session.forget_lake_files

    def counted(storage) -> None:
        forgotten.append(storage)
        forget(storage)

    monkeypatch.setattr(queries.session, "forget_lake_files", counted)
    uri = _location(backend, tmp_path)
    options = lk.storage.delta_options()
    _spark_style(uri, options, list(range(1, 1001)))
    DeltaTable(uri, storage_options=options).create_checkpoint()
    lk.register_table("ext.t", uri)
    objects.delete(lk.storage, f"{uri}/_delta_log/{0:020d}.json")
    for _ in range(3):
        assert lk.sql(QUERY).rows() == [{"s": 500500, "n": 1000}]
    assert forgotten == []
    _made_again(lk, uri, list(range(1, 11)))
    DeltaTable(uri, storage_options=options).create_checkpoint()
    objects.delete(lk.storage, f"{uri}/_delta_log/{0:020d}.json")

    with pytest.raises(TableLogReplaced, match=r"^Version 0 of ext\.t in its Delta log is not"):
        lk.sql(QUERY)
    assert forgotten == [lk.storage]
