"""lake.core.objects: single requests and the one delete, on both backend pairs (S3 is moto)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import replace

import pyarrow as pa
import pytest

from lake.core import objects, s3_keys
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


def test_of_puts_if_absent_racing_for_one_key_exactly_one_is_taken(backend):
    """The commit protocol's rule, which the test server must keep as S3 does: moto checked
    for the key and then stored it, so two writers racing for one log entry could both be
    told it was theirs, the second overwriting the first (seen once in nine runs of the
    four-process ingest race at load 10: a version the catalog recorded with one writer's
    file while the log held the other's). A guard, not a proof: the window is a few lines of
    moto's, and this test passed on a quiet machine before tests/s3_server.py closed it."""
    from concurrent.futures import ThreadPoolExecutor

    if backend.s3 is None:
        pytest.skip("S3's conditional PUT; a local log entry is put by a hard link (DeltaStore)")
    storage = _storage(backend)
    writers = 8
    keys = [storage.join(storage.warehouse, "race", entry_name(v)) for v in range(60)]
    objects.put_if_absent(storage, storage.join(storage.warehouse, "warm"), b"")  # the client
    with ThreadPoolExecutor(writers) as pool:
        for path in keys:
            put = lambda w, p=path: objects.put_if_absent(storage, p, b"%d" % w)  # noqa: E731
            won = list(pool.map(put, range(writers)))
            assert won.count(True) == 1, f"{path}: {won.count(True)} writers were told it's theirs"
            assert objects.get(storage, path) == b"%d" % won.index(True)


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


def _put_raw(backend, storage: Storage, folder: str, keys: list[str]) -> None:
    """Keys as another tool writes them (boto3: the S3 console, Spark, rclone), exactly."""
    bucket, prefix = objects.s3_key(folder)
    for key in keys:
        backend.s3.client().put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=b"")


def _raw_keys(backend, folder: str) -> list[str]:
    """Every key under ``folder/`` by S3's own listing (not the lake's client)."""
    bucket, prefix = objects.s3_key(folder)
    pages = backend.s3.client().get_paginator("list_objects_v2")
    return sorted(
        item["Key"][len(prefix) + 1 :]
        for page in pages.paginate(Bucket=bucket, Prefix=prefix + "/")
        for item in page.get("Contents", [])
    )


def test_delete_tree_on_s3_removes_the_folder_markers_other_tools_make(backend):
    """obstore never lists a folder marker ("t/", "t/sub/": the S3 console, Spark and
    rclone make them) and its delete of "t/" deletes "t": they outlived the delete."""
    if backend.s3 is None:
        pytest.skip("S3 folder markers (a local folder is removed with its folders)")
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "markers")
    _put_raw(backend, storage, folder, ["t/", "t/sub/", "t/sub/part-1.parquet", "tt/", "tt/k"])

    objects.delete_tree(storage, f"{folder}/t")

    assert _raw_keys(backend, folder) == ["tt/", "tt/k"]


def test_delete_tree_on_s3_removes_keys_obstore_cannot_name(backend):
    """A key with an empty or dot segment or a control character made obstore's listing
    fail with its own error, and the delete stopped there."""
    if backend.s3 is None:
        pytest.skip("S3 keys that are no path (a local file has no such name)")
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "odd")
    # moto stores no key holding a line feed (its router answers 404).
    odd = [
        *("t//x.parquet", "t//", "t/./a", "t/../b", "t/../\x02z", "t/\x01c\rr", "t/cr\ronly"),
        *("t/tab\there", "t/a b%20c ", "t/%2Fx", "t/ü\u2028"),
    ]
    _put_raw(backend, storage, folder, [*odd, "t-kept/x"])
    assert len(_raw_keys(backend, folder)) == len(odd) + 1

    objects.delete_tree(storage, f"{folder}/t")

    assert _raw_keys(backend, folder) == ["t-kept/x"]


