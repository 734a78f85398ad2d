"""The incident provider contract: one model every provider plugin speaks.

A provider plugin implements :class:`IncidentProvider` and registers it by naming the API that
implements it in ``create_plugin(providers=[...])``. Vendor details (payload shapes, status
names, URLs) stay inside the plugin; the portal only ever sees the records below.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._urls import http_url

if TYPE_CHECKING:
    from ._entity import Entity
    from ._identity import Identity


class IncidentStatus(enum.StrEnum):
    """Normalised incident status. Vendors' own names map onto these three."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    def __str__(self) -> str:
        return self.value


OPEN_STATUSES: tuple[IncidentStatus, ...] = (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED)


class Capability(enum.StrEnum):
    """What a provider can do. Declared explicitly; the conformance kit checks each claim."""

    INCIDENTS = "incidents"
    ON_CALL = "on_call"
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    CHANGES = "changes"
    HISTORY = "history"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Person:
    name: str
    email: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "avatar_url", http_url(self.avatar_url))
        object.__setattr__(self, "url", http_url(self.url))


@dataclass(frozen=True)
class Incident:
    provider: str
    id: str
    title: str
    status: IncidentStatus
    created_at: datetime
    entity_ref: str
    urgency: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    assignees: tuple[Person, ...] = ()
    url: str | None = None
    number: str | None = None
    created_by: str | None = None
    service: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", http_url(self.url))

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED


@dataclass(frozen=True)
class OnCallEntry:
    provider: str
    person: Person
    entity_ref: str
    level: int | None = None
    policy: str | None = None
    schedule: str | None = None
    until: datetime | None = None
    team: str | None = None


@dataclass(frozen=True)
class Change:
    provider: str
    id: str
    summary: str
    timestamp: datetime
    entity_ref: str
    url: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", http_url(self.url))


@dataclass(frozen=True)
class TriggerRequest:
    """What a person asks for when they trigger an incident from the portal.

    ``dedup_key`` makes a repeated submit of the same form open one incident, not two.
    ``targets`` are vendor target ids (users, policies) the provider offered in its dialog.
    """

    summary: str
    details: str = ""
    severity: str = "error"
    dedup_key: str | None = None
    targets: tuple[str, ...] = ()
    incident_id: str | None = None
    start_time: datetime | None = None


@dataclass(frozen=True)
class ActionOutcome:
    """What an action did, in words for the person who asked."""

    message: str
    incident_id: str | None = None


@dataclass(frozen=True)
class CoverageCheck:
    """Whether a provider covers an entity: ``covered``, ``broken`` (annotation present but the
    vendor does not know it) or ``not-covered`` (no annotation)."""

    state: str
    reason: str = ""
    provider: str = ""


@runtime_checkable
class IncidentProvider(Protocol):
    """An incident provider. Methods for capabilities it does not declare may raise
    :class:`NotImplementedError`; the portal never calls them."""

    id: str
    title: str
    capabilities: frozenset[Capability]
    #: Annotation keys that make this provider cover an entity (any one is enough).
    annotations: tuple[str, ...]

    def is_available(self, entity: Entity) -> bool:
        """True when the entity carries an annotation this provider understands."""
        ...

    async def list_incidents(
        self,
        entity: Entity,
        *,
        statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> Sequence[Incident]:
        """Incidents of the entity with one of ``statuses``, newest first."""
        ...

    async def on_call(self, entity: Entity) -> Sequence[OnCallEntry]:
        """Who is on call for the entity now, by escalation level."""
        ...

    async def recent_changes(self, entity: Entity) -> Sequence[Change]:
        """Recent change events of the entity, newest first."""
        ...

    async def trigger(
        self, entity: Entity, request: TriggerRequest, user: Identity
    ) -> ActionOutcome:
        """Open an incident for the entity."""
        ...

    async def acknowledge(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        """Acknowledge one of the entity's incidents, as ``user``."""
        ...

    async def resolve(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        """Resolve one of the entity's incidents, as ``user``."""
        ...

    async def check_coverage(self, entity: Entity) -> CoverageCheck:
        """Ask the vendor whether the entity's annotation names something real."""
        ...


@dataclass(frozen=True)
class ProviderTemplate:
    """Annotation snippet a provider offers to an uncovered entity (used by coverage reminders)."""

    provider: str
    title: str
    snippet: dict[str, str] = field(default_factory=dict)
