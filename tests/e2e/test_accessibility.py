"""axe-core on every page of the demo, at desktop and phone width: no serious or critical
violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from .conftest import incident_page_path

PAGES = [
    "/",
    "/?q=payments",
    "/incidents",
    "/oncall",
    "/coverage",
    "/plugins",
    "/catalog/default/component/payments-api",
    "/catalog/default/component/checkout-api",
    "/catalog/default/component/search-indexer",
    "/catalog/default/component/ledger-service",
    "/catalog/default/component/internal-wiki",
    "/catalog/default/component/no-such-thing",
    "/incidents/resolved",
    "/readiness",
    "/mapping",
    "/mapping/pagerduty",
    "/mapping/splunk-on-call",
    # An incident's page: the first open incident of the provider, as /incidents links it.
    "detail:pagerduty",
    "detail:splunk-on-call",
]



@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


@pytest.fixture(params=[1280, 390], ids=["desktop", "phone"])
def sized_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": request.param, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("path", PAGES)
def test_no_serious_or_critical_violations(
    sized_page: Page, demo_portal: str, axe: Axe, path: str
) -> None:
    sized_page.goto(demo_portal + incident_page_path(sized_page, demo_portal, path))
    # Open every dialog, so the forms inside are checked too.
    sized_page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    violations = axe.run(sized_page).response["violations"]
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(node["target"][0] for node in v["nodes"][:3])
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, "\n".join(bad)
