"""The audit trail, read (/audit, GET /api/audit, the entity page's Recent actions), and actions
while the database is down, on a real portal over the PagerDuty simulator."""

from __future__ import annotations

import socket
from collections.abc import Callable

from .conftest import CHECKOUT, IN_GROUP, NAMED, ONCALL, Live, csrf_of

PROXY_AUTH = """
    auth:
      provider: proxy
      proxy:
        header: X-Forwarded-Email
        groupsHeader: X-Forwarded-Groups
        trustedProxies: [127.0.0.1/32]
"""
RULES = PROXY_AUTH + """
    permissions:
      rules:
        - actions: [audit.read]
          allow: ["group:security"]
        - actions: [incident.resolve]
          allow: [oncall]
"""
AUDITOR = {"X-Forwarded-Email": "sec@example.com", "X-Forwarded-Groups": "security"}


def _act(live: Live, who: str, action: str, incident: str) -> int:
    with live.client({"X-Forwarded-Email": who}) as client:
        token = csrf_of(client.get(CHECKOUT).text)
        return client.post(
            f"{CHECKOUT}/actions/pagerduty/{action}",
            data={"csrf_token": token, "incident_id": incident}, follow_redirects=False,
        ).status_code


def test_the_audit_trail_is_filtered_paged_and_needs_audit_read(
    live_portal: Callable[[str], Live],
) -> None:
    live = live_portal(RULES)
    incidents = [live.new_incident(f"audit-{n}") for n in range(3)]
    assert _act(live, NAMED, "acknowledge", incidents[0]) == 303
    assert _act(live, NAMED, "resolve", incidents[1]) == 403  # not on call
    assert _act(live, ONCALL, "resolve", incidents[2]) == 303

    with live.client({"X-Forwarded-Email": IN_GROUP}) as client:
        refused = client.get("/api/audit")
        assert refused.status_code == 403
        assert "permissions.rules[0]" in refused.json()["detail"]
        assert client.get("/audit").status_code == 403

    with live.client(AUDITOR) as client:
        everything = client.get("/api/audit").json()
        assert [e["action"] for e in everything["entries"]] == [
            "incident.resolve", "incident.resolve", "incident.acknowledge",
        ]
        assert everything["next"] is None
        first = client.get("/api/audit", params={"limit": 2}).json()
        second = client.get("/api/audit", params={"limit": 2, "after": first["next"]}).json()
        assert len(first["entries"]) == 2 and len(second["entries"]) == 1
        assert second["next"] is None
        refusals = client.get("/api/audit", params={"outcome": "refused"}).json()["entries"]
        assert [(e["actor"]["email"], e["incident_id"]) for e in refusals] == [
            (NAMED, incidents[1]),
        ]
        assert "on call" in refusals[0]["message"] or "oncall" in refusals[0]["message"]
        mine = client.get("/api/audit", params={"actor": ONCALL}).json()["entries"]
        assert [(e["outcome"], e["provider"]) for e in mine] == [("succeeded", "pagerduty")]
        by_entity = client.get(
            "/api/audit", params={"entity": "component:default/checkout-api"}
        ).json()["entries"]
        assert len(by_entity) == 3
        assert client.get("/api/audit", params={"since": "not a time"}).status_code == 400
        assert client.get("/api/audit", params={"outcome": "maybe"}).status_code == 400

        page = client.get("/audit", params={"outcome": "refused"})
        assert page.status_code == 200
        assert page.text.count('data-outcome="refused"') == 1
        assert NAMED in page.text
        older = client.get("/audit", params={"limit": 1}).text
        assert 'rel="next"' in older

        entity_page = client.get(CHECKOUT).text
        assert "Recent actions" in entity_page
        assert incidents[2] in entity_page


def test_recent_actions_are_left_out_for_viewers_without_audit_read(
    live_portal: Callable[[str], Live],
) -> None:
    live = live_portal(RULES)
    with live.client({"X-Forwarded-Email": NAMED}) as client:
        assert "Recent actions" not in client.get(CHECKOUT).text


def test_with_the_database_down_actions_are_refused_and_reading_still_works(
    live_portal: Callable[[str], Live],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    live = live_portal(PROXY_AUTH + f"""
    app:
      secret: replicas-share-this-secret-0123456789
    database:
      url: postgresql+psycopg://greenroom:hunter2secret@127.0.0.1:{closed_port}/portal
    """)
    incident = live.new_incident("db-down")
    with live.client({"X-Forwarded-Email": NAMED}) as client:
        page = client.get(CHECKOUT)
        assert page.status_code == 200 and incident in page.text  # reading works
        token = csrf_of(page.text)
        response = client.post(
            f"{CHECKOUT}/actions/pagerduty/acknowledge",
            data={"csrf_token": token, "incident_id": incident}, follow_redirects=False,
        )
    assert response.status_code == 503
    assert "cannot record actions" in response.text
    assert "nothing was sent to PagerDuty" in response.text
    assert f"/incidents/{incident}" in response.text  # a link to act in PagerDuty itself
    assert "hunter2secret" not in response.text
    assert live.writes() == []


def test_scripts_read_the_audit_trail_with_an_api_token_and_pages_send_browsers_to_sign_in(
    live_portal: Callable[[str], Live],
) -> None:
    import hashlib

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nowhere = sock.getsockname()[1]
    token = "gr-audit-bot-7c1f0e9a2b"
    live = live_portal(f"""
    auth:
      provider: oidc
      oidc: {{issuer: "http://127.0.0.1:{nowhere}", clientId: greenroom, clientSecret: s3cret}}
      apiTokens:
        - name: audit-bot
          sha256: {hashlib.sha256(token.encode()).hexdigest()}
          groups: [security]
    permissions:
      rules:
        - actions: [audit.read]
          allow: ["group:security"]
    """)
    with live.client() as client:
        assert client.get("/api/audit").status_code == 401
        wrong = client.get("/api/audit", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
        ok = client.get("/api/audit", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.json() == {"entries": [], "next": None}
        # A token is for /api/... only: pages want a signed-in browser.
        page = client.get(CHECKOUT + "?tab=1", headers={"Authorization": f"Bearer {token}"},
                          follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == (
            "/auth/sign-in?next=%2Fcatalog%2Fdefault%2Fcomponent%2Fcheckout-api%3Ftab%3D1"
        )
        # The identity provider is down: signing in says so instead of failing blindly.
        down = client.get("/auth/sign-in?next=/")
        assert down.status_code == 502 and "did not answer" in down.text
