"""API tokens for the HTTP service: created once, stored hashed, checked per request.

A token is ``lake_`` and 43 random URL-safe characters (256 bits). The catalog keeps only
its SHA-256: a leaked catalog gives no usable token, and a salt would add nothing to a
random secret of that size. Roles nest: ``admin`` can do what ``write`` can, ``write``
what ``read`` can.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import models as m
from catalog.catalog import Catalog
from catalog.exceptions import TokenNotFound
from lake.core.errors import ConfigError

ROLES = ("read", "write", "admin")
PREFIX = "lake_"
# Recording every use would turn each read request into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str | None
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``secret`` is shown this once and stored nowhere."""

    info: TokenInfo
    secret: str

    def to_json(self) -> dict[str, Any]:
        return {**self.info.to_json(), "token": self.secret}


def allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(catalog: Catalog, *, role: str, name: str | None = None) -> NewToken:
    """Raises: ConfigError for a role other than read, write or admin."""
    if role not in ROLES:
        raise ConfigError(f"A token's role is read, write or admin, not {role!r}.")
    secret = PREFIX + secrets.token_urlsafe(32)

    def work(session: Session) -> TokenInfo:
        row = m.ApiToken(name=name, role=role, token_hash=hash_token(secret))
        session.add(row)
        session.flush()
        return _info(row)

    return NewToken(catalog.transaction(work), secret)


def list_tokens(catalog: Catalog, *, include_revoked: bool = False) -> list[TokenInfo]:
    def work(session: Session) -> list[TokenInfo]:
        query = select(m.ApiToken).order_by(m.ApiToken.id)
        if not include_revoked:
            query = query.where(m.ApiToken.revoked_at.is_(None))
        return [_info(r) for r in session.scalars(query)]

    return catalog.transaction(work)


def revoke_token(catalog: Catalog, token_id: int) -> TokenInfo:
    """Raises: TokenNotFound."""

    def work(session: Session) -> TokenInfo:
        row = session.get(m.ApiToken, token_id)
        if row is None or row.revoked_at is not None:
            raise TokenNotFound(token_id)
        row.revoked_at = m.utcnow()
        return _info(row)

    return catalog.transaction(work)


def check_token(catalog: Catalog, secret: str) -> TokenInfo | None:
    """The live token with this secret, or None."""
    if not secret.startswith(PREFIX):
        return None
    digest = hash_token(secret)

    def work(session: Session) -> TokenInfo | None:
        row = session.scalar(select(m.ApiToken).where(m.ApiToken.token_hash == digest))
        if row is None or row.revoked_at is not None:
            return None
        now = m.utcnow()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            row.last_used_at = now
        return _info(row)

    return catalog.transaction(work)


def _info(row: m.ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
