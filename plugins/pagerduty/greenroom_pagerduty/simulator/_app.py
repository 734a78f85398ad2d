"""The simulator's ASGI app: PagerDuty REST API v2 and Events API v2 on one server.

REST endpoints live at the root (as on ``https://api.pagerduty.com``), the Events API under
``/v2/enqueue`` (as on ``https://events.pagerduty.com``), the control endpoints under
``/_control``.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from . import _payloads as payloads
from ._control import Fault, RecordedRequest, SimulatorControl
from ._oauth import TokenIssuer, add_token_route, required_scope
from ._state import DEFAULT_HTML_BASE, PagerDutyState
from ._timeline import Timeline, add_timeline_routes
from ._webhooks import WebhookSender

_MAX_PAGE = 100
_DEFAULT_PAGE = 25
_MAX_OFFSET_PLUS_LIMIT = 10000
_EVENTS_MAX_BYTES = 512 * 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SEVERITIES = {"critical", "error", "warning", "info"}
_REST_PREFIXES = ("/services", "/incidents", "/oncalls", "/users", "/escalation_policies")


def create_app(
    *,
    token: str = "simulated-pagerduty-token",
    seed: int = 7,
    rate_limit_per_minute: int | None = None,
    events_per_minute: int | None = 120,
    faults: list[Fault] | None = None,
    html_base: str | None = None,
    oauth_clients: dict[str, str] | None = None,
    oauth_token_lifetime: int = 3600,
    scale: int = 0,
    webhooks: list[tuple[str, str]] | None = None,
) -> FastAPI:
    """A PagerDuty look-alike. ``app.state.control`` injects faults and rate limits at run
    time; ``app.state.pagerduty`` is the account's state; ``app.state.identity`` issues OAuth
    tokens to ``oauth_clients`` (client id to secret) for the account ``greenroom-demo``.
    ``scale`` adds that many generated services (five to an escalation policy, an open
    incident on every fourth), for trying the portal on a large account. ``webhooks`` are
    ``(url, secret)`` subscriptions sent a signed v3 delivery on every incident change
    (``app.state.webhooks``)."""
    state = PagerDutyState(seed=seed, html_base=html_base or DEFAULT_HTML_BASE, scale=scale)
    control = SimulatorControl(
        token=token,
        rate_limit_per_minute=rate_limit_per_minute,
        events_per_minute=events_per_minute,
        faults=list(faults or []),
    )
    app = FastAPI(title="PagerDuty simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pagerduty = state
    app.state.control = control
    identity = TokenIssuer(clients=dict(oauth_clients or {}), lifetime=oauth_token_lifetime)
    app.state.identity = identity
    sender = WebhookSender()
    for url, secret in webhooks or []:
        sender.subscribe(url, secret)
    state.on_incident_change = lambda incident, event_type, user_id: sender.incident_changed(
        state, incident, event_type, user_id
    )
    app.state.webhooks = sender

    @app.middleware("http")
    async def record_and_misbehave(request: Request, call_next: Any) -> Response:
        # Mounted under another app (the demo's /_simulators/<id>) the URL keeps the mount's
        # prefix; controls match the path below it.
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))
        if path.startswith("/_control"):
            return await call_next(request)  # type: ignore[no-any-return]
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        if path == "/oauth/token":
            body = {
                k: ("[redacted]" if k == "client_secret" else v)
                for k, v in parse_qsl(raw.decode("utf-8", "replace"))
            }
        control.record(
            RecordedRequest(
                request.method,
                path,
                list(request.query_params.multi_items()),
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        rate_headers: dict[str, str] = {}
        if path.startswith(_REST_PREFIXES):
            authorization = request.headers.get("authorization", "")
            if authorization.startswith("Bearer "):
                refused = identity.check(
                    authorization[len("Bearer ") :], required_scope(request.method, path)
                )
                if refused is not None:
                    return refused
            elif authorization != f"Token token={control.token}":
                return JSONResponse(payloads.error(2006, "Invalid Credentials"), 401)
            allowed, limit, remaining, reset = control.rest_rate()
            rate_headers = {
                "ratelimit-limit": str(limit),
                "ratelimit-remaining": str(remaining),
                "ratelimit-reset": str(reset),
            }
            if not allowed:
                return JSONResponse(payloads.error(2020, "Rate Limit Exceeded"), 429, rate_headers)
        fault = control.take_fault(request.method, path)
        if fault is not None:
            if fault.latency:
                await asyncio.sleep(fault.latency)
            if fault.status is not None:
                return _fault_response(fault, control, request.headers.get("authorization", ""))
            if fault.malformed:
                return Response('{"incidents": [{"id": "Q1', media_type="application/json")
        response: Response = await call_next(request)
        response.headers.update(rate_headers)
        return response

    add_token_route(app, identity)
    app.state.timeline = Timeline()
    add_timeline_routes(app, state, app.state.timeline)
    _add_rest_routes(app, state, control)
    _add_events_routes(app, state, control)
    _add_control_routes(app, state, control)
    _add_webhook_control_routes(app, state, sender)
    return app


def _add_webhook_control_routes(app: FastAPI, state: PagerDutyState, sender: WebhookSender) -> None:
    @app.post("/_control/webhooks")
    async def add_webhook(request: Request) -> Any:
        body = await request.json()
        if not isinstance(body, dict) or not body.get("url") or not body.get("secret"):
            return JSONResponse({"error": "url and secret are required"}, 400)
        sender.subscribe(str(body["url"]), str(body["secret"]))
        return {"subscriptions": [s.url for s in sender.subscriptions]}

    @app.get("/_control/webhooks")
    async def list_webhooks() -> Any:
        # Secrets are never echoed.
        return {
            "subscriptions": [s.url for s in sender.subscriptions],
            "deliveries": [d.__dict__ for d in sender.deliveries[-200:]],
        }

    @app.post("/_control/incidents/{incident_id}/{status}")
    async def change_in_ui(incident_id: str, status: str, request: Request) -> Any:
        """What a person clicking Acknowledge or Resolve in PagerDuty's own UI does."""
        incident = state.incidents.get(incident_id)
        if incident is None:
            return _not_found()
        if status not in {"acknowledged", "resolved"} or incident.status == "resolved":
            return _invalid("status must be acknowledged or resolved, of an open incident")
        body = await request.json() if await request.body() else {}
        user = state.user_by_email(str((body or {}).get("email") or ""))
        state.set_status(incident, status, user.id if user else None)
        return {"incident": payloads.incident(state, incident)}


