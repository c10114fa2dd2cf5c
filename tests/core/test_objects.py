"""lake.core.objects: single requests and the one delete, on both backend pairs (S3 is moto)."""

from __future__ import annotations

import socket
import uuid
from dataclasses import replace

import pyarrow as pa
import pytest

from lake.core import objects
from lake.core.config import resolve
from lake.core.errors import StorageError, StorageUnreachable
from lake.core.storage import Storage
from lake.delta.log import entry_name
from tests.forking import in_a_forked_child


def _storage(backend) -> Storage:
    return Storage(resolve(warehouse=backend.warehouse, catalog_url=backend.catalog_url))


def _files(backend, storage: Storage, folder: str) -> list[str]:
    """Every key (S3) or file (local) under ``folder``, relative to it."""
    if backend.s3 is not None:
        bucket, prefix = objects.s3_key(folder)
        listed = backend.s3.client().list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
        return sorted(o["Key"][len(prefix) + 1 :] for o in listed.get("Contents", []))
    import os

    return sorted(
        os.path.relpath(os.path.join(root, name), folder)
        for root, _, names in os.walk(folder)
        for name in names
    )


def _write(storage: Storage, uri: str, body: bytes) -> None:
    fs, path = storage.filesystem_for(uri)
    if not storage.is_s3:
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(body)


def test_delete_removes_exactly_the_file_and_a_missing_one_is_no_error(backend):
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "scratch")
    for name in ("a/one", "a/two", "b/three"):
        _write(storage, f"{folder}/{name}", name.encode())

    objects.delete(storage, f"{folder}/a/one")
    objects.delete(storage, f"{folder}/a/one")  # gone already

    assert _files(backend, storage, folder) == ["a/two", "b/three"]  # no "a/" in its place
    objects.delete_tree(storage, f"{folder}/a")
    objects.delete_tree(storage, f"{folder}/a")
    assert _files(backend, storage, folder) == ["b/three"]
    if backend.s3 is not None:
        assert backend.s3.folder_markers(storage.warehouse) == []


def test_a_put_if_absent_on_a_taken_key_is_refused_and_changes_nothing(backend):
    if backend.s3 is None:
        pytest.skip("S3's conditional PUT; a local log entry is put by a hard link (DeltaStore)")
    storage = _storage(backend)
    path = storage.join(storage.warehouse, "race", entry_name(7))

    assert objects.exists(storage, path) is False
    assert objects.put_if_absent(storage, path, b"first") is True
    assert objects.put_if_absent(storage, path, b"second") is False
    assert objects.get(storage, path) == b"first" and objects.exists(storage, path) is True
    with pytest.raises(FileNotFoundError):
        objects.get(storage, storage.join(storage.warehouse, "race", entry_name(8)))


def test_a_log_entry_already_there_is_a_lost_race_unless_it_is_this_runs_own(lk, backend):
    if backend.s3 is None:
        pytest.skip("S3's conditional PUT; a local log entry is put by a hard link")
    lk.write_table("ml.t", pa.table({"id": [1, 2]}))
    store = lk.delta(lk.table("ml.t"))
    version = store.latest_version() + 1
    body = b'{"commitInfo":{"timestamp":1,"lake.run_id":"run-a"}}\n'

    assert store._put_if_absent(version, body, "run-a") is True
    # a retried PUT whose first try landed: refused by the server, but the entry is ours
    assert store._put_if_absent(version, body, "run-a") is True
    assert store._put_if_absent(version, body.replace(b"run-a", b"run-b"), "run-b") is False


def test_an_unreachable_server_is_one_sentence_naming_what_and_where(backend):
    if backend.s3 is None:
        pytest.skip("an S3 endpoint")
    storage = _storage(backend)
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    config = storage.config
    gone = Storage(
        replace(config, s3=replace(config.s3, endpoint_url=f"http://127.0.0.1:{closed}"))
    )
    where = f"{gone.warehouse}/{uuid.uuid4().hex}"

    with pytest.raises(StorageUnreachable, match=r"^The S3 server at http://127\.0\.0\.1:\d+ is "):
        objects.delete(gone, where)
    with pytest.raises(StorageError) as raised:
        objects.delete_tree(gone, where)
    assert "\n" not in str(raised.value) and where in str(raised.value)
    assert not any(secret in str(raised.value) for secret in backend.secrets)


