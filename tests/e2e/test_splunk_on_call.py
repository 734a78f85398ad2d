"""Splunk On-Call in a real browser on the demo: trigger an incident to a team, see it,
acknowledge it and resolve it, as the demo's guest (mapped by email to a Splunk On-Call user)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect


def test_trigger_acknowledge_and_resolve_an_incident(page: Page, demo_portal: str) -> None:
    title = f"Search results empty {uuid.uuid4().hex[:8]}"
    page.goto(demo_portal + "/catalog/default/component/product-search")
    card = page.locator(".card-slot").filter(has_text="Splunk On-Call").first
    expect(card).to_contain_text("Team: Search")
    expect(card).to_contain_text("ON CALL")

    card.get_by_text("Create Incident").click()
    dialog = card.locator("form.trigger-form")
    expect(dialog).to_contain_text('This action will trigger an incident for "Product Search".')
    dialog.get_by_label("Incident type").select_option("CRITICAL")
    dialog.get_by_label("Incident display name").fill(title)
    dialog.get_by_label("Incident message").fill("Every query returns nothing")
    dialog.get_by_label("Escalation policy: Search On-Call").check()
    dialog.get_by_role("button", name="Trigger Incident").click()

    expect(page.locator(".alert-success")).to_contain_text("Alarm successfully triggered")
    card = page.locator(".card-slot").filter(has_text="Splunk On-Call").first
    incident = card.locator("li.incident").filter(has_text=title)
    expect(incident.locator(".badge")).to_have_text("triggered")
    expect(incident).to_contain_text("Created by guest")
    expect(incident.get_by_role("link", name="View in Splunk On-Call")).to_have_attribute(
        "href", re.compile(r"/incident/\d+/details$")
    )

    incident.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".alert-success")).to_contain_text(
        re.compile(r"Incident #\d+ acknowledged")
    )
    incident = page.locator("li.incident").filter(has_text=title)
    expect(incident.locator(".badge")).to_have_text("acknowledged")
    expect(incident.get_by_role("button", name="Acknowledge")).to_have_count(0)

    incident.get_by_role("button", name="Resolve").click()
    expect(page.locator(".alert-success")).to_contain_text(re.compile(r"Incident #\d+ resolved"))
    expect(page.locator("li.incident").filter(has_text=title)).to_have_count(0)


def test_routing_key_entity_shows_a_card_per_team(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/catalog/default/component/checkout-web")
    slot = page.locator(".card-slot").filter(has_text="Splunk On-Call").first
    expect(slot.locator("section.card")).to_have_count(2)
    expect(slot).to_contain_text("Team: Checkout")
    expect(slot).to_contain_text("Team: payments")
