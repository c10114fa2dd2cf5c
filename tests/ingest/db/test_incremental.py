"""Incremental extracts on real servers: the boundary rule, NULL cursors, keys, bounded batches."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pyarrow as pa
import pytest
import sqlalchemy as sa

from ingest.db.pg_reader import adbc_uri
from ingest.db.source import open_source
from ingest.db.watermark import Watermark, fingerprint
from ingest.exceptions import BoundaryFingerprintsOutdated, CursorHasNulls, DuplicateKey
from tests.ingest.db.fixtures import SourceDb, unique

UTC = dt.UTC


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, 1, hour, minute, tzinfo=UTC)


def make_events(db: SourceDb) -> str:
    table = unique("events")
    ddl = {
        "postgresql": f"CREATE TABLE {table} (id int PRIMARY KEY, updated_at timestamptz, v text)",
        "mysql": f"CREATE TABLE {table} (id INT PRIMARY KEY, updated_at TIMESTAMP(6) NULL, "
        "v VARCHAR(50))",
        "sqlite": f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, updated_at DATETIME, v TEXT)",
    }[db.dialect]
    db.run(ddl)
    return table


def stored(db: SourceDb, t: dt.datetime | None) -> object:
    """How each test source stores an instant (SQLite: ISO text)."""
    if t is None or db.dialect == "postgresql":
        return t
    if db.dialect == "mysql":
        return t.astimezone(UTC).replace(tzinfo=None)  # the session below runs in UTC
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def read_back(db: SourceDb, t: dt.datetime) -> dt.datetime:
    """The watermark value each dialect's extract yields for the instant ``t``."""
    return t.replace(tzinfo=None) if db.dialect == "sqlite" else t


def insert(db: SourceDb, table: str, *rows: tuple[int, dt.datetime | None, str]) -> None:
    statements: list = ["SET time_zone = '+00:00'"] if db.dialect == "mysql" else []
    for id_, t, v in rows:
        statements.append(
            (f"INSERT INTO {table} VALUES (:id, :t, :v)", {"id": id_, "t": stored(db, t), "v": v})
        )
    db.run(*statements)


def extract(db: SourceDb, **kw) -> tuple[list[int], Watermark | None, int]:
    with open_source(db.url) as src, src.stream(**kw) as ex:
        ids = sorted(r["id"] for b in ex for r in b.to_pylist())
    return ids, ex.watermark, ex.rows_skipped


def test_with_a_key_rows_sharing_the_watermark_are_read_again_and_later_ones_are_not_lost(
    any_source,
):
    db, table = any_source, make_events(any_source)
    insert(db, table, (1, at(1), "a"), (2, at(2), "b"), (3, at(2), "c"))
    ids, wm, _ = extract(db, table=table, cursor="updated_at", key=["id"])
    assert ids == [1, 2, 3]
    assert wm == Watermark("updated_at", read_back(db, at(2)))

    # Row 4 arrives after the run with exactly the old maximum; row 5 is newer.
    insert(db, table, (4, at(2), "d"), (5, at(3), "e"))
    ids, wm, _ = extract(db, table=table, since=wm, key=["id"])
    assert ids == [2, 3, 4, 5]  # 2 and 3 again: the caller's merge by id is idempotent
    assert wm == Watermark("updated_at", read_back(db, at(3)))

    ids, wm2, _ = extract(db, table=table, since=wm, key=["id"])
    assert ids == [5] and wm2 == wm


def test_without_a_key_every_row_is_delivered_exactly_once_across_runs(any_source):
    db, table = any_source, make_events(any_source)
    insert(db, table, (1, at(1), "a"), (2, at(2), "b"), (3, at(2), "c"))
    delivered, wm, _ = extract(db, table=table, cursor="updated_at")
    assert delivered == [1, 2, 3] and len(wm.boundary) == 2

    insert(db, table, (4, at(2), "d"), (5, at(3), "e"), (6, at(3), "f"))
    ids, wm, skipped = extract(db, table=table, since=wm)
    assert ids == [4, 5, 6] and skipped == 2
    delivered += ids

    insert(db, table, (7, at(3), "g"))
    ids, wm, skipped = extract(db, table=table, since=wm)
    assert ids == [7] and skipped == 2
    delivered += ids

    ids, wm_after, _ = extract(db, table=table, since=wm)
    assert ids == [] and wm_after == wm
    assert sorted(delivered) == list(range(1, 8))


