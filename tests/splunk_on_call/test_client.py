"""`SplunkOnCallClient`: the exact requests of Backstage's Splunk On-Call client through the
proxy route, the 403 handling, and tolerance of real payloads."""

from __future__ import annotations

import json

import httpx
import pytest

from greenroom import FetchApi, ProviderError, RequestFailedError, UnauthorizedError
from greenroom_splunk_on_call import MISSING_KEYS, SplunkOnCallClient
from greenroom_splunk_on_call.simulator import Fault

PROXY_BASE = "http://portal.test:7007/api/proxy"


@pytest.fixture
def client(simulator, make_fetch) -> SplunkOnCallClient:
    return SplunkOnCallClient(make_fetch(simulator.public_url), PROXY_BASE)


async def test_reads_hit_the_documented_paths_with_the_proxy_credentials(client, simulator) -> None:
    assert await client.get_incidents()
    assert await client.get_on_call_users()
    assert [t.name for t in await client.get_teams()][0] == "payments"
    assert await client.get_routing_keys()
    assert await client.get_users()
    assert await client.get_escalation_policies()
    paths = [p for _m, p, _b in simulator.requests("GET")]
    assert paths == [
        "/api-public/v1/incidents",
        "/api-public/v1/oncall/current",
        "/api-public/v1/team",
        "/api-public/v1/org/routing-keys",
        "/api-public/v2/user",
        "/api-public/v1/policies",
    ]


async def test_users_are_looked_up_by_email(client, simulator) -> None:
    users = await client.get_users(email="guest@example.com")
    assert [u.username for u in users] == ["guest"]
    assert simulator.state.requests[-1][:3] == (
        "GET",
        "/api-public/v2/user",
        "email=guest@example.com",
    )


async def test_actions_send_the_documented_bodies(client, simulator) -> None:
    created = await client.trigger_alarm(
        summary="Disk full",
        details="db-1 at 99%",
        user_name="guest",
        targets=[("EscalationPolicy", "pol-Pp1aYm3nT5sQ7uW9"), ("User", "ada.lovelace")],
    )
    assert created.incident_number and created.entity_id
    acked = await client.acknowledge_incident(
        user_name="guest", incident_names=[created.incident_number], message="looking"
    )
    assert acked[0].cmd_accepted
    resolved = await client.resolve_incident(
        user_name="guest", incident_names=[created.incident_number]
    )
    assert resolved[0].cmd_accepted
    sent = simulator.requests(prefix="/api-public/v1/incidents")
    assert sent == [
        (
            "POST",
            "/api-public/v1/incidents",
            {
                "summary": "Disk full",
                "details": "db-1 at 99%",
                "userName": "guest",
                "targets": [
                    {"type": "EscalationPolicy", "slug": "pol-Pp1aYm3nT5sQ7uW9"},
                    {"type": "User", "slug": "ada.lovelace"},
                ],
                "isMultiResponder": False,
            },
        ),
        (
            "PATCH",
            "/api-public/v1/incidents/ack",
            {"userName": "guest", "incidentNames": [created.incident_number], "message": "looking"},
        ),
        (
            "PATCH",
            "/api-public/v1/incidents/resolve",
            {"userName": "guest", "incidentNames": [created.incident_number]},
        ),
    ]


async def test_an_action_makes_the_next_read_fresh(client) -> None:
    before = {i.incident_number: i.current_phase for i in await client.get_incidents()}
    assert before["141"] == "UNACKED"
    await client.acknowledge_incident(user_name="guest", incident_names=["141"])
    after = {i.incident_number: i.current_phase for i in await client.get_incidents()}
    assert after["141"] == "ACKED"


async def test_rest_endpoint_events(client, simulator) -> None:
    result = await client.send_rest_event(
        simulator.rest_endpoint,
        "search",
        message_type="CRITICAL",
        entity_id="disk/db1",
        entity_display_name="Disk full on db1",
        state_message="99%",
        state_start_time=1_700_000_000,
    )
    assert result.entity_id == "disk/db1"
    method, path, body = simulator.requests(prefix="/integrations")[-1]
    assert (method, path) == ("POST", "/integrations/generic/20131114/alert/test-rest-key/search")
    assert body == {
        "message_type": "CRITICAL",
        "entity_id": "disk/db1",
        "entity_display_name": "Disk full on db1",
        "state_message": "99%",
        "state_start_time": 1_700_000_000,
    }


async def test_rest_endpoint_failure_names_the_reason_but_not_the_url(client, simulator) -> None:
    wrong = simulator.rest_endpoint.replace("test-rest-key", "secret-wrong-key")
    with pytest.raises(RequestFailedError) as raised:
        await client.send_rest_event(wrong, "search", message_type="INFO")
    assert str(raised.value) == "Request failed with 403, Invalid API key"
    assert "secret-wrong-key" not in str(raised.value)


async def test_403_means_missing_or_invalid_keys(simulator, make_fetch) -> None:
    bad = SplunkOnCallClient(
        make_fetch(simulator.public_url, {"X-VO-Api-Id": "test-api-id", "X-VO-Api-Key": "nope"}),
        PROXY_BASE,
    )
    with pytest.raises(UnauthorizedError) as raised:
        await bad.get_teams()
    assert str(raised.value) == MISSING_KEYS
    assert "nope" not in str(raised.value)


