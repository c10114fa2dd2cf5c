"""Connecting to the catalog's database, and keeping its schema current.

SQLite (the embedded default) and PostgreSQL behave the same through SQLAlchemy. The
catalog's schema changes only through Alembic migrations: the first use of a catalog
applies them (an empty database is initialised, an older catalog upgraded); a catalog
written by a newer lake, or a database that is not a lake catalog, is refused rather
than silently rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from lake.config import mask_url
from lake.errors import CatalogError, CatalogOutdated, CatalogUnreachable

# The newest migration in catalog/migrations/versions. Checked against the scripts by a
# test; comparing with it lets a command skip importing Alembic when nothing is to do.
HEAD_REVISION = "0002"

CONNECT_ATTEMPTS = 3
_MIGRATION_LOCK = 7_310_452_113  # an arbitrary, fixed key for pg_advisory_lock

T = TypeVar("T")


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
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": 5, "application_name": "lake"},
    )


def describe_failure(error: BaseException, url: str) -> CatalogError:
    """One sentence for a database failure, without the password."""
    shown = mask_url(url)
    original = getattr(error, "orig", None) or error
    message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
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
        for marker in ("connection refused", "could not connect", "timeout", "translate host",
                       "server closed", "connection to server", "no route", "name or service")
    ):
        return CatalogUnreachable(
            f"The catalog database at {shown} is unreachable ({message}); check that it runs and "
            f"that LAKE_CATALOG_URL is right."
        )
    if "unable to open database file" in lowered:
        return CatalogUnreachable(f"Cannot open the SQLite catalog at {shown}: {message}.")
    return CatalogError(f"The catalog database at {shown} failed: {message}")


def with_retries(action: Callable[[], T], *, url: str, attempts: int = CONNECT_ATTEMPTS) -> T:
    """Run ``action``, retrying a lost or refused connection with backoff; then give up in
    one sentence naming the database."""
    for attempt in range(attempts):
        try:
            return action()
        except OperationalError as error:
            failure = describe_failure(error, url)
            transient = isinstance(failure, CatalogUnreachable) and "refused the login" not in str(
                failure
            ) and "does not exist" not in str(failure)
            if not transient or attempt == attempts - 1:
                raise failure from error
            time.sleep(0.5 * 2**attempt)  # backoff before reconnecting, not synchronisation
        except DBAPIError as error:
            raise describe_failure(error, url) from error
    raise AssertionError("unreachable")


def ensure_schema(engine: Engine, url: str) -> str:
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

    return with_retries(check, url=url)


def _current_revision(connection) -> str | None:  # noqa: ANN001
    try:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        connection.rollback()
        return None


def _migrate(engine: Engine, url: str) -> str:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "catalog:migrations")
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    with _migration_lock(engine) as connection:
        revision = _current_revision(connection)
        if revision == HEAD_REVISION:
            return "current"
        if revision is not None and revision not in known:
            raise CatalogOutdated(
                f"The catalog at {mask_url(url)} is at schema revision {revision}, which this version "
                f"of the lake does not know: it was written by a newer lake. Upgrade the lake."
            )
        if revision is None:
            existing = set(inspect(connection).get_table_names())
            if existing - {"alembic_version"}:
                raise CatalogError(
                    f"The database at {mask_url(url)} already holds tables ({', '.join(sorted(existing)[:5])}) "
                    f"but is not a lake catalog; point LAKE_CATALOG_URL at an empty database."
                )
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except SQLAlchemyError as error:
            raise describe_failure(error, url) from error
        connection.commit()
        return "created" if revision is None else f"upgraded from {revision}"


@contextmanager
def _migration_lock(engine: Engine) -> Iterator:
    """One connection that holds the catalog's migration lock (Postgres: an advisory lock;
    SQLite: its database lock, taken by the migration's own writes)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            connection.commit()
        try:
            yield connection
        finally:
            if connection.dialect.name == "postgresql":
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
                connection.commit()
