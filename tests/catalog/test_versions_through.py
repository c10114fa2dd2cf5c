"""The table row keeps the complete prefix of recorded versions (``versions_through``), so a
write learns whether a version is missing without counting the table's version rows; every
way a version comes to be recorded, or a row goes, keeps it right."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake
from sqlalchemy import create_engine, text

from lake.core.names import TableName

NAME = TableName("ml", "labels")


def _through(lk) -> int | None:
    return lk.catalog.get_table(NAME).versions_through


def _sql(backend, statement: str, **values: object) -> None:
    engine = create_engine(backend.catalog_url)
    with engine.begin() as connection:
        connection.execute(text(statement), values)
    engine.dispose()


def test_each_recorded_version_moves_the_complete_prefix(lk):
    lk.write_table("ml.labels", pa.table({"id": [0]}))
    assert _through(lk) == 0
    for n in range(1, 4):
        lk.write_table("ml.labels", pa.table({"id": [n]}))
    assert _through(lk) == 3
    assert lk.catalog.recorded_through(lk.catalog.get_table(NAME)) == 3


def test_versions_recorded_out_of_order_are_counted_in_by_the_next_sync(lk):
    for n in range(2):
        lk.write_table("ml.labels", pa.table({"id": [n]}))
    info = lk.catalog.get_table(NAME)
    store = lk.delta(info)
    for n in (2, 3):  # another engine commits two versions
        write_deltalake(
            info.location,
            pa.table({"id": pa.array([n], pa.int64())}),
            mode="append",
            storage_options=store.storage.delta_options(),
        )
    # The newer one is recorded first (a writer that recorded before the other one did).
    commit = next(c for c in store.history(after=2) if c.version == 3)
    lk.catalog.record_commit(info, commit, store.snapshot(3), previous=store.snapshot(2))
    assert _through(lk) == 1
    assert [v.version for v in lk.history("ml.labels")] == [0, 1, 2, 3]
    assert _through(lk) == 3
    after = lk.write_table("ml.labels", pa.table({"id": [4]}))
    assert (after.version, after.rows_total) == (4, 5)
    assert _through(lk) == 4


def test_a_catalog_that_does_not_know_its_prefix_counts_once_and_keeps_it(lk, backend):
    """A catalog migrated from before the column: every table's prefix is unknown (NULL)."""
    for n in range(3):
        lk.write_table("ml.labels", pa.table({"id": [n]}))
    _sql(backend, "UPDATE tables SET versions_through = NULL")
    assert _through(lk) is None
    after = lk.write_table("ml.labels", pa.table({"id": [3]}))
    assert (after.version, after.rows_total) == (3, 4)
    assert _through(lk) == 3


def test_a_version_row_deleted_by_hand_makes_the_prefix_unknown(lk, backend):
    """The database's own trigger: the lake never deletes a version row, a person may."""
    for n in range(3):
        lk.write_table("ml.labels", pa.table({"id": [n]}))
    table_id = lk.catalog.get_table(NAME).id
    gone = "SELECT id FROM table_versions WHERE table_id = :t AND version = 1"
    _sql(backend, f"DELETE FROM lineage_edges WHERE table_version_id IN ({gone})", t=table_id)
    _sql(backend, "DELETE FROM table_versions WHERE table_id = :t AND version = 1", t=table_id)
    assert _through(lk) is None
    after = lk.write_table("ml.labels", pa.table({"id": [3]}))
    assert (after.version, after.rows_total) == (3, 4)
    assert [v.version for v in lk.history("ml.labels")] == [0, 1, 2, 3]
    assert _through(lk) == 3
