"""`SplunkOnCallProvider`: the incident provider contract on top of `SplunkOnCallClient`.

An entity names its Splunk On-Call teams by annotation: `splunk.com/on-call-team` (a team name)
or `splunk.com/on-call-routing-key` (every team the routing key's policies belong to). Incidents
belong to a team when their `pagedTeams` holds the team's slug, never its name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

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

from . import _timeline
from ._client import SplunkOnCallClient, TargetType
from ._models import IncidentPayload, PolicyRef, TeamPayload, UserPayload

PROVIDER_ID = "splunk-on-call"
TEAM_ANNOTATION = "splunk.com/on-call-team"
ROUTING_KEY_ANNOTATION = "splunk.com/on-call-routing-key"

MISSING_USERNAME = "Missing Splunk On-Call username"
NO_REST_ENDPOINT = "No Splunk On-Call REST endpoint available."
ALARM_TRIGGERED = "Alarm successfully triggered"
INCIDENT_TYPES = ("CRITICAL", "WARNING", "INFO")
DEFAULT_PORTAL_URL = "https://portal.victorops.com"

_PHASES = {
    "UNACKED": IncidentStatus.TRIGGERED,
    "ACKED": IncidentStatus.ACKNOWLEDGED,
    "RESOLVED": IncidentStatus.RESOLVED,
}
_SEVERITY_TO_TYPE = {
    "critical": "CRITICAL",
    "error": "CRITICAL",
    "warning": "WARNING",
    "info": "INFO",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ActionPath = Literal["rest", "public"]


def is_splunk_on_call_available(entity: Entity) -> bool:
    """True when the entity names a Splunk On-Call team or routing key."""
    annotations = entity.annotations
    return bool(annotations.get(TEAM_ANNOTATION) or annotations.get(ROUTING_KEY_ANNOTATION))


def incident_status(phase: str) -> IncidentStatus:
    """UNACKED/ACKED/RESOLVED -> triggered/acknowledged/resolved. An unknown phase is open."""
    return _PHASES.get(phase.upper(), IncidentStatus.TRIGGERED)


@dataclass(frozen=True)
class TeamView:
    """One team of an entity, as the card shows it."""

    team: TeamPayload
    incidents: tuple[Incident, ...]
    on_call: tuple[OnCallEntry, ...]
    policies: tuple[PolicyRef, ...]


@dataclass(frozen=True)
class Overview:
    """Everything the card needs for one entity, fetched together."""

    teams: tuple[TeamView, ...]
    users: tuple[UserPayload, ...]


class SplunkOnCallProvider:
    """Splunk On-Call as an incident provider. ``setting(key)`` reads `splunkOnCall.<key>`."""

    id = PROVIDER_ID
    title = "Splunk On-Call"
    capabilities = frozenset(
        {
            Capability.INCIDENTS,
            Capability.ON_CALL,
            Capability.TRIGGER,
            Capability.ACKNOWLEDGE,
            Capability.RESOLVE,
            Capability.HISTORY,
        }
    )
    annotations = (TEAM_ANNOTATION, ROUTING_KEY_ANNOTATION)

    def __init__(
        self, client: SplunkOnCallClient, setting: Callable[[str], Any] = lambda key: None
    ) -> None:
        self.client = client
        self._setting = setting

    # -- settings --------------------------------------------------------------------------

    @property
    def events_rest_endpoint(self) -> str | None:
        value = self._setting("eventsRestEndpoint")
        return str(value) if value else None

    @property
    def portal_url(self) -> str:
        value = self._setting("portalUrl")
        return str(value).rstrip("/") if value else DEFAULT_PORTAL_URL

    @property
    def configured_username(self) -> str | None:
        value = self._setting("username")
        return str(value) if value else None

    def action_path(self, entity: Entity) -> ActionPath:
        """Routing-key entities act through the REST endpoint when one is configured."""
        if entity.annotations.get(ROUTING_KEY_ANNOTATION) and self.events_rest_endpoint:
            return "rest"
        return "public"

    async def acting_username(self, user: Identity) -> str:
        """The person's Splunk On-Call username: found by email, else `splunkOnCall.username`."""
        if user.email:
            try:
                matches = await self.client.get_users(email=user.email)
            except NotFoundError:
                matches = []
            wanted = user.email.strip().lower()
            for candidate in matches:
                if (candidate.email or "").strip().lower() == wanted:
                    return candidate.username
        if self.configured_username:
            return self.configured_username
        raise MissingSettingError(MISSING_USERNAME)

    # -- teams -----------------------------------------------------------------------------

    async def teams_for(self, entity: Entity) -> list[TeamPayload]:
        """The entity's teams, or :class:`NotFoundError` naming the annotation's value."""
        team_name = entity.annotations.get(TEAM_ANNOTATION)
        routing_key = entity.annotations.get(ROUTING_KEY_ANNOTATION)
        if team_name:
            by_name, _ = await self.client.teams_by()
            team = by_name.get(team_name)
            if team is None:
                raise NotFoundError(_no_teams(f'"{team_name}" team name'))
            return [team]
        if routing_key:
            keys, (_, by_slug) = await asyncio.gather(
                self.client.routing_keys_by_key(), self.client.teams_by()
            )
            record = keys.get(routing_key)
            slugs = list(dict.fromkeys(t.team_slug for t in record.targets)) if record else []
            found = [
                by_slug.get(slug) or TeamPayload.model_validate({"name": slug, "slug": slug})
                for slug in slugs
            ]
            if not found:
                raise NotFoundError(_no_teams(f'"{routing_key}" routing key'))
            return found
        raise NotFoundError(
            f"Missing Annotation: add {TEAM_ANNOTATION} or {ROUTING_KEY_ANNOTATION} to the entity"
        )

    async def overview(self, entity: Entity) -> Overview:
        teams, incidents, on_call, users, names, policies = await asyncio.gather(
            self.teams_for(entity),
            self.client.incidents_by_team(),
            self.client.on_call_by_team(),
            self.client.get_users(),
            self.client.users_by_username(),
            self.client.get_escalation_policies(),
        )
        views = []
        for team in teams:
            team_incidents = [
                self._incident(i, entity)
                for i in incidents.get(team.slug, ())
                if incident_status(i.current_phase) is not IncidentStatus.RESOLVED
            ]
            team_incidents.sort(key=lambda i: i.created_at, reverse=True)
            views.append(
                TeamView(
                    team=team,
                    incidents=tuple(team_incidents),
                    on_call=tuple(
                        self._on_call_of(team, on_call.get(team.name, ()), names, entity)
                    ),
                    policies=tuple(
                        info.policy
                        for info in policies
                        if info.team is not None and info.team.slug == team.slug
                    ),
                )
            )
        return Overview(teams=tuple(views), users=tuple(users))

    # -- the portal's mapping page (greenroom.ServiceDirectoryProvider) ----------------------

    async def mappable_services(self) -> list[MappableService]:
        """Every team (``GET /v1/team``), mapped with the team annotation."""
        teams = await self.client.get_teams()
        return sorted(
            (
                MappableService(t.slug, t.name or t.slug, TEAM_ANNOTATION, t.slug)
                for t in teams
                if t.slug
            ),
            key=lambda m: m.name.lower(),
        )

    # -- one incident in full (greenroom.IncidentDetailProvider; see _timeline.py) ----------

    async def incident_detail(self, entity: Entity, incident_id: str) -> IncidentDetail:
        return await _timeline.incident_detail(self, entity, incident_id)

    async def add_note(
        self, entity: Entity, incident_id: str, content: str, user: Identity
    ) -> Note:
        return await _timeline.add_note(self, entity, incident_id, content, user)

    # -- the provider contract -------------------------------------------------------------

    def is_available(self, entity: Entity) -> bool:
        return is_splunk_on_call_available(entity)

    async def list_incidents(
        self,
        entity: Entity,
        *,
        statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> list[Incident]:
        teams, by_team = await asyncio.gather(
            self.teams_for(entity), self.client.incidents_by_team()
        )
        wanted = set(statuses)
        found = []
        seen: set[int] = set()
        for payload in (p for team in teams for p in by_team.get(team.slug, ())):
            if id(payload) in seen:  # an incident that paged two of the entity's teams
                continue
            seen.add(id(payload))
            incident = self._incident(payload, entity)
            if incident.status not in wanted:
                continue
            if since is not None and incident.created_at < since:
                continue
            found.append(incident)
        found.sort(key=lambda i: i.created_at, reverse=True)
        return found

    async def on_call(self, entity: Entity) -> list[OnCallEntry]:
        teams, on_call, names = await asyncio.gather(
            self.teams_for(entity),
            self.client.on_call_by_team(),
            self.client.users_by_username(),
        )
        entries: list[OnCallEntry] = []
        for team in teams:
            entries += self._on_call_of(team, on_call.get(team.name, ()), names, entity)
        return entries

    # -- bulk reads: every entity of a page from the same organisation-wide lists ----------

    async def bulk_open_incidents(self, entities: Sequence[Entity]) -> BulkAnswer[Incident]:
        return await self._bulk(
            entities,
            self.list_incidents,
            [self.client.incidents_by_team(), self.client.teams_by()],
        )

    async def bulk_on_call(self, entities: Sequence[Entity]) -> BulkAnswer[OnCallEntry]:
        return await self._bulk(
            entities,
            self.on_call,
            [
                self.client.on_call_by_team(),
                self.client.users_by_username(),
                self.client.teams_by(),
            ],
        )

    async def bulk_coverage(self, entities: Sequence[Entity]) -> Mapping[str, CoverageCheck]:
        async def check(entity: Entity) -> list[CoverageCheck]:
            return [await self.check_coverage(entity)]

        answer = await self._bulk(entities, check, [self.client.teams_by()])
        # An entity whose check failed (the vendor is unreachable) is left out: the portal
        # then reports it as annotated but unconfirmed, as it does for check_coverage.
        return {ref: found[0] for ref, found in answer.found.items() if found}

    async def _bulk(
        self,
        entities: Sequence[Entity],
        call: Callable[[Entity], Awaitable[Sequence[Any]]],
        lists: Sequence[Awaitable[Any]],
    ) -> BulkAnswer[Any]:
        mine = [e for e in entities if self.is_available(e)]
        if not mine:
            for pending in lists:  # never awaited: close them quietly
                pending.close()  # type: ignore[attr-defined]
            return BulkAnswer()
        try:
            # Read the lists once, up front; if they cannot be read, every entity fails
            # with the same error rather than asking again once each.
            await asyncio.gather(*lists)
        except Exception as exc:  # noqa: BLE001 - reported per entity
            return BulkAnswer({}, {e.ref: exc for e in mine})
        found: dict[str, Sequence[Any]] = {}
        errors: dict[str, BaseException] = {}
        for entity in mine:
            try:
                found[entity.ref] = await call(entity)
            except Exception as exc:  # noqa: BLE001 - reported per entity
                errors[entity.ref] = exc
        return BulkAnswer(found, errors)

    async def recent_changes(self, entity: Entity) -> Sequence[Change]:
        raise NotImplementedError("Splunk On-Call has no change events")

    async def trigger(
        self, entity: Entity, request: TriggerRequest, user: Identity
    ) -> ActionOutcome:
        incident_type = _SEVERITY_TO_TYPE.get(request.severity.lower(), request.severity.upper())
        if incident_type not in INCIDENT_TYPES:
            raise ProviderError(
                f"Unknown incident type {request.severity!r}: "
                f"use one of {', '.join(INCIDENT_TYPES)}"
            )
        if self.action_path(entity) == "rest":
            endpoint = self.events_rest_endpoint
            assert endpoint is not None
            result = await self.client.send_rest_event(
                endpoint,
                entity.annotations[ROUTING_KEY_ANNOTATION],
                message_type=incident_type,  # type: ignore[arg-type]
                entity_id=request.incident_id or request.dedup_key,
                entity_display_name=request.summary,
                state_message=request.details or request.summary,
                state_start_time=int(request.start_time.timestamp())
                if request.start_time
                else None,
            )
            return ActionOutcome(ALARM_TRIGGERED, incident_id=result.entity_id)
        if incident_type != "CRITICAL":
            # The public API opens paging incidents only; WARNING and INFO are REST endpoint
            # message types.
            raise MissingSettingError(
                f"{NO_REST_ENDPOINT} {incident_type} incidents are sent through the REST endpoint "
                f"integration: set splunkOnCall.eventsRestEndpoint and annotate the entity with "
                f"{ROUTING_KEY_ANNOTATION}."
            )
        username = await self.acting_username(user)
        targets = await self._targets(entity, request.targets)
        created = await self.client.trigger_alarm(
            summary=request.summary,
            details=_details(request),
            user_name=username,
            targets=targets,
        )
        return ActionOutcome(ALARM_TRIGGERED, incident_id=created.incident_number)

    async def acknowledge(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        return await self._move(entity, incident_id, user, "ACKED")

    async def resolve(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        return await self._move(entity, incident_id, user, "RESOLVED")

    async def check_coverage(self, entity: Entity) -> CoverageCheck:
        if not self.is_available(entity):
            return CoverageCheck("not-covered", "no Splunk On-Call annotation", PROVIDER_ID)
        try:
            teams = await self.teams_for(entity)
        except NotFoundError as exc:
            return CoverageCheck("broken", str(exc), PROVIDER_ID)
        names = ", ".join(team.name for team in teams)
        return CoverageCheck("covered", f"Splunk On-Call team {names}", PROVIDER_ID)

    # -- internals -------------------------------------------------------------------------

    async def _move(
        self, entity: Entity, incident_id: str, user: Identity, phase: Literal["ACKED", "RESOLVED"]
    ) -> ActionOutcome:
        verb = "acknowledged" if phase == "ACKED" else "resolved"
        # Ask for the name first: with none known, nothing at all is sent.
        path = self.action_path(entity)
        username = await self.acting_username(user) if path == "public" else None
        teams, incidents = await asyncio.gather(self.teams_for(entity), self.client.get_incidents())
        slugs = {team.slug for team in teams}
        incident = next(
            (
                i
                for i in incidents
                if i.incident_number == str(incident_id) and slugs.intersection(i.paged_teams)
            ),
            None,
        )
        if incident is None:
            raise NotFoundError(
                f"Incident #{incident_id} is not one of {entity.name}'s Splunk On-Call incidents"
            )
        if path == "rest":
            endpoint = self.events_rest_endpoint
            assert endpoint is not None
            if not incident.entity_id:
                raise ProviderError(f"Incident #{incident_id} has no entityId to {verb[:-1]} by")
            await self.client.send_rest_event(
                endpoint,
                entity.annotations[ROUTING_KEY_ANNOTATION],
                message_type="ACKNOWLEDGEMENT" if phase == "ACKED" else "RECOVERY",
                entity_id=incident.entity_id,
                # The REST endpoint cannot name who acted; say it in the message instead.
                state_message=f"{verb.capitalize()} by {user.name} from Greenroom",
            )
        else:
            assert username is not None
            move = (
                self.client.acknowledge_incident
                if phase == "ACKED"
                else self.client.resolve_incident
            )
            results = await move(
                user_name=username,
                incident_names=[incident.incident_number],
                message=f"{verb.capitalize()} from Greenroom",
            )
            refused = [r for r in results if not r.cmd_accepted]
            if refused or not results:
                reason = (refused[0].message if refused else "") or "no result returned"
                raise ProviderError(f"Splunk On-Call did not accept the request: {reason}")
        return ActionOutcome(f"Incident #{incident_id} {verb}", incident_id=str(incident_id))

    async def _targets(
        self, entity: Entity, requested: Sequence[str]
    ) -> list[tuple[TargetType, str]]:
        teams, policies = await asyncio.gather(
            self.teams_for(entity), self.client.get_escalation_policies()
        )
        slugs = {team.slug for team in teams}
        team_policies = [
            info.policy.slug for info in policies if info.team and info.team.slug in slugs
        ]
        if not requested:
            if not team_policies:
                raise ProviderError(
                    "The team has no escalation policy to page; choose the users to page instead"
                )
            return [("EscalationPolicy", slug) for slug in team_policies]
        targets: list[tuple[TargetType, str]] = []
        for target in requested:
            kind, _, slug = target.partition(":")
            if kind == "EscalationPolicy" and slug in team_policies:
                targets.append(("EscalationPolicy", slug))
            elif kind == "User" and slug:
                targets.append(("User", slug))
            else:
                raise ProviderError(
                    f"Unknown target {target!r}: choose one of the team's escalation policies "
                    "or a user"
                )
        return targets

    def _incident(self, payload: IncidentPayload, entity: Entity) -> Incident:
        return Incident(
            provider=PROVIDER_ID,
            id=payload.incident_number,
            number=payload.incident_number,
            title=payload.title,
            status=incident_status(payload.current_phase),
            created_at=_aware(payload.start_time) or _EPOCH,
            entity_ref=entity.ref,
            urgency=(payload.entity_state or "").lower() or None,
            acknowledged_at=_aware(payload.transition_time("ACKED")),
            resolved_at=_aware(payload.transition_time("RESOLVED")),
            assignees=tuple(Person(name=u, username=u) for u in payload.paged_users),
            url=payload.incident_link,
            created_by=payload.creator,
            service=payload.service,
        )

    @staticmethod
    def _on_call_of(
        team: TeamPayload,
        on_call: Sequence[Any],
        users: dict[str, UserPayload],
        entity: Entity,
    ) -> list[OnCallEntry]:
        entries: list[OnCallEntry] = []
        seen: set[str] = set()
        for team_on_call in on_call:
            if team_on_call.team.name != team.name:
                continue
            for now in team_on_call.on_call_now:
                for slot in now.users:
                    username = slot.on_call_user.username if slot.on_call_user else ""
                    if not username or username in seen:
                        continue
                    seen.add(username)
                    user = users.get(username)
                    entries.append(
                        OnCallEntry(
                            provider=PROVIDER_ID,
                            person=Person(
                                name=user.name if user else username,
                                email=user.email if user else None,
                                username=username,
                            ),
                            entity_ref=entity.ref,
                            policy=now.escalation_policy.name if now.escalation_policy else None,
                            team=team.name,
                        )
                    )
        return entries


def _no_teams(what: str) -> str:
    return f"Splunk On-Call API returned no record of teams associated with the {what}"


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _details(request: TriggerRequest) -> str:
    """The public API has no fields for the REST endpoint's id and start time: keep them in
    the details so nothing the person typed is lost."""
    lines = [request.details or request.summary]
    if request.incident_id:
        lines.append(f"Incident id: {request.incident_id}")
    if request.start_time:
        lines.append(f"Started at: {request.start_time.astimezone(UTC):%Y-%m-%d %H:%M UTC}")
    return "\n".join(lines)
