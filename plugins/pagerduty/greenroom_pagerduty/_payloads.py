"""PagerDuty REST and Events API payloads, validated at the edge.

Only the fields the plugin reads are modelled; the rest is ignored. PagerDuty sends null
for several fields its OpenAPI description (`REST-openapiv3.json`) says are always present
(`resolved_at`, `resolve_reason`, ...), so most are optional.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Reference(_Payload):
    id: str
    type: str | None = None
    summary: str | None = None
    html_url: str | None = None


class UserPayload(_Payload):
    id: str
    type: str | None = None
    summary: str | None = None
    name: str | None = None
    email: str | None = None
    avatar_url: str | None = None
    html_url: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.summary or self.email or self.id


class IntegrationPayload(_Payload):
    id: str
    type: str | None = None
    integration_key: str | None = None


class EscalationPolicyPayload(_Payload):
    id: str
    name: str | None = None
    summary: str | None = None
    html_url: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.summary or self.id


class SupportHoursUrgency(_Payload):
    type: str | None = None
    urgency: str | None = None


class UrgencyRule(_Payload):
    """A service's ``incident_urgency_rule``: ``constant`` (``urgency`` high, low or
    severity_based) or ``use_support_hours`` (one rule during, one outside)."""

    type: str | None = None
    urgency: str | None = None
    during_support_hours: SupportHoursUrgency | None = None
    outside_support_hours: SupportHoursUrgency | None = None


class ServicePayload(_Payload):
    id: str
    name: str | None = None
    summary: str | None = None
    html_url: str | None = None
    status: str | None = None
    escalation_policy: EscalationPolicyPayload
    integrations: list[IntegrationPayload] = []
    incident_urgency_rule: UrgencyRule | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.summary or self.id


class Assignment(_Payload):
    at: datetime | None = None
    assignee: UserPayload


class Acknowledgement(_Payload):
    at: datetime | None = None
    acknowledger: Reference


class IncidentPayload(_Payload):
    id: str
    title: str | None = None
    summary: str | None = None
    status: str
    urgency: str | None = None
    created_at: datetime
    html_url: str | None = None
    incident_number: int | None = None
    incident_key: str | None = None
    service: Reference | None = None
    assignments: list[Assignment] = []
    acknowledgements: list[Acknowledgement] = []
    resolved_at: datetime | None = None
    last_status_change_at: datetime | None = None


class IncidentsPage(_Payload):
    incidents: list[IncidentPayload]
    more: bool | None = False
    total: int | None = None
    offset: int | None = 0
    limit: int | None = None


class IncidentBody(_Payload):
    incident: IncidentPayload


class ServicesPage(_Payload):
    services: list[ServicePayload]
    more: bool | None = False
    total: int | None = None


class ServiceBody(_Payload):
    service: ServicePayload


class ChangeEventLink(_Payload):
    href: str
    text: str | None = None


class ChangeEventPayload(_Payload):
    id: str
    summary: str
    timestamp: datetime
    source: str | None = None
    links: list[ChangeEventLink] = []


class ChangeEventsPage(_Payload):
    change_events: list[ChangeEventPayload]


class OnCallPayload(_Payload):
    user: UserPayload
    escalation_level: int | None = None
    schedule: Reference | None = None
    escalation_policy: Reference | None = None
    end: datetime | None = None


class OnCallsPage(_Payload):
    oncalls: list[OnCallPayload]
    more: bool | None = False
    total: int | None = None


class EventResponse(_Payload):
    status: str
    message: str | None = None
    dedup_key: str | None = None
