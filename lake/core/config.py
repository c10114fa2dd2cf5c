"""Where a lake lives, resolved once.

A lake is a *warehouse* (a local folder or ``s3://bucket/prefix``: where data lives)
plus a *catalog* (a SQLAlchemy URL: where the catalog's tables live), and optionally an
OpenLineage endpoint its runs are reported to. Every setting is taken from the first of
these places that has it:

1. a command-line flag (``--warehouse``, ``--catalog``),
2. the environment (``LAKE_WAREHOUSE``, ``LAKE_CATALOG_URL``; for S3 the standard
   ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
   ``AWS_SESSION_TOKEN``, ``AWS_REGION``, ``AWS_ALLOW_HTTP``; for OpenLineage
   ``LAKE_OPENLINEAGE_URL`` and ``LAKE_OPENLINEAGE_API_KEY``; for how long a catalog
   that cannot be reached is waited for ``LAKE_CATALOG_RETRY_WAIT``),
3. ``lake.toml`` in the current folder or the nearest folder above it that has one (as git
   finds its repository); relative paths in it, and the defaults, are read from that folder,
4. the embedded default: ``./.lake/warehouse`` and ``sqlite:///./.lake/catalog.db``; no
   OpenLineage endpoint.

A lake is *found* when a flag or ``LAKE_WAREHOUSE`` / ``LAKE_CATALOG_URL`` names it or a
``lake.toml`` was found; otherwise there is no lake here, and only ``lake init`` (which
writes ``lake.toml`` in the current folder) may make one: :func:`resolve` records that in
:attr:`LakeConfig.found` and :func:`require_lake` turns it into :class:`NoLakeHere`.

Secrets are never written to ``lake.toml``: ``lake init`` keeps the catalog URL without its
password. A Postgres catalog then takes the password from libpq's own places (``PGPASSWORD``,
``~/.pgpass``), or from the environment variable that ``catalog_password_env`` in
``lake.toml`` names (e.g. ``catalog_password_env = "LAKE_CATALOG_PASSWORD"``).

This is the only module that reads those places. ``lake.core.storage`` turns the result
into what each library needs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from lake.core.catalog_url import CatalogUrl
from lake.core.errors import ConfigError, NoLakeHere

CONFIG_FILE = "lake.toml"
DEFAULT_WAREHOUSE = "./.lake/warehouse"
DEFAULT_CATALOG = "sqlite:///./.lake/catalog.db"
DEFAULT_REGION = "us-east-1"

# setting name -> (flag, environment variable, key in lake.toml)
_PLACES: dict[str, tuple[str | None, str, str]] = {
    "warehouse": ("--warehouse", "LAKE_WAREHOUSE", "warehouse"),
    "catalog_url": ("--catalog", "LAKE_CATALOG_URL", "catalog"),
    "s3.endpoint_url": (None, "AWS_ENDPOINT_URL", "s3.endpoint_url"),
    "s3.access_key_id": (None, "AWS_ACCESS_KEY_ID", "s3.access_key_id"),
    "s3.secret_access_key": (None, "AWS_SECRET_ACCESS_KEY", "s3.secret_access_key"),
    "s3.session_token": (None, "AWS_SESSION_TOKEN", "s3.session_token"),
    "s3.region": (None, "AWS_REGION", "s3.region"),
    "s3.allow_http": (None, "AWS_ALLOW_HTTP", "s3.allow_http"),
    "openlineage.url": (None, "LAKE_OPENLINEAGE_URL", "openlineage.url"),
    "openlineage.api_key": (None, "LAKE_OPENLINEAGE_API_KEY", "openlineage.api_key"),
    "query.timeout": ("--timeout", "LAKE_QUERY_TIMEOUT", "query.timeout"),
    "query.memory_limit": ("--memory-limit", "LAKE_QUERY_MEMORY_LIMIT", "query.memory_limit"),
    "query.threads": ("--threads", "LAKE_QUERY_THREADS", "query.threads"),
    "query.max_bytes": ("--max-bytes", "LAKE_QUERY_MAX_BYTES", "query.max_bytes"),
    "catalog_retry_wait": (None, "LAKE_CATALOG_RETRY_WAIT", "catalog_retry_wait"),
}
SECRET_SETTINGS = frozenset({"s3.secret_access_key", "s3.session_token", "openlineage.api_key"})


def places(setting: str) -> str:
    """Every place a setting can come from, in precedence order, as one phrase."""
    flag, env, key = _PLACES[setting]
    found = [f"the {flag} flag"] if flag else []
    found += [f"the environment variable {env}", f"`{key}` in {CONFIG_FILE}"]
    return ", ".join(found[:-1]) + " or " + found[-1]


@dataclass(frozen=True)
class S3Settings:
    """Connection settings for an S3-compatible server (AWS, MinIO, moto)."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str = DEFAULT_REGION
    allow_http: bool = False


