"""PagerDuty's services for the portal's mapping page (``greenroom.ServiceDirectoryProvider``):
``GET /services`` of every configured account, paged by ``offset`` (100 a page, PagerDuty's
maximum) with their integrations, so the page can suggest entities whose annotations already
hold an integration key. With several accounts (``pagerDuty.accounts``), a mapping also sets
``pagerduty.com/account`` to the service's account, and the page groups services by account."""

from __future__ import annotations

import asyncio

from greenroom import MappableService, ProviderError

from ._client import SERVICE_ID_ANNOTATION, PagerDutyClient
from ._config import ACCOUNT_ANNOTATION, PagerDutyAccount
from ._payloads import ServicePayload, _Payload

#: Services listed at most (PagerDuty refuses offset+limit past 10,000).
MAX_SERVICES = 2000


class _ServicesPage(_Payload):
    services: list[ServicePayload]
    more: bool | None = False


async def mappable_services(client: PagerDutyClient) -> list[MappableService]:
    accounts = client.accounts
    answers = await asyncio.gather(
        *(_account_services(client, a, several=len(accounts) > 1) for a in accounts),
        return_exceptions=True,
    )
    services: list[MappableService] = []
    for account, answer in zip(accounts, answers, strict=True):
        if isinstance(answer, BaseException):
            if not isinstance(answer, Exception):
                raise answer
            if len(accounts) == 1:
                raise answer
            # Mapping to a service of the wrong account would be worse than no list at all.
            raise ProviderError(f"account {account.id}: {answer}") from answer
        services.extend(answer)
    return services


async def _account_services(
    client: PagerDutyClient, account: PagerDutyAccount, *, several: bool
) -> list[MappableService]:
    found: list[ServicePayload] = []
    while len(found) < MAX_SERVICES:
        params = [("time_zone", "UTC"), ("include[]", "integrations"), ("limit", "100")]
        if found:
            params.append(("offset", str(len(found))))
        page = await client._get(account, "/services", params, _ServicesPage)
        found.extend(page.services)
        if not page.more or not page.services:
            break
    return sorted(
        (
            MappableService(
                id=f"{account.id}/{s.id}" if several else s.id,
                name=s.display_name,
                annotation=SERVICE_ID_ANNOTATION,
                value=s.id,
                integration_keys=tuple(
                    i.integration_key for i in s.integrations if i.integration_key
                ),
                url=s.html_url,
                extra=((ACCOUNT_ANNOTATION, account.id),) if several else (),
                group=f"Account {account.id}" if several else "",
            )
            for s in found
        ),
        key=lambda m: m.name.lower(),
    )
