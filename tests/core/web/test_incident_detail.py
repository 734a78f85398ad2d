"""The incident page (`/incidents/<provider>/<id>`) and the resolved view, through the real web
app with an in-memory provider: status, service, assignees, timeline and notes; adding a note
(CSRF-checked, the text kept on failure, the vendor's error scrubbed); links from `/incidents`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom import (
    OPEN_STATUSES,
    Capability,
    Entity,
    Identity,
    Incident,
    IncidentDetail,
    IncidentStatus,
    Note,
    NotFoundError,
    Person,
    RequestFailedError,
    TimelineEntry,
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
  name: search
  annotations: {alpha.example.com/service: search}
spec: {type: service, lifecycle: production, owner: team-shop}
"""
PAGE = "/incidents/alpha/A1?entity=component:default/checkout"


class NotesProvider:
    """Incidents per service, each with a timeline and notes kept in memory."""

    id = "alpha"
    title = "Alpha Pager"
    annotations = ("alpha.example.com/service",)
    capabilities = frozenset(Capability)

    def __init__(self) -> None:
        self.incidents = {
            "checkout": [
                Incident(
                    "alpha",
                    "A1",
                    "Checkout latency",
                    IncidentStatus.TRIGGERED,
                    NOW - timedelta(minutes=30),
                    "",
                    urgency="high",
                    service="Checkout",
                    assignees=(Person("Grace Hopper", "grace@example.com"),),
                    url="https://alpha.example.com/incidents/A1",
                ),
                Incident(
                    "alpha",
                    "A0",
                    "Old one",
                    IncidentStatus.RESOLVED,
                    NOW - timedelta(days=3),
                    "",
                    resolved_at=NOW - timedelta(days=2),
                ),
                Incident(
                    "alpha",
                    "A9",
                    "Ancient",
                    IncidentStatus.RESOLVED,
                    NOW - timedelta(days=60),
                    "",
                    resolved_at=NOW - timedelta(days=59),
                ),
            ],
            "search": [
                Incident(
                    "alpha",
                    "S1",
                    "Index stale",
                    IncidentStatus.TRIGGERED,
                    NOW - timedelta(minutes=5),
                    "",
                )
            ],
        }
        self.notes: dict[str, list[Note]] = {}
        self.fail: Exception | None = None

    def _own(self, entity: Entity, incident_id: str) -> Incident:
        for incident in self.incidents[entity.annotations[self.annotations[0]]]:
            if incident.id == incident_id:
                return replace(incident, entity_ref=entity.ref)
        raise NotFoundError(f"Incident {incident_id} does not belong to this service")

    def is_available(self, entity: Entity) -> bool:
        return self.annotations[0] in entity.annotations

    async def list_incidents(
        self,
        entity: Entity,
        *,
        statuses: Sequence[IncidentStatus] = OPEN_STATUSES,
        since: datetime | None = None,
    ) -> list[Incident]:
        found = self.incidents[entity.annotations[self.annotations[0]]]
        return [
            replace(i, entity_ref=entity.ref)
            for i in found
            if i.status in statuses and (since is None or i.created_at >= since)
        ]

    async def on_call(self, entity: Entity) -> list[object]:
        return []

    async def incident_detail(self, entity: Entity, incident_id: str) -> IncidentDetail:
        incident = self._own(entity, incident_id)
        notes = tuple(self.notes.get(incident_id, []))
        timeline = tuple(
            [
                TimelineEntry(n.created_at or NOW, f"Note added by {n.author}", "note", n.author)
                for n in reversed(notes)
            ]
            + [TimelineEntry(incident.created_at, "Triggered through the API", "triggered")]
        )
        return IncidentDetail(incident, timeline, notes)

    async def add_note(
        self, entity: Entity, incident_id: str, content: str, user: Identity
    ) -> Note:
        self._own(entity, incident_id)
        if self.fail is not None:
            raise self.fail
        note = Note(content.strip(), user.name, datetime.now(UTC))
        self.notes.setdefault(incident_id, []).append(note)
        return note


