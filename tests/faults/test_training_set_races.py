"""Two training sets racing for one output folder, the window held open by a stopped child
(``LAKE_FAILPOINT=NAME:stop``). The catalog records which set a folder holds; the one that
got there second is refused, and the folder ends holding exactly the recorded set."""

from __future__ import annotations

import json
import socket

import pyarrow as pa
import pytest

from catalog.exceptions import TrainingSetLocationTaken
from queries.exceptions import OutputFolderNotEmpty
from queries.manifest import MANIFEST_PATH, read_manifest
from tests.boots import earlier_boot
from tests.faults.conftest import (
    assert_one_line_error,
    child_env,
    lake_argv,
    run_lake,
    stopped_child,
)

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


# -- an S3 prefix: no flock there; a lease object written put-if-absent instead --------------


@pytest.fixture
def s3_out(backend, s3_server, monkeypatch):
    """A fresh ``s3://`` prefix for the set, on the loopback S3 server whatever the warehouse
    (this process and the children it starts can write there); the server's client."""
    import uuid

    if s3_server is None:
        pytest.skip("the loopback S3 server (moto) could not start")
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    backend.env.update(s3_server.env())
    prefix = f"s3://{s3_server.bucket}/training-{uuid.uuid4().hex[:8]}/set"
    return prefix, s3_server


def _s3_objects(s3_server, prefix: str) -> dict[str, bytes]:
    client = s3_server.client()
    key = prefix.split("/", 3)[3]
    listed = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=key + "/").get("Contents", [])
    return {
        o["Key"][len(key) + 1 :]: client.get_object(Bucket=s3_server.bucket, Key=o["Key"])[
            "Body"
        ].read()
        for o in listed
    }


def _rows_a_loader_reads(s3_server, prefix: str) -> list[int]:
    """The rows of every Parquet object under the prefix, as a loader of the prefix reads them."""
    import io

    import pyarrow.parquet as pq

    return sorted(
        n
        for name, body in _s3_objects(s3_server, prefix).items()
        if name.endswith(".parquet")
        for n in pq.read_table(io.BytesIO(body)).column("n").to_pylist()
    )


def _remote_manifest(s3_server, prefix: str):
    from queries.manifest import Manifest

    body = _s3_objects(s3_server, prefix)[MANIFEST_PATH]
    return Manifest.from_json(json.loads(body), where=prefix)


def _remote_intact(s3_server, prefix: str, manifest) -> bool:
    import hashlib

    held = _s3_objects(s3_server, prefix)
    return all(
        hashlib.sha256(held.get(str(f["path"]), b"")).hexdigest() == f["sha256"]
        for f in manifest.files
    )


@pytest.mark.timeout(300)
def test_a_second_writer_of_the_same_set_on_s3_leaves_the_prefix_holding_one_manifests_files(
    backend, s3_out, lk
):
    """first@1 is registered at the prefix, its shards not yet uploaded; the same set (in
    other shards) is written there meanwhile and finishes. The first then uploaded its one
    shard over the second's first, left the second's other shards (a loader read 5 rows of
    3) and wrote its manifest over the second's: the files the second reported changed."""
    prefix, s3_server = s3_out
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    env = child_env(backend, LAKE_FAILPOINT="materialize_registered:stop")
    with stopped_child(_materialize_argv("first", prefix), env) as resume:
        second = lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=prefix, shard_rows=1)
        reported = {f.path: f.sha256 for f in second.files}
        done = resume()
    assert done.returncode == 0, done.stderr
    assert _rows_a_loader_reads(s3_server, prefix) == [1, 2, 3]
    held = _remote_manifest(s3_server, prefix)
    assert (held.name, held.version) == ("first", 1)
    assert _remote_intact(s3_server, prefix, held)
    # The set the second writer reported is the one the prefix holds.
    assert {str(f["path"]): f["sha256"] for f in held.files} == reported


