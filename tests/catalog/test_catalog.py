"""The catalog on every backend pair: migrations, recorded versions, self-healing."""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import create_engine, inspect, text

import lake
from catalog.catalog import Catalog
from catalog.database import HEAD_REVISION, create_at_head, open_engine, upgrade_by_migrations
from lake.core.errors import (
    CatalogError,
    CatalogOutdated,
    CatalogUnreachable,
    TableExists,
    TableLogReplaced,
    TableNotFound,
    VersionNotFound,
)
from lake.core.names import TableName


def test_the_newest_migration_is_the_revision_the_code_expects():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "catalog:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


@pytest.mark.empty_catalog_database
def test_first_use_creates_the_catalog_and_the_second_finds_it_current(backend):
    first = Catalog(backend.catalog_url)
    assert first.migration == "created"
    first.close()
    second = Catalog(backend.catalog_url)
    assert second.migration == "current"
    assert second.list_tables() == []
    second.close()


@pytest.fixture
def second_database(backend) -> Iterator[str]:
    """The URL of another empty database on the backend's catalog server."""
    if backend.pg is None:
        yield f"sqlite:///{Path(backend.warehouse).parent / 'second.db'}"
        return
    name = backend.pg.create_database()
    yield backend.pg.url(name)
    backend.pg.drop_database_later(name)


def _migrated(url: str) -> None:
    """``url``'s empty database taken to head the long way, through every migration."""
    engine = open_engine(url)
    with engine.connect() as connection:
        upgrade_by_migrations(connection, url)
    engine.dispose()


