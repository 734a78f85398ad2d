"""`create_plugin` and the records a plugin contributes: cards, page sections, routes,
simulators."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pluggy

from ._api import ApiFactory, ApiHolder, ApiRef
from ._entity import Entity
from ._exceptions import PluginIdError

if TYPE_CHECKING:
    from fastapi import APIRouter
    from markupsafe import Markup
    from pydantic import BaseModel

    from ._identity import Identity
    from ._portal import Portal
    from ._provider import IncidentProvider

PROJECT_NAME = "greenroom"
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

_PLUGIN_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

def check_plugin_id(plugin_id: object, where: str = "") -> str:
    """``plugin_id`` when it is a valid plugin id, else :class:`PluginIdError` saying how to fix
    it."""
    if not isinstance(plugin_id, str) or not _PLUGIN_ID.match(plugin_id):
        raise PluginIdError(plugin_id, where)
    return plugin_id


#: ``is_available(entity)``, or ``is_available(entity, apis)`` to ask the portal's APIs; either
#: may be async.
Predicate = Callable[..., "bool | Awaitable[bool]"]

#: Where a card's actions post to, under the entity page (:meth:`CardContext.action_url`).
CARD_ACTION = "/actions/{card_id}/{action}"
#: One card alone, under the entity page (to refresh it without reloading the page).
CARD_FRAGMENT = "/cards/{card_id}"


@dataclass(frozen=True)
class ActionResult:
    """The alert shown after an action. ``ok=False`` keeps the person's form input."""

    message: str
    ok: bool = True


@dataclass
class CardContext:
    """Everything a card needs to render for one entity and one viewer."""

    entity: Entity
    plugin_id: str
    card_id: str
    apis: ApiHolder
    identity: Identity
    settings: Any
    csrf_token: str = ""
    #: The form values a person submitted when their action failed, to show them again.
    form: Mapping[str, str] = field(default_factory=dict)
    #: Which form (action name) ``form`` belongs to.
    form_action: str | None = None
    #: May the viewer use each of the card's actions? ``permissions["incident.resolve"]`` (or
    #: ``"<plugin-id>.<action>"``) has ``allowed`` and ``reason``: render a refused action's
    #: button disabled, with the reason, rather than hiding it. Empty when nothing is checked.
    permissions: Mapping[str, Any] = field(default_factory=dict)
    render_template: Callable[..., Markup] = field(default=lambda *a, **k: "")  # type: ignore[assignment,return-value]

    def action_url(self, action: str) -> str:
        return self.entity.path + CARD_ACTION.format(card_id=self.card_id, action=action)


CardRender = Callable[[CardContext], Awaitable[str]]
ActionHandler = Callable[[CardContext, Mapping[str, str]], Awaitable[ActionResult]]
SummaryRender = Callable[[CardContext], Awaitable["str | None"]]


@dataclass(frozen=True)
class Card:
    """A card on entity pages, shown when ``is_available(entity)`` is true.

    ``render`` returns HTML (use ``ctx.render_template``, which autoescapes). ``actions`` are
    POST handlers, by name. ``summary`` gives the one-line text on the catalog page.
    ``timeout`` is the card's time budget in seconds.
    """

    id: str
    title: str
    render: CardRender
    is_available: Predicate = lambda entity: True
    actions: Mapping[str, ActionHandler] = field(default_factory=dict)
    summary: SummaryRender | None = None
    timeout: float = 10.0
    plugin_id: str = ""


#: The pages a :class:`PageSection` can be on: ``"entity"`` (above the cards of an entity's page)
#: and ``"home"`` (under the catalog page's heading).
SECTION_PAGES = ("entity", "home")


@dataclass
class SectionContext:
    """Everything a page section needs to render for one page and one viewer."""

    page: str
    #: The entity whose page it is; None on the home page.
    entity: Entity | None
    plugin_id: str
    section_id: str
    portal: Portal
    apis: ApiHolder
    identity: Identity
    settings: Any
    #: ``path_for("coverage_page")``: the path of one of the portal's named routes.
    path_for: Callable[..., str]
    render_template: Callable[..., Markup]


SectionRender = Callable[[SectionContext], Awaitable["str | None"]]


@dataclass(frozen=True)
class PageSection:
    """A section a plugin adds to a portal page (``page``: one of :data:`SECTION_PAGES`).

    ``render`` returns HTML (use ``ctx.render_template``, which autoescapes), or None for
    nothing on this page. The page head never waits for it: it streams in when ready, placed
    first, and one that raises or takes longer than ``timeout`` seconds is left out (logged).
    """

    id: str
    page: str
    render: SectionRender
    timeout: float = 10.0
    plugin_id: str = ""