@dataclass(frozen=True)
class OpenLineageSettings:
    """Where the lake sends OpenLineage run events (OpenLineage out); none without a URL."""

    url: str | None = None
    """A base URL (``http://marquez:5000``, events go to ``/api/v1/lineage``) or the
    endpoint itself."""
    api_key: str | None = field(default=None, repr=False)
    """Sent as a bearer token."""


DEFAULT_CATALOG_RETRY_WAIT_S = 0.5
"""Seconds before the first reconnect to a catalog database that cannot be reached; each
next wait is twice the one before (``catalog.database.with_retries``)."""
MAX_CATALOG_RETRY_WAIT_S = 3600.0

DEFAULT_QUERY_TIMEOUT_S = 30.0
DEFAULT_QUERY_MEMORY_LIMIT = 2 << 30
DEFAULT_QUERY_THREADS = 2
DEFAULT_QUERY_MAX_BYTES = 100 << 20
MAX_SQL_CHARS = 100_000


@dataclass(frozen=True)
class QuerySettings:
    """Limits of one read-only query (``lake sql --read-only``, the HTTP service, the web
    catalog's SQL console). The defaults keep a service alive on a 2-core machine with a few
    GB of memory per concurrent query; the ``lake sql`` and ``lake serve`` flags of the same
    names override them."""

    timeout_s: float = DEFAULT_QUERY_TIMEOUT_S
    """Wall-clock seconds from the query's text to its last row: parsing, planning, constant
    folding and execution. The query's worker process is killed at the limit."""
    memory_limit: int = DEFAULT_QUERY_MEMORY_LIMIT
    """Bytes DuckDB may use for one query (its ``memory_limit``); the worker's address space
    is capped a little above it, so memory DuckDB does not track cannot grow past it."""
    threads: int = DEFAULT_QUERY_THREADS
    """DuckDB threads of one query."""
    max_bytes: int = DEFAULT_QUERY_MAX_BYTES
    """Most bytes (Arrow, in memory) one answer holds; more rows are cut, as by a row limit."""
    max_sql_chars: int = MAX_SQL_CHARS
    """Longest query text read; a longer one is refused before it is parsed."""