def test_the_migrated_catalog_is_exactly_what_the_definitions_declare(backend):
    """Every table change comes with its migration: nothing to autogenerate after upgrading."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from catalog.definitions import METADATA

    _migrated(backend.catalog_url)
    engine = create_engine(backend.catalog_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), METADATA)
    engine.dispose()
    assert differences == []


def test_the_orm_models_are_mapped_on_the_one_definition_of_each_table():
    """``catalog.models`` declares no table of its own: each class maps the Core ``Table``
    the write path writes and Alembic compares, so the two can never disagree."""
    from catalog import models
    from catalog.definitions import METADATA

    mapped = {mapper.local_table for mapper in models.Base.registry.mappers}
    assert models.Base.metadata is METADATA
    assert mapped == set(METADATA.tables.values())


def _schema(url: str) -> dict[str, Any]:
    """Everything a database's schema holds that the lake relies on, as plain values: per
    table its columns in order, keys, indexes, constraints and rows (``alembic_version``'s
    included), its triggers, and on PostgreSQL its sequences, views and functions."""
    engine = create_engine(url)
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        seen = inspect(connection)

        def named(items: list[dict[str, Any]]) -> list[str]:
            # Reflected dicts, in a stable order; SQL text with its spacing normalised.
            return sorted(" ".join(repr(sorted(item.items())).split()) for item in items)

        for table in sorted(seen.get_table_names()):
            columns = [
                {key: str(value) for key, value in column.items()}
                for column in seen.get_columns(table)
            ]
            found[table] = {
                "columns": columns,
                "primary key": seen.get_pk_constraint(table),
                "foreign keys": named(seen.get_foreign_keys(table)),
                "indexes": named(seen.get_indexes(table)),
                "unique": named(seen.get_unique_constraints(table)),
                "checks": named(seen.get_check_constraints(table)),
                "rows": sorted(
                    tuple(map(str, row))
                    for row in connection.execute(text(f"SELECT * FROM {table}"))
                ),
            }
        if connection.dialect.name == "postgresql":
            found["sequences"] = sorted(seen.get_sequence_names())
            found["views"] = sorted(seen.get_view_names())
            triggers = (
                "SELECT event_object_table, trigger_name, event_manipulation, action_timing, "
                "action_statement FROM information_schema.triggers"
            )
            functions = (
                "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            )
            found["functions"] = sorted(map(tuple, connection.execute(text(functions))))
        else:
            triggers = "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'"
        # The database's own rules (a version row deleted by hand: catalog.definitions)
        found["triggers"] = sorted(map(tuple, connection.execute(text(triggers))))
    engine.dispose()
    return found


@pytest.mark.empty_catalog_database
def test_a_new_catalog_has_the_schema_the_migrations_make(backend, second_database):
    """A new catalog is made at head in one pass (``catalog.database.create_at_head``), not
    by walking the migrations: both ways must give the same tables, columns, keys, indexes,
    constraints, triggers and rows, so a new migration without its model change (or the reverse)
    fails here."""
    created = Catalog(backend.catalog_url)
    assert created.migration == "created"
    created.close()
    _migrated(second_database)
    made, migrated = _schema(backend.catalog_url), _schema(second_database)
    assert made["alembic_version"]["rows"] == [(HEAD_REVISION,)]
    assert [trigger[1] for trigger in made["triggers"]] == ["table_versions_unrecorded"]
    assert made == migrated


@pytest.mark.empty_catalog_database
def test_a_catalog_at_an_older_revision_is_upgraded_by_the_migrations(backend, second_database):
    from alembic import command
    from alembic.config import Config

    engine = create_engine(backend.catalog_url)
    with engine.connect() as connection:
        config = Config()
        config.set_main_option("script_location", "catalog:migrations")
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")  # a catalog as a lake of that revision left it
        connection.commit()
    engine.dispose()
    assert "leases" not in _schema(backend.catalog_url)  # what 0004 adds
    upgraded = Catalog(backend.catalog_url)
    assert upgraded.migration == "upgraded from 0003"
    upgraded.close()
    engine = create_engine(second_database)
    with engine.connect() as connection:
        create_at_head(connection)
    engine.dispose()
    assert _schema(backend.catalog_url) == _schema(second_database)


def _totals_as_the_first_lake_recorded_them(location: str, version: int, options) -> tuple:
    """A version's rows, files and bytes as the lake of revision 0001 recorded them: its
    snapshot's sum of the log's ``numRecords``, count of files and sum of their sizes."""
    from deltalake import DeltaTable

    adds = pa.RecordBatchReader.from_stream(
        DeltaTable(location, version=version, storage_options=options).get_add_actions(flatten=True)
    ).read_all()
    rows = sum(adds.column("num_records").to_pylist())
    return rows, adds.num_rows, sum(adds.column("size_bytes").to_pylist())


def test_versions_a_first_revision_catalog_recorded_pass_the_checks_that_compare_them(backend, cli):
    """Every revision's lake recorded a version's totals the same way (since 0001, from its
    snapshot: the log's numRecords summed, its files counted, their sizes summed), or not at
    all (NULL, never compared): reads, writes and sync of a catalog upgraded from 0001, which
    compare them with the log (``catalog.records``), refuse nothing."""
    from alembic import command
    from alembic.config import Config

    with lake.connect() as lk:
        lk.write_table("old.t", _labels(3))
        lk.write_table("old.t", _labels(2, 3))
        lk.write_table("old.u", _labels(1))
        options = lk.storage.delta_options()
        locations = {n: lk.table(f"old.{n}").location for n in ("t", "u")}
    engine = create_engine(backend.catalog_url)
    with engine.connect() as connection:
        config = Config()
        config.set_main_option("script_location", "catalog:migrations")
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")  # the catalog's tables as the first lake left them
        for version in (0, 1):
            rows, files, size = _totals_as_the_first_lake_recorded_them(
                locations["t"], version, options
            )
            connection.execute(
                text(
                    "UPDATE table_versions SET rows_total = :r, files_total = :f, "
                    "bytes_total = :b WHERE version = :v "
                    "AND table_id = (SELECT id FROM tables WHERE name = 't')"
                ),
                {"r": rows, "f": files, "b": size, "v": version},
            )
        connection.execute(
            text(
                "UPDATE table_versions SET rows_total = NULL, files_total = NULL, "
                "bytes_total = NULL WHERE table_id = (SELECT id FROM tables WHERE name = 'u')"
            )
        )
        connection.commit()
    engine.dispose()
    upgraded = Catalog(backend.catalog_url)
    assert upgraded.migration == "upgraded from 0001"
    upgraded.close()

    with lake.connect() as lk:
        assert lk.sql("SELECT count(*) AS n FROM old.t VERSION AS OF 0").rows() == [{"n": 3}]
        assert lk.sql("SELECT sum(id) AS s FROM old.t").rows() == [{"s": 10}]
        assert lk.sql("SELECT sum(id) AS s FROM old.u").rows() == [{"s": 0}]
        assert lk.write_table("old.t", _labels(1, 5)).version == 2
        assert lk.write_table("old.u", _labels(1, 5)).version == 1
    synced = cli("catalog", "sync", "--output", "json")
    assert synced.exit_code == 0, synced.stderr
    assert [r["error"] for r in synced.json()] == [None, None]


def test_a_catalog_from_a_newer_lake_is_refused_not_rebuilt(backend):
    Catalog(backend.catalog_url).close()
    engine = create_engine(backend.catalog_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(CatalogOutdated, match="revision 9999.*newer lake"):
        Catalog(backend.catalog_url)


@pytest.mark.empty_catalog_database
def test_a_database_that_is_not_a_lake_catalog_is_refused(backend):
    engine = create_engine(backend.catalog_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE customers (id integer)"))
    engine.dispose()
    with pytest.raises(CatalogError, match="not a lake catalog"):
        Catalog(backend.catalog_url)


def test_an_unreachable_catalog_server_is_one_sentence_without_the_password():
    url = "postgresql+psycopg2://lake:s3cret-pw@127.0.0.1:1/lake"
    with pytest.raises(CatalogUnreachable) as caught:
        Catalog(url, retry_wait=0.01)  # the same tries, without the default's 1.5 s of waits
    assert "unreachable" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("environ", "toml", "first"),
    [
        ({}, "", 0.5),
        ({"LAKE_CATALOG_RETRY_WAIT": "0.25"}, "", 0.25),
        ({}, "catalog_retry_wait = 0\n", 0.0),
        ({"LAKE_CATALOG_RETRY_WAIT": "3"}, "catalog_retry_wait = 0\n", 3.0),
    ],
)
def test_the_waits_before_reconnecting_to_an_unreachable_catalog_follow_the_setting(
    tmp_path, monkeypatch, environ, toml, first
):
    """``catalog_retry_wait`` is the first wait; each next one is twice the one before:
    opening the catalog tries 3 times, a unit of work 5. The waits are recorded, not slept."""
    import time
    from types import SimpleNamespace

    import catalog.database
    from catalog.connection import Connection

    slept: list[float] = []
    monkeypatch.setattr(
        catalog.database, "time", SimpleNamespace(sleep=slept.append, monotonic=time.monotonic)
    )
    (tmp_path / "lake.toml").write_text(toml)
    url = "postgresql+psycopg2://lake@127.0.0.1:1/lake"
    environ = {**environ, "LAKE_CATALOG_URL": url, "LAKE_WAREHOUSE": str(tmp_path / "wh")}
    with lake.connect(cwd=tmp_path, environ=environ) as connected:
        with pytest.raises(CatalogUnreachable, match="is unreachable"):
            connected.catalog  # noqa: B018 - opening it is what fails
        assert slept == [first, 2 * first]
        slept.clear()
        opened = Connection(url, migrate=False, retry_wait=connected.config.catalog_retry_wait_s)
        with pytest.raises(CatalogUnreachable, match="is unreachable"):
            opened.core_transaction(lambda connection: connection.execute(text("SELECT 1")))
        opened.close()
    assert slept == [first, 2 * first, 4 * first, 8 * first]


def test_a_wrong_catalog_password_is_reported_without_the_password(pg_server):
    if pg_server is None:
        pytest.skip("no PostgreSQL")
    # trust authentication accepts any password, so ask for a user that does not exist
    url = pg_server.url("postgres").replace(f"{pg_server.user}@", "nobody_at_all:pw-visible@")
    with pytest.raises(CatalogUnreachable) as caught:
        Catalog(url)
    assert "pw-visible" not in str(caught.value)


def _labels(n: int, start: int = 0) -> pa.Table:
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()), "label": ["ok"] * n})


def test_each_write_is_one_version_recorded_with_its_run(lk):
    first = lk.write_table("ml.labels", _labels(3))
    second = lk.write_table("ml.labels", _labels(2, start=3))
    assert (first.version, second.version) == (0, 1)
    history = lk.history("ml.labels")
    assert [(v.version, v.rows_added, v.rows_total) for v in history] == [(0, 3, 3), (1, 2, 5)]
    run = lk.run(history[1].run_id)
    assert run.status == "completed"
    assert run.kind == "write"
    assert run.stats["version"] == 1


def test_describe_shows_any_recorded_version_and_refuses_one_that_does_not_exist(lk):
    lk.write_table("ml.labels", _labels(3))
    lk.write_table("ml.labels", pa.table({"id": [9], "label": ["bad"], "weight": [0.5]}))
    old = lk.describe("ml.labels@0")
    new = lk.describe("ml.labels")
    assert [f.name for f in old.snapshot.schema] == ["id", "label"]
    assert [f.name for f in new.snapshot.schema] == ["id", "label", "weight"]
    assert new.version.rows_total == 4
    with pytest.raises(
        VersionNotFound, match="Version 7 of ml.labels is not recorded; the latest is 1"
    ):
        lk.describe("ml.labels", version=7)
    with pytest.raises(
        TableNotFound, match="Table ml.nothing does not exist. Known tables: ml.labels"
    ):
        lk.describe("ml.nothing")


def test_a_commit_the_catalog_missed_is_recorded_with_its_run_on_next_touch(lk, tmp_path):
    """A writer died between the Delta commit and the catalog write: the next touch heals it."""
    import pyarrow.parquet as pq

    from catalog.ledger import PendingFile
    from lake.delta.snapshot import StagedFile

    lk.write_table("ml.labels", _labels(3))
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    store = lk.delta(info)
    run_id = lk.catalog.start_run(kind="write", job="crashy", parameters={})
    lk.catalog.prepare_commit(
        run_id,
        table_id=info.id,
        outcome={
            "drift": [
                {"column": "weight", "change": "added", "new_type": "double", "source": "mem://x"}
            ]
        },
        files=[PendingFile("file:///x.log", "ab" * 32, 0, 10, 1, 1)],
    )
    staged = tmp_path / "staged.parquet"
    pq.write_table(pa.table({"id": [3], "label": ["x"], "weight": [1.0]}), staged)
    store.append(
        [StagedFile(staged)],
        schema=store.snapshot().schema.append(pa.field("weight", pa.float64())),
        run_id=run_id,
        operation="APPEND",
    )
    # ... and the process died here: the catalog has not heard of version 1.
    assert lk.catalog.get_table(info.name).current_version == 0
    assert lk.catalog.get_run(run_id).status == "running"

    history = lk.history("ml.labels")  # touching the table heals the catalog

    assert [v.version for v in history] == [0, 1]
    assert history[1].run_id == run_id
    assert lk.catalog.get_run(run_id).status == "completed"
    assert [c.column for c in lk.catalog.schema_changes(info)] == ["weight"]
    assert [f.version for f in lk.catalog.ingested_files(info)] == [1]


def test_catalog_sync_records_versions_written_by_another_tool(lk, cli):
    from deltalake import write_deltalake

    lk.write_table("ml.labels", _labels(3))
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    write_deltalake(
        info.location, _labels(4, 3), mode="append", storage_options=lk.storage.delta_options()
    )

    result = cli("catalog", "sync", "--output", "json")

    assert result.exit_code == 0, result.stderr
    assert result.json() == [
        {"table": "ml.labels", "recorded": [1], "latest": 1, "released": [], "error": None}
    ]
    version = lk.catalog.get_version(info, 1)
    assert version.run_id is None
    assert (version.rows_added, version.rows_total) == (4, 7)
    again = cli("catalog", "sync", "ml.labels", "--output", "json")
    assert again.json() == [
        {"table": "ml.labels", "recorded": [], "latest": 1, "released": [], "error": None}
    ]


def _damage(lk, name: str, *, gone: bool) -> str:
    """Delete a table's folder (``gone``) or give its log a version 2 whose entry is not JSON,
    behind the lake's back; the table's location."""
    location = lk.catalog.get_table(TableName.parse(name)).location
    fs, path = lk.storage.filesystem_for(location)
    if gone:
        fs.delete_dir(path)
    else:
        with fs.open_output_stream(f"{path}/_delta_log/{2:020d}.json") as out:
            out.write(b"garbage{\n")
    return location


def test_catalog_sync_syncs_every_table_it_can_and_names_each_that_failed(lk, cli):
    from deltalake import write_deltalake

    for name in ("a.broken", "a.gone", "a.good", "b.behind"):
        lk.write_table(name, _labels(2))
        lk.write_table(name, _labels(1, 2))
    behind = lk.catalog.get_table(TableName.parse("b.behind"))
    write_deltalake(
        behind.location, _labels(4, 3), mode="append", storage_options=lk.storage.delta_options()
    )
    broken = _damage(lk, "a.broken", gone=False)
    gone = _damage(lk, "a.gone", gone=True)

    result = cli("catalog", "sync", "--output", "json")

    assert result.exit_code == 1, result.stdout
    assert "Traceback" not in result.stderr
    by_table = {r["table"]: r for r in result.json()}
    assert by_table["a.good"] == {
        "table": "a.good",
        "recorded": [],
        "latest": 1,
        "released": [],
        "error": None,
    }
    assert by_table["b.behind"] == {
        "table": "b.behind",
        "recorded": [2],
        "latest": 2,
        "released": [],
        "error": None,
    }
    assert lk.catalog.get_version(behind, 2).rows_total == 7
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, result.stderr
    for line, name in zip(lines, ("a.broken", "a.gone"), strict=True):
        assert line.startswith(f"error: {name} was not synced: ") and line.endswith("."), line
        assert line.removeprefix("error: ") == by_table[name]["error"]
        assert by_table[name]["recorded"] == []
    assert "not valid JSON" in lines[0] and "restore" in lines[0], lines[0]
    assert "a.gone is gone from the warehouse" in lines[1] and "restore" in lines[1], lines[1]
    assert gone not in lines[1] and broken not in lines[1]

    table = cli("catalog", "sync")  # the table for people, the same failures on stderr
    assert table.exit_code == 1
    assert "b.behind" in table.stdout and "a.gone" in table.stdout
    assert table.stderr.splitlines() == lines


def test_catalog_sync_of_a_table_whose_folder_is_gone_says_so(lk, cli):
    lk.write_table("a.gone", _labels(2))
    location = _damage(lk, "a.gone", gone=True)

    result = cli("catalog", "sync", "a.gone")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: The Delta log of a.gone is gone from the warehouse")
    assert location not in result.stderr and len(result.stderr.splitlines()) == 1
    with pytest.raises(TableNotFound, match="restore"):
        lk.sync("a.gone")
    with pytest.raises(TableNotFound, match="The Delta log of a.gone is gone"):
        lk.sql("SELECT * FROM a.gone")


def _reads_of_a_table_made_again(out: str) -> list[str]:
    """In a new process: the refusals of reading a.redo's versions 1 and 0, rebuilding the set
    made from version 1, and describing version 1 (the catalog records 4 rows in 2 files at
    version 1; the log's has 2 in 2)."""
    refusals = []
    with lake.connect() as fresh:
        for read in (
            lambda: fresh.sql("SELECT * FROM a.redo VERSION AS OF 1"),
            lambda: fresh.sql("SELECT * FROM a.redo VERSION AS OF 0"),
            lambda: fresh.materialize(from_="redo@1", out=out),
            lambda: fresh.describe("a.redo@1"),
        ):
            try:
                read()
            except TableLogReplaced as refused:
                refusals.append(str(refused))
            else:
                refusals.append("not refused")
    return refusals


def test_a_table_re_created_at_its_location_is_not_read_as_the_versions_recorded(lk, tmp_path):
    from deltalake import write_deltalake

    lk.write_table("a.redo", _labels(2))
    lk.write_table("a.redo", _labels(2, 2))
    lk.materialize("redo", sql="SELECT * FROM a.redo VERSION AS OF 1", out=tmp_path / "set")
    location = _damage(lk, "a.redo", gone=True)
    # Another table at the same location (a folder deleted and written again, another
    # engine's CREATE OR REPLACE after a DROP): its versions 0 and 1 hold other rows.
    for start in (10, 11):
        write_deltalake(
            location, _labels(1, start), mode="append", storage_options=lk.storage.delta_options()
        )
    # What the next process sees (this one keeps the snapshots and files it read).
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        refusals = pool.apply(_reads_of_a_table_made_again, (str(tmp_path / "again"),))
    for version, refusal in zip((1, 0), refusals, strict=False):
        assert refusal.startswith(f"Version {version} of a.redo in its Delta log is not")
    assert "restore the table's folder" in refusals[2]
    assert re.search(r"\(4 rows, 2 files, \d+ bytes recorded, 2 rows, 2 files", refusals[3])

    # A version past the recorded ones continues the other table: not recorded as this one's.
    write_deltalake(
        location, _labels(1, 12), mode="append", storage_options=lk.storage.delta_options()
    )
    with pytest.raises(TableLogReplaced, match=r"Version 1 of a\.redo"):
        lk.sync("a.redo")
    with pytest.raises(TableLogReplaced):
        lk.history("a.redo")
    info = lk.catalog.get_table(TableName.parse("a.redo"))
    assert [v.version for v in lk.catalog.versions(info)] == [0, 1]


def test_catalog_sync_refuses_a_table_made_again_with_no_new_version_to_record(lk, cli):
    # Another table at the location with as many versions as the catalog recorded: nothing to
    # record, and sync called the table current while every read of it was refused.
    from deltalake import write_deltalake

    lk.write_table("a.redo", _labels(2))
    lk.write_table("a.redo", _labels(2, 2))
    location = _damage(lk, "a.redo", gone=True)
    for start in (10, 11):
        write_deltalake(
            location, _labels(1, start), mode="append", storage_options=lk.storage.delta_options()
        )

    result = cli("catalog", "sync", "a.redo")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: Version 1 of a.redo in its Delta log is not the one the catalog recorded (4 rows"
    )
    assert location not in result.stderr and len(result.stderr.splitlines()) == 1
    with pytest.raises(TableLogReplaced, match=r"Version 1 of a\.redo"):
        lk.sync("a.redo")


def test_catalog_sync_refuses_a_table_made_again_with_fewer_versions(lk, cli):
    # The log's latest was below the newest recorded version: sync called the table current
    # (and marked the versions through that latest as the recorded prefix).
    from deltalake import write_deltalake

    lk.write_table("a.redo", _labels(2))
    lk.write_table("a.redo", _labels(2, 2))
    location = _damage(lk, "a.redo", gone=True)
    write_deltalake(
        location, _labels(1, 10), mode="append", storage_options=lk.storage.delta_options()
    )

    result = cli("catalog", "sync", "a.redo")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: Version 1 of a.redo in its Delta log is not the one the catalog recorded (4 rows"
    )
    assert "none: version 0 is the latest in the log" in result.stderr
    assert location not in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("versions", "found"),
    [
        (2, r"recorded, 2 rows, 2 files, \d+ bytes in the log\)"),
        (1, r"none: version 0 is the latest"),
    ],
    ids=["as-many-versions", "fewer-versions"],
)
def test_a_process_that_read_a_table_before_it_was_made_again_names_the_replacement(
    lk, versions, found
):
    # This process keeps the version's snapshot (its files) from its first read: the second
    # read met the old table's files missing and blamed vacuum, which removed nothing.
    from deltalake import write_deltalake

    # Files large enough that reading their footers does not fetch them whole: on S3 DuckDB
    # would serve the blocks it read from its cache (the lake trusts it: a data file never
    # changes in place), and the second read succeed with the recorded version's rows.
    noise = pa.table({"id": pa.array(range(0, 400_000, 7), pa.int64())})
    lk.write_table("a.redo", _labels(2))
    lk.write_table("a.redo", noise)
    assert lk.sql("SELECT count(*) AS n FROM a.redo").rows() == [{"n": 2 + noise.num_rows}]
    location = _damage(lk, "a.redo", gone=True)
    for start in range(10, 10 + versions):
        write_deltalake(
            location, _labels(1, start), mode="append", storage_options=lk.storage.delta_options()
        )

    with pytest.raises(TableLogReplaced, match=r"^Version 1 of a\.redo in its Delta log is not"):
        lk.sql("SELECT sum(id) AS s FROM a.redo")
    with pytest.raises(TableLogReplaced, match=found):
        lk.sql("SELECT sum(id) AS s FROM a.redo")  # the resolver's own refusal now


def test_recording_the_same_commit_twice_keeps_one_record(lk):
    version = lk.write_table("ml.labels", _labels(3))
    info = lk.catalog.get_table(TableName.parse("ml.labels"))
    store = lk.delta(info)
    commit = store.history()[0]
    again = lk.catalog.record_commit(info, commit, store.snapshot(0), previous=None)
    assert again == version
    assert len(lk.catalog.versions(info)) == 1


def test_schemas_are_stored_once_per_distinct_content(lk):
    lk.write_table("ml.a", _labels(1))
    lk.write_table("ml.b", _labels(2))
    a = lk.history("ml.a")[0]
    b = lk.history("ml.b")[0]
    assert a.schema_id == b.schema_id
    assert lk.catalog.schema(a.schema_id).names == ["id", "label"]


def test_a_type_change_is_refused_and_the_table_stays_at_its_last_version(lk):
    from lake.core.errors import SchemaConflict

    lk.write_table("ml.labels", _labels(3))
    with pytest.raises(SchemaConflict, match=r"Column 'id' .* is int64, the new data has double"):
        lk.write_table("ml.labels", pa.table({"id": [1.5], "label": ["x"]}))
    assert [v.version for v in lk.history("ml.labels")] == [0]
    failed = [r for r in lk.runs() if r.status == "failed"]
    assert len(failed) == 1 and "Column 'id'" in failed[0].error


def test_connect_works_from_the_python_api_with_explicit_settings(tmp_path):
    with lake.connect(
        warehouse=str(tmp_path / "wh"), catalog=f"sqlite:///{tmp_path / 'c.db'}"
    ) as lk:
        lk.init()
        assert lk.tables() == []
        assert (tmp_path / "wh").is_dir()


def test_a_writers_first_transaction_finds_the_table_its_ingested_ranges_and_starts_its_run(lk):
    name = TableName.parse("web.first")
    first = lk.catalog.start_write(
        name,
        table_kind="logs",
        location="file:///nowhere/web/first",
        kind="ingest_logs",
        parameters={"paths": ["a.jsonl"]},
        ingested=["a.jsonl"],
        sizes=[10],
    )
    assert first.table.name == name and first.table.kind == "logs"
    assert first.ingested == ()
    run = lk.run(first.run_id)
    assert (run.status, run.kind, run.job) == ("running", "ingest_logs", "ingest_logs:web.first")
    second = lk.catalog.start_write(
        name, table_kind="logs", location="file:///elsewhere", kind="write", parameters={}
    )
    assert second.table.id == first.table.id and second.ingested is None
    assert second.run_id != first.run_id


def test_a_writer_that_finds_a_table_of_another_kind_starts_no_run(lk):
    lk.write_table("ml.labels", _labels(1))
    before = len(lk.catalog.list_runs())
    with pytest.raises(TableExists, match="already exists"):
        lk.catalog.start_write(
            TableName.parse("ml.labels"),
            table_kind="logs",
            location="file:///x",
            kind="ingest_logs",
            parameters={},
        )
    assert len(lk.catalog.list_runs()) == before