@pytest.fixture
def alpha() -> NotesProvider:
    return NotesProvider()


@pytest.fixture
def client(tmp_path: Path, alpha: NotesProvider) -> Iterator[TestClient]:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "identity:\n  header: X-Forwarded-Email\n"
        "auth:\n  allowGuests: true\n  proxy: {trustedProxies: [127.0.0.1/32]}\n"
        "proxy:\n  endpoints:\n    /alpha:\n      target: http://127.0.0.1:9\n"
        f"      headers: {{Authorization: 'Token token={SECRET}'}}\n"
    )
    ref = create_api_ref("plugin.alpha.provider")
    plugin = create_plugin(id="alpha", apis=[create_api_factory(ref, alpha)], providers=[ref])
    portal = build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)
    # The identity header counts from trusted proxies only: this client's peer is loopback.
    with TestClient(create_app(portal), client=("127.0.0.1", 50000)) as test_client:
        yield test_client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def test_page_shows_status_service_assignees_timeline_and_vendor_link(client: TestClient) -> None:
    page = client.get(PAGE)
    assert page.status_code == 200
    words = text(page.text)
    assert "Checkout latency" in words and "triggered" in words and "high" in words
    assert "Checkout" in words and "Grace Hopper" in words
    assert "Triggered through the API" in words and "No notes yet." in words
    assert 'href="https://alpha.example.com/incidents/A1"' in page.text


def test_adding_a_note_shows_it_with_its_author(
    client: TestClient, alpha: NotesProvider, caplog: pytest.LogCaptureFixture
) -> None:
    page = client.get(PAGE)
    headers = {"X-Forwarded-Email": "ada@example.com"}
    with caplog.at_level(logging.INFO, logger="greenroom.audit"):
        answer = client.post(
            "/incidents/alpha/A1/notes",
            data={
                "csrf_token": csrf(page.text),
                "entity": "component:default/checkout",
                "note": "Rolled back release 42",
            },
            headers=headers,
        )
    assert answer.status_code == 200  # followed the 303 back to the page
    assert answer.url.path == "/incidents/alpha/A1"
    assert answer.url.params["entity"] == "component:default/checkout"
    words = text(answer.text)
    assert "Note added." in words
    assert "Rolled back release 42" in words and "Note added by ada" in words
    assert [n.content for n in alpha.notes["A1"]] == ["Rolled back release 42"]
    # The audit trail records who added it, where, and what they wrote.
    [entry] = client.get("/api/audit", headers=headers).json()["entries"]
    assert (entry["action"], entry["actor"]["email"], entry["provider"], entry["incident_id"],
            entry["outcome"]) == ("incident.note", "ada@example.com", "alpha", "A1", "succeeded")
    assert entry["entity"] == "component:default/checkout"
    assert "Rolled back release 42" in entry["summary"]


def test_a_note_without_a_valid_form_token_is_refused_and_kept(
    client: TestClient, alpha: NotesProvider
) -> None:
    client.get(PAGE)
    answer = client.post(
        "/incidents/alpha/A1/notes",
        data={"csrf_token": "forged", "entity": "component:default/checkout", "note": "keep me"},
    )
    assert answer.status_code == 403
    assert "keep me</textarea>" in answer.text
    assert alpha.notes == {}


def test_a_failed_note_keeps_the_text_and_never_shows_a_secret(
    client: TestClient, alpha: NotesProvider
) -> None:
    alpha.fail = RequestFailedError(500, [f"upstream echoed Token token={SECRET}"])
    page = client.get(PAGE)
    answer = client.post(
        "/incidents/alpha/A1/notes",
        data={
            "csrf_token": csrf(page.text),
            "entity": "component:default/checkout",
            "note": "my careful words",
        },
        headers={"X-Forwarded-Email": "ada@example.com"},  # guests never act
    )
    assert answer.status_code == 400
    assert "Could not add the note" in answer.text and "my careful words</textarea>" in answer.text
    assert SECRET not in answer.text


