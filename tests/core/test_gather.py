"""Providers with bulk reads are asked once for every entity, and what they say per entity
(found, not known to the vendor, failed) reaches the incident and on-call views as it would
from per-entity reads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from greenroom import (
    OPEN_STATUSES,
    BulkAnswer,
    Capability,
    CoverageCheck,
    Entity,
    Incident,
    IncidentStatus,
    NotFoundError,
    OnCallEntry,
    Person,
    RequestFailedError,
    create_api_factory,
    create_api_ref,
    create_plugin,
)
from greenroom._incidents import open_incidents
from greenroom._oncall import on_call_groups
from greenroom._portal import Portal, build_portal

NOW = datetime.now(UTC)
CATALOG = "\n---\n".join(
    f"apiVersion: backstage.io/v1alpha1\nkind: Component\n"
    f"metadata: {{name: svc-{n}, annotations: {{bulk/service: {service}}}}}\n"
    f"spec: {{type: service, owner: team-{n % 2}}}"
    for n, service in enumerate(["shop", "shop", "search", "ghost"])
)


class BulkFake:
    """Incidents per service; ``ghost`` is a service the vendor does not know."""

    id = "bulk"
    title = "Bulk Pager"
    annotations = ("bulk/service",)
    capabilities = frozenset({Capability.INCIDENTS, Capability.ON_CALL})

    def __init__(self) -> None:
        self.bulk_calls: list[int] = []
        self.per_entity_calls = 0
        self.fail: Exception | None = None
        self.slow = False

    def is_available(self, entity: Entity) -> bool:
        return "bulk/service" in entity.annotations

    def _incidents(self, entity: Entity) -> list[Incident]:
        service = entity.annotations["bulk/service"]
        if service == "ghost":
            raise NotFoundError("Bulk Pager has no service ghost")
        return [
            Incident("bulk", f"{service}-1", f"{service} down", IncidentStatus.TRIGGERED,
                     NOW - timedelta(minutes=len(service)), entity.ref)
        ]

    async def list_incidents(
        self, entity: Entity, *, statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> list[Incident]:
        self.per_entity_calls += 1
        return self._incidents(entity)

    async def on_call(self, entity: Entity) -> list[OnCallEntry]:
        self.per_entity_calls += 1
        return []

    async def _answer(self, entities: Sequence[Entity], read: object) -> BulkAnswer[object]:
        self.bulk_calls.append(len(entities))
        if self.slow:
            await asyncio.sleep(30)
        if self.fail is not None:
            raise self.fail
        found, errors = {}, {}
        for entity in entities:
            try:
                found[entity.ref] = read(entity)  # type: ignore[operator]
            except NotFoundError as exc:
                errors[entity.ref] = exc
        return BulkAnswer(found, errors)

    async def bulk_open_incidents(self, entities: Sequence[Entity]) -> BulkAnswer[object]:
        return await self._answer(entities, self._incidents)

    async def bulk_on_call(self, entities: Sequence[Entity]) -> BulkAnswer[object]:
        def read(entity: Entity) -> list[OnCallEntry]:
            self._incidents(entity)  # the same services are known
            return [OnCallEntry("bulk", Person("Pat"), entity.ref, level=1)]

        return await self._answer(entities, read)

    async def bulk_coverage(self, entities: Sequence[Entity]) -> dict[str, CoverageCheck]:
        return {}


@pytest.fixture
def fake() -> BulkFake:
    return BulkFake()


@pytest.fixture
def portal(tmp_path: Path, fake: BulkFake) -> Portal:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "incidents: {timeoutSeconds: 0.5}\n"
    )
    ref = create_api_ref("plugin.bulk.provider")
    plugin = create_plugin(id="bulk", apis=[create_api_factory(ref, fake)], providers=[ref])
    return build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)


async def test_one_bulk_read_answers_for_every_entity(portal: Portal, fake: BulkFake) -> None:
    rows, failures = await open_incidents(portal)
    assert fake.bulk_calls == [4] and fake.per_entity_calls == 0
    assert [(r.incident.id, sorted(e.name for e in r.entities)) for r in rows] == [
        ("shop-1", ["svc-0", "svc-1"]),
        ("search-1", ["svc-2"]),
    ]
    # The entity the vendor does not know is a catalog problem, named as such.
    [unknown] = failures
    assert unknown.unknown and unknown.entities == ("component:default/svc-3",)
    assert "no service ghost" in unknown.message


async def test_on_call_from_one_bulk_read(portal: Portal, fake: BulkFake) -> None:
    groups, failures = await on_call_groups(portal)
    assert fake.bulk_calls == [4] and fake.per_entity_calls == 0
    assert sorted(e.name for g in groups for e, _ in g.entities) == ["svc-0", "svc-1", "svc-2"]
    assert [f.entities for f in failures] == [("component:default/svc-3",)]


async def test_a_failed_bulk_read_names_every_entity_once(portal: Portal, fake: BulkFake) -> None:
    fake.fail = RequestFailedError(503, ["maintenance"])
    rows, failures = await open_incidents(portal)
    assert rows == []
    [failure] = failures
    assert not failure.unknown and "Request failed with 503" in failure.message
    assert len(failure.entities) == 4


async def test_a_bulk_read_that_does_not_answer_in_time_is_named(
    portal: Portal, fake: BulkFake
) -> None:
    fake.slow = True
    _, failures = await open_incidents(portal)
    assert [(f.message, len(f.entities)) for f in failures] == [
        ("No answer within 0.5 seconds.", 4)
    ]
