"""`SplunkOnCallProvider`: teams by name or routing key, slugs not names, acting users, the
REST endpoint path, and the shared incident provider contract."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from greenroom import (
    Capability,
    Entity,
    IncidentStatus,
    MissingSettingError,
    NotFoundError,
    TriggerRequest,
)
from greenroom.testing import IncidentProviderConformance
from greenroom_splunk_on_call import (
    MISSING_USERNAME,
    NO_REST_ENDPOINT,
    SplunkOnCallProvider,
    incident_status,
    is_splunk_on_call_available,
)

PAYMENTS = "team-Pm7xQ2vL9kRt4Ws1"
CHECKOUT = "team-Ck4Rw9Ty1Bn5Md7E"


def test_phases_map_to_normalised_statuses() -> None:
    assert incident_status("UNACKED") is IncidentStatus.TRIGGERED
    assert incident_status("ACKED") is IncidentStatus.ACKNOWLEDGED
    assert incident_status("RESOLVED") is IncidentStatus.RESOLVED


def test_availability_follows_either_annotation(team_entity, routing_entity) -> None:
    assert is_splunk_on_call_available(team_entity)
    assert is_splunk_on_call_available(routing_entity)
    assert not is_splunk_on_call_available(
        Entity(kind="Component", name="x", annotations={"pagerduty.com/service-id": "P1"})
    )


async def test_incidents_belong_to_a_team_by_slug_not_name(provider, team_entity, simulator):
    incidents = await provider.list_incidents(team_entity)
    assert {i.id for i in incidents} == {"141", "142", "143"}
    state = simulator.state
    for incident in incidents:
        sim = state.incidents[int(incident.id)]
        assert PAYMENTS in state.teams_of_policies(sim.paged_policies)
    first = next(i for i in incidents if i.id == "142")
    assert first.status is IncidentStatus.ACKNOWLEDGED
    assert first.acknowledged_at is not None and first.url.endswith("/incident/142/details")
    assert first.created_by == "Prometheus"


async def test_a_routing_key_gives_every_team_it_targets(provider, routing_entity) -> None:
    teams = await provider.teams_for(routing_entity)
    assert [(t.name, t.slug) for t in teams] == [("Checkout", CHECKOUT), ("payments", PAYMENTS)]
    overview = await provider.overview(routing_entity)
    by_team = {v.team.name: {i.id for i in v.incidents} for v in overview.teams}
    assert by_team == {"Checkout": {"143"}, "payments": {"141", "142", "143"}}
    on_call = {v.team.name: [e.person.name for e in v.on_call] for v in overview.teams}
    assert on_call["payments"] == ["Ada Lovelace", "Alan Turing"]
    assert on_call["Checkout"] and on_call["Checkout"][0]


async def test_unknown_team_and_routing_key_name_the_annotation(provider) -> None:
    by_name = Entity(kind="Component", name="x", annotations={"splunk.com/on-call-team": "nope"})
    with pytest.raises(NotFoundError) as raised:
        await provider.list_incidents(by_name)
    assert str(raised.value) == (
        'Splunk On-Call API returned no record of teams associated with the "nope" team name'
    )
    by_key = Entity(
        kind="Component", name="x", annotations={"splunk.com/on-call-routing-key": "zzz"}
    )
    with pytest.raises(NotFoundError) as raised:
        await provider.on_call(by_key)
    assert str(raised.value) == (
        'Splunk On-Call API returned no record of teams associated with the "zzz" routing key'
    )


async def test_history_has_resolve_times(provider, team_entity) -> None:
    history = await provider.list_incidents(
        team_entity, statuses=[IncidentStatus.RESOLVED], since=datetime(2000, 1, 1, tzinfo=UTC)
    )
    assert len(history) >= 8
    assert all(i.resolved_at and i.acknowledged_at for i in history)


async def test_acting_user_is_found_by_email(provider, team_entity, guest, simulator) -> None:
    await provider.acknowledge(team_entity, "141", guest)
    method, path, body = simulator.requests("PATCH")[-1]
    assert (path, body["userName"], body["incidentNames"]) == (
        "/api-public/v1/incidents/ack",
        "guest",
        ["141"],
    )


async def test_configured_username_is_the_fallback(make_provider, team_entity, stranger, simulator):
    provider = make_provider(settings={"username": "ada.lovelace"})
    outcome = await provider.resolve(team_entity, "142", stranger)
    assert outcome.message == "Incident #142 resolved"
    assert simulator.requests("PATCH")[-1][2]["userName"] == "ada.lovelace"
    assert simulator.state.incidents[142].phase == "RESOLVED"


async def test_without_a_username_nothing_is_sent(provider, team_entity, stranger, simulator):
    for action in (provider.acknowledge, provider.resolve):
        with pytest.raises(MissingSettingError) as raised:
            await action(team_entity, "141", stranger)
        assert str(raised.value) == MISSING_USERNAME
    with pytest.raises(MissingSettingError, match=f"^{MISSING_USERNAME}$"):
        await provider.trigger(team_entity, TriggerRequest("x", "y"), stranger)
    assert simulator.requests("PATCH") == [] and simulator.requests("POST") == []


async def test_trigger_pages_the_team_policies_unless_targets_are_chosen(
    provider, team_entity, guest, simulator
) -> None:
    outcome = await provider.trigger(team_entity, TriggerRequest("Disk full", "db1"), guest)
    assert outcome.message == "Alarm successfully triggered"
    body = simulator.requests("POST")[-1][2]
    assert body["targets"] == [
        {"type": "EscalationPolicy", "slug": "pol-Pp1aYm3nT5sQ7uW9"},
        {"type": "EscalationPolicy", "slug": "pol-Pp2bZn4oU6tR8vX0"},
    ]
    assert body["userName"] == "guest"
    await provider.trigger(
        team_entity, TriggerRequest("Again", "db1", targets=("User:alan.turing",)), guest
    )
    assert simulator.requests("POST")[-1][2]["targets"] == [{"type": "User", "slug": "alan.turing"}]
    listed = await provider.list_incidents(team_entity, statuses=[IncidentStatus.TRIGGERED])
    assert {"Disk full", "Again"} <= {i.title for i in listed}


async def test_warning_without_rest_endpoint_is_refused(provider, team_entity, guest, simulator):
    with pytest.raises(MissingSettingError) as raised:
        await provider.trigger(team_entity, TriggerRequest("x", "y", severity="warning"), guest)
    assert str(raised.value).startswith(NO_REST_ENDPOINT)
    assert simulator.requests("POST") == []


async def test_routing_key_entities_use_the_rest_endpoint(
    make_provider, routing_entity, stranger, simulator
) -> None:
    # No username anywhere: the REST endpoint path needs none.
    provider = make_provider(settings={"eventsRestEndpoint": simulator.rest_endpoint})
    request = TriggerRequest(
        "Checkout down",
        "All 5xx",
        severity="warning",
        incident_id="checkout/5xx",
        start_time=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    await provider.trigger(routing_entity, request, stranger)
    method, path, body = simulator.requests(prefix="/integrations")[-1]
    assert path.endswith("/test-rest-key/checkout-web")
    assert body == {
        "message_type": "WARNING",
        "entity_id": "checkout/5xx",
        "entity_display_name": "Checkout down",
        "state_message": "All 5xx",
        "state_start_time": 1714564800,
    }
    incident = simulator.state.open_incident_for_entity("checkout/5xx")
    assert incident is not None
    await provider.acknowledge(routing_entity, str(incident.number), stranger)
    ack = simulator.requests(prefix="/integrations")[-1][2]
    assert ack["message_type"] == "ACKNOWLEDGEMENT" and ack["entity_id"] == "checkout/5xx"
    assert "Stranger" in ack["state_message"]
    await provider.resolve(routing_entity, str(incident.number), stranger)
    assert simulator.requests(prefix="/integrations")[-1][2]["message_type"] == "RECOVERY"
    assert simulator.state.incidents[incident.number].phase == "RESOLVED"
    assert simulator.requests("PATCH") == []


async def test_an_incident_of_another_team_cannot_be_touched(provider, team_entity, guest):
    with pytest.raises(NotFoundError, match="#145 is not one of payments-api's"):
        await provider.acknowledge(team_entity, "145", guest)


class TestSplunkOnCallConformance(IncidentProviderConformance):
    @pytest.fixture
    def entity(self, team_entity):
        return team_entity

    @pytest.fixture
    def missing_entity(self):
        return Entity(
            kind="Component", name="ghost", annotations={"splunk.com/on-call-team": "ghosts"}
        )

    @pytest.fixture
    def unauthorized_provider(self, make_provider):
        return make_provider(headers={"X-VO-Api-Id": "test-api-id", "X-VO-Api-Key": "wrong"})

    @pytest.fixture
    def user(self, guest):
        return guest


def test_capabilities_are_declared() -> None:
    assert Capability.CHANGES not in SplunkOnCallProvider.capabilities
    assert Capability.TRIGGER in SplunkOnCallProvider.capabilities
