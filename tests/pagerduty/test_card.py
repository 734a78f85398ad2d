"""The PagerDuty card, rendered as the portal renders it, against the live simulator."""

from __future__ import annotations

import re

import pytest

from greenroom import Entity, Identity
from greenroom.testing import api_holder, render_card, run_action
from greenroom_pagerduty import PagerDutySettings, card, pagerduty_api_ref
from greenroom_pagerduty.simulator import (
    CHECKOUT_INTEGRATION_KEY,
    CHECKOUT_SERVICE_ID,
    LEGACY_SERVICE_ID,
    PAYMENTS_SERVICE_ID,
    SEARCH_SERVICE_ID,
)

CHECKOUT = Entity(
    kind="Component",
    name="checkout-api",
    annotations={"pagerduty.com/integration-key": CHECKOUT_INTEGRATION_KEY},
)
SEARCH = Entity(
    kind="Component",
    name="search-indexer",
    annotations={"pagerduty.com/service-id": SEARCH_SERVICE_ID},
)
LEGACY = Entity(
    kind="Component",
    name="legacy-batch",
    annotations={"pagerduty.com/service-id": LEGACY_SERVICE_ID},
)


@pytest.fixture
def apis(provider):
    return api_holder((pagerduty_api_ref, provider))


@pytest.fixture
def show(apis, user):
    async def render(entity: Entity = CHECKOUT, **kwargs) -> str:
        kwargs.setdefault("identity", user)
        return await render_card(card, entity, apis=apis, **kwargs)

    return render


@pytest.fixture
def act(apis, user):
    async def run(action: str, form: dict[str, str], entity: Entity = CHECKOUT, **kwargs):
        kwargs.setdefault("identity", user)
        return await run_action(card, action, entity, form, apis=apis, **kwargs)

    return run


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def open_incidents(simulator, service_id=CHECKOUT_SERVICE_ID):
    return [
        i
        for i in simulator.state.incidents.values()
        if i.service_id == service_id and i.status != "resolved"
    ]


async def test_full_card(show, simulator):
    html = await show()
    words = text(html)
    assert "PagerDuty" in words and "Checkout API" in words
    assert (
        f'href="https://greenroom-demo.pagerduty.com/service-directory/{CHECKOUT_SERVICE_ID}"'
        in html
    )
    assert 'href="https://greenroom-demo.pagerduty.com/escalation_policies/PEPCHK1"' in html
    assert ">Service Directory<" in html and ">Escalation Policy<" in html
    assert "Create Incident" in words
    # Incidents: title, status, urgency, assignee, age, link.
    for incident in open_incidents(simulator):
        assert incident.title in words
        assert f'href="https://greenroom-demo.pagerduty.com/incidents/{incident.id}"' in html
    assert "badge badge-triggered" in html and "badge badge-acknowledged" in html
    assert "high urgency" in words
    assert "Assigned to" in words and "ago" in words
    # Acknowledge only on the triggered one; Resolve on both.
    assert words.count("Acknowledge") == 1
    assert words.count("Resolve") == 2
    # Change events and the on-call list, by escalation level.
    assert "Change Events" in words and "Deploy checkout-api" in words
    assert "ON CALL" in words
    levels = re.findall(r"Level (\d)", words)
    assert levels == sorted(levels) and levels[0] == "1"
    assert "grace.hopper@example.com" in words
    assert 'class="avatar"' in html


async def test_trigger_dialog(show):
    html = await show()
    dialog = html[html.index('<details class="dialog"') : html.index("</form>")]
    assert "This action will trigger an incident for &#34;checkout-api&#34;." in dialog or (
        'This action will trigger an incident for "checkout-api".' in dialog
    )
    assert "data-require-valid" in dialog
    assert re.search(r"<textarea[^>]*name=\"description\"[^>]*required", dialog)
    assert 'name="csrf_token" value="test-csrf-token"' in dialog
    assert re.search(r'name="nonce" value="[^"]{8,}"', dialog)
    assert ">Trigger Incident</button>" in dialog
    assert '<details class="dialog" open' not in html


async def test_service_id_only_disables_create_incident(show):
    html = await show(SEARCH)
    words = text(html)
    assert "Must provide an integration-key to create incidents" in words
    assert "<details" not in html
    # A real disabled button (it looks and acts disabled), the reason beside it.
    assert re.search(
        r'<button class="btn" type="button" disabled aria-describedby="pagerduty-no-key-([\w-]+)">'
        r'Create Incident</button>\s*<span class="hint" id="pagerduty-no-key-\1">Must provide',
        html,
    )
    assert "Nice! No incidents found!" in words


