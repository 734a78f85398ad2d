"""PagerDuty webhooks (v3) in: ``POST /api/pagerduty/webhook``.

PagerDuty signs each delivery with HMAC-SHA256 of the raw body under the subscription's secret
and sends ``X-PagerDuty-Signature: v1=<hex>``; while a secret is being rotated the header
carries several comma-separated signatures, one per secret (PagerDuty's "Verifying
Signatures" developer doc). The body is ``{"event": {id, event_type, resource_type,
occurred_at, agent, client, data}}`` (PagerDuty's "Webhooks v3 Overview"). PagerDuty retries
every non-2xx answer, so:

- a bad signature, or an ``occurred_at`` further than the allowed skew from now: 401, logged
  without the body (it may hold anything);
- an event id already handled: 200, and nothing changes;
- a verified event about an incident or a service: the cached reads of that service are
  forgotten on every replica and the entities showing it are told their card changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from greenroom import ApiHolder, Entity, LiveUpdates, config_api_ref, live_api_ref

from ._client import DEFAULT_STATUSES, INTEGRATION_KEY_ANNOTATION, SERVICE_ID_ANNOTATION
from ._config import PagerDutyAccount
from ._index import INCIDENT_PARAMS

log = logging.getLogger("greenroom.pagerduty.webhook")

SIGNATURE_HEADER = "X-PagerDuty-Signature"
DEFAULT_SKEW_SECONDS = 600.0
#: Larger bodies are refused before their signature is computed.
MAX_BODY_BYTES = 512 * 1024
CARD_ID = "pagerduty"


def sign(body: bytes, secret: str) -> str:
    """The ``v1=<hex>`` signature PagerDuty sends for ``body`` under ``secret``."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, header: str, secrets: Sequence[str]) -> bool:
    """True when any ``v1=`` signature in ``header`` matches ``body`` under any secret."""
    offered = [
        part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")
    ]
    for secret in secrets:
        expected = sign(body, secret)[3:]
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return True
    return False


def webhook_secrets(config: Any) -> list[str]:
    """``pagerDuty.webhookSecrets``: a list (several while rotating) or one string."""
    raw: Any = None
    for key in ("pagerDuty.webhookSecrets", "pagerduty.webhookSecrets"):
        raw = config.get(key) if config is not None else None
        if raw:
            break
    if isinstance(raw, str):
        raw = [raw]
    return [str(s) for s in raw or [] if s]


def _skew_seconds(config: Any) -> float:
    value = config.get("pagerDuty.webhookClockSkewSeconds") if config is not None else None
    try:
        return float(value) if value is not None else DEFAULT_SKEW_SECONDS
    except (TypeError, ValueError):
        return DEFAULT_SKEW_SECONDS


