"""PagerDuty's services for the portal's mapping page (``greenroom.ServiceDirectoryProvider``):
``GET /services`` paged by ``offset`` (100 a page, PagerDuty's maximum) with their integrations,
so the page can suggest entities whose annotations already hold an integration key."""

from __future__ import annotations

from greenroom import MappableService

from ._client import SERVICE_ID_ANNOTATION, PagerDutyClient
from ._payloads import ServicePayload, _Payload

#: Services listed at most (PagerDuty refuses offset+limit past 10,000).
MAX_SERVICES = 2000


class _ServicesPage(_Payload):
    services: list[ServicePayload]
    more: bool | None = False


async def mappable_services(client: PagerDutyClient) -> list[MappableService]:
    account = client.accounts[0]
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
                id=s.id,
                name=s.display_name,
                annotation=SERVICE_ID_ANNOTATION,
                value=s.id,
                integration_keys=tuple(
                    i.integration_key for i in s.integrations if i.integration_key
                ),
                url=s.html_url,
            )
            for s in found
        ),
        key=lambda m: m.name.lower(),
    )
