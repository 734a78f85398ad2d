"""One PagerDuty incident in full against the simulator: log entries as the timeline, notes with
their authors, and adding a note with ``From`` (every request contract-checked by conftest)."""

from __future__ import annotations

from typing import Any

import pytest

from greenroom import (
    Entity,
    Identity,
    IncidentDetailProvider,
    IncidentStatus,
    MissingSettingError,
    NotFoundError,
    ProviderError,
)
from greenroom_pagerduty.simulator import (
    CHECKOUT_INTEGRATION_KEY,
    CHECKOUT_SERVICE_ID,
    PAYMENTS_SERVICE_ID,
)

CHECKOUT = Entity(
    kind="Component",
    name="checkout-api",
    annotations={"pagerduty.com/integration-key": CHECKOUT_INTEGRATION_KEY},
)


def _incident_of(simulator: Any, service_id: str, *, open_: bool = True) -> Any:
    return next(
        i
        for i in simulator.state.incidents.values()
        if i.service_id == service_id and (i.status != "resolved") == open_
    )


async def test_provider_offers_incident_detail(provider: Any) -> None:
    assert isinstance(provider, IncidentDetailProvider)


async def test_detail_has_status_service_assignees_and_timeline(
    provider: Any, simulator: Any
) -> None:
    sim = _incident_of(simulator, CHECKOUT_SERVICE_ID)
    detail = await provider.incident_detail(CHECKOUT, sim.id)
    assert detail.incident.id == sim.id and detail.incident.title == sim.title
    assert detail.incident.status is IncidentStatus(sim.status)
    assert detail.incident.service == "Checkout API"
    assert [p.name for p in detail.incident.assignees] == [
        simulator.state.users[u].name for u in sim.assignee_ids
    ]
    assert detail.timeline and detail.timeline[-1].kind == "triggered"
    assert [e.at for e in detail.timeline] == sorted((e.at for e in detail.timeline), reverse=True)
    assert detail.notes == () and detail.notes_unavailable is None


async def test_adding_a_note_sends_from_and_shows_author_in_notes_and_timeline(
    provider: Any, simulator: Any, user: Identity
) -> None:
    sim = _incident_of(simulator, CHECKOUT_SERVICE_ID)
    note = await provider.add_note(CHECKOUT, sim.id, "  Rolled back release 42.  ", user)
    assert note.content == "Rolled back release 42." and note.author == "Ada Lovelace"
    sent = [r for r in simulator.control.requests if r.method == "POST" and "/notes" in r.path]
    assert len(sent) == 1
    assert sent[0].path == f"/incidents/{sim.id}/notes"
    assert sent[0].headers["from"] == "ada.lovelace@example.com"
    assert sent[0].body == {"note": {"content": "Rolled back release 42."}}
    detail = await provider.incident_detail(CHECKOUT, sim.id)
    assert [(n.content, n.author) for n in detail.notes] == [
        ("Rolled back release 42.", "Ada Lovelace")
    ]
    assert detail.timeline[0].kind == "note" and detail.timeline[0].by == "Ada Lovelace"


async def test_only_the_entity_s_own_incidents(provider: Any, simulator: Any, user: Any) -> None:
    foreign = _incident_of(simulator, PAYMENTS_SERVICE_ID)
    with pytest.raises(NotFoundError):
        await provider.incident_detail(CHECKOUT, foreign.id)
    with pytest.raises(NotFoundError):
        await provider.add_note(CHECKOUT, foreign.id, "not mine", user)
    assert not [r for r in simulator.control.requests if r.method == "POST"]


async def test_bad_notes_are_refused_before_pagerduty_is_called(
    provider: Any, simulator: Any, user: Identity
) -> None:
    sim = _incident_of(simulator, CHECKOUT_SERVICE_ID)
    with pytest.raises(ProviderError, match="needs some text"):
        await provider.add_note(CHECKOUT, sim.id, "   ", user)
    with pytest.raises(ProviderError, match="at most 25000"):
        await provider.add_note(CHECKOUT, sim.id, "x" * 25001, user)
    no_email = Identity(user_id="bot", email=None, display_name="Bot", authenticated=True)
    with pytest.raises(MissingSettingError, match="From header"):
        await provider.add_note(CHECKOUT, sim.id, "hello", no_email)
    assert not [r for r in simulator.control.requests if r.method == "POST"]


async def test_a_failed_note_says_what_pagerduty_said(
    provider: Any, simulator: Any, user: Identity
) -> None:
    sim = _incident_of(simulator, CHECKOUT_SERVICE_ID)
    simulator.control.add_fault(status=500, path_prefix=f"/incidents/{sim.id}/notes", method="POST")
    with pytest.raises(ProviderError, match="Request failed with 500"):
        await provider.add_note(CHECKOUT, sim.id, "hello", user)
    posts = [r for r in simulator.control.requests if r.method == "POST"]
    assert len(posts) == 1  # never retried: a second attempt could add the note twice


async def test_resolved_incident_detail(provider: Any, simulator: Any) -> None:
    sim = _incident_of(simulator, CHECKOUT_SERVICE_ID, open_=False)
    detail = await provider.incident_detail(CHECKOUT, sim.id)
    assert detail.incident.status is IncidentStatus.RESOLVED
    assert "resolved" in [e.kind for e in detail.timeline]