def _fault_response(fault: Fault, control: SimulatorControl, authorization: str = "") -> Response:
    headers: dict[str, str] = {}
    if fault.status == 429:
        if fault.rate_limit_headers:
            headers = {
                "ratelimit-limit": str(control.rate_limit_per_minute or 960),
                "ratelimit-remaining": "0",
                "ratelimit-reset": str(fault.reset_seconds),
            }
        if fault.empty_body:
            return Response(status_code=429, headers=headers)
        return JSONResponse(payloads.error(2020, "Rate Limit Exceeded"), 429, headers)
    if fault.empty_body:
        return Response(status_code=fault.status or 500)
    messages = {
        500: ("Internal Server Error", ["Not valid request", "internal error occurred"]),
        502: ("Bad Gateway", ["upstream unavailable"]),
        503: ("Service Unavailable", ["try again later"]),
    }
    message, errors = messages.get(fault.status or 500, ("Error", [f"HTTP {fault.status}"]))
    if fault.echo_credentials:
        errors = [*errors, f"request had Authorization: {authorization}"]
    return JSONResponse(payloads.error(2001, message, errors), fault.status or 500, headers)


def _page(request: Request) -> tuple[int, int] | JSONResponse:
    try:
        limit = int(request.query_params.get("limit", _DEFAULT_PAGE))
        offset = int(request.query_params.get("offset", 0))
    except ValueError:
        return _invalid("limit and offset must be integers")
    if limit < 1 or offset < 0:
        return _invalid("limit must be positive and offset not negative")
    limit = min(limit, _MAX_PAGE)  # PagerDuty clamps rather than refuses
    if offset + limit > _MAX_OFFSET_PLUS_LIMIT:
        return _invalid(
            f"Offset+limit must be less than or equal to {_MAX_OFFSET_PLUS_LIMIT}; "
            "use cursor-based pagination or narrow the query"
        )
    return limit, offset


