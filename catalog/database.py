"""Connecting to the catalog's database, and keeping its schema current.

SQLite (the embedded default) and PostgreSQL behave the same through SQLAlchemy. The
catalog's schema changes only through Alembic migrations: the first use of a catalog
applies them (an older catalog is upgraded; an empty database is given the schema at head
in one pass, the one the migrations make); a catalog written by a newer lake, or a
database that is not a lake catalog, is refused rather than silently rebuilt.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError

from catalog.reader import HEAD_REVISION
from lake.core.config import DEFAULT_CATALOG_RETRY_WAIT_S, mask_url
from lake.core.errors import CatalogError, CatalogOutdated, CatalogUnreachable, CommitConflict

CONNECT_ATTEMPTS = 3
_MIGRATION_LOCK = 7_310_452_113  # an arbitrary, fixed key for pg_advisory_lock

T = TypeVar("T")
PING_AFTER_IDLE_S = 1.0
"""A pooled PostgreSQL connection idle this long is pinged before use (see open_engine)."""


def open_engine(url: str) -> Engine:
    """An engine for the catalog URL (no connection is made yet)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            # WAL lets readers go on while a writer commits; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL keeps the database whole through a crash and may lose only the
            # newest transactions to a power cut; the Delta log is the truth for versions and
            # the next touch of a table records what is missing (lake.landing.sync). FULL paid
            # an fsync per transaction: 2 ms of every 100-row append's ~10.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": 5, "application_name": "lake"},
    )

    # A connection that sat in the pool a while is pinged before use, and replaced when the
    # server has gone (restarted, or a proxy dropped it). SQLAlchemy's pool_pre_ping pinged
    # at every checkout: a round trip more in each transaction, five per log append. A
    # connection used moments ago that is gone all the same fails its first statement as
    # unreachable, and the transaction is retried whole on a new one (with_retries).
    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(str(error)) from error  # the pool connects anew

    return engine


def describe_failure(error: BaseException, url: str) -> CatalogError:
    """One sentence for a database failure, without the password."""
    shown = mask_url(url)
    original = getattr(error, "orig", None) or error
    message = (
        str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    )
    password = make_url(url).password
    if password:
        message = message.replace(str(password), "***")
    lowered = message.lower()
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return CatalogUnreachable(
            f"The catalog database at {shown} refused the login; check the user and password in "
            f"LAKE_CATALOG_URL (or --catalog, or lake.toml)."
        )
    if "does not exist" in lowered and "database" in lowered:
        return CatalogUnreachable(
            f"The catalog database at {shown} does not exist; create it (createdb) or fix the URL."
        )
    if isinstance(error, OperationalError) and any(
        marker in lowered
        for marker in (
            "connection refused",
            "could not connect",
            "timeout",
            "translate host",
            "server closed",
            "connection to server",
            "no route",
            "name or service",
        )
    ):
        return CatalogUnreachable(
            f"The catalog database at {shown} is unreachable ({message}); check that it runs and "
            f"that LAKE_CATALOG_URL is right."
        )
    if "unable to open database file" in lowered:
        return CatalogUnreachable(f"Cannot open the SQLite catalog at {shown}: {message}.")
    return CatalogError(f"The catalog database at {shown} failed: {message}")


def with_retries(
    action: Callable[[], T],
    *,
    url: str,
    attempts: int = CONNECT_ATTEMPTS,
    retry_wait: float = DEFAULT_CATALOG_RETRY_WAIT_S,
) -> T:
    """Run ``action``, retrying a lost or refused connection with backoff (``retry_wait``
    seconds before the first retry, doubled before each next one: the setting
    ``catalog_retry_wait``); then give up in one sentence naming the database."""
    for attempt in range(attempts):
        try:
            return action()
        except OperationalError as error:
            if _is_conflict(error):
                if attempt == attempts - 1:
                    raise CommitConflict(
                        f"The catalog database at {mask_url(url)} kept reporting conflicts with "
                        f"other writers ({first_line(error)}) after {attempts} attempts; run the "
                        f"command again."
                    ) from error
                # Jittered, so the writers that collided do not collide again.
                time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
                continue
            failure = describe_failure(error, url)
            transient = (
                isinstance(failure, CatalogUnreachable)
                and "refused the login" not in str(failure)
                and "does not exist" not in str(failure)
            )
            if not transient or attempt == attempts - 1:
                raise failure from error
            time.sleep(retry_wait * 2**attempt)  # backoff before reconnecting, not a sync
        except DBAPIError as error:
            raise describe_failure(error, url) from error
    raise AssertionError("unreachable")


