"""Webhook subscriptions of the simulated account: signed v3 deliveries on every incident change.

Shaped as PagerDuty's Webhooks v3 sends them: ``{"event": {id, event_type, resource_type,
occurred_at, agent, client, data}}`` where ``data`` is the incident in the webhook's compact
form, signed ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>``. Deliveries are sent
in the background (a change never waits for its webhook) and retried a few times on failure,
as PagerDuty retries every non-2xx answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from ._state import PagerDutyState, SimIncident

log = logging.getLogger("greenroom.pagerduty.simulator")

RETRY_DELAYS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Subscription:
    url: str
    secret: str


@dataclass
class Delivery:
    url: str
    event_id: str
    event_type: str
    status: int | None


@dataclass
class WebhookSender:
    subscriptions: list[Subscription] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def subscribe(self, url: str, secret: str) -> Subscription:
        subscription = Subscription(url, secret)
        self.subscriptions.append(subscription)
        return subscription

    def incident_changed(self, state: PagerDutyState, incident: SimIncident, event_type: str,
                         agent_id: str | None = None) -> None:
        if not self.subscriptions:
            return
        body = json.dumps(envelope(state, incident, event_type, agent_id)).encode()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # changed outside a running server (seeding, plain unit tests)
        for subscription in list(self.subscriptions):
            task = loop.create_task(self._deliver(subscription, body, event_type))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _deliver(self, subscription: Subscription, body: bytes, event_type: str) -> None:
        signature = "v1=" + hmac.new(
            subscription.secret.encode(), body, hashlib.sha256
        ).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PagerDuty-Webhook/V3.0",
            "X-PagerDuty-Signature": signature,
            "X-Webhook-Id": str(uuid.uuid4()),
        }
        event_id = json.loads(body)["event"]["id"]
        status: int | None = None
        async with httpx.AsyncClient(timeout=10.0) as client:
            for delay in (0.0, *RETRY_DELAYS):
                if delay:
                    await asyncio.sleep(delay)
                try:
                    response = await client.post(subscription.url, content=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    log.debug("webhook to %s failed: %s", subscription.url, type(exc).__name__)
                    status = None
                if status is not None and 200 <= status < 300:
                    break
        self.deliveries.append(Delivery(subscription.url, event_id, event_type, status))


def envelope(
    state: PagerDutyState, incident: SimIncident, event_type: str, agent_id: str | None = None
) -> dict[str, Any]:
    from ._payloads import policy_ref, user_ref
    from ._state import API_BASE

    service = state.services[incident.service_id]
    agent = state.users.get(agent_id or "")
    return {
        "event": {
            "id": uuid.uuid4().hex[:26].upper(),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
            "agent": user_ref(state, agent) if agent else None,
            "client": None,
            "data": {
                "id": incident.id,
                "type": "incident",
                "self": f"{API_BASE}/incidents/{incident.id}",
                "html_url": f"{state.html_base}/incidents/{incident.id}",
                "number": incident.number,
                "status": incident.status,
                "incident_key": incident.incident_key,
                "created_at": incident.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "title": incident.title,
                "service": {
                    "html_url": f"{state.html_base}/service-directory/{service.id}",
                    "id": service.id,
                    "self": f"{API_BASE}/services/{service.id}",
                    "summary": service.name,
                    "type": "service_reference",
                },
                "assignees": [
                    user_ref(state, state.users[uid])
                    for uid in incident.assignee_ids
                    if uid in state.users
                ],
                "escalation_policy": policy_ref(state, state.policies[service.policy_id]),
                "teams": [],
                "priority": None,
                "urgency": incident.urgency,
                "conference_bridge": None,
                "resolve_reason": None,
            },
        }
    }
