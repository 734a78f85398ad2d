"""The card: every state and text of Backstage's Splunk On-Call card, in its order, and its
actions."""

from __future__ import annotations

import re

import pytest

from greenroom import Entity
from greenroom.testing import api_holder, render_card, run_action
from greenroom_splunk_on_call import (
    MISSING_KEYS,
    SplunkOnCallSettings,
    splunk_on_call_api_ref,
    splunk_on_call_card,
)
from greenroom_splunk_on_call.simulator import Fault

CARD = splunk_on_call_card


def _apis(provider):
    return api_holder((splunk_on_call_api_ref, provider))


def _sections(html: str) -> list[str]:
    return re.findall(r"<section.*?</section>", html, re.S)


def _entity(**annotations: str) -> Entity:
    return Entity(kind="Component", name="svc", annotations=annotations)


async def test_team_card_shows_incidents_on_call_and_actions(provider, team_entity, guest):
    html = await render_card(CARD, team_entity, apis=_apis(provider), identity=guest)
    [card] = _sections(html)
    assert "Splunk On-Call</h2>" in card and "Team: payments" in card
    assert ">Portal</a>" in card and "Create Incident" in card
    for title in ("Card authorisation latency above SLO", "Refund queue backlog growing"):
        assert title in card
    # Each incident: display name, creator, age, phase and its link.
    item = re.search(r'data-incident="142".*?</li>', card, re.S).group(0)
    assert 'badge-acknowledged">acknowledged</span>' in item  # one vocabulary, not ACKED
    assert "Created by Prometheus" in item and "hours ago" in item
    assert "View in Splunk On-Call</a>" in item and "/incident/142/details" in item
    assert ">Resolve</button>" in item and ">Acknowledge</button>" not in item
    unacked = re.search(r'data-incident="141".*?</li>', card, re.S).group(0)
    assert ">Acknowledge</button>" in unacked and ">Resolve</button>" not in unacked
    assert "ON CALL" in card and "Ada Lovelace" in card and "Alan Turing" in card
    assert 'name="csrf_token" value="test-csrf-token"' in card
    # The trigger dialog: type, start time, id, display name, message, targets.
    for field in ("incident_type", "start_time", "incident_id", "display_name", "message"):
        assert f'name="{field}"' in card
    assert 'name="target:EscalationPolicy:pol-Pp1aYm3nT5sQ7uW9"' in card
    assert 'name="target:User:ada.lovelace"' in card
    assert "Trigger Incident" in card
    # Without the REST endpoint only CRITICAL can work: only it is offered, and the reason is
    # next to the choice.
    assert re.findall(r'<option value="(\w+)"', card) == ["CRITICAL"]
    assert 'aria-describedby="type-hint-team-Pm7xQ2vL9kRt4Ws1"' in card
    assert re.search(r'id="type-hint-team-Pm7xQ2vL9kRt4Ws1">WARNING and INFO need the REST '
                     r"endpoint: set splunkOnCall.eventsRestEndpoint", card)


async def test_with_the_rest_endpoint_every_incident_type_is_offered(
    make_provider, routing_entity, guest, simulator
):
    provider = make_provider(settings={"eventsRestEndpoint": simulator.rest_endpoint})
    html = await render_card(CARD, routing_entity, apis=_apis(provider), identity=guest)
    for card in _sections(html):
        assert re.findall(r'<option value="(\w+)"', card) == ["CRITICAL", "WARNING", "INFO"]
        assert "WARNING and INFO need the REST endpoint" not in card


async def test_routing_key_shows_one_card_per_team(provider, routing_entity, guest):
    html = await render_card(CARD, routing_entity, apis=_apis(provider), identity=guest)
    cards = _sections(html)
    assert [re.search(r"Team: ([^<]+)<", c).group(1) for c in cards] == ["Checkout", "payments"]
    assert "Checkout 5xx rate elevated" in cards[0]
    assert "Refund queue backlog growing" not in cards[0]
    assert "Refund queue backlog growing" in cards[1]


async def test_empty_team(provider, guest):
    entity = _entity(**{"splunk.com/on-call-team": "Data Science"})
    html = await render_card(CARD, entity, apis=_apis(provider), identity=guest)
    assert "Nice! No incidents found!" in html
    assert "Empty escalation policy" in html


async def test_missing_annotation_names_both(provider):
    html = await render_card(CARD, _entity(), apis=_apis(provider))
    assert "Missing Annotation" in html
    assert "splunk.com/on-call-team" in html and "splunk.com/on-call-routing-key" in html


async def test_bad_keys(make_provider, team_entity):
    provider = make_provider(headers={"X-VO-Api-Id": "test-api-id", "X-VO-Api-Key": "leaked?"})
    html = await render_card(CARD, team_entity, apis=_apis(provider))
    assert MISSING_KEYS in html and "alert-error" in html
    assert "leaked?" not in html


async def test_missing_username_hides_actions_but_keeps_reading(provider, team_entity, stranger):
    html = await render_card(CARD, team_entity, apis=_apis(provider), identity=stranger)
    assert "Missing Splunk On-Call username" in html
    assert "Card authorisation latency above SLO" in html
    assert ">Acknowledge</button>" not in html and "Create Incident" not in html


async def test_configured_username_enables_actions(make_provider, team_entity, stranger):
    provider = make_provider(settings={"username": "ada.lovelace"})
    html = await render_card(CARD, team_entity, apis=_apis(provider), identity=stranger)
    assert "Missing Splunk On-Call username" not in html
    assert ">Acknowledge</button>" in html


