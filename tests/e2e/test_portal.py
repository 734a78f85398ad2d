"""The 3 a.m. page in a real browser: the demo catalog, a service with both providers, and a
service whose provider is down."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_home_lists_the_demo_services(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/")
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    table = page.locator("table.catalog")
    for name in ("payments-api", "internal-wiki", "ledger-service"):
        expect(table).to_contain_text(re.compile(name.replace("-", ".?"), re.I))
    expect(page.locator(".demo-banner")).to_contain_text("Demo portal")
    # Searching narrows the list, and the query is kept in the URL.
    page.get_by_label("Search").fill("wiki")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=wiki"))
    expect(page.locator("table.catalog tbody tr")).to_have_count(1)


def test_service_page_shows_both_providers(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/catalog/default/component/payments-api")
    cards = page.locator("#cards")
    pagerduty = cards.locator(".card-slot").filter(has_text="PagerDuty").first
    splunk = cards.locator(".card-slot").filter(has_text="Splunk On-Call").first
    expect(pagerduty).to_contain_text("ON CALL")
    expect(splunk).to_contain_text("ON CALL")
    expect(pagerduty.locator(".alert-error")).to_have_count(0)
    expect(splunk.locator(".alert-error")).to_have_count(0)
    expect(page.locator(".card-loading:visible")).to_have_count(0)


def test_a_failing_provider_breaks_only_its_card(page: Page, start_portal) -> None:
    # PagerDuty's proxy route points at a port nobody listens on; Splunk On-Call is untouched.
    url = start_portal(
        "proxy:\n  endpoints:\n    /pagerduty:\n      target: http://127.0.0.1:9\n", demo=True
    )
    page.goto(url + "/catalog/default/component/payments-api")
    cards = page.locator("#cards")
    pagerduty = cards.locator(".card-slot").filter(has_text="PagerDuty").first
    splunk = cards.locator(".card-slot").filter(has_text="Splunk On-Call").first
    expect(pagerduty.locator(".alert-error")).to_be_visible()
    expect(splunk).to_contain_text("ON CALL")
    expect(splunk.locator(".alert-error")).to_have_count(0)
    # The rest of the page still works.
    page.get_by_role("link", name="Catalog").first.click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
