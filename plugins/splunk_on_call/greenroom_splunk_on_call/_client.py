"""`SplunkOnCallClient`: every operation of the public API the plugin uses, and the REST
endpoint integration, through `core.fetch`.

Reads and public-API actions go through the proxy route `/splunk-on-call`, which adds the
`X-VO-Api-Id`/`X-VO-Api-Key` headers; this client never sees the keys. The REST endpoint URL
carries its own key in its path, so it is never put into an error message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from greenroom import (
    FetchApi,
    IndexCache,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    RequestFailedError,
    UnauthorizedError,
)

from ._models import (
    AckOrResolveResponse,
    AckOrResolveResult,
    CreatedIncident,
    IncidentList,
    IncidentPayload,
    OnCallList,
    PolicyInfo,
    PolicyList,
    RestEndpointResult,
    RoutingKeyList,
    RoutingKeyPayload,
    TeamOnCall,
    TeamPayload,
    UserList,
    UserPayload,
)

PROXY_ROUTE = "/splunk-on-call"
MISSING_KEYS = "Missing or invalid Splunk On-Call API key and/or API id"

TargetType = Literal["User", "EscalationPolicy"]
RestMessageType = Literal["CRITICAL", "WARNING", "INFO", "ACKNOWLEDGEMENT", "RECOVERY"]
M = TypeVar("M", bound=BaseModel)

_JSON = {"Accept": "application/json", "Content-Type": "application/json"}
_TEAMS = TypeAdapter(list[TeamPayload])


class SplunkOnCallClient:
    """Talks to Splunk On-Call. ``proxy_base`` is the portal's proxy base URL
    (``discovery.get_base_url("proxy")``)."""

    def __init__(self, fetch: FetchApi, proxy_base: str) -> None:
        self.fetch = fetch
        self.base = proxy_base.rstrip("/") + PROXY_ROUTE
        # Every list below is organisation-wide: read (and parsed) once per cache lifetime and
        # shared by every entity, however many the catalog has. Callers must not change them.
        self.lists: IndexCache[Any] = IndexCache(lambda: fetch.cache_ttl)

    # -- reads -----------------------------------------------------------------------------

    async def get_incidents(self) -> list[IncidentPayload]:
        async def read() -> list[IncidentPayload]:
            body = await self._get("/v1/incidents")
            return list(_parse(IncidentList, body, "GET /v1/incidents").incidents)

        return await self.lists.get("/v1/incidents", read)  # type: ignore[no-any-return]

    async def get_on_call_users(self) -> list[TeamOnCall]:
        async def read() -> list[TeamOnCall]:
            body = await self._get("/v1/oncall/current")
            return list(_parse(OnCallList, body, "GET /v1/oncall/current").teams_on_call)

        return await self.lists.get("/v1/oncall/current", read)  # type: ignore[no-any-return]

    async def get_teams(self) -> list[TeamPayload]:
        async def read() -> list[TeamPayload]:
            body = await self._get("/v1/team")
            try:
                return _TEAMS.validate_python(body)
            except ValidationError as exc:
                raise _unexpected("GET /v1/team", exc) from None

        return await self.lists.get("/v1/team", read)  # type: ignore[no-any-return]

    async def get_routing_keys(self) -> list[RoutingKeyPayload]:
        async def read() -> list[RoutingKeyPayload]:
            body = await self._get("/v1/org/routing-keys")
            return list(_parse(RoutingKeyList, body, "GET /v1/org/routing-keys").routing_keys)

        return await self.lists.get("/v1/org/routing-keys", read)  # type: ignore[no-any-return]

    async def get_users(self, *, email: str | None = None) -> list[UserPayload]:
        async def read() -> list[UserPayload]:
            params = [("email", email)] if email else None
            body = await self._get("/v2/user", params=params)
            return list(_parse(UserList, body, "GET /v2/user").users)

        if email:
            return await read()
        return await self.lists.get("/v2/user", read)  # type: ignore[no-any-return]

    async def get_escalation_policies(self) -> list[PolicyInfo]:
        async def read() -> list[PolicyInfo]:
            body = await self._get("/v1/policies")
            return list(_parse(PolicyList, body, "GET /v1/policies").policies)

        return await self.lists.get("/v1/policies", read)  # type: ignore[no-any-return]

    # -- indexes over those lists, built once per list ----------------------------------------

    async def incidents_by_team(self) -> dict[str, list[IncidentPayload]]:
        """Incidents by the slug of each team they paged."""

        async def build() -> dict[str, list[IncidentPayload]]:
            by_team: dict[str, list[IncidentPayload]] = {}
            for incident in await self.get_incidents():
                for slug in dict.fromkeys(incident.paged_teams):
                    by_team.setdefault(slug, []).append(incident)
            return by_team

        return await self.lists.get("/v1/incidents#by-team", build)  # type: ignore[no-any-return]

    async def teams_by(self) -> tuple[dict[str, TeamPayload], dict[str, TeamPayload]]:
        """Teams by name and by slug (the first of each, as the API lists them)."""

        async def build() -> tuple[dict[str, TeamPayload], dict[str, TeamPayload]]:
            by_name: dict[str, TeamPayload] = {}
            by_slug: dict[str, TeamPayload] = {}
            for team in await self.get_teams():
                by_name.setdefault(team.name, team)
                by_slug.setdefault(team.slug, team)
            return by_name, by_slug

        return await self.lists.get("/v1/team#by", build)  # type: ignore[no-any-return]

    async def routing_keys_by_key(self) -> dict[str, RoutingKeyPayload]:
        async def build() -> dict[str, RoutingKeyPayload]:
            by_key: dict[str, RoutingKeyPayload] = {}
            for record in await self.get_routing_keys():
                by_key.setdefault(record.routing_key, record)
            return by_key

        return await self.lists.get(  # type: ignore[no-any-return]
            "/v1/org/routing-keys#by-key", build
        )

    async def on_call_by_team(self) -> dict[str, list[TeamOnCall]]:
        """``teamsOnCall`` entries by team name."""

        async def build() -> dict[str, list[TeamOnCall]]:
            by_team: dict[str, list[TeamOnCall]] = {}
            for entry in await self.get_on_call_users():
                by_team.setdefault(entry.team.name, []).append(entry)
            return by_team

        return await self.lists.get(  # type: ignore[no-any-return]
            "/v1/oncall/current#by-team", build
        )

    async def users_by_username(self) -> dict[str, UserPayload]:
        async def build() -> dict[str, UserPayload]:
            return {user.username: user for user in await self.get_users()}

        return await self.lists.get("/v2/user#by-username", build)  # type: ignore[no-any-return]

    # -- actions ---------------------------------------------------------------------------

    async def trigger_alarm(
        self,
        *,
        summary: str,
        details: str,
        user_name: str,
        targets: Sequence[tuple[TargetType, str]],
        is_multi_responder: bool = False,
    ) -> CreatedIncident:
        payload = {
            "summary": summary,
            "details": details,
            "userName": user_name,
            "targets": [{"type": kind, "slug": slug} for kind, slug in targets],
            "isMultiResponder": is_multi_responder,
        }
        body = await self._send("POST", "/v1/incidents", payload)
        created = _parse(CreatedIncident, body, "POST /v1/incidents")
        if created.error and not created.incident_number:
            raise ProviderError(created.error)
        return created

    async def acknowledge_incident(
        self, *, user_name: str, incident_names: Sequence[str], message: str = ""
    ) -> list[AckOrResolveResult]:
        return await self._ack_or_resolve("/v1/incidents/ack", user_name, incident_names, message)

    async def resolve_incident(
        self, *, user_name: str, incident_names: Sequence[str], message: str = ""
    ) -> list[AckOrResolveResult]:
        return await self._ack_or_resolve(
            "/v1/incidents/resolve", user_name, incident_names, message
        )

    async def send_rest_event(
        self,
        endpoint: str,
        routing_key: str,
        *,
        message_type: RestMessageType,
        entity_id: str | None = None,
        entity_display_name: str | None = None,
        state_message: str | None = None,
        state_start_time: int | None = None,
    ) -> RestEndpointResult:
        """POST to the REST endpoint integration, `<endpoint>/<routing key>`."""
        payload: dict[str, Any] = {"message_type": message_type}
        optional = {
            "entity_id": entity_id,
            "entity_display_name": entity_display_name,
            "state_message": state_message,
            "state_start_time": state_start_time,
        }
        payload.update({k: v for k, v in optional.items() if v not in (None, "")})
        url = f"{endpoint.rstrip('/')}/{routing_key}"
        operation = "the REST endpoint"
        try:
            response = await self.fetch.post(url, json=payload, headers=_JSON)
        except httpx.HTTPError as exc:
            raise _unreachable(operation, exc) from None
        body = _decode(response, operation)
        result = _parse(RestEndpointResult, body or {}, operation)
        if response.status_code >= 300 or result.result != "success":
            messages = [result.message] if result.message else _messages(body)
            raise RequestFailedError(response.status_code, messages)
        self._invalidate_incidents()
        return result

    # -- plumbing --------------------------------------------------------------------------

    async def _ack_or_resolve(
        self, path: str, user_name: str, incident_names: Sequence[str], message: str
    ) -> list[AckOrResolveResult]:
        payload: dict[str, Any] = {"userName": user_name, "incidentNames": list(incident_names)}
        if message:
            payload["message"] = message
        body = await self._send("PATCH", path, payload)
        return list(_parse(AckOrResolveResponse, body, f"PATCH {path}").results)

    async def _get(self, path: str, params: Any = None) -> Any:
        try:
            response = await self.fetch.get(self.base + path, params=params, headers=_JSON)
        except httpx.HTTPError as exc:
            raise _unreachable(f"GET {path}", exc) from None
        return _checked(response, f"GET {path}")

    async def _send(self, method: str, path: str, payload: Any) -> Any:
        try:
            response = await self.fetch.request(
                method, self.base + path, json=payload, headers=_JSON
            )
        except httpx.HTTPError as exc:
            raise _unreachable(f"{method} {path}", exc) from None
        # Whatever the outcome, cached incident lists may now be stale.
        self._invalidate_incidents()
        return _checked(response, f"{method} {path}")

    def _invalidate_incidents(self) -> None:
        url = self.base + "/v1/incidents"
        self.lists.invalidate(lambda key: str(key).startswith("/v1/incidents"))
        # core.fetch keys cached reads by the URL the plugin asked for (the proxy URL).
        self.fetch.invalidate(url)


def _checked(response: httpx.Response, operation: str) -> Any:
    status = response.status_code
    if status in (401, 403):
        # 403 is also how the API answers its per-endpoint rate limits (Splunk On-Call's public
        # API documentation: mostly 60 calls a minute per endpoint, over that a 403).
        raise UnauthorizedError(MISSING_KEYS)
    if status == 429:
        raise RateLimitedError("Splunk On-Call rate limit reached; try again in a minute")
    body = _decode(response, operation) if status < 300 else _decode_quietly(response)
    if status == 404:
        messages = _messages(body)
        raise NotFoundError(" ".join(messages) or f"Splunk On-Call found nothing for {operation}")
    if status >= 300:
        raise RequestFailedError(status, _messages(body))
    return body


def _decode(response: httpx.Response, operation: str) -> Any:
    try:
        return response.json() if response.content else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProviderError(
            f"Splunk On-Call answered {operation} with a body that is not valid JSON"
        ) from None


def _decode_quietly(response: httpx.Response) -> Any:
    try:
        return response.json() if response.content else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _messages(body: Any) -> list[str]:
    """Error bodies are not modelled; both `{"error": ...}` and `{"errors": [...]}` are seen."""
    if not isinstance(body, dict):
        return []
    messages: list[str] = []
    for key in ("error", "message"):
        if isinstance(body.get(key), str) and body[key]:
            messages.append(body[key])
    errors = body.get("errors")
    if isinstance(errors, list):
        messages += [str(e) for e in errors]
    elif isinstance(errors, str):
        messages.append(errors)
    return messages


def _parse(model: type[M], body: Any, operation: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise _unexpected(operation, exc) from None


def _unexpected(operation: str, exc: ValidationError) -> ProviderError:
    errors = exc.errors()
    where = ".".join(str(part) for part in errors[0]["loc"]) if errors else ""
    reason = errors[0]["msg"] if errors else "invalid"
    return ProviderError(
        f"Splunk On-Call answered {operation} with an unexpected payload "
        f"({where or 'body'}: {reason})"
    )


def _unreachable(operation: str, exc: httpx.HTTPError) -> ProviderError:
    return ProviderError(
        f"Could not reach Splunk On-Call for {operation} ({type(exc).__name__}); "
        "check the proxy target and that the service is up"
    )
