"""The catalog's plain-SQL reader (catalog.reader) answers exactly as the full catalog does,
on both backend pairs, and leaves to the full catalog everything it does not answer itself.
Read-only commands then start without SQLAlchemy (checked by what they import, not by time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text

import lake
from catalog.catalog import Catalog
from catalog.exceptions import RunNotFound
from catalog.reader import CatalogReader
from catalog.runs import RunInfo
from lake.core.errors import TableNotFound, VersionNotFound
from lake.core.names import TableName


@pytest.fixture
def filled(lk):
    """A lake with two namespaces, several versions, an empty table and runs of two kinds."""
    lk.write_table("ml.labels", pa.table({"id": [1, 2], "label": ["a", "b"]}))
    lk.write_table("ml.labels", pa.table({"id": [3], "label": ["c"]}), source="labels.csv")
    lk.write_table("ml.labels", pa.table({"id": [4]}), mode="overwrite")
    lk.write_table("web.events", pa.table({"n": [1.5]}), kind="events")
    lk.catalog.create_table(TableName("web", "empty"), kind="arrow", location="/nowhere")
    run_id = lk.catalog.start_run(kind="external", job="train:x", parameters={"a": [1, "é"]})
    lk.catalog.finish_run(run_id, status="failed", error="it broke\non two lines")
    return lk


def reader_of(lk) -> CatalogReader:
    def full() -> Catalog:
        raise AssertionError("the reader asked the full catalog for what it should answer")

    return CatalogReader(lk.config.catalog_url, full)


def test_the_reader_finds_training_sets_as_the_full_catalog_does(filled, tmp_path):
    """What a cache hit of ``lake materialize`` reads, without SQLAlchemy."""
    from catalog.registry import training_sets, training_sets_at

    query = "SELECT id FROM ml.labels ORDER BY id"
    filled.materialize("ids", sql=query, out=str(tmp_path / "one"))
    filled.write_table("ml.labels", pa.table({"id": [9]}))
    filled.materialize(
        "ids", sql=query, out=str(tmp_path / "two"), split="a=0.5,b=0.5", split_key="id"
    )
    reader = reader_of(filled)
    try:
        found = reader.training_sets("ids")
        assert found == training_sets(filled.catalog, "ids")
        assert [(t.version, bool(t.manifest)) for t in found] == [(1, True), (2, True)]
        assert reader.training_sets("none") == []
        places = [str((tmp_path / "two").resolve()), str(tmp_path / "none")]
        at = reader.training_sets_at(places)
        assert at == training_sets_at(filled.catalog, places) == found[1:]
        assert reader.training_sets_at([]) == training_sets_at(filled.catalog, []) == []
    finally:
        reader.close()
    engine = create_engine(filled.config.catalog_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    engine.dispose()
    outdated = reader_of(filled)
    try:
        assert outdated.training_sets("ids") is None  # not this reader's: the registry's
        assert outdated.training_sets_at([str(tmp_path / "one")]) is None
    finally:
        outdated.close()


def test_the_reader_answers_every_read_as_the_full_catalog_does(filled):
    catalog, reader = filled.catalog, reader_of(filled)
    try:
        assert reader.list_tables() == catalog.list_tables()
        assert reader.current_versions() == catalog.current_versions()
        for table in catalog.list_tables():
            assert reader.find_table(table.name) == catalog.find_table(table.name)
            assert reader.get_table(table.name) == catalog.get_table(table.name)
            assert reader.versions(table) == catalog.versions(table)
            for version in range(-1, (table.current_version or 0) + 2):
                assert reader.find_version(table, version) == catalog.find_version(table, version)
        assert reader.find_table(TableName("web", "nope")) is None
        names = [t.name for t in catalog.list_tables()]
        for wanted in ([], names, [names[0], TableName("web", "nope"), TableName("nope", "x")]):
            assert reader.find_tables(wanted) == catalog.find_tables(wanted)
        assert reader.find_tables(names) == {t.name: t for t in catalog.list_tables()}
        assert set(reader.find_tables([names[0], TableName("web", "nope")])) == {names[0]}
        for kind in (None, "external", "write_table", "nothing"):
            for limit, offset in ((100, 0), (2, 1), (1, 3)):
                assert reader.list_runs(limit=limit, offset=offset, kind=kind) == (
                    catalog.list_runs(limit=limit, offset=offset, kind=kind)
                )
        for run in catalog.list_runs():
            assert reader.get_run(run.id) == catalog.get_run(run.id)
    finally:
        reader.close()


def test_read_values_have_the_full_catalogs_types(filled):
    reader = reader_of(filled)
    try:
        [run] = reader.list_runs(kind="external")
        assert isinstance(run, RunInfo)
        assert run.started_at.utcoffset().total_seconds() == 0
        assert run.parameters == {"a": [1, "é"]} and run.error == "it broke\non two lines"
        labels = reader.get_table(TableName("ml", "labels"))
        assert [v.version for v in reader.versions(labels)] == [0, 1, 2]
        assert reader.current_versions()[labels.name].rows_total == 1
    finally:
        reader.close()


def test_what_the_reader_does_not_know_the_full_catalog_answers_with_its_errors(filled):
    reader = CatalogReader(filled.config.catalog_url, lambda: filled.catalog)
    try:
        with pytest.raises(TableNotFound, match="Known tables: ml.labels"):
            reader.get_table(TableName("web", "nope"))
        labels = reader.get_table(TableName("ml", "labels"))
        with pytest.raises(VersionNotFound, match="the latest is 2"):
            reader.get_version(labels, 7)
        with pytest.raises(RunNotFound):
            reader.get_run("no-such-run")
        run = filled.catalog.list_runs(kind="external")[0]
        assert reader.get_run(run.id[:8]) == run  # a prefix, as `lake runs --id` takes it
    finally:
        reader.close()


@pytest.mark.empty_catalog_database
def test_a_catalog_to_create_or_migrate_is_left_to_the_full_catalog_then_read(backend):
    """A Lake made on an empty warehouse: its first read finds no catalog, the full catalog
    creates it, and the reads after that are the reader's again (they had all gone through
    SQLAlchemy's ORM for the Lake's life)."""
    opened: list[Catalog] = []

    def full() -> Catalog:
        opened.append(Catalog(backend.catalog_url))
        return opened[-1]

    reader = CatalogReader(backend.catalog_url, full)
    try:
        assert reader.list_tables() == []  # nothing to read yet: the full catalog created it
        assert len(opened) == 1 and opened[0].migration == "created"
        opened[0].create_table(TableName("ml", "new"), kind="arrow", location="/nowhere")
        for _ in range(3):
            assert [t.name for t in reader.list_tables()] == [TableName("ml", "new")]
        assert len(opened) == 1
    finally:
        reader.close()
        for catalog in opened:
            catalog.close()


def test_a_catalog_at_another_revision_is_not_read_by_the_reader(backend):
    Catalog(backend.catalog_url).close()
    engine = create_engine(backend.catalog_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    engine.dispose()
    asked = []
    reader = CatalogReader(backend.catalog_url, lambda: asked.append(1) or _Empty())
    try:
        assert reader.list_tables() == [] and asked == [1]
    finally:
        reader.close()


def test_a_connection_the_server_dropped_costs_one_read_not_the_reader(backend):
    """PostgreSQL ends idle sessions (a restart, ``idle_session_timeout``, a proxy): that
    read goes to the full catalog, and the next is the reader's again on a new connection."""
    if not backend.catalog_url.startswith("postgresql"):
        pytest.skip("an SQLite catalog is a file: no server drops its connection")
    Catalog(backend.catalog_url).close()
    opened: list[Catalog] = []

    def full() -> Catalog:
        opened.append(Catalog(backend.catalog_url))
        return opened[-1]

    reader = CatalogReader(backend.catalog_url, full)
    engine = create_engine(backend.catalog_url)
    try:
        assert reader.list_tables() == [] and opened == []
        with engine.begin() as connection:
            ended = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).fetchall()
        assert ended  # the reader's session was among them
        assert reader.list_tables() == [] and len(opened) == 1
        for _ in range(3):
            assert reader.list_tables() == []
        assert len(opened) == 1
    finally:
        engine.dispose()
        reader.close()
        for catalog in opened:
            catalog.close()


