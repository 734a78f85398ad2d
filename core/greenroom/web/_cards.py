"""Rendering cards in isolation: each within its time budget, an exception in one shown as that
card's error box, never breaking the page."""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from .._api import maybe_await
from .._entity import Entity
from .._exceptions import ProviderError
from .._identity import Identity
from .._plugin import Card, CardContext
from .._render import card_template_renderer

if TYPE_CHECKING:
    from .._portal import Portal

log = logging.getLogger("greenroom.cards")


@dataclass(frozen=True)
class ViewerContext:
    identity: Identity
    csrf_token: str
    form: Mapping[str, str] | None = None
    form_card: str | None = None
    form_action: str | None = None


def _templates_package(portal: Portal, card: Card) -> str | None:
    record = portal.host.records.get(card.plugin_id)
    plugin = record.plugin if record else None
    package = getattr(plugin, "templates", None)
    if package:
        return str(package)
    module = getattr(card.render, "__module__", "") or ""
    return module.split(".")[0] or None


def card_context(portal: Portal, card: Card, entity: Entity, viewer: ViewerContext) -> CardContext:
    mine = viewer.form_card == card.id
    return CardContext(
        entity=entity,
        plugin_id=card.plugin_id,
        card_id=card.id,
        apis=portal.registry,
        identity=viewer.identity,
        settings=portal.settings.get(card.plugin_id),
        csrf_token=viewer.csrf_token,
        form=dict(viewer.form or {}) if mine else {},
        form_action=viewer.form_action if mine else None,
        render_template=card_template_renderer(_templates_package(portal, card)),
    )


def error_box(plugin_id: str, title: str, message: str) -> Markup:
    return Markup(
        '<section class="card card-error" role="alert" aria-label="{title}">'
        '<header class="card-header"><h2 class="card-title">{title}</h2></header>'
        '<div class="card-body"><div class="alert alert-error">'
        "<strong>Error in {plugin}</strong><p>{message}</p></div></div></section>"
    ).format(title=title, plugin=plugin_id, message=message)


def _scrub(portal: Portal, text: str) -> str:
    scrub = getattr(portal.config, "scrub", None)
    return scrub(text) if callable(scrub) else text


async def is_available(portal: Portal, card: Card, entity: Entity) -> bool:
    """A predicate that raises counts as false, and marks its plugin failed."""
    try:
        return bool(await maybe_await(card.is_available(entity)))
    except Exception as exc:  # noqa: BLE001
        log.error("predicate of card %s raised: %s", card.id, _scrub(portal, str(exc)))
        portal.host.mark_failed(card.plugin_id, f"predicate of card {card.id}", exc)
        return False


async def available_cards(portal: Portal, entity: Entity) -> list[Card]:
    cards = portal.cards_for(entity)
    flags = await asyncio.gather(*(is_available(portal, c, entity) for c in cards))
    return [card for card, ok in zip(cards, flags, strict=True) if ok]


async def render_card(
    portal: Portal, card: Card, entity: Entity, viewer: ViewerContext
) -> Markup:
    """The card's HTML, or its error box. Never raises."""
    try:
        ctx = card_context(portal, card, entity, viewer)
        html = await asyncio.wait_for(card.render(ctx), timeout=card.timeout)
        return framed(card, str(html))
    except TimeoutError:
        message = f"No answer within {card.timeout:g} seconds. Reload the page to try again."
        return error_box(card.plugin_id, card.title, message)
    except ProviderError as exc:
        return error_box(card.plugin_id, card.title, _scrub(portal, str(exc)))
    except Exception as exc:  # noqa: BLE001 - any plugin bug stays inside its card
        log.error("card %s raised: %s", card.id, _scrub(portal, traceback.format_exc()))
        text = _scrub(portal, f"{type(exc).__name__}: {exc}")
        return error_box(card.plugin_id, card.title, text)


# HTML whose first element has the class "card" draws its own frame.
_OWN_FRAME = re.compile(
    r'\A\s*(?:<!--.*?-->\s*)*<[a-zA-Z]+\b[^>]*\bclass="(?:[^"]*\s)?card[\s"]', re.S
)


def framed(card: Card, html: str) -> Markup:
    """The card's HTML in the host's frame (header with its title, body), unless it drew one."""
    if _OWN_FRAME.match(html):
        return Markup(html)
    title_id = f"card-title-{card.id}"
    return Markup(
        '<section class="card" aria-labelledby="{id}"><header class="card-header">'
        '<h2 class="card-title" id="{id}">{title}</h2></header>'
        '<div class="card-body">{body}</div></section>'
    ).format(id=title_id, title=card.title, body=Markup(html))


def loading_slot(index: int, card: Card) -> Markup:
    return Markup(
        '<section class="card card-loading" id="slot-{i}" style="order:{i}" aria-busy="true">'
        '<header class="card-header"><h2 class="card-title">{title}</h2></header>'
        '<div class="card-body"><p class="muted loading">Loading {title}…</p></div></section>'
    ).format(i=index, title=card.title)


async def stream_cards(
    portal: Portal, cards: Sequence[Card], entity: Entity, viewer: ViewerContext
) -> AsyncIterator[str]:
    """Yield each card as soon as it is ready, in whatever order they finish.

    Without scripts each finished card is placed where its loading slot was with CSS ``order``
    and hides the slot with a one-line style rule. With scripts, greenroom.js moves it into its
    slot (``data-slot``), so focus and reading order follow the visual order, and announces it.
    """

    async def one(index: int, card: Card) -> tuple[int, Markup]:
        return index, await render_card(portal, card, entity, viewer)

    tasks = [asyncio.ensure_future(one(i, c)) for i, c in enumerate(cards)]
    try:
        for finished in asyncio.as_completed(tasks):
            index, html = await finished
            yield (
                f"<style>#slot-{index}{{display:none}}</style>"
                f'<div class="card-slot" id="card-{escape(cards[index].id)}" '
                f'data-card="{escape(cards[index].id)}" data-slot="slot-{index}" '
                f'data-title="{escape(cards[index].title)}" style="order:{index}">{html}</div>\n'
            )
    finally:
        for task in tasks:
            task.cancel()


async def summaries(
    portal: Portal, entities: Sequence[Entity], viewer: ViewerContext, timeout: float = 3.0
) -> dict[str, list[tuple[str, str]]]:
    """One-line summaries per entity ref: ``[(plugin title, text), ...]``."""

    async def one(card: Card, entity: Entity) -> tuple[str, str, str] | None:
        if card.summary is None or not await is_available(portal, card, entity):
            return None
        try:
            ctx = card_context(portal, card, entity, viewer)
            text = await asyncio.wait_for(card.summary(ctx), timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            text = f"unavailable ({_scrub(portal, type(exc).__name__)})"
        return (entity.ref, card.title, text) if text else None

    jobs: list[Any] = [one(c, e) for e in entities for c in portal.cards_for(e)]
    result: dict[str, list[tuple[str, str]]] = {}
    for item in await asyncio.gather(*jobs):
        if item is not None:
            result.setdefault(item[0], []).append((item[1], item[2]))
    return result