def _occurred_at(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def incident_cache_prefixes(rest_base: str, service_id: str) -> list[str]:
    """The cached reads a change to one of ``service_id``'s incidents makes stale: the pages of
    the account's open-incident index, and the service's own listing (read when the index is
    larger than PagerDuty lets one list page through), as the client requests them."""
    index = str(httpx.URL(f"{rest_base}/incidents", params=[*INCIDENT_PARAMS, ("limit", "")]))
    own = [*INCIDENT_PARAMS[:2], *(("statuses[]", s) for s in DEFAULT_STATUSES)]
    own.append(("service_ids[]", service_id))
    return [index, str(httpx.URL(f"{rest_base}/incidents", params=own))]


def service_cache_prefixes(rest_base: str, service_id: str) -> list[str]:
    """A change to the service itself: the service index, its own read and its searches."""
    return [f"{rest_base}/services?", f"{rest_base}/services/{service_id}"]


def forget_indexes(provider: Any, prefix: str) -> None:
    """Forget the account-wide indexes built from reads under ``prefix`` (any replica's
    event can name them; core.fetch has already forgotten the reads themselves)."""
    client = provider.client
    indexes = getattr(client, "indexes", None)
    if indexes is None:
        return
    for account in client.accounts:
        base = account.rest_base(client.proxy_base_url)
        for path in ("/incidents", "/services", "/oncalls"):
            if prefix.startswith(base + path):
                indexes.invalidate(path)


class WebhookReceiver:
    """Verifies deliveries and turns them into change events."""

    def __init__(self, apis: ApiHolder, provider: Any) -> None:
        self.apis = apis
        self.provider = provider
        self.config = apis.get(config_api_ref)
        self.live: LiveUpdates | None = apis.get(live_api_ref)

    def _rest_bases(self) -> list[tuple[PagerDutyAccount, str]]:
        client = self.provider.client
        return [(a, a.rest_base(client.proxy_base_url)) for a in client.accounts]

    async def _shows_service(self, entity: Entity, service_id: str) -> bool:
        if not self.provider.is_available(entity):
            return False
        annotations = entity.annotations
        if not (annotations.get(INTEGRATION_KEY_ANNOTATION) or "").strip():
            return (annotations.get(SERVICE_ID_ANNOTATION) or "").strip() == service_id
        # An integration key (which wins over a service id) names its service only through
        # PagerDuty: a cached read.
        service = await self.provider.client.service_for_entity(entity)
        return bool(service.id == service_id)

    async def handle(self, request: Request) -> JSONResponse:
        secrets = webhook_secrets(self.config)
        if not secrets:
            return JSONResponse(
                {"error": "PagerDuty webhooks are not set up here (pagerDuty.webhookSecrets)"},
                404,
            )
        body = await request.body()
        client = request.client.host if request.client else "?"
        if len(body) > MAX_BODY_BYTES:
            log.warning("refused a PagerDuty webhook of %d bytes from %s", len(body), client)
            return JSONResponse({"error": "body too large"}, 413)
        header = request.headers.get(SIGNATURE_HEADER, "")
        if not signature_ok(body, header, secrets):
            log.warning("refused a PagerDuty webhook from %s: bad or missing signature", client)
            return JSONResponse({"error": "invalid signature"}, 401)
        try:
            envelope = json.loads(body)
            event = envelope["event"]
            event_id = str(event["id"])
            event_type = str(event.get("event_type") or "")
        except (ValueError, KeyError, TypeError):
            log.warning("refused a signed PagerDuty webhook from %s: not a v3 event", client)
            return JSONResponse({"error": "not a PagerDuty v3 webhook event"}, 400)
        skew = _skew_seconds(self.config)
        occurred = _occurred_at(event.get("occurred_at"))
        if occurred is None or abs((datetime.now(UTC) - occurred).total_seconds()) > skew:
            log.warning(
                "refused PagerDuty webhook event %s (%s) from %s: occurred_at %r is not within "
                "%g seconds of now", event_id, event_type, client, event.get("occurred_at"), skew,
            )
            return JSONResponse({"error": "occurred_at outside the allowed clock skew"}, 401)
        if self.live is None:
            return JSONResponse({"status": "accepted", "changed": []})
        # Ids only need remembering while their timestamp is still accepted.
        if not await self.live.first_delivery(f"pagerduty:{event_id}", 2 * skew + 60):
            log.info("PagerDuty webhook event %s was already handled", event_id)
            return JSONResponse({"status": "duplicate", "changed": []})
        changed = await self._apply(event, event_id, event_type)
        log.info("PagerDuty webhook %s %s: %d entities told", event_type, event_id, len(changed))
        return JSONResponse({"status": "accepted", "changed": changed})

    async def _apply(self, event: dict[str, Any], event_id: str, event_type: str) -> list[str]:
        assert self.live is not None
        data: Any = event.get("data")
        data = data if isinstance(data, dict) else {}
        resource = str(event.get("resource_type") or event_type.partition(".")[0])
        bases = [base for _, base in self._rest_bases()]
        prefixes: list[str] = []
        if resource == "incident":
            service: Any = data.get("service")
            service_id = str(service.get("id") or "") if isinstance(service, dict) else ""
            for base in bases:
                prefixes += incident_cache_prefixes(base, service_id)
        elif resource == "service":
            service_id = str(data.get("id") or "")
            for base in bases:
                prefixes += service_cache_prefixes(base, service_id)
                prefixes += incident_cache_prefixes(base, service_id)
        else:  # pagey.ping and event types the portal shows nothing of
            return []
        if not service_id:
            return []

        async def concerns(entity: Entity) -> bool:
            return await self._shows_service(entity, service_id)

        return await self.live.publish_where(
            concerns, CARD_ID, version=event_id, invalidate=prefixes, source="webhook:pagerduty"
        )


def webhook_routes(apis: ApiHolder) -> APIRouter:
    """The plugin's router (mounted at ``/api/pagerduty``)."""
    from ._card import pagerduty_api_ref

    router = APIRouter()
    live = apis.get(live_api_ref)
    provider = apis.get(pagerduty_api_ref)
    if live is not None and provider is not None:
        live.on_invalidate(lambda prefix: forget_indexes(provider, prefix))

    @router.post("/webhook", include_in_schema=False)
    async def receive(request: Request) -> JSONResponse:
        return await WebhookReceiver(apis, apis.get(pagerduty_api_ref)).handle(request)

    return router