class _Empty:
    def list_tables(self):
        return []


def test_a_lake_that_wrote_reads_its_own_writes_through_the_reader(lk):
    """SQLAlchemy's ORM cost a query 0.6 ms of CPU (of 2 ms) for the rows of its tables; a
    Lake that has written keeps reading through the plain-SQL reader and sees every write."""
    lk.write_table("ml.labels", pa.table({"id": [1]}))
    assert isinstance(lk.reads, CatalogReader)
    lk.write_table("ml.labels", pa.table({"id": [2, 3]}))
    assert isinstance(lk.reads, CatalogReader)
    assert [t.name for t in lk.tables()] == [TableName("ml", "labels")]
    assert [v.version for v in lk.history("ml.labels")] == [0, 1]
    assert lk.history("ml.labels") == lk.catalog.versions(
        lk.catalog.get_table(TableName("ml", "labels"))
    )
    assert lk.table_summary("ml.labels").current.rows_total == 3
    assert lk.runs() == lk.catalog.list_runs()
    assert lk.sql("SELECT count(*) AS n FROM ml.labels").rows() == [{"n": 3}]


def test_history_records_a_commit_the_catalog_missed_before_listing(backend):
    """The reader's history first checks the Delta log for a newer commit (one existence
    check), and syncs when there is one."""
    from deltalake import write_deltalake

    with lake.connect() as writer:
        writer.write_table("ml.labels", pa.table({"id": [1]}))
        info = writer.catalog.get_table(TableName("ml", "labels"))
        # another tool appends to the table: the catalog has not recorded version 1
        write_deltalake(
            info.location,
            pa.table({"id": pa.array([2], pa.int64())}),
            mode="append",
            schema_mode="merge",
            storage_options=writer.storage.delta_options(),
        )
    with lake.connect() as reader:
        assert [v.version for v in reader.history("ml.labels")] == [0, 1]
        assert reader.history("ml.labels")[1].rows_total == 2


