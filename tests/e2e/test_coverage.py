"""The demo's coverage policy in a real browser: the uncovered production service is reminded
on its own page and counted on the coverage page and the home page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_uncovered_service_shows_the_reminder_with_both_snippets(
    page: Page, demo_portal: str
) -> None:
    page.goto(demo_portal + "/catalog/default/component/ledger-service")
    reminder = page.locator(".coverage-reminder")
    expect(reminder).to_contain_text("On-call coverage missing")
    expect(reminder).to_contain_text("production-services")
    expect(reminder.locator('.snippet[data-provider="pagerduty"] pre')).to_contain_text(
        "pagerduty.com/integration-key"
    )
    expect(reminder.locator('.snippet[data-provider="splunk-on-call"] pre')).to_contain_text(
        "splunk.com/on-call-team"
    )


def test_covered_service_has_no_reminder(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/catalog/default/component/payments-api")
    expect(page.locator(".card-slot").first).to_be_visible()
    expect(page.locator(".coverage-reminder")).to_have_count(0)


def test_coverage_page_counts_the_gap(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/coverage")
    expect(page.locator(".coverage-total")).to_contain_text(re.compile(r"\d+% \(\d+ of \d+\)"))
    row = page.locator('tr[data-entity="component:default/ledger-service"]')
    expect(row).to_have_attribute("data-state", "not-covered")
    page.get_by_label("State").select_option("not-covered")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"state=not-covered"))
    expect(page.locator("tr[data-entity]")).to_have_count(1)
    page.goto(demo_portal + "/")
    expect(page.locator(".coverage-summary")).to_contain_text(re.compile(r"\d+% \(\d+ of \d+\)"))
