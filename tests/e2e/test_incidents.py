"""`/incidents` and `/oncall` on the demo in a real browser: both providers together, and an
acknowledgement made there reaching the vendor (its simulator) and the service's page."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from greenroom_pagerduty._demo import DEMO_TOKEN


def test_incidents_from_both_providers_together(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/incidents")
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    rows = page.locator("li.incident")
    expect(rows.filter(has_text="PagerDuty").first).to_be_visible()
    expect(rows.filter(has_text="Splunk On-Call").first).to_be_visible()
    expect(page.locator(".provider-failed")).to_have_count(0)
    # Filtering by provider works without JavaScript: a GET form, the filter in the URL.
    page.get_by_label("Provider").select_option(label="Splunk On-Call")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"provider=splunk-on-call"))
    expect(page.locator('li.incident[data-provider="pagerduty"]')).to_have_count(0)
    expect(page.locator('li.incident[data-provider="splunk-on-call"]').first).to_be_visible()


def test_acknowledge_from_incidents_reaches_the_vendor_and_the_entity_page(
    page: Page, start_portal
) -> None:
    # A portal of its own: acknowledging changes the simulator's state.
    url = start_portal("app:\n  title: Greenroom demo\n", demo=True)
    page.goto(url + "/incidents?provider=pagerduty&status=triggered")
    row = page.locator('li.incident[data-provider="pagerduty"]').first
    incident_id = row.get_attribute("data-incident")
    title = row.locator("strong").first.inner_text()
    entity_link = row.locator("a[href^='/catalog/']").first.get_attribute("href")
    # The answer redirects to the very URL the page is on, so wait for that navigation itself
    # (a URL check alone passes at once, before the action has even been sent).
    with page.expect_navigation(
        url=re.compile(r"/incidents\?provider=pagerduty&status=triggered$")
    ):
        row.get_by_role("button", name=re.compile("^Acknowledge")).click()

    # Back on the same filtered view, with the outcome announced.
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator(f'li.incident[data-incident="{incident_id}"]')).to_have_count(0)

    vendor = httpx.get(
        f"{url}/_simulators/pagerduty/incidents/{incident_id}",
        headers={"Authorization": f"Token token={DEMO_TOKEN}",
                 "Accept": "application/vnd.pagerduty+json;version=2"},
    )
    assert vendor.json()["incident"]["status"] == "acknowledged"

    page.goto(url + "/incidents?provider=pagerduty&status=acknowledged")
    # PagerDuty's block is paged: follow its own cursor until the incident shows.
    row = page.locator(f'li.incident[data-incident="{incident_id}"]')
    for _ in range(10):
        expect(page.locator('section.incident-block[data-provider="pagerduty"]')).to_be_visible()
        if row.count():
            break
        page.get_by_role("link", name="Older PagerDuty incidents").click()
    expect(row).to_contain_text(title)
    page.goto(url + entity_link)
    pagerduty_card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    expect(pagerduty_card.locator(f'[data-incident-id="{incident_id}"]')).to_contain_text(
        "acknowledged"
    )


def test_on_call_across_providers(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/oncall")
    expect(page.get_by_role("heading", name="On call")).to_be_visible()
    expect(page.get_by_role("heading", name="team-payments")).to_be_visible()
    payments = page.locator('.oncall-entity[data-entity="component:default/payments-api"]')
    expect(payments).to_contain_text("PagerDuty")
    expect(payments).to_contain_text("Splunk On-Call")
    expect(page.locator(".provider-failed")).to_have_count(0)


def test_each_provider_block_pages_with_its_own_cursor(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/incidents")
    pagerduty = page.locator('section.incident-block[data-provider="pagerduty"]')
    splunk = page.locator('section.incident-block[data-provider="splunk-on-call"]')
    expect(pagerduty.locator("li.incident")).to_have_count(10)
    expect(pagerduty.locator("h2")).to_contain_text(re.compile(r"1–10 of \d+"))
    first_page = pagerduty.locator("li.incident").first.get_attribute("data-incident")
    splunk_ids = splunk.locator("li.incident").evaluate_all(
        "rows => rows.map(r => r.dataset.incident)"
    )
    pagerduty.get_by_role("link", name="Older PagerDuty incidents").click()
    expect(page).to_have_url(re.compile(r"after\.pagerduty="))
    expect(pagerduty.locator("h2")).to_contain_text(re.compile(r"11–\d+ of \d+"))
    expect(pagerduty.locator(f'li.incident[data-incident="{first_page}"]')).to_have_count(0)
    # The other provider's block stayed where it was.
    assert splunk.locator("li.incident").evaluate_all(
        "rows => rows.map(r => r.dataset.incident)"
    ) == splunk_ids
    pagerduty.get_by_role("link", name="Newest PagerDuty incidents").click()
    expect(pagerduty.locator("li.incident").first).to_have_attribute("data-incident", first_page)