async def test_empty_escalation_policy_and_paging(show):
    html = await show(LEGACY)
    words = text(html)
    assert "Empty escalation policy" in words
    assert words.count("exceeded its window") == 32, "incidents past the first 25 are shown"
    assert "Showing the first" not in words


async def test_incidents_past_the_cap_say_so(show, simulator):
    for n in range(80):
        simulator.state.trigger(LEGACY_SERVICE_ID, f"Extra {n}", f"extra-{n}", "info")
    html = await show(LEGACY)
    words = text(html)
    assert "Showing the first 100 incidents." in words
    assert "See all in PagerDuty" in words


async def test_unauthorized(show, simulator):
    simulator.control.token = "rotated"
    html = await show()
    assert "Missing or invalid PagerDuty Token" in text(html)
    assert "test-pagerduty-token" not in html
    assert "Create Incident" not in html


async def test_not_found(show):
    ghost = Entity(
        kind="Component", name="ghost", annotations={"pagerduty.com/service-id": "PNOPE00"}
    )
    assert "PagerDuty Service Not Found" in text(await show(ghost))


async def test_other_errors(show, simulator):
    simulator.control.add_fault(status=500, path_prefix="/services")
    assert (
        "Error encountered while fetching information. Request failed with 500, "
        "Not valid request internal error occurred"
    ) in text(await show())


async def test_section_error_keeps_the_rest(show, simulator):
    simulator.control.add_fault(status=503, path_prefix="/oncalls")
    words = text(await show())
    assert "Error encountered while fetching information. Request failed with 503" in words
    assert "High error rate on POST /checkout" in words


def retry_after(html: str) -> int | None:
    """The card's ``data-retry-after`` (seconds): when a live page reads it again."""
    found = re.search(r'<section class="card pagerduty-card"[^>]*data-retry-after="(\d+)"', html)
    return int(found.group(1)) if found else None


async def test_rate_limited_says_when_it_retries(show, simulator):
    simulator.control.add_fault(status=429, path_prefix="/services", reset_seconds=3600)
    html = await show()
    words = text(html)
    found = re.search(
        r"PagerDuty rate-limited; retrying in (\d+) s \(at \d\d:\d\d:\d\d UTC\)", words
    )
    assert found, words
    # PagerDuty's ratelimit-reset, give or take the second the read took.
    assert 3590 <= int(found.group(1)) <= 3600
    assert retry_after(html) == int(found.group(1))


async def test_a_rate_limited_section_sets_when_the_card_is_read_again(show, simulator):
    simulator.control.add_fault(status=429, path_prefix="/oncalls", reset_seconds=600)
    html = await show()
    words = text(html)
    assert "High error rate on POST /checkout" in words  # the other sections still show
    assert re.search(r"PagerDuty rate-limited; retrying in \d+ s", words)
    assert retry_after(html) is not None and 590 <= retry_after(html) <= 600  # type: ignore[operator]


async def test_a_card_read_fine_is_not_read_again_early(show, simulator):
    assert retry_after(await show()) is None


async def test_read_only_hides_and_refuses_actions(show, act, simulator):
    settings = PagerDutySettings.model_validate({"readOnly": True})
    html = await show(settings=settings)
    words = text(html)
    for hidden in ("Create Incident", "Acknowledge", "Resolve", "Trigger Incident"):
        assert hidden not in words
    assert "High error rate on POST /checkout" in words
    target = next(i for i in open_incidents(simulator) if i.status == "triggered")
    result = await act("acknowledge", {"incident_id": target.id}, settings=settings)
    assert not result.ok and "readOnly" in result.message
    assert target.status == "triggered"
    result = await act("trigger", {"description": "x", "nonce": "n"}, settings=settings)
    assert not result.ok


async def test_disable_change_events_and_on_call(show, simulator):
    settings = PagerDutySettings.model_validate(
        {"disableChangeEvents": True, "disableOnCall": True}
    )
    simulator.control.requests.clear()
    words = text(await show(settings=settings))
    assert "Change Events" not in words and "ON CALL" not in words
    paths = {r.path for r in simulator.control.requests}
    assert not any("change_events" in p or p == "/oncalls" for p in paths)


