"""The vendor API client, registered as `plugin.<id>.api`.

Every request goes through `core.fetch` to the portal's proxy route (``PROXY_ROUTE``); the proxy
adds the API token, so the token never lives in plugin code, pages or logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx
from greenroom import (
    FetchApi,
    NotFoundError,
    RateLimitedError,
    RequestFailedError,
    UnauthorizedError,
    create_api_ref,
)
from pydantic import BaseModel, ValidationError

from ._models import (
    ActionPayload,
    ErrorResponse,
    IncidentPayload,
    IncidentResponse,
    IncidentsResponse,
    NewIncidentPayload,
    OnCallPayload,
    OnCallResponse,
    ServicePayload,
    ServiceResponse,
    VendorStatus,
)

PLUGIN_ID = "__GR_ID__"
TITLE = "__GR_TITLE__"
#: The proxy route the operator configures under `proxy.endpoints` in app-config.yaml.
PROXY_ROUTE = "/__GR_ID__"
UNAUTHORIZED_MESSAGE = "Missing or invalid __GR_TITLE__ token"

Model = TypeVar("Model", bound=BaseModel)


class __GR_CLASS__Api(Protocol):
    """What the card and the provider need from __GR_TITLE__; tests inject a fake of it."""

    async def service(self, service_id: str) -> ServicePayload: ...

    async def incidents(
        self, service_id: str, statuses: Sequence[VendorStatus]
    ) -> list[IncidentPayload]: ...

    async def on_call(self, service_id: str) -> list[OnCallPayload]: ...

    async def create_incident(
        self, service_id: str, incident: NewIncidentPayload
    ) -> IncidentPayload: ...

    async def acknowledge(
        self, service_id: str, incident_id: str, requester: str
    ) -> IncidentPayload: ...

    async def resolve(
        self, service_id: str, incident_id: str, requester: str
    ) -> IncidentPayload: ...


__GR_SNAKE___api_ref = create_api_ref(
    f"plugin.{PLUGIN_ID}.api",
    description=f"The {TITLE} API client",
    type=__GR_CLASS__Api,
)


def _segment(value: str) -> str:
    # Ids go into URL paths: encode them, and refuse dot segments that would climb out of the
    # proxy route.
    if value in {"", ".", ".."}:
        raise NotFoundError(f"No __GR_TITLE__ record named {value!r}")
    return quote(value, safe="")


class __GR_CLASS__Client:
    """The API over HTTP. ``base_url`` is `<proxy base><PROXY_ROUTE>`, no trailing slash."""

    def __init__(self, *, fetch: FetchApi, base_url: str) -> None:
        self.fetch = fetch
        self.base_url = base_url.rstrip("/")

    async def service(self, service_id: str) -> ServicePayload:
        body = await self._get(f"/v1/services/{_segment(service_id)}", ServiceResponse)
        return body.service

    async def incidents(
        self, service_id: str, statuses: Sequence[VendorStatus]
    ) -> list[IncidentPayload]:
        body = await self._get(
            f"/v1/services/{_segment(service_id)}/incidents",
            IncidentsResponse,
            params=[("status", status) for status in statuses],
        )
        return body.incidents

    async def on_call(self, service_id: str) -> list[OnCallPayload]:
        body = await self._get(f"/v1/services/{_segment(service_id)}/oncall", OnCallResponse)
        return body.oncall

    async def create_incident(
        self, service_id: str, incident: NewIncidentPayload
    ) -> IncidentPayload:
        return await self._act(
            f"/v1/services/{_segment(service_id)}/incidents", incident.model_dump()
        )

    async def acknowledge(
        self, service_id: str, incident_id: str, requester: str
    ) -> IncidentPayload:
        return await self._change_incident(service_id, incident_id, "acknowledge", requester)

    async def resolve(self, service_id: str, incident_id: str, requester: str) -> IncidentPayload:
        return await self._change_incident(service_id, incident_id, "resolve", requester)

    async def _change_incident(
        self, service_id: str, incident_id: str, action: str, requester: str
    ) -> IncidentPayload:
        path = f"/v1/services/{_segment(service_id)}/incidents/{_segment(incident_id)}/{action}"
        return await self._act(path, ActionPayload(requester=requester).model_dump())

    async def _get(
        self, path: str, model: type[Model], params: list[tuple[str, str]] | None = None
    ) -> Model:
        response = await self.fetch.get(
            self.base_url + path, params=params, headers={"Accept": "application/json"}
        )
        return _parse(response, model)

    async def _act(self, path: str, body: dict[str, Any]) -> IncidentPayload:
        response = await self.fetch.post(
            self.base_url + path, json=body, headers={"Accept": "application/json"}
        )
        self._invalidate_reads()
        return _parse(response, IncidentResponse).incident

    def _invalidate_reads(self) -> None:
        """Reads are cached by core.fetch; what an action changed must be read afresh."""
        # core.fetch keys cached reads by the URL asked for (the proxy URL), so this is all.
        self.fetch.invalidate(self.base_url)


def _parse(response: httpx.Response, model: type[Model]) -> Model:
    _raise_for_status(response)
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise RequestFailedError(
            response.status_code,
            [f"unexpected response from {response.request.url.path}: {exc.error_count()} "
             "invalid fields"],
        ) from None


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    messages = _error_messages(response)
    if status in (401, 403):
        raise UnauthorizedError(UNAUTHORIZED_MESSAGE)
    if status == 404:
        raise NotFoundError(" ".join(messages) or "__GR_TITLE__ has no such record")
    if status == 429:
        raise RateLimitedError(
            "__GR_TITLE__ asked us to slow down", retry_at=_retry_at(response)
        )
    raise RequestFailedError(status, messages)


def _error_messages(response: httpx.Response) -> list[str]:
    try:
        return ErrorResponse.model_validate_json(response.content).errors
    except ValidationError:
        return []


def _retry_at(response: httpx.Response) -> datetime | None:
    value = response.headers.get("retry-after", "")
    return datetime.now(UTC) + timedelta(seconds=int(value)) if value.isdigit() else None
