"""The incident provider contract: one model every provider plugin speaks.

A provider plugin implements :class:`IncidentProvider` and registers it by naming the API that
implements it in ``create_plugin(providers=[...])``. Vendor details (payload shapes, status
names, URLs) stay inside the plugin; the portal only ever sees the records below.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

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
    ``urgency`` is the urgency the person chose (None: as the vendor's service decides).
    """

    summary: str
    details: str = ""
    severity: str = "error"
    dedup_key: str | None = None
    targets: tuple[str, ...] = ()
    incident_id: str | None = None
    start_time: datetime | None = None
    urgency: str | None = None


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


# --- account-wide (bulk) reads ---------------------------------------------------------------

T = TypeVar("T")

#: Per-entity calls in flight at once when a provider has no bulk reads, so one page view does
#: not trip a vendor's rate limit (Splunk On-Call allows about 60 calls a minute per endpoint).
FALLBACK_CONCURRENCY = 8


@dataclass(frozen=True)
class BulkAnswer(Generic[T]):
    """What one bulk read found, per entity ref.

    ``found`` holds an entry (possibly empty) for every entity the provider could answer for;
    ``errors`` says why the others have none (a :class:`NotFoundError` when the vendor does not
    know the entity's annotation). ``note`` tells the reader when the answer is not what it
    seems, e.g. an account-wide list too long to read in full, so the rest was read per entity.
    """

    found: Mapping[str, Sequence[T]] = field(default_factory=dict)
    errors: Mapping[str, BaseException] = field(default_factory=dict)
    note: str = ""


@runtime_checkable
class BulkReads(Protocol):
    """Optional: reads for many entities at once, from the vendor's account-wide lists.

    Implement these when the vendor can list everything in a few paged requests (PagerDuty's
    ``GET /services``, ``GET /incidents``, ``GET /oncalls``; Splunk On-Call's organisation-wide
    endpoints): the portal then asks once per page view, whatever the size of the catalog.
    Without them the portal falls back to the per-entity methods, a few at a time.
    """

    async def bulk_open_incidents(self, entities: Sequence[Entity]) -> BulkAnswer[Incident]:
        """Open incidents of each entity, newest first, as ``list_incidents`` would list them."""
        ...

    async def bulk_on_call(self, entities: Sequence[Entity]) -> BulkAnswer[OnCallEntry]:
        """Who is on call for each entity, as ``on_call`` would list them."""
        ...

    async def bulk_coverage(self, entities: Sequence[Entity]) -> Mapping[str, CoverageCheck]:
        """``check_coverage`` of each entity."""
        ...


def has_bulk_reads(provider: Any) -> bool:
    return isinstance(provider, BulkReads)


async def _per_entity(
    entities: Sequence[Entity],
    call: Callable[[Entity], Awaitable[Any]],
    concurrency: int,
) -> tuple[dict[str, Any], dict[str, BaseException]]:
    limit = asyncio.Semaphore(concurrency)
    found: dict[str, Any] = {}
    errors: dict[str, BaseException] = {}

    async def one(entity: Entity) -> None:
        async with limit:
            try:
                found[entity.ref] = await call(entity)
            except Exception as exc:  # noqa: BLE001 - reported per entity
                errors[entity.ref] = exc

    await asyncio.gather(*(one(e) for e in entities))
    return found, errors


async def read_open_incidents(
    provider: IncidentProvider,
    entities: Sequence[Entity],
    *,
    concurrency: int = FALLBACK_CONCURRENCY,
) -> BulkAnswer[Incident]:
    """Open incidents of ``entities``: one bulk read when the provider has it, else per entity."""
    if has_bulk_reads(provider):
        return await provider.bulk_open_incidents(entities)  # type: ignore[attr-defined, no-any-return]
    found, errors = await _per_entity(
        entities, lambda e: provider.list_incidents(e, statuses=OPEN_STATUSES), concurrency
    )
    return BulkAnswer(found, errors)


async def read_on_call(
    provider: IncidentProvider,
    entities: Sequence[Entity],
    *,
    concurrency: int = FALLBACK_CONCURRENCY,
) -> BulkAnswer[OnCallEntry]:
    """Who is on call for ``entities``: one bulk read when the provider has it, else per entity."""
    if has_bulk_reads(provider):
        return await provider.bulk_on_call(entities)  # type: ignore[attr-defined, no-any-return]
    found, errors = await _per_entity(entities, provider.on_call, concurrency)
    return BulkAnswer(found, errors)


async def read_coverage(
    provider: IncidentProvider,
    entities: Sequence[Entity],
    *,
    concurrency: int = FALLBACK_CONCURRENCY,
) -> BulkAnswer[CoverageCheck]:
    """Coverage of ``entities`` (one check each in ``found``), bulk when the provider can."""
    if has_bulk_reads(provider):
        checks = await provider.bulk_coverage(entities)  # type: ignore[attr-defined]
        return BulkAnswer({ref: [check] for ref, check in checks.items()})
    found, errors = await _per_entity(entities, provider.check_coverage, concurrency)
    return BulkAnswer({ref: [check] for ref, check in found.items()}, errors)


class IndexCache(Generic[T]):
    """Values built from a vendor's account-wide lists, shared by every caller.

    A value is built once (concurrent callers wait for the same build) and reused for ``ttl``
    seconds, the shared read cache's lifetime (``fetch.cacheTtlSeconds``), so a page that asks
    for 2,000 entities parses the account's lists once. A build that fails is not kept. Actions
    call :meth:`invalidate` so that what they changed is read again.
    """

    def __init__(self, ttl: float | Callable[[], float]) -> None:
        self._ttl = ttl
        self._values: dict[Hashable, tuple[float, T]] = {}
        self._building: dict[Hashable, asyncio.Future[T]] = {}
        self._generation = 0
        #: Builds done (tests and benchmarks read it).
        self.builds = 0

    @property
    def ttl(self) -> float:
        return float(self._ttl() if callable(self._ttl) else self._ttl)

    async def get(self, key: Hashable, build: Callable[[], Awaitable[T]]) -> T:
        stored = self._values.get(key)
        if stored is not None and stored[0] > time.monotonic():
            return stored[1]
        pending = self._building.get(key)
        if pending is None:
            # The build runs as a task of its own: a caller that gives up (a card's time
            # budget) must not cancel the read everyone else is waiting for.
            pending = asyncio.ensure_future(self._build(key, build))
            # Retrieve a failure even when every caller has given up, so it is not logged
            # as never retrieved.
            pending.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._building[key] = pending
        return await asyncio.shield(pending)

    async def _build(self, key: Hashable, build: Callable[[], Awaitable[T]]) -> T:
        generation = self._generation
        me = asyncio.current_task()
        try:
            self.builds += 1
            value = await build()
        finally:
            if self._building.get(key) is me:
                del self._building[key]
        # An action invalidated while this build was reading: its answer may predate the
        # change, so hand it to those who asked but do not keep it.
        if self.ttl > 0 and generation == self._generation:
            self._values[key] = (time.monotonic() + self.ttl, value)
        return value

    def invalidate(self, match: Callable[[Hashable], bool] | None = None) -> int:
        """Forget values whose key ``match`` accepts (all of them without ``match``)."""
        self._generation += 1
        for key in [k for k in self._building if match is None or match(k)]:
            del self._building[key]
        stale = [k for k in self._values if match is None or match(k)]
        for key in stale:
            del self._values[key]
        return len(stale)
