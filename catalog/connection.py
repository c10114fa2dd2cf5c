"""The catalog's database as every catalog operation uses it: one engine, and units of work
that each run in one transaction.

A unit of work is a function of a SQLAlchemy Core connection (:meth:`Connection.core_transaction`,
the write path and every statement written against ``catalog.definitions``) or of an ORM
session (:meth:`Connection.transaction`, the reads that query by ``catalog.models``' classes).
Either runs it, commits, and retries it whole when the connection was lost or the database
reported a serialization conflict; a unique constraint another writer won becomes a
:class:`CommitConflict`, and every other driver error one sentence without the password
(``catalog.database``). The operations in ``catalog.tables``, ``catalog.runs`` and the
other modules take a :class:`Connection`; :class:`catalog.catalog.Catalog` is one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Connection as CoreConnection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from catalog.database import describe_failure, ensure_schema, first_line, open_engine, with_retries
from lake.core.config import DEFAULT_CATALOG_RETRY_WAIT_S
from lake.core.errors import CommitConflict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")
TRANSACTION_ATTEMPTS = 5


class Connection:
    """One catalog database: its engine (a pool of connections), migrated on opening unless
    ``migrate`` is false; a lost or refused connection is tried again after ``retry_wait``
    seconds, then twice as long each time (see ``catalog.database.with_retries``).

    Raises (on opening):
        CatalogUnreachable: the database cannot be reached or refused the login.
        CatalogOutdated: the catalog was written by a newer lake.
        CatalogError: the database holds tables but is not a lake catalog.
    """

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        retry_wait: float = DEFAULT_CATALOG_RETRY_WAIT_S,
    ) -> None:
        self.url = url
        self.retry_wait = retry_wait
        self.engine = open_engine(url)
        self._sessionmaker: Any = None
        self.migration = (
            ensure_schema(self.engine, url, retry_wait=retry_wait) if migrate else "skipped"
        )

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _sessions(self) -> Session:
        """A new ORM session. ``sqlalchemy.orm`` is imported here, by the first unit of work
        that wants a session: a command that only writes (Core) never pays for it."""
        if self._sessionmaker is None:
            from sqlalchemy.orm import sessionmaker

            self._sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        return self._sessionmaker()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction, committed at the end; driver errors translated.

        Raises:
            CatalogError: the database failed (CatalogUnreachable when it cannot be reached).
        """
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as error:
            session.rollback()
            raise describe_failure(error, self.url) from error
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def core_transaction(self, work: Callable[[CoreConnection], T]) -> T:
        """Run ``work`` on a Core connection in one transaction (``engine.begin()``), with
        the retries and translations of :meth:`transaction`; no ORM session is made.

        Raises:
            CommitConflict: another writer won a unique constraint, or conflicts outlasted
                the retries.
            CatalogError: the database failed (CatalogUnreachable when it cannot be reached).
        """

        def attempt() -> T:
            try:
                with self.engine.begin() as connection:
                    return work(connection)
            except IntegrityError as error:
                raise _conflict(error) from error

        return with_retries(
            attempt, url=self.url, attempts=TRANSACTION_ATTEMPTS, retry_wait=self.retry_wait
        )

    def transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` with an ORM session in one transaction; retry a lost connection or a
        serialization conflict with backoff, then give up with one sentence.

        Raises:
            CommitConflict: another writer won a unique constraint, or conflicts outlasted
                the retries.
            CatalogError: the database failed (CatalogUnreachable when it cannot be reached).
        """

        def attempt() -> T:
            session = self._sessions()
            try:
                result = work(session)
                session.commit()
                return result
            except IntegrityError as error:
                session.rollback()
                raise _conflict(error) from error
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

        return with_retries(
            attempt, url=self.url, attempts=TRANSACTION_ATTEMPTS, retry_wait=self.retry_wait
        )


def _conflict(error: IntegrityError) -> CommitConflict:
    return CommitConflict(
        f"Another writer changed the catalog at the same time ({first_line(error)}); "
        f"run the command again."
    )


__all__ = ["TRANSACTION_ATTEMPTS", "Connection", "CoreConnection"]
