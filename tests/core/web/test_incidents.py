"""`/incidents` and `/oncall` across two providers, through the real web app."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom import (
    OPEN_STATUSES,
    ActionOutcome,
    Capability,
    CoverageCheck,
    Entity,
    Identity,
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
from greenroom._portal import build_portal
from greenroom.web import create_app

NOW = datetime.now(UTC)
SECRET = "s3cret-token-value-123"

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  annotations: {alpha.example.com/service: checkout}
spec: {type: service, lifecycle: production, owner: team-shop}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations: {beta.example.com/team: payments}
spec: {type: service, lifecycle: production, owner: team-pay}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: search
  annotations: {alpha.example.com/service: search, beta.example.com/team: search}
spec: {type: service, lifecycle: production, owner: team-shop}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: wiki}
spec: {type: website, lifecycle: experimental, owner: team-docs}
"""


class FakeProvider:
    """An in-memory provider: incidents and on-call per annotated service."""

    def __init__(
        self,
        id: str,
        title: str,
        annotation: str,
        incidents: dict[str, list[Incident]],
        capabilities: Sequence[Capability] = tuple(Capability),
    ) -> None:
        self.id = id
        self.title = title
        self.annotations = (annotation,)
        self.capabilities = frozenset(capabilities)
        self.incidents = incidents
        self.fail: Exception | None = None
        self.calls: list[tuple[str, str, str, str]] = []

    def _service(self, entity: Entity) -> str:
        return entity.annotations[self.annotations[0]]

    def is_available(self, entity: Entity) -> bool:
        return self.annotations[0] in entity.annotations

    async def list_incidents(
        self, entity: Entity, *, statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> list[Incident]:
        if self.fail is not None:
            raise self.fail
        return [
            replace(i, entity_ref=entity.ref)
            for i in self.incidents.get(self._service(entity), [])
            if i.status in statuses
        ]

    async def on_call(self, entity: Entity) -> list[OnCallEntry]:
        if self.fail is not None:
            raise self.fail
        service = self._service(entity)
        return [
            OnCallEntry(self.id, Person(f"{service} second", None), entity.ref, level=2,
                        policy=f"{service}-policy"),
            OnCallEntry(self.id, Person(f"{service} first", f"{service}@example.com"),
                        entity.ref, level=1, policy=f"{service}-policy",
                        until=NOW + timedelta(hours=5)),
        ]

    async def recent_changes(self, entity: Entity) -> list[object]:
        return []

    async def trigger(self, entity: Entity, request: object, user: Identity) -> ActionOutcome:
        raise NotImplementedError

    async def _move(
        self, action: str, entity: Entity, incident_id: str, user: Identity,
        status: IncidentStatus,
    ) -> ActionOutcome:
        self.calls.append((action, entity.ref, incident_id, user.user_id))
        if self.fail is not None:
            raise self.fail
        found = self.incidents[self._service(entity)]
        for index, incident in enumerate(found):
            if incident.id == incident_id:
                found[index] = replace(incident, status=status)
                return ActionOutcome(f"Incident {incident_id} {status} by {user.name}")
        raise RequestFailedError(404, [f"no incident {incident_id}"])

    async def acknowledge(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        return await self._move("acknowledge", entity, incident_id, user,
                                IncidentStatus.ACKNOWLEDGED)

    async def resolve(self, entity: Entity, incident_id: str, user: Identity) -> ActionOutcome:
        return await self._move("resolve", entity, incident_id, user, IncidentStatus.RESOLVED)

    async def check_coverage(self, entity: Entity) -> CoverageCheck:
        return CoverageCheck("covered", "", self.id)


def incident(provider: str, id: str, title: str, status: IncidentStatus, age_minutes: int,
             urgency: str = "high") -> Incident:
    return Incident(
        provider=provider, id=id, title=title, status=status,
        created_at=NOW - timedelta(minutes=age_minutes), entity_ref="", urgency=urgency,
        url=f"https://{provider}.example.com/incidents/{id}",
    )


@pytest.fixture
def alpha() -> FakeProvider:
    return FakeProvider("alpha", "Alpha Pager", "alpha.example.com/service", {
        "checkout": [
            incident("alpha", "A1", "Checkout latency", IncidentStatus.TRIGGERED, 30),
            incident("alpha", "A2", "Checkout 500s", IncidentStatus.ACKNOWLEDGED, 90),
            incident("alpha", "A0", "Old resolved one", IncidentStatus.RESOLVED, 900),
        ],
        "search": [incident("alpha", "A3", "Search index stale", IncidentStatus.TRIGGERED, 5)],
    })


@pytest.fixture
def beta() -> FakeProvider:
    # Beta can acknowledge but not resolve from the portal.
    return FakeProvider("beta", "Beta On-Call", "beta.example.com/team", {
        "payments": [incident("beta", "B1", "Payouts stuck", IncidentStatus.TRIGGERED, 10, "low")],
    }, capabilities=[Capability.INCIDENTS, Capability.ON_CALL, Capability.ACKNOWLEDGE])


def provider_plugin(provider: FakeProvider) -> object:
    ref = create_api_ref(f"plugin.{provider.id}.provider")
    return create_plugin(id=provider.id, apis=[create_api_factory(ref, provider)],
                         providers=[ref])


@pytest.fixture
def client(tmp_path: Path, alpha: FakeProvider, beta: FakeProvider) -> Iterator[TestClient]:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "proxy:\n  endpoints:\n    /alpha:\n      target: http://127.0.0.1:9\n"
        f"      headers: {{Authorization: 'Token token={SECRET}'}}\n"
        "auth:\n  provider: proxy\n"
        "  proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}\n"
    )
    portal = build_portal(
        [config], plugins=[provider_plugin(alpha), provider_plugin(beta)],
        load_entry_points=False, demo=False,
    )
    # Guests never act: requests come from a trusted proxy naming the user.
    with TestClient(create_app(portal), client=("127.0.0.1", 50000),
                    headers={"X-Forwarded-Email": "tester@example.com"}) as test_client:
        yield test_client


def titles(html: str) -> list[str]:
    return re.findall(r'<li class="list-item incident"[^>]*>.*?<strong>([^<]+)</strong>', html,
                      re.S)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def test_lists_open_incidents_of_both_providers_newest_first(client: TestClient) -> None:
    page = client.get("/incidents")
    assert page.status_code == 200
    # One block per provider, each newest first.
    assert re.findall(r'<section class="incident-block" data-provider="(\w+)"', page.text) == [
        "alpha", "beta",
    ]
    assert titles(page.text) == [
        "Search index stale", "Checkout latency", "Checkout 500s", "Payouts stuck",
    ]
    assert "Old resolved one" not in page.text
    assert 'href="/catalog/default/component/payments"' in page.text
    assert 'href="https://beta.example.com/incidents/B1"' in page.text
    assert "View in Beta On-Call" in page.text


def test_buttons_follow_capabilities_and_status(client: TestClient) -> None:
    page = client.get("/incidents").text
    assert 'action="/incidents/actions/alpha/acknowledge"' in page
    # A1 (triggered) offers both, A2 (acknowledged) only resolve, B1 (beta) only acknowledge.
    rows = dict(re.findall(r'data-incident="(\w+)" data-status="\w+">(.*?)</li>', page, re.S))
    assert "acknowledge" in rows["A1"] and "resolve" in rows["A1"]
    assert "/acknowledge" not in rows["A2"] and "/resolve" in rows["A2"]
    assert "/acknowledge" in rows["B1"] and "/resolve" not in rows["B1"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("provider=beta", ["Payouts stuck"]),
        ("status=acknowledged", ["Checkout 500s"]),
        ("owner=team-shop", ["Search index stale", "Checkout latency", "Checkout 500s"]),
        ("owner=group:default/team-pay", ["Payouts stuck"]),
        ("entity=component:default/checkout", ["Checkout latency", "Checkout 500s"]),
        ("provider=alpha&status=triggered&owner=team-shop", ["Search index stale",
                                                              "Checkout latency"]),
    ],
)
def test_filters_from_the_url(client: TestClient, query: str, expected: list[str]) -> None:
    assert titles(client.get(f"/incidents?{query}").text) == expected


