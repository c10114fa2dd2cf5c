"""The warehouse as each library needs to see it.

This is the one module that turns a :class:`~lake.core.config.LakeConfig` into deltalake
storage options, a pyarrow filesystem and DuckDB settings (and :mod:`lake.core.objects` its
S3 clients, obstore's and botocore's), so no other module builds credentials or endpoints
itself.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lake.core.config import LakeConfig
from lake.core.errors import StorageError, StorageUnreachable
from lake.core.quoting import quote_literal

if TYPE_CHECKING:
    import duckdb
    import pyarrow.fs


_DELTALAKE_ONLY = frozenset({"AWS_S3_ALLOW_UNSAFE_RENAME", "AWS_EC2_METADATA_DISABLED"})
"""Keys of :meth:`Storage.s3_options` that deltalake reads and obstore refuses."""
_CLIENT_OPTIONS = frozenset({"timeout", "connect_timeout"})
"""Keys of :meth:`Storage.s3_options` that obstore takes as client options."""


class Storage:
    """Locations and per-library settings for one warehouse."""

    def __init__(self, config: LakeConfig) -> None:
        self.config = config
        self.warehouse = config.warehouse

    @property
    def is_s3(self) -> bool:
        return self.config.is_s3

    def __repr__(self) -> str:
        return f"Storage({self.warehouse!r})"

    # -- locations -------------------------------------------------------------------------

    def table_uri(self, namespace: str, name: str) -> str:
        """Where a table's Delta log and data live: ``<warehouse>/<namespace>/<name>``."""
        return self.join(self.warehouse, namespace, name)

    @property
    def objects_root(self) -> str:
        """Where binary assets live, content-addressed: ``<warehouse>/objects``."""
        return self.join(self.warehouse, "objects")

    def object_uri(self, sha256: str) -> str:
        """The object holding the bytes with this sha256: ``objects/ab/cdef...``."""
        return self.join(self.objects_root, sha256[:2], sha256[2:])

    @staticmethod
    def join(base: str, *parts: str) -> str:
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])

    # -- deltalake ---------------------------------------------------------------------------

    def s3_options(self) -> dict[str, str]:
        """The warehouse's S3 settings as object_store keys: the one place they are derived
        for the two object_store clients, deltalake (:meth:`delta_options`, as they are) and
        obstore (:meth:`obstore_options`, filtered), so a setting added here reaches both.

        The endpoint is given under both of object_store's names: both clients let an
        ``AWS_ENDPOINT_URL_S3`` in the environment override an ``AWS_ENDPOINT_URL`` they are
        given (pyarrow and DuckDB do not read it), and the lake's reads and writes would go
        to two servers.
        """
        s3 = self.config.s3
        options = {
            "AWS_REGION": s3.region,
            "AWS_ALLOW_HTTP": "true" if s3.allow_http else "false",
            "AWS_S3_ALLOW_UNSAFE_RENAME": "false",
            # No instance metadata lookups: an unreachable server fails in seconds.
            "AWS_EC2_METADATA_DISABLED": "true",
            # Bounded, so an unreachable server fails in seconds, not minutes.
            "timeout": "30s",
            "connect_timeout": "5s",
        }
        if s3.endpoint_url:
            options["AWS_ENDPOINT_URL"] = options["AWS_ENDPOINT_URL_S3"] = s3.endpoint_url
            # Loopback and MinIO servers do not have virtual-host style bucket names.
            options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
        if s3.access_key_id:
            options["AWS_ACCESS_KEY_ID"] = s3.access_key_id
        if s3.secret_access_key:
            options["AWS_SECRET_ACCESS_KEY"] = s3.secret_access_key
        if s3.session_token:
            options["AWS_SESSION_TOKEN"] = s3.session_token
        return options

    def delta_options(self) -> dict[str, str]:
        """``storage_options`` for deltalake (object_store keys, see :meth:`s3_options`)."""
        return self.s3_options() if self.is_s3 else {}

    def obstore_options(self) -> tuple[dict[str, str], dict[str, str]]:
        """obstore's S3 configuration and client options, from :meth:`s3_options`: without
        deltalake's own keys (obstore refuses them), the timeouts as client options."""
        config: dict[str, str] = {}
        client: dict[str, str] = {}
        for key, value in self.s3_options().items():
            if key in _CLIENT_OPTIONS:
                client[key] = value
            elif key not in _DELTALAKE_ONLY:
                config[key] = value
        return config, client

    # -- botocore --------------------------------------------------------------------------

    def botocore_options(self) -> dict[str, Any]:
        """Arguments of botocore's ``create_client("s3", ...)`` for the warehouse's server
        (:mod:`lake.core.s3_keys`): its endpoint only (none botocore finds in the
        environment or ``~/.aws/config``), path-style requests on a given endpoint (as
        :meth:`s3_options`), the same timeouts, and a first try and 3 retries after a 5xx or
        no answer (as obstore's). Without access keys in the settings botocore's own
        credential chain (environment, ``~/.aws``, instance role) signs.

        Raises:
            StorageError: the endpoint is plain http and ``AWS_ALLOW_HTTP`` is not true.
        """
        from botocore.config import Config

        s3 = self.config.s3
        if s3.endpoint_url and s3.endpoint_url.startswith("http://") and not s3.allow_http:
            raise StorageError(
                f"The S3 endpoint {s3.endpoint_url} is plain http, which the lake uses only "
                f"when AWS_ALLOW_HTTP is true; set it to true or use an https endpoint."
            )
        options: dict[str, Any] = {
            "region_name": s3.region,
            "endpoint_url": s3.endpoint_url,
            "config": Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"mode": "standard", "total_max_attempts": 4},
                s3={"addressing_style": "path" if s3.endpoint_url else "auto"},
                ignore_configured_endpoint_urls=True,
            ),
        }
        if s3.access_key_id and s3.secret_access_key:
            options["aws_access_key_id"] = s3.access_key_id
            options["aws_secret_access_key"] = s3.secret_access_key
            options["aws_session_token"] = s3.session_token
        return options

    # -- pyarrow ---------------------------------------------------------------------------

    def arrow_filesystem(self) -> pyarrow.fs.FileSystem:
        """A pyarrow filesystem for the warehouse (and any ``s3://`` path the user names)."""
        return _arrow_filesystem(self.config) if self.is_s3 else _local_filesystem()

    def filesystem_for(self, uri: str) -> tuple[pyarrow.fs.FileSystem, str]:
        """The pyarrow filesystem and the path within it for a local path or ``s3://`` URI."""
        if uri.startswith("s3://"):
            return _arrow_filesystem(self.config), uri[len("s3://") :]
        if uri.startswith("file://"):
            uri = urlsplit(uri).path
        return _local_filesystem(), os.path.abspath(uri)

    # -- DuckDB ------------------------------------------------------------------------------

    def configure_duckdb(self, con: duckdb.DuckDBPyConnection) -> None:
        """Prepare a DuckDB connection to read the warehouse, without touching the network.

        Extensions come from their PyPI wheels (nothing is downloaded at run time); for S3,
        httpfs is loaded and a session secret carries the endpoint and credentials.
        """
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        if not self.is_s3:
            return
        con.execute(f"LOAD {quote_literal(extension_path('httpfs'))}")
        s3 = self.config.s3
        options = [("TYPE", "s3"), ("REGION", s3.region)]
        if s3.access_key_id:
            options.append(("KEY_ID", s3.access_key_id))
        if s3.secret_access_key:
            options.append(("SECRET", s3.secret_access_key))
        if s3.session_token:
            options.append(("SESSION_TOKEN", s3.session_token))
        if s3.endpoint_url:
            endpoint = urlsplit(s3.endpoint_url)
            options += [
                ("ENDPOINT", endpoint.netloc),
                ("URL_STYLE", "path"),
                ("USE_SSL", "true" if endpoint.scheme == "https" else "false"),
            ]
        rendered = ", ".join(
            f"{key} {value if key == 'TYPE' or key == 'USE_SSL' else quote_literal(value)}"
            for key, value in options
        )
        con.execute(f"CREATE OR REPLACE SECRET lake_s3 ({rendered})")

    def duckdb_path(self, uri: str) -> str:
        """A data file's address as DuckDB's readers expect it."""
        if uri.startswith("file://"):
            return urlsplit(uri).path
        return uri

    # -- checks ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Make sure the warehouse exists and can be written (creates a local folder).

        Raises:
            StorageUnreachable: the S3 server does not answer or refuses the credentials.
            StorageError: the local folder cannot be created or the bucket does not exist.
        """
        if not self.is_s3:
            try:
                Path(self.warehouse).mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StorageError(
                    f"Cannot create the warehouse folder {self.warehouse}: {error.strerror}."
                ) from error
            return
        bucket = urlsplit(self.warehouse).netloc
        self.check_reachable(bucket)

    def check_reachable(self, bucket: str) -> None:
        """Ask the S3 server for ``bucket`` once, translating every failure into one sentence."""
        import pyarrow.fs as pafs

        fs = self.arrow_filesystem()
        try:
            info = fs.get_file_info(bucket)
        except OSError as error:
            raise self.translate(error, f"s3://{bucket}") from error
        if info.type == pafs.FileType.NotFound:
            raise StorageError(
                f"The bucket s3://{bucket} does not exist on {self.endpoint_label}; "
                f"create it first."
            )

    @property
    def endpoint_label(self) -> str:
        return self.config.s3.endpoint_url or "AWS S3"

    def translate(self, error: BaseException, where: str) -> StorageError:
        """One sentence for a failure of the warehouse's server, naming what and where."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # object_store colours its errors
        for secret in self.config.secrets:
            text = text.replace(secret, "****")
        lowered = text.lower()
        if not self.is_s3 and isinstance(error, OSError) and error.strerror:
            return StorageError(f"Cannot use {where}: {error.strerror}.")
        # A bare "403" also matches a port or a key (":40315"): only a status code counts.
        if any(
            marker in lowered
            for marker in (
                "invalidaccesskeyid",
                "signaturedoesnotmatch",
                "access denied",
                "forbidden",
            )
        ) or re.search(r"(?<![\w:./-])403(?![\w.])", lowered):
            return StorageUnreachable(
                f"The S3 server at {self.endpoint_label} refused the credentials for {where}; "
                f"check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        # object_store's words for a key that is no path of its own ("t//x", "t/../x"): one
        # such key anywhere under a prefix fails deltalake's (and obstore's) whole listing.
        unnamed = re.search(r'(?:invalid path|parse path).*?Path "([^"]*)"', text, re.S)
        if unnamed:
            return StorageError(
                f"Storage failed for {where}: the key {unnamed.group(1)!r} has an empty, '.' or "
                f"'..' segment or a control character, which deltalake and obstore cannot name; "
                f"delete or rename that key with another tool (aws s3 rm, rclone) and try again."
            )
        # botocore says "Unable to locate credentials": none in the settings or its chain.
        if "unable to locate credentials" in lowered:
            return StorageUnreachable(
                f"No S3 credentials were found for {where} (not in the settings, the "
                f"environment, ~/.aws or an instance role); set AWS_ACCESS_KEY_ID and "
                f"AWS_SECRET_ACCESS_KEY."
            )
        # object_store's "<Code>NoSuchBucket</Code>", botocore's "(NoSuchBucket)".
        if re.search(r"\bnosuchbucket\b", lowered):
            named = re.search(r"<BucketName>([^<]+)</BucketName>", text)
            bucket = named.group(1) if named else urlsplit(where).netloc or where.split("/")[0]
            return StorageError(
                f"The bucket s3://{bucket} does not exist on {self.endpoint_label}; create it "
                f"first or fix the location (s3://bucket/prefix)."
            )
        # The server answered (object_store words every request "Error performing ..."): an
        # error of the request, not an unreachable server.
        answered = re.search(r"server returned non-2xx status code: (\d{3}[^:<]*)", text, re.I)
        if answered:
            code = re.search(r"<Code>([^<]+)</Code>", text)
            said = answered.group(1).strip() + (f" ({code.group(1)})" if code else "")
            # A 5xx is the server's own failure or load (SlowDown), often gone on the next
            # try; writes not retried by the client (a compaction by deltalake) meet it.
            then = "; run the command again" if said.startswith("5") else ""
            return StorageError(
                f"The S3 server at {self.endpoint_label} refused {where}: {said}{then}."
            )
        # botocore's words for an answer: "An error occurred (SlowDown) when calling the
        # DeleteObjects operation (reached max retries: 3): Please reduce your request rate."
        refused = re.search(
            r"An error occurred \(([^)]+)\) when calling the \w+ operation(?: \([^)]*\))?: ?(.*)",
            text,
            re.S,
        )
        if refused:
            status = (
                getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            )
            said = f"{status} ({refused.group(1)})" if status else refused.group(1)
            reason = refused.group(2).strip().rstrip(".")
            then = "; run the command again" if str(status or "").startswith("5") else ""
            return StorageError(
                f"The S3 server at {self.endpoint_label} refused {where}: {said}"
                + (f", saying {reason!r}" if reason else "")
                + f"{then}."
            )
        if any(
            marker in lowered
            for marker in (
                "connect",
                "timed out",
                "timeout",
                "dns",
                "resolve",
                "refused",
                "unreachable",
                "error performing",
                "error sending request",
            )
        ):
            return StorageUnreachable(
                f"The S3 server at {self.endpoint_label} is unreachable (while using {where}); "
                f"check that it runs and that AWS_ENDPOINT_URL is right."
            )
        first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
        return StorageError(f"Storage failed for {where}: {first_line[:300]}")


def extension_path(name: str) -> str:
    """The file of a DuckDB extension shipped by its PyPI wheel (``duckdb-extension-<name>``)."""
    import duckdb

    module = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise StorageError(
            f"The DuckDB extension {name!r} is not installed; run `make install` "
            f"(it installs duckdb-extension-{name}=={duckdb.__version__})."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    version = duckdb.__version__
    candidates: Sequence[Path] = sorted(folder.glob(f"extensions/v{version}/*.duckdb_extension"))
    if not candidates:
        raise StorageError(
            f"The DuckDB extension {name!r} in {folder} does not match duckdb {version}; "
            f"run `make install`."
        )
    return str(candidates[0])


@functools.cache
def _local_filesystem() -> pyarrow.fs.FileSystem:
    import pyarrow.fs as pafs

    return pafs.LocalFileSystem()


@functools.lru_cache(maxsize=8)
def _arrow_filesystem(config: LakeConfig) -> pyarrow.fs.FileSystem:
    import pyarrow.fs as pafs

    s3 = config.s3
    endpoint = urlsplit(s3.endpoint_url) if s3.endpoint_url else None
    return pafs.S3FileSystem(
        access_key=s3.access_key_id,
        secret_key=s3.secret_access_key,
        session_token=s3.session_token,
        region=s3.region,
        endpoint_override=endpoint.netloc if endpoint else None,
        scheme=endpoint.scheme if endpoint else "https",
        connect_timeout=5,
        request_timeout=30,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=3),
        force_virtual_addressing=False,
        check_directory_existence_before_creation=False,
        allow_bucket_creation=False,
    )
