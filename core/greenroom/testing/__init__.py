"""Test helpers for plugin authors: inject fake APIs through the same registry production uses.

    from greenroom.testing import api_holder, render_card

    apis = api_holder((my_api_ref, FakeMyApi()))
    html = await render_card(my_card, entity, apis=apis)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from .._api import ApiRef, LayeredApiHolder
from .._entity import Entity
from .._identity import Identity
from .._plugin import ActionResult, Card, CardContext
from .._render import card_template_renderer
from ._conformance import IncidentProviderConformance
from ._loopback import Annotator, ServedApp, generated_catalog, serve_app

TEST_USER = Identity(
    user_id="test-user", email="test.user@example.com", display_name="Test User",
    authenticated=True,
)


def api_holder(*pairs: tuple[ApiRef[Any], Any], outer: Any = None) -> LayeredApiHolder:
    """An immutable holder built from ``(ref, implementation)`` pairs; later pairs win.
    Layer more with ``holder.with_apis(...)`` (the inner layer wins)."""
    return LayeredApiHolder(pairs, outer=outer)


def card_context(
    card: Card,
    entity: Entity,
    *,
    apis: Any,
    identity: Identity | None = None,
    settings: Any = None,
    form: Mapping[str, str] | None = None,
    form_action: str | None = None,
    templates: str | None = None,
) -> CardContext:
    """The context the portal would give ``card`` when rendering ``entity``."""
    return CardContext(
        entity=entity,
        plugin_id=card.plugin_id,
        card_id=card.id,
        apis=apis,
        identity=identity or TEST_USER,
        settings=settings,
        csrf_token="test-csrf-token",
        form=dict(form or {}),
        form_action=form_action,
        render_template=card_template_renderer(templates or _package_of(card)),
    )


async def render_card(card: Card, entity: Entity, **kwargs: Any) -> str:
    """Render ``card`` for ``entity`` exactly as the portal would (without the error wrapper)."""
    return str(await card.render(card_context(card, entity, **kwargs)))


async def run_action(
    card: Card, action: str, entity: Entity, form: Mapping[str, str], **kwargs: Any
) -> ActionResult:
    """Run one of ``card``'s actions with ``form`` as the submitted values."""
    ctx = card_context(card, entity, **kwargs)
    return await card.actions[action](ctx, form)


def _package_of(card: Card) -> str | None:
    """The package whose ``templates/`` folder the card's templates come from, if importable
    (a card defined in a script, a notebook or a test module has none)."""
    module = getattr(card.render, "__module__", None) or ""
    package = module.split(".")[0]
    try:
        found = importlib.util.find_spec(package) if package else None
    except (ImportError, ValueError):
        found = None
    return package if found is not None and found.submodule_search_locations else None


__all__ = [
    "TEST_USER",
    "Annotator",
    "IncidentProviderConformance",
    "ServedApp",
    "api_holder",
    "card_context",
    "generated_catalog",
    "render_card",
    "run_action",
    "serve_app",
]