def test_delete_tree_on_s3_takes_more_keys_than_one_listing_answers(backend, monkeypatch):
    """S3 answers a listing in pages (of 1,000 keys at most); the pages are made 10 keys long
    here by the request's own MaxKeys, so 25 keys take three listings, as 1,003 keys would take
    two at the server's default, without 1,003 PUTs to moto."""
    if backend.s3 is None:
        pytest.skip("S3's pages of keys")
    import botocore.handlers

    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "many")
    bucket, prefix = objects.s3_key(folder)
    s3 = backend.s3.client()
    for n in range(25):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/t/{n:05d}", Body=b"")

    def small_pages(params: dict, **_: object) -> None:
        params["MaxKeys"] = 10

    def count_page(parsed: dict, **_: object) -> None:
        pages.append(len(parsed.get("Contents", [])))

    pages: list[int] = []
    # Every botocore session made from now on asks for pages of 10 keys; the lake keeps one
    # client per settings and process, so the delete runs in a forked child, whose client
    # is new (and made with these handlers).
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [
            *botocore.handlers.BUILTIN_HANDLERS,
            ("before-parameter-build.s3.ListObjectsV2", small_pages),
            ("after-call.s3.ListObjectsV2", count_page),
        ],
    )

    def delete() -> list[int]:
        objects.delete_tree(storage, f"{folder}/t")
        return pages

    listed = in_a_forked_child(delete)
    monkeypatch.undo()
    assert _raw_keys(backend, folder) == []
    assert listed == [10, 10, 5]  # the listing took more than one page


def _without_keys(storage: Storage, **changes: object) -> Storage:
    config = storage.config
    s3 = replace(config.s3, access_key_id=None, secret_access_key=None, **changes)
    return Storage(replace(config, s3=s3))


def test_delete_tree_without_keys_in_the_settings_signs_with_botocores_own_chain(
    backend, monkeypatch
):
    """With no keys in the settings (an instance role, a profile), botocore's credential
    chain signs and every key goes; obstore, which deleted there, stopped at a key it cannot
    name and never saw the folder marker."""
    if backend.s3 is None:
        pytest.skip("S3 credentials")
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "keyless")
    _put_raw(backend, storage, folder, ["t/", "t/a.parquet", "t//x.parquet", "tt/k"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", storage.config.s3.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", storage.config.s3.secret_access_key)

    objects.delete_tree(_without_keys(storage), f"{folder}/t")

    assert _raw_keys(backend, folder) == ["tt/k"]


def test_delete_tree_with_no_credentials_anywhere_says_where_to_set_them(
    backend, monkeypatch, tmp_path
):
    if backend.s3 is None:
        pytest.skip("S3 credentials")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(s3_keys, "_CLIENTS", {})  # none made with another test's chain
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "nokeys")
    _put_raw(backend, storage, folder, ["t/a.parquet"])

    with pytest.raises(StorageUnreachable) as raised:
        objects.delete_tree(_without_keys(storage), f"{folder}/t")

    assert str(raised.value) == (
        f"No S3 credentials were found for {folder}/t (not in the settings, the environment, "
        f"~/.aws or an instance role); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
    )
    assert _raw_keys(backend, folder) == ["t/a.parquet"]


def test_delete_tree_sends_nothing_over_plain_http_unless_allowed(backend):
    """deltalake and obstore refuse an http endpoint without AWS_ALLOW_HTTP; the lake's own
    signed listing and deletes went over it anyway."""
    if backend.s3 is None:
        pytest.skip("an S3 endpoint")
    storage = _storage(backend)
    assert storage.config.s3.endpoint_url.startswith("http://")
    folder = storage.join(storage.warehouse, "plain-http")
    _put_raw(backend, storage, folder, ["t/a.parquet"])
    config = storage.config
    refused = Storage(replace(config, s3=replace(config.s3, allow_http=False)))

    with pytest.raises(StorageError) as raised:
        objects.delete_tree(refused, f"{folder}/t")

    assert str(raised.value) == (
        f"The S3 endpoint {config.s3.endpoint_url} is plain http, which the lake uses only "
        f"when AWS_ALLOW_HTTP is true; set it to true or use an https endpoint."
    )
    assert _raw_keys(backend, folder) == ["t/a.parquet"]