def test_the_watermark_survives_storage_as_json_between_runs(any_source):
    import json

    db, table = any_source, make_events(any_source)
    insert(db, table, (1, at(1, 30), "a"))
    _, wm, _ = extract(db, table=table, cursor="updated_at")
    stored_wm = Watermark.from_dict(json.loads(json.dumps(wm.to_dict())))
    insert(db, table, (2, at(1, 30), "b"))
    ids, _, _ = extract(db, table=table, since=stored_wm)
    assert ids == [2]


def test_a_cursor_holding_nulls_is_refused_on_the_first_run_and_on_later_ones(any_source):
    db, table = any_source, make_events(any_source)
    insert(db, table, (1, at(1), "a"))
    _, wm, _ = extract(db, table=table, cursor="updated_at", key=["id"])
    insert(db, table, (2, None, "late"))  # a NULL cursor would never be past any watermark
    with pytest.raises(CursorHasNulls, match="'updated_at' holds NULLs"):
        extract(db, table=table, since=wm, key=["id"])
    with pytest.raises(CursorHasNulls):
        extract(db, table=table, cursor="updated_at")


def test_a_key_that_repeats_in_the_extracted_rows_is_refused_at_the_end(any_source):
    db, table = any_source, make_events(any_source)
    insert(db, table, (1, at(1), "same"), (2, at(2), "same"), (3, at(3), "other"))
    with open_source(db.url) as src:
        ex = src.stream(table=table, key=["v"])
        first = next(ex)  # the check needs every row: it fires on the last next()
        assert first.num_rows == 3
        with pytest.raises(DuplicateKey, match=r"\(v\) is not unique.*'same'") as info:
            next(ex)
        assert ex.failure is info.value  # for writers that keep only the message
        with pytest.raises(Exception, match="known only once"):
            ex.watermark  # noqa: B018


def test_batches_never_exceed_batch_rows(any_source):
    db, table = any_source, make_events(any_source)
    insert(db, table, *[(i, at(i % 24), f"v{i}") for i in range(1, 51)])
    with open_source(db.url) as src, src.stream(table=table, batch_rows=7) as ex:
        sizes = [b.num_rows for b in ex]
    assert sum(sizes) == 50 and max(sizes) <= 7


def test_an_incremental_query_extract_filters_on_the_querys_own_column(any_source):
    db, table = any_source, make_events(any_source)
    insert(db, table, (1, at(1), "keep"), (2, at(2), "skip"), (3, at(3), "keep"))
    query = f"SELECT id, updated_at AS changed FROM {table} WHERE v <> 'skip'"
    ids, wm, _ = extract(db, query=query, cursor="changed", key=["id"])
    # SQLite reports no declared types for a query's columns: its ISO text stays text.
    expected = "2024-01-01 03:00:00" if db.dialect == "sqlite" else at(3)
    assert ids == [1, 3] and wm.value == expected
    insert(db, table, (4, at(4), "keep"))
    ids, _, _ = extract(db, query=query, since=wm, key=["id"])
    assert ids == [3, 4]


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_text_cursors_compare_bytewise_whatever_the_column_collation(dialect, request):
    db = request.getfixturevalue({"postgresql": "pg_source", "mysql": "mysql_source"}[dialect])
    table = unique("codes")
    if dialect == "postgresql":
        found = db.scalar(
            "SELECT collname FROM pg_collation WHERE collname IN ('und-x-icu', 'en_US.utf8', "
            "'en_US.UTF-8', 'en_US') ORDER BY collname DESC LIMIT 1"
        )
        if found is None:
            pytest.skip("this PostgreSQL has no linguistic collation to compare against")
        collate = f'COLLATE "{found}"'
    else:
        collate = "COLLATE utf8mb4_general_ci"
    db.run(f"CREATE TABLE {table} (id INT, code VARCHAR(10) {collate})")
    db.run((f"INSERT INTO {table} VALUES (1, :c)", {"c": "B"}))
    _, wm, _ = extract(db, table=table, cursor="code", key=["id"])
    assert wm.value == "B"
    # 'a' sorts before 'B' in a linguistic or case-insensitive collation, after it in bytes.
    db.run((f"INSERT INTO {table} VALUES (2, :c)", {"c": "a"}))
    ids, wm, _ = extract(db, table=table, since=wm, key=["id"])
    assert ids == [1, 2] and wm.value == "a"


