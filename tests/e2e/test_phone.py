"""The demo at phone width (390 px): no column hidden, nothing off-screen, no horizontal scroll,
and every touch target at least 44 px tall."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import SCREENSHOTS, incident_page_path

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    except Exception:  # noqa: BLE001 - a screenshot is a courtesy, never a failure
        pass
    context.close()


# Every table cell of every stacked table: shown, inside the screen, and labelled with its
# column's header (so a stacked row still says which column each value is).
TABLE_CELLS = """(selector) => [...document.querySelectorAll(selector)].map(table => {
  const headers = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
  return [...table.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(cell => {
    const box = cell.getBoundingClientRect();
    const style = getComputedStyle(cell);
    const label = cell.dataset.label || '';
    return {
      text: cell.textContent.trim(), label,
      shown: style.display !== 'none' && style.visibility !== 'hidden' && box.width > 0,
      inside: box.left >= 0 && box.right <= window.innerWidth + 0.5,
      labelShown: !label || getComputedStyle(cell, '::before').content.includes(label),
      headers,
    };
  }));
})"""

SMALL_TARGETS = """() => [...document.querySelectorAll(
    'button, select, input:not([type=hidden]), textarea, summary, .topbar a, td a, .card-links a')]
  .filter(el => el.offsetParent !== null && el.closest('main, header, footer'))
  .map(el => ({el: el.outerHTML.slice(0, 120), h: el.getBoundingClientRect().height}))
  .filter(x => x.h < 43.5)"""


def assert_fits(page: Page) -> None:
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"page scrolls sideways: {width[0]} px on a {width[1]} px screen"
    small = page.evaluate(SMALL_TARGETS)
    assert not small, f"touch targets under 44 px: {small[:5]}"


def check_tables(page: Page, selector: str) -> list[list[dict[str, Any]]]:
    tables = page.evaluate(TABLE_CELLS, selector)
    assert tables, f"no {selector} on the page"
    rows = [row for table in tables for row in table]
    for row in rows:
        headers = [h for h in row[0]["headers"] if h]
        labels = [cell["label"] for cell in row if cell["label"]]
        # Every named column is in every row, under its own label.
        assert set(headers) - {row[0]["headers"][0]} <= set(labels) | {""}, (headers, labels)
        for cell in row:
            assert cell["shown"], f"hidden cell {cell}"
            assert cell["inside"], f"cell off-screen {cell}"
            assert cell["labelShown"], f"cell without its label {cell}"
    return rows


def test_catalog_shows_every_column(phone: Page, demo_portal: str) -> None:
    phone.goto(demo_portal + "/")
    rows = check_tables(phone, "table.catalog")
    by_label = {cell["label"]: cell for cell in rows[0]}
    assert set(by_label) == {"Name", "Kind", "Owner", "Providers", "Now"}
    payments = next(r for r in rows if r[0]["text"].startswith("Payments API"))
    cells = {cell["label"]: cell["text"] for cell in payments}
    assert cells["Kind"] == "Component" and cells["Owner"] == "team-payments"
    assert "PagerDuty" in cells["Providers"] and "Splunk On-Call" in cells["Providers"]
    assert "Response metrics" not in cells["Providers"]
    assert "on call" in cells["Now"]
    expect(phone.locator("table.catalog td[data-label=Now]").first).to_be_in_viewport()
    assert_fits(phone)


def test_coverage_shows_every_column(phone: Page, demo_portal: str) -> None:
    phone.goto(demo_portal + "/coverage")
    rows = check_tables(phone, "table.coverage")
    ledger = next(r for r in rows if r[0]["text"].startswith("Ledger service"))
    cells = {cell["label"]: cell["text"] for cell in ledger}
    assert cells["State"] == "not covered"
    assert cells["Why"] == "no incident provider annotation"
    assert cells["Rules"] == "production-services"
    assert_fits(phone)


def test_incidents_show_every_field(phone: Page, demo_portal: str) -> None:
    phone.goto(demo_portal + "/incidents")
    incidents = phone.locator("li.incident")
    expect(incidents.first).to_be_visible()
    outside = phone.evaluate("""() => [...document.querySelectorAll('li.incident *')]
      .filter(el => el.offsetParent !== null)
      .filter(el => { const b = el.getBoundingClientRect();
                      return b.width > 0 && (b.left < 0 || b.right > window.innerWidth + 0.5); })
      .map(el => el.outerHTML.slice(0, 100))""")
    assert not outside, f"incident details off-screen: {outside[:3]}"
    first = incidents.first
    expect(first.locator(".badge").first).to_be_visible()
    expect(first.locator("strong")).to_be_visible()
    expect(first.locator("time")).to_be_visible()
    expect(first.get_by_role("button").first).to_be_visible()
    assert_fits(phone)


def test_mapping_shows_every_column(phone: Page, demo_portal: str) -> None:
    phone.goto(demo_portal + "/mapping/pagerduty")
    rows = check_tables(phone, "table.mapping")
    ledger = next(r for r in rows if r[0]["text"].startswith("Ledger service"))
    cells = {cell["label"]: cell["text"] for cell in ledger}
    assert cells["Status"] == "Not mapped." and "Save" in cells["PagerDuty service"]
    save = phone.get_by_role("button", name="Save the mapping of Ledger service")
    save.scroll_into_view_if_needed()
    expect(save).to_be_in_viewport(ratio=1)
    assert_fits(phone)


def test_metrics_card_shows_every_column(phone: Page, demo_portal: str) -> None:
    phone.goto(demo_portal + "/catalog/default/component/payments-api")
    card = phone.locator(".card-slot[data-card=response-metrics]")
    expect(card).to_contain_text("Median")
    rows = check_tables(phone, "table.metrics")
    labels = [[cell["label"] for cell in row if cell["label"]] for row in rows]
    assert labels == [["Median", "90th percentile", "Incidents"]] * 2
    for row in rows:
        assert all(cell["text"] for cell in row), row
    expect(card.locator("td[data-label=Median]").first).to_be_visible()
    assert_fits(phone)


@pytest.mark.parametrize(
    "path",
    ["/oncall", "/plugins", "/catalog/default/component/payments-api",
     "/catalog/default/component/product-search", "/catalog/default/component/ledger-service",
     "/catalog/default/component/search-indexer", "/incidents/resolved", "/readiness",
     "/mapping", "/mapping/pagerduty", "/mapping/splunk-on-call", "detail:pagerduty",
     "detail:splunk-on-call"],
)
def test_every_other_page_fits_with_large_touch_targets(
    phone: Page, demo_portal: str, path: str
) -> None:
    phone.goto(demo_portal + incident_page_path(phone, demo_portal, path))
    # Dialogs open too, so their forms are measured.
    phone.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    assert_fits(phone)
