"""Pages whose content waits on vendors stream their shell first.

The head, the navigation and any alert go out at once; the content follows when the providers
have answered (each within its own time budget), so a hung vendor never holds a page's first
byte. ``base.html`` marks where its ``content`` block starts and ends; the shell is the same
layout with that block empty, and the content is cut from the full page between the marks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi.responses import StreamingResponse
from markupsafe import escape
from starlette.requests import Request

log = logging.getLogger("greenroom.pages")

MAIN_START = "<!--GREENROOM-MAIN-->"
MAIN_END = "<!--/GREENROOM-MAIN-->"


def stream_shell(
    request: Request,
    template: str,
    context: dict[str, Any],
    fill: Callable[[], Awaitable[None]],
    *,
    title: str,
    waiting: str,
    status_code: int = 200,
) -> StreamingResponse:
    """``greenroom/<template>`` streamed: the shell now, the content once ``fill()`` (which
    adds what the template needs to ``context``) has finished."""
    templates = request.app.state.templates
    shell = templates.get_template("greenroom/shell.html").render(
        {**context, "shell_title": title}
    )
    head, _, tail = shell.partition(MAIN_START + MAIN_END)
    work = asyncio.ensure_future(fill())

    async def body() -> AsyncIterator[str]:
        try:
            yield (
                f'{head}{MAIN_START}<p class="muted loading" id="shell-waiting" aria-busy="true">'
                f"{escape(waiting)}</p>"
            )
            await asyncio.wait({work})
            work.result()
            page = templates.get_template(f"greenroom/{template}").render(context)
            start = page.index(MAIN_START) + len(MAIN_START)
            content = page[start : page.index(MAIN_END, start)]
            yield f"<style>#shell-waiting{{display:none}}</style>{content}{MAIN_END}{tail}"
        finally:
            work.cancel()

    response = StreamingResponse(body(), status_code=status_code, media_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response
