"""Listing and bulk-deleting S3 keys exactly as the server holds them, through botocore.

obstore (object_store) and pyarrow name objects by *paths*, not keys, and some keys are no
path of theirs. Both clients, on keys another tool wrote (measured on moto, obstore 0.12.1,
pyarrow 26.0.1):

* a folder marker (``t/``, ``t/sub/``: a zero-byte key ending in ``/``, made by the S3
  console, Spark, rclone or pyarrow) is never listed by obstore, and obstore's delete of
  ``t/`` deletes ``t``;
* a key with an empty, ``.`` or ``..`` segment, or a control character (``t//x.parquet``,
  ``t/./x``) cannot be named by obstore at all, and one such key makes its whole listing
  fail;
* pyarrow's ``delete_file`` refuses or misses those keys; its ``delete_dir`` makes a marker
  for the parent, aborts the process (``std::out_of_range``, SIGABRT) on a key ``t//`` and
  fails on a control character.

botocore (AWS's own client) takes keys as strings: its ListObjectsV2 asks for URL-encoded
keys and decodes them (so a control character survives the XML answer), and its
DeleteObjects sends them back as given. XML 1.0 cannot carry a control character other than
tab and line feed (a carriage return is read as a line feed), so such a key goes by its own
DeleteObject. botocore is imported here only, when a prefix is deleted: the lake's start-up
does not pay for it.

Clients are made from the warehouse's settings (:meth:`Storage.botocore_options`), one per
settings and process: a forked child makes its own, never using its parent's connections.

Errors are botocore's own (``ClientError``, ``BotoCoreError``); :meth:`Storage.translate`
words them.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import re
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

from lake.core.storage import Storage

if TYPE_CHECKING:
    from botocore.client import BaseClient

_BATCH = 1000
"""DeleteObjects takes at most 1,000 keys, ListObjectsV2 answers at most 1,000."""
_NOT_XML = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")
"""Characters a DeleteObjects body cannot carry as they are."""

_CLIENTS: dict[tuple[object, int], BaseClient] = {}
_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    """A fresh lock in a forked child: a thread of the parent may have held it at the fork."""
    global _LOCK
    _LOCK = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def list_keys(storage: Storage, bucket: str, prefix: str) -> Iterator[list[str]]:
    """Every key under ``prefix``, as stored, in pages of at most 1,000.

    Raises:
        botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError: a request failed
            (after botocore's retries).
    """
    pages = _client(storage).get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=bucket, Prefix=prefix):
        keys = [item["Key"] for item in page.get("Contents", [])]
        if keys:
            yield keys


def delete_keys(storage: Storage, bucket: str, keys: Sequence[str]) -> None:
    """Delete exactly these keys. A missing key is no error.

    Raises:
        botocore.exceptions.ClientError: the server refused a request or a key (the first
            refused key is named).
        botocore.exceptions.BotoCoreError: a request failed (after botocore's retries).
    """
    from botocore.exceptions import ClientError

    client = _client(storage)
    batched = []
    for key in keys:
        if _NOT_XML.search(key):
            client.delete_object(Bucket=bucket, Key=key)
        else:
            batched.append(key)
    for start in range(0, len(batched), _BATCH):
        answer = client.delete_objects(
            Bucket=bucket,
            Delete={
                "Objects": [{"Key": key} for key in batched[start : start + _BATCH]],
                "Quiet": True,  # the answer names only the keys not deleted
            },
        )
        refused = answer.get("Errors", [])
        if refused:
            first = refused[0]
            raise ClientError(
                {
                    "Error": {
                        "Code": first.get("Code", ""),
                        "Message": f"{first.get('Message', '')} (the key {first.get('Key')!r}"
                        f"{f' and {len(refused) - 1} more' if len(refused) > 1 else ''})",
                    }
                },
                "DeleteObjects",
            )


def delete_if_unchanged(storage: Storage, bucket: str, key: str, e_tag: str) -> bool:
    """Delete ``key`` only if it is still the object whose ETag is ``e_tag`` (``If-Match``,
    which obstore's delete cannot send); False when the server refused (412) or it is gone.

    Raises:
        botocore.exceptions.ClientError: the server refused otherwise.
        botocore.exceptions.BotoCoreError: the request failed (after botocore's retries).
    """
    from botocore.exceptions import ClientError

    try:
        _client(storage).delete_object(Bucket=bucket, Key=key, IfMatch=e_tag)
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in (404, 412):
            return False
        raise
    return True


def e_tag(storage: Storage, bucket: str, key: str) -> str | None:
    """The ETag of ``key`` (one HEAD, as obstore's ``head`` gives it), None when there is
    no such object. For a forked process, which cannot use obstore: pyarrow's
    ``get_file_info`` follows a missing key with a listing (is it a folder?) and gives no
    ETag.

    Raises:
        botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError: a request failed
            (after botocore's retries).
    """
    from botocore.exceptions import ClientError

    try:
        found = _client(storage).head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    return found.get("ETag") or f"{found.get('ContentLength')}:{found.get('LastModified')}"


PART_BYTES = 8 << 20
"""The least size of a part of a multipart upload (S3 takes 5 MiB at least, but for the last)."""
MAX_PARTS = 10_000
"""The most parts S3 takes in one multipart upload."""
COPY_PART_BYTES = 1 << 30
"""The size of a part a multipart copy asks the server to copy (S3 takes up to 5 GiB)."""
PARTS_IN_FLIGHT = 4
"""Parts of one upload sent at once (as many ``PART_BYTES`` held in memory)."""


def upload(
    storage: Storage,
    bucket: str,
    key: str,
    source: BinaryIO,
    *,
    size: int,
    before_complete: Callable[[], None],
) -> None:
    """Write ``source`` (``size`` bytes) at ``key`` as one multipart upload, which makes no
    object until it is completed: ``before_complete()`` is called once every byte is sent,
    and the object lands only if it returns. Anything raised on the way (by it too) aborts
    the upload, and no object is made.

    Raises:
        botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError: a request failed
            (after botocore's retries); or whatever ``before_complete`` raises.
    """
    client = _client(storage)
    part_bytes = max(PART_BYTES, -(-size // MAX_PARTS))
    # As boto3's own transfers do: a CRC32 of every part, each named again at completion.
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")[
        "UploadId"
    ]

    def send(number: int, chunk: bytes) -> dict[str, str | int]:
        sent = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=chunk,
            ChecksumAlgorithm="CRC32",
        )
        part: dict[str, str | int] = {"PartNumber": number, "ETag": sent["ETag"]}
        if "ChecksumCRC32" in sent:
            part["ChecksumCRC32"] = sent["ChecksumCRC32"]
        return part

    try:
        parts = []
        # Parts in flight together, as pyarrow's output stream sends them (one connection
        # to S3 carries far less than its bandwidth); read as they go, PARTS_IN_FLIGHT held.
        with concurrent.futures.ThreadPoolExecutor(PARTS_IN_FLIGHT) as pool:
            pending: collections.deque[concurrent.futures.Future[dict[str, str | int]]]
            pending = collections.deque()
            number = 0
            while True:
                chunk = source.read(part_bytes)
                if not chunk and number:
                    break
                number += 1
                pending.append(pool.submit(send, number, chunk))
                if len(pending) >= PARTS_IN_FLIGHT:
                    parts.append(pending.popleft().result())
                if len(chunk) < part_bytes:
                    break
            parts.extend(future.result() for future in pending)
        before_complete()
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        _abort(client, bucket, key, upload_id)
        raise


def copy_parts(storage: Storage, bucket: str, source: str, target: str, *, size: int) -> None:
    """Copy the object ``source`` (``size`` bytes) to ``target`` in one bucket by a multipart
    upload whose parts the server copies (UploadPartCopy): CopyObject takes at most 5 GiB.
    No object is made at ``target`` unless every part is copied.

    Raises:
        botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError: a request failed
            (after botocore's retries).
    """
    client = _client(storage)
    part_bytes = max(COPY_PART_BYTES, -(-size // MAX_PARTS))
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=target)["UploadId"]
    try:
        parts = []
        for number, start in enumerate(range(0, size, part_bytes), start=1):
            end = min(start + part_bytes, size) - 1
            copied = client.upload_part_copy(
                Bucket=bucket,
                Key=target,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": bucket, "Key": source},
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
        client.complete_multipart_upload(
            Bucket=bucket, Key=target, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        _abort(client, bucket, target, upload_id)
        raise


def abort_uploads(storage: Storage, bucket: str, prefix: str, keys: Collection[str]) -> int:
    """Abort every multipart upload of one of ``keys`` (under ``prefix``) not completed yet
    (their parts go, no object is made; one still sending then fails); returns how many.

    Raises:
        botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError: a request failed
            (after botocore's retries).
    """
    client = _client(storage)
    aborted = 0
    for page in client.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Prefix=prefix
    ):
        for found in page.get("Uploads", []):
            if found["Key"] not in keys:
                continue
            _abort(client, bucket, found["Key"], found["UploadId"])
            aborted += 1
    return aborted


def _abort(client: BaseClient, bucket: str, key: str, upload_id: str) -> None:
    """Abort one multipart upload; one already gone (completed or aborted) is no error."""
    from botocore.exceptions import ClientError

    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as error:
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
            raise


def _client(storage: Storage) -> BaseClient:
    """One client per S3 settings and process (making one costs more than a request)."""
    key = (storage.config.s3, os.getpid())
    with _LOCK:
        found = _CLIENTS.get(key)
        if found is None:
            import botocore.session

            found = botocore.session.Session().create_client("s3", **storage.botocore_options())
            _CLIENTS[key] = found
    return found