@dataclass(frozen=True)
class LakeConfig:
    """A resolved configuration: what the lake uses, and where each value came from."""

    warehouse: str
    """A local absolute path, or ``s3://bucket/prefix`` without a trailing slash."""
    catalog_url: str
    """A SQLAlchemy URL; a relative SQLite path is made absolute."""
    s3: S3Settings
    openlineage: OpenLineageSettings
    origins: Mapping[str, str] = field(compare=False)
    """Setting name -> where its value came from (``flag --warehouse``, ``environment
    LAKE_WAREHOUSE``, ``lake.toml (path)``, ``default``)."""
    root: Path = field(compare=False)
    """The folder relative paths were resolved against: the one holding the ``lake.toml``
    found, else the current folder."""
    found: str | None = field(default=None, compare=False)
    """What named this lake (``lake.toml (path)``, ``flag --warehouse``, ``environment
    LAKE_CATALOG_URL``...), or None: nothing did, and the settings are only the defaults."""
    query: QuerySettings = field(default_factory=QuerySettings)
    """Limits of read-only queries (``[query]`` in ``lake.toml``, ``LAKE_QUERY_*``)."""
    catalog_retry_wait_s: float = DEFAULT_CATALOG_RETRY_WAIT_S
    """Seconds the lake waits before it first tries again to reach a catalog database that
    could not be reached (or was lost mid-transaction), doubled before each next try; 0
    tries again at once. With the default a unit of work gives up after 0.5 + 1 + 2 + 4 =
    7.5 s of waiting (opening the catalog, after 0.5 + 1)."""

    @property
    def is_s3(self) -> bool:
        return self.warehouse.startswith("s3://")

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value in this configuration, for masking and for tests that look for
        leaks."""
        found = [self.s3.secret_access_key, self.s3.session_token, self.openlineage.api_key]
        password = _catalog_password(self.catalog_url)
        return tuple(s for s in [*found, password] if s)

    def describe(self) -> dict[str, dict[str, str | bool | None]]:
        """The settings with their origins, secrets masked: what ``lake config`` shows."""
        shown: dict[str, str | bool | None] = {
            "warehouse": self.warehouse,
            "catalog_url": mask_url(self.catalog_url),
            "s3.endpoint_url": self.s3.endpoint_url,
            "s3.access_key_id": self.s3.access_key_id,
            "s3.secret_access_key": "****" if self.s3.secret_access_key else None,
            "s3.session_token": "****" if self.s3.session_token else None,
            "s3.region": self.s3.region,
            "s3.allow_http": self.s3.allow_http,
            "openlineage.url": _mask_userinfo(self.openlineage.url),
            "openlineage.api_key": "****" if self.openlineage.api_key else None,
            "query.timeout": f"{self.query.timeout_s:g} s",
            "query.memory_limit": format_bytes(self.query.memory_limit),
            "query.threads": str(self.query.threads),
            "query.max_bytes": format_bytes(self.query.max_bytes),
            "catalog_retry_wait": f"{self.catalog_retry_wait_s:g} s",
        }
        return {
            name: {"value": value, "from": self.origins.get(name, "default")}
            for name, value in shown.items()
        }


def find_config_file(start: Path) -> Path | None:
    """The ``lake.toml`` in ``start`` or the nearest folder above it, if any."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def resolve(
    *,
    warehouse: str | None = None,
    catalog_url: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    search_parents: bool = True,
) -> LakeConfig:
    """Resolve the configuration from flags, environment, ``lake.toml`` and defaults.

    ``lake.toml`` is looked for in ``cwd`` and, with ``search_parents``, every folder above it;
    ``lake init`` looks only in ``cwd``, since it makes the lake there.

    Raises:
        ConfigError: a setting is malformed; the message names the value's origin and
            every place the setting could be given.
    """
    start = (cwd or Path.cwd()).resolve()
    env = os.environ if environ is None else environ
    toml_path = (
        find_config_file(start) if search_parents else start / CONFIG_FILE
    ) or start / CONFIG_FILE
    root = toml_path.parent
    from_file = _read_toml(toml_path)
    flags = {"warehouse": warehouse, "catalog_url": catalog_url}
    origins: dict[str, str] = {}

    def pick(setting: str, default: str | None) -> str | None:
        flag, env_name, key = _PLACES[setting]
        if flags.get(setting):
            origins[setting] = f"flag {flag}"
            return flags[setting]
        if env.get(env_name):
            origins[setting] = f"environment {env_name}"
            return env[env_name]
        value = from_file.get(key)
        if value is not None and value != "":
            origins[setting] = f"{CONFIG_FILE} ({toml_path})"
            return str(value).lower() if isinstance(value, bool) else str(value)
        origins[setting] = "default"
        return default

    raw_warehouse = pick("warehouse", DEFAULT_WAREHOUSE)
    raw_catalog = pick("catalog_url", DEFAULT_CATALOG)
    assert raw_warehouse is not None and raw_catalog is not None
    raw_catalog = _catalog_password_from_env(raw_catalog, from_file, env, origins)
    s3 = S3Settings(
        endpoint_url=_check_endpoint(pick("s3.endpoint_url", None), origins),
        access_key_id=pick("s3.access_key_id", None),
        secret_access_key=pick("s3.secret_access_key", None),
        session_token=pick("s3.session_token", None),
        region=pick("s3.region", DEFAULT_REGION) or DEFAULT_REGION,
        allow_http=_parse_bool(pick("s3.allow_http", "false"), "s3.allow_http", origins),
    )
    openlineage = OpenLineageSettings(
        url=_check_openlineage_url(pick("openlineage.url", None), origins),
        api_key=pick("openlineage.api_key", None),
    )
    named_by = [origins[s] for s in ("warehouse", "catalog_url") if origins[s] != "default"]
    if toml_path.is_file():
        named_by.append(f"{CONFIG_FILE} ({toml_path})")
    query = QuerySettings(
        timeout_s=_parse_seconds(
            pick("query.timeout", None),
            "query.timeout",
            origins,
            default=DEFAULT_QUERY_TIMEOUT_S,
            most=86_400,
        ),
        memory_limit=_parse_size(pick("query.memory_limit", None), "query.memory_limit", origins)
        or DEFAULT_QUERY_MEMORY_LIMIT,
        threads=_parse_count(pick("query.threads", None), "query.threads", origins),
        max_bytes=_parse_size(pick("query.max_bytes", None), "query.max_bytes", origins)
        or DEFAULT_QUERY_MAX_BYTES,
    )
    retry_wait = _parse_seconds(
        pick("catalog_retry_wait", None),
        "catalog_retry_wait",
        origins,
        default=DEFAULT_CATALOG_RETRY_WAIT_S,
        most=MAX_CATALOG_RETRY_WAIT_S,
        zero=True,
    )
    warehouse = _normalize_warehouse(raw_warehouse, root, origins["warehouse"])
    if warehouse.startswith("s3://") and s3.endpoint_url is None:
        _check_no_other_endpoint(env)
    return LakeConfig(
        warehouse=warehouse,
        catalog_url=_normalize_catalog(raw_catalog, root, origins["catalog_url"]),
        s3=s3,
        openlineage=openlineage,
        origins=origins,
        root=root,
        found=named_by[0] if named_by else None,
        query=query,
        catalog_retry_wait_s=retry_wait,
    )


