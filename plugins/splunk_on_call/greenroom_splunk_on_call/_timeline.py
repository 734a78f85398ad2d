"""One Splunk On-Call incident in full: its transitions as the timeline, and its notes.

Requests (Splunk On-Call public API v1): the incident from ``GET /v1/incidents`` (current
incidents), else ``GET /v1/incidents/{incidentNumber}``; notes with
``GET /v1/incidents/{incidentNumber}/notes`` and ``POST`` to the same path. The timeline is the
incident's own ``transitions`` (who triggered, acknowledged, resolved it, and when): the
reporting API's incident history (``/api-reporting/v2/incidents``) holds the same transitions
but may be called only once a minute for the whole organisation.

Splunk On-Call notes are a key/value store (``name``, ``display_name``, ``json_value``); a note
written from the portal is ``{"name": "greenroom-<id>", "display_name": "Note by <name>",
"json_value": {"text": ..., "author": ..., "createdAt": ...}}``, and notes written elsewhere are
shown with their display name and JSON value.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from greenroom import (
    Entity,
    Identity,
    IncidentDetail,
    Note,
    NotFoundError,
    ProviderError,
    TimelineEntry,
)

from ._client import SplunkOnCallClient, _parse
from ._models import IncidentPayload, _Payload

if TYPE_CHECKING:
    from ._provider import SplunkOnCallProvider

MAX_NOTE = 10000
_KINDS = {"ACKED": "acknowledged", "RESOLVED": "resolved", "UNACKED": "triggered"}


class NotePayload(_Payload):
    name: str = ""
    display_name: str | None = Field(None, validation_alias="displayName")
    json_value: Any = None


def _note_list(body: Any) -> list[NotePayload]:
    """The notes of an incident, whichever shape the answer has.

    Splunk On-Call's API description (victorops-api-v1.json, ``GET
    /api-public/v1/incidents/{incidentNumber}/notes``) documents one ``Notes`` object
    (``{name, displayName, json_value}``), which cannot hold the several notes an incident
    collects (each ``POST`` adds one); an array of them, or ``{"notes": [...]}``, is read too.
    An empty object, ``null`` or anything that is no note at all means no notes. The contract
    tests accept both the documented object and an array (tests/splunk_on_call/
    victorops_overlay.json) and run the client against each (test_timeline.py).
    """
    if isinstance(body, dict) and isinstance(body.get("notes"), list):
        body = body["notes"]
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return [
        _parse(NotePayload, item, "GET /v1/incidents/{incidentNumber}/notes")
        for item in items
        if _is_note(item)
    ]


def _is_note(item: Any) -> bool:
    return isinstance(item, dict) and any(
        item.get(key) not in (None, "", {}) for key in ("name", "displayName", "display_name",
                                                        "json_value")
    )


async def incident(client: SplunkOnCallClient, number: str) -> IncidentPayload:
    current = await client.get_incidents()
    found = next((i for i in current if i.incident_number == number), None)
    if found is not None:
        return found
    body = await client._get(f"/v1/incidents/{number}")
    return _parse(IncidentPayload, body, "GET /v1/incidents/{incidentNumber}")


async def notes(client: SplunkOnCallClient, number: str) -> list[NotePayload]:
    return _note_list(await client._get(f"/v1/incidents/{number}/notes"))


async def post_note(
    client: SplunkOnCallClient, number: str, content: str, author: str
) -> NotePayload:
    payload = {
        "name": f"greenroom-{uuid.uuid4().hex[:12]}",
        "display_name": f"Note by {author}",
        "json_value": {
            "text": content,
            "author": author,
            "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }
    body = await client._send("POST", f"/v1/incidents/{number}/notes", payload)
    return _parse(NotePayload, body, "POST /v1/incidents/{incidentNumber}/notes")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(incident_id: str) -> str:
    number = incident_id.strip()
    if not number.isdigit():
        raise NotFoundError(f"Splunk On-Call incident numbers are digits, not {incident_id!r}")
    return number


async def _own_incident(
    provider: SplunkOnCallProvider, entity: Entity, incident_id: str
) -> IncidentPayload:
    number = _number(incident_id)
    teams, payload = await asyncio.gather(
        provider.teams_for(entity), incident(provider.client, number)
    )
    if not {t.slug for t in teams}.intersection(payload.paged_teams):
        raise NotFoundError(
            f"Incident #{number} is not one of {entity.name}'s Splunk On-Call incidents"
        )
    return payload


async def incident_detail(
    provider: SplunkOnCallProvider, entity: Entity, incident_id: str
) -> IncidentDetail:
    payload = await _own_incident(provider, entity, incident_id)
    found = await notes(provider.client, payload.incident_number)
    timeline = [
        TimelineEntry(
            at=_aware(t.at),
            summary=t.message or f"{_KINDS.get(t.name, t.name.lower()).capitalize()}",
            kind=_KINDS.get(t.name, t.name.lower()),
            by=t.by,
        )
        for t in payload.transitions
        if t.at is not None
    ]
    if payload.start_time is not None and not any(e.kind == "triggered" for e in timeline):
        # The incident's start is its first event; transitions list only later changes.
        monitor = f" by {payload.monitor_name}" if payload.monitor_name else ""
        timeline.append(
            TimelineEntry(
                _aware(payload.start_time), f"Triggered{monitor}", "triggered", payload.creator
            )
        )
    timeline.sort(key=lambda e: e.at, reverse=True)
    return IncidentDetail(
        provider._incident(payload, entity),
        tuple(timeline),
        tuple(_note(n) for n in found),
    )


async def add_note(
    provider: SplunkOnCallProvider, entity: Entity, incident_id: str, content: str, user: Identity
) -> Note:
    text = content.strip()
    if not text:
        raise ProviderError("A note needs some text")
    if len(text) > MAX_NOTE:
        raise ProviderError(f"A note can have at most {MAX_NOTE} characters")
    payload = await _own_incident(provider, entity, incident_id)
    author = user.name or user.email or user.user_id
    return _note(await post_note(provider.client, payload.incident_number, text, author))


def _note(payload: NotePayload) -> Note:
    value = payload.json_value
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        created = value.get("createdAt")
        try:
            at = datetime.fromisoformat(str(created).replace("Z", "+00:00")) if created else None
        except ValueError:
            at = None
        return Note(value["text"], str(value.get("author") or "Splunk On-Call"), at, payload.name)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return Note(text, payload.display_name or payload.name or "Splunk On-Call", None, payload.name)
