"""auth.provider: proxy through the real portal: the identity header counts only from a trusted
peer, a signed assertion only when it verifies, and the vendor hears nothing otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from joserfc.jwk import RSAKey

from .conftest import CHECKOUT, NAMED, Live, csrf_of, signed

ACK = f"{CHECKOUT}/actions/pagerduty/acknowledge"


def _acknowledge(live: Live, headers: dict[str, str], incident_id: str) -> Any:
    with live.client(headers) as client:
        token = csrf_of(client.get(CHECKOUT).text)
        return client.post(ACK, data={"csrf_token": token, "incident_id": incident_id},
                           follow_redirects=False)


def test_an_untrusted_peer_cannot_act_by_sending_the_header(
    live_portal: Callable[[str], Live],
) -> None:
    # The portal's only trusted proxy is elsewhere: this test's loopback peer is not it.
    live = live_portal("""
        auth:
          provider: proxy
          allowGuests: true
          proxy: {header: X-Forwarded-Email, trustedProxies: [10.20.30.40/32]}
    """)
    incident = live.new_incident("untrusted")
    response = _acknowledge(live, {"X-Forwarded-Email": NAMED}, incident)
    assert response.status_code == 403
    assert "Guests cannot act" in response.text
    assert live.writes() == []
    assert live.sim_state.incidents[incident].status == "triggered"
    # The proxy route is refused too, and never reaches the vendor.
    with live.client({"X-Forwarded-Email": NAMED}) as client:
        proxied = client.get("/api/proxy/pagerduty/users/me?probe=untrusted")
    assert proxied.status_code in (401, 403)
    assert not any(("probe", "untrusted") in r.query for r in live.recorded)


def test_a_trusted_peer_acts_as_the_user_it_names(live_portal: Callable[[str], Live]) -> None:
    live = live_portal("""
        auth:
          provider: proxy
          proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}
    """)
    incident = live.new_incident("trusted")
    response = _acknowledge(live, {"X-Forwarded-Email": NAMED}, incident)
    assert response.status_code == 303, response.text
    assert live.writes() == [("PUT", f"/incidents/{incident}", NAMED)]
    assert live.sim_state.incidents[incident].status == "acknowledged"


def test_without_allow_guests_a_visitor_the_proxy_did_not_name_sees_nothing(
    live_portal: Callable[[str], Live],
) -> None:
    live = live_portal("""
        auth:
          provider: proxy
          proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}
    """)
    with live.client() as client:
        page = client.get(CHECKOUT)
        api = client.get("/api/audit")
    assert page.status_code == 401 and "authenticating proxy" in page.text
    assert api.status_code == 401


# -- signed assertions --------------------------------------------------------------------------

ISSUER = "https://iap.example.com"
AUDIENCE = "/projects/42/backendServices/7"


def _assertion(key: RSAKey, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "email": NAMED, "iat": now, "exp": now + 600}
    claims.update(changes)
    return signed(key, claims)


@pytest.fixture
def jwt_portal(live_portal: Callable[[str], Live], jwks_url: str) -> Live:
    return live_portal(f"""
        auth:
          provider: proxy
          allowGuests: true
          proxy:
            trustedProxies: [127.0.0.1/32]
            jwt:
              header: X-Goog-IAP-JWT-Assertion
              jwksUrl: {jwks_url}
              issuer: {ISSUER}
              audience: {AUDIENCE}
    """)


def test_a_valid_assertion_acts(jwt_portal: Live, signing_key: RSAKey) -> None:
    incident = jwt_portal.new_incident("valid-jwt")
    headers = {"X-Goog-IAP-JWT-Assertion": _assertion(signing_key)}
    response = _acknowledge(jwt_portal, headers, incident)
    assert response.status_code == 303, response.text
    assert jwt_portal.writes() == [("PUT", f"/incidents/{incident}", NAMED)]


@pytest.mark.parametrize("case", ["forged", "expired", "wrong audience"])
def test_a_bad_assertion_is_refused_and_the_vendor_hears_nothing(
    jwt_portal: Live, signing_key: RSAKey, case: str,
) -> None:
    if case == "forged":
        assertion = _assertion(RSAKey.generate_key(2048, parameters={"kid": signing_key.kid},
                                                   auto_kid=False))
    elif case == "expired":
        now = int(time.time())
        assertion = _assertion(signing_key, iat=now - 7200, exp=now - 3600)
    else:
        assertion = _assertion(signing_key, aud="/projects/42/backendServices/other")
    incident = jwt_portal.new_incident(f"bad-{case}")
    response = _acknowledge(jwt_portal, {"X-Goog-IAP-JWT-Assertion": assertion}, incident)
    assert response.status_code == 403
    assert jwt_portal.writes() == []
    assert jwt_portal.sim_state.incidents[incident].status == "triggered"
    # The plain header is not believed either when assertions are required.
    plain = _acknowledge(jwt_portal, {"X-Forwarded-Email": NAMED}, incident)
    assert plain.status_code == 403
    assert jwt_portal.writes() == []
