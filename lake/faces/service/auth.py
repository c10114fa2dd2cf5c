"""Bearer-token access for the service: no token is 401, a weaker role than needed is 403."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from catalog.tokens import TokenInfo, allows

bearer = HTTPBearer(auto_error=False, description="A token from `lake token create --role ROLE`.")


class TokenCache:
    """Checked tokens, kept ``ttl_s`` seconds: under load the check was a catalog
    transaction per request. A revoked token is refused within ``ttl_s``."""

    def __init__(self, check: Callable[[str], TokenInfo | None], ttl_s: float) -> None:
        self._check = check
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, TokenInfo]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> TokenInfo | None:
        with self._lock:
            found = self._known.get(secret)
        return found[1] if found is not None and time.monotonic() - found[0] < self._ttl_s else None

    def get(self, secret: str) -> TokenInfo | None:
        now = time.monotonic()
        found = self.cached(secret)
        if found is not None:
            return found
        token = self._check(secret)
        with self._lock:
            if token is None:
                self._known.pop(secret, None)
            elif self._ttl_s > 0:
                if len(self._known) > 10_000:
                    self._known.clear()
                self._known[secret] = (now, token)
        return token


class AccessDenied(Exception):
    """Turned into 401 (no valid token) or 403 (a role too weak) by the app."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def require(role: str) -> Callable[..., Awaitable[TokenInfo]]:
    """A dependency admitting tokens of ``role`` or a stronger one."""

    # async: a cached token is checked on the event loop, without a thread-pool hop.
    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> TokenInfo:
        if credentials is None or not credentials.credentials:
            raise AccessDenied(
                401,
                "This endpoint needs a bearer token: create one with "
                "`lake token create --role read`.",
            )
        tokens: TokenCache = request.app.state.tokens
        token = tokens.cached(credentials.credentials) or await run_in_threadpool(
            tokens.get, credentials.credentials
        )
        if token is None:
            raise AccessDenied(
                401,
                "The bearer token is unknown or revoked; create a new one with "
                "`lake token create`.",
            )
        request.state.token_id = token.id  # for the access log: the id, never the secret
        if not allows(token.role, role):
            raise AccessDenied(
                403, f"This endpoint needs a {role} token; the one given has role {token.role}."
            )
        return token

    return check