async def test_settings_from_plain_config_mapping(show):
    words = text(await show(settings={"readOnly": True}))
    assert "Create Incident" not in words


async def test_failed_trigger_keeps_input_and_opens_dialog(show):
    html = await show(
        form={"description": "Checkout <b>down</b>", "nonce": "nonce-7"}, form_action="trigger"
    )
    assert '<details class="dialog" open' in html
    assert "Checkout &lt;b&gt;down&lt;/b&gt;</textarea>" in html
    assert 'name="nonce" value="nonce-7"' in html


async def test_vendor_text_is_escaped(show, simulator):
    simulator.state.trigger(CHECKOUT_SERVICE_ID, "<script>alert(1)</script>", "xss", "critical")
    html = await show()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_trigger_then_listed_and_double_submit_opens_one(act, show, simulator):
    form = {"description": "Checkout returns 500s", "nonce": "form-1"}
    first = await act("trigger", form)
    assert first.ok and first.message == "Alarm successfully triggered by Ada Lovelace"
    second = await act("trigger", form)
    assert second.ok
    opened = [i for i in open_incidents(simulator) if i.title == "Checkout returns 500s"]
    assert len(opened) == 1
    assert "Checkout returns 500s" in text(await show())


async def test_trigger_failures(act):
    empty = await act("trigger", {"description": "  ", "nonce": "n"})
    assert not empty.ok and empty.message.startswith("Failed to trigger alarm.")
    no_key = await act("trigger", {"description": "x", "nonce": "n"}, entity=SEARCH)
    assert not no_key.ok
    assert no_key.message == (
        "Failed to trigger alarm. Must provide an integration-key to create incidents"
    )


async def test_acknowledge_then_resolve(act, show, simulator):
    target = next(i for i in open_incidents(simulator) if i.status == "triggered")
    await show()  # warm the shared cache, so a stale list would show
    ack = await act("acknowledge", {"incident_id": target.id})
    assert ack.ok and ack.message == f"Incident {target.number} acknowledged"
    assert target.status == "acknowledged"
    assert target.acknowledger_ids == ["PUSR0AL"], "PagerDuty knows who acted (From header)"
    html = await show()
    item = html[html.index(f'data-incident-id="{target.id}"') :]
    item = item[: item.index("</li>")]
    assert "badge-acknowledged" in item and "Acknowledge" not in text(item)
    done = await act("resolve", {"incident_id": target.id})
    assert done.ok and target.status == "resolved"
    assert target.title not in text(await show())


async def test_acting_on_foreign_or_resolved_incidents_fails_clearly(act, simulator):
    foreign = next(i for i in open_incidents(simulator, PAYMENTS_SERVICE_ID))
    result = await act("resolve", {"incident_id": foreign.id})
    assert not result.ok and result.message.startswith("Failed to resolve incident.")
    assert foreign.status != "resolved"
    missing = await act("acknowledge", {"incident_id": ""})
    assert not missing.ok


async def test_acting_without_email(act, simulator):
    target = next(i for i in open_incidents(simulator) if i.status == "triggered")
    result = await act(
        "acknowledge", {"incident_id": target.id}, identity=Identity(user_id="guest")
    )
    assert not result.ok and "email address" in result.message
    assert target.status == "triggered"


async def test_summary(apis, user, simulator):
    from greenroom.testing import card_context

    ctx = card_context(card, CHECKOUT, apis=apis, identity=user)
    line = await card.summary(ctx)
    first = simulator.state.on_call("PEPCHK1")[0][1]
    assert line == f"On call: {simulator.state.users[first].name} · 2 open incidents"
    legacy = await card.summary(card_context(card, LEGACY, apis=apis, identity=user))
    assert legacy == "On call: nobody · 32 open incidents"


async def test_summary_when_unauthorized(apis, user, simulator):
    from greenroom.testing import card_context

    simulator.control.token = "rotated"
    line = await card.summary(card_context(card, CHECKOUT, apis=apis, identity=user))
    assert line == "Missing or invalid PagerDuty Token"


async def test_vendor_links_that_are_not_http_are_not_rendered(show, simulator):
    # A vendor (or something in front of it) sending javascript: links must not get them
    # into an href or src, where a click would run them in the portal's origin.
    simulator.state.html_base = "javascript:alert(document.cookie)//"
    html = await show()
    assert "javascript:" not in html
    assert "Service Directory" not in text(html) and "Escalation Policy" not in text(html)
    assert "Checkout API" in text(html)
