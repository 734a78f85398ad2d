"""The catalog and entity pages, and the POST endpoint every card action goes through."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup

from .._auth import permission_action
from .._deadline import call_plugin
from .._entity import ENTITY_PAGE, Entity
from .._exceptions import ProviderError
from .._plugin import CARD_ACTION, CARD_FRAGMENT, ActionResult
from ._audit import recent_actions
from ._cards import (
    ViewerContext,
    available_cards,
    card_context,
    loading_slot,
    render_card,
    start_cards,
    stream_cards,
    summaries,
)
from ._context import page_context, portal_of, render_page
from ._forms import read_text_form
from ._guard import ActionRefused, deciding_entities, guarded
from ._sections import render_sections
from ._session import CSRF_FIELD, csrf_protected, flash

log = logging.getLogger("greenroom.pages")

router = APIRouter(include_in_schema=False)

CARDS_MARKER = "<!--GREENROOM-CARDS-->"


def _find_entity(request: Request, namespace: str, kind: str, name: str) -> Entity:
    entity = portal_of(request).catalog.find(namespace, kind, name)
    if entity is None:
        raise HTTPException(404, f"No entity {kind}:{namespace}/{name} in the catalog")
    return entity


#: Rows of the home page: summaries are asked for these only, whatever the catalog's size.
PAGE_SIZE = 50
ROWS_MARKER = "<!--GREENROOM-ROWS-->"
SECTIONS_MARKER = "<!--GREENROOM-SECTIONS-->"


@router.get("/", response_class=HTMLResponse)
async def catalog_page(
    request: Request, q: str = "", kind: str = "", owner: str = "", page: str = "1"
) -> Response:
    """The catalog, searched and filtered on the server, 50 rows a page. The page head goes
    out at once; each shown row's summaries (from the providers' account-wide indexes) and the
    page sections (the coverage line) follow as soon as they are ready."""
    portal = portal_of(request)
    entities = portal.catalog.search(q, kind=kind or None, owner=owner or None)
    pages = max(1, -(-len(entities) // PAGE_SIZE))
    number = min(max(1, int(page) if page.isdigit() else 1), pages)
    shown = entities[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    ctx = page_context(request, nav="catalog")
    viewer = ViewerContext(ctx["viewer"], ctx["csrf_token"])
    templates = request.app.state.templates

    catalog = request.app.url_path_for("catalog_page")

    def page_url(n: int) -> str:
        query = {k: v for k, v in (("q", q), ("kind", kind), ("owner", owner)) if v}
        return f"{catalog}?{urlencode({**query, 'page': n})}"

    ctx.update(
        entities=shown,
        q=q,
        kind=kind,
        owner=owner,
        kinds=portal.catalog.kinds(),
        owners=portal.catalog.owners(),
        problems=[str(p) for p in portal.catalog.problems],
        page=number,
        pages=pages,
        total=len(entities),
        first=(number - 1) * PAGE_SIZE + 1,
        last=(number - 1) * PAGE_SIZE + len(shown),
        page_url=page_url,
    )
    html = templates.get_template("greenroom/home.html").render(ctx)
    head, _, rest = html.partition(ROWS_MARKER)
    middle, _, tail = rest.partition(SECTIONS_MARKER)
    parts = templates.get_template("greenroom/home_rows.html").module

    async def body() -> AsyncIterator[str]:
        yield head
        # Started once the head is out: the coverage of a large catalog takes a while.
        sections = asyncio.ensure_future(render_sections(request, "home", None, viewer))
        try:
            if shown:
                providers = await _provider_badges(portal, shown)
                lines = await summaries(portal, shown, viewer)
                yield "".join(str(parts.row(e, providers, lines)) for e in shown)
            yield middle
            yield str(parts.sections(await sections))
            yield tail
        finally:
            sections.cancel()

    response = StreamingResponse(body(), media_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


async def _provider_badges(portal: Any, entities: Sequence[Entity]) -> dict[str, list[str]]:
    providers: dict[str, list[str]] = {}
    # Only incident providers' cards are provider badges (not, say, Response metrics).
    provider_plugins = {handle.plugin_id for handle in portal.providers()}
    for entity in entities:
        for card in await available_cards(portal, entity):
            if card.plugin_id not in provider_plugins:
                continue
            titles = providers.setdefault(entity.ref, [])
            if card.title not in titles:
                titles.append(card.title)
    return providers


async def _entity_response(
    request: Request,
    entity: Entity,
    *,
    status_code: int = 200,
    alert: tuple[str, str] | None = None,
    form: Mapping[str, str] | None = None,
    form_card: str | None = None,
    form_action: str | None = None,
) -> Response:
    portal = portal_of(request)
    ctx = page_context(request, nav="catalog")
    if alert is not None:
        ctx["flash"] = alert
    viewer = ViewerContext(ctx["viewer"], ctx["csrf_token"], form, form_card, form_action)
    cards = await available_cards(portal, entity)
    # The cards' reads start before the head is rendered and sent (fan-out: the page is ready
    # after the slowest card, not after head + slowest card).
    started = start_cards(portal, cards, entity, viewer)
    try:
        ctx.update(entity=entity, cards=cards, slot=loading_slot, sections=None,
                   recent_actions=await recent_actions(request, entity.ref))
        html = request.app.state.templates.get_template("greenroom/entity.html").render(ctx)
    except BaseException:
        for task in started:
            task.cancel()
        raise
    head, _, tail = html.partition(CARDS_MARKER)

    async def body() -> AsyncIterator[str]:
        # The head never waits on a vendor: the page sections (the coverage reminder asks the
        # providers) stream in like a card, placed first.
        extra: asyncio.Future[Markup] | None = asyncio.ensure_future(
            render_sections(request, "entity", entity, viewer)
        )
        try:
            yield head
            async for chunk in stream_cards(portal, cards, entity, viewer, started):
                yield chunk
                if extra is not None and extra.done():
                    yield _sections_chunk(extra)
                    extra = None
            if extra is not None:
                await asyncio.wait({extra})
                yield _sections_chunk(extra)
                extra = None
            yield tail
        finally:
            if extra is not None:
                extra.cancel()
            for task in started:  # a reader gone before the cards streamed
                task.cancel()

    response = StreamingResponse(body(), status_code=status_code, media_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    # Lets reverse proxies (nginx) pass each card on as soon as it is ready.
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _sections_chunk(task: asyncio.Future[Markup]) -> str:
    # render_sections leaves a failing section out, so the task itself does not fail.
    html = task.result()
    if not html:
        return ""
    # Not a .card-slot: sections come before the cards, across the whole row.
    return f'<div class="page-sections" style="order:-1;flex:1 1 100%;min-width:0">{html}</div>\n'


@router.get(ENTITY_PAGE, response_class=HTMLResponse)
async def entity_page(request: Request, namespace: str, kind: str, name: str) -> Response:
    return await _entity_response(request, _find_entity(request, namespace, kind, name))


@router.get(ENTITY_PAGE + CARD_FRAGMENT, response_class=HTMLResponse)
async def card_fragment(
    request: Request, namespace: str, kind: str, name: str, card_id: str
) -> Response:
    """One card alone (for refreshing a card without reloading the page)."""
    portal = portal_of(request)
    entity = _find_entity(request, namespace, kind, name)
    card = next((c for c in await available_cards(portal, entity) if c.id == card_id), None)
    if card is None:
        raise HTTPException(404, f"No card {card_id} for {entity.ref}")
    ctx = page_context(request)
    viewer = ViewerContext(ctx["viewer"], ctx["csrf_token"])
    html = await render_card(portal, card, entity, viewer)
    return HTMLResponse(str(html))


async def _submitted(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await read_text_form(request)).items() if k != CSRF_FIELD}


async def _refuse_card_action(request: Request, message: str) -> Response:
    """The entity page again, with the refused form's input kept."""
    params = request.path_params
    entity = portal_of(request).catalog.find(params["namespace"], params["kind"], params["name"])
    if entity is None:
        return render_message(request, "Not found", message, 403)
    return await _entity_response(
        request, entity, status_code=403, alert=("error", message),
        form=await _submitted(request), form_card=params["card_id"], form_action=params["action"],
    )