def test_text_cursor_values_below_a_space_past_the_watermark_are_not_lost(any_source):
    # MySQL's _bin collations pad with spaces when comparing ('a\t' < 'a' there), while
    # Python, Arrow and the watermark put 'a\t' after 'a': the SQL must not filter it out.
    db, table = any_source, unique("codes")
    db.run(f"CREATE TABLE {table} (id INT, code VARCHAR(10))")
    db.run((f"INSERT INTO {table} VALUES (1, :c)", {"c": "a"}))
    _, wm, _ = extract(db, table=table, cursor="code")
    db.run(
        (f"INSERT INTO {table} VALUES (2, :c)", {"c": "a\t"}),
        (f"INSERT INTO {table} VALUES (3, :c)", {"c": "a\n"}),
        (f"INSERT INTO {table} VALUES (4, :c)", {"c": "a "}),
        (f"INSERT INTO {table} VALUES (5, :c)", {"c": "A"}),
    )
    ids, wm, skipped = extract(db, table=table, since=wm)
    assert ids == [2, 3, 4] and skipped == 1 and wm.value == "a "


def test_a_char_n_cursor_rereads_rows_at_its_padded_watermark(pg_source):
    # char(n) values arrive padded ('ab   '); Postgres compares them unpadded, so a bound on
    # the column as it is would drop a new 'ab' at the watermark, and 'ab' after 'ab\t'.
    db, table = pg_source, unique("codes")
    db.run(f"CREATE TABLE {table} (id INT, code char(5))")
    db.run((f"INSERT INTO {table} VALUES (1, 'ab'), (2, :c)", {"c": "ab\t"}))
    ids, wm, _ = extract(db, table=table, cursor="code", key=["id"])
    assert ids == [1, 2] and wm.value == "ab   "
    db.run(f"INSERT INTO {table} VALUES (3, 'ab'), (4, 'aa')")
    ids, _, _ = extract(db, table=table, since=wm, key=["id"])
    assert ids == [1, 3]
    db.run(f"DELETE FROM {table} WHERE id <> 2")
    _, wm, _ = extract(db, table=table, cursor="code", key=["id"])
    assert wm.value == "ab\t  "
    db.run(f"INSERT INTO {table} VALUES (5, 'ab')")
    ids, _, _ = extract(db, table=table, since=wm, key=["id"])
    assert ids == [2, 5]


def test_sqlite_text_timestamps_in_either_iso_spelling_meet_the_exact_boundary(sqlite_source):
    db, table = sqlite_source, unique("stamps")
    db.run(f"CREATE TABLE {table} (id INTEGER, t DATETIME)")
    db.run(
        (f"INSERT INTO {table} VALUES (1, '2024-01-01 10:00:00')", {}),
        (f"INSERT INTO {table} VALUES (2, '2024-01-01T12:00:00.5')", {}),
    )
    _, wm, _ = extract(db, table=table, cursor="t", key=["id"])
    assert wm.value == dt.datetime(2024, 1, 1, 12, 0, 0, 500000)
    db.run(
        (f"INSERT INTO {table} VALUES (3, '2024-01-01 12:00:00.500000')", {}),
        (f"INSERT INTO {table} VALUES (4, '2024-01-01 11:59:59')", {}),
    )
    ids, _, _ = extract(db, table=table, since=wm, key=["id"])
    assert ids == [2, 3]  # 4 is before the watermark; 3 equals it, written differently


def test_closing_an_extract_early_cancels_the_read_and_frees_the_source(pg_source, mysql_source):
    for db in (pg_source, mysql_source):
        table = unique("big")
        if db.dialect == "postgresql":
            db.run(f"CREATE TABLE {table} AS SELECT g AS id, md5(g::text) AS v "
                   "FROM generate_series(1, 200000) g")  # fmt: skip
        else:
            digits = unique("digits")  # portable to MySQL (no MariaDB sequence tables)
            db.run(
                f"CREATE TABLE {digits} (d INT)",
                f"INSERT INTO {digits} VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)",
                f"CREATE TABLE {table} (id INT PRIMARY KEY, v VARCHAR(40))",
                f"INSERT INTO {table} SELECT n, md5(n) FROM (SELECT 1 + a.d + 10 * b.d "
                f"+ 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d AS n FROM {digits} a, "
                f"{digits} b, {digits} c, {digits} e, {digits} f, {digits} g WHERE g.d < 2) s",
            )
        with open_source(db.url) as src:
            with src.stream(table=table, batch_rows=1000) as ex:
                assert next(ex).num_rows == 1000
            assert ex.rows == 1000
            # The source still answers at once on a fresh extract.
            with src.stream(query=f"SELECT count(*) AS n FROM {table}") as again:
                assert next(again).column("n")[0].as_py() == 200000


