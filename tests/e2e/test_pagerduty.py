"""PagerDuty in a real browser on the demo: trigger from the dialog, see it listed,
acknowledge it, resolve it."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

from playwright.sync_api import Page, expect


def test_trigger_acknowledge_resolve(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/catalog/default/component/checkout-api")
    card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    expect(card).to_contain_text("ON CALL")
    expect(card.get_by_role("link", name="Service Directory")).to_be_visible()
    expect(card.get_by_role("link", name="Escalation Policy")).to_be_visible()

    title = f"Browser test {uuid.uuid4().hex[:8]}"
    card.locator("summary", has_text="Create Incident").click()
    expect(card).to_contain_text('This action will trigger an incident for "checkout-api".')
    trigger = card.get_by_role("button", name="Trigger Incident")
    expect(trigger).to_be_disabled()  # the description is required, and the page says so
    why = card.locator(".why-disabled")
    expect(why).to_have_text("Fill in Problem description first.")
    expect(trigger).to_have_attribute("aria-describedby", why.get_attribute("id") or "")
    card.get_by_label("Problem description").fill(title)
    expect(trigger).to_be_enabled()
    expect(why).to_have_count(0)
    trigger.click()

    expect(page.locator(".alert-success")).to_contain_text("Alarm successfully triggered by")
    card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    incident = card.locator("li.list-item").filter(has_text=title)
    expect(incident).to_have_count(1)
    expect(incident.locator(".badge-triggered")).to_be_visible()

    incident.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".alert-success")).to_contain_text("acknowledged")
    card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    incident = card.locator("li.list-item").filter(has_text=title)
    expect(incident.locator(".badge-acknowledged")).to_be_visible()
    expect(incident.get_by_role("button", name="Acknowledge")).to_have_count(0)

    incident.get_by_role("button", name="Resolve").click()
    expect(page.locator(".alert-success")).to_contain_text(re.compile("resolved"))
    card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    expect(card.locator("li.list-item").filter(has_text=title)).to_have_count(0)


def test_create_incident_without_integration_key_is_visibly_disabled(
    page: Page, demo_portal: str
) -> None:
    page.goto(demo_portal + "/catalog/default/component/search-indexer")
    card = page.locator('.card-slot[data-card="pagerduty"]')
    button = card.get_by_role("button", name="Create Incident")
    expect(button).to_be_disabled()
    expect(button).to_have_accessible_description(re.compile("integration-key"))
    opacity = button.evaluate("b => getComputedStyle(b).opacity")
    assert float(opacity) < 1, "a disabled button must look disabled"


def test_create_with_an_urgency_goes_to_the_rest_api_with_from(
    page: Page, demo_portal: str
) -> None:
    """Checkout's urgency rule is severity-based, so the dialog offers an urgency; choosing one
    creates the incident with POST /incidents (the Events API cannot set it), as the person."""
    page.goto(demo_portal + "/catalog/default/component/checkout-api")
    card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    title = f"Urgent browser test {uuid.uuid4().hex[:8]}"
    card.locator("summary", has_text="Create Incident").click()
    card.get_by_label("Problem description").fill(title)
    card.locator("summary", has_text="More details").click()
    card.get_by_label("Severity").select_option("warning")  # alone, this would be low
    card.get_by_label("Urgency").select_option("high")
    card.get_by_role("button", name="Trigger Incident").click()

    expect(page.locator(".alert-success")).to_contain_text("with high urgency")
    card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    incident = card.locator("li.list-item").filter(has_text=title)
    expect(incident.locator(".badge-high")).to_have_text("high urgency")

    with urllib.request.urlopen(
        f"{demo_portal}/_simulators/pagerduty/_control/requests"
    ) as answer:
        sent = [
            r for r in json.loads(answer.read())["requests"]
            if r["method"] == "POST" and r["path"] == "/incidents"
            and r["body"]["incident"]["title"] == title
        ]
    assert len(sent) == 1
    assert sent[0]["body"]["incident"]["urgency"] == "high"
    assert "@" in str(sent[0]["headers"].get("from", ""))