def require_lake(config: LakeConfig) -> LakeConfig:
    """``config`` when something named a lake.

    Raises:
        NoLakeHere: no flag, no ``LAKE_WAREHOUSE`` / ``LAKE_CATALOG_URL`` and no ``lake.toml``
            here or above; nothing is created.
    """
    if config.found is None:
        raise NoLakeHere(
            f"no lake here: run `lake init` (no {CONFIG_FILE} in {config.root} or any folder "
            f"above it, and neither --warehouse/--catalog nor LAKE_WAREHOUSE/LAKE_CATALOG_URL "
            f"is set)."
        )
    return config


def write_config_file(
    folder: Path, *, warehouse: str, catalog_url: str, s3: Mapping[str, str | bool] | None = None
) -> Path:
    """Write ``lake.toml`` in ``folder`` (what ``lake init`` does). Secrets are never written:
    the catalog URL goes without its password (see :func:`without_password`)."""
    import tomli_w

    document: dict[str, object] = {"warehouse": warehouse, "catalog": without_password(catalog_url)}
    s3_keys = {k: v for k, v in (s3 or {}).items() if f"s3.{k}" not in SECRET_SETTINGS and v}
    if s3_keys:
        document["s3"] = s3_keys
    path = folder / CONFIG_FILE
    header = (
        "# Written by `lake init`. Command-line flags and LAKE_* / AWS_* environment\n"
        "# variables override these. Keep secrets in the environment, not here.\n"
    )
    path.write_text(header + tomli_w.dumps(document), encoding="utf-8")
    return path


def without_password(url: str) -> str:
    """A catalog URL with no password in it (to be written down); unparsable: as given."""
    try:
        parsed = CatalogUrl.parse(url)
    except ValueError:
        return url
    if parsed.password is None:
        return url
    return parsed.set(password=None).render(hide_password=False)


def _catalog_password_from_env(
    url: str, from_file: Mapping[str, object], env: Mapping[str, str], origins: dict[str, str]
) -> str:
    """The catalog URL with the password from the variable ``catalog_password_env`` names."""
    name = from_file.get("catalog_password_env")
    if not name:
        return url
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(
            f"catalog_password_env in {CONFIG_FILE} must name an environment variable, e.g. "
            f"LAKE_CATALOG_PASSWORD, not {name!r}."
        )
    try:
        parsed = CatalogUrl.parse(url)
    except ValueError:
        return url  # refused with its own sentence by _normalize_catalog
    password = env.get(name)
    if parsed.password is not None or not password:
        return url
    origins["catalog_password"] = f"environment {name}"
    return parsed.set(password=password).render(hide_password=False)


def mask_url(url: str) -> str:
    """A catalog URL with its password replaced by ``***``."""
    try:
        return CatalogUrl.parse(url).render(hide_password=True)
    except ValueError:
        # an unparsable URL has been refused already; never echo it whole
        return "<unparsable URL>"


