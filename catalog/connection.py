"""The catalog's database as every catalog operation uses it: one engine, and units of work
that each run in one transaction.

A unit of work is a function of a SQLAlchemy session. :meth:`Connection.transaction` runs
it, commits, and retries it whole when the connection was lost or the database reported
a serialization conflict; a unique constraint another writer won becomes a
:class:`CommitConflict`, and every other driver error one sentence without the password
(``catalog.database``). The operations in ``catalog.tables``, ``catalog.runs`` and the
other modules take a :class:`Connection`; :class:`catalog.catalog.Catalog` is one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from catalog.database import describe_failure, ensure_schema, first_line, open_engine, with_retries
from lake.core.errors import CommitConflict

T = TypeVar("T")
TRANSACTION_ATTEMPTS = 5


class Connection:
    """One catalog database: its engine (a pool of connections), migrated on opening unless
    ``migrate`` is false.

    Raises (on opening):
        CatalogUnreachable: the database cannot be reached or refused the login.
        CatalogOutdated: the catalog was written by a newer lake.
        CatalogError: the database holds tables but is not a lake catalog.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = open_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.migration = ensure_schema(self.engine, url) if migrate else "skipped"

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

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

    def transaction(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction; retry a lost connection or a serialization
        conflict with backoff, then give up with one sentence.

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
                raise CommitConflict(
                    f"Another writer changed the catalog at the same time ({first_line(error)}); "
                    f"run the command again."
                ) from error
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

        return with_retries(attempt, url=self.url, attempts=TRANSACTION_ATTEMPTS)


__all__ = ["TRANSACTION_ATTEMPTS", "Connection"]
