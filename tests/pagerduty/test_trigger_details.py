"""Creating an incident with details: severity and free-form details go to the Events API (the
request contract-checked by conftest); without them the dialog stays today's one field. An
urgency, offered only where the service's ``incident_urgency_rule`` leaves it open, goes to the
REST API's ``POST /incidents`` with ``From`` (the Events API cannot set one)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from greenroom import Entity
from greenroom.testing import api_holder, render_card, run_action
from greenroom_pagerduty import card, pagerduty_api_ref
from greenroom_pagerduty.simulator import (
    CHECKOUT_INTEGRATION_KEY,
    CHECKOUT_SERVICE_ID,
    IDENTITY_INTEGRATION_KEY,
)

CHECKOUT = Entity(
    kind="Component",
    name="checkout-api",
    annotations={"pagerduty.com/integration-key": CHECKOUT_INTEGRATION_KEY},
)


@pytest.fixture
def apis(provider: Any) -> Any:
    return api_holder((pagerduty_api_ref, provider))


def _events(simulator: Any) -> list[Any]:
    return [r for r in simulator.control.requests if r.path == "/v2/enqueue"]


async def test_one_field_is_still_enough(apis: Any, user: Any, simulator: Any) -> None:
    result = await run_action(
        card, "trigger", CHECKOUT, {"description": "Checkout is down"}, apis=apis, identity=user
    )
    assert result.ok, result.message
    payload = _events(simulator)[-1].body["payload"]
    assert payload["severity"] == "error"
    assert payload["custom_details"] == {"user": "ada.lovelace@example.com"}


async def test_severity_and_details_reach_pagerduty(apis: Any, user: Any, simulator: Any) -> None:
    form = {
        "description": "Slow checkout",
        "severity": "warning",
        "details": "p99 at 3s since the 14:05 deploy",
    }
    result = await run_action(card, "trigger", CHECKOUT, form, apis=apis, identity=user)
    assert result.ok, result.message
    payload = _events(simulator)[-1].body["payload"]
    assert payload["severity"] == "warning"
    assert payload["custom_details"]["details"] == "p99 at 3s since the 14:05 deploy"
    opened = [
        i
        for i in simulator.state.incidents.values()
        if i.service_id == CHECKOUT_SERVICE_ID and i.title == "Slow checkout"
    ]
    assert len(opened) == 1


async def test_an_unknown_severity_is_refused_before_pagerduty(
    apis: Any, user: Any, simulator: Any
) -> None:
    form = {"description": "x", "severity": "apocalyptic"}
    result = await run_action(card, "trigger", CHECKOUT, form, apis=apis, identity=user)
    assert not result.ok and "Choose a severity" in result.message
    assert _events(simulator) == []


async def test_dialog_offers_severity_details_and_says_the_urgency(apis: Any, user: Any) -> None:
    html = await render_card(card, CHECKOUT, apis=apis, identity=user)
    assert re.search(r'<select[^>]*name="severity"', html)
    assert '<option value="error" selected>' in html
    assert 'name="details"' in html
    # Checkout's rule is severity-based: the urgency is open, and offered, defaulting to
    # whatever the service decides.
    assert "Urgency follows severity unless you choose one" in html
    assert '<option value="" selected>As the service decides</option>' in html
    # The extra fields are folded away: the quick path is one field and a button.
    assert re.search(r'<details class="more">\s*<summary>More details \(optional\)', html)


IDENTITY = Entity(
    kind="Component",
    name="identity-service",
    annotations={"pagerduty.com/integration-key": IDENTITY_INTEGRATION_KEY},
)


def _rest_creates(simulator: Any) -> list[Any]:
    return [r for r in simulator.control.requests if r.method == "POST" and r.path == "/incidents"]


async def test_a_chosen_urgency_creates_the_incident_through_the_rest_api(
    apis: Any, user: Any, simulator: Any
) -> None:
    form = {
        "description": "Checkout slow for EU shoppers",
        "severity": "warning",
        "urgency": "high",
        "details": "p99 at 3s",
        "nonce": "n-1",
    }
    result = await run_action(card, "trigger", CHECKOUT, form, apis=apis, identity=user)
    assert result.ok, result.message
    assert "with high urgency" in result.message
    [sent] = _rest_creates(simulator)
    assert sent.headers["from"] == "ada.lovelace@example.com"
    incident = sent.body["incident"]
    assert (incident["type"], incident["title"], incident["urgency"]) == (
        "incident", "Checkout slow for EU shoppers", "high"
    )
    assert incident["service"] == {"id": CHECKOUT_SERVICE_ID, "type": "service_reference"}
    assert incident["body"]["details"] == "p99 at 3s\n\nSeverity: warning"
    assert _events(simulator) == []  # not an event: a warning event would have been low
    [opened] = [i for i in simulator.state.incidents.values()
                if i.title == "Checkout slow for EU shoppers"]
    assert opened.urgency == "high" and opened.created_by == "PUSR0AL"

    # The same form sent again (same nonce, same incident_key) opens nothing more.
    again = await run_action(card, "trigger", CHECKOUT, form, apis=apis, identity=user)
    assert not again.ok and "already exists" in again.message
    assert len([i for i in simulator.state.incidents.values()
                if i.title == "Checkout slow for EU shoppers"]) == 1


async def test_without_an_urgency_the_rule_decides_through_the_events_api(
    apis: Any, user: Any, simulator: Any
) -> None:
    form = {"description": "Slow checkout", "severity": "warning", "urgency": ""}
    result = await run_action(card, "trigger", CHECKOUT, form, apis=apis, identity=user)
    assert result.ok, result.message
    assert _rest_creates(simulator) == []
    [opened] = [i for i in simulator.state.incidents.values() if i.title == "Slow checkout"]
    assert opened.urgency == "low"  # severity-based: a warning is low urgency


async def test_a_constant_rule_offers_no_choice_and_refuses_one(
    apis: Any, user: Any, simulator: Any
) -> None:
    html = await render_card(card, IDENTITY, apis=apis, identity=user)
    assert 'name="urgency"' not in html
    assert "Incidents of this service are high urgency." in html
    form = {"description": "Logins failing", "urgency": "low"}
    result = await run_action(card, "trigger", IDENTITY, form, apis=apis, identity=user)
    assert not result.ok and "sets the urgency itself" in result.message
    assert _rest_creates(simulator) == [] and _events(simulator) == []


async def test_a_refused_urgency_keeps_what_was_typed(apis: Any, user: Any) -> None:
    form = {"description": "Checkout is down", "details": "since 14:05", "urgency": "urgent",
            "severity": "critical", "nonce": "n-2"}
    result = await run_action(card, "trigger", CHECKOUT, form, apis=apis, identity=user)
    assert not result.ok and "Choose an urgency" in result.message
    html = await render_card(card, CHECKOUT, apis=apis, identity=user, form=form,
                             form_action="trigger")
    assert "Checkout is down</textarea>" in html and "since 14:05</textarea>" in html
    assert '<option value="critical" selected>' in html