def test_without_a_key_a_column_the_source_adds_does_not_deliver_the_boundary_rows_again(
    any_source,
):
    db, table = any_source, make_events(any_source)
    insert(db, table, (1, at(1), "a"), (2, at(2), "b"), (3, at(2), "c"))
    delivered, wm, _ = extract(db, table=table, cursor="updated_at")
    assert delivered == [1, 2, 3] and wm.columns == ("id", "updated_at", "v")

    db.run(f"ALTER TABLE {table} ADD COLUMN extra INTEGER")
    statements: list = ["SET time_zone = '+00:00'"] if db.dialect == "mysql" else []
    statements.append(
        (
            f"INSERT INTO {table} (id, updated_at, v, extra) VALUES (4, :t, 'd', 7)",
            {"t": stored(db, at(2))},
        )
    )
    db.run(*statements)
    ids, wm, skipped = extract(db, table=table, since=wm)
    assert ids == [4] and skipped == 2  # rows 2 and 3 are matched on the columns they had
    assert wm.columns == ("id", "updated_at", "v", "extra") and len(wm.boundary) == 3

    ids, _, skipped = extract(db, table=table, since=Watermark.from_dict(wm.to_dict()))
    assert ids == [] and skipped == 3


def test_without_a_key_a_column_the_source_dropped_is_refused_in_one_sentence(any_source):
    from ingest.exceptions import BoundaryColumnsMissing

    db, table = any_source, make_events(any_source)
    insert(db, table, (1, at(1), "a"), (2, at(2), "b"))
    _, wm, _ = extract(db, table=table, cursor="updated_at")
    db.run(f"ALTER TABLE {table} DROP COLUMN v")
    with pytest.raises(BoundaryColumnsMissing, match=r"recorded with column\(s\) 'v'.*--key"):
        extract(db, table=table, since=wm)


# --------------------------------------------------------------------------------------------
# Watermarks stored by a version that read some values less exactly (no "format" stored)


def _as_stored_before(cursor: str, value: int, names: list[str], rows: list[tuple]) -> Watermark:
    """The watermark as versions without a fingerprint format stored it (their to_dict), the
    boundary fingerprinted from ``rows`` as those versions read them."""
    return Watermark.from_dict(
        {
            "column": cursor,
            "type": "int",
            "value": value,
            "boundary": sorted(fingerprint(names, row) for row in rows),
            "columns": names,
        }
    )


def _float32(v: float | None) -> float | None:
    return pa.array([v], pa.float32()).to_pylist()[0]


def test_boundary_rows_fingerprinted_from_mysql_floats_read_with_6_digits_are_not_duplicated(
    mysql_source,
):
    db, table = mysql_source, unique("floats")
    db.run(
        f"CREATE TABLE {table} (id INT, seq INT, f FLOAT)",
        f"INSERT INTO {table} VALUES (1, 1, 1234567), (2, 1, 1.5), (3, 1, NULL)",
    )
    # Those versions selected the column as it is: the server prints it with 6 digits.
    with db.engine().connect() as conn:
        old_rows = [
            (i, s, _float32(f))
            for i, s, f in conn.exec_driver_sql(f"SELECT id, seq, f FROM {table}").all()
        ]
    assert (1, 1, 1234570.0) in old_rows
    old = _as_stored_before("seq", 1, ["id", "seq", "f"], old_rows)

    # Row 1 matches no old fingerprint now: delivered once more, or a new row? Refuse.
    with pytest.raises(BoundaryFingerprintsOutdated, match=r"column\(s\) 'f'.*--mode full"):
        extract(db, table=table, since=old)
    # With a key, re-merging it is harmless.
    ids, wm, _ = extract(db, table=table, since=old, key=["id"])
    assert ids == [1, 2, 3] and wm.format == 2
    # Values the 6 digits held exactly still match, so a table without such values goes on.
    db.run(f"DELETE FROM {table} WHERE id = 1")
    ids, wm, skipped = extract(db, table=table, since=old)
    assert ids == [] and skipped == 2
    db.run(f"INSERT INTO {table} VALUES (4, 1, 2.5)")  # a new row at the old watermark
    with pytest.raises(BoundaryFingerprintsOutdated):
        extract(db, table=table, since=old)


