"""What every page needs: the portal, the viewer, the CSRF token and any flash alert."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from ._session import pop_flash, sessions_of
from ._sign_in import identity_of

if TYPE_CHECKING:
    from .._portal import Portal


def portal_of(request: Request) -> Portal:
    return request.app.state.portal  # type: ignore[no-any-return]


def page_context(request: Request, *, nav: str = "") -> dict[str, Any]:
    """The base template's context; takes the flash alert out of the session."""
    portal = portal_of(request)
    return {
        "request": request,
        "viewer": identity_of(request),
        "csrf_token": sessions_of(request).csrf_token(request),
        "flash": pop_flash(request),
        "demo": portal.demo,
        "nav": nav,
        "portal_title": portal.config.get("app.title", "Greenroom"),
    }


def render_page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """A full page from ``greenroom/<template>`` with a context made by :func:`page_context`."""
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, f"greenroom/{template}", context, status_code=status_code
    )


def render_partial(request: Request, template: str, /, **context: Any) -> Markup:
    """A fragment from ``greenroom/partials/<template>`` (``request`` is in its context)."""
    partial = request.app.state.templates.env.get_template(f"greenroom/partials/{template}")
    return Markup(partial.render(request=request, **context))