def test_a_key_deltalake_cannot_name_in_a_table_folder_stops_vacuum_in_one_sentence(lk, backend):
    """deltalake's vacuum lists the table's folder with object_store: one key with an empty
    segment (another tool's "t//x.parquet") failed it with object_store's own words."""
    if backend.s3 is None:
        pytest.skip("S3 keys that are no path (a local file has no such name)")
    lk.write_table("ml.t", pa.table({"id": [1, 2]}))
    location = lk.table("ml.t").location
    _put_raw(backend, lk.storage, location, ["x//y.parquet"])

    with pytest.raises(StorageError) as refused:
        lk.vacuum("ml.t", retain="0d")

    key = f"{objects.s3_key(location)[1]}/x//y.parquet"
    assert str(refused.value) == (
        f"Storage failed for vacuuming {location}: the key {key!r} has an empty, '.' or '..' "
        f"segment or a control character, which deltalake and obstore cannot name; delete or "
        f"rename that key with another tool (aws s3 rm, rclone) and try again."
    )


def test_a_process_forked_after_s3_requests_deletes_a_tree_and_makes_no_folder_marker(backend):
    """A forked child deleted through pyarrow's delete_dir (obstore's runtime has no threads
    there), which made a marker for the parent ("forked-tree/"); it makes its own botocore
    client, even while a thread of the parent held the clients' lock at the fork."""
    if backend.s3 is None:
        pytest.skip("S3 requests in a forked child")
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "forked-tree")
    _put_raw(backend, storage, folder, ["t/a.parquet", "t/sub/", "t//x.parquet"])
    objects.delete(storage, f"{folder}/gone")  # obstore's runtime starts in the parent
    objects.delete_tree(storage, f"{folder}/gone")  # and a botocore client of the parent's

    # As if another thread of the parent were making a client at the fork.
    in_a_forked_child(
        lambda: objects.delete_tree(storage, f"{folder}/t"), holding=s3_keys._LOCK, bound_s=60
    )

    assert _raw_keys(backend, folder) == []
    assert backend.s3.folder_markers(storage.warehouse) == []


def test_delete_tree_on_s3_sends_a_delete_again_after_the_server_failed_it(backend):
    """obstore tries a failed request again (3 retries); the lake's own DeleteObjects must
    too, or one 503 (SlowDown) leaves a staging folder behind."""
    if backend.s3 is None:
        pytest.skip("an S3 server's 503")
    from tests.faults.s3_faults import S3FaultProxy

    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "retried")
    _put_raw(backend, storage, folder, ["t/a.parquet", "t/b/"])
    failed: list[str] = []

    def first_delete_fails(method: str, path: str, proxy: object) -> str | None:
        if method == "POST" and not failed:
            failed.append(path)
            return "fail"
        return None

    with S3FaultProxy(backend.s3.endpoint, first_delete_fails) as proxy:
        config = storage.config
        proxied = Storage(replace(config, s3=replace(config.s3, endpoint_url=proxy.endpoint)))
        objects.delete_tree(proxied, f"{folder}/t")

    assert [status for method, _, status in proxy.seen if method == "POST"] == [503, 200]
    assert _raw_keys(backend, folder) == []


def test_delete_tree_on_s3_stops_after_a_first_try_and_3_retries_in_one_sentence(backend):
    if backend.s3 is None:
        pytest.skip("an S3 server's 503")
    from tests.faults.s3_faults import S3FaultProxy

    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "refused")
    _put_raw(backend, storage, folder, ["t/a.parquet"])

    def every_delete_fails(method: str, path: str, proxy: object) -> str | None:
        return "fail" if method == "POST" else None

    with S3FaultProxy(backend.s3.endpoint, every_delete_fails) as proxy:
        config = storage.config
        proxied = Storage(replace(config, s3=replace(config.s3, endpoint_url=proxy.endpoint)))
        with pytest.raises(StorageError) as raised:
            objects.delete_tree(proxied, f"{folder}/t")

    assert [status for method, _, status in proxy.seen if method == "POST"] == [503] * 4
    assert str(raised.value) == (
        f"The S3 server at {proxy.endpoint} refused {folder}/t: 503 (SlowDown), saying "
        f"'injected by the test'; run the command again."
    )
    assert _raw_keys(backend, folder) == ["t/a.parquet"]