def _paged(
    request: Request,
    key: str,
    items: list[Any],
    limit: int,
    offset: int,
    render: Any = None,
) -> dict[str, Any]:
    window = items[offset : offset + limit]
    if render is not None:  # build payloads for the requested page only
        window = [render(item) for item in window]
    want_total = request.query_params.get("total", "false").lower() == "true"
    return {
        key: window,
        "limit": limit,
        "offset": offset,
        "more": offset + limit < len(items),
        "total": len(items) if want_total else None,
    }


def _invalid(*errors: str) -> JSONResponse:
    return JSONResponse(payloads.error(2001, "Invalid Input Provided", list(errors)), 400)


def _not_found() -> JSONResponse:
    return JSONResponse(payloads.error(2100, "Not Found"), 404)


def _includes(request: Request) -> set[str]:
    return set(request.query_params.getlist("include[]"))


def _add_rest_routes(app: FastAPI, state: PagerDutyState, control: SimulatorControl) -> None:
    @app.get("/services")
    async def list_services(request: Request) -> Any:
        page = _page(request)
        if isinstance(page, JSONResponse):
            return page
        query = (request.query_params.get("query") or "").strip().lower()
        matched = [
            s
            for s in sorted(state.services.values(), key=lambda s: s.name.lower())
            # PagerDuty's `query` matches names; Backstage relies on it matching integration
            # keys too, which the real API does.
            if not query or query in s.name.lower() or query == s.integration_key
        ]
        include = _includes(request)
        return _paged(
            request, "services", matched, *page, lambda s: payloads.service(state, s, include)
        )

    @app.get("/services/{service_id}")
    async def get_service(service_id: str, request: Request) -> Any:
        svc = state.services.get(service_id)
        if svc is None:
            return _not_found()
        return {"service": payloads.service(state, svc, _includes(request))}

    @app.get("/services/{service_id}/change_events")
    async def service_change_events(service_id: str, request: Request) -> Any:
        if service_id not in state.services:
            return _not_found()
        page = _page(request)
        if isinstance(page, JSONResponse):
            return page
        events = sorted(
            (e for e in state.change_events if e.service_id == service_id),
            key=lambda e: e.timestamp,
            reverse=True,
        )
        items = [payloads.change_event(state, e) for e in events]
        return _paged(request, "change_events", items, *page)

    @app.get("/incidents")
    async def list_incidents(request: Request) -> Any:
        page = _page(request)
        if isinstance(page, JSONResponse):
            return page
        statuses = set(request.query_params.getlist("statuses[]"))
        bad = statuses - {"triggered", "acknowledged", "resolved"}
        if bad:
            return _invalid(f"Invalid statuses[]: {', '.join(sorted(bad))}")
        service_ids = set(request.query_params.getlist("service_ids[]"))
        urgencies = set(request.query_params.getlist("urgencies[]"))
        since = _parse_time(request.query_params.get("since"))
        until = _parse_time(request.query_params.get("until"))
        if since is False or until is False:
            return _invalid("since and until must be ISO 8601 timestamps")
        found = [
            i
            for i in state.incidents.values()
            if (not statuses or i.status in statuses)
            and (not service_ids or i.service_id in service_ids)
            and (not urgencies or i.urgency in urgencies)
            and (since is None or i.created_at >= since)
            and (until is None or i.created_at < until)
        ]
        sort = request.query_params.get("sort_by", "created_at")
        field, _, direction = sort.partition(":")
        if field not in {"created_at", "incident_number", "resolved_at", "urgency"}:
            return _invalid(f"Invalid sort_by: {sort}")
        found.sort(
            key=lambda i: (
                (getattr(i, "number" if field == "incident_number" else field) or 0)
                if field != "resolved_at"
                else (i.resolved_at.timestamp() if i.resolved_at else 0)
            ),
            reverse=direction == "desc",
        )
        return _paged(
            request, "incidents", found, *page, lambda i: payloads.incident(state, i)
        )

    @app.get("/incidents/{incident_id}")
    async def get_incident(incident_id: str) -> Any:
        inc = state.incidents.get(incident_id)
        if inc is None:
            return _not_found()
        return {"incident": payloads.incident(state, inc)}

    @app.put("/incidents/{incident_id}")
    async def update_incident(incident_id: str, request: Request) -> Any:
        sender = request.headers.get("from", "")
        if not _EMAIL.match(sender):
            return JSONResponse(
                payloads.error(
                    2001,
                    "Invalid Input Provided",
                    ["A valid email address of a user is required in the From header"],
                ),
                400,
            )
        inc = state.incidents.get(incident_id)
        if inc is None:
            return _not_found()
        try:
            body = await request.json()
            wanted = body["incident"]["status"]
            kind = body["incident"]["type"]
        except (ValueError, KeyError, TypeError):
            return _invalid("incident.type and incident.status are required")
        if kind not in {"incident", "incident_reference"}:
            return _invalid("incident.type must be incident or incident_reference")
        if wanted not in {"acknowledged", "resolved"}:
            return _invalid("incident.status must be acknowledged or resolved")
        if inc.status == "resolved":
            return JSONResponse(
                payloads.error(1001, "Incident Already Resolved", ["Incident Already Resolved"]),
                400,
            )
        if wanted == "acknowledged" and inc.status == "acknowledged":
            return JSONResponse(
                payloads.error(
                    1002, "Incident Already Acknowledged", ["Incident Already Acknowledged"]
                ),
                400,
            )
        user = state.user_by_email(sender)
        state.set_status(inc, wanted, user.id if user else None)
        return {"incident": payloads.incident(state, inc)}

    @app.post("/incidents")
    async def create_incident(request: Request) -> Any:
        sender = request.headers.get("from", "")
        if not _EMAIL.match(sender):
            return JSONResponse(
                payloads.error(
                    2001,
                    "Invalid Input Provided",
                    ["A valid email address of a user is required in the From header"],
                ),
                400,
            )
        try:
            wanted = (await request.json())["incident"]
            kind, title, service_ref = wanted["type"], wanted["title"], wanted["service"]
            service_id = service_ref["id"]
        except (ValueError, KeyError, TypeError):
            return _invalid("incident.type, incident.title and incident.service are required")
        if kind != "incident":
            return _invalid("incident.type must be incident")
        if not isinstance(title, str) or not title.strip():
            return _invalid("incident.title must not be empty")
        if service_ref.get("type") != "service_reference" or service_id not in state.services:
            return _invalid("incident.service must reference a service of this account")
        urgency = wanted.get("urgency")
        if urgency is not None and urgency not in {"high", "low"}:
            return _invalid("incident.urgency must be high or low")
        body = wanted.get("body") or {}
        details = body.get("details", "") if isinstance(body, dict) else ""
        user = state.user_by_email(sender)
        created = state.create(
            service_id, title.strip(), incident_key=str(wanted.get("incident_key") or ""),
            urgency=urgency, user_id=user.id if user else None, details=str(details),
        )
        if created is None:
            return _invalid("Open incident with matching incident_key already exists")
        return JSONResponse({"incident": payloads.incident(state, created)}, 201)

    @app.get("/oncalls")
    async def list_oncalls(request: Request) -> Any:
        page = _page(request)
        if isinstance(page, JSONResponse):
            return page
        policy_ids = request.query_params.getlist("escalation_policy_ids[]")
        user_ids = set(request.query_params.getlist("user_ids[]"))
        include = _includes(request)
        items = []
        for policy in state.policies.values():
            if policy_ids and policy.id not in policy_ids:
                continue
            for level, user_id, schedule in state.on_call(policy.id):
                if user_ids and user_id not in user_ids:
                    continue
                items.append((policy, level, user_id, schedule))
        return _paged(
            request, "oncalls", items, *page,
            lambda o: payloads.oncall(state, o[0], o[1], o[2], o[3], include),
        )


