"""`PagerDutyProvider`: PagerDuty behind Greenroom's incident provider contract."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from greenroom import (
    OPEN_STATUSES,
    ActionOutcome,
    BulkAnswer,
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
    INCIDENT_CAP,
    INTEGRATION_KEY_ANNOTATION,
    SERVICE_ID_ANNOTATION,
    IncidentListing,
    PagerDutyClient,
    dedup_key_for,
)
from ._config import PagerDutyAccount
from ._index import MAX_OFFSET_PLUS_LIMIT
from ._payloads import ChangeEventPayload, IncidentPayload, OnCallPayload, UserPayload
from ._urgency import URGENCIES, urgency_choosable, urgency_hint

PROVIDER_ID = "pagerduty"
NO_INTEGRATION_KEY = "Must provide an integration-key to create incidents"
#: The Events API v2's severities, most severe first; "error" is the dialog's default.
SEVERITIES = ("critical", "error", "warning", "info")
#: Entities whose records are not in an incomplete index are read this many at a time.
FALLBACK_CONCURRENCY = 8


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
        """Incidents newest first, and whether the list was cut at the cap.

        Open incidents come from the account's open-incident index; history (resolved
        incidents, or a ``since``) is read for the entity's service alone."""
        service = await self.client.service_for_entity(entity)
        account = self.client.account_for_entity(entity)
        wanted = [str(s) for s in statuses]
        listing: IncidentListing | None = None
        if since is None and set(wanted) <= {str(s) for s in OPEN_STATUSES}:
            index = await self.client.indexes.open_incidents(account)
            if index.complete:
                found = [p for p in index.by_service.get(service.id, []) if p.status in wanted]
                listing = IncidentListing(found[:INCIDENT_CAP], len(found) > INCIDENT_CAP)
        if listing is None:
            listing = await self.client.incidents_for_service(
                account, service.id, statuses=wanted, since=since
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
        policy = service.escalation_policy
        index = await self.client.indexes.oncalls(account)
        if index.complete:
            oncalls = index.by_policy.get(policy.id, [])
        else:
            oncalls = await self.client.oncalls_for_policy(account, policy.id)
        return on_call_entries(entity, oncalls, policy.display_name)

    # -- bulk reads: every entity of a page from the same three account-wide lists ---------

    async def bulk_open_incidents(self, entities: Sequence[Entity]) -> BulkAnswer[Incident]:
        return await self._bulk(entities, self.list_incidents, "incidents")

    async def bulk_on_call(self, entities: Sequence[Entity]) -> BulkAnswer[OnCallEntry]:
        return await self._bulk(entities, self.on_call, "oncalls")

    async def bulk_coverage(self, entities: Sequence[Entity]) -> Mapping[str, CoverageCheck]:
        answer = await self._bulk(entities, self._coverage_list, "")
        misconfigured = [e for e in answer.errors.values() if isinstance(e, MissingSettingError)]
        if misconfigured:
            # The portal then checks entity by entity, each with its own reason (an account
            # the config lacks is worth saying, not "did not answer").
            raise misconfigured[0]
        # An entity whose check failed (the vendor is unreachable) is left out: the portal
        # then reports it as annotated but unconfirmed, as it does for check_coverage.
        return {ref: found[0] for ref, found in answer.found.items() if found}

    async def _coverage_list(self, entity: Entity) -> list[CoverageCheck]:
        return [await self.check_coverage(entity)]

    async def _bulk(
        self,
        entities: Sequence[Entity],
        call: Callable[[Entity], Awaitable[Sequence[Any]]],
        index: str,
    ) -> BulkAnswer[Any]:
        mine = [e for e in entities if self.is_available(e)]
        errors: dict[str, BaseException] = {}
        # An entity naming an account the config lacks fails alone, not the whole read.
        account_of: dict[str, PagerDutyAccount] = {}
        for entity in mine:
            try:
                account_of[entity.ref] = self.client.account_for_entity(entity)
            except MissingSettingError as exc:
                errors[entity.ref] = exc
        mine = [e for e in mine if e.ref in account_of]
        accounts = {a.id: a for a in account_of.values()}
        # Build each account's indexes once, up front, before the per-entity lookups.
        warmed = await asyncio.gather(
            *(self._warm(a, index) for a in accounts.values()), return_exceptions=True
        )
        failed = {
            account_id: outcome
            for account_id, outcome in zip(accounts, warmed, strict=True)
            if isinstance(outcome, BaseException)
        }
        notes = [n for n in warmed if isinstance(n, str) and n]
        limit = asyncio.Semaphore(FALLBACK_CONCURRENCY)
        found: dict[str, Sequence[Any]] = {}
        # An account whose lists cannot be read fails its entities once, not once each.
        for entity in mine:
            exc = failed.get(account_of[entity.ref].id)
            if exc is not None:
                errors[entity.ref] = exc
        mine = [e for e in mine if e.ref not in errors]

        async def one(entity: Entity) -> None:
            try:
                found[entity.ref] = await call(entity)
            except Exception as exc:  # noqa: BLE001 - reported per entity
                errors[entity.ref] = exc

        async def limited(entity: Entity) -> None:
            async with limit:
                await one(entity)

        if notes:  # some lists were cut: entities they lack are read one by one, a few at once
            await asyncio.gather(*(limited(e) for e in mine))
        else:  # every answer is in memory: no task per entity
            for entity in mine:
                await one(entity)
        return BulkAnswer(found, errors, " ".join(notes))

    async def _warm(self, account: PagerDutyAccount, index: str) -> str:
        """Read the account's indexes; say when one is too long for PagerDuty's paging."""
        reads: list[Awaitable[Any]] = [self.client.indexes.services(account)]
        if index == "incidents":
            reads.append(self.client.indexes.open_incidents(account))
        elif index == "oncalls":
            reads.append(self.client.indexes.oncalls(account))
        built = await asyncio.gather(*reads)
        cut = [name for name, i in zip(("services", index), built, strict=False) if not i.complete]
        if not cut:
            return ""
        return (
            f"PagerDuty lists at most {MAX_OFFSET_PLUS_LIMIT:,} {' and '.join(cut)} per "
            "request sequence; the rest were read one entity at a time."
        )

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
        if request.severity not in SEVERITIES:
            raise ProviderError(
                f"Severity must be one of {', '.join(SEVERITIES)}, not {request.severity!r}"
            )
        account = self.client.account_for_entity(entity)
        if request.urgency:
            return await self._create_with_urgency(entity, request, summary, user)
        response = await self.client.trigger_incident(
            account,
            integration_key=integration_key,
            summary=summary,
            user=user.email or user.name,
            entity_url=self.client.entity_url(entity),
            dedup_key=request.dedup_key or dedup_key_for(entity, summary),
            severity=request.severity,
            details=request.details.strip(),
        )
        return ActionOutcome(
            f"Alarm successfully triggered by {user.name}", incident_id=response.dedup_key
        )

    async def _create_with_urgency(
        self, entity: Entity, request: TriggerRequest, summary: str, user: Identity
    ) -> ActionOutcome:
        """The Events API cannot choose an urgency: ``POST /incidents`` can, on a service whose
        rule leaves it open (see ``_urgency.py``)."""
        if request.urgency not in URGENCIES:
            raise ProviderError(
                f"Urgency must be one of {', '.join(URGENCIES)}, not {request.urgency!r}"
            )
        if not user.email:
            raise MissingSettingError(
                "PagerDuty records who created an incident by email address (the From "
                "header), and you are signed in without one; leave the urgency to the service"
            )
        service = await self.client.service_for_entity(entity)
        rule = service.incident_urgency_rule
        if not urgency_choosable(rule):
            raise ProviderError(
                f"{service.display_name} sets the urgency itself ({urgency_hint(rule)}); "
                "leave the urgency to the service"
            )
        # POST /incidents has no severity (an event's field): keep it in the details.
        details = "\n\n".join(
            part for part in (request.details.strip(), f"Severity: {request.severity}") if part
        )
        incident = await self.client.create_incident(
            self.client.account_for_entity(entity),
            service_id=service.id,
            title=summary,
            urgency=request.urgency,
            incident_key=request.dedup_key or dedup_key_for(entity, summary),
            details=details,
            from_email=user.email,
        )
        return ActionOutcome(
            f"Incident {incident.incident_number or incident.id} created by {user.name} with "
            f"{incident.urgency or request.urgency} urgency",
            incident_id=incident.id,
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
