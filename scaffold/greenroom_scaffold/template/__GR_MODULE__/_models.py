"""Pydantic models of the vendor API's payloads (the edge: validated as they arrive).

Point these at the real vendor's documented shapes; unknown fields are ignored so that a vendor
adding fields does not break the card.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

#: The vendor's own status names. The provider maps them onto Greenroom's three statuses.
VendorStatus = Literal["open", "acked", "closed"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserPayload(_Payload):
    id: str
    name: str
    email: str | None = None
    html_url: str | None = None


class EscalationPolicyPayload(_Payload):
    id: str
    name: str
    html_url: str | None = None


class ServicePayload(_Payload):
    id: str
    name: str
    html_url: str | None = None
    escalation_policy: EscalationPolicyPayload | None = None


class IncidentPayload(_Payload):
    id: str
    number: int
    service_id: str
    title: str
    status: VendorStatus
    urgency: Literal["high", "low"] = "high"
    created_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    html_url: str | None = None
    created_by: str | None = None
    assignee: UserPayload | None = None


class OnCallPayload(_Payload):
    level: int
    user: UserPayload
    until: datetime | None = None


class NewIncidentPayload(_Payload):
    """The body of `POST /v1/services/{id}/incidents`."""

    title: str
    details: str = ""
    urgency: Literal["high", "low"] = "high"
    #: A repeated submit with the same key returns the incident it opened the first time.
    dedup_key: str | None = None
    requester: str


class ActionPayload(_Payload):
    """The body of the acknowledge and resolve calls: who acted."""

    requester: str


class ServiceResponse(_Payload):
    service: ServicePayload


class IncidentResponse(_Payload):
    incident: IncidentPayload


class IncidentsResponse(_Payload):
    incidents: list[IncidentPayload]


class OnCallResponse(_Payload):
    oncall: list[OnCallPayload]


class ErrorResponse(_Payload):
    errors: list[str] = []