async def test_rate_limit_403_is_reported_like_bad_keys(start_simulator, make_fetch) -> None:
    sim = start_simulator(rate_limit_per_minute=1)
    client = SplunkOnCallClient(make_fetch(sim.public_url), PROXY_BASE)
    await client.get_teams()
    client.fetch.clear()  # a second read, not the cached first one
    client.lists.invalidate()
    with pytest.raises(UnauthorizedError, match="Missing or invalid Splunk On-Call API key"):
        await client.get_teams()


async def test_other_failures_carry_status_and_messages(client, simulator) -> None:
    simulator.state.faults.append(Fault(path="/api-public/v1/incidents", status=500))
    with pytest.raises(RequestFailedError) as raised:
        await client.get_incidents()
    assert str(raised.value) == "Request failed with 500, Injected failure"


async def test_malformed_bodies_are_a_clear_error(client, simulator) -> None:
    simulator.state.faults.append(Fault(path="/api-public/v1/incidents", malformed=True))
    with pytest.raises(ProviderError, match="GET /v1/incidents with a body that is not valid JSON"):
        await client.get_incidents()


def _canned(routes: dict[str, object]) -> SplunkOnCallClient:
    """A client whose upstream answers fixed bodies: payload shapes real servers send."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/proxy/splunk-on-call")
        body = routes[path]
        if isinstance(body, tuple):
            return httpx.Response(body[0], content=json.dumps(body[1]))
        return httpx.Response(200, content=json.dumps(body))

    return SplunkOnCallClient(FetchApi(transport=httpx.MockTransport(handler)), PROXY_BASE)


async def test_both_on_call_spellings_are_read() -> None:
    fixture = {
        "teamsOnCall": [
            {
                "team": {"name": "My Team", "slug": "team-1"},
                "oncallNow": [{"users": [{"onCalluser": {"username": "johndoe"}}]}],
            },
            {
                "team": {"name": "Other", "slug": "team-2"},
                "onCallNow": [{"users": [{"onCallUser": {"username": "janedoe"}}]}],
            },
        ]
    }
    teams = await _canned({"/v1/oncall/current": fixture}).get_on_call_users()
    users = [u.on_call_user.username for t in teams for n in t.on_call_now for u in n.users]
    assert users == ["johndoe", "janedoe"]


async def test_nested_user_lists_and_flat_ones_are_read() -> None:
    user = {"username": "go_testuser", "firstName": "test", "lastName": "user"}
    nested = await _canned({"/v2/user": {"users": [[user]]}}).get_users()
    flat = await _canned({"/v2/user": {"users": [user]}}).get_users()
    assert [u.name for u in nested] == [u.name for u in flat] == ["test user"]


async def test_missing_optional_and_unknown_extra_fields_are_tolerated() -> None:
    minimal = {"incidents": [{"incidentNumber": 7, "brandNewField": {"x": 1}, "pagedTeams": None}]}
    incidents = await _canned({"/v1/incidents": minimal}).get_incidents()
    assert incidents[0].incident_number == "7"
    assert incidents[0].paged_teams == ()
    assert incidents[0].title == "7"


async def test_both_error_body_shapes_are_read() -> None:
    one = _canned({"/v1/team": (400, {"error": "User name go_testuser is unavailable"})})
    with pytest.raises(RequestFailedError, match="^Request failed with 400, User name go_"):
        await one.get_teams()
    many = _canned({"/v1/team": (500, {"errors": ["Not valid request", "internal error"]})})
    with pytest.raises(RequestFailedError) as raised:
        await many.get_teams()
    assert str(raised.value) == "Request failed with 500, Not valid request internal error"


async def test_reference_samples_parse(reference) -> None:
    folder = reference("samples", "splunk_on_call")
    for name in (
        "GET_v1_incidents.200.go-victorops-test.json",
        "GET_v1_incidents.200.pauldenver-test.json",
    ):
        body = json.loads((folder / name).read_text())
        incidents = await _canned({"/v1/incidents": body}).get_incidents()
        assert incidents and incidents[0].paged_teams
    for name in (
        "GET_v1_oncall_current.200.constructed-from-swagger.json",
        "GET_v1_oncall_current.200.pauldenver-test.json",
    ):
        body = json.loads((folder / name).read_text())
        teams = await _canned({"/v1/oncall/current": body}).get_on_call_users()
        assert teams[0].on_call_now[0].users[0].on_call_user.username == "johndoe"
    nested = json.loads(
        (
            folder / "GET_v1_user.200.constructed-nested-array-per-go-victorops-and-baton.json"
        ).read_text()
    )
    assert [u.username for u in await _canned({"/v2/user": nested}).get_users()] == ["go_testuser"]
    team_list = json.loads((folder / "GET_v1_team.200.backstage-mock.json").read_text())
    assert (await _canned({"/v1/team": team_list}).get_teams())[0].slug == "team-O9SqT13fsnCstjMi"