def test_a_process_forked_after_s3_requests_tells_an_object_by_the_identity_its_parent_does(
    backend,
):
    """A forked child (a DataLoader worker) of a long-lived process shares its cached
    snapshots, each kept with its log entry's ETag: the child told the entry by its size
    and time instead (and listed a missing key to do so), took every cached version for one
    made again and dropped the caches."""
    if backend.s3 is None:
        pytest.skip("an S3 object's identity (locally it is a stat)")
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, f"forked-{uuid.uuid4().hex[:8]}")
    _write(storage, f"{folder}/{entry_name(0)}", b"zero")
    here = objects.identity(storage, f"{folder}/{entry_name(0)}")
    assert here is not None

    def child() -> tuple[str | None, str | None]:
        return (
            objects.identity(storage, f"{folder}/{entry_name(0)}"),
            objects.identity(storage, f"{folder}/{entry_name(1)}"),
        )

    assert in_a_forked_child(child) == (here, None)


class _Refused(Exception):
    pass


def test_an_upload_lands_whole_only_when_its_confirmation_returns(backend, tmp_path):
    """A file of several parts arrives as written; a confirmation that raises (the writer's
    lease was taken over) leaves no object and no upload to complete, and is what the
    caller sees."""
    if backend.s3 is None:
        pytest.skip("S3's multipart uploads")
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, f"uploads-{uuid.uuid4().hex[:8]}")
    body = os.urandom(s3_keys.PART_BYTES * 2 + 12345)  # three parts, the last short
    source = tmp_path / "shard.parquet"
    source.write_bytes(body)
    confirmed = []
    objects.upload_confirmed(
        storage, f"{folder}/a", source, before_complete=lambda: confirmed.append(True)
    )
    assert confirmed == [True]
    assert objects.get(storage, f"{folder}/a") == body

    def refuse() -> None:
        raise _Refused

    with pytest.raises(_Refused):
        objects.upload_confirmed(storage, f"{folder}/b", source, before_complete=refuse)
    assert objects.identity(storage, f"{folder}/b") is None
    assert objects.abort_uploads(storage, folder, ["a", "b"]) == 0


def test_a_copy_on_s3_over_its_one_request_limit_goes_in_parts(backend, monkeypatch):
    """``lake ingest files`` moves a large file's temporary object into place by a copy the
    server makes (in one request: tests/ingest/test_files.py). CopyObject takes at most 5
    GiB: above, the copy goes in parts (here the limit is made small, and the parts S3's
    least, 5 MiB: two parts)."""
    if backend.s3 is None:
        pytest.skip("a copy on the server is S3's")
    storage = _storage(backend)
    folder = storage.join(storage.warehouse, "copies")
    body = os.urandom((5 << 20) + 1)
    _write(storage, f"{folder}/source", body)
    _, source = storage.filesystem_for(f"{folder}/source")
    monkeypatch.setattr(objects, "COPY_LIMIT", 1 << 20)
    monkeypatch.setattr(s3_keys, "COPY_PART_BYTES", 5 << 20)

    objects.copy(storage, source, f"{source}-copy", size=len(body))

    assert objects.get(storage, f"{source}-copy") == body
    assert _files(backend, storage, folder) == ["source", "source-copy"]
    with pytest.raises(StorageError, match="copies/gone"):
        objects.copy(storage, f"{source}-none", source.replace("source", "gone"), size=6 << 20)
    assert _files(backend, storage, folder) == ["source", "source-copy"], "no part left"
