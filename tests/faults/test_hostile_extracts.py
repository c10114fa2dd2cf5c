"""Hostile and broken database sources for ``lake ingest db``: one clear error, or every row.

Each case builds a SQLite source in the test's folder and extracts it through the command
line. Either the command fails with one ``error: ...`` line (exit code 1) and the source is
untouched, or every source row is in the lake table exactly once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.faults.conftest import assert_one_line_error


@dataclass(frozen=True)
class Case:
    id: str
    setup: Callable[[sqlite3.Connection], None]
    args: tuple[str, ...] = ("--table", "t")
    error: str | None = None
    """A regex the one-line error must match; None: the extract must succeed."""

    def __str__(self) -> str:
        return self.id


def _sql(
    *statements: str, rows: tuple[str, list[tuple]] | None = None
) -> Callable[[sqlite3.Connection], None]:
    def setup(connection: sqlite3.Connection) -> None:
        for statement in statements:
            connection.execute(statement)
        if rows is not None:
            connection.executemany(rows[0], rows[1])
        connection.commit()

    return setup


CASES = [
    Case(
        "column-names-with-quotes-and-semicolons",
        _sql(
            'CREATE TABLE t ("a""b" INTEGER, "c;d" TEXT, "e\'f" REAL, "select" INTEGER)',
            rows=("INSERT INTO t VALUES (?, ?, ?, ?)", [(1, "x", 1.5, 7), (2, "y", 2.5, 8)]),
        ),
    ),
    Case(
        "text-with-nul",
        _sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)",
            rows=("INSERT INTO t VALUES (?, ?)", [(1, "a\x00b"), (2, "plain")]),
        ),
    ),
    Case(
        "huge-integers-in-numeric",
        _sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n NUMERIC)",
            rows=(
                "INSERT INTO t VALUES (?, ?)",
                [(1, "123456789012345678901234567890"), (2, 5), (3, -(2**63))],
            ),
        ),
    ),
    Case(
        "integer-overflowing-int64-text",
        _sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)",
            rows=("INSERT INTO t VALUES (?, ?)", [(1, "99999999999999999999"), (2, 1)]),
        ),
    ),
    Case(
        "mixed-types-in-one-column",
        _sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
            rows=("INSERT INTO t VALUES (?, ?)", [(1, 1), (2, "abc"), (3, 2.5), (4, b"\x00\xff")]),
        ),
    ),
    Case(
        "invalid-utf8-in-text",
        _sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)",
            "INSERT INTO t VALUES (1, CAST(X'FFFE41' AS TEXT))",
            "INSERT INTO t VALUES (2, 'ok')",
        ),
        error=r"UTF-8.*column 's'",
    ),
    Case("empty-table", _sql("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)")),
    Case(
        "cursor-with-nulls",
        _sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, updated_at TEXT)",
            rows=(
                "INSERT INTO t VALUES (?, ?)",
                [(1, "2026-11-20 10:00:00"), (2, None), (3, "2026-11-21 10:00:00")],
            ),
        ),
        args=("--table", "t", "--mode", "incremental", "--cursor", "updated_at", "--key", "id"),
        error=r"cursor column 'updated_at' holds NULLs",
    ),
    Case(
        "table-name-with-sql",
        _sql("CREATE TABLE t (id INTEGER)", "INSERT INTO t VALUES (1)"),
        args=("--table", "t; DROP TABLE t; --"),
        error=r"t; DROP TABLE t",
    ),
    Case(
        "query-that-writes",
        _sql("CREATE TABLE t (id INTEGER)", "INSERT INTO t VALUES (1)"),
        args=("--query", "DELETE FROM t RETURNING id"),
        error=r".",
    ),
    Case(
        "missing-table",
        _sql("CREATE TABLE t (id INTEGER)"),
        args=("--table", "nope"),
        error=r"nope",
    ),
    Case(
        "cursor-column-missing",
        _sql("CREATE TABLE t (id INTEGER)"),
        args=("--table", "t", "--mode", "incremental", "--cursor", "nope"),
        error=r"nope",
    ),
    Case(
        "key-column-with-quote",
        _sql(
            'CREATE TABLE t ("i""d" INTEGER PRIMARY KEY, v TEXT)',
            rows=("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b")]),
        ),
        args=("--table", "t", "--key", 'i"d'),
    ),
]


@pytest.mark.parametrize("backend", ["local-sqlite"], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.timeout(120)
def test_hostile_database_sources_give_one_clear_error_or_every_row(
    case, backend, lk, cli, tmp_path
):
    source = tmp_path / "source.db"
    connection = sqlite3.connect(source)
    try:
        case.setup(connection)
        before = connection.execute("SELECT name FROM sqlite_master ORDER BY 1").fetchall()
        source_rows = connection.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        connection.close()

    result = cli(
        "ingest", "db", "src.t", "--source", f"sqlite:///{source}", *case.args, "--output", "json"
    )

    connection = sqlite3.connect(source)
    try:
        assert connection.execute("SELECT name FROM sqlite_master ORDER BY 1").fetchall() == before
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] == source_rows, (
            "source untouched"
        )
    finally:
        connection.close()
    if case.error is not None:
        assert result.exit_code == 1, result.stdout
        assert_one_line_error(result.stderr, case.error)
        return
    assert result.exit_code == 0, result.stderr
    if source_rows:
        counted = lk.sql("SELECT count(*) AS n FROM src.t").rows()[0]["n"]
        assert counted == source_rows, "every source row, once"


def test_an_unreadable_source_file_is_one_clear_error_and_is_not_created(backend, cli, tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    result = cli("ingest", "db", "src.g", "--source", f"sqlite:///{garbage}", "--table", "t")
    assert result.exit_code == 1
    assert_one_line_error(result.stderr)
    missing = tmp_path / "missing.db"
    result = cli("ingest", "db", "src.g", "--source", f"sqlite:///{missing}", "--table", "t")
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "missing")
    assert not missing.exists()
