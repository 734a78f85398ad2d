"""The hooks a Greenroom plugin may implement.

Every hook is called with keyword arguments, once per plugin, and its result is checked by the
host (``greenroom._host``). A plugin made with ``create_plugin`` implements all of them; a
plugin object written by hand implements the ones it needs with ``@greenroom.hookimpl``.
"""

# A hook specification is a signature and a docstring; pluggy never runs its body.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from fastapi import APIRouter
    from pydantic import BaseModel

    from ._api import ApiFactory, ApiHolder, ApiRef
    from ._plugin import Card, PageSection, Simulator
    from ._provider import IncidentProvider

hookspec = pluggy.HookspecMarker("greenroom")


@hookspec(firstresult=True)
def greenroom_plugin_id() -> str:
    """Return the plugin's id (lowercase letters, digits and dashes)."""


@hookspec
def greenroom_api_factories() -> Iterable[ApiFactory[Any]]:
    """Return the API factories the plugin provides, registered at the `default` scope."""


@hookspec
def greenroom_cards() -> Iterable[Card]:
    """Return the cards the plugin shows on entity pages."""


@hookspec
def greenroom_routes(apis: ApiHolder) -> APIRouter | None:
    """Return a FastAPI router to mount under `/api/<plugin-id>`, or None."""


@hookspec
def greenroom_incident_providers() -> Iterable[ApiRef[IncidentProvider]]:
    """Return references to the APIs that implement the incident provider contract."""


@hookspec
def greenroom_simulators() -> Iterable[Simulator]:
    """Return local vendor simulators the demo portal serves and points the plugin at."""


@hookspec
def greenroom_settings_model() -> type[BaseModel] | None:
    """Return the pydantic model that validates `plugins.<id>` in the config, or None."""


@hookspec
def greenroom_startup(apis: ApiHolder) -> Awaitable[None] | None:
    """Run once when the portal starts, after every API is wired; may return an awaitable."""


@hookspec
def greenroom_secret_config_keys() -> Iterable[str]:
    """Return config key paths whose values are secrets though their names do not say so."""


@hookspec
def greenroom_page_sections() -> Iterable[PageSection]:
    """Return the sections the plugin adds to the portal's own pages (entity page, home page)."""
