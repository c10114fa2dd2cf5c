"""Chinook, loaded from its own scripts, extracts identically from all three dialects."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from ingest.db.source import Source, open_source
from tests.ingest.db.fixtures import CHINOOK_COUNTS, SourceDb, pg_name

DIALECTS = {"postgresql": "chinook_pg", "mysql": "chinook_mysql", "sqlite": "chinook_sqlite"}

# (table, key column, money column), in the SQLite/MySQL spelling.
MONEY = [
    ("Invoice", "InvoiceId", "Total"),
    ("Track", "TrackId", "UnitPrice"),
    ("InvoiceLine", "InvoiceLineId", "UnitPrice"),
]


def name(db: SourceDb, n: str) -> str:
    return pg_name(n) if db.dialect == "postgresql" else n


def read(db: SourceDb, table: str, src: Source | None = None) -> pa.Table:
    if src is None:
        with open_source(db.url) as opened:
            return read(db, table, opened)
    with src.stream(table=name(db, table)) as ex:
        return pa.Table.from_batches(list(ex), schema=ex.schema)


@pytest.fixture(params=list(DIALECTS))
def chinook(request) -> SourceDb:
    return request.getfixturevalue(DIALECTS[request.param])


def test_all_eleven_tables_extract_with_the_sources_row_counts(chinook):
    engine = chinook.engine()
    try:
        with engine.connect() as conn, open_source(chinook.url) as src:
            for table, expected in CHINOOK_COUNTS.items():
                source_count = conn.execute(
                    sa.select(sa.func.count()).select_from(sa.table(name(chinook, table)))
                ).scalar()
                assert source_count == expected, table
                assert read(chinook, table, src).num_rows == expected, table
    finally:
        engine.dispose()


@pytest.mark.parametrize(("table", "key", "money"), MONEY)
def test_money_columns_are_exact_decimals_identical_in_every_dialect(
    table, key, money, chinook_pg, chinook_mysql, chinook_sqlite
):
    values = {}
    for db in (chinook_pg, chinook_mysql, chinook_sqlite):
        t = read(db, table)
        k, m = name(db, key), name(db, money)
        assert t.schema.field(m).type == pa.decimal128(10, 2), db.dialect
        values[db.dialect] = dict(
            zip(t.column(k).to_pylist(), t.column(m).to_pylist(), strict=True)
        )
    assert values["postgresql"] == values["mysql"] == values["sqlite"]
    sample = values["sqlite"]
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in sample.values())
    assert len(sample) == CHINOOK_COUNTS[table]


def test_the_invoice_total_sums_to_the_cent(chinook):
    total = sum(read(chinook, "Invoice").column(name(chinook, "Total")).to_pylist())
    assert total == Decimal("2328.60")


def test_non_ascii_names_and_dates_arrive_unchanged(chinook):
    customers = read(chinook, "Customer").to_pylist()
    first = {r[name(chinook, "CustomerId")]: r[name(chinook, "FirstName")] for r in customers}
    assert first[1] == "Luís"
    invoices = read(chinook, "Invoice")
    dates = invoices.column(name(chinook, "InvoiceDate"))
    assert dates.type == pa.timestamp("us")
    assert str(min(dates.to_pylist())) == "2021-01-01 00:00:00"
