"""The simulator over real loopback HTTP: what a client of the real API would run into."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from greenroom_splunk_on_call.simulator import create_app

HEADERS = {"X-VO-Api-Id": "test-api-id", "X-VO-Api-Key": "test-api-key"}


async def test_both_api_headers_are_required(simulator) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        url = simulator.public_url + "/v1/incidents"
        assert (await client.get(url)).status_code == 403
        only_id = {"X-VO-Api-Id": "test-api-id"}
        assert (await client.get(url, headers=only_id)).status_code == 403
        wrong = {**HEADERS, "X-VO-Api-Key": "wrong"}
        assert (await client.get(url, headers=wrong)).status_code == 403
        assert (await client.get(url, headers=HEADERS)).status_code == 200


async def test_rate_limit_is_per_endpoint_and_answered_with_403(start_simulator) -> None:
    sim = start_simulator(rate_limit_per_minute=2)
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as client:
        incidents = sim.public_url + "/v1/incidents"
        assert [(await client.get(incidents)).status_code for _ in range(3)] == [200, 200, 403]
        # Another endpoint has its own budget.
        assert (await client.get(sim.public_url + "/v1/team")).status_code == 200


async def test_seed_has_payments_team_whose_slug_is_not_its_name(simulator) -> None:
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as client:
        teams = (await client.get(simulator.public_url + "/v1/team")).json()
        payments = next(t for t in teams if t["name"] == "payments")
        assert payments["slug"] != "payments" and payments["slug"].startswith("team-")
        incidents = (await client.get(simulator.public_url + "/v1/incidents")).json()["incidents"]
        phases = {i["currentPhase"] for i in incidents}
        assert phases == {"UNACKED", "ACKED", "RESOLVED"}
        mine = [i for i in incidents if payments["slug"] in i["pagedTeams"]]
        assert any(i["currentPhase"] == "UNACKED" for i in mine)
        for incident in incidents:
            assert incident["entityState"] and incident["incidentLink"]
        resolved = [i for i in incidents if i["currentPhase"] == "RESOLVED"]
        assert all([t["name"] for t in i["transitions"]] == ["ACKED", "RESOLVED"] for i in resolved)
        routing = (await client.get(simulator.public_url + "/v1/org/routing-keys")).json()
        checkout = next(k for k in routing["routingKeys"] if k["routingKey"] == "checkout-web")
        assert len({t["_teamUrl"] for t in checkout["targets"]}) == 2


async def test_phase_moves_with_ack_and_resolve(simulator) -> None:
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as client:
        body = {"userName": "guest", "incidentNames": ["141"], "message": "on it"}
        acked = await client.patch(simulator.public_url + "/v1/incidents/ack", json=body)
        assert acked.json()["results"][0]["cmdAccepted"] is True
        again = await client.patch(simulator.public_url + "/v1/incidents/ack", json=body)
        assert again.json()["results"][0]["cmdAccepted"] is False
        await client.patch(simulator.public_url + "/v1/incidents/resolve", json=body)
        incidents = (await client.get(simulator.public_url + "/v1/incidents")).json()["incidents"]
        incident = next(i for i in incidents if i["incidentNumber"] == "141")
        assert incident["currentPhase"] == "RESOLVED"
        assert [(t["name"], t["by"]) for t in incident["transitions"]] == [
            ("ACKED", "guest"),
            ("RESOLVED", "guest"),
        ]
        unknown = {"userName": "nobody", "incidentNames": ["142"]}
        refused = await client.patch(simulator.public_url + "/v1/incidents/ack", json=unknown)
        assert refused.status_code == 404


async def test_rest_endpoint_opens_acknowledges_and_recovers_by_entity_id(simulator) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        url = simulator.rest_endpoint + "/search"
        opened = await client.post(url, json={"message_type": "CRITICAL", "entity_id": "disk/db1"})
        assert opened.json() == {"result": "success", "entity_id": "disk/db1"}
        await client.post(url, json={"message_type": "ACKNOWLEDGEMENT", "entity_id": "disk/db1"})
        state = simulator.state
        incident = state.open_incident_for_entity("disk/db1")
        assert incident is not None and incident.phase == "ACKED"
        await client.post(url, json={"message_type": "RECOVERY", "entity_id": "disk/db1"})
        assert state.open_incident_for_entity("disk/db1") is None
        missing = await client.post(url, json={"entity_id": "x"})
        assert missing.status_code == 400
        assert missing.json() == {"result": "failure", "message": "Missing fields: message_type"}
        wrong_key = simulator.rest_endpoint.replace("test-rest-key", "nope") + "/search"
        assert (await client.post(wrong_key, json={"message_type": "INFO"})).status_code == 403


async def test_users_by_email_and_the_nested_v1_list(simulator) -> None:
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as client:
        found = await client.get(
            simulator.public_url + "/v2/user", params={"email": "GUEST@example.com"}
        )
        assert [u["username"] for u in found.json()["users"]] == ["guest"]
        v1 = (await client.get(simulator.public_url + "/v1/user")).json()
        assert isinstance(v1["users"][0], list) and v1["users"][0][0]["username"]


async def test_on_call_spelling_can_follow_client_fixtures(start_simulator) -> None:
    sim = start_simulator(oncall_spelling="fixture")
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as client:
        body = (await client.get(sim.public_url + "/v1/oncall/current")).json()
        first = body["teamsOnCall"][0]
        assert "oncallNow" in first and "onCalluser" in first["oncallNow"][0]["users"][0]


async def test_faults_can_be_injected_and_cleared_at_run_time(simulator) -> None:
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as client:
        control = simulator.url + "/_simulator/faults"
        await client.post(control, json={"path": "/api-public/v1/incidents", "status": 500})
        assert (await client.get(simulator.public_url + "/v1/incidents")).status_code == 500
        assert (await client.get(simulator.public_url + "/v1/team")).status_code == 200
        await client.delete(control)
        await client.post(control, json={"path": "/api-public/v1/team", "malformed": True})
        malformed = await client.get(simulator.public_url + "/v1/team")
        assert malformed.status_code == 200
        try:
            malformed.json()
        except ValueError:
            pass
        else:
            raise AssertionError("the malformed fault must send a body that is not JSON")
        await client.delete(control)
        await client.post(control, json={"status": 503, "times": 1})
        assert (await client.get(simulator.public_url + "/v1/team")).status_code == 503
        assert (await client.get(simulator.public_url + "/v1/team")).status_code == 200


async def test_incident_links_keep_the_mount_prefix() -> None:
    outer = Starlette(routes=[Mount("/_simulators/splunk-on-call", app=create_app())])
    transport = httpx.ASGITransport(app=outer)
    demo = {"X-VO-Api-Id": "demo-api-id", "X-VO-Api-Key": "demo-api-key"}
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
        body = await client.get("/_simulators/splunk-on-call/api-public/v1/incidents", headers=demo)
        link = body.json()["incidents"][0]["incidentLink"]
        assert link.startswith("http://portal/_simulators/splunk-on-call/ui/")
        page = await client.get(link.removeprefix("http://portal"))
        assert page.status_code == 200 and "Incident #" in page.text


async def test_mounted_simulator_checks_credentials_and_injects_faults() -> None:
    app = create_app()
    outer = Starlette(routes=[Mount("/_simulators/splunk-on-call", app=app)])
    transport = httpx.ASGITransport(app=outer)
    demo = {"X-VO-Api-Id": "demo-api-id", "X-VO-Api-Key": "demo-api-key"}
    base = "/_simulators/splunk-on-call"
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
        no_key = await client.get(f"{base}/api-public/v1/incidents")
        assert no_key.status_code == 403
        await client.post(f"{base}/_simulator/faults", json={"status": 503, "times": 1})
        faulted = await client.get(f"{base}/api-public/v1/team", headers=demo)
        assert faulted.status_code == 503
        assert (await client.get(f"{base}/api-public/v1/team", headers=demo)).status_code == 200
        seen = (await client.get(f"{base}/_simulator/requests")).json()["requests"]
        assert seen[-1]["path"] == "/api-public/v1/team"


async def test_request_log_keeps_only_the_latest_requests(simulator) -> None:
    from greenroom_splunk_on_call.simulator._state import REQUEST_LOG_SIZE

    state = simulator.state
    for _ in range(REQUEST_LOG_SIZE + 50):
        state.requests.append(("GET", "/api-public/v1/team", "", None))
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as client:
        assert (await client.get(simulator.public_url + "/v1/team")).status_code == 200
    assert len(state.requests) == REQUEST_LOG_SIZE
    assert state.requests[-1][1] == "/api-public/v1/team"