@pytest.mark.parametrize(
    ("annotations", "text"),
    [
        (
            {"splunk.com/on-call-team": "Nobody"},
            'Splunk On-Call API returned no record of teams associated with the "Nobody" team name',
        ),
        (
            {"splunk.com/on-call-routing-key": "nope"},
            'Splunk On-Call API returned no record of teams associated with the "nope" routing key',
        ),
    ],
)
async def test_team_not_found(provider, annotations, text):
    html = await render_card(CARD, _entity(**annotations), apis=_apis(provider))
    assert text.replace('"', "&#34;") in html


async def test_other_errors(provider, team_entity, simulator):
    simulator.state.faults.append(Fault(path="/api-public/v1/oncall", status=500))
    html = await render_card(CARD, team_entity, apis=_apis(provider))
    assert (
        "Error encountered while fetching information. Request failed with 500, Injected failure"
        in html
    )


async def test_read_only_hides_every_action(provider, team_entity, guest):
    settings = SplunkOnCallSettings.model_validate({"readOnly": True})
    html = await render_card(
        CARD, team_entity, apis=_apis(provider), identity=guest, settings=settings
    )
    assert "Card authorisation latency above SLO" in html
    for action in ("Create Incident", ">Acknowledge</button>", ">Resolve</button>", "<form"):
        assert action not in html
    result = await run_action(
        CARD,
        "acknowledge",
        team_entity,
        {"incident": "141"},
        apis=_apis(provider),
        identity=guest,
        settings=settings,
    )
    assert not result.ok and "actions are turned off" in result.message


def test_settings_refuse_unknown_keys() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="readonly"):
        SplunkOnCallSettings.model_validate({"readonly": True})


async def test_trigger_acknowledge_resolve_actions(provider, team_entity, guest, simulator):
    apis = _apis(provider)
    form = {
        "team": "team-Pm7xQ2vL9kRt4Ws1",
        "incident_type": "CRITICAL",
        "display_name": "Payments erroring",
        "message": "500s everywhere",
        "target:User:alan.turing": "on",
    }
    result = await run_action(CARD, "trigger", team_entity, form, apis=apis, identity=guest)
    assert (result.ok, result.message) == (True, "Alarm successfully triggered")
    sent = simulator.requests("POST")[-1][2]
    assert sent["targets"] == [{"type": "User", "slug": "alan.turing"}]
    number = max(simulator.state.incidents)
    html = await render_card(CARD, team_entity, apis=apis, identity=guest)
    assert "Payments erroring" in html and "Created by guest" in html
    ack = await run_action(
        CARD, "acknowledge", team_entity, {"incident": str(number)}, apis=apis, identity=guest
    )
    assert ack.ok and ack.message == f"Incident #{number} acknowledged"
    html = await render_card(CARD, team_entity, apis=apis, identity=guest)
    item = re.search(rf'data-incident="{number}".*?</li>', html, re.S).group(0)
    assert ">Resolve</button>" in item
    done = await run_action(
        CARD, "resolve", team_entity, {"incident": str(number)}, apis=apis, identity=guest
    )
    assert done.ok
    html = await render_card(CARD, team_entity, apis=apis, identity=guest)
    assert "Payments erroring" not in html


async def test_trigger_failures_keep_their_reason(provider, team_entity, guest, simulator):
    apis = _apis(provider)
    empty = await run_action(
        CARD, "trigger", team_entity, {"team": "team-Pm7xQ2vL9kRt4Ws1"}, apis=apis, identity=guest
    )
    assert not empty.ok and empty.message.startswith("Failed to trigger alarm. Enter the")
    simulator.state.faults.append(Fault(path="/api-public/v1/incidents", method="POST", status=500))
    form = {"team": "team-Pm7xQ2vL9kRt4Ws1", "display_name": "x", "message": "y"}
    failed = await run_action(CARD, "trigger", team_entity, form, apis=apis, identity=guest)
    assert failed.message == "Failed to trigger alarm. Request failed with 500, Injected failure"
    warning = await run_action(
        CARD,
        "trigger",
        team_entity,
        {**form, "incident_type": "WARNING"},
        apis=apis,
        identity=guest,
    )
    assert warning.message.startswith("No Splunk On-Call REST endpoint available.")


async def test_actions_without_username_say_so(provider, team_entity, stranger, simulator):
    result = await run_action(
        CARD,
        "acknowledge",
        team_entity,
        {"incident": "141"},
        apis=_apis(provider),
        identity=stranger,
    )
    assert not result.ok and result.message.startswith("Missing Splunk On-Call username")
    assert "nobody@elsewhere.example" in result.message
    assert simulator.requests("PATCH") == []


async def test_failed_trigger_form_is_shown_again_filled_in(provider, team_entity, guest):
    form = {"team": "team-Pm7xQ2vL9kRt4Ws1", "display_name": "Kept <b>", "message": "typed"}
    html = await render_card(
        CARD, team_entity, apis=_apis(provider), identity=guest, form=form, form_action="trigger"
    )
    assert '<details class="dialog" open>' in html
    assert 'value="Kept &lt;b&gt;"' in html and ">typed</textarea>" in html


async def test_summary(provider, team_entity, guest):
    from greenroom.testing import card_context

    ctx = card_context(CARD, team_entity, apis=_apis(provider), identity=guest)
    text = await CARD.summary(ctx)
    assert text == "3 open incidents (2 triggered) · on call: Ada Lovelace, Alan Turing"
