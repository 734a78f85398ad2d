"""A reusable pytest suite proving a provider honours the incident provider contract.

Subclass it in your plugin's tests and provide five fixtures::

    class TestMyProviderConformance(IncidentProviderConformance):
        @pytest.fixture
        def provider(self, simulator_url): ...          # pointed at your live simulator
        @pytest.fixture
        def entity(self): ...                          # covered, with open incidents
        @pytest.fixture
        def missing_entity(self): ...                  # annotated, unknown to the vendor
        @pytest.fixture
        def unauthorized_provider(self, simulator_url): ...  # wrong credentials
        @pytest.fixture
        def user(self): ...                            # an Identity allowed to act

Each check asserts what a person would see go wrong: an acknowledged incident listed as
triggered, an action that does not move the incident, a vendor 401 shown as a generic error.
A provider with bulk reads (:class:`greenroom.BulkReads`) must answer them exactly as its
per-entity reads do: the portal's pages use one, entity cards the other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .._entity import Entity
from .._exceptions import NotFoundError, UnauthorizedError
from .._provider import (
    OPEN_STATUSES,
    BulkReads,
    Capability,
    Incident,
    IncidentProvider,
    IncidentStatus,
    TriggerRequest,
)

# New incidents may take a moment to appear upstream (PagerDuty's Events API is asynchronous).
_APPEAR_ATTEMPTS = 20
_APPEAR_PAUSE = 0.25


async def _find(
    provider: Any, entity: Entity, *, title: str | None = None, incident_id: str | None = None,
    statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
) -> Incident | None:
    for _ in range(_APPEAR_ATTEMPTS):
        for incident in await provider.list_incidents(entity, statuses=statuses):
            if (title is not None and title in incident.title) or (
                incident_id is not None and incident.id == incident_id
            ):
                return incident
        await asyncio.sleep(_APPEAR_PAUSE)
    return None


def _needs(provider: Any, capability: Capability) -> None:
    if capability not in provider.capabilities:
        pytest.skip(f"provider {provider.id} does not declare {capability}")


class IncidentProviderConformance:
    """The contract checks. Fixtures: provider, entity, missing_entity, unauthorized_provider,
    user."""

    async def test_declares_the_contract(self, provider: Any) -> None:
        assert isinstance(provider, IncidentProvider), "provider lacks contract methods"
        assert provider.id, "provider.id must name the provider"
        assert isinstance(provider.capabilities, frozenset)
        assert all(isinstance(c, Capability) for c in provider.capabilities)
        assert provider.annotations, "a provider must say which annotations make it cover"

    async def test_is_available_follows_annotations(self, provider: Any, entity: Entity) -> None:
        assert provider.is_available(entity)
        bare = Entity(kind="Component", name="no-annotations", spec={"owner": "nobody"})
        assert not provider.is_available(bare)

    async def test_open_incidents_are_normalised(self, provider: Any, entity: Entity) -> None:
        _needs(provider, Capability.INCIDENTS)
        incidents = await provider.list_incidents(entity)
        assert incidents, "the conformance entity must have open incidents"
        for incident in incidents:
            assert isinstance(incident, Incident)
            assert incident.provider == provider.id
            assert incident.status in OPEN_STATUSES, f"{incident.id} listed as open"
            assert incident.entity_ref == entity.ref
            assert incident.title
            assert incident.created_at.tzinfo is not None, "timestamps must be timezone-aware"
        created = [i.created_at for i in incidents]
        assert created == sorted(created, reverse=True), "incidents must be newest first"

    async def test_status_filter_is_honoured(self, provider: Any, entity: Entity) -> None:
        _needs(provider, Capability.INCIDENTS)
        for status in OPEN_STATUSES:
            for incident in await provider.list_incidents(entity, statuses=[status]):
                assert incident.status is status, (
                    f"asked for {status}, got {incident.id} as {incident.status}"
                )

    async def test_on_call_lists_people(self, provider: Any, entity: Entity) -> None:
        _needs(provider, Capability.ON_CALL)
        entries = await provider.on_call(entity)
        assert entries, "the conformance entity must have someone on call"
        for entry in entries:
            assert entry.provider == provider.id
            assert entry.person.name
        levels = [e.level for e in entries if e.level is not None]
        assert levels == sorted(levels), "on-call entries must be sorted by escalation level"

    async def test_recent_changes(self, provider: Any, entity: Entity) -> None:
        _needs(provider, Capability.CHANGES)
        changes = await provider.recent_changes(entity)
        for change in changes:
            assert change.provider == provider.id
            assert change.timestamp.tzinfo is not None

    async def test_history_is_resolved_incidents(self, provider: Any, entity: Entity) -> None:
        _needs(provider, Capability.HISTORY)
        since = datetime.now(UTC) - timedelta(days=30)
        history = await provider.list_incidents(
            entity, statuses=[IncidentStatus.RESOLVED], since=since
        )
        for incident in history:
            assert incident.status is IncidentStatus.RESOLVED
            assert incident.resolved_at is not None, f"{incident.id} resolved without a time"

    async def test_trigger_acknowledge_resolve_move_the_incident(
        self, provider: Any, entity: Entity, user: Any
    ) -> None:
        _needs(provider, Capability.TRIGGER)
        title = f"conformance {uuid.uuid4().hex[:12]}"
        await provider.trigger(entity, TriggerRequest(summary=title, details=title), user)
        incident = await _find(provider, entity, title=title)
        assert incident is not None, "a triggered incident must be listed as open"
        assert incident.status is IncidentStatus.TRIGGERED
        if Capability.ACKNOWLEDGE in provider.capabilities:
            await provider.acknowledge(entity, incident.id, user)
            moved = await _find(provider, entity, incident_id=incident.id)
            assert moved is not None
            assert moved.status is IncidentStatus.ACKNOWLEDGED, (
                f"acknowledged incident reported as {moved.status}"
            )
        if Capability.RESOLVE in provider.capabilities:
            await provider.resolve(entity, incident.id, user)
            still_open = [i.id for i in await provider.list_incidents(entity)]
            assert incident.id not in still_open, "a resolved incident must leave the open list"

    async def test_acknowledge_an_existing_incident(
        self, provider: Any, entity: Entity, user: Any
    ) -> None:
        _needs(provider, Capability.ACKNOWLEDGE)
        triggered = await provider.list_incidents(entity, statuses=[IncidentStatus.TRIGGERED])
        if not triggered:
            pytest.skip("no triggered incident to acknowledge")
        await provider.acknowledge(entity, triggered[0].id, user)
        moved = await _find(provider, entity, incident_id=triggered[0].id)
        assert moved is not None and moved.status is IncidentStatus.ACKNOWLEDGED

    async def test_undeclared_capabilities_are_refused(
        self, provider: Any, entity: Entity, user: Any
    ) -> None:
        calls = {
            Capability.ON_CALL: lambda: provider.on_call(entity),
            Capability.CHANGES: lambda: provider.recent_changes(entity),
            Capability.TRIGGER: lambda: provider.trigger(entity, TriggerRequest("x"), user),
        }
        for capability, call in calls.items():
            if capability not in provider.capabilities:
                with pytest.raises(NotImplementedError):
                    await call()

    async def test_unknown_service_is_not_found(
        self, provider: Any, missing_entity: Entity
    ) -> None:
        with pytest.raises(NotFoundError):
            await provider.list_incidents(missing_entity)

    async def test_bad_credentials_are_unauthorized(
        self, unauthorized_provider: Any, entity: Entity
    ) -> None:
        with pytest.raises(UnauthorizedError):
            await unauthorized_provider.list_incidents(entity)

    async def test_coverage_check(
        self, provider: Any, entity: Entity, missing_entity: Entity
    ) -> None:
        assert (await provider.check_coverage(entity)).state == "covered"
        broken = await provider.check_coverage(missing_entity)
        assert broken.state == "broken", "an annotation naming nothing real is broken coverage"
        assert broken.reason

    async def test_bulk_reads_match_per_entity_reads(
        self, provider: Any, entity: Entity, missing_entity: Entity
    ) -> None:
        # A name of its own: narrowing ``provider`` to BulkReads would hide its per-entity reads.
        bulk = provider if isinstance(provider, BulkReads) else None
        if bulk is None:
            pytest.skip(f"provider {provider.id} has no bulk reads (per-entity reads are used)")
        bare = Entity(kind="Component", name="no-annotations", spec={"owner": "nobody"})
        if missing_entity.ref == entity.ref:  # answers are keyed by ref: tell them apart
            missing_entity = dataclasses.replace(missing_entity, name=f"{entity.name}-unknown")
        entities = [entity, missing_entity, bare]
        if Capability.INCIDENTS in provider.capabilities:
            incidents = await bulk.bulk_open_incidents(entities)
            alone = await provider.list_incidents(entity)
            assert [(i.id, i.status) for i in incidents.found.get(entity.ref, ())] == [
                (i.id, i.status) for i in alone
            ], "bulk open incidents differ from list_incidents"
            assert isinstance(incidents.errors.get(missing_entity.ref), NotFoundError), (
                "an entity the vendor does not know must be a NotFoundError in errors"
            )
            assert bare.ref not in incidents.found and bare.ref not in incidents.errors, (
                "an entity the provider is not available for must be left out"
            )
        if Capability.ON_CALL in provider.capabilities:
            on_call = await bulk.bulk_on_call(entities)
            alone_on_call = await provider.on_call(entity)
            assert [(e.person.name, e.level) for e in on_call.found.get(entity.ref, ())] == [
                (e.person.name, e.level) for e in alone_on_call
            ], "bulk on-call differs from on_call"
            assert missing_entity.ref in on_call.errors
        checks = await bulk.bulk_coverage(entities)
        assert checks[entity.ref].state == (await provider.check_coverage(entity)).state
        assert checks[missing_entity.ref].state == "broken", (
            "an annotation the vendor does not know is broken coverage"
        )
        assert bare.ref not in checks
