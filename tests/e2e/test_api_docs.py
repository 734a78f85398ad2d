"""/docs and /redoc in a browser that may reach only the portal: both render."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect


def only_the_portal(page: Page, portal: str) -> list[str]:
    blocked: list[str] = []
    host = urlsplit(portal).netloc

    def handle(route: Route) -> None:
        if urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            blocked.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    page.route("**/*", handle)
    return blocked


def test_swagger_ui_renders_offline(page: Page, demo_portal: str) -> None:
    blocked = only_the_portal(page, demo_portal)
    page.goto(demo_portal + "/docs")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("Greenroom")
    expect(page.get_by_text("/api/coverage").first).to_be_visible()
    assert blocked == []


def test_redoc_renders_offline(page: Page, demo_portal: str) -> None:
    blocked = only_the_portal(page, demo_portal)
    page.goto(demo_portal + "/redoc")
    expect(page.locator("h1").first).to_contain_text("Greenroom")
    expect(page.get_by_text("/api/coverage").first).to_be_attached()
    # Only ReDoc's decorative "powered by" logo is asked of its CDN; nothing the page needs.
    assert [b for b in blocked if not b.startswith("image ")] == [], blocked
