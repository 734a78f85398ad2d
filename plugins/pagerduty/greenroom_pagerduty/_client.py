"""`PagerDutyClient`: the requests Backstage's PagerDuty plugin sends, through `core.fetch`.

Reads go through the proxy route (``/pagerduty`` unless an account names another), which adds
the API token; this client never sees a token, except an account's own scoped OAuth token
(``_oauth.py``), which it adds as ``Authorization: Bearer`` and never lets leave the server.
Triggers go to the Events API v2.
Requests, query strings and headers are exactly those of Backstage's PagerDuty plugin client
(`plugins/pagerduty/src/api/client.ts`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from greenroom import (
    Entity,
    FetchApi,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    RequestFailedError,
    UnauthorizedError,
)

from ._config import PagerDutyAccount, account_for, load_accounts
from ._index import PagerDutyIndexes
from ._oauth import TokenSource
from ._payloads import (
    ChangeEventPayload,
    ChangeEventsPage,
    EventResponse,
    IncidentBody,
    IncidentPayload,
    IncidentsPage,
    OnCallPayload,
    OnCallsPage,
    ServiceBody,
    ServicePayload,
    ServicesPage,
)

INTEGRATION_KEY_ANNOTATION = "pagerduty.com/integration-key"
SERVICE_ID_ANNOTATION = "pagerduty.com/service-id"

_READ_HEADERS = {
    "Accept": "application/vnd.pagerduty+json;version=2",
    "Content-Type": "application/json",
}
_SERVICE_INCLUDES = [
    ("time_zone", "UTC"),
    ("include[]", "integrations"),
    ("include[]", "escalation_policies"),
]
#: Incidents shown at most (four pages of PagerDuty's default 25).
INCIDENT_CAP = 100
DEFAULT_STATUSES = ("triggered", "acknowledged")

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class IncidentListing:
    incidents: list[IncidentPayload]
    #: True when PagerDuty had more than :data:`INCIDENT_CAP` matching incidents.
    truncated: bool = False


def dedup_key_for(entity: Entity, summary: str, nonce: str = "") -> str:
    """The Events API ``dedup_key`` of a trigger: the same form submitted twice (same nonce)
    opens one incident, not two."""
    digest = hashlib.sha256(f"{entity.ref}\n{summary.strip()}\n{nonce}".encode()).hexdigest()
    return f"greenroom-{digest[:40]}"


class PagerDutyClient:
    """PagerDuty's REST API v2 and Events API v2, as the card and the provider need them.

    ``retry_budget`` is how long a read may keep retrying after 429s (it stays inside the
    card's time budget); ``sleep`` and ``clock`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        fetch: FetchApi,
        proxy_base_url: str,
        config: Any = None,
        accounts: Sequence[PagerDutyAccount] | None = None,
        product_name: str = "Greenroom",
        app_base_url: str | None = None,
        retry_budget: float = 4.0,
        read_timeout: float = 4.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.proxy_base_url = proxy_base_url.rstrip("/")
        self._config = config
        self._accounts = list(accounts) if accounts is not None else None
        self.product_name = product_name
        self.app_base_url = (app_base_url or "").rstrip("/")
        self.retry_budget = retry_budget
        self.read_timeout = read_timeout
        self._sleep = sleep
        self._clock = clock
        self._token_sources: dict[str, TokenSource] = {}
        #: The portal's secret scrubber learns each OAuth token as it is issued.
        self._learn_secret = getattr(config, "learn_secret", None)
        #: Account-wide services, open incidents and on-call, shared by every entity.
        self.indexes = PagerDutyIndexes(self)

    # -- accounts ------------------------------------------------------------------------

    @property
    def accounts(self) -> list[PagerDutyAccount]:
        if self._accounts is None:
            self._accounts = load_accounts(self._config)
        return self._accounts

    def account_for_entity(self, entity: Entity) -> PagerDutyAccount:
        return account_for(self.accounts, entity.annotations)

    def entity_url(self, entity: Entity) -> str:
        return f"{self.app_base_url}{entity.path}"

    # -- reads ---------------------------------------------------------------------------

    async def service_for_entity(self, entity: Entity) -> ServicePayload:
        """The entity's service, from the account's service index (one paged ``GET /services``
        shared by every entity). When the account has more services than PagerDuty lets one
        list page through, a service the index lacks is looked up on its own."""
        account = self.account_for_entity(entity)
        integration_key = (entity.annotations.get(INTEGRATION_KEY_ANNOTATION) or "").strip()
        service_id = (entity.annotations.get(SERVICE_ID_ANNOTATION) or "").strip()
        if not (integration_key or service_id):
            return await self.lookup_service(entity)
        index = await self.indexes.services(account)
        found = (
            index.by_integration_key.get(integration_key)
            if integration_key
            else index.by_id.get(service_id)
        )
        if found is not None:
            return found
        if index.complete:
            if integration_key:
                raise NotFoundError("PagerDuty has no service with this integration key")
            raise NotFoundError(
                f"PagerDuty found nothing for GET /services/{_segment(service_id)}"
            )
        return await self.lookup_service(entity)

    async def lookup_service(self, entity: Entity) -> ServicePayload:
        """The entity's service asked for alone: by integration key when it has one (it
        wins), else by id."""
        account = self.account_for_entity(entity)
        integration_key = (entity.annotations.get(INTEGRATION_KEY_ANNOTATION) or "").strip()
        service_id = (entity.annotations.get(SERVICE_ID_ANNOTATION) or "").strip()
        if integration_key:
            page = await self._get(
                account,
                "/services",
                [*_SERVICE_INCLUDES, ("query", integration_key)],
                ServicesPage,
            )
            if not page.services:
                raise NotFoundError("PagerDuty has no service with this integration key")
            return page.services[0]
        if service_id:
            body = await self._get(
                account, f"/services/{_segment(service_id)}", _SERVICE_INCLUDES, ServiceBody
            )
            return body.service
        raise NotFoundError(
            f"Entity {entity.ref} has neither {INTEGRATION_KEY_ANNOTATION} nor "
            f"{SERVICE_ID_ANNOTATION}"
        )

    async def incidents_for_service(
        self,
        account: PagerDutyAccount,
        service_id: str,
        *,
        statuses: Sequence[str] = DEFAULT_STATUSES,
        since: datetime | None = None,
        cap: int = INCIDENT_CAP,
    ) -> IncidentListing:
        """Incidents of a service, oldest first as PagerDuty sorts them, paged with
        ``offset`` while PagerDuty says there are ``more``, up to ``cap``."""
        params: list[tuple[str, str]] = [("time_zone", "UTC"), ("sort_by", "created_at")]
        params += [("statuses[]", s) for s in statuses]
        params.append(("service_ids[]", service_id))
        if since is not None:
            params.append(("since", since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))
        incidents: list[IncidentPayload] = []
        offset = 0
        while True:
            page_params = params + ([("offset", str(offset))] if offset else [])
            page = await self._get(account, "/incidents", page_params, IncidentsPage)
            incidents.extend(page.incidents)
            offset += len(page.incidents)
            if not page.more or not page.incidents:
                return IncidentListing(incidents[:cap], truncated=False)
            if len(incidents) >= cap:
                return IncidentListing(incidents[:cap], truncated=True)

    async def change_events_for_service(
        self, account: PagerDutyAccount, service_id: str
    ) -> list[ChangeEventPayload]:
        page = await self._get(
            account,
            f"/services/{_segment(service_id)}/change_events",
            [("limit", "5"), ("time_zone", "UTC"), ("sort_by", "timestamp")],
            ChangeEventsPage,
        )
        return page.change_events

    async def oncalls_for_policy(
        self, account: PagerDutyAccount, policy_id: str
    ) -> list[OnCallPayload]:
        page = await self._get(
            account,
            "/oncalls",
            [
                ("time_zone", "UTC"),
                ("include[]", "users"),
                ("escalation_policy_ids[]", policy_id),
            ],
            OnCallsPage,
        )
        return page.oncalls

    async def incident(self, account: PagerDutyAccount, incident_id: str) -> IncidentPayload:
        body = await self._get(
            account, f"/incidents/{_segment(incident_id)}", [], IncidentBody, cache_ttl=0
        )
        return body.incident

    # -- actions (never retried: a second attempt could act twice) -------------------------

    async def trigger_incident(
        self,
        account: PagerDutyAccount,
        *,
        integration_key: str,
        summary: str,
        user: str,
        entity_url: str,
        dedup_key: str,
        severity: str = "error",
        details: str = "",
    ) -> EventResponse:
        custom_details = {"user": user, **({"details": details} if details else {})}
        body = {
            "event_action": "trigger",
            "routing_key": integration_key,
            "dedup_key": dedup_key,
            "client": self.product_name,
            "client_url": entity_url,
            "payload": {
                "summary": summary,
                "source": entity_url,
                "severity": severity,
                "class": "manual trigger",
                "custom_details": custom_details,
            },
        }
        url = f"{account.events_base_url}/enqueue"
        response = await self._send("POST", url, "Events API /enqueue", json=body)
        if response.status_code != 202 and not response.is_success:
            _raise_for(response, "Events API /enqueue")
        result = _parse(response, EventResponse, "Events API /enqueue")
        self._invalidate(f"{account.rest_base(self.proxy_base_url)}/incidents")
        return result

    async def create_incident(
        self,
        account: PagerDutyAccount,
        *,
        service_id: str,
        title: str,
        urgency: str,
        incident_key: str,
        details: str,
        from_email: str,
    ) -> IncidentPayload:
        """``POST /incidents`` with ``From: <email>``: an incident whose urgency the person
        chose (the Events API cannot set one). ``incident_key`` makes a repeated submit of the
        same form refused by PagerDuty rather than a second incident."""
        incident: dict[str, Any] = {
            "type": "incident",
            "title": title,
            "service": {"id": service_id, "type": "service_reference"},
            "urgency": urgency,
            "incident_key": incident_key,
        }
        if details:
            incident["body"] = {"type": "incident_body", "details": details}
        base = account.rest_base(self.proxy_base_url)
        response = await self._send(
            "POST",
            f"{base}/incidents",
            "POST /incidents",
            account=account,
            json={"incident": incident},
            headers={**_READ_HEADERS, "From": from_email},
        )
        if not response.is_success:
            _raise_for(response, "POST /incidents")
        body = _parse(response, IncidentBody, "POST /incidents")
        self._invalidate(f"{base}/incidents")
        return body.incident

    async def set_incident_status(
        self, account: PagerDutyAccount, incident_id: str, status: str, from_email: str
    ) -> IncidentPayload:
        """Acknowledge or resolve: ``PUT /incidents/{id}`` with ``From: <email>``."""
        base = account.rest_base(self.proxy_base_url)
        path = f"/incidents/{_segment(incident_id)}"
        response = await self._send(
            "PUT",
            f"{base}{path}",
            f"PUT {path}",
            account=account,
            json={"incident": {"type": "incident_reference", "status": status}},
            headers={**_READ_HEADERS, "From": from_email},
        )
        if not response.is_success:
            _raise_for(response, f"PUT {path}")
        body = _parse(response, IncidentBody, f"PUT {path}")
        self._invalidate(f"{base}/incidents")
        self._invalidate(f"{base}/services")
        return body.incident

    # -- plumbing ------------------------------------------------------------------------

    async def _get(
        self,
        account: PagerDutyAccount,
        path: str,
        params: list[tuple[str, str]],
        model: type[M],
        *,
        cache_ttl: float | None = None,
    ) -> M:
        url = f"{account.rest_base(self.proxy_base_url)}{path}"
        where = f"GET {path}"
        deadline = self._clock() + self.retry_budget
        attempt = 0
        while True:
            response = await self._send(
                "GET",
                url,
                where,
                account=account,
                params=params,
                headers=_READ_HEADERS,
                cache_ttl=cache_ttl,
            )
            if response.status_code != 429:
                if not response.is_success:
                    _raise_for(response, where)
                return _parse(response, model, where)
            wait = _retry_delay(response, attempt)
            if self._clock() + wait > deadline:
                raise RateLimitedError(
                    "PagerDuty is rate-limiting requests",
                    retry_at=datetime.now(UTC) + timedelta(seconds=wait),
                )
            await self._sleep(wait)
            attempt += 1

    def _invalidate(self, url_prefix: str) -> None:
        for path in ("/incidents", "/services", "/oncalls"):
            if f"{path}" in url_prefix:
                self.indexes.invalidate(path)
        # core.fetch keys cached reads by the URL the plugin asked for (the proxy URL).
        self.fetch.invalidate(url_prefix)

    def token_source(self, account: PagerDutyAccount) -> TokenSource | None:
        """The account's OAuth token source (one per account), or None without OAuth."""
        if account.oauth is None:
            return None
        source = self._token_sources.get(account.id)
        if source is None:
            source = TokenSource(
                account.oauth, fetch=self.fetch, on_issue=self._learn_secret, clock=self._clock
            )
            self._token_sources[account.id] = source
        return source

    async def _send(
        self,
        method: str,
        url: str,
        where: str,
        *,
        account: PagerDutyAccount | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request; with an OAuth account, a 401 gets one token refresh and one retry
        (PagerDuty refused the request, so a retried action cannot act twice)."""
        source = self.token_source(account) if account is not None else None
        if source is None:
            return await self._send_once(method, url, where, **kwargs)
        token = await source.token()
        response = await self._send_once(method, url, where, **_bearer(kwargs, token))
        if response.status_code == 401:
            token = await source.refresh(rejected=token)
            response = await self._send_once(method, url, where, **_bearer(kwargs, token))
        return response

    async def _send_once(
        self, method: str, url: str, where: str, **kwargs: Any
    ) -> httpx.Response:
        try:
            return await self.fetch.request(method, url, timeout=self.read_timeout, **kwargs)
        except httpx.TimeoutException:
            raise ProviderError(
                f"PagerDuty did not answer {where} within {self.read_timeout:g} seconds"
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"Could not reach PagerDuty for {where} ({type(exc).__name__})"
            ) from None


def _bearer(kwargs: dict[str, Any], token: str) -> dict[str, Any]:
    headers = {**(kwargs.get("headers") or {}), "Authorization": f"Bearer {token}"}
    return {**kwargs, "headers": headers}


def _segment(value: str) -> str:
    """An id as one URL path segment: ids come from catalog files and forms."""
    return quote(value, safe="")


def _retry_delay(response: httpx.Response, attempt: int) -> float:
    # PagerDuty's `ratelimit-reset` is the number of seconds until the window resets; it is
    # sometimes missing (PagerDuty's rate-limit documentation: a 429 may come without headers).
    # Then the standard `Retry-After` (RFC 9110 section 10.2.3: seconds or an HTTP date), which
    # the portal's own proxy budget also sends; with neither, back off exponentially.
    reset = response.headers.get("ratelimit-reset")
    if reset:
        try:
            return max(0.0, float(reset))
        except ValueError:
            pass
    retry_after = (response.headers.get("retry-after") or "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    if retry_after:
        try:
            when = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            pass
        else:
            if when.tzinfo is not None:
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return min(0.5 * 2**attempt, 8.0)


def _raise_for(response: httpx.Response, where: str) -> None:
    status = response.status_code
    if status == 401:
        raise UnauthorizedError("Missing or invalid PagerDuty Token")
    if status == 404:
        raise NotFoundError(f"PagerDuty found nothing for {where}")
    if status == 429:
        raise RateLimitedError(
            "PagerDuty is rate-limiting requests",
            retry_at=datetime.now(UTC) + timedelta(seconds=_retry_delay(response, 0)),
        )
    raise RequestFailedError(status, _error_messages(response))


def _error_messages(response: httpx.Response) -> list[str]:
    """Backstage joins the body's ``errors``; PagerDuty's REST API nests them under ``error``
    and sometimes sends only ``error.message`` (or no body at all)."""
    try:
        body = response.json()
    except ValueError:
        return [response.reason_phrase] if response.reason_phrase else []
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    nested = body.get("error")
    if not errors and isinstance(nested, dict):
        errors = nested.get("errors") or ([nested["message"]] if nested.get("message") else [])
    if not errors and isinstance(body.get("message"), str):
        errors = [body["message"]]
    if isinstance(errors, str):
        errors = [errors]
    return [str(e) for e in errors or []]


def _parse(response: httpx.Response, model: type[M], where: str) -> M:
    try:
        data = response.json()
    except ValueError:
        raise ProviderError(
            f"PagerDuty sent a response that is not valid JSON for {where} "
            f"(status {response.status_code})"
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(p) for p in first["loc"]) or "body"
        raise ProviderError(
            f"PagerDuty sent an unexpected response for {where}: {location}: {first['msg']}"
        ) from None
