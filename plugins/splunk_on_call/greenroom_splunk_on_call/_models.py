"""Splunk On-Call payloads, read tolerantly.

Real answers differ from the vendor's swagger (`victorops-api-v1.json`): extra fields appear
(`entityState`, `incidentLink`, ...), optional ones go missing, the on-call keys come in two
spellings and `GET /v1/user` nests its list in another list. Every model ignores unknown fields
and defaults what may be absent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class TeamRef(_Payload):
    name: str = ""
    slug: str = ""


class PolicyRef(_Payload):
    name: str = ""
    slug: str = ""


class PagedPolicy(_Payload):
    policy: PolicyRef | None = None
    team: TeamRef | None = None


class Transition(_Payload):
    name: str = ""
    at: datetime | None = None
    by: str | None = None
    message: str | None = None


class IncidentPayload(_Payload):
    incident_number: str = Field(validation_alias="incidentNumber")
    start_time: datetime | None = Field(None, validation_alias="startTime")
    current_phase: str = Field("", validation_alias="currentPhase")
    entity_id: str | None = Field(None, validation_alias="entityId")
    entity_display_name: str | None = Field(None, validation_alias="entityDisplayName")
    entity_state: str | None = Field(None, validation_alias="entityState")
    routing_key: str | None = Field(None, validation_alias="routingKey")
    service: str | None = None
    host: str | None = None
    alert_count: int | None = Field(None, validation_alias="alertCount")
    paged_teams: tuple[str, ...] = Field((), validation_alias="pagedTeams")
    paged_users: tuple[str, ...] = Field((), validation_alias="pagedUsers")
    paged_policies: tuple[PagedPolicy, ...] = Field((), validation_alias="pagedPolicies")
    transitions: tuple[Transition, ...] = ()
    monitor_name: str | None = Field(None, validation_alias="monitorName")
    monitor_type: str | None = Field(None, validation_alias="monitorType")
    incident_link: str | None = Field(None, validation_alias="incidentLink")

    @field_validator("incident_number", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("paged_teams", "paged_users", "paged_policies", "transitions", mode="before")
    @classmethod
    def _null_as_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @property
    def title(self) -> str:
        return self.entity_display_name or self.service or self.entity_id or self.incident_number

    @property
    def creator(self) -> str | None:
        """Who opened it: `vouser-<username>` for manual incidents, else the monitoring tool."""
        name = self.monitor_name
        if name and name.startswith("vouser-"):
            return name.removeprefix("vouser-")
        return name

    def transition_time(self, name: str) -> datetime | None:
        return next((t.at for t in reversed(self.transitions) if t.name == name), None)


class OnCallUserRef(_Payload):
    username: str = ""


class OnCallUser(_Payload):
    # The swagger spells it `onCallUser`; the fixtures of Backstage's Splunk On-Call plugin
    # captured `onCalluser`.
    on_call_user: OnCallUserRef | None = Field(
        None, validation_alias=AliasChoices("onCallUser", "onCalluser")
    )


class OnCallNow(_Payload):
    escalation_policy: PolicyRef | None = Field(None, validation_alias="escalationPolicy")
    users: tuple[OnCallUser, ...] = ()


class TeamOnCall(_Payload):
    team: TeamRef = TeamRef()
    on_call_now: tuple[OnCallNow, ...] = Field(
        (), validation_alias=AliasChoices("onCallNow", "oncallNow")
    )


class OnCallList(_Payload):
    teams_on_call: tuple[TeamOnCall, ...] = Field((), validation_alias="teamsOnCall")


class TeamPayload(_Payload):
    name: str = ""
    slug: str = ""
    member_count: int | None = Field(None, validation_alias="memberCount")
    is_default_team: bool = Field(False, validation_alias="isDefaultTeam")


class RoutingTarget(_Payload):
    policy_name: str = Field("", validation_alias="policyName")
    policy_slug: str = Field("", validation_alias="policySlug")
    team_url: str = Field("", validation_alias="_teamUrl")

    @property
    def team_slug(self) -> str:
        """The team slug is the last path segment of `_teamUrl`."""
        return self.team_url.rstrip("/").rsplit("/", 1)[-1]


class RoutingKeyPayload(_Payload):
    routing_key: str = Field(validation_alias="routingKey")
    targets: tuple[RoutingTarget, ...] = ()
    is_default: bool = Field(False, validation_alias="isDefault")


class RoutingKeyList(_Payload):
    routing_keys: tuple[RoutingKeyPayload, ...] = Field((), validation_alias="routingKeys")


class UserPayload(_Payload):
    username: str
    first_name: str | None = Field(None, validation_alias="firstName")
    last_name: str | None = Field(None, validation_alias="lastName")
    display_name: str | None = Field(None, validation_alias="displayName")
    email: str | None = None

    @property
    def name(self) -> str:
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return self.display_name or full or self.username


class UserList(_Payload):
    users: tuple[UserPayload, ...] = ()

    @field_validator("users", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        # `GET /v1/user` answers `[[user, ...]]` in real clients, `[user, ...]` in the swagger.
        if not isinstance(value, list):
            return value
        flat: list[Any] = []
        for item in value:
            flat.extend(item if isinstance(item, list) else [item])
        return flat


class PolicyInfo(_Payload):
    policy: PolicyRef
    team: TeamRef | None = None


class PolicyList(_Payload):
    policies: tuple[PolicyInfo, ...] = ()


class IncidentList(_Payload):
    incidents: tuple[IncidentPayload, ...] = ()


class CreatedIncident(_Payload):
    incident_number: str | None = Field(None, validation_alias="incidentNumber")
    entity_id: str | None = Field(None, validation_alias="entityId")
    error: str | None = None

    @field_validator("incident_number", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class AckOrResolveResult(_Payload):
    incident_number: str = Field("", validation_alias="incidentNumber")
    entity_id: str | None = Field(None, validation_alias="entityId")
    cmd_accepted: bool = Field(False, validation_alias="cmdAccepted")
    message: str | None = None


class AckOrResolveResponse(_Payload):
    results: tuple[AckOrResolveResult, ...] = ()


class RestEndpointResult(_Payload):
    result: str = ""
    entity_id: str | None = None
    message: str | None = None
