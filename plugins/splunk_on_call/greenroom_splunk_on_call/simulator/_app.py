"""The simulator's HTTP surface: the public API under `/api-public`, the REST endpoint
integration under `/integrations/generic/20131114/alert`, a tiny vendor portal under `/ui`, and
runtime controls under `/_simulator` (faults, reset, the requests it answered)."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from . import _seed
from ._notes import add_notes_routes
from ._state import REQUEST_LOG_SIZE, Fault, SimIncident, SimulatorState
from ._webhooks import OutgoingWebhooks

PUBLIC = "/api-public"
REST_ENDPOINT = "/integrations/generic/20131114/alert"
CONTROL = "/_simulator"
MESSAGE_TYPES = ("CRITICAL", "WARNING", "INFO", "ACKNOWLEDGEMENT", "RECOVERY")
# REST endpoint field limits (Splunk On-Call REST endpoint docs): 1024 characters, except these.
_FIELD_LIMITS = {"state_message": 20480, "entity_id": 512}


def create_app(
    *,
    api_id: str = "demo-api-id",
    api_key: str = "demo-api-key",
    rest_key: str = "demo-rest-key",
    rate_limit_per_minute: int = 60,
    oncall_spelling: str = "swagger",
    now: datetime | None = None,
    scale: int = 0,
    webhooks: list[str] | None = None,
) -> FastAPI:
    """A Splunk On-Call stand-in. ``oncall_spelling="fixture"`` answers `/v1/oncall/current` with
    the `oncallNow`/`onCalluser` spelling seen in client fixtures instead of the swagger's.
    ``scale`` adds that many generated teams (with policies, routing keys, members and an open
    incident for every fourth), for trying the portal on a large organisation."""
    state = SimulatorState(now=now, rate_limit_per_minute=rate_limit_per_minute, scale=scale)
    app = FastAPI(title="Splunk On-Call simulator", docs_url=None, redoc_url=None)
    app.state.simulator = state
    # Outgoing webhooks (full URLs with their token) get a POST on every incident change.
    outgoing = OutgoingWebhooks(list(webhooks or []))
    state.on_incident_change = outgoing.incident_changed
    app.state.webhooks = outgoing

    @app.middleware("http")
    async def gatekeeper(request: Request, call_next: Any) -> Response:
        # Mounted under the demo's /_simulators/<id>, match the path below the mount: the full
        # path would start with CONTROL's "/_simulator" and skip every check.
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))
        if path.startswith(CONTROL) or path.startswith("/ui"):
            return await call_next(request)  # type: ignore[no-any-return]
        body = await request.body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        with state.lock:
            state.requests.append((request.method, path, request.url.query, parsed))
            if len(state.requests) > REQUEST_LOG_SIZE:
                del state.requests[: len(state.requests) - REQUEST_LOG_SIZE]
            fault = next((f for f in state.faults if f.matches(request.method, path)), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
        if fault is not None:
            if fault.latency:
                await asyncio.sleep(fault.latency)
            if fault.status is not None:
                return JSONResponse({"error": "Injected failure"}, status_code=fault.status)
            if fault.malformed:
                return Response('{"incidents": [{"incidentNumber": ', media_type="application/json")
        if path.startswith(PUBLIC):
            if not (
                _same(request.headers.get("x-vo-api-id"), api_id)
                and _same(request.headers.get("x-vo-api-key"), api_key)
            ):
                return JSONResponse({"error": "Authentication failed"}, status_code=403)
            # Limits are per endpoint, and the API answers them with 403, not 429.
            if not _within_rate_limit(state, f"{request.method} {path}"):
                return JSONResponse(
                    {"error": "API rate limit exceeded, please try again later"}, status_code=403
                )
        return await call_next(request)  # type: ignore[no-any-return]

    def base_url(request: Request) -> str:
        # Mounted under another app (the demo portal's /_simulators/<id>), links keep the prefix.
        root = request.scope.get("root_path", "")
        return f"{request.url.scheme}://{request.url.netloc}{root}".rstrip("/")

    # -- public API: reads -----------------------------------------------------------------

    @app.get(f"{PUBLIC}/v1/incidents")
    def get_incidents(request: Request) -> dict[str, Any]:
        with state.lock:
            incidents = sorted(state.incidents.values(), key=lambda i: i.number)
            return {"incidents": [_incident_json(state, i, base_url(request)) for i in incidents]}

    @app.get(f"{PUBLIC}/v1/oncall/current")
    def get_on_call() -> dict[str, Any]:
        now_key, user_key = (
            ("oncallNow", "onCalluser")
            if oncall_spelling == "fixture"
            else ("onCallNow", "onCallUser")
        )
        now = datetime.now(UTC)
        teams = []
        with state.lock:
            for team in state.teams:
                on_call_now = []
                for policy in state.policies_of_team(team.slug):
                    username = state.on_call_now(policy, now)
                    users = [{user_key: {"username": username}}] if username else []
                    on_call_now.append(
                        {
                            "escalationPolicy": {"name": policy.name, "slug": policy.slug},
                            "users": users,
                        }
                    )
                teams.append({"team": {"name": team.name, "slug": team.slug}, now_key: on_call_now})
        return {"teamsOnCall": teams}

    @app.get(f"{PUBLIC}/v1/team")
    def get_teams() -> list[dict[str, Any]]:
        with state.lock:
            return [
                {
                    "_selfUrl": f"{PUBLIC}/v1/team/{team.slug}",
                    "_membersUrl": f"{PUBLIC}/v1/team/{team.slug}/members",
                    "_policiesUrl": f"{PUBLIC}/v1/team/{team.slug}/policies",
                    "_adminsUrl": f"{PUBLIC}/v1/team/{team.slug}/admins",
                    "name": team.name,
                    "slug": team.slug,
                    "memberCount": state.member_count(team.name),
                    "version": 1,
                    "isDefaultTeam": team.is_default,
                }
                for team in state.teams
            ]

    @app.get(f"{PUBLIC}/v1/org/routing-keys")
    def get_routing_keys() -> dict[str, Any]:
        with state.lock:
            keys = []
            for key in state.routing_keys:
                targets = []
                for slug in key.policies:
                    policy = state.policy(slug)
                    if policy is not None:
                        targets.append(
                            {
                                "policyName": policy.name,
                                "policySlug": policy.slug,
                                "_teamUrl": f"{PUBLIC}/v1/team/{policy.team}",
                            }
                        )
                keys.append(
                    {"routingKey": key.routing_key, "targets": targets, "isDefault": key.is_default}
                )
        return {"routingKeys": keys, "_selfUrl": f"{PUBLIC}/v1/org/routing-keys"}

    @app.get(f"{PUBLIC}/v1/policies")
    def get_policies() -> dict[str, Any]:
        with state.lock:
            return {"policies": [_policy_info(state, p.slug) for p in state.policies]}

    @app.get(f"{PUBLIC}/v2/user")
    def get_users_v2(email: str | None = None) -> dict[str, Any]:
        with state.lock:
            users = [
                _user_json(u, v2=True)
                for u in state.users
                if email is None or u.email.lower() == email.strip().lower()
            ]
        return {"users": users}

    @app.get(f"{PUBLIC}/v1/user")
    def get_users_v1() -> dict[str, Any]:
        # Real answers nest the list in another list (go-victorops, baton), unlike the swagger.
        with state.lock:
            return {
                "users": [[_user_json(u, v2=False) for u in state.users]],
                "_selfUrl": f"{PUBLIC}/v1/user",
            }

    # -- public API: changes ---------------------------------------------------------------

    @app.post(f"{PUBLIC}/v1/incidents")
    async def create_incident(request: Request) -> Response:
        body = await _json_object(request)
        if body is None:
            return JSONResponse({"errors": ["Request body must be a JSON object"]}, 400)
        errors = [
            f"{name} is required"
            for name in ("summary", "details", "userName", "targets")
            if not body.get(name)
        ]
        targets = body.get("targets") or []
        if not isinstance(targets, list):
            errors.append("targets must be a list")
            targets = []
        with state.lock:
            policies: list[str] = []
            users: list[str] = []
            for target in targets:
                kind = target.get("type") if isinstance(target, dict) else None
                slug = target.get("slug") if isinstance(target, dict) else None
                if kind == "EscalationPolicy" and isinstance(slug, str) and state.policy(slug):
                    policies.append(slug)
                elif kind == "User" and isinstance(slug, str) and state.user(slug):
                    users.append(slug)
                else:
                    errors.append(f"Invalid target {json.dumps(target)}")
            if errors:
                return JSONResponse({"errors": errors}, 400)
            if state.user(str(body["userName"])) is None:
                return JSONResponse({"error": f"User {body['userName']} not found"}, 404)
            incident = state.open_incident(
                display_name=str(body["summary"]),
                policies=policies,
                users=users,
                monitor_name=f"vouser-{body['userName']}",
                monitor_type="Manual",
                routing_key=None,
                state_message=str(body["details"]),
            )
            return JSONResponse(
                {"incidentNumber": str(incident.number), "entityId": incident.entity_id}
            )

    async def ack_or_resolve(request: Request, phase: str) -> Response:
        body = await _json_object(request)
        if body is None:
            return JSONResponse({"errors": ["Request body must be a JSON object"]}, 400)
        names = body.get("incidentNames")
        if not body.get("userName") or not isinstance(names, list) or not names:
            return JSONResponse({"errors": ["userName and incidentNames are required"]}, 400)
        with state.lock:
            if state.user(str(body["userName"])) is None:
                return JSONResponse({"error": f"User {body['userName']} not found"}, 404)
            results = []
            for name in names:
                incident = state.incidents.get(int(name)) if str(name).isdigit() else None
                if incident is None:
                    results.append(
                        {
                            "incidentNumber": str(name),
                            "entityId": "",
                            "cmdAccepted": False,
                            "message": f"Incident {name} not found",
                        }
                    )
                    continue
                accepted, message = state.transition(
                    incident, phase, str(body["userName"]), body.get("message")
                )
                results.append(
                    {
                        "incidentNumber": str(incident.number),
                        "entityId": incident.entity_id,
                        "cmdAccepted": accepted,
                        "message": message,
                    }
                )
        return JSONResponse({"results": results})

    @app.patch(f"{PUBLIC}/v1/incidents/ack")
    async def acknowledge(request: Request) -> Response:
        return await ack_or_resolve(request, "ACKED")

    @app.patch(f"{PUBLIC}/v1/incidents/resolve")
    async def resolve(request: Request) -> Response:
        return await ack_or_resolve(request, "RESOLVED")

    # -- REST endpoint integration ---------------------------------------------------------

    @app.post(REST_ENDPOINT + "/{key}/{routing_key}")
    async def rest_endpoint(key: str, routing_key: str, request: Request) -> Response:
        if not _same(key, rest_key):
            return JSONResponse({"result": "failure", "message": "Invalid API key"}, 403)
        body = await _json_object(request)
        if body is None or not body.get("message_type"):
            return JSONResponse(
                {"result": "failure", "message": "Missing fields: message_type"}, 400
            )
        message_type = str(body["message_type"]).upper()
        if message_type not in MESSAGE_TYPES:
            return JSONResponse(
                {"result": "failure", "message": f"Invalid message_type: {body['message_type']}"},
                400,
            )
        for name, value in body.items():
            if isinstance(value, str) and len(value) > _FIELD_LIMITS.get(name, 1024):
                return JSONResponse(
                    {"result": "failure", "message": f"Field too long: {name}"}, 400
                )
        with state.lock:
            given = str(body.get("entity_id") or "")
            incident = state.open_incident_for_entity(given) if given else None
            # Like the real endpoint, an alert without entity_id gets one made up for it.
            entity_id = given or str(uuid.uuid4())
            if message_type in ("CRITICAL", "WARNING"):
                if incident is not None:
                    incident.alert_count += 1
                    incident.entity_state = message_type
                    incident.last_alert_time = datetime.now(UTC)
                else:
                    key_record = state.routing_key(routing_key)
                    incident = state.open_incident(
                        display_name=str(body.get("entity_display_name") or entity_id or "Alert"),
                        policies=list(key_record.policies),
                        users=[],
                        monitor_name=str(body.get("monitoring_tool") or "REST"),
                        monitor_type="API",
                        routing_key=routing_key,
                        entity_id=entity_id,
                        entity_state=message_type,
                        start_time=_epoch(body.get("state_start_time")),
                        state_message=str(body.get("state_message") or ""),
                    )
                entity_id = incident.entity_id
            elif message_type == "ACKNOWLEDGEMENT" and incident is not None:
                if incident.phase == "UNACKED":
                    state.transition(incident, "ACKED", None, body.get("state_message"))
            elif message_type == "RECOVERY" and incident is not None:
                state.transition(incident, "RESOLVED", None, body.get("state_message"))
        return JSONResponse({"result": "success", "entity_id": entity_id})

    # -- the vendor's portal, for the card's links -----------------------------------------

    @app.get("/ui/{org}/incident/{number}/details", response_class=HTMLResponse)
    def incident_page(org: str, number: int) -> HTMLResponse:
        with state.lock:
            incident = state.incidents.get(number)
            if incident is None:
                return HTMLResponse("<h1>Incident not found</h1>", status_code=404)
            return HTMLResponse(
                f"<!doctype html><title>Incident #{incident.number}</title>"
                f"<h1>Incident #{incident.number}: {escape(incident.display_name)}</h1>"
                f"<p>Phase: {incident.phase}</p><p>{escape(incident.state_message)}</p>"
            )

    @app.get("/ui/{org}", response_class=HTMLResponse)
    def portal_home(org: str) -> HTMLResponse:
        return HTMLResponse(f"<!doctype html><title>Splunk On-Call</title><h1>{escape(org)}</h1>")

    add_notes_routes(app, state, PUBLIC, _incident_json, base_url)

    # -- runtime controls ------------------------------------------------------------------

    @app.post(f"{CONTROL}/faults")
    async def add_fault(request: Request) -> dict[str, Any]:
        body = await _json_object(request) or {}
        fault = Fault(
            path=str(body.get("path", "")),
            method=body.get("method"),
            status=body.get("status"),
            latency=float(body.get("latency", 0.0)),
            malformed=bool(body.get("malformed", False)),
            times=body.get("times"),
        )
        with state.lock:
            state.faults.append(fault)
        return {"faults": len(state.faults)}

    @app.delete(f"{CONTROL}/faults")
    def clear_faults() -> dict[str, Any]:
        with state.lock:
            state.faults.clear()
        return {"faults": 0}

    @app.get(f"{CONTROL}/requests")
    def recorded_requests() -> dict[str, Any]:
        with state.lock:
            return {
                "requests": [
                    {"method": m, "path": p, "query": q, "body": b} for m, p, q, b in state.requests
                ]
            }

    @app.post(f"{CONTROL}/reset")
    def reset() -> dict[str, Any]:
        fresh = SimulatorState(rate_limit_per_minute=state.rate_limit_per_minute)
        with state.lock:
            state.__dict__.update(
                {k: v for k, v in fresh.__dict__.items() if k not in {"lock", "on_incident_change"}}
            )
        return {"reset": True}

    @app.post(f"{CONTROL}/webhooks")
    async def add_webhook(request: Request) -> Any:
        body = await _json_object(request) or {}
        if not body.get("url"):
            return JSONResponse({"error": "url is required"}, status_code=400)
        outgoing.urls.append(str(body["url"]))
        return {"webhooks": len(outgoing.urls)}

    @app.post(CONTROL + "/incidents/{number}/{phase}")
    async def change_in_ui(number: int, phase: str, request: Request) -> Any:
        """What a person acknowledging or resolving in Splunk On-Call's own timeline does."""
        incident = state.incidents.get(number)
        if incident is None or phase not in {"ACKED", "RESOLVED"}:
            return JSONResponse({"error": "unknown incident or phase"}, status_code=400)
        body = await _json_object(request) or {}
        with state.lock:
            accepted, message = state.transition(incident, phase, body.get("user"))
        return {"accepted": accepted, "message": message}

    return app


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _within_rate_limit(state: SimulatorState, endpoint: str) -> bool:
    now = time.monotonic()
    with state.lock:
        window = state.calls.setdefault(endpoint, deque())
        while window and now - window[0] >= 60:
            window.popleft()
        if len(window) >= state.rate_limit_per_minute:
            return False
        window.append(now)
        return True


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _epoch(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None


def _policy_info(state: SimulatorState, slug: str) -> dict[str, Any]:
    policy = state.policy(slug)
    assert policy is not None
    team = state.team_by_slug(policy.team)
    return {
        "policy": {
            "name": policy.name,
            "slug": policy.slug,
            "_selfUrl": f"{PUBLIC}/v1/policies/{policy.slug}",
        },
        "team": {"name": team.name if team else "", "slug": policy.team},
    }


def _user_json(user: _seed.SeedUser, *, v2: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "firstName": user.first_name,
        "lastName": user.last_name,
        "username": user.username,
        "email": user.email,
        "createdAt": "2021-03-01T09:00:00Z",
        "passwordLastUpdated": "2023-01-10T12:00:00Z",
        "verified": True,
        "_selfUrl": f"{PUBLIC}/v1/user/{user.username}",
    }
    if v2:
        body["displayName"] = f"{user.first_name} {user.last_name}"
    return body


def _incident_json(state: SimulatorState, incident: SimIncident, base: str) -> dict[str, Any]:
    paged_teams = state.teams_of_policies(incident.paged_policies)
    for username in incident.paged_users:
        user = state.user(username)
        for team_name in user.teams if user else ():
            team = state.team_by_name(team_name)
            if team is not None and team.slug not in paged_teams:
                paged_teams.append(team.slug)
    body: dict[str, Any] = {
        "incidentNumber": str(incident.number),
        "startTime": _seed.format_time(incident.start_time),
        "currentPhase": incident.phase,
        "alertCount": incident.alert_count,
        "lastAlertTime": _seed.format_time(incident.last_alert_time or incident.start_time),
        "lastAlertId": incident.last_alert_id,
        "entityId": incident.entity_id,
        "service": incident.display_name,
        "pagedUsers": list(incident.paged_users),
        "pagedTeams": paged_teams,
        "pagedPolicies": [_policy_info(state, slug) for slug in incident.paged_policies],
        "transitions": [t.to_json() for t in incident.transitions],
        "firstAlertUuid": incident.first_alert_uuid,
        "monitorName": incident.monitor_name,
        "monitorType": incident.monitor_type,
        # Fields real incidents carry that the vendor's swagger (victorops-api-v1.json) omits.
        "entityState": incident.entity_state,
        "entityType": "SERVICE",
        "entityDisplayName": incident.display_name,
        "incidentLink": f"{base}/ui/{_seed.ORG_SLUG}/incident/{incident.number}/details",
    }
    if incident.host:
        body["host"] = incident.host
    if incident.routing_key:
        body["routingKey"] = incident.routing_key
    return body
