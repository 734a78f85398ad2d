"""The vendor as a Greenroom incident provider: vendor payloads in, Greenroom records out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from greenroom import (
    OPEN_STATUSES,
    ActionOutcome,
    Capability,
    Change,
    CoverageCheck,
    Entity,
    Identity,
    Incident,
    IncidentStatus,
    NotFoundError,
    OnCallEntry,
    Person,
    TriggerRequest,
    create_api_ref,
)

from ._annotations import (
    SERVICE_ANNOTATION,
    is___GR_SNAKE___available,
    service_id_of,
)
from ._client import PLUGIN_ID, TITLE, __GR_CLASS__Api
from ._models import IncidentPayload, NewIncidentPayload, UserPayload, VendorStatus

_STATUS: dict[VendorStatus, IncidentStatus] = {
    "open": IncidentStatus.TRIGGERED,
    "acked": IncidentStatus.ACKNOWLEDGED,
    "closed": IncidentStatus.RESOLVED,
}
_VENDOR_STATUS: dict[IncidentStatus, VendorStatus] = {
    ours: theirs for theirs, ours in _STATUS.items()
}
# Greenroom's trigger severities (PagerDuty's Events API set) onto the vendor's two urgencies.
_URGENCY: dict[str, Literal["high", "low"]] = {
    "critical": "high",
    "error": "high",
    "warning": "low",
    "info": "low",
}


class __GR_CLASS__Provider:
    """Incidents and on-call of the __GR_TITLE__ service named by an entity's annotation."""

    id = PLUGIN_ID
    title = TITLE
    # Declared honestly: the conformance suite checks each claim against the vendor.
    capabilities = frozenset(
        {
            Capability.INCIDENTS,
            Capability.ON_CALL,
            Capability.TRIGGER,
            Capability.ACKNOWLEDGE,
            Capability.RESOLVE,
        }
    )
    annotations = (SERVICE_ANNOTATION,)

    def __init__(self, api: __GR_CLASS__Api) -> None:
        self.api = api

    def is_available(self, entity: Entity) -> bool:
        return is___GR_SNAKE___available(entity)

    async def list_incidents(
        self,
        entity: Entity,
        *,
        statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> Sequence[Incident]:
        service_id = _require_service_id(entity)
        vendor_statuses = [_VENDOR_STATUS[IncidentStatus(status)] for status in statuses]
        payloads = await self.api.incidents(service_id, vendor_statuses)
        incidents = [
            _incident(entity, payload)
            for payload in payloads
            if since is None or payload.created_at >= since
        ]
        return sorted(incidents, key=lambda incident: incident.created_at, reverse=True)

    async def on_call(self, entity: Entity) -> Sequence[OnCallEntry]:
        service_id = _require_service_id(entity)
        entries = await self.api.on_call(service_id)
        return [
            OnCallEntry(
                provider=PLUGIN_ID,
                person=_person(entry.user),
                entity_ref=entity.ref,
                level=entry.level,
                until=entry.until,
            )
            for entry in sorted(entries, key=lambda entry: entry.level)
        ]

    async def recent_changes(self, entity: Entity) -> Sequence[Change]:
        raise NotImplementedError(f"{TITLE} does not report change events")

    async def trigger(
        self, entity: Entity, request: TriggerRequest, user: Identity
    ) -> ActionOutcome:
        service_id = _require_service_id(entity)
        incident = await self.api.create_incident(
            service_id,
            NewIncidentPayload(
                title=request.summary,
                details=request.details,
                urgency=_URGENCY.get(request.severity, "high"),
                dedup_key=request.dedup_key,
                requester=_requester(user),
            ),
        )
        return ActionOutcome(
            f"Alarm successfully triggered by {user.name}", incident_id=incident.id
        )

    async def acknowledge(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        service_id = _require_service_id(entity)
        incident = await self.api.acknowledge(service_id, incident_id, _requester(user))
        return ActionOutcome(f"Incident #{incident.number} acknowledged", incident_id=incident.id)

    async def resolve(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        service_id = _require_service_id(entity)
        incident = await self.api.resolve(service_id, incident_id, _requester(user))
        return ActionOutcome(f"Incident #{incident.number} resolved", incident_id=incident.id)

    async def check_coverage(self, entity: Entity) -> CoverageCheck:
        service_id = service_id_of(entity)
        if service_id is None:
            return CoverageCheck("not-covered", f"no {SERVICE_ANNOTATION} annotation", PLUGIN_ID)
        try:
            await self.api.service(service_id)
        except NotFoundError:
            return CoverageCheck(
                "broken", f"{TITLE} has no service {service_id!r}", PLUGIN_ID
            )
        return CoverageCheck("covered", "", PLUGIN_ID)


__GR_SNAKE___provider_ref = create_api_ref(
    f"plugin.{PLUGIN_ID}.provider",
    description="__GR_TITLE__ as an incident provider",
    type=__GR_CLASS__Provider,
)


def _require_service_id(entity: Entity) -> str:
    service_id = service_id_of(entity)
    if service_id is None:
        raise NotFoundError(f"{entity.ref} has no {SERVICE_ANNOTATION} annotation")
    return service_id


def _requester(user: Identity) -> str:
    return user.email or user.user_id


def _person(user: UserPayload) -> Person:
    return Person(name=user.name, email=user.email, username=user.id, url=user.html_url)


def _incident(entity: Entity, payload: IncidentPayload) -> Incident:
    return Incident(
        provider=PLUGIN_ID,
        id=payload.id,
        title=payload.title,
        status=_STATUS[payload.status],
        created_at=payload.created_at,
        entity_ref=entity.ref,
        urgency=payload.urgency,
        acknowledged_at=payload.acknowledged_at,
        resolved_at=payload.resolved_at,
        assignees=(_person(payload.assignee),) if payload.assignee else (),
        url=payload.html_url,
        number=str(payload.number),
        created_by=payload.created_by,
        service=payload.service_id,
    )