@dataclass(frozen=True)
class Simulator:
    """A local stand-in for a vendor API, served by the demo over loopback HTTP.

    ``app`` builds the ASGI app. ``proxy_headers`` are the (fake) credentials the demo's proxy
    route adds. ``config`` is merged into the demo's config; ``{url}`` in its strings becomes the
    simulator's base URL. ``catalog`` is YAML text with demo entities annotated for the plugin.
    ``app_for_portal``, when given, builds the app instead of ``app`` from the portal's base
    URL, so the simulator can send its webhooks to the portal serving it.
    """

    plugin_id: str
    app: Callable[[], Any]
    proxy_route: str
    proxy_headers: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    catalog: str = ""
    proxy_options: Mapping[str, Any] = field(default_factory=dict)
    app_for_portal: Callable[[str], Any] | None = None

    def build(self, portal_url: str) -> Any:
        """The simulator's ASGI app, for a portal at ``portal_url``."""
        return self.app_for_portal(portal_url) if self.app_for_portal else self.app()


RoutesFactory = Callable[[ApiHolder], "APIRouter"]
StartupHook = Callable[[ApiHolder], "Awaitable[None] | None"]


class Plugin:
    """A plugin: its id, the APIs it provides, its cards, routes and providers.

    Registered with the host's pluggy manager; its hook implementations return the records
    it was created with.
    """

    def __init__(
        self,
        *,
        id: str,
        title: str | None = None,
        description: str = "",
        apis: Sequence[ApiFactory[Any]] = (),
        cards: Sequence[Card] = (),
        routes: RoutesFactory | None = None,
        providers: Sequence[ApiRef[IncidentProvider]] = (),
        simulators: Sequence[Simulator] = (),
        settings_model: type[BaseModel] | None = None,
        on_startup: StartupHook | None = None,
        templates: str | None = None,
        secret_config_keys: Sequence[str] = (),
        sections: Sequence[PageSection] = (),
    ) -> None:
        check_plugin_id(id)
        self.id = id
        self.title = title or id
        self.description = description
        self.apis = tuple(apis)
        self.cards = tuple(
            card if card.plugin_id == id else _with_plugin(card, id) for card in cards
        )
        self.routes = routes
        self.providers = tuple(providers)
        self.simulators = tuple(simulators)
        self.settings_model = settings_model
        self.on_startup = on_startup
        self.templates = templates
        self.secret_config_keys = tuple(secret_config_keys)
        self.sections = tuple(replace(s, plugin_id=id) for s in sections)

    def __repr__(self) -> str:
        return f"Plugin{{{self.id}}}"

    @hookimpl
    def greenroom_plugin_id(self) -> str:
        return self.id

    @hookimpl
    def greenroom_api_factories(self) -> Iterable[ApiFactory[Any]]:
        return self.apis

    @hookimpl
    def greenroom_cards(self) -> Iterable[Card]:
        return self.cards

    @hookimpl
    def greenroom_routes(self, apis: ApiHolder) -> APIRouter | None:
        return self.routes(apis) if self.routes is not None else None

    @hookimpl
    def greenroom_incident_providers(self) -> Iterable[ApiRef[IncidentProvider]]:
        return self.providers

    @hookimpl
    def greenroom_simulators(self) -> Iterable[Simulator]:
        return self.simulators

    @hookimpl
    def greenroom_settings_model(self) -> type[BaseModel] | None:
        return self.settings_model

    @hookimpl
    def greenroom_startup(self, apis: ApiHolder) -> Awaitable[None] | None:
        return self.on_startup(apis) if self.on_startup is not None else None

    @hookimpl
    def greenroom_secret_config_keys(self) -> Iterable[str]:
        return self.secret_config_keys

    @hookimpl
    def greenroom_page_sections(self) -> Iterable[PageSection]:
        return self.sections


def _with_plugin(card: Card, plugin_id: str) -> Card:
    return replace(card, plugin_id=plugin_id)


def create_plugin(
    *,
    id: str,
    title: str | None = None,
    description: str = "",
    apis: Sequence[ApiFactory[Any]] = (),
    cards: Sequence[Card] = (),
    routes: RoutesFactory | None = None,
    providers: Sequence[ApiRef[IncidentProvider]] = (),
    simulators: Sequence[Simulator] = (),
    settings_model: type[BaseModel] | None = None,
    on_startup: StartupHook | None = None,
    templates: str | None = None,
    secret_config_keys: Sequence[str] = (),
    sections: Sequence[PageSection] = (),
) -> Plugin:
    """Bundle a plugin's id, API factories, cards, routes and providers.

    ``templates`` names the package whose ``templates/`` folder holds the plugin's Jinja2
    templates (used by ``CardContext.render_template``). ``settings_model`` validates
    ``plugins.<id>`` in the config. ``sections`` are added to the portal's own pages.
    """
    return Plugin(
        id=id,
        title=title,
        description=description,
        apis=apis,
        cards=cards,
        routes=routes,
        providers=providers,
        simulators=simulators,
        settings_model=settings_model,
        on_startup=on_startup,
        templates=templates,
        secret_config_keys=secret_config_keys,
        sections=sections,
    )
