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

import os
import re
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

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
