"""One PagerDuty incident in full: log entries as its timeline, its notes, and adding a note.

Requests (PagerDuty REST API v2): ``GET /incidents/{id}/log_entries`` (newest first, one page of
up to 100), ``GET /incidents/{id}/notes``,
and ``POST /incidents/{id}/notes`` with ``{"note": {"content": ...}}`` and ``From: <email>``,
which PagerDuty needs to say who wrote the note. Like acknowledging, both act only on incidents
of the entity's own service: the token can reach every incident of the account.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from greenroom import (
    Entity,
    Identity,
    IncidentDetail,
    MissingSettingError,
    Note,
    NotFoundError,
    ProviderError,
    TimelineEntry,
)

from ._client import _READ_HEADERS, PagerDutyClient, _parse, _raise_for, _segment
from ._config import PagerDutyAccount
from ._payloads import IncidentPayload, Reference, _Payload

if TYPE_CHECKING:
    from ._provider import PagerDutyProvider

#: Longest note the portal sends (PagerDuty's limit is 25,000 characters).
MAX_NOTE = 25000
_KINDS = {
    "trigger_log_entry": "triggered",
    "acknowledge_log_entry": "acknowledged",
    "resolve_log_entry": "resolved",
    "assign_log_entry": "assigned",
    "escalate_log_entry": "escalated",
    "annotate_log_entry": "note",
    "notify_log_entry": "notified",
    "snooze_log_entry": "snoozed",
    "urgency_change_log_entry": "urgency changed",
    "unacknowledge_log_entry": "unacknowledged",
}


class LogEntryPayload(_Payload):
    id: str
    type: str
    summary: str | None = None
    created_at: datetime
    agent: Reference | None = None


class LogEntriesPage(_Payload):
    log_entries: list[LogEntryPayload]


class NotePayload(_Payload):
    id: str | None = None
    content: str
    created_at: datetime | None = None
    user: Reference | None = None


class NotesBody(_Payload):
    notes: list[NotePayload]


class NoteBody(_Payload):
    note: NotePayload


async def log_entries(
    client: PagerDutyClient, account: PagerDutyAccount, incident_id: str
) -> list[LogEntryPayload]:
    page = await client._get(
        account,
        f"/incidents/{_segment(incident_id)}/log_entries",
        [("time_zone", "UTC"), ("limit", "100")],
        LogEntriesPage,
        cache_ttl=0,
    )
    return page.log_entries


async def notes(
    client: PagerDutyClient, account: PagerDutyAccount, incident_id: str
) -> list[NotePayload]:
    body = await client._get(
        account, f"/incidents/{_segment(incident_id)}/notes", [], NotesBody, cache_ttl=0
    )
    return body.notes


async def post_note(
    client: PagerDutyClient,
    account: PagerDutyAccount,
    incident_id: str,
    content: str,
    from_email: str,
) -> NotePayload:
    """``POST /incidents/{id}/notes``: never retried after an answer (it could add twice)."""
    base = account.rest_base(client.proxy_base_url)
    path = f"/incidents/{_segment(incident_id)}/notes"
    response = await client._send(
        "POST",
        f"{base}{path}",
        f"POST {path}",
        account=account,
        json={"note": {"content": content}},
        headers={**_READ_HEADERS, "From": from_email},
    )
    if not response.is_success:
        _raise_for(response, f"POST {path}")
    return _parse(response, NoteBody, f"POST {path}").note


async def _own_incident(
    provider: PagerDutyProvider, entity: Entity, incident_id: str
) -> tuple[PagerDutyAccount, IncidentPayload]:
    service = await provider.client.service_for_entity(entity)
    account = provider.client.account_for_entity(entity)
    incident = await provider.client.incident(account, incident_id)
    if incident.service is None or incident.service.id != service.id:
        raise NotFoundError(f"Incident {incident_id} does not belong to this service")
    return account, incident


async def incident_detail(
    provider: PagerDutyProvider, entity: Entity, incident_id: str
) -> IncidentDetail:
    account, payload = await _own_incident(provider, entity, incident_id)
    entries, found_notes = await asyncio.gather(
        log_entries(provider.client, account, incident_id),
        notes(provider.client, account, incident_id),
    )
    timeline = tuple(
        TimelineEntry(
            at=e.created_at,
            summary=e.summary or e.type.replace("_", " "),
            kind=_KINDS.get(e.type, e.type.removesuffix("_log_entry").replace("_", " ")),
            by=e.agent.summary if e.agent and e.agent.type != "service_reference" else None,
        )
        for e in sorted(entries, key=lambda e: e.created_at, reverse=True)
    )
    return IncidentDetail(
        provider._incident(entity, payload),
        timeline,
        tuple(_note(n) for n in sorted(found_notes, key=_note_time)),
    )


async def add_note(
    provider: PagerDutyProvider, entity: Entity, incident_id: str, content: str, user: Identity
) -> Note:
    text = content.strip()
    if not text:
        raise ProviderError("A note needs some text")
    if len(text) > MAX_NOTE:
        raise ProviderError(f"A note can have at most {MAX_NOTE} characters")
    if not user.email:
        raise MissingSettingError(
            "PagerDuty records who wrote a note by email address (the From header), and you "
            "are signed in without one; sign in with an account that has an email address"
        )
    account, _ = await _own_incident(provider, entity, incident_id)
    return _note(await post_note(provider.client, account, incident_id, text, user.email))


def _note(payload: NotePayload) -> Note:
    author = payload.user.summary if payload.user and payload.user.summary else "PagerDuty"
    return Note(payload.content, author, payload.created_at, payload.id)


def _note_time(payload: NotePayload) -> float:
    return payload.created_at.timestamp() if payload.created_at else 0.0