def test_history_records_a_version_missing_below_the_newest(backend):
    """A writer that died between its commit and its record leaves a gap below the newest
    recorded version; history fills it from the Delta log before listing."""
    with lake.connect() as writer:
        for n in range(3):
            writer.write_table("ml.labels", pa.table({"id": [n]}))
        info = writer.catalog.get_table(TableName("ml", "labels"))
    engine = create_engine(backend.catalog_url)
    with engine.begin() as connection:
        version = {"t": info.id, "v": 1}
        gone = "SELECT id FROM table_versions WHERE table_id = :t AND version = :v"
        connection.execute(
            text(f"DELETE FROM lineage_edges WHERE table_version_id IN ({gone})"), version
        )
        connection.execute(
            text("DELETE FROM table_versions WHERE table_id = :t AND version = :v"), version
        )
    engine.dispose()
    with lake.connect() as reader:
        assert [v.version for v in reader.history("ml.labels")] == [0, 1, 2]


@pytest.mark.parametrize(
    "command", [["tables"], ["history", "ml.labels"], ["runs"], ["tables", "-o", "json"]]
)
def test_catalog_only_commands_start_without_sqlalchemy_or_pydantic(backend, command, tmp_path):
    with lake.connect() as lk:
        lk.write_table("ml.labels", pa.table({"id": [1]}))
    code = (
        "import sys\n"
        "from lake.faces.cli import main\n"
        f"sys.argv = ['lake', *{command!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'pydantic', 'deltalake', 'alembic')"
        " if m in sys.modules)\n"
        "sys.stderr.write('IMPORTED=' + ','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ml.labels" in done.stdout or command[0] != "tables"
    assert done.stderr.strip().endswith("IMPORTED="), done.stderr
    if command[-1] == "json":
        assert json.loads(done.stdout)[0]["table"] == "ml.labels"


def test_the_reader_module_needs_no_sqlalchemy():
    code = (
        "import sys, catalog.reader, lake.core.config, lake.faces.api\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert done.returncode == 0, done.stderr
