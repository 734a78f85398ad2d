"""An incident's page in a real browser on the demo: open it from `/incidents`, add a note, see
it in the notes and the timeline; the PagerDuty simulator received the note with `From`, and the
audit trail (`/audit`) has the entry."""

from __future__ import annotations

import json
import urllib.request
import uuid

from playwright.sync_api import Page, expect

from .conftest import SCREENSHOTS


def _simulator_requests(base: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{base}/_simulators/pagerduty/_control/requests") as answer:
        return json.loads(answer.read())["requests"]  # type: ignore[no-any-return]


def test_open_an_incident_add_a_note_see_it_in_the_timeline(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/incidents?provider=pagerduty&entity=component:default/checkout-api")
    row = page.locator("li.incident").filter(has_text="High error rate on POST /checkout").first
    row.get_by_role("link", name="High error rate on POST /checkout").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("High error rate on POST /checkout")
    header = page.locator(".incident-detail")
    expect(header).to_contain_text("Checkout API")
    expect(header.get_by_role("link", name="View in PagerDuty")).to_be_visible()
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Triggered through the API")

    words = f"Rolled back release {uuid.uuid4().hex[:8]}"
    page.get_by_label("Add a note").fill(words)
    page.get_by_role("button", name="Add note").click()

    expect(page.locator(".alert-success")).to_contain_text("Note added.")
    note = page.locator(".notes li").filter(has_text=words)
    expect(note).to_have_count(1)
    expect(note.locator(".muted")).not_to_be_empty()  # the author PagerDuty recorded
    expect(page.locator(".timeline li").first).to_contain_text("Note added by")
    expect(page.get_by_label("Add a note")).to_have_value("")

    sent = [
        r
        for r in _simulator_requests(demo_portal)
        if r["method"] == "POST"
        and str(r["path"]).endswith("/notes")
        and r["body"] == {"note": {"content": words}}
    ]
    assert len(sent) == 1
    headers = sent[0]["headers"]
    assert isinstance(headers, dict) and "@" in str(headers.get("from", ""))
    incident_id = str(sent[0]["path"]).split("/")[-2]

    # The audit trail has the note: who, on which entity and incident, what was written.
    page.goto(demo_portal + "/audit?action=incident.note")
    entry = page.locator("tr[data-action='incident.note']").filter(has_text=words)
    expect(entry).to_have_count(1)
    expect(entry).to_have_attribute("data-outcome", "succeeded")
    expect(entry).to_contain_text("component:default/checkout-api")
    expect(entry).to_contain_text(f"pagerduty · {incident_id}")
    page.go_back()

    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "incident_detail_1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "incident_detail_390.png"), full_page=True)


def test_resolved_view(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/incidents")
    page.get_by_role("link", name="Resolved in the last 30 days").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Resolved incidents")
    first = page.locator("li.incident").first
    expect(first.locator(".badge-resolved")).to_be_visible()
    first.locator("a strong").click()
    expect(page.locator(".incident-detail .badge-resolved")).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Resolved")


def test_splunk_on_call_incident_notes(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/incidents?provider=splunk-on-call")
    first = page.locator("li.incident").first
    title = first.locator("a strong").inner_text()
    first.locator("a strong").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".timeline")).to_contain_text("Triggered")
    words = f"Paged the database team {uuid.uuid4().hex[:6]}"
    page.get_by_label("Add a note").fill(words)
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".alert-success")).to_contain_text("Note added.")
    expect(page.locator(".notes li").filter(has_text=words)).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "incident_detail_splunk_1280.png"), full_page=True)
