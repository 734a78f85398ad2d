"""`PagerDutyProvider`: PagerDuty behind Greenroom's incident provider contract."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from greenroom import (
    OPEN_STATUSES,
    ActionOutcome,
    Capability,
    Change,
    CoverageCheck,
    Entity,
    Identity,
    Incident,
    IncidentDetail,
    IncidentStatus,
    MappableService,
    MissingSettingError,
    Note,
    NotFoundError,
    OnCallEntry,
    Person,
    ProviderError,
    TriggerRequest,
)

from . import _directory, _timeline
from ._client import (
    INTEGRATION_KEY_ANNOTATION,
    SERVICE_ID_ANNOTATION,
    IncidentListing,
    PagerDutyClient,
    dedup_key_for,
)
from ._payloads import ChangeEventPayload, IncidentPayload, OnCallPayload, UserPayload

PROVIDER_ID = "pagerduty"
NO_INTEGRATION_KEY = "Must provide an integration-key to create incidents"


def is_pagerduty_available(entity: Entity) -> bool:
    """True when the entity has a PagerDuty integration key or service id annotation."""
    annotations = entity.annotations
    return bool(
        (annotations.get(INTEGRATION_KEY_ANNOTATION) or "").strip()
        or (annotations.get(SERVICE_ID_ANNOTATION) or "").strip()
    )


class PagerDutyProvider:
    """Incidents, on-call, change events and actions of one entity's PagerDuty service."""

    id = PROVIDER_ID
    title = "PagerDuty"
    capabilities = frozenset(
        {
            Capability.INCIDENTS,
            Capability.ON_CALL,
            Capability.CHANGES,
            Capability.TRIGGER,
            Capability.ACKNOWLEDGE,
            Capability.RESOLVE,
            Capability.HISTORY,
        }
    )
    annotations = (INTEGRATION_KEY_ANNOTATION, SERVICE_ID_ANNOTATION)

    def __init__(self, client: PagerDutyClient) -> None:
        self.client = client

    def is_available(self, entity: Entity) -> bool:
        return is_pagerduty_available(entity)

    # -- reads ---------------------------------------------------------------------------

    async def incident_listing(
        self,
        entity: Entity,
        *,
        statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> tuple[list[Incident], bool]:
        """Incidents newest first, and whether the list was cut at the cap."""
        service = await self.client.service_for_entity(entity)
        account = self.client.account_for_entity(entity)
        listing: IncidentListing = await self.client.incidents_for_service(
            account, service.id, statuses=[str(s) for s in statuses], since=since
        )
        incidents = [self._incident(entity, payload) for payload in listing.incidents]
        incidents.sort(key=lambda i: i.created_at, reverse=True)
        return incidents, listing.truncated

    async def list_incidents(
        self,
        entity: Entity,
        *,
        statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> Sequence[Incident]:
        incidents, _ = await self.incident_listing(entity, statuses=statuses, since=since)
        return incidents

    async def on_call(self, entity: Entity) -> Sequence[OnCallEntry]:
        service = await self.client.service_for_entity(entity)
        account = self.client.account_for_entity(entity)
        oncalls = await self.client.oncalls_for_policy(account, service.escalation_policy.id)
        return on_call_entries(entity, oncalls, service.escalation_policy.display_name)

    async def recent_changes(self, entity: Entity) -> Sequence[Change]:
        service = await self.client.service_for_entity(entity)
        account = self.client.account_for_entity(entity)
        events = await self.client.change_events_for_service(account, service.id)
        changes = [self._change(entity, e) for e in events]
        changes.sort(key=lambda c: c.timestamp, reverse=True)
        return changes

    async def check_coverage(self, entity: Entity) -> CoverageCheck:
        if not self.is_available(entity):
            return CoverageCheck(
                "not-covered",
                f"no {INTEGRATION_KEY_ANNOTATION} or {SERVICE_ID_ANNOTATION} annotation",
                PROVIDER_ID,
            )
        try:
            service = await self.client.service_for_entity(entity)
        except NotFoundError:
            return CoverageCheck(
                "broken", "PagerDuty has no service for this entity's annotation", PROVIDER_ID
            )
        return CoverageCheck("covered", f"PagerDuty service {service.display_name}", PROVIDER_ID)

    # -- actions -------------------------------------------------------------------------

    async def trigger(
        self, entity: Entity, request: TriggerRequest, user: Identity
    ) -> ActionOutcome:
        integration_key = (entity.annotations.get(INTEGRATION_KEY_ANNOTATION) or "").strip()
        if not integration_key:
            raise MissingSettingError(NO_INTEGRATION_KEY)
        summary = request.summary.strip()
        if not summary:
            raise ProviderError("A problem description is required to trigger an incident")
        account = self.client.account_for_entity(entity)
        response = await self.client.trigger_incident(
            account,
            integration_key=integration_key,
            summary=summary,
            user=user.email or user.name,
            entity_url=self.client.entity_url(entity),
            dedup_key=request.dedup_key or dedup_key_for(entity, summary),
        )
        return ActionOutcome(
            f"Alarm successfully triggered by {user.name}", incident_id=response.dedup_key
        )

    async def acknowledge(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        incident = await self._set_status(entity, incident_id, "acknowledged", user)
        return ActionOutcome(f"Incident {incident.number or incident.id} acknowledged", incident.id)

    async def resolve(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        incident = await self._set_status(entity, incident_id, "resolved", user)
        return ActionOutcome(f"Incident {incident.number or incident.id} resolved", incident.id)

    async def _set_status(
        self, entity: Entity, incident_id: str, status: str, user: Identity
    ) -> Incident:
        if not user.email:
            raise MissingSettingError(
                "PagerDuty records who acted by email address (the From header), and you are "
                "signed in without one; sign in with an account that has an email address"
            )
        service = await self.client.service_for_entity(entity)
        account = self.client.account_for_entity(entity)
        # The proxy's token can act on any incident of the account: only act on this
        # entity's own incidents, whatever id a form sends.
        current = await self.client.incident(account, incident_id)
        if current.service is None or current.service.id != service.id:
            raise NotFoundError(f"Incident {incident_id} does not belong to this service")
        updated = await self.client.set_incident_status(account, incident_id, status, user.email)
        return self._incident(entity, updated)

    # -- the portal's mapping page (greenroom.ServiceDirectoryProvider; see _directory.py) ----

    async def mappable_services(self) -> list[MappableService]:
        return await _directory.mappable_services(self.client)

    # -- one incident in full (greenroom.IncidentDetailProvider; see _timeline.py) ----------

    async def incident_detail(self, entity: Entity, incident_id: str) -> IncidentDetail:
        return await _timeline.incident_detail(self, entity, incident_id)

    async def add_note(
        self, entity: Entity, incident_id: str, content: str, user: Identity
    ) -> Note:
        return await _timeline.add_note(self, entity, incident_id, content, user)

    # -- mapping -------------------------------------------------------------------------

    def _incident(self, entity: Entity, payload: IncidentPayload) -> Incident:
        acknowledged_at = max(
            (a.at for a in payload.acknowledgements if a.at is not None), default=None
        )
        return Incident(
            provider=PROVIDER_ID,
            id=payload.id,
            title=payload.title or payload.summary or payload.id,
            status=IncidentStatus(payload.status),
            created_at=payload.created_at,
            entity_ref=entity.ref,
            urgency=payload.urgency,
            acknowledged_at=acknowledged_at,
            resolved_at=payload.resolved_at,
            assignees=tuple(_person(a.assignee) for a in payload.assignments),
            url=payload.html_url,
            number=str(payload.incident_number) if payload.incident_number else None,
            service=payload.service.summary if payload.service else None,
        )

    def _change(self, entity: Entity, payload: ChangeEventPayload) -> Change:
        return Change(
            provider=PROVIDER_ID,
            id=payload.id,
            summary=payload.summary,
            timestamp=payload.timestamp,
            entity_ref=entity.ref,
            url=payload.links[0].href if payload.links else None,
            source=payload.source,
        )


def _person(user: UserPayload) -> Person:
    return Person(
        name=user.display_name, email=user.email, avatar_url=user.avatar_url, url=user.html_url
    )


def on_call_entries(
    entity: Entity, oncalls: Sequence[OnCallPayload], policy_name: str
) -> list[OnCallEntry]:
    """One entry per person, at their lowest escalation level, sorted by level."""
    best: dict[str, OnCallPayload] = {}
    for oncall in oncalls:
        level = oncall.escalation_level if oncall.escalation_level is not None else 10**6
        known = best.get(oncall.user.id)
        if known is None or level < (known.escalation_level or 10**6):
            best[oncall.user.id] = oncall
    ordered = sorted(
        best.values(),
        key=lambda o: (o.escalation_level or 10**6, o.user.display_name.lower()),
    )
    return [
        OnCallEntry(
            provider=PROVIDER_ID,
            person=_person(o.user),
            entity_ref=entity.ref,
            level=o.escalation_level,
            policy=policy_name,
            schedule=o.schedule.summary if o.schedule else None,
            until=o.end,
        )
        for o in ordered
    ]