def test_a_process_forked_after_s3_requests_still_reads_the_log(backend):
    """obstore's runtime (tokio) has no threads in a forked child: a request there waited
    forever (a PyTorch DataLoader worker, a multiprocessing pool of the default fork start
    method, after the parent queried the lake)."""
    from lake.delta.log import has_entry, read_entry

    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "forked")
    _write(storage, f"{folder}/{entry_name(0)}", b"zero")
    assert has_entry(storage, folder, 0) is True  # the parent's own requests come first
    objects.delete(storage, f"{folder}/gone")

    def child() -> tuple[object, ...]:
        objects.delete(storage, f"{folder}/gone")
        return (has_entry(storage, folder, 0), has_entry(storage, folder, 1)), read_entry(
            storage, folder, 0
        )

    assert in_a_forked_child(child) == ((True, False), b"zero")


def test_a_missing_bucket_is_named_not_taken_for_a_gone_file_or_an_unreachable_server(backend):
    if backend.s3 is None:
        pytest.skip("an S3 bucket")
    storage = _storage(backend)
    missing = f"s3://lake-missing-{uuid.uuid4().hex[:12]}"

    for delete in (objects.delete, objects.delete_tree):
        with pytest.raises(StorageError) as raised:
            delete(storage, f"{missing}/t/part-1.parquet")
        assert not isinstance(raised.value, StorageUnreachable)
        assert str(raised.value) == (
            f"The bucket {missing} does not exist on {backend.s3.endpoint}; create it first "
            f"or fix the location (s3://bucket/prefix)."
        )
    with pytest.raises(OSError) as failed:  # a data file's PUT (publish)
        objects.put(storage, f"{missing}/t/part-1.parquet", b"x")
    assert str(storage.translate(failed.value, f"{missing}/t")).startswith(
        f"The bucket {missing} does not exist on "
    )


def test_an_error_status_the_s3_server_answered_is_not_an_unreachable_server(backend):
    if backend.s3 is None:
        pytest.skip("an S3 endpoint")
    storage = _storage(backend)
    where = storage.join(storage.warehouse, "t")
    # object_store's words for a request the server answered with an error (after retries)
    answered = OSError(
        f"Generic S3 error: Error performing PUT {backend.s3.endpoint}/b/t/x in 4ms, after 3 "
        f"retries - Server returned non-2xx status code: 503 Service Unavailable: <?xml "
        f'version="1.0"?><Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>'
    )

    error = storage.translate(answered, where)

    assert not isinstance(error, StorageUnreachable)
    assert str(error) == (
        f"The S3 server at {backend.s3.endpoint} refused {where}: "
        f"503 Service Unavailable (SlowDown); run the command again."
    )


def test_delete_tree_removes_odd_names_and_no_folder_that_only_shares_its_prefix(backend):
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "tree")
    for name in ("t/part-1/a b%20=ü", "t/part-1/x/y", "t/part-10/z", "t/part-1.json"):
        _write(storage, f"{folder}/{name}", name.encode())

    objects.delete_tree(storage, f"{folder}/t/part-1")

    assert _files(backend, storage, folder) == ["t/part-1.json", "t/part-10/z"]


def test_a_process_forked_while_another_thread_made_a_client_can_send_requests(backend):
    """The module's lock, held by another thread at the fork (making a client, which imports
    obstore), stayed held for ever in the child."""
    # objects._LOCK held as another thread inside client() holds it at the moment of the fork
    answer = in_a_forked_child(
        lambda: objects.send(len, b"four").result(), holding=objects._LOCK, bound_s=60
    )
    assert answer == 4
