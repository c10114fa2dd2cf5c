"""Two training sets racing for one output folder, the window held open by a stopped child
(``LAKE_FAILPOINT=NAME:stop``). The catalog records which set a folder holds; the one that
got there second is refused, and the folder ends holding exactly the recorded set."""

from __future__ import annotations

import pyarrow as pa
import pytest

from catalog.exceptions import TrainingSetLocationTaken
from queries.exceptions import OutputFolderNotEmpty
from queries.manifest import MANIFEST_PATH, read_manifest
from tests.faults.conftest import assert_one_line_error, child_env, lake_argv, stopped_child

TABLE = "race.t"


def _materialize_argv(name: str, out) -> list[str]:
    return lake_argv("materialize", name, "--sql", f"SELECT n FROM {TABLE}", "--out", str(out))


@pytest.mark.timeout(300)
def test_a_set_registered_for_a_folder_keeps_it_from_a_second_writer_before_it_installs(
    backend, lk, tmp_path
):
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    out = tmp_path / "set"
    env = child_env(backend, LAKE_FAILPOINT="materialize_registered:stop")
    with stopped_child(_materialize_argv("first", out), env) as resume:
        # first@1 is registered at the folder, its files not yet moved in.
        with pytest.raises(TrainingSetLocationTaken, match=r"where training set first@1"):
            lk.materialize("second", sql=f"SELECT n * 2 AS n FROM {TABLE}", out=out)
        done = resume()
    assert done.returncode == 0, done.stderr
    held = read_manifest(out / MANIFEST_PATH)
    assert (held.name, held.version) == ("first", 1)
    assert [(s.name, str(s.location)) for s in lk.training_sets()] == [("first", str(out))]


@pytest.mark.timeout(300)
def test_a_set_that_finds_its_folder_taken_when_it_registers_is_refused(backend, lk, tmp_path):
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    out = tmp_path / "set"
    env = child_env(backend, LAKE_FAILPOINT="materialize_shards:stop")
    with stopped_child(_materialize_argv("first", out), env) as resume:
        # first has written its shards, nothing registered: second takes the folder.
        lk.materialize("second", sql=f"SELECT n * 2 AS n FROM {TABLE}", out=out)
        done = resume()
    assert done.returncode == 1
    assert_one_line_error(done.stderr, r"where training set second@1 is recorded")
    held = read_manifest(out / MANIFEST_PATH)
    assert (held.name, held.version) == ("second", 1)
    assert [(s.name, str(s.location)) for s in lk.training_sets()] == [("second", str(out))]


def _insert_is_held_off(catalog_url: str) -> bool:
    """Whether another writer's insert into the training sets waits (a short lock timeout
    ends it) while the stopped child is inside its registering transaction."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    sqlite = catalog_url.startswith("sqlite")
    engine = create_engine(catalog_url, connect_args={"timeout": 0.2} if sqlite else {})
    try:
        with engine.connect() as connection:
            if not sqlite:
                connection.execute(text("SET lock_timeout = '200ms'"))
            connection.execute(
                text(
                    "INSERT INTO training_sets (name, version, sql, content_hash, row_count, "
                    "manifest, created_at) VALUES ('probe', 1, 'SELECT 1', 'x', 0, '{}', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            connection.rollback()
    except OperationalError:
        return True
    finally:
        engine.dispose()
    return False


@pytest.mark.timeout(300)
def test_a_set_that_checked_its_folder_holds_off_another_registration_until_it_commits(
    backend, lk, tmp_path
):
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    out = tmp_path / "set"
    env = child_env(backend, LAKE_FAILPOINT="training_set_location_checked:stop")
    with stopped_child(_materialize_argv("first", out), env) as resume:
        # first found the folder free, inside its registering transaction: under READ
        # COMMITTED a second writer checking now would find it free too, and both would
        # commit a version at one folder. The second must wait for the first's commit.
        assert _insert_is_held_off(backend.catalog_url)
        done = resume()
    assert done.returncode == 0, done.stderr
    with pytest.raises(OutputFolderNotEmpty, match=r"holds training set first@1"):
        lk.materialize("second", sql=f"SELECT n * 2 AS n FROM {TABLE}", out=out)
    assert [(s.name, str(s.location)) for s in lk.training_sets()] == [("first", str(out))]


@pytest.mark.timeout(300)
def test_a_second_writer_of_the_same_set_never_deletes_the_files_a_live_writer_is_installing(
    backend, lk, tmp_path
):
    """first@1 is registered at the folder and has moved its shards in (its journal names
    them), its manifest not yet written. The same SQL over the same versions into that
    folder is the same version, so a second writer may write it there too; it took the
    journal for one a dead writer left, deleted the live writer's files and put its own
    (other shards: --shard-rows 1); the first then wrote its manifest over them, listing a
    file of 3 rows that held 1, and failed on the journal the second had removed."""
    from queries.training import _intact

    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    out = tmp_path / "set"
    env = child_env(backend, LAKE_FAILPOINT="materialize_install:stop")
    with stopped_child(_materialize_argv("first", out), env) as resume:
        try:
            lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=out, shard_rows=1)
        except OutputFolderNotEmpty:
            pass  # refused while another writer installs: the policy that keeps it right
        done = resume()
    held = read_manifest(out / MANIFEST_PATH)
    assert (held.name, held.version) == ("first", 1)
    assert _intact(held, out), "the manifest names files the folder does not hold as listed"
    assert done.returncode == 0, done.stderr
