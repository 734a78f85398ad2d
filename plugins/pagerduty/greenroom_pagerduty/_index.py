"""Account-wide indexes: what every card and page needs, from three paged PagerDuty lists.

Asking per entity costs a service lookup, an incidents read and an on-call read for each
annotated entity: a catalog of 700 PagerDuty services spends 2,100 requests of the token's 960
a minute on one view of the home page. Instead the plugin reads, once per cache lifetime:

- ``GET /services`` (``limit=100``, with the integrations and escalation policies the card
  shows): services by id and by integration key;
- ``GET /incidents`` over all services, open statuses only: open incidents by service;
- ``GET /oncalls`` over all escalation policies: who is on call, by policy.

Each list is paged with ``offset`` (the first page asks for the ``total``, so the rest can be
read a few pages at a time) until PagerDuty says there is no ``more``. PagerDuty refuses
``offset + limit`` above 10,000 (REST API v2 pagination docs): a longer list is marked
incomplete, and what it does not hold is read per entity for the entities a page shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from greenroom import IndexCache

from ._payloads import (
    IncidentPayload,
    IncidentsPage,
    OnCallPayload,
    OnCallsPage,
    ServicePayload,
    ServicesPage,
)

if TYPE_CHECKING:
    from ._client import PagerDutyClient
    from ._config import PagerDutyAccount

PAGE_LIMIT = 100  # PagerDuty's largest page
MAX_OFFSET_PLUS_LIMIT = 10_000  # PagerDuty answers 400 beyond this
#: Pages of one list read at once: a 10,000-entity catalog's lists in a second or two, well
#: inside PagerDuty's 960 requests a minute.
PAGES_AT_ONCE = 4
OPEN_STATUSES = ("triggered", "acknowledged")

SERVICE_PARAMS = [
    ("time_zone", "UTC"),
    ("include[]", "integrations"),
    ("include[]", "escalation_policies"),
]
INCIDENT_PARAMS = [
    ("time_zone", "UTC"),
    ("sort_by", "created_at"),
    *(("statuses[]", s) for s in OPEN_STATUSES),
]
ONCALL_PARAMS = [("time_zone", "UTC"), ("include[]", "users")]

P = TypeVar("P")


@dataclass(frozen=True)
class ServiceIndex:
    by_id: dict[str, ServicePayload] = field(default_factory=dict)
    by_integration_key: dict[str, ServicePayload] = field(default_factory=dict)
    #: False when the account has more services than PagerDuty lets one list page through.
    complete: bool = True


@dataclass(frozen=True)
class IncidentIndex:
    """Open incidents by service id, oldest first (as PagerDuty sorts by ``created_at``)."""

    by_service: dict[str, list[IncidentPayload]] = field(default_factory=dict)
    complete: bool = True


@dataclass(frozen=True)
class OnCallIndex:
    by_policy: dict[str, list[OnCallPayload]] = field(default_factory=dict)
    complete: bool = True


class PagerDutyIndexes:
    """The three indexes of each account, shared for the fetch cache's lifetime."""

    def __init__(self, client: PagerDutyClient) -> None:
        self.client = client
        self.cache: IndexCache[Any] = IndexCache(lambda: client.fetch.cache_ttl)

    async def services(self, account: PagerDutyAccount) -> ServiceIndex:
        return await self.cache.get(  # type: ignore[no-any-return]
            (account.id, "/services"), lambda: self._services(account)
        )

    async def open_incidents(self, account: PagerDutyAccount) -> IncidentIndex:
        return await self.cache.get(  # type: ignore[no-any-return]
            (account.id, "/incidents"), lambda: self._incidents(account)
        )

    async def oncalls(self, account: PagerDutyAccount) -> OnCallIndex:
        return await self.cache.get(  # type: ignore[no-any-return]
            (account.id, "/oncalls"), lambda: self._oncalls(account)
        )

    def invalidate(self, path: str) -> None:
        """Forget every account's index read from ``path`` (``/incidents``, ``/services``)."""

        def match(key: Hashable) -> bool:
            return isinstance(key, tuple) and str(key[1]).startswith(path)

        self.cache.invalidate(match)

    # -- building ------------------------------------------------------------------------

    async def _services(self, account: PagerDutyAccount) -> ServiceIndex:
        services, complete = await self._list(account, "/services", SERVICE_PARAMS, ServicesPage)
        index = ServiceIndex(complete=complete)
        for service in services:
            index.by_id[service.id] = service
            for integration in service.integrations:
                if integration.integration_key:
                    index.by_integration_key.setdefault(integration.integration_key, service)
        return index

    async def _incidents(self, account: PagerDutyAccount) -> IncidentIndex:
        incidents, complete = await self._list(
            account, "/incidents", INCIDENT_PARAMS, IncidentsPage
        )
        index = IncidentIndex(complete=complete)
        for incident in incidents:
            if incident.service is not None:
                index.by_service.setdefault(incident.service.id, []).append(incident)
        return index

    async def _oncalls(self, account: PagerDutyAccount) -> OnCallIndex:
        oncalls, complete = await self._list(account, "/oncalls", ONCALL_PARAMS, OnCallsPage)
        index = OnCallIndex(complete=complete)
        for oncall in oncalls:
            if oncall.escalation_policy is not None:
                index.by_policy.setdefault(oncall.escalation_policy.id, []).append(oncall)
        return index

    async def _list(
        self,
        account: PagerDutyAccount,
        path: str,
        params: list[tuple[str, str]],
        model: type[Any],
    ) -> tuple[list[Any], bool]:
        """Every item of a list endpoint, and whether PagerDuty let us page to its end.

        The first page asks for the ``total``; the other pages are then read a few at a
        time instead of one after another (34 pages for 3,333 services)."""
        key = path.strip("/")

        async def page_at(offset: int, *, total: bool = False) -> Any:
            page_params = [*params, ("limit", str(PAGE_LIMIT))]
            if offset:
                page_params.append(("offset", str(offset)))
            if total:
                page_params.append(("total", "true"))
            return await self.client._get(account, path, page_params, model)

        first = await page_at(0, total=True)
        items: list[Any] = list(getattr(first, key))
        if not first.more or not items:
            return items, True
        if first.total is None or len(items) < PAGE_LIMIT:
            return await self._list_one_by_one(page_at, key, items)
        offsets = list(range(PAGE_LIMIT, min(first.total, MAX_OFFSET_PLUS_LIMIT), PAGE_LIMIT))
        limit = asyncio.Semaphore(PAGES_AT_ONCE)

        async def limited(offset: int) -> Any:
            async with limit:
                return await page_at(offset)

        pages = await asyncio.gather(*(limited(o) for o in offsets))
        for page in pages:
            items.extend(getattr(page, key))
        last = pages[-1] if pages else first
        return items, not last.more

    @staticmethod
    async def _list_one_by_one(
        page_at: Any, key: str, items: list[Any]
    ) -> tuple[list[Any], bool]:
        offset = len(items)
        while True:
            if offset + PAGE_LIMIT > MAX_OFFSET_PLUS_LIMIT:
                return items, False
            page = await page_at(offset)
            found = getattr(page, key)
            items.extend(found)
            offset += len(found)
            if not page.more or not found:
                return items, True
