"""An incident's log entries and notes: ``GET /incidents/{id}/log_entries``,
``GET /incidents/{id}/notes`` and ``POST /incidents/{id}/notes`` (which needs ``From``), in the
shapes of PagerDuty's REST API v2.

Log entries are derived from the incident (triggered, assigned, acknowledged, resolved) plus an
``annotate_log_entry`` for each note, newest first as PagerDuty lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from . import _payloads as payloads
from ._state import API_BASE, PagerDutyState, SimIncident, SimUser, iso

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_NOTE = 25000  # PagerDuty's note content limit


@dataclass
class SimNote:
    id: str
    incident_id: str
    #: A user of the account, or the From address itself (see ``add_note``).
    user_id: str
    content: str
    created_at: datetime


@dataclass
class Timeline:
    """Notes added through the API, per incident."""

    notes: list[SimNote] = field(default_factory=list)

    def of(self, incident_id: str) -> list[SimNote]:
        return [n for n in self.notes if n.incident_id == incident_id]


def _author(state: PagerDutyState, user_id: str) -> dict[str, Any]:
    user = state.users.get(user_id)
    if user is not None:
        return payloads.user_ref(state, user)
    return {
        "id": "PUNKNWN",
        "type": "user_reference",
        "summary": user_id,
        "self": f"{API_BASE}/users/PUNKNWN",
        "html_url": f"{state.html_base}/users/PUNKNWN",
    }


def _note(state: PagerDutyState, note: SimNote) -> dict[str, Any]:
    return {
        "id": note.id,
        "user": _author(state, note.user_id),
        "channel": {"summary": "The PagerDuty website or APIs"},
        "content": note.content,
        "created_at": iso(note.created_at),
        "updated_at": iso(note.created_at),
    }


def _entry(
    state: PagerDutyState,
    inc: SimIncident,
    kind: str,
    at: datetime,
    summary: str,
    agent: SimUser | None,
) -> dict[str, Any]:
    entry_id = f"R{inc.id[1:]}{kind[:3].upper()}{int(at.timestamp())}"
    service = state.services[inc.service_id]
    return {
        "id": entry_id,
        "type": f"{kind}_log_entry",
        "summary": summary,
        "self": f"{API_BASE}/log_entries/{entry_id}",
        "html_url": f"{state.html_base}/incidents/{inc.id}/log_entries/{entry_id}",
        "created_at": iso(at),
        "agent": (
            payloads.user_ref(state, agent)
            if agent is not None
            else {
                "id": service.id,
                "type": "service_reference",
                "summary": service.name,
                "self": f"{API_BASE}/services/{service.id}",
                "html_url": f"{state.html_base}/service-directory/{service.id}",
            }
        ),
        "channel": {"type": "api" if agent is None else "web_ui"},
        "incident": {
            "id": inc.id,
            "type": "incident_reference",
            "summary": f"[#{inc.number}] {inc.title}",
            "self": f"{API_BASE}/incidents/{inc.id}",
            "html_url": f"{state.html_base}/incidents/{inc.id}",
        },
        "contexts": [],
    }


def log_entries(
    state: PagerDutyState, timeline: Timeline, inc: SimIncident
) -> list[dict[str, Any]]:
    users = state.users
    entries = [_entry(state, inc, "trigger", inc.created_at, "Triggered through the API", None)]
    for user_id in inc.assignee_ids:
        entries.append(
            _entry(
                state, inc, "assign", inc.created_at, f"Assigned to {users[user_id].name}.", None
            )
        )
    if inc.acknowledged_at is not None:
        by = users.get(inc.acknowledger_ids[0]) if inc.acknowledger_ids else None
        who = by.name if by else "the Events API"
        entries.append(
            _entry(state, inc, "acknowledge", inc.acknowledged_at, f"Acknowledged by {who}.", by)
        )
    if inc.resolved_at is not None:
        by = users.get(inc.resolved_by) if inc.resolved_by else None
        who = by.name if by else "the Events API"
        entries.append(_entry(state, inc, "resolve", inc.resolved_at, f"Resolved by {who}.", by))
    for note in timeline.of(inc.id):
        author = users.get(note.user_id)
        name = author.name if author else note.user_id
        entries.append(
            _entry(state, inc, "annotate", note.created_at, f"Note added by {name}", author)
        )
    # Newest first; of entries at the same moment, the later one (assigned after triggered).
    entries.sort(key=lambda e: e["created_at"])
    return entries[::-1]


def add_timeline_routes(app: FastAPI, state: PagerDutyState, timeline: Timeline) -> None:
    def not_found() -> JSONResponse:
        return JSONResponse(payloads.error(2100, "Not Found"), 404)

    def invalid(message: str) -> JSONResponse:
        return JSONResponse(payloads.error(2001, "Invalid Input Provided", [message]), 400)

    @app.get("/incidents/{incident_id}/log_entries")
    async def incident_log_entries(incident_id: str, request: Request) -> Any:
        inc = state.incidents.get(incident_id)
        if inc is None:
            return not_found()
        try:
            limit = min(int(request.query_params.get("limit", 25)), 100)
            offset = int(request.query_params.get("offset", 0))
        except ValueError:
            return invalid("limit and offset must be integers")
        items = log_entries(state, timeline, inc)
        return {
            "log_entries": items[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": None,
        }

    @app.get("/incidents/{incident_id}/notes")
    async def incident_notes(incident_id: str) -> Any:
        if incident_id not in state.incidents:
            return not_found()
        return {"notes": [_note(state, n) for n in timeline.of(incident_id)]}

    @app.post("/incidents/{incident_id}/notes")
    async def add_note(incident_id: str, request: Request) -> Any:
        sender = request.headers.get("from", "")
        if not _EMAIL.match(sender):
            return invalid("A valid email address of a user is required in the From header")
        if incident_id not in state.incidents:
            return not_found()
        # PagerDuty requires From to be a user of the account; the simulator takes any address
        # (as its PUT /incidents/{id} does), so the demo's own visitors can write notes.
        user = state.user_by_email(sender)
        try:
            content = (await request.json())["note"]["content"]
        except (ValueError, KeyError, TypeError):
            return invalid("note.content is required")
        if not isinstance(content, str) or not content.strip():
            return invalid("note.content must not be empty")
        if len(content) > _MAX_NOTE:
            return invalid(f"note.content must be at most {_MAX_NOTE} characters")
        author = user.id if user is not None else sender
        note = SimNote(state.new_id("N"), incident_id, author, content, datetime.now(UTC))
        timeline.notes.append(note)
        return {"note": _note(state, note)}
