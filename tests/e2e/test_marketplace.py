"""The plugin directory page in a real browser, against a real `greenroom serve`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]
DIRECTORY = REPO / "marketplace"


def entry(page: Page, title: str) -> Locator:
    return page.locator(".marketplace-entry").filter(
        has=page.get_by_role("heading", name=re.compile(f"^{re.escape(title)}"))
    )


def search_box(page: Page) -> Locator:
    # "Search" is also a category, so ask for the search box by its role.
    return page.get_by_role("searchbox", name="Search")


def test_lists_both_bundled_plugins_as_installed_and_enabled(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/plugins")
    expect(page.get_by_role("heading", name="Plugins", exact=True)).to_be_visible()
    expect(page.get_by_text("Community plugins are not vetted")).to_be_visible()
    for title in ("PagerDuty", "Splunk On-Call"):
        card = entry(page, title)
        expect(card).to_have_count(1)
        expect(card.locator(".marketplace-installed")).to_have_text(re.compile(r"^Installed \S+"))
        expect(card.locator(".badge-enabled")).to_have_text("enabled")
        expect(card.locator("img.marketplace-icon")).to_have_js_property("naturalWidth", 64)
    expect(page.locator("#section-all .marketplace-count")).to_have_text("(2)")


def test_typing_in_the_search_box_narrows_the_list(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/plugins")
    visible = page.locator(".marketplace-entry:visible")
    expect(visible).to_have_count(3)  # both providers and the built-in response metrics

    search_box(page).fill("victorops")  # a tag of Splunk On-Call only
    expect(visible).to_have_count(1)
    expect(entry(page, "Splunk On-Call")).to_be_visible()
    expect(page.locator("#section-all .marketplace-count")).to_have_text("(1)")
    expect(page).to_have_url(re.compile(r"/plugins\?q=victorops$"))  # shareable as typed

    search_box(page).fill("no such plugin anywhere")
    expect(visible).to_have_count(0)
    expect(page.get_by_text("No plugins found")).to_be_visible()

    search_box(page).fill("")
    expect(visible).to_have_count(3)
    expect(page.get_by_text("No plugins found")).to_be_hidden()


def test_category_filter_is_multi_select(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/plugins")
    visible = page.locator(".marketplace-entry:visible")
    page.get_by_label("Security").check()
    expect(visible).to_have_count(0)
    expect(page.get_by_text("No plugins found")).to_be_visible()
    page.get_by_label("Monitoring").check()
    expect(visible).to_have_count(2)
    expect(page).to_have_url(re.compile(r"category=Security"))
    expect(page).to_have_url(re.compile(r"category=Monitoring"))

    # The shared URL shows the same view when opened afresh.
    page.goto(page.url)
    expect(page.get_by_label("Security")).to_be_checked()
    expect(page.get_by_label("Monitoring")).to_be_checked()
    expect(visible).to_have_count(2)


def test_filters_work_without_javascript(browser: Browser, demo_portal: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(demo_portal + "/plugins")
        search_box(page).fill("pager")
        page.get_by_label("Monitoring").check()
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(re.compile(r"q=pager&category=Monitoring"))
        expect(page.locator(".marketplace-entry")).to_have_count(1)
        expect(entry(page, "PagerDuty")).to_be_visible()
        expect(page.locator("#section-all .marketplace-count")).to_have_text("(1)")
    finally:
        context.close()


def test_disabling_a_plugin_in_config_shows_it_disabled(
    page: Page, start_portal: Callable[..., str]
) -> None:
    url = start_portal(
        "plugins:\n"
        "  splunk-on-call:\n"
        "    enabled: false\n"
        "marketplace:\n"
        f"  directory: {DIRECTORY}\n",
        demo=True,
    )
    page.goto(url + "/plugins")
    splunk = entry(page, "Splunk On-Call")
    expect(splunk.locator(".badge-disabled")).to_have_text("disabled")
    expect(splunk.locator(".marketplace-installed")).to_have_text(re.compile(r"^Installed "))
    expect(entry(page, "PagerDuty").locator(".badge-enabled")).to_have_text("enabled")
