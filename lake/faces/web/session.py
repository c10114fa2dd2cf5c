"""Signing in to the web catalog with a lake token, and keeping forms from other sites out.

* The sign-in form takes a token (``lake token create --role read``); the lake checks it as
  it checks a bearer token (the same cache: a revoked token is refused within seconds) and
  keeps it in the cookie ``lake_session``: HttpOnly (no script reads it), SameSite=Strict
  (no other site's page or form sends it), Path=/, Secure when the page came over HTTPS,
  for 12 hours. Signing out deletes it. The cookie is read by the pages only: the API
  under ``/api/v1`` takes bearer tokens and ignores cookies, so no cross-site request can
  act on it with a browser's cookie.
* Every form that changes something (sign in, sign out, run SQL, download) carries a
  token that must equal the ``lake_csrf`` cookie (a double-submit token, random per
  browser, HttpOnly, SameSite=Strict), and a request whose ``Origin`` header names another
  site is refused. A cross-site form can neither read that cookie nor send it, so it cannot
  sign a user in as someone else (login CSRF), sign them out, or run a query as them.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from catalog.tokens import TokenInfo, allows

SESSION_COOKIE = "lake_session"
CSRF_COOKIE = "lake_csrf"
SESSION_S = 12 * 3600


class SignInNeeded(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, next_path: str, *, stale: bool) -> None:
        self.next_path = next_path
        self.stale = stale
        super().__init__(next_path)


class FormRefused(Exception):
    """A form without the right CSRF token, or posted from another site."""


def check_token(request: Request, secret: str) -> TokenInfo | None:
    """The live token with this secret that may read, or None (blocking: a catalog read)."""
    if not secret or len(secret) > 200:
        return None
    tokens = request.app.state.tokens
    token = tokens.cached(secret) or tokens.get(secret)
    return token if token is not None and allows(token.role, "read") else None


def signed_in(request: Request) -> TokenInfo:
    """The session's token; raises :class:`SignInNeeded` without one (a dependency of every
    page, resolved before the page reads anything)."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    token = check_token(request, secret)
    if token is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(target, stale=bool(secret))
    request.state.token = token
    return token


def start_session(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=SESSION_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def csrf_token(request: Request) -> str:
    """This browser's form token (a new one when it has none; :func:`keep_csrf` sets it)."""
    found = request.cookies.get(CSRF_COOKIE, "")
    if len(found) == 43:
        return found
    if not hasattr(request.state, "new_csrf"):
        request.state.new_csrf = secrets.token_urlsafe(32)
    return request.state.new_csrf


def keep_csrf(request: Request, response: Response) -> None:
    new = getattr(request.state, "new_csrf", None)
    if new is not None:
        response.set_cookie(
            CSRF_COOKIE,
            new,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def check_form(request: Request, form: dict[str, Any]) -> None:
    """Refuse a form posted from another site or without this browser's token."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise FormRefused
    elif origin == "null":
        raise FormRefused
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get("csrf", ""))
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise FormRefused


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path on this site only."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
