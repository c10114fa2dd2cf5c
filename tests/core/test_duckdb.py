"""Every DuckDB database the lake opens comes from one factory, with the same settings."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from lake.core.duckdb import arrow_view, connect


def _setting(connection, name: str):
    return connection.execute("SELECT current_setting(?)", [name]).fetchone()[0]


def test_a_database_installs_and_loads_nothing_on_its_own_and_draws_no_progress_bar():
    connection = connect()
    try:
        assert _setting(connection, "autoinstall_known_extensions") is False
        assert _setting(connection, "autoload_known_extensions") is False
        assert _setting(connection, "enable_progress_bar") is False
        assert _setting(connection.cursor(), "enable_progress_bar") is False
    finally:
        connection.close()


def test_what_differs_by_use_is_asked_for_by_name(tmp_path):
    connection = connect(threads=1, memory_limit="64MB", temp_directory=tmp_path / "spill")
    try:
        assert _setting(connection, "threads") == 1
        assert _setting(connection, "memory_limit") == "61.0 MiB"  # DuckDB shows MiB
        assert _setting(connection, "temp_directory") == str(tmp_path / "spill")
    finally:
        connection.close()


def test_a_database_without_external_access_reads_no_file(tmp_path):
    (tmp_path / "x.csv").write_text("a\n1\n")
    connection = connect(external_access=False, persistent_secrets=False)
    try:
        assert _setting(connection, "enable_external_access") is False
        assert _setting(connection, "allow_persistent_secrets") is False
        with pytest.raises(duckdb.Error, match="disabled"):
            connection.execute(f"SELECT * FROM read_csv('{tmp_path / 'x.csv'}')")
    finally:
        connection.close()


def test_times_without_an_offset_are_utc_whatever_the_host_zone():
    # ICU reads the host's zone once per process: ask a process that starts in Tokyo.
    code = (
        "from lake.core.duckdb import connect; c = connect(); "
        "q = \"SELECT current_setting('TimeZone'), "
        "epoch(CAST('2026-01-01 00:00:00' AS TIMESTAMPTZ))\"; "
        "print(c.execute(q).fetchone(), c.cursor().execute(q).fetchone())"
    )
    found = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TZ": "Asia/Tokyo"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == "('UTC', 1767225600.0) ('UTC', 1767225600.0)"


def test_an_arrow_view_answers_one_query_with_the_tables_rows_and_is_gone_after():
    import pyarrow as pa

    connection = connect()
    try:
        table = pa.table({"s": ["2026-10-01", "x", None], "n": [1, 2, 3]})
        with arrow_view(connection, "t", table):
            got = connection.execute("SELECT n, TRY_CAST(s AS DATE) FROM t WHERE n > 1")
            assert got.fetchall() == [(2, None), (3, None)]
        with pytest.raises(duckdb.CatalogException):
            connection.execute("SELECT * FROM t")
    finally:
        connection.close()


def test_an_arrow_view_of_a_reader_streams_its_batches():
    import pyarrow as pa

    batches = (pa.record_batch({"n": [i, i + 1]}) for i in range(0, 6, 2))
    reader = pa.RecordBatchReader.from_batches(pa.schema({"n": pa.int64()}), batches)
    connection = connect()
    try:
        with arrow_view(connection, "r", reader):
            connection.execute("CREATE TABLE t AS SELECT sum(n) AS s, count(*) AS c FROM r")
        assert connection.execute("SELECT * FROM t").fetchall() == [(15, 6)]
    finally:
        connection.close()


def test_an_arrow_view_is_unregistered_when_its_query_fails():
    import pyarrow as pa

    connection = connect()
    try:
        with pytest.raises(duckdb.Error), arrow_view(connection, "t", pa.table({"s": ["a"]})):
            connection.execute("SELECT CAST(s AS INTEGER) FROM t").fetchall()
        with pytest.raises(duckdb.CatalogException):
            connection.execute("SELECT * FROM t")
    finally:
        connection.close()


def test_scanning_arrow_data_imports_neither_pyarrow_dataset_nor_pandas():
    """DuckDB imports ``pyarrow.dataset`` (and through it pandas, ~0.15 s of a command) to
    scan a pyarrow object; the stream ``arrow_view`` hands it needs neither."""
    code = (
        "import sys, pyarrow as pa\n"
        "from lake.core.arrow_values import array\n"
        "from lake.core.duckdb import arrow_view, connect\n"
        "c = connect()\n"
        "t = pa.Table.from_arrays([array(['a', 'b'], pa.string())], names=['s'])\n"
        "assert 'pandas' not in sys.modules\n"
        "with arrow_view(c, 't', t):\n"
        "    assert c.execute('SELECT count(*) FROM t').fetchone() == (2,)\n"
        "print(sorted(m for m in ('pandas', 'pyarrow.dataset') if m in sys.modules))\n"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
