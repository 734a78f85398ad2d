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

from markupsafe import Markup

from .._availability import is_available as available
from .._deadline import call_plugin
from .._entity import Entity
from .._exceptions import ProviderError, RateLimitedError
from .._identity import Identity
from .._plugin import Card, CardContext
from .._render import card_template_renderer, render_partial

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


async def card_permissions(
    portal: Portal, card: Card, entity: Entity, identity: Any
) -> dict[str, Any]:
    from ._guard import card_permissions as decide

    return await decide(portal, card, entity, identity)


def error_box(
    plugin_id: str, title: str, message: str, retry_after: int | None = None
) -> Markup:
    """The card's error box; with ``retry_after`` (seconds) a live page reads it again then."""
    return render_partial("card_error.html", plugin_id=plugin_id, title=title, message=message,
                          retry_after=retry_after)


def _rate_limited(exc: RateLimitedError, text: str) -> tuple[str, int | None]:
    """The message of a rate-limited read, saying when it is tried again."""
    seconds = exc.retry_after()
    if seconds is None:
        return text, None
    return f"{text.rstrip('.')}; retrying in {seconds} s.", seconds


async def is_available(portal: Portal, card: Card, entity: Entity) -> bool:
    """Whether the card shows for ``entity``; a predicate that raises fails its plugin."""

    def failed(exc: BaseException) -> None:
        log.error("predicate of card %s raised: %s", card.id, portal.scrub(str(exc)))
        portal.host.mark_failed(card.plugin_id, f"predicate of card {card.id}", exc)

    return await available(
        card.is_available, entity, apis=portal.registry, on_error=failed,
        timeout=card.timeout, what=f"predicate of card {card.id}",
    )


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
        ctx.permissions = await card_permissions(portal, card, entity, viewer.identity)
        html = await call_plugin(
            card.render, ctx, timeout=card.timeout, what=f"card {card.id}"
        )
        return framed(card, str(html))
    except TimeoutError:
        message = f"No answer within {card.timeout:g} seconds. Reload the page to try again."
        return error_box(card.plugin_id, card.title, message)
    except RateLimitedError as exc:
        message, seconds = _rate_limited(exc, portal.scrub(str(exc)))
        return error_box(card.plugin_id, card.title, message, seconds)
    except ProviderError as exc:
        return error_box(card.plugin_id, card.title, portal.scrub(str(exc)))
    except Exception as exc:  # noqa: BLE001 - any plugin bug stays inside its card
        log.error("card %s raised: %s", card.id, portal.scrub(traceback.format_exc()))
        text = portal.scrub(f"{type(exc).__name__}: {exc}")
        return error_box(card.plugin_id, card.title, text)


# HTML whose first element has the class "card" draws its own frame.
_OWN_FRAME = re.compile(
    r'\A\s*(?:<!--.*?-->\s*)*<[a-zA-Z]+\b[^>]*\bclass="(?:[^"]*\s)?card[\s"]', re.S
)


def framed(card: Card, html: str) -> Markup:
    """The card's HTML in the host's frame (header with its title, body), unless it drew one."""
    if _OWN_FRAME.match(html):
        return Markup(html)
    return render_partial("card_frame.html", card_id=card.id, title=card.title, html=Markup(html))


def loading_slot(index: int, card: Card) -> Markup:
    return render_partial("card_loading.html", index=index, title=card.title)


def start_cards(
    portal: Portal, cards: Sequence[Card], entity: Entity, viewer: ViewerContext
) -> list[asyncio.Task[tuple[int, Markup]]]:
    """Start rendering every card now, for :func:`stream_cards` to send: a page that starts its
    cards before rendering its own head waits max(head, slowest card), not their sum."""

    async def one(index: int, card: Card) -> tuple[int, Markup]:
        return index, await render_card(portal, card, entity, viewer)

    return [asyncio.ensure_future(one(i, c)) for i, c in enumerate(cards)]


async def stream_cards(
    portal: Portal, cards: Sequence[Card], entity: Entity, viewer: ViewerContext,
    started: list[asyncio.Task[tuple[int, Markup]]] | None = None,
) -> AsyncIterator[str]:
    """Yield each card as soon as it is ready, in whatever order they finish (``started``:
    the renders :func:`start_cards` began; cancelled here when the stream ends).

    Without scripts each finished card is placed where its loading slot was with CSS ``order``
    and hides the slot with a one-line style rule. With scripts, greenroom.js moves it into its
    slot (``data-slot``), so focus and reading order follow the visual order, and announces it.
    """
    tasks = started if started is not None else start_cards(portal, cards, entity, viewer)
    try:
        for finished in asyncio.as_completed(tasks):
            index, html = await finished
            slot = render_partial(
                "card_slot.html", index=index, card_id=cards[index].id,
                title=cards[index].title, html=html,
            )
            yield f"{slot}\n"
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
            text = await call_plugin(
                card.summary, ctx, timeout=timeout, what=f"summary of card {card.id}"
            )
        except Exception as exc:  # noqa: BLE001
            text = f"unavailable ({portal.scrub(type(exc).__name__)})"
        return (entity.ref, card.title, text) if text else None

    jobs: list[Any] = [one(c, e) for e in entities for c in portal.cards_for(e)]
    result: dict[str, list[tuple[str, str]]] = {}
    for item in await asyncio.gather(*jobs):
        if item is not None:
            result.setdefault(item[0], []).append((item[1], item[2]))
    return result