def _mask_userinfo(url: str | None) -> str | None:
    """An http(s) URL with the password in it, if any, replaced by ``***``."""
    parts = urlsplit(url) if url else None
    if parts is None or parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _catalog_password(url: str) -> str | None:
    try:
        return CatalogUrl.parse(url).password
    except ValueError:
        return None


def _read_toml(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    import tomllib  # only when there is a lake.toml

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML ({error}); fix it or delete it.") from error
    flat: dict[str, object] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{inner}": v for inner, v in value.items()})
        else:
            flat[key] = value
    return flat


def _normalize_warehouse(value: str, root: Path, origin: str) -> str:
    scheme = urlsplit(value).scheme
    if value.startswith("s3://"):
        bucket = urlsplit(value).netloc
        if not bucket:
            raise ConfigError(
                f"The warehouse {value!r} (from {origin}) names no bucket: write "
                f"s3://bucket/prefix; set it with {places('warehouse')}."
            )
        return _checked_location(value.rstrip("/"), origin)
    if scheme == "file":
        value = unquote(urlsplit(value).path)  # a URL's path is escaped: a%20b is "a b"
    elif scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
        raise ConfigError(
            f"The warehouse {value!r} (from {origin}) is not supported: use a local folder or "
            f"s3://bucket/prefix; set it with {places('warehouse')}."
        )
    path = Path(value).expanduser()
    # deltalake resolves ".." by the letters ("link/../wh" is "wh"), the operating system
    # through a symlink: normalized, the path is one folder for every reader.
    absolute = os.path.normpath(path) if path.is_absolute() else str((root / path).resolve())
    return _checked_location(absolute, origin)


def _checked_location(warehouse: str, origin: str) -> str:
    problem = location_problem(warehouse)
    if problem:
        what, avoid = problem
        raise ConfigError(
            f"The warehouse {warehouse!r} (from {origin}) {what}; choose a location without "
            f"{avoid} and set it with {places('warehouse')}."
        )
    return warehouse


def location_problem(location: str) -> tuple[str, str] | None:
    """Why the lake's readers (deltalake, pyarrow, DuckDB) would not agree on what
    ``location`` (a normalized local path or ``s3://`` URI) names, and what to avoid; None
    when they would.

    deltalake takes a location as a URL: it decodes ``%XX`` (its log reader twice, so even
    an escaped ``%`` is misread), resolves ``.`` and ``..`` segments and refuses an empty
    one, and its history of a local table in ``q?x`` or ``h#x`` is empty; pyarrow's S3
    client cannot name such a key; DuckDB globs ``[]*`` in an S3 path; obstore and S3 take a
    key literally. A local path is resolved by the operating system the same way for every
    reader once it is normalized (see :func:`_normalize_warehouse`).
    """
    # Only '%' and two hex digits is an escape ("p100%" is read as it is by every reader);
    # a second decoding can make one only out of one ("%2520").
    if re.search("%[0-9A-Fa-f]{2}", location):
        return (
            "holds '%' and two hex digits, which deltalake reads as an escape (a%20b as 'a b', "
            "a%2Fb as 'a/b') while the lake's other readers take it literally, so they would "
            "read different objects",
            "'%' before two hex digits",
        )
    if "?" in location or "#" in location:
        return (
            "holds '?' or '#', which deltalake's history and pyarrow's S3 client take for the "
            "start of a URL's query or fragment, so the table's versions would not be found",
            "'?' and '#'",
        )
    if location.startswith("s3://") and any(c in location for c in "[]*"):
        return (
            "holds '[', ']' or '*', which DuckDB reads in an S3 path as a pattern (b[a]x "
            "matches bax), so it would read other objects",
            "'[', ']' and '*'",
        )
    if location.startswith("s3://"):
        segments = location[len("s3://") :].rstrip("/").split("/")[1:]
        if any(segment in ("", ".", "..") for segment in segments):
            return (
                "has an empty, '.' or '..' segment, which deltalake resolves (a/../b as 'b') or "
                "refuses while S3 and the lake's other readers take the key literally",
                "such segments",
            )
    return None


def _normalize_catalog(value: str, root: Path, origin: str) -> str:
    try:
        url = CatalogUrl.parse(value)
    except ValueError as error:  # a port that is not a number, too
        raise ConfigError(
            f"The catalog URL {mask_url(value)!r} (from {origin}) is not a SQLAlchemy URL; "
            f"write sqlite:///path/catalog.db or postgresql+psycopg2://user@host/db and set it "
            f"with {places('catalog_url')}."
        ) from error
    if url.backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"The catalog URL {mask_url(value)!r} (from {origin}) uses "
            f"{url.backend!r}; the catalog runs on sqlite or postgresql; set it with "
            f"{places('catalog_url')}."
        )
    if url.backend == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database).expanduser()
        if not database.is_absolute():
            url = url.set(database=str((root / database).resolve()))
    return url.render(hide_password=False)