def _parse_time(value: str | None) -> Any:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _add_events_routes(app: FastAPI, state: PagerDutyState, control: SimulatorControl) -> None:
    def invalid(*errors: str) -> JSONResponse:
        return JSONResponse(
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": list(errors),
            },
            400,
        )

    @app.post("/v2/enqueue")
    async def enqueue(request: Request) -> Any:
        raw = await request.body()
        if len(raw) > _EVENTS_MAX_BYTES:
            return JSONResponse(
                {
                    "status": "invalid event",
                    "message": "Event object is too large",
                    "errors": ["Event exceeds 512 KB"],
                },
                413,
            )
        try:
            event = json.loads(raw)
        except ValueError:
            return JSONResponse(
                {
                    "status": "Unrecognized object",
                    "message": "Event object format is unrecognized",
                    "errors": ["JSON parse error"],
                },
                400,
            )
        if not isinstance(event, dict):
            return invalid("Event object must be a JSON object")
        errors: list[str] = []
        routing_key = event.get("routing_key")
        action = event.get("event_action")
        if not isinstance(routing_key, str) or not routing_key:
            errors.append("'routing_key' is missing or blank")
        elif len(routing_key) != 32:
            errors.append("Service key is the wrong length (should be 32 characters)")
        if action not in {"trigger", "acknowledge", "resolve"}:
            errors.append("'event_action' is invalid (must be trigger, acknowledge or resolve)")
        dedup_key = event.get("dedup_key")
        if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
            errors.append("'dedup_key' must be a string of at most 255 characters")
        if action in {"acknowledge", "resolve"} and not dedup_key:
            errors.append("'dedup_key' is required for acknowledge and resolve events")
        payload = event.get("payload")
        if action == "trigger":
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or not an object")
            else:
                for name in ("summary", "source"):
                    if not isinstance(payload.get(name), str) or not payload[name].strip():
                        errors.append(f"'payload.{name}' is missing or blank")
                if payload.get("severity") not in _SEVERITIES:
                    errors.append(
                        "'payload.severity' is invalid (must be one of critical, "
                        "error, warning or info)"
                    )
                if len(str(payload.get("summary", ""))) > 1024:
                    errors.append("'payload.summary' must be at most 1024 characters")
        if errors:
            return invalid(*errors)
        assert isinstance(routing_key, str)
        service = next(
            (s for s in state.services.values() if s.integration_key == routing_key), None
        )
        if service is None:
            return invalid("Routing key does not match any Events API v2 integration")
        if not control.event_allowed(routing_key):
            return JSONResponse(
                {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving too quickly. "
                    "Please retry later.",
                },
                429,
            )
        if action == "trigger":
            assert isinstance(payload, dict)
            key = dedup_key or uuid.uuid4().hex
            state.trigger(service.id, payload["summary"], key, payload["severity"])
        else:
            assert isinstance(dedup_key, str)
            key = dedup_key
            incident = state.open_incident_by_key(service.id, key)
            if incident is not None and not (
                action == "acknowledge" and incident.status == "acknowledged"
            ):
                state.set_status(
                    incident, "acknowledged" if action == "acknowledge" else "resolved", None
                )
        return JSONResponse(
            {"status": "success", "message": "Event processed", "dedup_key": key}, 202
        )


def _add_control_routes(app: FastAPI, state: PagerDutyState, control: SimulatorControl) -> None:
    @app.post("/_control/faults")
    async def add_fault(request: Request) -> Any:
        body = await request.json()
        try:
            fault = control.add_fault(**body)
        except TypeError as exc:
            return JSONResponse({"error": f"Unknown fault field: {exc}"}, 400)
        return {"faults": len(control.faults), "added": fault.__dict__}

    @app.delete("/_control/faults")
    async def clear_faults() -> Any:
        control.clear_faults()
        return {"faults": 0}

    @app.post("/_control/rate-limit")
    async def set_rate_limit(request: Request) -> Any:
        body = await request.json()
        control.rate_limit_per_minute = body.get("per_minute")
        return {"per_minute": control.rate_limit_per_minute}

    @app.post("/_control/reset")
    async def reset() -> Any:
        control.reset()
        return {"reset": True}

    @app.get("/_control/requests")
    async def requests_seen() -> Any:
        # The token is a credential even here: never echo it.
        return {
            "requests": [
                {
                    **r.__dict__,
                    "headers": {
                        k: ("[redacted]" if k == "authorization" else v)
                        for k, v in r.headers.items()
                    },
                }
                for r in control.requests[-200:]
            ]
        }
