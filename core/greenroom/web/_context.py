"""What every page needs: the portal, the viewer, the CSRF token and any flash alert."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from .._identity import Identity
from ._session import FLASH_COOKIE, Session

if TYPE_CHECKING:
    from .._portal import Portal


def portal_of(request: Request) -> Portal:
    return request.app.state.portal  # type: ignore[no-any-return]


def session_of(request: Request) -> Session:
    return request.app.state.session  # type: ignore[no-any-return]


def viewer_of(request: Request) -> Identity:
    return portal_of(request).identity_for(request.headers)


def page_context(request: Request, *, nav: str = "") -> tuple[dict[str, Any], str, bool]:
    """Template context, the CSRF token, and whether the token is new (set it as a cookie)."""
    portal = portal_of(request)
    token, is_new = Session.csrf_token(request)
    flash = None
    if request.cookies.get(FLASH_COOKIE):
        flash = _read_flash(request)
    ctx: dict[str, Any] = {
        "request": request,
        "viewer": viewer_of(request),
        "csrf_token": token,
        "flash": flash,
        "demo": portal.demo,
        "nav": nav,
        "portal_title": portal.config.get("app.title", "Greenroom"),
    }
    return ctx, token, is_new


def _read_flash(request: Request) -> tuple[str, str] | None:
    from starlette.responses import Response

    return session_of(request).pop_flash(request, Response())