def _is_conflict(error: OperationalError) -> bool:
    """A serialization failure or deadlock (Postgres), or a lock timeout (SQLite): the
    transaction lost a race and can simply run again."""
    if getattr(error.orig, "pgcode", None) in ("40001", "40P01", "55P03"):
        return True
    text = str(error.orig).lower()
    return "database is locked" in text or "deadlock detected" in text


def first_line(error: BaseException) -> str:
    """The first line of a driver error's message (at most 200 characters), for a sentence."""
    text = str(getattr(error, "orig", error)).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def ensure_schema(
    engine: Engine, url: str, *, retry_wait: float = DEFAULT_CATALOG_RETRY_WAIT_S
) -> str:
    """Bring the catalog's schema to the newest revision; return what was done.

    Returns ``"current"``, ``"created"`` or ``"upgraded from <rev>"``.

    Raises:
        CatalogOutdated: the catalog was written by a newer lake.
        CatalogError: the database holds tables but is not a lake catalog.
    """

    def check() -> str:
        with engine.connect() as connection:
            revision = _current_revision(connection)
            if revision == HEAD_REVISION:
                return "current"
        return _migrate(engine, url)

    return with_retries(check, url=url, retry_wait=retry_wait)


def _current_revision(connection) -> str | None:  # noqa: ANN001
    try:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        connection.rollback()
        return None


def _migrate(engine: Engine, url: str) -> str:
    with _migration_lock(engine) as connection:
        revision = _current_revision(connection)
        if revision == HEAD_REVISION:
            return "current"
        if revision is None:
            existing = set(inspect(connection).get_table_names())
            if existing - {"alembic_version"}:
                raise CatalogError(
                    f"The database at {mask_url(url)} already holds tables "
                    f"({', '.join(sorted(existing)[:5])}) but is not a lake catalog; point "
                    f"LAKE_CATALOG_URL at an empty database."
                )
            try:
                create_at_head(connection)
            except SQLAlchemyError as error:
                raise describe_failure(error, url) from error
            return "created"
        _upgrade(connection, revision, url)
        return f"upgraded from {revision}"


def create_at_head(connection: Connection) -> None:
    """Create the catalog's newest schema in an empty database, as the migrations would make
    it, and record it at ``HEAD_REVISION``; committed.

    ``catalog.definitions`` declares the schema at head (``tests/catalog/test_catalog.py``
    holds its tables and the chain of migrations to the same schema on every backend), so a new
    catalog is made in one pass: walking Alembic's chain cost a new catalog about 0.2 s
    (importing Alembic and Mako, then each migration in turn)."""
    from catalog.definitions import METADATA

    # The database holds none of these tables (the caller checked, under the migration
    # lock): no look-up per table first.
    METADATA.create_all(connection, checkfirst=False)
    # Alembic's own table, as Alembic makes it (alembic.ddl.impl.version_table_impl).
    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection, checkfirst=True)
    connection.execute(version.insert().values(version_num=HEAD_REVISION))
    connection.commit()


def upgrade_by_migrations(connection: Connection, url: str) -> None:
    """Walk Alembic's chain of migrations from the database's revision (none: an empty
    database) to head; committed. A new catalog is made by :func:`create_at_head`, which
    must make the same schema (the tests compare the two)."""
    _upgrade(connection, _current_revision(connection), url)


def _upgrade(connection: Connection, revision: str | None, url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "catalog:migrations")
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    if revision is not None and revision not in known:
        raise CatalogOutdated(
            f"The catalog at {mask_url(url)} is at schema revision {revision}, which this "
            f"version of the lake does not know: it was written by a newer lake. "
            f"Upgrade the lake."
        )
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except SQLAlchemyError as error:
        raise describe_failure(error, url) from error
    connection.commit()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator:
    """One connection that holds the catalog's migration lock (Postgres: an advisory lock;
    SQLite: an exclusive lock on a file beside the database, because pysqlite commits
    Alembic's DDL piecemeal and a second process saw half a catalog, "not a lake catalog")."""
    with _sqlite_file_lock(engine), engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            connection.commit()
        try:
            yield connection
        finally:
            if connection.dialect.name == "postgresql":
                connection.rollback()
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK}
                )
                connection.commit()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: the database's own locking is all there is
        yield
        return
    with open(f"{database}.migration-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield
