"""Splunk On-Call outgoing webhooks in: ``POST /api/splunk-on-call/webhook``.

Splunk On-Call's outgoing webhooks (Integrations > Outgoing Webhooks, an Enterprise feature)
are not signed: the URL, method, content type and payload are whatever the admin configures
(Splunk On-Call's "Custom Outgoing Webhooks" doc). So the portal checks a shared token,
``splunkOnCall.webhookToken``, sent in the URL (``?token=...``) or in an
``X-Greenroom-Webhook-Token`` header, compared in constant time. The access log never shows it.

Every field of the payload is optional (the admin writes the template); the README suggests
one. Splunk On-Call's incidents and on-call reads are organisation-wide, one cached read each,
so a delivery forgets the one it concerns (incidents, or on-call for On-Call and Paging
events) and tells every entity showing the Splunk On-Call card.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from greenroom import ApiHolder, Entity, LiveUpdates, config_api_ref, live_api_ref

log = logging.getLogger("greenroom.splunk_on_call.webhook")

TOKEN_HEADER = "X-Greenroom-Webhook-Token"
TOKEN_PARAM = "token"
MAX_BODY_BYTES = 256 * 1024
#: Repeated deliveries are recognised for this long.
REMEMBER_SECONDS = 3600.0
CARD_ID = "splunk-on-call"
_ON_CALL_WORDS = ("on-call", "oncall", "off-call", "paging")


def token_ok(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def stale_paths(event_type: str) -> list[str]:
    """The organisation-wide reads a delivery of ``event_type`` makes stale."""
    kind = event_type.lower()
    if any(word in kind for word in _ON_CALL_WORDS):
        return ["/v1/oncall/current"]
    if "incident" in kind:
        return ["/v1/incidents"]
    return ["/v1/incidents", "/v1/oncall/current"]


def forget_lists(provider: Any, prefix: str) -> None:
    """Forget the organisation-wide lists (and what was built from them) read under
    ``prefix``: any replica's event can name them; core.fetch already forgot the reads."""
    client = provider.client
    lists = getattr(client, "lists", None)
    if lists is None or not prefix.startswith(client.base):
        return
    path = prefix[len(client.base):]
    lists.invalidate(lambda key: str(key).startswith(path))


class WebhookReceiver:
    def __init__(self, apis: ApiHolder, provider: Any) -> None:
        self.provider = provider
        config = apis.get(config_api_ref)
        self.token = str(config.get("splunkOnCall.webhookToken") or "") if config else ""
        self.live: LiveUpdates | None = apis.get(live_api_ref)

    async def handle(self, request: Request) -> JSONResponse:
        if not self.token:
            return JSONResponse(
                {"error": "Splunk On-Call webhooks are not set up here "
                 "(splunkOnCall.webhookToken)"},
                404,
            )
        client = request.client.host if request.client else "?"
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get(TOKEN_PARAM)
        if not token_ok(given, self.token):
            log.warning("refused a Splunk On-Call webhook from %s: bad or missing token", client)
            return JSONResponse({"error": "invalid token"}, 401)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, 413)
        try:
            payload: Any = json.loads(body) if body.strip() else {}
        except ValueError:
            payload = {}  # a template that is not JSON still says "something changed"
        payload = payload if isinstance(payload, dict) else {}
        if self.live is None:
            return JSONResponse({"status": "accepted", "changed": []})
        delivery = str(payload.get("id") or hashlib.sha256(body).hexdigest())
        if not await self.live.first_delivery(f"splunk-on-call:{delivery}", REMEMBER_SECONDS):
            return JSONResponse({"status": "duplicate", "changed": []})
        event_type = str(payload.get("type") or payload.get("event") or "")
        base = self.provider.client.base
        prefixes = [base + path for path in stale_paths(event_type)]

        def concerns(entity: Entity) -> bool:
            return bool(self.provider.is_available(entity))

        changed = await self.live.publish_where(
            concerns, CARD_ID, version=delivery[:64], invalidate=prefixes,
            source="webhook:splunk-on-call",
        )
        log.info("Splunk On-Call webhook %s: %d entities told", event_type or "?", len(changed))
        return JSONResponse({"status": "accepted", "changed": changed})


def webhook_routes(apis: ApiHolder) -> APIRouter:
    """The plugin's router (mounted at ``/api/splunk-on-call``)."""
    from ._card import splunk_on_call_api_ref

    router = APIRouter()
    live = apis.get(live_api_ref)
    provider = apis.get(splunk_on_call_api_ref)
    if live is not None and provider is not None:
        live.on_invalidate(lambda prefix: forget_lists(provider, prefix))

    @router.post("/webhook", include_in_schema=False)
    async def receive(request: Request) -> JSONResponse:
        return await WebhookReceiver(apis, apis.get(splunk_on_call_api_ref)).handle(request)

    return router
