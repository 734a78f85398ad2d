"""The one session: a cookie signed with ``app.secret`` (Starlette's ``SessionMiddleware``) that
holds flash alerts and the seed of the CSRF token, and the one CSRF check.

A CSRF token is the session's random seed signed with ``app.secret`` (itsdangerous); it is
valid only with the session that holds that seed, so neither a cookie copied into a form nor a
token from another browser's session passes. Any process with the same ``app.secret`` accepts
the session and its tokens, so restarts and several workers keep working.

Every state-changing route declares ``dependencies=[csrf_protected(...)]``; nothing else checks
CSRF. Sign-in modes that start or end a signed-in session should call
:func:`renew_session` so a session fixed before sign-in is not reused after it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import itsdangerous
from fastapi import Depends, FastAPI
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp

SESSION_COOKIE = "greenroom_session"
CSRF_FIELD = "csrf_token"
#: Scripts holding a session send the token in this header instead of a form field.
CSRF_HEADER = "X-CSRF-Token"
CSRF_REFUSED = "Your session expired or the form was sent from elsewhere. Check and send it again."
_CSRF_SEED = "csrf"
_FLASH = "flash"

RefusalPage = Callable[[Request, str], Awaitable[Response]]


class Sessions:
    """Signs and checks what the session holds, with one app secret."""

    def __init__(self, secret: str, *, https_only: bool = False) -> None:
        self._secret = secret
        self.https_only = https_only
        self._csrf = itsdangerous.URLSafeSerializer(secret, salt="greenroom.csrf")

    def install(self, app: FastAPI) -> None:
        """Add the session middleware and the CSRF refusal handler to ``app``."""
        app.state.sessions = self
        app.add_middleware(SessionMiddleware, **self._options())
        app.add_exception_handler(CsrfRefused, _refused)  # type: ignore[arg-type]

    def middleware(self, app: ASGIApp) -> SessionMiddleware:
        """The session middleware :meth:`install` adds, around ``app``."""
        return SessionMiddleware(app, **self._options())

    def _options(self) -> dict[str, Any]:
        return {"secret_key": self._secret, "session_cookie": SESSION_COOKIE,
                "same_site": "lax", "https_only": self.https_only}

    def csrf_token(self, request: Request) -> str:
        """This session's CSRF token for a form (made, with its seed, on first use)."""
        seed = request.session.get(_CSRF_SEED)
        if not isinstance(seed, str):
            seed = request.session[_CSRF_SEED] = secrets.token_urlsafe(32)
        return str(self._csrf.dumps(seed))

    def csrf_valid(self, request: Request, submitted: str | None) -> bool:
        seed = request.session.get(_CSRF_SEED)
        if not submitted or not isinstance(seed, str):
            return False
        try:
            signed_seed = self._csrf.loads(submitted)
        except itsdangerous.BadData:
            return False
        return isinstance(signed_seed, str) and hmac.compare_digest(signed_seed, seed)


def sessions_of(request: Request) -> Sessions:
    return request.app.state.sessions  # type: ignore[no-any-return]


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token."""

    def __init__(self, page: RefusalPage | None) -> None:
        super().__init__(CSRF_REFUSED)
        self.page = page


async def _refused(request: Request, exc: CsrfRefused) -> Response:
    if exc.page is not None:
        return await exc.page(request, CSRF_REFUSED)
    return PlainTextResponse(CSRF_REFUSED, status_code=403)


def csrf_protected(refusal_page: RefusalPage | None = None) -> Any:
    """The dependency every state-changing route declares. Without this session's token (form
    field ``csrf_token`` or header ``X-CSRF-Token``) the route does not run; ``refusal_page``
    renders the 403 answer (e.g. the form again, with the person's input), else plain text."""

    async def check_csrf(request: Request) -> None:
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            value = (await request.form()).get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
        if not sessions_of(request).csrf_valid(request, submitted):
            raise CsrfRefused(refusal_page)

    return Depends(check_csrf)


def flash(request: Request, kind: str, message: str) -> None:
    """An alert for the next page this browser shows (``kind``: success, error, info)."""
    request.session[_FLASH] = [kind, message]


def pop_flash(request: Request) -> tuple[str, str] | None:
    value = request.session.pop(_FLASH, None)
    if isinstance(value, list) and len(value) == 2:
        return str(value[0]), str(value[1])
    return None


def renew_session(request: Request) -> None:
    """Forget everything the session held (at sign-in and sign-out): a new CSRF seed follows."""
    request.session.clear()
