"""One Splunk On-Call incident in full against the simulator: transitions as the timeline, the
vendor's notes API (key/value notes) to read and add notes, and every request and answer
checked against the Splunk On-Call swagger with our overlay."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from greenroom import (
    Identity,
    IncidentDetailProvider,
    IncidentStatus,
    NotFoundError,
    ProviderError,
    TriggerRequest,
)

from .test_contract import HEADERS, check_request, check_response, raw_spec, spec  # noqa: F401


async def _open_incident(provider: Any, team_entity: Any, guest: Identity) -> str:
    outcome = await provider.trigger(
        team_entity, TriggerRequest("Disk full", "on db-1", targets=("User:ada.lovelace",)), guest
    )
    assert outcome.incident_id
    return str(outcome.incident_id)


async def test_provider_offers_incident_detail(provider: Any) -> None:
    assert isinstance(provider, IncidentDetailProvider)


async def test_detail_timeline_and_notes(
    provider: Any, team_entity: Any, guest: Identity, simulator: Any
) -> None:
    number = await _open_incident(provider, team_entity, guest)
    await provider.acknowledge(team_entity, number, guest)
    detail = await provider.incident_detail(team_entity, number)
    assert detail.incident.id == number
    assert detail.incident.status is IncidentStatus.ACKNOWLEDGED
    assert [e.kind for e in detail.timeline][:1] == ["acknowledged"]
    assert "triggered" in [e.kind for e in detail.timeline]
    assert detail.notes == () and detail.notes_unavailable is None

    note = await provider.add_note(team_entity, number, "  Cleared /var/log  ", guest)
    assert (note.content, note.author) == ("Cleared /var/log", "Guest")
    posted = simulator.requests("POST", f"/api-public/v1/incidents/{number}/notes")
    assert len(posted) == 1
    body = posted[0][2]
    assert body["display_name"] == "Note by Guest"
    assert body["json_value"]["text"] == "Cleared /var/log"
    detail = await provider.incident_detail(team_entity, number)
    assert [(n.content, n.author) for n in detail.notes] == [("Cleared /var/log", "Guest")]


async def test_resolved_incidents_are_read_one_by_one(
    provider: Any, team_entity: Any, guest: Identity, simulator: Any
) -> None:
    number = await _open_incident(provider, team_entity, guest)
    await provider.resolve(team_entity, number, guest)
    # Gone from the current incidents: the incident is asked for by its number.
    simulator.state.incidents[int(number)].phase = "RESOLVED"
    detail = await provider.incident_detail(team_entity, number)
    assert detail.incident.status is IncidentStatus.RESOLVED


async def test_only_the_entity_s_own_incidents(
    make_provider: Any, provider: Any, team_entity: Any, guest: Identity, simulator: Any
) -> None:
    from .conftest import make_entity

    number = await _open_incident(provider, team_entity, guest)
    other = make_entity("search", {"splunk.com/on-call-team": "search"})
    with pytest.raises(NotFoundError):
        await provider.incident_detail(other, number)
    with pytest.raises(NotFoundError):
        await provider.add_note(other, number, "not mine", guest)
    with pytest.raises(NotFoundError):
        await provider.incident_detail(team_entity, "../1")
    with pytest.raises(ProviderError, match="needs some text"):
        await provider.add_note(team_entity, number, "  ", guest)
    assert simulator.requests("POST", "/api-public/v1/incidents/" + number + "/notes") == []


async def test_requests_and_answers_match_the_spec(
    spec: Any,  # noqa: F811
    provider: Any,
    team_entity: Any,
    guest: Identity,
    simulator: Any,
) -> None:
    number = await _open_incident(provider, team_entity, guest)
    await provider.add_note(team_entity, number, "hello", guest)
    await provider.incident_detail(team_entity, number)
    for method, path, query, body in simulator.state.requests:
        if "/notes" in path or path.rstrip("/").endswith(f"/incidents/{number}"):
            check_request(spec, method, path, query, body)
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as http:
        one = await http.get(f"{simulator.public_url}/v1/incidents/{number}")
        check_response(spec, "GET", "/api-public/v1/incidents/{incidentNumber}", one.json())
        notes = await http.get(f"{simulator.public_url}/v1/incidents/{number}/notes")
        check_response(spec, "GET", "/api-public/v1/incidents/1/notes", notes.json())


@pytest.mark.parametrize("shape", ["object", "array"])
async def test_notes_read_as_documented_and_as_an_array(
    spec: Any,  # noqa: F811
    provider: Any,
    team_entity: Any,
    guest: Identity,
    simulator: Any,
    shape: str,
) -> None:
    """The swagger documents one ``Notes`` object for ``GET .../notes``; the simulator can
    answer that way or with an array. Either is read, and either passes the contract check."""
    simulator.app.state.notes_shape = shape
    number = await _open_incident(provider, team_entity, guest)
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as http:
        empty = await http.get(f"{simulator.public_url}/v1/incidents/{number}/notes")
    assert empty.json() == ({} if shape == "object" else [])
    check_response(spec, "GET", "/api-public/v1/incidents/1/notes", empty.json())
    detail = await provider.incident_detail(team_entity, number)
    assert detail.notes == ()  # an empty object is no note, not a blank one

    await provider.add_note(team_entity, number, "Cleared /var/log", guest)
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as http:
        one = await http.get(f"{simulator.public_url}/v1/incidents/{number}/notes")
    assert isinstance(one.json(), dict if shape == "object" else list)
    check_response(spec, "GET", "/api-public/v1/incidents/1/notes", one.json())
    detail = await provider.incident_detail(team_entity, number)
    assert [(n.content, n.author) for n in detail.notes] == [("Cleared /var/log", "Guest")]
