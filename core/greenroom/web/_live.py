"""Server-sent events out: ``GET /api/live/events?watch=...``.

A page says what it shows (``watch=entity:<ref>``, ``incidents``, ``oncall``, ``home``; a
browser's tabs share one stream, so one stream may carry several). The stream sends
``change`` events ``{entity, card, version}`` for those entities and the page fetches its own
fresh fragment (pages differ per viewer: permissions, CSRF tokens). Every event has an id; a
reconnecting page sends ``Last-Event-ID`` (or ``?last=``) and gets what it missed, or a
``refresh`` event when this replica does not know that id (another replica's, or one from
before a restart), and re-reads everything it shows.

While a stream is open its watches are held, so the portal re-reads what it shows once per
TTL (:mod:`greenroom.web._watch`). Actions taken in the portal are published at once by
:class:`ActionEvents`, a middleware that recognises the action routes.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette.sse import EventSourceResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._events import ChangeEvent
from .._live import REFRESH, NumberedEvent
from ._context import portal_of
from ._watch import VIEWS, Watcher, _entity_by_ref

if TYPE_CHECKING:
    from .._portal import Portal

log = logging.getLogger("greenroom.live")

router = APIRouter()

MAX_WATCHES = 50
#: How long a browser waits before reconnecting a dropped stream (the page backs off further).
RETRY_MS = 2000
PING_SECONDS = 15

#: Prefixes core.fetch was told to forget while serving the current action.
_invalidated: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "greenroom_live_invalidated", default=None
)


def watcher_of(app: Any) -> Watcher:
    return app.state.live_watcher  # type: ignore[no-any-return]


def _parse_watches(portal: Portal, raw: list[str]) -> tuple[list[str], set[str], bool]:
    """(watch keys, entity refs wanted, whether every entity is wanted)."""
    keys: list[str] = []
    refs: set[str] = set()
    every = False
    for value in raw[:MAX_WATCHES]:
        value = value.strip()
        if value in VIEWS:
            keys.append(value)
            every = True
        elif value.startswith("entity:"):
            entity = _entity_by_ref(portal, value.removeprefix("entity:"))
            if entity is not None:
                keys.append(f"entity:{entity.ref}")
                refs.add(entity.ref)
    return list(dict.fromkeys(keys)), refs, every


def _message(numbered: NumberedEvent) -> dict[str, Any]:
    if numbered is REFRESH or numbered.event.source == "refresh":
        return {"event": "refresh", "data": "{}"}
    event = numbered.event
    data = {"entity": event.entity, "card": event.card, "version": event.version or numbered.id}
    return {"event": "change", "id": numbered.id, "data": json.dumps(data)}


@router.get("/api/live/events", tags=["live"])
async def live_events(
    request: Request,
    watch: list[str] = Query(default=[]),  # noqa: B008 - FastAPI's way to declare a list
    last: str = "",
) -> Response:
    """Server-sent events: what changed among the entities the page shows."""
    portal = portal_of(request)
    keys, refs, every = _parse_watches(portal, watch)
    if not keys:
        return JSONResponse(
            {"error": "name what the page shows: watch=entity:<ref>, incidents, oncall or home"},
            400,
        )
    await portal.live.start()
    hub = portal.live.hub

    def wants(event: ChangeEvent) -> bool:
        return bool(event.entity) and (every or event.entity in refs)

    last_id = request.headers.get("last-event-id") or last or None
    stream = hub.open(wants, last_id)
    watcher = watcher_of(request.app)

    async def events() -> AsyncIterator[dict[str, Any]]:
        with watcher.watching(keys):
            try:
                # The id to resume from, even when nothing happens before a disconnect.
                yield {"event": "ready", "id": hub.last_id, "data": "{}", "retry": RETRY_MS}
                if stream.missed is None:
                    yield _message(REFRESH)
                else:
                    for numbered in stream.missed:
                        yield _message(numbered)
                while True:
                    yield _message(await stream.queue.get())
            finally:
                hub.close(stream)

    return EventSourceResponse(
        events(),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/api/live/status", tags=["live"])
async def live_status(request: Request) -> dict[str, Any]:
    """This replica's open streams, what it watches, and how many events it has delivered."""
    portal = portal_of(request)
    shared = getattr(portal.fetch, "shared", None)
    return {
        "streams": portal.live.hub.open_streams,
        "watching": watcher_of(request.app).watched,
        "events": portal.live.hub.delivered,
        "bus": await portal.live.ping(),
        # Reads shared with the other replicas through Redis (None: not configured).
        "sharedReads": await shared.ping() if shared is not None else None,
    }


class ActionEvents:
    """Publishes a change event for every successful action taken in the portal.

    Actions are recognised by their routes (a card action names its entity in the path; an
    incident action in its form), and succeed with a 303 redirect. The event carries the
    cached URLs the action made core.fetch forget, so every replica forgets them too.
    """

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        target = _action_target(scope["path"])
        if target is None:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        status = 0

        async def tee_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) < 64 * 1024:
                body.extend(message.get("body", b""))
            return message

        async def watch_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        recorded: list[str] = []
        token = _invalidated.set(recorded)
        try:
            await self.app(scope, tee_receive, watch_send)
        finally:
            _invalidated.reset(token)
        if status != 303:
            return
        ref, card = target(bytes(body))
        entity = _entity_by_ref(self.portal, ref) if ref else None
        if entity is None:
            return
        try:
            await self.portal.live.publish(
                [entity.ref], card, invalidate=recorded, source="action"
            )
        except Exception:  # noqa: BLE001 - the action itself succeeded
            log.exception("publishing the action on %s failed", entity.ref)


def _action_target(path: str) -> Callable[[bytes], tuple[str, str]] | None:
    parts = path.strip("/").split("/")
    # /catalog/{namespace}/{kind}/{name}/actions/{card}/{action}
    if len(parts) == 7 and parts[0] == "catalog" and parts[4] == "actions":
        namespace, kind, name, card = parts[1], parts[2], parts[3], parts[5]
        return lambda body: (f"{kind}:{namespace}/{name}", card)
    # /incidents/actions/{provider}/{action}: the entity is a form field
    if len(parts) == 4 and parts[0] == "incidents" and parts[1] == "actions":
        def from_form(body: bytes) -> tuple[str, str]:
            form = parse_qs(body.decode("utf-8", "replace"))
            return (form.get("entity") or [""])[0], "*"

        return from_form
    return None


def _record_invalidations(portal: Portal) -> None:
    """Let core.fetch's invalidations during an action travel with its change event."""
    fetch: Any = portal.fetch
    original = fetch.invalidate
    if getattr(original, "_greenroom_live", False):
        return

    def invalidate(url_prefix: Any) -> int:
        recorded = _invalidated.get()
        if recorded is not None:
            recorded.append(str(url_prefix))
        return int(original(url_prefix))

    invalidate._greenroom_live = True  # type: ignore[attr-defined]
    try:
        fetch.invalidate = invalidate
    except AttributeError:  # a fetch API that cannot be wrapped: actions reach this replica only
        log.warning("core.fetch invalidations cannot travel with change events")


def setup(app: FastAPI) -> None:
    portal: Portal = app.state.portal
    app.state.live_watcher = Watcher(portal)
    app.add_middleware(ActionEvents, portal=portal)
    _record_invalidations(portal)
