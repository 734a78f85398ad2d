"""Incident and on-call aggregation on the portal alone, without a web request (as live updates
and the audit trail use it): one row per vendor incident, failures grouped and scrubbed, and
actions refused with the reason a person should read."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from greenroom import (
    OPEN_STATUSES,
    ActionOutcome,
    Capability,
    Entity,
    Identity,
    Incident,
    IncidentStatus,
    OnCallEntry,
    Person,
    RequestFailedError,
    create_api_factory,
    create_api_ref,
    create_plugin,
)
from greenroom._incidents import Filters, IncidentActionRefused, act_on_incident, open_incidents
from greenroom._oncall import on_call_groups
from greenroom._portal import Portal, build_portal

SECRET = "agg-secret-token-0123456789"
NOW = datetime.now(UTC)
USER = Identity.from_email("Ada@Example.com")

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: checkout, annotations: {fake/service: shop}}
spec: {type: service, owner: group:default/team-shop}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: cart, annotations: {fake/service: shop}}
spec: {type: service, owner: team-shop}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: docs}
spec: {type: website, owner: team-docs}
"""


class Fake:
    id = "fake"
    title = "Fake Pager"
    annotations = ("fake/service",)
    capabilities = frozenset({Capability.INCIDENTS, Capability.ON_CALL, Capability.ACKNOWLEDGE})

    def __init__(self) -> None:
        self.fail: Exception | None = None
        self.slow = False
        self.acted: list[tuple[str, str, str]] = []
        self.incidents = [
            Incident(provider="fake", id="F1", title="Shop down", entity_ref="",
                     status=IncidentStatus.TRIGGERED, created_at=NOW - timedelta(minutes=5)),
            Incident(provider="fake", id="F0", title="Shop slow", entity_ref="",
                     status=IncidentStatus.ACKNOWLEDGED, created_at=NOW - timedelta(hours=1)),
        ]

    def is_available(self, entity: Entity) -> bool:
        if entity.name == "docs":
            raise RuntimeError("predicate bug")  # counts as false, never as a failure
        return "fake/service" in entity.annotations

    async def list_incidents(
        self, entity: Entity, *, statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> list[Incident]:
        if self.slow:
            await asyncio.sleep(30)
        if self.fail is not None:
            raise self.fail
        return [i for i in self.incidents if i.status in statuses]

    async def on_call(self, entity: Entity) -> list[OnCallEntry]:
        return [
            OnCallEntry("fake", Person("Second", None), entity.ref, level=2),
            OnCallEntry("fake", Person("First", "first@example.com"), entity.ref, level=1),
        ]

    async def acknowledge(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        self.acted.append((entity.ref, incident_id, user.user_id))
        if self.fail is not None:
            raise self.fail
        return ActionOutcome(f"{incident_id} acknowledged")

    async def resolve(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        raise AssertionError("never called: the provider cannot resolve")


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def portal(tmp_path: Path, fake: Fake) -> Portal:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "incidents: {timeoutSeconds: 0.5}\n"
        f"proxy:\n  endpoints:\n    /fake:\n      target: http://127.0.0.1:9\n"
        f"      headers: {{Authorization: 'Token token={SECRET}'}}\n"
    )
    ref = create_api_ref("plugin.fake.provider")
    plugin = create_plugin(id="fake", apis=[create_api_factory(ref, fake)], providers=[ref])
    return build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)


async def test_one_row_per_vendor_incident_with_every_entity_it_pages(portal: Portal) -> None:
    rows, failures = await open_incidents(portal)
    assert failures == []
    assert [r.incident.id for r in rows] == ["F1", "F0"]  # newest first
    assert {e.name for e in rows[0].entities} == {"checkout", "cart"}
    assert rows[0].actions == ("acknowledge",)  # triggered, and the provider cannot resolve
    assert rows[1].actions == ()


async def test_owner_filters_compare_owner_references(portal: Portal) -> None:
    rows, _ = await open_incidents(portal)
    for spelled in ("team-shop", "group:team-shop", "group:default/team-shop", "Team-Shop"):
        assert [r.incident.id for r in rows if r.matches(Filters(owner=spelled))] == ["F1", "F0"]
    assert [r for r in rows if r.matches(Filters(owner="team-docs"))] == []


async def test_a_failing_provider_is_one_scrubbed_failure_naming_its_entities(
    portal: Portal, fake: Fake
) -> None:
    fake.fail = RequestFailedError(500, [f"echoed Token token={SECRET}"])
    rows, failures = await open_incidents(portal)
    assert rows == []
    [failure] = failures
    assert failure.entities == ("component:default/cart", "component:default/checkout")
    assert SECRET not in failure.message and "Request failed with 500" in failure.message


async def test_a_provider_that_does_not_answer_in_time_is_named(
    portal: Portal, fake: Fake
) -> None:
    fake.slow = True
    _, failures = await open_incidents(portal)
    assert [f.message for f in failures] == ["No answer within 0.5 seconds."]


async def test_on_call_grouped_by_owner_with_levels_in_order(portal: Portal) -> None:
    groups, failures = await on_call_groups(portal)
    assert failures == []
    assert [g.owner for g in groups] == ["group:default/team-shop", "team-shop"]
    _, entries = groups[0].entities[0]
    assert [e.person.name for e in entries] == ["First", "Second"]


async def test_an_action_reaches_the_provider_as_the_identity(
    portal: Portal, fake: Fake
) -> None:
    outcome = await act_on_incident(
        portal, "fake", "acknowledge", "component:default/checkout", " F1 ", USER
    )
    assert outcome.message == "F1 acknowledged"
    assert fake.acted == [("component:default/checkout", "F1", "ada@example.com")]


@pytest.mark.parametrize(
    ("provider", "action", "entity", "status", "message"),
    [
        ("fake", "delete", "component:default/checkout", 404, "No incident action 'delete'"),
        ("other", "acknowledge", "component:default/checkout", 404, "No enabled incident provider"),
        ("fake", "resolve", "component:default/checkout", 400, "Fake Pager cannot resolve"),
        ("fake", "acknowledge", "component:default/nowhere", 400, "did not name a known entity"),
    ],
)
async def test_actions_that_cannot_happen_are_refused_before_the_vendor(
    portal: Portal, fake: Fake, provider: str, action: str, entity: str, status: int,
    message: str,
) -> None:
    with pytest.raises(IncidentActionRefused) as refused:
        await act_on_incident(portal, provider, action, entity, "F1", USER)
    assert refused.value.status == status and message in refused.value.message
    assert fake.acted == []


async def test_a_vendor_error_is_refused_with_its_scrubbed_message(
    portal: Portal, fake: Fake
) -> None:
    fake.fail = RequestFailedError(503, [f"maintenance, Token token={SECRET}"])
    with pytest.raises(IncidentActionRefused) as refused:
        await act_on_incident(portal, "fake", "acknowledge", "component:default/cart", "F1", USER)
    assert refused.value.status == 400
    assert "Could not acknowledge the incident." in refused.value.message
    assert SECRET not in refused.value.message


def test_filters_read_a_form_with_a_prefix() -> None:
    form: dict[str, Any] = {"filter_owner": " team-a ", "filter_status": "triggered", "x": "y"}
    assert Filters.from_mapping(form, prefix="filter_").as_dict() == {
        "status": "triggered", "owner": "team-a",
    }
