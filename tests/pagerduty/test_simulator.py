"""The simulator behaves as PagerDuty's API does (the app itself, over ASGI)."""

from __future__ import annotations

import httpx
import pytest

from greenroom_pagerduty.simulator import (
    CHECKOUT_INTEGRATION_KEY,
    CHECKOUT_SERVICE_ID,
    LEGACY_SERVICE_ID,
    create_app,
)

AUTH = {"Authorization": "Token token=t"}


@pytest.fixture
def app():
    return create_app(token="t")


@pytest.fixture
async def api(app):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim"
    ) as client:
        yield client


def event(action: str = "trigger", **extra):
    body = {"routing_key": CHECKOUT_INTEGRATION_KEY, "event_action": action, **extra}
    if action == "trigger":
        body.setdefault(
            "payload", {"summary": "Disk full", "source": "host-1", "severity": "error"}
        )
    return body


async def test_wrong_token_is_401_with_pagerduty_body(api):
    response = await api.get("/services", headers={"Authorization": "Token token=nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 2006


async def test_services_query_matches_integration_keys_and_names(api):
    by_key = await api.get("/services", params={"query": CHECKOUT_INTEGRATION_KEY}, headers=AUTH)
    assert [s["id"] for s in by_key.json()["services"]] == [CHECKOUT_SERVICE_ID]
    by_name = await api.get("/services", params={"query": "payments"}, headers=AUTH)
    assert [s["name"] for s in by_name.json()["services"]] == ["Payments API"]


async def test_service_include_returns_full_objects(api):
    plain = (await api.get(f"/services/{CHECKOUT_SERVICE_ID}", headers=AUTH)).json()["service"]
    assert plain["escalation_policy"]["type"] == "escalation_policy_reference"
    assert "integration_key" not in plain["integrations"][0]
    full = (
        await api.get(
            f"/services/{CHECKOUT_SERVICE_ID}",
            params=[("include[]", "integrations"), ("include[]", "escalation_policies")],
            headers=AUTH,
        )
    ).json()["service"]
    assert full["escalation_policy"]["escalation_rules"]
    assert full["integrations"][0]["integration_key"] == CHECKOUT_INTEGRATION_KEY


async def test_incident_filters_sorting_and_paging(api):
    params = [("service_ids[]", LEGACY_SERVICE_ID), ("statuses[]", "triggered")]
    first = (await api.get("/incidents", params=params, headers=AUTH)).json()
    assert (first["limit"], first["offset"], first["more"], first["total"]) == (25, 0, True, None)
    second = (
        await api.get(
            "/incidents", params=[*params, ("offset", "25"), ("total", "true")], headers=AUTH
        )
    ).json()
    assert len(second["incidents"]) == 7 and second["more"] is False and second["total"] == 32
    created = [i["created_at"] for i in first["incidents"] + second["incidents"]]
    assert created == sorted(created)
    desc = (
        await api.get("/incidents", params=[*params, ("sort_by", "created_at:desc")], headers=AUTH)
    ).json()
    assert desc["incidents"][0]["created_at"] == max(created)
    capped = await api.get("/incidents", params={"limit": 500}, headers=AUTH)
    assert capped.json()["limit"] == 100


async def test_offset_plus_limit_over_10000_is_400(api):
    response = await api.get("/incidents", params={"offset": 9990, "limit": 25}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 2001


async def test_history_has_acknowledged_and_resolved_times(api):
    resolved = (
        await api.get("/incidents", params={"statuses[]": "resolved", "limit": 100}, headers=AUTH)
    ).json()["incidents"]
    assert len(resolved) >= 30
    assert all(i["resolved_at"] and i["acknowledgements"] for i in resolved)


async def test_put_incident_requires_from_and_reports_state_errors(api, app):
    incident = next(
        i
        for i in app.state.pagerduty.incidents.values()
        if i.service_id == CHECKOUT_SERVICE_ID and i.status == "triggered"
    )
    body = {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    no_from = await api.put(f"/incidents/{incident.id}", json=body, headers=AUTH)
    assert no_from.status_code == 400 and incident.status == "triggered"
    headers = {**AUTH, "From": "grace.hopper@example.com"}
    ok = await api.put(f"/incidents/{incident.id}", json=body, headers=headers)
    assert ok.status_code == 200 and ok.json()["incident"]["status"] == "acknowledged"
    assert ok.json()["incident"]["acknowledgements"][0]["acknowledger"]["id"] == "PUSR0GH"
    again = await api.put(f"/incidents/{incident.id}", json=body, headers=headers)
    assert again.json()["error"]["code"] == 1002
    resolve = {"incident": {"type": "incident_reference", "status": "resolved"}}
    assert (await api.put(f"/incidents/{incident.id}", json=resolve, headers=headers)).is_success
    after = await api.put(f"/incidents/{incident.id}", json=resolve, headers=headers)
    assert after.json()["error"]["code"] == 1001
    missing = await api.put("/incidents/QNOPE", json=resolve, headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 2100


async def test_oncalls_include_users(api):
    params = [("escalation_policy_ids[]", "PEPPAY1")]
    plain = (await api.get("/oncalls", params=params, headers=AUTH)).json()["oncalls"]
    assert plain[0]["user"]["type"] == "user_reference"
    full = (
        await api.get("/oncalls", params=[*params, ("include[]", "users")], headers=AUTH)
    ).json()["oncalls"]
    assert full[0]["user"]["email"] and full[0]["user"]["avatar_url"]
    assert [o["escalation_level"] for o in full] == [1, 2, 3]


async def test_events_trigger_dedup_acknowledge_resolve(api, app):
    state = app.state.pagerduty
    first = await api.post("/v2/enqueue", json=event(dedup_key="disk-1"))
    assert first.status_code == 202
    assert first.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk-1",
    }
    await api.post("/v2/enqueue", json=event(dedup_key="disk-1"))
    opened = [i for i in state.incidents.values() if i.incident_key == "disk-1"]
    assert len(opened) == 1 and opened[0].alerts == 2
    await api.post("/v2/enqueue", json=event("acknowledge", dedup_key="disk-1"))
    assert opened[0].status == "acknowledged"
    await api.post("/v2/enqueue", json=event("resolve", dedup_key="disk-1"))
    assert opened[0].status == "resolved"
    generated = await api.post("/v2/enqueue", json=event())
    assert len(generated.json()["dedup_key"]) == 32


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"routing_key": "short", "event_action": "trigger"}, "wrong length"),
        (event(action="explode"), "event_action"),
        (event("acknowledge"), "dedup_key"),
        (event(payload={"summary": "x", "source": "y", "severity": "bad"}), "severity"),
        (event(payload={"source": "y", "severity": "info"}), "payload.summary"),
    ],
)
async def test_invalid_events_are_400(api, body, error):
    response = await api.post("/v2/enqueue", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert any(error in e for e in response.json()["errors"])


async def test_rest_rate_limit_answers_429_with_headers(app, api):
    app.state.control.rate_limit_per_minute = 2
    statuses = [(await api.get("/services", headers=AUTH)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = await api.get("/services", headers=AUTH)
    assert limited.json() == {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    assert limited.headers["ratelimit-limit"] == "2"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(limited.headers["ratelimit-reset"]) <= 60


async def test_events_are_throttled_per_routing_key(app, api):
    app.state.control.events_per_minute = 1
    assert (await api.post("/v2/enqueue", json=event())).status_code == 202
    throttled = await api.post("/v2/enqueue", json=event())
    assert throttled.status_code == 429 and throttled.json()["status"] == "throttle event"


async def test_faults_through_the_control_endpoints(api):
    added = await api.post(
        "/_control/faults", json={"status": 503, "times": 1, "path_prefix": "/oncalls"}
    )
    assert added.status_code == 200
    assert (await api.get("/oncalls", headers=AUTH)).status_code == 503
    assert (await api.get("/oncalls", headers=AUTH)).status_code == 200
    await api.post("/_control/faults", json={"malformed": True})
    broken = await api.get("/services", headers=AUTH)
    with pytest.raises(ValueError):
        broken.json()
    await api.delete("/_control/faults")
    assert (await api.get("/services", headers=AUTH)).json()["services"]
    refused = await api.post("/_control/faults", json={"colour": "red"})
    assert refused.status_code == 400


async def test_requests_are_recorded_for_inspection(api):
    await api.get("/services", params={"query": "x"}, headers=AUTH)
    seen = (await api.get("/_control/requests")).json()["requests"]
    assert seen[-1]["path"] == "/services" and seen[-1]["query"] == [["query", "x"]]
    assert seen[-1]["headers"]["authorization"] == "[redacted]"


def test_seed_is_deterministic():
    one, two = create_app(seed=3).state.pagerduty, create_app(seed=3).state.pagerduty
    assert [i.title for i in one.incidents.values()] == [i.title for i in two.incidents.values()]


async def test_mounted_simulator_checks_the_token_and_injects_faults() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    outer = Starlette(routes=[Mount("/_simulators/pagerduty", app=create_app(token="t"))])
    base = "/_simulators/pagerduty"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=outer), base_url="http://portal"
    ) as client:
        wrong = await client.get(f"{base}/services", headers={"Authorization": "Token token=x"})
        assert wrong.status_code == 401
        await client.post(
            f"{base}/_control/faults", json={"status": 503, "times": 1, "path_prefix": "/oncalls"}
        )
        assert (await client.get(f"{base}/oncalls", headers=AUTH)).status_code == 503
        assert (await client.get(f"{base}/oncalls", headers=AUTH)).status_code == 200


async def test_request_log_keeps_only_the_latest_requests(app, api) -> None:
    from greenroom_pagerduty.simulator._control import REQUEST_LOG_SIZE, RecordedRequest

    control = app.state.control
    for _ in range(REQUEST_LOG_SIZE + 50):
        control.requests.append(RecordedRequest("GET", "/services", [], {}, None))
    assert (await api.get("/services", headers=AUTH)).status_code == 200
    assert len(control.requests) == REQUEST_LOG_SIZE
    assert control.requests[-1].query == []