@router.post(
    ENTITY_PAGE + CARD_ACTION,
    dependencies=[csrf_protected(_refuse_card_action)],
)
async def card_action(
    request: Request, namespace: str, kind: str, name: str, card_id: str, action: str
) -> Response:
    portal = portal_of(request)
    entity = _find_entity(request, namespace, kind, name)
    raw = await read_text_form(request)
    form = {k: v for k, v in raw.items() if k != CSRF_FIELD}
    keep: dict[str, Any] = {"form": form, "form_card": card_id, "form_action": action}
    if raw.files:
        return await _entity_response(
            request, entity, status_code=400, alert=("error", raw.refusal()), **keep
        )
    card = next((c for c in await available_cards(portal, entity) if c.id == card_id), None)
    if card is None or action not in card.actions:
        return await _entity_response(
            request, entity, status_code=404,
            alert=("error", f"No action {action!r} on card {card_id!r} for this entity."), **keep,
        )
    ctx = page_context(request)
    viewer = ViewerContext(ctx["viewer"], ctx["csrf_token"])
    permission = permission_action(card.plugin_id, action)
    incident_id = (form.get("incident_id") or form.get("incident") or "").strip() or None
    try:
        result = await guarded(
            request, permission,
            lambda: call_plugin(
                card.actions[action], card_context(portal, card, entity, viewer), form,
                timeout=max(card.timeout, 15.0), what=f"action {action} of card {card_id}",
            ),
            entities=[entity],
            deciding=await deciding_entities(
                request, permission, card.plugin_id, incident_id, [entity]
            ),
            provider=card.plugin_id, provider_title=card.title, incident_id=incident_id,
            summary=form.get("description") or form.get("note") or form.get("summary") or "",
            outcome_of=lambda r: (r.ok, r.message),
        )
    except ActionRefused as exc:
        return await _entity_response(
            request, entity, status_code=exc.status, alert=("error", exc.message), **keep
        )
    except TimeoutError:
        result = ActionResult("The action did not finish in time; check before retrying.", False)
    except ProviderError as exc:
        result = ActionResult(portal.scrub(str(exc)), False)
    except Exception as exc:  # noqa: BLE001 - a plugin bug becomes an alert, input kept
        log.error(
            "action %s/%s raised: %s", card_id, action, portal.scrub(traceback.format_exc())
        )
        result = ActionResult(
            f"Error in {card.plugin_id}: {portal.scrub(f'{type(exc).__name__}: {exc}')}", False
        )
    if not result.ok:
        return await _entity_response(
            request, entity, status_code=400, alert=("error", portal.scrub(result.message)),
            **keep,
        )
    flash(request, "success", portal.scrub(result.message))
    return RedirectResponse(entity.path, status_code=303)


def render_message(request: Request, heading: str, message: str, status: int) -> Response:
    ctx = page_context(request)
    ctx.update(heading=heading, message=message)
    return render_page(request, "message.html", ctx, status_code=status)
