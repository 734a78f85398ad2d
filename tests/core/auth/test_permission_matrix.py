"""Who may do what, end to end: five kinds of viewer x trigger, acknowledge, resolve and the
proxy route, through the real portal, with the vendor simulator recording exactly the calls
that were allowed (and the audit trail every attempt)."""

from __future__ import annotations

from collections.abc import Callable

from greenroom._audit import AuditQuery

from .conftest import CHECKOUT, IN_GROUP, NAMED, ONCALL, OWNER, Live, csrf_of

RULES = f"""
    auth:
      provider: proxy
      allowGuests: true
      proxy:
        header: X-Forwarded-Email
        groupsHeader: X-Forwarded-Groups
        trustedProxies: [127.0.0.1/32]
    permissions:
      rules:
        - actions: [incident.trigger]
          allow: [owner, "group:sre"]
        - actions: [incident.acknowledge]
          allow: [oncall, "user:{NAMED}"]
        - actions: [incident.resolve]
          allow: [owner]
        - actions: [proxy.pagerduty]
          allow: ["group:sre"]
"""

VIEWERS: dict[str, dict[str, str]] = {
    "owner": {"X-Forwarded-Email": OWNER},
    "on-call": {"X-Forwarded-Email": ONCALL},
    "group": {"X-Forwarded-Email": IN_GROUP, "X-Forwarded-Groups": "sre"},
    "user": {"X-Forwarded-Email": NAMED},
    "guest": {},
}
ALLOWED = {
    "owner": {"trigger", "resolve"},
    "on-call": {"acknowledge"},
    "group": {"trigger", "proxy"},
    "user": {"acknowledge"},
    "guest": set(),
}
ACTIONS = ("trigger", "acknowledge", "resolve", "proxy")


def _incidents(live: Live) -> dict[tuple[str, str], str]:
    """One open incident per viewer and action, made before any page is read: a person acts
    on incidents the portal showed them, and the portal checks that against its (cached)
    read of the entity's incidents."""
    return {
        (viewer, action): live.new_incident(f"{viewer}-{action}")
        for viewer in VIEWERS for action in ("acknowledge", "resolve")
    }


def _attempt(
    live: Live, viewer: str, action: str, incidents: dict[tuple[str, str], str]
) -> tuple[int, object]:
    """Try one action; returns the portal's status and what the vendor should have seen."""
    headers = VIEWERS[viewer]
    with live.client(headers) as client:
        if action == "proxy":
            response = client.get(f"/api/proxy/pagerduty/services?probe={viewer}")
            return response.status_code, ("GET", "/services", viewer)
        token = csrf_of(client.get(CHECKOUT).text)
        if action == "trigger":
            response = client.post(
                f"{CHECKOUT}/actions/pagerduty/trigger",
                data={"csrf_token": token, "description": f"{viewer} triggers",
                      "nonce": f"n-{viewer}"},
                follow_redirects=False,
            )
            return response.status_code, ("POST", "/v2/enqueue", None)
        incident = incidents[(viewer, action)]
        response = client.post(
            f"{CHECKOUT}/actions/pagerduty/{action}",
            data={"csrf_token": token, "incident_id": incident}, follow_redirects=False,
        )
        return response.status_code, ("PUT", f"/incidents/{incident}", headers.get(
            "X-Forwarded-Email"))


def _vendor_saw(live: Live, expected: object, before: int) -> bool:
    method, path, extra = expected  # type: ignore[misc]
    for request in live.recorded[before:]:
        if request.method != method or request.path != path:
            continue
        if method == "GET":
            return ("probe", extra) in request.query
        if method == "PUT":
            sent_from = {k.lower(): v for k, v in request.headers.items()}.get("from")
            return bool(sent_from == extra)
        return True
    return False


def test_the_simulator_records_exactly_the_allowed_calls(
    live_portal: Callable[[str], Live],
) -> None:
    live = live_portal(RULES)
    incidents = _incidents(live)
    outcomes: dict[tuple[str, str], bool] = {}
    for viewer in VIEWERS:
        for action in ACTIONS:
            before = len(live.recorded)
            status, expected = _attempt(live, viewer, action, incidents)
            saw = _vendor_saw(live, expected, before)
            wanted = action in ALLOWED[viewer]
            outcomes[(viewer, action)] = saw
            if wanted:
                assert status in (200, 303), (viewer, action, status)
            else:
                assert status in (401, 403), (viewer, action, status)
            assert saw == wanted, (viewer, action)
            if not wanted and action != "proxy":
                # Refused before anything changed at the vendor.
                assert not [r for r in live.recorded[before:]
                            if r.method in ("PUT", "POST")], (viewer, action)
    assert {k for k, v in outcomes.items() if v} == {
        (viewer, action) for viewer, actions in ALLOWED.items() for action in actions
    }


async def test_every_attempt_is_in_the_audit_trail_and_refusals_name_the_rule(
    live_portal: Callable[[str], Live],
) -> None:
    live = live_portal(RULES)
    incidents = _incidents(live)
    _attempt(live, "owner", "resolve", incidents)
    _attempt(live, "user", "resolve", incidents)
    for _ in range(3):
        _attempt(live, "user", "proxy", incidents)
    assert live.portal.access is not None
    entries = (await live.portal.access.audit.query(AuditQuery())).entries
    resolved = [e for e in entries if e.action == "incident.resolve"]
    assert {(e.actor.email, e.outcome) for e in resolved} == {
        (OWNER, "succeeded"), (NAMED, "refused"),
    }
    refused = next(e for e in resolved if e.outcome == "refused")
    assert "permissions.rules[2]" in refused.message
    assert refused.entity == "component:default/checkout-api"
    assert refused.provider == "pagerduty" and refused.incident_id
    [proxied] = [e for e in entries if e.action == "proxy.pagerduty"]
    assert (proxied.outcome, proxied.count) == ("refused", 3)


def test_buttons_the_viewer_may_not_use_are_disabled_with_the_reason(
    live_portal: Callable[[str], Live],
) -> None:
    import re

    live = live_portal(RULES)
    live.new_incident("buttons")

    def buttons(html: str, label: str) -> list[str]:
        return re.findall(rf"<button[^>]*>{label}</button>", html)

    with live.client(VIEWERS["on-call"]) as client:
        card = client.get(CHECKOUT).text
        incidents = client.get("/incidents").text
    # On call: acknowledging is allowed, resolving (owner only) is shown but disabled.
    assert buttons(card, "Acknowledge") and not any(
        "disabled" in b for b in buttons(card, "Acknowledge"))
    assert buttons(card, "Resolve") and all("disabled" in b for b in buttons(card, "Resolve"))
    assert "permissions.rules[2]" in card
    row_resolve = [b for b in re.findall(r"<button[^>]*>Resolve</button>", incidents)]
    assert row_resolve and all("disabled" in b for b in row_resolve)

    with live.client(VIEWERS["guest"]) as client:
        page = client.get(CHECKOUT).text
    assert all("disabled" in b for b in buttons(page, "Acknowledge"))
    assert "Guests cannot act" in page
