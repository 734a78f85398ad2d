"""Contract tests: every request the client sends is one the Splunk On-Call swagger accepts, and
every answer of the simulator validates against it. The spec stays untouched; the real-versus-
swagger's differences from real answers live in `victorops_overlay.json` beside this file."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from greenroom import Identity, TriggerRequest
from greenroom_splunk_on_call import SplunkOnCallClient

OVERLAY = Path(__file__).with_name("victorops_overlay.json")
HEADERS = {"X-VO-Api-Id": "test-api-id", "X-VO-Api-Key": "test-api-key"}
PROXY_BASE = "http://portal.test:7007/api/proxy"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key == "$comment":
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@pytest.fixture(scope="module")
def raw_spec() -> dict[str, Any]:
    default = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
    root = Path(os.environ.get("GREENROOM_REFERENCE") or default)
    path = root / "splunk_on_call" / "victorops-api-v1.json"
    if not path.exists():
        pytest.skip(
            f"Splunk On-Call contract checks are off: {path} is absent "
            "(set GREENROOM_REFERENCE to the vendors' API descriptions; see the README)"
        )
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def spec(raw_spec: dict[str, Any]) -> dict[str, Any]:
    return merge_patch(copy.deepcopy(raw_spec), json.loads(OVERLAY.read_text()))


def _validate(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    wrapped = {**schema, "definitions": spec["definitions"]}
    jsonschema.Draft4Validator(wrapped).validate(instance)


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {path} is not an operation of the Splunk On-Call API")


def _parameters(spec: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = spec["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
        found.append(parameter)
    return found


def check_request(spec: dict[str, Any], method: str, path: str, query: str, body: Any) -> None:
    operation = _operation(spec, method, path)
    parameters = _parameters(spec, operation)
    declared = {p["name"] for p in parameters if p["in"] == "query"}
    for name in httpx.QueryParams(query).keys():
        assert name in declared, f"{method} {path}: query parameter {name!r} is not in the spec"
    payload = next((p for p in parameters if p["in"] == "body"), None)
    if payload is None:
        assert body is None, f"{method} {path} takes no body"
    else:
        _validate(spec, payload["schema"], body)


def check_response(spec: dict[str, Any], method: str, path: str, body: Any) -> None:
    schema = _operation(spec, method, path)["responses"]["200"].get("schema")
    assert schema is not None, f"{method} {path} has no 200 schema"
    _validate(spec, schema, body)


async def _drive_every_operation(make_provider, simulator, team_entity, routing_entity) -> None:
    guest = Identity("guest", "guest@example.com", "Guest", authenticated=True)
    provider = make_provider()
    client: SplunkOnCallClient = provider.client
    await client.get_incidents()
    await client.get_on_call_users()
    await client.get_teams()
    await client.get_routing_keys()
    await client.get_users()
    await client.get_escalation_policies()
    outcome = await provider.trigger(
        team_entity, TriggerRequest("Contract", "body", targets=("User:ada.lovelace",)), guest
    )
    await provider.acknowledge(team_entity, outcome.incident_id, guest)
    await provider.resolve(team_entity, outcome.incident_id, guest)
    rest = make_provider(settings={"eventsRestEndpoint": simulator.rest_endpoint})
    opened = await rest.trigger(
        routing_entity, TriggerRequest("Via REST", "details", severity="info"), guest
    )
    assert opened.incident_id
    await rest.trigger(
        routing_entity, TriggerRequest("Via REST", "details", incident_id="contract/1"), guest
    )
    number = str(simulator.state.open_incident_for_entity("contract/1").number)
    await rest.acknowledge(routing_entity, number, guest)
    await rest.resolve(routing_entity, number, guest)


async def test_every_request_the_client_sends_is_in_the_spec(
    spec, make_provider, simulator, team_entity, routing_entity
) -> None:
    await _drive_every_operation(make_provider, simulator, team_entity, routing_entity)
    sent = simulator.state.requests
    operations = {(m, p.rsplit("/", 1)[0] if "/alert/" in p else p) for m, p, _q, _b in sent}
    assert ("PATCH", "/api-public/v1/incidents/ack") in operations
    assert ("POST", "/integrations/generic/20131114/alert/test-rest-key") in operations
    for method, path, query, body in sent:
        check_request(spec, method, path, query, body)


async def test_simulator_answers_validate(spec, simulator) -> None:
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as http:
        for path in (
            "/v1/incidents",
            "/v1/oncall/current",
            "/v1/team",
            "/v1/org/routing-keys",
            "/v1/policies",
            "/v1/user",
            "/v2/user",
        ):
            response = await http.get(simulator.public_url + path)
            check_response(spec, "GET", "/api-public" + path, response.json())
        body = {
            "summary": "s",
            "details": "d",
            "userName": "guest",
            "targets": [{"type": "EscalationPolicy", "slug": "pol-Pp1aYm3nT5sQ7uW9"}],
        }
        created = await http.post(simulator.public_url + "/v1/incidents", json=body)
        check_response(spec, "POST", "/api-public/v1/incidents", created.json())
        names = {"userName": "guest", "incidentNames": [created.json()["incidentNumber"]]}
        for action in ("ack", "resolve"):
            answer = await http.patch(simulator.public_url + f"/v1/incidents/{action}", json=names)
            check_response(spec, "PATCH", f"/api-public/v1/incidents/{action}", answer.json())
        alert = await http.post(simulator.rest_endpoint + "/search", json={"message_type": "INFO"})
        check_response(spec, "POST", "/integrations/generic/20131114/alert/k/search", alert.json())


async def test_simulator_fixture_spelling_validates_too(spec, start_simulator) -> None:
    sim = start_simulator(oncall_spelling="fixture")
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as http:
        answer = await http.get(sim.public_url + "/v1/oncall/current")
    check_response(spec, "GET", "/api-public/v1/oncall/current", answer.json())


def test_overlay_is_needed_for_nested_user_lists(raw_spec, spec) -> None:
    nested = {"users": [[{"username": "go_testuser", "email": "go@example.com"}]]}
    with pytest.raises(jsonschema.ValidationError):
        check_response(raw_spec, "GET", "/api-public/v1/user", nested)
    check_response(spec, "GET", "/api-public/v1/user", nested)


def test_overlay_rejects_what_the_real_api_rejects(spec) -> None:
    with pytest.raises(jsonschema.ValidationError):
        check_request(spec, "PATCH", "/api-public/v1/incidents/ack", "", {"incidentNames": ["1"]})
    with pytest.raises(jsonschema.ValidationError):
        check_request(
            spec, "POST", "/integrations/generic/20131114/alert/k/r", "", {"entity_id": "x"}
        )
    with pytest.raises(AssertionError, match="query parameter 'offset'"):
        check_request(spec, "GET", "/api-public/v1/team", "offset=3", None)
