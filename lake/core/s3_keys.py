"""Listing and bulk-deleting S3 keys exactly as the server holds them.

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

So a delete of a whole prefix (:func:`lake.core.objects.delete_tree`) lists and deletes with
the two requests here, ListObjectsV2 and DeleteObjects, signed with SigV4 from the
warehouse's own settings: every key under the prefix goes, whatever its spelling. The
requests are plain HTTP from Python (no runtime threads), so a forked process can make
them too. They need the credentials in the settings (``AWS_ACCESS_KEY_ID``...);
:func:`can_sign` says whether there are.

Errors are :class:`OSError` in object_store's words ("Error performing ... Server returned
non-2xx status code: ..."), so :meth:`Storage.translate` words them like obstore's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import socket
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from lake.core.config import S3Settings

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_BATCH = 1000
"""DeleteObjects takes at most 1,000 keys, ListObjectsV2 answers at most 1,000."""
_CONNECT_TIMEOUT_S = 5
_TIMEOUT_S = 30
_TRIES = 4
"""obstore's: a first try and 3 retries."""
_BACKOFF_S = 0.1


def can_sign(s3: S3Settings) -> bool:
    """Whether the settings hold the credentials these requests are signed with."""
    return bool(s3.access_key_id and s3.secret_access_key)


def list_keys(s3: S3Settings, bucket: str, prefix: str) -> Iterator[list[str]]:
    """Every key under ``prefix``, as stored, in pages of at most 1,000.

    Raises:
        OSError: a request failed (object_store's words).
    """
    token: str | None = None
    while True:
        query = {"list-type": "2", "prefix": prefix, "encoding-type": "url"}
        if token:
            query["continuation-token"] = token
        root = ElementTree.fromstring(_request(s3, bucket, "GET", query, b""))
        # encoding-type=url: a key holding a control character still fits in XML.
        keys = [unquote(item.findtext(f"{_NS}Key") or "") for item in root.iter(f"{_NS}Contents")]
        if keys:
            yield keys
        token = root.findtext(f"{_NS}NextContinuationToken")
        if root.findtext(f"{_NS}IsTruncated") != "true" or not token:
            return


def delete_keys(s3: S3Settings, bucket: str, keys: Sequence[str]) -> None:
    """Delete exactly these keys (at most 1,000 a request). A missing key is no error.

    Raises:
        OSError: a request failed or the server refused a key (object_store's words).
    """
    # XML 1.0 cannot carry a control character other than tab and line breaks, not even
    # as a reference (moto answered 500): such a key goes by its own DELETE.
    alone = [key for key in keys if any(ord(c) < 0x20 and c not in "\t\n\r" for c in key)]
    for key in alone:
        _request(s3, bucket, "DELETE", {}, b"", key=key)
    batched = [key for key in keys if key not in set(alone)] if alone else list(keys)
    for start in range(0, len(batched), _BATCH):
        batch = batched[start : start + _BATCH]
        body = (
            "<Delete><Quiet>true</Quiet>"
            + "".join(f"<Object><Key>{_xml_text(key)}</Key></Object>" for key in batch)
            + "</Delete>"
        ).encode()
        root = ElementTree.fromstring(_request(s3, bucket, "POST", {"delete": ""}, body))
        refused = [
            (error.findtext(f"{_NS}Key") or "", error.findtext(f"{_NS}Code") or "")
            for error in root.iter(f"{_NS}Error")
        ]
        if refused:
            key, code = refused[0]
            raise OSError(
                f"Error performing POST {bucket}?delete - Server returned non-2xx status code: "
                f"{'403' if code == 'AccessDenied' else '500'} for {len(refused)} key(s), the "
                f"first {key!r}: <Code>{code}</Code>"
            )


def _xml_text(key: str) -> str:
    """A key as XML text; line breaks and tabs as references, which a parser would
    otherwise normalize (a CR becomes a LF)."""
    text = escape(key, {'"': "&quot;"})
    return text.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#9;")


def _endpoint(s3: S3Settings, bucket: str) -> tuple[str, str, str]:
    """(scheme, host, path prefix): path style on a given endpoint (loopback and MinIO
    servers have no virtual-host bucket names), virtual-host style on AWS."""
    if s3.endpoint_url:
        url = urlsplit(s3.endpoint_url)
        return url.scheme, url.netloc, f"{url.path.rstrip('/')}/{bucket}"
    if "." in bucket:  # a dotted bucket name breaks the wildcard certificate
        return "https", f"s3.{s3.region}.amazonaws.com", f"/{bucket}"
    return "https", f"{bucket}.s3.{s3.region}.amazonaws.com", ""


def _request(
    s3: S3Settings, bucket: str, method: str, query: dict[str, str], body: bytes, key: str = ""
) -> bytes:
    """One signed request, tried again (as obstore's are) when the server could not answer
    or answered 5xx: a list and a delete of named keys can be repeated safely."""
    for attempt in range(_TRIES):
        try:
            return _request_once(s3, bucket, method, query, body, key)
        except _Retryable as error:
            if attempt == _TRIES - 1:
                raise OSError(str(error)) from error
            time.sleep(_BACKOFF_S * 2**attempt)  # the server asked to slow down, or failed
    raise AssertionError("unreachable")


class _Retryable(OSError):
    """A request the server did not answer, or answered with a 5xx status."""


def _request_once(
    s3: S3Settings, bucket: str, method: str, query: dict[str, str], body: bytes, key: str
) -> bytes:
    scheme, host, path = _endpoint(s3, bucket)
    path = f"{path}/{key}" if key else path or "/"
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    now = datetime.now(UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    payload_hash = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
    headers = {
        "host": host,
        "x-amz-content-sha256": payload_hash,
        "x-amz-date": amz_date,
    }
    if body:
        # DeleteObjects requires a digest of its body.
        headers["content-md5"] = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324
        headers["content-type"] = "application/xml"
    if s3.session_token:
        headers["x-amz-security-token"] = s3.session_token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            quote(path, safe="/-_.~"),
            canonical_query,
            "".join(f"{k}:{headers[k].strip()}\n" for k in sorted(headers)),
            signed,
            payload_hash,
        ]
    )
    scope = f"{now:%Y%m%d}/{s3.region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{s3.secret_access_key}".encode()
    for part in (f"{now:%Y%m%d}", s3.region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={s3.access_key_id}/{scope}, SignedHeaders={signed}, "
        f"Signature={signature}"
    )
    target = quote(path, safe="/-_.~") + (f"?{canonical_query}" if canonical_query else "")
    url = f"{scheme}://{host}{target}"
    connection_class = (
        http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(host, timeout=_CONNECT_TIMEOUT_S)
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(_TIMEOUT_S)
        connection.request(method, target, body=body or None, headers=headers)
        response = connection.getresponse()
        answer = response.read()
    except (OSError, http.client.HTTPException) as error:
        reason = "timed out" if isinstance(error, socket.timeout) else str(error)
        raise _Retryable(
            f"Error performing {method} {url}: error sending request: {reason}"
        ) from error
    finally:
        connection.close()
    if response.status // 100 != 2:
        raise (_Retryable if response.status >= 500 else OSError)(
            f"Error performing {method} {url} - Server returned non-2xx status code: "
            f"{response.status} {response.reason}: {answer.decode(errors='replace')}"
        )
    return answer
