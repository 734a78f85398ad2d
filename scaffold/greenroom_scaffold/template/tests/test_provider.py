"""The provider against its simulator over loopback HTTP: Greenroom's conformance suite, and the
behaviours the suite does not cover. Fixtures are in conftest.py."""

from __future__ import annotations

from greenroom import Entity, Identity, IncidentStatus, TriggerRequest
from greenroom.testing import IncidentProviderConformance

from __GR_MODULE__ import __GR_CLASS__Provider


class Test__GR_CLASS__Conformance(IncidentProviderConformance):
    """Runs every check of the incident provider contract."""


async def test_repeated_trigger_with_one_key_opens_one_incident(
    provider: __GR_CLASS__Provider, entity: Entity, user: Identity
) -> None:
    request = TriggerRequest(summary="Queue backlog growing", dedup_key="form-42")
    first = await provider.trigger(entity, request, user)
    again = await provider.trigger(entity, request, user)

    assert first.incident_id == again.incident_id
    titles = [incident.title for incident in await provider.list_incidents(entity)]
    assert titles.count("Queue backlog growing") == 1


async def test_vendor_statuses_are_normalised(
    provider: __GR_CLASS__Provider, entity: Entity
) -> None:
    incidents = await provider.list_incidents(entity, statuses=list(IncidentStatus))

    statuses = {incident.title: incident.status for incident in incidents}
    assert statuses["Checkout latency above 2 seconds"] is IncidentStatus.TRIGGERED
    assert statuses["Payment provider answering 502"] is IncidentStatus.ACKNOWLEDGED
    assert statuses["Disk usage on orders-db above 90%"] is IncidentStatus.RESOLVED
