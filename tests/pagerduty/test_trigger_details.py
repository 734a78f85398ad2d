"""Creating an incident with details: severity and free-form details go to the Events API (the
request contract-checked by conftest); without them the dialog stays today's one field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from greenroom import Entity
from greenroom.testing import api_holder, render_card, run_action
from greenroom_pagerduty import card, pagerduty_api_ref
from greenroom_pagerduty.simulator import CHECKOUT_INTEGRATION_KEY, CHECKOUT_SERVICE_ID

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
    assert "Incidents of this service are high urgency." in html
    # The extra fields are folded away: the quick path is one field and a button.
    assert re.search(r'<details class="more">\s*<summary>More details \(optional\)', html)
