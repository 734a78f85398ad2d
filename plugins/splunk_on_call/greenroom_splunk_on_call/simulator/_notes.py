"""One incident and its notes: ``GET /api-public/v1/incidents/{incidentNumber}`` and
``GET``/``POST /api-public/v1/incidents/{incidentNumber}/notes``.

Notes are the vendor's key/value store: ``POST`` takes ``{name, display_name, json_value}`` and
answers the note (``{name, displayName, json_value}``); ``GET`` answers every note of the
incident as an array. The swagger documents one ``Notes`` object, which cannot hold several:
``app.state.notes_shape = "object"`` answers that way (the latest note, ``{}`` when none), so
the client is tested against what the vendor documents too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ._state import SimIncident, SimulatorState

_MAX_NAME = 200


def add_notes_routes(
    app: FastAPI,
    state: SimulatorState,
    public: str,
    incident_json: Callable[[SimulatorState, SimIncident, str], dict[str, Any]],
    base_url: Callable[[Request], str],
) -> None:
    notes: dict[int, dict[str, dict[str, Any]]] = {}
    app.state.notes = notes
    app.state.notes_shape = "array"

    def not_found(number: int) -> JSONResponse:
        return JSONResponse({"error": f"Incident {number} not found"}, status_code=404)

    @app.get(f"{public}/v1/incidents/{{number}}")
    def get_incident(number: int, request: Request) -> Response:
        with state.lock:
            incident = state.incidents.get(number)
            if incident is None:
                return not_found(number)
            return JSONResponse(incident_json(state, incident, base_url(request)))

    @app.get(f"{public}/v1/incidents/{{number}}/notes")
    def get_notes(number: int) -> Response:
        with state.lock:
            if number not in state.incidents:
                return not_found(number)
            found = list(notes.get(number, {}).values())
            if app.state.notes_shape == "object":
                return JSONResponse(found[-1] if found else {})
            return JSONResponse(found)

    @app.post(f"{public}/v1/incidents/{{number}}/notes")
    async def add_note(number: int, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "The body must be JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "The body must be a JSON object"}, status_code=400)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
            return JSONResponse({"error": "name is required"}, status_code=400)
        if not isinstance(body.get("json_value"), dict):
            return JSONResponse({"error": "json_value must be an object"}, status_code=400)
        with state.lock:
            if number not in state.incidents:
                return not_found(number)
            note = {
                "name": name,
                "displayName": str(body.get("display_name") or name),
                "json_value": body["json_value"],
            }
            notes.setdefault(number, {})[name] = note
        return JSONResponse(note)
