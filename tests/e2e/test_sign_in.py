"""Signing in through a real OpenID Connect provider (oidc-provider-mock on loopback), acting,
signing out, and being sent to sign in again, in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

ADA = "ada.lovelace@example.com"  # a user of the demo's simulated PagerDuty account


@pytest.fixture
def identity_provider() -> Iterator[str]:
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub="ada", claims={"email": ADA, "name": "Ada Lovelace", "groups": ["sre"]})]
    with run_server_in_thread(port=0, user_claims=users, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def test_sign_in_act_sign_out_and_be_sent_to_sign_in_again(
    page: Page, start_portal: Callable[..., str], identity_provider: str,
) -> None:
    portal = start_portal(f"""
auth:
  provider: oidc
  oidc:
    issuer: {identity_provider}
    clientId: greenroom-e2e
    clientSecret: e2e-client-secret-0123456789
    groupsClaim: groups
""")
    entity = f"{portal}/catalog/default/component/checkout-api"
    page.goto(entity)
    # Not signed in: the portal sends the browser to the identity provider.
    expect(page).to_have_url(re.compile(re.escape(identity_provider) + r"/oauth2/authorize"))
    page.get_by_role("button", name="ada").click()
    # Back on the page it asked for, signed in.
    expect(page).to_have_url(entity)
    expect(page.locator(".viewer")).to_have_text("Ada Lovelace")

    card = page.locator(".card-slot").filter(has_text="PagerDuty").first
    incident = card.locator("li.list-item").filter(
        has=page.get_by_role("button", name="Acknowledge")
    ).first
    incident.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(".alert-success")).to_contain_text("acknowledged")

    # The action is in the audit trail under the signed-in user.
    page.goto(f"{portal}/audit")
    row = page.locator("tr[data-action='incident.acknowledge']").first
    expect(row).to_contain_text(ADA)
    expect(row).to_contain_text("succeeded")
    expect(row).to_contain_text("via oidc")
    # So is signing in, readably named.
    signed_in = page.locator("tr[data-action='auth.sign-in']").first
    expect(signed_in).to_contain_text("Sign-in")
    expect(signed_in).to_contain_text(ADA)
    expect(signed_in).to_contain_text("succeeded")

    # Scripts on the portal's pages read the vendor through the proxy as the signed-in user:
    # the session cookie is the only credential this browser holds.
    proxied = page.request.get(f"{portal}/api/proxy/pagerduty/incidents?limit=1")
    assert proxied.status == 200, proxied.text()
    assert "incidents" in proxied.json()

    copied = page.context.cookies()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()

    # Coming back means signing in again...
    page.goto(entity)
    expect(page).to_have_url(re.compile(re.escape(identity_provider) + r"/oauth2/authorize"))
    # ...and a copy of the signed-in cookie, taken before signing out, no longer works.
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        other.add_cookies(copied)  # type: ignore[arg-type]
        stolen = other.new_page()
        stolen.goto(entity)
        expect(stolen).to_have_url(
            re.compile(re.escape(identity_provider) + r"/oauth2/authorize")
        )
        # Nor does it open the proxy.
        refused = other.request.get(f"{portal}/api/proxy/pagerduty/incidents?limit=1")
        assert refused.status == 401, refused.text()
    finally:
        other.close()


def test_an_open_redirect_is_refused_after_sign_in(
    page: Page, start_portal: Callable[..., str], identity_provider: str,
) -> None:
    portal = start_portal(f"""
auth:
  provider: oidc
  oidc: {{issuer: {identity_provider}, clientId: greenroom-e2e, clientSecret: e2e-secret}}
""")
    page.goto(f"{portal}/auth/sign-in?next=https://evil.example.com/")
    page.get_by_role("button", name="ada").click()
    expect(page).to_have_url(f"{portal}/")
