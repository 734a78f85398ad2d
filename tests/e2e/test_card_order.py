"""Cards stream in the order they finish, but focus and reading order follow the order they are
shown: the top card (PagerDuty) is held back until the others have arrived, then the page is
tabbed through. Without scripts, CSS order still shows the cards in place."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect

from greenroom_pagerduty._demo import DEMO_TOKEN
from greenroom_pagerduty.simulator import create_app as pagerduty_simulator


class HeldChanges:
    """The PagerDuty simulator with its change events held until ``release()``: only the
    PagerDuty card reads them (coverage checks and the metrics card do not)."""

    def __init__(self) -> None:
        self.app = pagerduty_simulator(token=DEMO_TOKEN)
        self.released = threading.Event()

    def release(self) -> None:
        self.released.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/change_events"):
            while not self.released.is_set():
                await asyncio.sleep(0.05)
        await self.app(scope, receive, send)


@pytest.fixture
def held_pagerduty() -> Iterator[tuple[str, HeldChanges]]:
    held = HeldChanges()
    server = uvicorn.Server(
        uvicorn.Config(held, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the simulator's server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", held
    held.release()
    server.should_exit = True
    thread.join(timeout=10)


def portal_with(start_portal: Any, simulator_url: str) -> str:
    # No fetch cache, so every page load asks the (held) simulator again.
    return start_portal(  # type: ignore[no-any-return]
        f"fetch:\n  cacheTtlSeconds: 0\nproxy:\n  endpoints:\n    /pagerduty:\n"
        f"      target: {simulator_url}\n",
        demo=True,
    )


VISUAL_ORDER = """() => [...document.querySelectorAll('#cards > .card-slot')]
  .filter(el => el.offsetParent !== null)
  .map(el => ({card: el.dataset.card, box: el.getBoundingClientRect()}))
  .sort((a, b) => (a.box.top - b.box.top) || (a.box.left - b.box.left))
  .map(x => x.card)"""

FOCUSED_CARD = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const slot = el.closest('.card-slot');
  return {card: slot ? slot.dataset.card : '', inFooter: !!el.closest('footer')};
}"""


def test_tab_meets_cards_in_visual_order_when_the_top_card_finishes_last(
    page: Page, start_portal: Any, held_pagerduty: tuple[str, HeldChanges]
) -> None:
    url, held = held_pagerduty
    portal = portal_with(start_portal, url)
    page.goto(portal + "/catalog/default/component/payments-api", wait_until="commit")
    # Splunk On-Call and Response metrics arrive while PagerDuty, the first card, still loads.
    expect(page.locator('.card-slot[data-card="splunk-on-call"]')).to_contain_text("ON CALL")
    expect(page.locator(".card-slot[data-card=response-metrics]")).to_contain_text("Median")
    loading = page.locator(".card-loading")
    expect(loading).to_have_count(1)
    expect(loading).to_contain_text("PagerDuty")
    held.release()
    expect(page.locator('.card-slot[data-card="pagerduty"]')).to_contain_text("ON CALL")
    expect(page.locator(".card-loading")).to_have_count(0)
    # The arrival was announced politely.
    status = page.locator("#cards-status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text("PagerDuty loaded")

    visual = page.evaluate(VISUAL_ORDER)
    assert visual[0] == "pagerduty", visual
    page.locator("h1").click()
    met: list[str] = []
    for _ in range(300):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED_CARD)
        if focused is None or focused["inFooter"]:
            break
        if focused["card"] and (not met or met[-1] != focused["card"]):
            met.append(focused["card"])
    with_focusables = [card for card in visual if card in met]
    assert met == with_focusables, f"Tab met {met}, the page shows {visual}"
    assert met[0] == "pagerduty" and "splunk-on-call" in met, met


def test_without_scripts_css_order_still_shows_the_top_card_first(
    browser: Browser, start_portal: Any, held_pagerduty: tuple[str, HeldChanges]
) -> None:
    url, held = held_pagerduty
    portal = portal_with(start_portal, url)
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(portal + "/catalog/default/component/payments-api", wait_until="commit")
        expect(page.locator('.card-slot[data-card="splunk-on-call"]')).to_contain_text("ON CALL")
        held.release()
        expect(page.locator('.card-slot[data-card="pagerduty"]')).to_contain_text("ON CALL")
        # Streamed last, so last in the document, yet shown first.
        slots = page.evaluate(
            "() => [...document.querySelectorAll('#cards > .card-slot')].map(e => e.dataset.card)"
        )
        assert slots[-1] == "pagerduty", slots
        assert page.evaluate(VISUAL_ORDER)[0] == "pagerduty"
        expect(page.locator(".card-loading:visible")).to_have_count(0)
    finally:
        context.close()


def test_coverage_line_is_read_where_it_is_shown(page: Page, demo_portal: str) -> None:
    # The home page streams its coverage line after the rows; it is shown under the heading,
    # and with scripts it is also there in the document, before the search form.
    page.goto(demo_portal + "/")
    line = page.locator(".coverage-summary")
    expect(line).to_contain_text("On-call coverage")
    before_form = page.evaluate(
        """() => !!(document.querySelector('.coverage-summary').compareDocumentPosition(
              document.querySelector('form.search')) & Node.DOCUMENT_POSITION_FOLLOWING)"""
    )
    assert before_form, "the coverage line must come before the search form in the document"
    page.locator("h1").click()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == "/coverage"