def test_filters_matching_nothing_say_so(client: TestClient) -> None:
    page = client.get("/incidents?owner=team-docs").text
    assert titles(page) == []
    assert "No open incidents match these filters" in page


def test_json_is_typed_and_filtered(client: TestClient) -> None:
    body = client.get("/api/incidents?provider=alpha&status=triggered").json()
    assert [i["id"] for i in body["incidents"]] == ["A3", "A1"]
    first = body["incidents"][0]
    assert first["providerTitle"] == "Alpha Pager"
    assert first["entityUrl"] == "/catalog/default/component/search"
    assert first["actions"] == ["acknowledge", "resolve"]
    assert body["failures"] == []
    assert body["filters"] == {"provider": "alpha", "status": "triggered"}


def test_failing_provider_shows_in_a_banner_and_others_still_show(
    client: TestClient, alpha: FakeProvider
) -> None:
    alpha.fail = RequestFailedError(500, [f"upstream said Token token={SECRET}"])
    page = client.get("/incidents").text
    assert "Alpha Pager failed" in page
    assert "Request failed with 500" in page
    assert titles(page) == ["Payouts stuck"]
    assert SECRET not in page
    body = client.get("/api/incidents").json()
    assert [f["provider"] for f in body["failures"]] == ["alpha"]
    assert SECRET not in str(body)


