"""Outgoing webhooks of the simulated organisation: a POST on every incident change.

Splunk On-Call's outgoing webhooks carry whatever payload the admin's template makes (they are
not signed); the simulator sends the template the plugin's README suggests, with the shared
token in the URL. Deliveries run in the background and are retried a few times on failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from ._state import SimIncident

log = logging.getLogger("greenroom.splunk_on_call.simulator")

RETRY_DELAYS = (0.5, 1.0, 2.0)
_EVENT_TYPES = {
    "UNACKED": "Incident-Triggered",
    "ACKED": "Incident-Acknowledged",
    "RESOLVED": "Incident-Resolved",
}


@dataclass
class Delivery:
    url: str
    event_type: str
    status: int | None


@dataclass
class OutgoingWebhooks:
    #: Full URLs, the shared token included (``...?token=...``), as an admin enters them.
    urls: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def incident_changed(self, incident: SimIncident, by: str | None) -> None:
        if not self.urls:
            return
        event_type = _EVENT_TYPES.get(incident.phase, "Any-Incident")
        body = json.dumps(payload(incident, event_type, by)).encode()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for url in list(self.urls):
            task = loop.create_task(self._deliver(url, body, event_type))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: bytes, event_type: str) -> None:
        status: int | None = None
        async with httpx.AsyncClient(timeout=10.0) as client:
            for delay in (0.0, *RETRY_DELAYS):
                if delay:
                    await asyncio.sleep(delay)
                try:
                    response = await client.post(
                        url, content=body, headers={"Content-Type": "application/json"}
                    )
                    status = response.status_code
                except httpx.HTTPError as exc:
                    log.debug("webhook failed: %s", type(exc).__name__)
                    status = None
                if status is not None and 200 <= status < 300:
                    break
        # The URL holds the token: record where it went without it.
        self.deliveries.append(Delivery(url.split("?")[0], event_type, status))


def payload(incident: SimIncident, event_type: str, by: str | None) -> dict[str, Any]:
    """The README's suggested template, filled in."""
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "incidentNumber": str(incident.number),
        "phase": incident.phase,
        "entityId": incident.entity_id,
        "entityDisplayName": incident.display_name,
        "routingKey": incident.routing_key or "",
        "user": by or "",
    }