def test_another_entity_s_incident_is_not_found(client: TestClient, alpha: NotesProvider) -> None:
    page = client.get("/incidents/alpha/S1?entity=component:default/checkout")
    assert page.status_code == 404 and "does not belong" in page.text
    form = client.get(PAGE)
    answer = client.post(
        "/incidents/alpha/S1/notes",
        data={
            "csrf_token": csrf(form.text),
            "entity": "component:default/checkout",
            "note": "sneaky",
        },
    )
    assert answer.status_code == 404 and "does not belong" in answer.text
    assert alpha.notes == {}


def test_without_entity_the_owner_is_found(client: TestClient) -> None:
    page = client.get("/incidents/alpha/S1")
    assert page.status_code == 200 and "Index stale" in page.text
    assert 'href="/catalog/default/component/search"' in page.text


def test_unknown_provider_or_incident(client: TestClient) -> None:
    assert client.get("/incidents/nope/A1").status_code == 404
    assert client.get("/incidents/alpha/ZZZ").status_code == 404


def test_incidents_list_links_titles_to_their_page(client: TestClient) -> None:
    html = client.get("/incidents").text
    assert 'href="/incidents/alpha/A1?entity=component%3Adefault%2Fcheckout"' in html
    assert 'href="/incidents/resolved"' in html


def test_resolved_view_lists_the_last_30_days(client: TestClient) -> None:
    html = client.get("/incidents/resolved").text
    words = text(html)
    assert "Old one" in words
    assert "Ancient" not in words  # resolved 59 days ago
    assert "Checkout latency" not in words  # still open
    assert 'href="/incidents/alpha/A0?entity=component%3Adefault%2Fcheckout"' in html


def test_a_refused_note_sends_nothing_keeps_the_text_and_is_audited(
    tmp_path: Path, alpha: NotesProvider
) -> None:
    (tmp_path / "catalog-info.yaml").write_text(CATALOG)
    config = tmp_path / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        "auth:\n  provider: proxy\n"
        "  proxy: {header: X-Forwarded-Email, groupsHeader: X-Forwarded-Groups,"
        " trustedProxies: [127.0.0.1/32]}\n"
        "permissions:\n  rules:\n    - {actions: [incident.note], allow: [group:responders]}\n"
    )
    ref = create_api_ref("plugin.alpha.provider")
    plugin = create_plugin(id="alpha", apis=[create_api_factory(ref, alpha)], providers=[ref])
    portal = build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)
    ada = {"X-Forwarded-Email": "ada@example.com"}
    with TestClient(create_app(portal), client=("127.0.0.1", 50000)) as client:
        page = client.get(PAGE, headers=ada)
        # The button is there, disabled, with the rule's reason.
        assert re.search(r'<button[^>]*disabled[^>]*>Add note</button>', page.text)
        assert "You cannot add notes here" in text(page.text) and "responders" in page.text
        answer = client.post(
            "/incidents/alpha/A1/notes", headers=ada,
            data={"csrf_token": csrf(page.text), "entity": "component:default/checkout",
                  "note": "my careful words"},
        )
        assert answer.status_code == 403 and "responders" in answer.text
        assert "my careful words</textarea>" in answer.text
        assert alpha.notes == {}
        [entry] = client.get("/api/audit?action=incident.note", headers=ada).json()["entries"]
        assert (entry["outcome"], entry["incident_id"]) == ("refused", "A1")
        # A responder may.
        responder = {**ada, "X-Forwarded-Groups": "responders"}
        page = client.get(PAGE, headers=responder)
        assert not re.search(r'<button[^>]*disabled[^>]*>Add note</button>', page.text)
        answer = client.post(
            "/incidents/alpha/A1/notes", headers=responder,
            data={"csrf_token": csrf(page.text), "entity": "component:default/checkout",
                  "note": "my careful words"},
        )
        assert answer.status_code == 200 and [n.content for n in alpha.notes["A1"]] == [
            "my careful words"
        ]