def test_a_mysql_float_cursor_stored_with_6_digits_is_refused_without_a_key(mysql_source):
    db, table = mysql_source, unique("floats")
    db.run(
        f"CREATE TABLE {table} (id INT, f FLOAT)",
        f"INSERT INTO {table} VALUES (1, 1234567), (2, 1234572)",
    )
    # Both read as 1234570 then; 1234572 is above that value now, with no fingerprint kept.
    old_rows = [(1, 1234570.0), (2, 1234570.0)]
    old = Watermark.from_dict(
        {
            "column": "f",
            "type": "float",
            "value": "1234570.0",
            "boundary": sorted(fingerprint(["id", "f"], r) for r in old_rows),
            "columns": ["id", "f"],
        }
    )
    with pytest.raises(BoundaryFingerprintsOutdated, match="watermark on 'f'"):
        extract(db, table=table, since=old)


def test_boundary_rows_fingerprinted_from_postgres_text_in_a_sql_date_style_are_not_duplicated(
    pg_source,
):
    import adbc_driver_postgresql.dbapi as pgdb

    db, table = pg_source, unique("spans")
    db.run(
        f"CREATE TABLE {table} (id int, seq int, r daterange)",
        f"INSERT INTO {table} VALUES (1, 1, '[2024-02-01,2024-03-01)'), (2, 0, NULL)",
    )
    options = "-c DateStyle=SQL,DMY -c extra_float_digits=0"
    url = f"{db.url}?options={quote(options)}"
    # Those versions read the range as its text, through ADBC, in the session's DateStyle.
    uri = adbc_uri(sa.engine.make_url(url), connect_timeout=5, options="")
    with pgdb.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id, seq, CAST(r AS TEXT) FROM {table} WHERE seq = 1")
        old_rows = [tuple(r) for r in cur.fetchall()]
    assert old_rows == [(1, 1, "[01/02/2024,01/03/2024)")]
    old = _as_stored_before("seq", 1, ["id", "seq", "r"], old_rows)

    def run(**kw):
        with open_source(url) as src, src.stream(table=table, **kw) as ex:
            ids = sorted(r["id"] for b in ex for r in b.to_pylist())
        return ids, ex.watermark, ex.rows_skipped

    with pytest.raises(BoundaryFingerprintsOutdated, match=r"column\(s\) 'r'"):
        run(since=old)
    ids, wm, _ = run(since=old, key=["id"], dedupe=True)  # as ingest_db streams it
    assert ids == [1] and wm.format == 2
    ids, _, skipped = run(since=wm)
    assert ids == [] and skipped == 1
    # Under ISO dates the text was the same then: the old fingerprints still match.
    iso_rows = [(1, 1, "[2024-02-01,2024-03-01)")]
    ids, _, skipped = extract(
        db, table=table, since=_as_stored_before("seq", 1, ["id", "seq", "r"], iso_rows)
    )
    assert ids == [] and skipped == 1


@pytest.mark.parametrize("column_type", ['text COLLATE "C"', 'varchar(20) COLLATE "C"'])
def test_a_postgres_text_cursor_bound_can_use_an_index_under_the_c_collation(
    pg_source, monkeypatch, column_type
):
    # Only char(n) needs its padding rebuilt; an expression around any other column would
    # keep an index on it from serving the bound, and every run would read the whole table.
    import psycopg2

    import ingest.db.source as source_module

    db, table = pg_source, unique("codes")
    db.run(f"CREATE TABLE {table} (id int, code {column_type})", f"CREATE INDEX ON {table} (code)")
    sent = {}

    def capture(**kw):
        sent.update(kw)
        return iter(())

    monkeypatch.setattr(source_module, "stream_pg", capture)
    extract(db, table=table, since=Watermark("code", "k", ()))
    u = sa.engine.make_url(db.url)
    conn = psycopg2.connect(host=u.host, port=u.port, user=u.username, dbname=u.database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('lake.since', %s, false)", (sent["since_text"],))
            cur.execute("SET enable_seqscan = off")
            cur.execute("EXPLAIN " + sent["sql"])
            plan = "\n".join(r[0] for r in cur.fetchall())
    finally:
        conn.close()
    assert re.search(r"Index Cond: .*code.* >= ", plan), plan