@pytest.mark.timeout(300)
def test_a_writer_of_a_set_on_s3_is_refused_in_one_sentence_while_another_uploads(
    backend, s3_out, lk
):
    prefix, s3_server = s3_out
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    env = child_env(backend, LAKE_FAILPOINT="materialize_install:stop")
    with stopped_child(_materialize_argv("first", prefix), env) as resume:
        with pytest.raises(OutputFolderNotEmpty, match=r"Another writer .* run this again once"):
            lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=prefix, shard_rows=1)
        done = resume()
    assert done.returncode == 0, done.stderr
    held = _remote_manifest(s3_server, prefix)
    assert (held.name, held.version, held.row_count) == ("first", 1, 3)
    assert _remote_intact(s3_server, prefix, held)
    assert _rows_a_loader_reads(s3_server, prefix) == [1, 2, 3]


@pytest.mark.timeout(300)
def test_a_writer_that_died_uploading_a_set_on_s3_does_not_block_its_prefix(backend, s3_out, lk):
    """Killed with its shard uploaded and no manifest: the next writer took the dead one's
    shard for an object that is not the lake's and refused the prefix for ever."""
    prefix, s3_server = s3_out
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    died = run_lake(
        backend, *_materialize_argv("first", prefix)[3:], LAKE_FAILPOINT="materialize_install"
    )
    assert died.returncode == -9, died.stderr
    assert MANIFEST_PATH not in _s3_objects(s3_server, prefix)
    again = lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=prefix, shard_rows=2)
    assert (again.version, again.row_count) == (1, 3)
    held = _remote_manifest(s3_server, prefix)
    assert _remote_intact(s3_server, prefix, held)
    assert _rows_a_loader_reads(s3_server, prefix) == [1, 2, 3]


def _put_lease(
    s3_server,
    prefix: str,
    *,
    host: str,
    expires: str,
    files: list[str],
    process: dict | None = None,
) -> None:
    """A lease as another machine's writer leaves it (``.lake/writer.json``), and the file it
    was uploading."""
    key = prefix.split("/", 3)[3]
    client = s3_server.client()
    lease = {
        "writer": "0" * 32,
        "host": host,
        "pid": 4242,
        "since": "2026-12-07T09:00:00+00:00",
        "expires": expires,
        "files": files,
        **(process or {}),
    }
    client.put_object(
        Bucket=s3_server.bucket, Key=f"{key}/.lake/writer.json", Body=json.dumps(lease)
    )
    for name in files:
        client.put_object(Bucket=s3_server.bucket, Key=f"{key}/{name}", Body=b"half a shard")


@pytest.mark.timeout(300)
def test_a_writer_on_another_host_holds_an_s3_prefix_until_its_lease_expires(backend, s3_out, lk):
    from datetime import UTC, datetime, timedelta

    prefix, s3_server = s3_out
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    _put_lease(s3_server, prefix, host="elsewhere", expires=later, files=["part-00007.parquet"])
    with pytest.raises(
        OutputFolderNotEmpty,
        match=r"Another writer \(process 4242 on elsewhere, since .*\) is writing .* until "
        + later.replace("+", r"\+"),
    ):
        lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=prefix)
    assert sorted(_s3_objects(s3_server, prefix)) == [".lake/writer.json", "part-00007.parquet"]


@pytest.mark.timeout(300)
def test_an_expired_lease_of_a_writer_on_another_host_is_taken_over_and_its_files_cleared(
    backend, s3_out, lk
):
    from datetime import UTC, datetime, timedelta

    prefix, s3_server = s3_out
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    gone = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    _put_lease(s3_server, prefix, host="elsewhere", expires=gone, files=["part-00007.parquet"])
    done = lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=prefix)
    assert (done.status, done.row_count) == ("materialized", 3)
    assert sorted(_s3_objects(s3_server, prefix)) == [MANIFEST_PATH, "part-00000.parquet"]
    assert _rows_a_loader_reads(s3_server, prefix) == [1, 2, 3]


