"""Names of tables, namespaces and columns cannot inject SQL into DuckDB or the catalog.

Table and namespace names are refused unless plain identifiers (lake/names.py); column
names may be anything a JSON key or an Arrow field can be, and reach DuckDB only through
lake/quoting.py. Each test checks the catalog's own tables are all still there afterwards.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from sqlalchemy import inspect

from lake.core.errors import InvalidName, LakeError

HOSTILE_TABLE_NAMES = [
    "x; DROP TABLE tables; --",
    "ns.t; DROP TABLE runs",
    'ns."t"',
    "ns.t'--",
    "a.b.c",
    "ns.t) UNION SELECT * FROM runs --",
    "x\x00y",
    "../../escape",
    "ns.t@1; DROP TABLE runs",
    "ns" + "t" * 80,
]

HOSTILE_COLUMNS = [
    'a"; DROP TABLE tables; --',
    "b'); DELETE FROM runs; --",
    "select",
    "x.y",
    "semi;colon",
    'quote"inside',
    "back`tick",
    "emoji 🎉 space",
]


def _catalog_tables(lk) -> set[str]:
    return set(inspect(lk.catalog.engine).get_table_names())


def _row_counts(lk) -> dict[str, int]:
    from sqlalchemy import text

    with lk.catalog.engine.connect() as connection:
        return {
            name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in ("namespaces", "tables", "runs", "table_versions")
        }


@pytest.mark.timeout(120)
def test_hostile_table_names_are_refused_by_every_entry_point(lk, cli, tmp_path):
    lk.write_table("safe.t", pa.table({"n": [1, 2]}))
    before_tables, before_rows = _catalog_tables(lk), _row_counts(lk)
    log = tmp_path / "a.jsonl"
    log.write_text('{"n": 1}\n')
    for name in HOSTILE_TABLE_NAMES:
        with pytest.raises(InvalidName):
            lk.write_table(name, pa.table({"n": [1]}))
        with pytest.raises(InvalidName):
            lk.ingest_logs(name, str(log))
        result = cli("ingest", "logs", name, str(log))
        assert result.exit_code == 1 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert _catalog_tables(lk) == before_tables
    assert _row_counts(lk) == before_rows
    assert lk.sql("SELECT sum(n) AS s FROM safe.t").rows() == [{"s": 3}]


@pytest.mark.timeout(120)
def test_hostile_column_names_round_trip_through_write_ingest_and_sql(lk, tmp_path):
    before = _catalog_tables(lk)
    data = pa.table({name: [i, i + 1] for i, name in enumerate(HOSTILE_COLUMNS)})
    lk.write_table("inj.written", data)
    log = tmp_path / "a.jsonl"
    log.write_text(
        "\n".join(json.dumps({name: i for i, name in enumerate(HOSTILE_COLUMNS)}) for _ in range(3))
        + "\n"
    )
    report = lk.ingest_logs("inj.logged", str(log))
    assert (report.records_read, report.records_failed) == (3, 0)

    written = lk.sql("SELECT * FROM inj.written")
    assert written.column_names == HOSTILE_COLUMNS
    assert written.num_rows == 2
    logged = lk.sql("SELECT * FROM inj.logged")
    assert logged.num_rows == 3
    for name in HOSTILE_COLUMNS:  # each column is a column, and only one column
        quoted = '"' + name.replace('"', '""') + '"'
        assert lk.sql(f"SELECT {quoted} AS v FROM inj.written ORDER BY 1").rows() == [
            {"v": HOSTILE_COLUMNS.index(name)},
            {"v": HOSTILE_COLUMNS.index(name) + 1},
        ]
    described = lk.schema("inj.logged")
    assert {c["name"] for c in described["columns"]} >= {"semi;colon", "select"}
    assert _catalog_tables(lk) == before
    assert {str(t.name) for t in lk.tables()} == {"inj.written", "inj.logged"}


@pytest.mark.timeout(120)
def test_a_nul_in_a_json_key_is_stored_and_queried_without_a_traceback(lk, tmp_path):
    log = tmp_path / "a.jsonl"
    log.write_text('{"a\\u0000b": 1, "n": 1}\n{"n": 2}\n')
    report = lk.ingest_logs("inj.nul", str(log))
    assert report.records_read == 2
    try:
        result = lk.sql("SELECT * FROM inj.nul")
    except LakeError:
        return  # refused in one sentence: acceptable
    assert result.num_rows == 2


@pytest.mark.timeout(120)
def test_queries_cannot_reach_beyond_their_tables_when_read_only(lk, tmp_path):
    from queries.exceptions import QueryError

    lk.write_table("ro.t", pa.table({"n": [1]}))
    secret = tmp_path / "secret.csv"
    secret.write_text("x\nsecret\n")
    for query in (
        f"SELECT * FROM read_csv('{secret}')",
        f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'",
        "SELECT 1; DROP TABLE ro.t",
        "ATTACH ':memory:' AS other",
        "INSTALL httpfs",
    ):
        with pytest.raises(QueryError):
            lk.sql(query, read_only=True)
    assert not (tmp_path / "out.csv").exists()
    assert lk.sql("SELECT n FROM ro.t", read_only=True).rows() == [{"n": 1}]


@pytest.mark.timeout(120)
def test_time_travel_clauses_cannot_carry_sql(lk):
    from queries.exceptions import QueryError

    lk.write_table("tt.t", pa.table({"n": [1]}))
    before = _row_counts(lk)
    for query in (
        "SELECT * FROM tt.t TIMESTAMP AS OF '2026-01-01''); DROP TABLE runs; --'",
        "SELECT * FROM tt.t VERSION AS OF 0; DROP TABLE runs",
        'SELECT * FROM "tt"."t; DROP TABLE runs"',
    ):
        with pytest.raises(LakeError) as caught:
            lk.sql(query)
        assert isinstance(caught.value, (QueryError, InvalidName, LakeError))
    assert _row_counts(lk) == before
    assert lk.sql("SELECT n FROM tt.t").rows() == [{"n": 1}]
