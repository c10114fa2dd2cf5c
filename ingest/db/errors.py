"""Driver errors -> the ingest stage's errors, with the source's password scrubbed out.

psycopg2, PyMySQL, sqlite3, ADBC and SQLAlchemy may echo a DSN or URL in their messages. Every
message built here goes through :meth:`SourceLabel.scrub`, and the driver error is chained as
the cause only when no secret appears anywhere in it (otherwise the chain is cut, so that not
even a traceback shows the password).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, NoReturn
from urllib.parse import quote, quote_plus

import pyarrow as pa
import sqlalchemy.exc as sa_exc

from ingest.exceptions import (
    ExtractError,
    SourceDatabaseMissing,
    SourceLoginRefused,
    SourceQueryFailed,
    SourceUnreachable,
)
from lake.core.errors import LakeError

Phase = Literal["connect", "query"]

_PG_LOGIN = re.compile(
    r"password authentication failed|role \".*\" does not exist|no pg_hba\.conf entry|"
    r"authentication failed|password is required|no password supplied",
    re.I,
)
_PG_NO_DATABASE = re.compile(r"database \".*\" does not exist", re.I)
_PG_LOST = re.compile(
    r"server closed the connection|terminating connection|connection to server .* failed|"
    r"could not receive data|SSL SYSCALL|no connection to the server|connection already closed",
    re.I,
)
_MY_LOGIN = {1044, 1045, 1251, 1698}
_MY_NO_DATABASE = {1049}
_MY_LOST = {2002, 2003, 2005, 2006, 2013, 2055}


@dataclass(frozen=True)
class SourceLabel:
    """What an error may say about a source: never its password."""

    dialect: str
    display: str  # e.g. "postgresql://user@host:5432/db", no password
    user: str | None
    database: str | None
    secrets: tuple[str, ...] = ()

    @classmethod
    def build(
        cls, *, dialect: str, display: str, user: str | None, database: str | None,
        password: str | None,
    ) -> SourceLabel:  # fmt: skip
        secrets: set[str] = set()
        if password:
            secrets |= {password, quote(password, safe=""), quote_plus(password)}
        return cls(dialect, display, user, database, tuple(sorted(secrets, key=len, reverse=True)))

    def scrub(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return text

    def leaks(self, err: BaseException) -> bool:
        """True when a secret appears anywhere in ``err``, its arguments or its chain."""
        seen: set[int] = set()
        e: BaseException | None = err
        while e is not None and id(e) not in seen:
            seen.add(id(e))
            texts = [str(e), repr(e.args)]
            orig = getattr(e, "orig", None)
            if orig is not None:
                texts.append(str(orig))
            if any(s in t for s in self.secrets for t in texts):
                return True
            e = e.__cause__ or e.__context__
        return False


class DriverFailure(Exception):
    """A driver error that reached us as something generic (ADBC's stream raises OSError)."""


def driver_errors() -> tuple[type[BaseException], ...]:
    """Exception classes that mean "the database or its driver said no"."""
    classes: list[type[BaseException]] = [
        sa_exc.SQLAlchemyError, sqlite3.Error, pa.ArrowException, DriverFailure,
    ]  # fmt: skip
    try:
        import psycopg2

        classes.append(psycopg2.Error)
    except ImportError:
        pass
    try:
        import pymysql

        classes.append(pymysql.err.MySQLError)
    except ImportError:
        pass
    try:
        import adbc_driver_manager

        classes.append(adbc_driver_manager.Error)
    except ImportError:
        pass
    return tuple(classes)


def _orig(err: BaseException) -> BaseException:
    return getattr(err, "orig", None) or err


def detail_of(err: BaseException) -> str:
    """The driver's own first line, without SQL echo, DSNs or our wrapping."""
    e = _orig(err)
    args = getattr(e, "args", ())
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]  # PyMySQL: (code, message)
    else:
        text = str(e)
    # ADBC: "INVALID_ARGUMENT: [libpq] Failed to execute query: ...: ERROR:  msg\n..."
    m = re.search(r"(?:ERROR|FATAL):\s+(.*)", text)
    if m:
        text = m.group(1)
    text = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    text = re.sub(r"^(FATAL|ERROR):\s+", "", text)
    text = re.sub(r"\s*\(Background on this error at: .*\)$", "", text)
    return text.rstrip(".")


def _mysql_code(err: BaseException) -> int | None:
    args = getattr(_orig(err), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def translate(err: BaseException, label: SourceLabel, *, phase: Phase) -> LakeError:
    """The ingest error a driver error means."""
    if isinstance(err, LakeError):
        return err
    detail = label.scrub(detail_of(err))
    raw = label.scrub(str(_orig(err)))
    d = label.dialect
    if d == "postgresql":
        if phase == "connect":
            if _PG_LOGIN.search(raw):
                return SourceLoginRefused(source=label.display, user=label.user, detail=detail)
            if _PG_NO_DATABASE.search(raw):
                return SourceDatabaseMissing(source=label.display, database=label.database)
            return _unreachable(label, detail)
        if _PG_LOST.search(raw):
            return _unreachable(label, detail)
    elif d == "mysql":
        code = _mysql_code(err)
        if code in _MY_LOGIN:
            return SourceLoginRefused(source=label.display, user=label.user, detail=detail)
        if code in _MY_NO_DATABASE:
            return SourceDatabaseMissing(source=label.display, database=label.database)
        if code in _MY_LOST or (phase == "connect" and code is None):
            return _unreachable(label, detail)
    elif d == "sqlite":
        if phase == "connect" or re.search(r"not a database|unable to open", raw, re.I):
            return SourceDatabaseMissing(
                source=label.display, database=label.database, detail=detail
            )
    return SourceQueryFailed(source=label.display, detail=detail)


def _unreachable(label: SourceLabel, detail: str) -> SourceUnreachable:
    return SourceUnreachable(
        f"The source {label.display} did not answer ({detail}); check that the server runs "
        "and that the host and port in the URL are right, then retry."
    )


def raise_translated(err: BaseException, label: SourceLabel, *, phase: Phase) -> NoReturn:
    new = translate(err, label, phase=phase)
    if new is err:
        raise err
    if label.leaks(err):
        raise new from None
    raise new from err


@contextmanager
def translated(label: SourceLabel, *, phase: Phase = "query") -> Iterator[None]:
    """Re-raise driver errors inside the block as ingest errors (see :func:`translate`)."""
    try:
        yield
    except ExtractError:
        raise
    except driver_errors() as e:
        raise_translated(e, label, phase=phase)