def test_a_vendor_that_does_not_know_an_entity_is_a_warning_linking_to_coverage(
    client: TestClient, alpha: FakeProvider
) -> None:
    alpha.fail = NotFoundError("No service with id PXYZ")
    page = client.get("/incidents").text
    assert "Alpha Pager does not know 2 entities: component:default/checkout, " in page
    assert '<a href="/coverage?state=broken">See coverage</a>' in page
    assert "Alpha Pager failed" not in page


def test_empty_state(client: TestClient, alpha: FakeProvider, beta: FakeProvider) -> None:
    alpha.incidents.clear()
    beta.incidents.clear()
    assert "No open incidents. Nice!" in client.get("/incidents").text


def test_acknowledge_calls_the_provider_and_returns_to_the_same_filters(
    client: TestClient, alpha: FakeProvider
) -> None:
    page = client.get("/incidents?provider=alpha&owner=team-shop").text
    response = client.post(
        "/incidents/actions/alpha/acknowledge",
        data={"csrf_token": csrf(page), "entity": "component:default/checkout",
              "incident": "A1", "filter_provider": "alpha", "filter_owner": "team-shop"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/incidents?provider=alpha&owner=team-shop"
    assert alpha.calls == [
        ("acknowledge", "component:default/checkout", "A1", "tester@example.com")
    ]
    after = client.get(response.headers["location"]).text
    assert "Incident A1 acknowledged by" in after
    assert re.search(r'data-incident="A1" data-status="acknowledged"', after)


def test_resolve_removes_the_incident(client: TestClient, alpha: FakeProvider) -> None:
    page = client.get("/incidents").text
    client.post(
        "/incidents/actions/alpha/resolve",
        data={"csrf_token": csrf(page), "entity": "component:default/search", "incident": "A3"},
    )
    assert "Search index stale" not in titles(client.get("/incidents").text)


def test_action_error_alerts_and_keeps_filters(client: TestClient, alpha: FakeProvider) -> None:
    alpha.fail = RequestFailedError(503, ["maintenance"])
    page = client.get("/incidents").text
    response = client.post(
        "/incidents/actions/alpha/acknowledge",
        data={"csrf_token": csrf(page), "entity": "component:default/checkout",
              "incident": "A1", "filter_status": "triggered"},
    )
    assert response.status_code == 400
    assert "Could not acknowledge the incident. Request failed with 503, maintenance" in (
        response.text
    )
    assert '<option value="triggered" selected>' in response.text


def test_action_without_csrf_is_refused(client: TestClient, alpha: FakeProvider) -> None:
    client.get("/incidents")
    response = client.post(
        "/incidents/actions/alpha/acknowledge",
        data={"csrf_token": "forged", "entity": "component:default/checkout", "incident": "A1"},
    )
    assert response.status_code == 403
    assert alpha.calls == []


def test_action_the_provider_cannot_do_is_refused(client: TestClient, beta: FakeProvider) -> None:
    page = client.get("/incidents").text
    response = client.post(
        "/incidents/actions/beta/resolve",
        data={"csrf_token": csrf(page), "entity": "component:default/payments", "incident": "B1"},
    )
    assert response.status_code == 400
    assert "Beta On-Call cannot resolve incidents from the portal." in response.text
    assert beta.calls == []


def test_on_call_grouped_by_owner_then_entity(client: TestClient) -> None:
    body = client.get("/api/oncall").json()
    assert [o["owner"] for o in body["owners"]] == ["team-pay", "team-shop"]
    shop = body["owners"][1]["entities"]
    assert [e["ref"] for e in shop] == ["component:default/checkout", "component:default/search"]
    search = shop[1]["onCall"]
    # Both providers cover search; each lists level 1 before level 2.
    assert [(p["provider"], p["level"]) for p in search] == [
        ("alpha", 1), ("beta", 1), ("alpha", 2), ("beta", 2)
    ]
    assert search[0]["email"] == "search@example.com"
    assert search[0]["policy"] == "search-policy"
    page = client.get("/oncall").text
    assert page.index("team-pay") < page.index("team-shop")
    assert "search first" in page and "mailto:search@example.com" in page
    assert "policy search-policy" in page


def test_on_call_failing_provider_banner(client: TestClient, beta: FakeProvider) -> None:
    beta.fail = RequestFailedError(403, ["forbidden"])
    page = client.get("/oncall").text
    assert "Beta On-Call failed" in page
    assert "checkout first" in page


def test_an_incident_paging_two_services_is_listed_once(
    client: TestClient, alpha: FakeProvider
) -> None:
    alpha.incidents["search"].append(alpha.incidents["checkout"][0])
    page = client.get("/incidents").text
    assert titles(page).count("Checkout latency") == 1
    assert 'also <a href="/catalog/default/component/search">' in page
    only_search = client.get("/api/incidents?entity=component:default/search").json()
    assert [i["id"] for i in only_search["incidents"]] == ["A3", "A1"]
    assert only_search["incidents"][1]["alsoEntities"] == ["component:default/search"]
