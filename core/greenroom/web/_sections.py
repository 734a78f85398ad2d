"""Rendering the page sections plugins add through ``greenroom_page_sections``: each within its
time budget, one that raises or hangs left out (and logged), never breaking the page."""

from __future__ import annotations

import asyncio
import logging
import traceback
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from .._deadline import call_plugin
from .._entity import Entity
from .._plugin import PageSection, SectionContext
from .._render import card_template_renderer
from ._cards import ViewerContext
from ._context import portal_of

if TYPE_CHECKING:
    from fastapi import Request

    from .._portal import Portal

log = logging.getLogger("greenroom.sections")


def _templates_package(portal: Portal, section: PageSection) -> str | None:
    record = portal.host.records.get(section.plugin_id) or portal.host.builtins.get(
        section.plugin_id
    )
    package = getattr(record.plugin if record else None, "templates", None)
    if package:
        return str(package)
    return (getattr(section.render, "__module__", "") or "").split(".")[0] or None


async def render_sections(
    request: Request, page: str, entity: Entity | None, viewer: ViewerContext
) -> Markup:
    """The HTML of every section for ``page``, in plugin order; failed ones left out."""
    portal = portal_of(request)
    sections = portal.sections_for(page)
    if not sections:
        return Markup("")

    def path_for(name: str, /, **params: Any) -> str:
        return str(request.app.url_path_for(name, **params))

    async def one(section: PageSection) -> str:
        ctx = SectionContext(
            page=page,
            entity=entity,
            plugin_id=section.plugin_id,
            section_id=section.id,
            portal=portal,
            apis=portal.registry,
            identity=viewer.identity,
            settings=portal.settings.get(section.plugin_id),
            path_for=path_for,
            render_template=card_template_renderer(_templates_package(portal, section)),
        )
        what = f"page section {section.id} of {section.plugin_id}"
        try:
            html = await call_plugin(section.render, ctx, timeout=section.timeout, what=what)
        except Exception:  # noqa: BLE001 - a section that fails is left out, the page goes on
            log.error("%s failed: %s", what, portal.scrub(traceback.format_exc()))
            return ""
        return str(html) if html else ""

    return Markup("".join(await asyncio.gather(*(one(s) for s in sections))))
