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
