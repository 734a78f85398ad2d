"""The service mapping page in a real browser: map a demo entity that has no annotations to a
simulator service; its entity page then shows the PagerDuty card, the catalog file on disk is
unchanged, and the export gives the annotation."""

from __future__ import annotations

import hashlib
import urllib.request

from playwright.sync_api import Page, expect

from greenroom._demo import DEMO_DIR
from greenroom_pagerduty.simulator import IDENTITY_SERVICE_ID

from .conftest import SCREENSHOTS

LEDGER = "component:default/ledger-service"


def _digest() -> str:
    return hashlib.sha256((DEMO_DIR / "catalog-info.yaml").read_bytes()).hexdigest()


def test_map_an_entity_to_a_service(page: Page, start_portal: object) -> None:
    # A portal of its own: the mapping must not leak into the other browser tests' demo.
    base = start_portal("app: {title: Mapping test}\n")  # type: ignore[operator]
    before = _digest()
    page.goto(base + "/catalog/default/component/ledger-service")
    expect(page.locator(".card-slot").filter(has_text="PagerDuty")).to_have_count(0)

    # Reachable from the main navigation, not only from the coverage reminder.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mapping").click()
    page.locator(".mapping-providers").get_by_role("link", name="PagerDuty").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Service mapping: PagerDuty")
    checkout = page.locator('tr[data-entity="component:default/checkout-api"]')
    expect(checkout).to_contain_text("Annotated in the catalog")
    row = page.locator(f'tr[data-entity="{LEDGER}"]')
    row.get_by_label("PagerDuty service for Ledger service").select_option(label="Identity Service")
    row.get_by_role("button", name="Save the mapping of Ledger service").click()
    expect(page.locator(".alert-success")).to_contain_text(
        "Ledger service is mapped to Identity Service"
    )
    expect(page.locator(f'tr[data-entity="{LEDGER}"]')).to_contain_text(
        "Mapped to Identity Service"
    )
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "mapping_1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "mapping_390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(base + "/audit?action=mapping.edit")
    entry = page.locator("tr[data-action='mapping.edit']").filter(has_text=LEDGER)
    expect(entry).to_have_count(1)
    expect(entry).to_have_attribute("data-outcome", "succeeded")
    expect(entry).to_contain_text(f"pagerduty.com/service-id: {IDENTITY_SERVICE_ID}")

    page.goto(base + "/catalog/default/component/ledger-service")
    card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    expect(card).to_contain_text("Identity Service")
    expect(card).to_contain_text("ON CALL")

    with urllib.request.urlopen(base + "/mapping/pagerduty/export") as answer:
        exported = answer.read().decode()
    assert "# component:default/ledger-service" in exported
    assert f"    pagerduty.com/service-id: {IDENTITY_SERVICE_ID}" in exported
    assert _digest() == before  # nothing was written to the catalog file
