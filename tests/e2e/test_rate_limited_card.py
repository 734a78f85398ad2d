"""A card whose read was rate limited says when it retries, and the open page re-reads it then,
without a reload (``data-retry-after`` on the card's error box, or on the PagerDuty card when
PagerDuty itself answers 429)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from greenroom import Card, CardContext, RateLimitedError, create_plugin
from greenroom._portal import build_portal
from greenroom.testing import serve_app
from greenroom.web import create_app
from greenroom_pagerduty.simulator import CHECKOUT_ENTITY as PD_ENTITY
from greenroom_pagerduty.simulator import create_app as create_simulator
from greenroom_pagerduty.simulator import write_portal_config

from .conftest import SCREENSHOTS

ENTITY = "/catalog/default/component/checkout"
PD_TOKEN = "e2e-rate-limit-token"
ATTEMPTS: list[int] = []


async def _limited_once(ctx: CardContext) -> str:
    ATTEMPTS.append(1)
    if len(ATTEMPTS) == 1:
        raise RateLimitedError("Acme is rate-limiting requests",
                               retry_at=datetime.now(UTC) + timedelta(seconds=2))
    return '<p class="acme-fresh">Fresh data from Acme</p>'


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: checkout}\nspec: {type: service, owner: team-a}\n"
    )
    config = tmp_path / "app-config.yaml"
    config.write_text("catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
                      "auth: {allowGuests: true}\n"
                      # Open pages are re-read once per TTL: too late to be what refreshes it.
                      "fetch: {cacheTtlSeconds: 600}\n")
    plugin = create_plugin(
        id="acme", cards=[Card(id="acme-card", title="Acme", render=_limited_once)]
    )
    portal = build_portal([config], plugins=[plugin], load_entry_points=False, demo=False)
    ATTEMPTS.clear()
    server = uvicorn.Server(uvicorn.Config(create_app(portal), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = server.force_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("width", [1280, 390])
def test_a_rate_limited_card_says_when_it_retries_and_does(
    browser: Browser, portal: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(portal + ENTITY)
        card = page.locator('.card-slot[data-card="acme-card"]')
        expect(card).to_contain_text("Acme is rate-limiting requests; retrying in", timeout=30_000)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"rate-limited-card-{width}.png"), full_page=True)
        # Two seconds later the page reads the card again by itself.
        expect(card.locator(".acme-fresh")).to_have_text("Fresh data from Acme", timeout=30_000)
        ATTEMPTS.clear()
    finally:
        context.close()


@pytest.fixture
def pagerduty_portal(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A portal over the PagerDuty simulator (both served on loopback) and the simulator."""
    simulator = create_simulator(token=PD_TOKEN)
    with serve_app(simulator) as vendor:
        config = write_portal_config(
            tmp_path, vendor.url, token=PD_TOKEN,
            # Open pages are re-read once per TTL: too late to be what refreshes the card.
            cache_ttl_seconds=600, extra="auth: {allowGuests: true}",
        )
        portal = build_portal([config], demo=False)
        with serve_app(create_app(portal), lifespan="on") as served:
            yield served.url, simulator


@pytest.mark.parametrize("width", [1280, 390])
def test_the_pagerduty_card_rate_limited_by_pagerduty_says_when_it_retries_and_does(
    browser: Browser, pagerduty_portal: tuple[str, Any], width: int
) -> None:
    url, simulator = pagerduty_portal
    # PagerDuty answers the card's first read with 429 and ratelimit-reset: 5 seconds, longer
    # than the client keeps retrying, so the card shows the rate limit.
    simulator.state.control.add_fault(
        status=429, path_prefix="/services", times=1, reset_seconds=5
    )
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(url + PD_ENTITY.path)
        card = page.locator('.card-slot[data-card="pagerduty"]')
        expect(card).to_contain_text(
            re.compile(r"PagerDuty rate-limited; retrying in \d+ s"), timeout=30_000
        )
        expect(card.locator("[data-retry-after]")).to_have_count(1)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"pagerduty-rate-limited-card-{width}.png"), full_page=True
        )
        # When PagerDuty said, the page reads the card again by itself: the incidents show.
        expect(card.get_by_role("heading", name="Incidents")).to_be_visible(timeout=30_000)
        expect(card).not_to_contain_text("rate-limited")
    finally:
        context.close()
