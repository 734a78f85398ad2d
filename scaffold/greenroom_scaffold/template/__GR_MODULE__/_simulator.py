"""A small stand-in for the vendor API, serving the mock data over real HTTP.

The demo portal serves it under `/_simulators/<plugin id>` and points the proxy route at it;
the tests serve it on loopback. Replace it with the real vendor by configuring the proxy route.
"""

from __future__ import annotations

import copy
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from ._mock_data import INCIDENTS, ON_CALL, SERVICES, SITE
from ._models import ActionPayload, NewIncidentPayload

#: The fake credential the demo's proxy route adds; never a real token.
SIMULATOR_TOKEN = "simulator-token"
TOKEN_HEADER = "X-Api-Token"


class _State:
    """One simulator's own copy of the mock data, so every app starts from the same story."""

    def __init__(self) -> None:
        self.services = copy.deepcopy(SERVICES)
        self.incidents = copy.deepcopy(INCIDENTS)
        self.on_call = copy.deepcopy(ON_CALL)

    def service(self, service_id: str) -> dict[str, Any]:
        if service_id not in self.services:
            raise HTTPException(404, f"No service {service_id}")
        return self.services[service_id]

    def incident(self, service_id: str, incident_id: str) -> dict[str, Any]:
        self.service(service_id)
        for incident in self.incidents:
            if incident["id"] == incident_id and incident["service_id"] == service_id:
                return incident
        raise HTTPException(404, f"No incident {incident_id} on service {service_id}")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def create_simulator_app(token: str = SIMULATOR_TOKEN) -> FastAPI:
    """The simulator as an ASGI app; requests must carry ``X-Api-Token: <token>``."""
    app = FastAPI(title="__GR_TITLE__ simulator")
    state = _State()

    @app.middleware("http")
    async def check_token(request: Request, call_next: Any) -> Any:
        given = request.headers.get(TOKEN_HEADER, "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"errors": ["Invalid or missing API token"]}, status_code=401)
        return await call_next(request)

    @app.exception_handler(HTTPException)
    async def errors_body(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"errors": [str(exc.detail)]}, status_code=exc.status_code)

    @app.get("/v1/services/{service_id}")
    async def get_service(service_id: str) -> dict[str, Any]:
        return {"service": state.service(service_id)}

    @app.get("/v1/services/{service_id}/incidents")
    async def list_incidents(
        service_id: str, status: Annotated[list[str] | None, Query()] = None
    ) -> dict[str, Any]:
        state.service(service_id)
        wanted = set(status or ["open", "acked"])
        found = [
            i for i in state.incidents if i["service_id"] == service_id and i["status"] in wanted
        ]
        return {"incidents": found}

    @app.get("/v1/services/{service_id}/oncall")
    async def on_call(service_id: str) -> dict[str, Any]:
        state.service(service_id)
        return {"oncall": state.on_call.get(service_id, [])}

    @app.post("/v1/services/{service_id}/incidents", status_code=201)
    async def create_incident(
        service_id: str, body: NewIncidentPayload, response: Response
    ) -> dict[str, Any]:
        state.service(service_id)
        for incident in state.incidents:
            if body.dedup_key and incident.get("dedup_key") == body.dedup_key:
                response.status_code = 200
                return {"incident": incident}
        number = max((i["number"] for i in state.incidents), default=999) + 1
        incident = {
            "id": f"INC-{number}",
            "number": number,
            "service_id": service_id,
            "title": body.title,
            "details": body.details,
            "status": "open",
            "urgency": body.urgency,
            "created_at": _now(),
            "html_url": f"{SITE}/incidents/INC-{number}",
            "created_by": body.requester,
            "dedup_key": body.dedup_key,
        }
        state.incidents.append(incident)
        return {"incident": incident}

    @app.post("/v1/services/{service_id}/incidents/{incident_id}/acknowledge")
    async def acknowledge(
        service_id: str, incident_id: str, body: ActionPayload
    ) -> dict[str, Any]:
        incident = state.incident(service_id, incident_id)
        if incident["status"] == "closed":
            raise HTTPException(409, f"Incident {incident_id} is already resolved")
        if incident["status"] == "open":
            incident.update(status="acked", acknowledged_at=_now(), acknowledged_by=body.requester)
        return {"incident": incident}

    @app.post("/v1/services/{service_id}/incidents/{incident_id}/resolve")
    async def resolve(service_id: str, incident_id: str, body: ActionPayload) -> dict[str, Any]:
        incident = state.incident(service_id, incident_id)
        if incident["status"] != "closed":
            incident.update(status="closed", resolved_at=_now(), resolved_by=body.requester)
        return {"incident": incident}

    return app