def _check_endpoint(value: str | None, origins: Mapping[str, str]) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"The S3 endpoint {value!r} (from {origins['s3.endpoint_url']}) is not an http(s) URL "
            f"such as http://127.0.0.1:9000; set it with {places('s3.endpoint_url')}."
        )
    return value.rstrip("/")


OTHER_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT")
"""Endpoint variables the lake does not read, but deltalake and obstore do."""


def _check_no_other_endpoint(env: Mapping[str, str]) -> None:
    """Refuse an S3 server named only where some of the lake's clients look: with no
    endpoint set, deltalake and obstore would send the warehouse's requests to it, pyarrow
    and DuckDB to AWS S3 (two stores under one lake)."""
    for name in OTHER_ENDPOINT_VARIABLES:
        if env.get(name):
            raise ConfigError(
                f"The environment variable {name} names the S3 server {env[name]}, which only "
                f"some of the lake's S3 clients read (no S3 endpoint is set, so the others "
                f"would use AWS S3); set the server with {places('s3.endpoint_url')}, or "
                f"unset {name}."
            )


def _check_openlineage_url(value: str | None, origins: Mapping[str, str]) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"The OpenLineage URL {text!r} (from {origins['openlineage.url']}) is not an http(s) "
            f"URL such as http://marquez:5000; set it with {places('openlineage.url')}."
        )
    return text


def _parse_bool(value: str | None, setting: str, origins: Mapping[str, str]) -> bool:
    text = (value or "false").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(
        f"{setting} is {value!r} (from {origins[setting]}); write true or false; set it with "
        f"{places(setting)}."
    )


_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}


def parse_size(text: str | int) -> int | None:
    """Bytes of a size such as ``2GB``, ``512 MiB`` or ``1000000``; None when not a size.
    (``GB`` is 1000**3 and ``GiB`` 1024**3, as DuckDB reads them.)"""
    if isinstance(text, int):
        return text if text > 0 else None
    value = str(text).strip().lower().replace(" ", "")
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = value[len(number) :]
    try:
        amount = float(number)
    except ValueError:
        return None
    if unit not in _UNITS or not (0 < amount < 1e18):
        return None
    size = int(amount * _UNITS[unit])
    return size if size > 0 else None


def format_bytes(size: int) -> str:
    """``2 GiB``, ``100 MiB``, ``512 B``: a size as people read it."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} B"


def _parse_size(value: str | None, setting: str, origins: Mapping[str, str]) -> int | None:
    if value is None:
        return None
    size = parse_size(value)
    if size is None:
        raise ConfigError(
            f"{setting} is {value!r} (from {origins[setting]}); write a size such as 2GB or "
            f"512MiB; set it with {places(setting)}."
        )
    return size


def _parse_seconds(
    value: str | None,
    setting: str,
    origins: Mapping[str, str],
    *,
    default: float,
    most: float,
    zero: bool = False,
) -> float:
    """Seconds above 0 (or from 0 with ``zero``) up to ``most``; ``default`` when unset."""
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not ((0 <= seconds if zero else 0 < seconds) and seconds <= most):
        span = f"from 0 to {most:g}" if zero else f"between 0 and {most:g}"
        raise ConfigError(
            f"{setting} is {value!r} (from {origins[setting]}); write seconds {span}, such as "
            f"{default:g}; set it with {places(setting)}."
        )
    return seconds


def _parse_count(value: str | None, setting: str, origins: Mapping[str, str]) -> int:
    if value is None:
        return DEFAULT_QUERY_THREADS
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 1024:
        raise ConfigError(
            f"{setting} is {value!r} (from {origins[setting]}); write a whole number from 1 to "
            f"1024; set it with {places(setting)}."
        )
    return int(text)