def _expire_lease(s3_server, prefix: str) -> None:
    """Ten minutes pass for the prefix's lease: its expiry is moved to the past, as the
    clocks of the writers that read it would see it (the writer holding it is stopped)."""
    from datetime import UTC, datetime, timedelta

    key = f"{prefix.split('/', 3)[3]}/.lake/writer.json"
    client = s3_server.client()
    lease = json.loads(client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read())
    lease["expires"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    client.put_object(Bucket=s3_server.bucket, Key=key, Body=json.dumps(lease))


@pytest.mark.timeout(300)
def test_a_shard_upload_that_outlives_its_writers_lease_never_lands_among_another_writers_files(
    backend, s3_out, lk
):
    """The first writer is stopped in the middle of uploading its one shard (a slow upload:
    pyarrow cannot abort one) until its lease expires; a second writer of the same set (in
    other shards) takes the prefix over and finishes. The first's upload then completed over
    the second's first shard: a loader read 5 rows of 3 and the manifest listed a file the
    prefix no longer held as written. Now a shard lands only when its writer still holds
    the lease, confirmed just before the upload completes; the first's upload is aborted."""
    prefix, s3_server = s3_out
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    env = child_env(backend, LAKE_FAILPOINT="materialize_upload:stop")
    with stopped_child(_materialize_argv("first", prefix), env) as resume:
        _expire_lease(s3_server, prefix)
        second = lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=prefix, shard_rows=1)
        done = resume()
    assert done.returncode == 1
    assert_one_line_error(done.stderr, r"hold on .* expired and another writer took it over")
    assert _rows_a_loader_reads(s3_server, prefix) == [1, 2, 3]
    held = _remote_manifest(s3_server, prefix)
    assert {str(f["path"]): f["sha256"] for f in held.files} == {
        f.path: f.sha256 for f in second.files
    }
    assert _remote_intact(s3_server, prefix, held)
    assert sorted(_s3_objects(s3_server, prefix)) == sorted(
        [MANIFEST_PATH, *(str(f["path"]) for f in held.files)]
    )
    key = prefix.split("/", 3)[3]
    pending = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket, Prefix=key + "/")
    assert pending.get("Uploads", []) == []


@pytest.mark.timeout(300)
def test_a_lease_of_another_container_with_this_host_name_holds_until_it_expires(
    backend, s3_out, lk
):
    """A writer of another container (or machine) with this host name holds the prefix; its
    pid is no process here. The lease was taken over at once and the writer's files
    deleted while it uploaded: a host name and a pid prove nothing. Nor does its machine id
    (its image's: the same on another machine) with another boot that began before ours."""
    from datetime import UTC, datetime, timedelta

    from lake.core.processes import this_process

    prefix, s3_server = s3_out
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    here = this_process()
    elsewhere = {
        **here,
        "pid": 4242,
        **earlier_boot(here),
        "pid_namespace": "pid:[4026532123]",
    }
    _put_lease(
        s3_server,
        prefix,
        host=socket.gethostname(),
        expires=later,
        files=["part-00007.parquet"],
        process=elsewhere,
    )
    with pytest.raises(OutputFolderNotEmpty, match=r"Another writer \(process 4242 on "):
        lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=prefix)
    assert sorted(_s3_objects(s3_server, prefix)) == [".lake/writer.json", "part-00007.parquet"]


@pytest.mark.timeout(300)
def test_a_lease_of_a_writer_of_this_machine_before_it_restarted_is_taken_over_at_once(
    backend, s3_out, lk
):
    """A power cut while a writer uploaded: its lease, renewed just before, held the prefix
    for ten minutes after the machine came back (another boot was unknown). Its process
    is provably gone: its files are cleared and the set is written at once."""
    from datetime import UTC, datetime, timedelta

    from lake.core.processes import INITIAL_PID_NAMESPACE, this_process

    here = this_process()
    if here["pid_namespace"] != INITIAL_PID_NAMESPACE or here["machine_id"] is None:
        pytest.skip("not a process of the machine itself, or no /etc/machine-id")
    prefix, s3_server = s3_out
    lk.write_table(TABLE, pa.table({"n": [1, 2, 3]}))
    later = (datetime.now(UTC) + timedelta(minutes=9)).isoformat(timespec="seconds")
    before = {
        **here,
        "pid": 4242,
        **earlier_boot(here),
    }
    _put_lease(
        s3_server,
        prefix,
        host=socket.gethostname(),
        expires=later,
        files=["part-00007.parquet"],
        process=before,
    )
    done = lk.materialize("first", sql=f"SELECT n FROM {TABLE}", out=prefix)
    assert (done.status, done.row_count) == ("materialized", 3)
    assert sorted(_s3_objects(s3_server, prefix)) == [MANIFEST_PATH, "part-00000.parquet"]
    assert _rows_a_loader_reads(s3_server, prefix) == [1, 2, 3]
