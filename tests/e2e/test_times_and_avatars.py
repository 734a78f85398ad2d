"""Times in the viewer's own time zone (UTC on hover, UTC without scripts), avatars that fall
back to initials when their picture cannot load, and one status vocabulary everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

KOLKATA = timedelta(hours=5, minutes=30)  # a zone no test machine is in by accident


@pytest.fixture
def kolkata(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    scripts = getattr(request, "param", True)
    context = browser.new_context(
        timezone_id="Asia/Kolkata", locale="en-US", java_script_enabled=scripts,
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_times_show_local_time_with_utc_on_hover(kolkata: Page, demo_portal: str) -> None:
    kolkata.goto(demo_portal + "/incidents")
    age = kolkata.locator("li.incident time").first
    expect(age).to_have_attribute(
        "title", re.compile(r"GMT\+5:30 \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$")
    )
    title = age.get_attribute("title") or ""
    utc = datetime.strptime(title.rsplit("(", 1)[1][:16], "%Y-%m-%d %H:%M")
    local = utc + KOLKATA
    # The same moment, shown in Kolkata: 5 h 30 later on the clock.
    assert local.strftime("%I:%M") in title and local.strftime("%b %-d,") in title, title
    expect(age).to_contain_text(re.compile(r"ago|just now"))  # the age keeps its words

    kolkata.goto(demo_portal + "/oncall")
    until = kolkata.locator("li.oncall-person time").first
    expect(until).to_contain_text("GMT+5:30")
    expect(until).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))


@pytest.mark.parametrize("kolkata", [False], indirect=True, ids=["no-scripts"])
def test_without_scripts_times_stay_in_utc(kolkata: Page, demo_portal: str) -> None:
    kolkata.goto(demo_portal + "/oncall")
    until = kolkata.locator("li.oncall-person time").first
    expect(until).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    kolkata.goto(demo_portal + "/incidents")
    expect(kolkata.locator("li.incident time").first).to_have_attribute(
        "title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")
    )


def test_avatars_fall_back_to_initials_offline(page: Page, demo_portal: str) -> None:
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: route.abort())
    page.goto(demo_portal + "/catalog/default/component/payments-api")
    card = page.locator('.card-slot[data-card="pagerduty"]')
    person = card.locator(".pagerduty-oncall li").first
    expect(person).to_contain_text("Katherine Johnson")
    avatar = person.locator(".avatar")
    expect(avatar).to_have_text("KJ")
    expect(avatar.locator("img")).to_have_count(0)  # the broken picture is gone
    box = avatar.bounding_box()
    assert box is not None and box["width"] >= 28


def test_one_status_vocabulary(page: Page, demo_portal: str) -> None:
    page.goto(demo_portal + "/catalog/default/component/payments-api")
    badges = page.locator(".card-slot .badge-triggered, .card-slot .badge-acknowledged")
    expect(badges.first).to_be_visible()
    words = set(badges.all_inner_texts())
    assert words <= {"triggered", "acknowledged"}, words
    expect(page.locator(".card-slot", has_text=re.compile(r"\bUN?ACKED\b"))).to_have_count(0)
