"""PagerDuty webhooks in: signature (with rotation), clock skew, replay, and exactly which cached
reads a verified event makes stale; and the simulator's own signed deliveries.

Payload shapes: the envelope ``{"event": {id, event_type, resource_type, occurred_at, agent,
client, data}}`` and the ``v1=`` HMAC-SHA256 header follow PagerDuty's developer docs
("Webhooks v3 Overview", "Verifying Signatures"). The reference samples hold no webhook body,
so ``data`` is built from the incident in PagerDuty's own example
``samples/pagerduty/GET_incidents_id.200.json`` (the REST spec's example), reduced to the
fields a v3 incident webhook carries, with its service pointed at the simulator's.
"""

from __future__ import annotations

import json
import logging
import os
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from greenroom._portal import Portal, build_portal
from greenroom.web import create_app
from greenroom_pagerduty._webhook import sign, signature_ok
from greenroom_pagerduty.simulator import (
    CHECKOUT_ENTITY,
    CHECKOUT_SERVICE_ID,
    PAYMENTS_ENTITY,
    PAYMENTS_SERVICE_ID,
    write_portal_config,
)
from greenroom_pagerduty.simulator import (
    create_app as create_simulator,
)

from .conftest import REFERENCE, TOKEN, LiveSimulator, serve

SECRET = "whsec-current-0123456789"
OLD_SECRET = "whsec-previous-9876543210"
SAMPLE = REFERENCE / "samples" / "pagerduty" / "GET_incidents_id.200.json"
CHECKOUT = "component:default/checkout"
PAYMENTS = "component:default/payments"
_V3_INCIDENT_FIELDS = (
    "id", "type", "self", "html_url", "status", "incident_key", "created_at", "title",
    "service", "escalation_policy", "teams", "priority", "urgency", "conference_bridge",
    "resolve_reason",
)


def sample_incident(service_id: str) -> dict[str, Any]:
    if not SAMPLE.exists():
        reason = f"PagerDuty's sample incident is missing ({SAMPLE}); set GREENROOM_REFERENCE"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    incident = json.loads(SAMPLE.read_text())["incident"]
    data = {k: incident.get(k) for k in _V3_INCIDENT_FIELDS}
    data["number"] = incident["incident_number"]
    data["assignees"] = [a["assignee"] for a in incident.get("assignments", [])]
    data["service"] = {**incident["service"], "id": service_id}
    return data


def webhook_body(
    service_id: str, *, event_type: str = "incident.acknowledged", age: timedelta = timedelta()
) -> bytes:
    occurred = datetime.now(UTC) - age
    event = {
        "event": {
            "id": uuid.uuid4().hex[:26].upper(),
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "agent": None,
            "client": None,
            "data": sample_incident(service_id),
        }
    }
    return json.dumps(event).encode()


@pytest.fixture
def simulator() -> Iterator[LiveSimulator]:
    app = create_simulator(token=TOKEN)
    for url in serve(app):
        yield LiveSimulator(url, app)


def _portal(tmp_path: Path, simulator_url: str, extra: str = "") -> Portal:
    config = write_portal_config(
        tmp_path, simulator_url, token=TOKEN, entities=(CHECKOUT_ENTITY, PAYMENTS_ENTITY),
        webhook_secrets=[SECRET, OLD_SECRET], extra=extra,
    )
    return build_portal([config], demo=False)


def _reads(simulator: LiveSimulator, path: str) -> int:
    return sum(1 for r in simulator.control.requests if r.method == "GET" and r.path == path)


def _post(client: TestClient, body: bytes, signature: str) -> httpx.Response:
    return client.post(
        "/api/pagerduty/webhook",
        content=body,
        headers={"Content-Type": "application/json", "X-PagerDuty-Signature": signature},
    )


def test_signature_accepts_any_current_secret_and_rejects_the_rest() -> None:
    body = b'{"event": {}}'
    rotated = f"{sign(body, 'old')},{sign(body, 'new')}"
    assert signature_ok(body, rotated, ["new"])
    assert signature_ok(body, sign(body, "old"), ["new", "old"])
    assert not signature_ok(body, sign(body, "old"), ["new"])
    assert not signature_ok(body + b" ", sign(body, "new"), ["new"])
    assert not signature_ok(body, "", ["new"])
    assert not signature_ok(body, sign(body, "new").replace("v1=", "v0="), ["new"])


def test_a_verified_webhook_forgets_exactly_what_it_concerns_and_tells_its_entities(
    tmp_path: Path, simulator: LiveSimulator
) -> None:
    portal = _portal(tmp_path, simulator.url)
    with TestClient(create_app(portal)) as client:
        for name in ("checkout", "payments"):
            assert client.get(f"/catalog/default/component/{name}").status_code == 200
        reads = {path: _reads(simulator, path) for path in ("/incidents", "/services", "/oncalls")}
        assert all(reads.values())
        stream = portal.live.hub.open(lambda e: True, None)

        body = webhook_body(CHECKOUT_SERVICE_ID)
        answer = _post(client, body, sign(body, SECRET))
        assert answer.status_code == 200
        assert answer.json() == {"status": "accepted", "changed": [CHECKOUT]}
        told = [stream.queue.get_nowait().event for _ in range(stream.queue.qsize())]
        assert [(e.entity, e.card) for e in told] == [(CHECKOUT, "pagerduty")]

        for name in ("checkout", "payments"):
            client.get(f"/catalog/default/component/{name}")
        # The account's open incidents are read again; services and on-call stay cached.
        assert _reads(simulator, "/incidents") == reads["/incidents"] + 1
        assert _reads(simulator, "/services") == reads["/services"]
        assert _reads(simulator, "/oncalls") == reads["/oncalls"]

        # Signed with the previous secret during a rotation: still accepted.
        body = webhook_body(PAYMENTS_SERVICE_ID, event_type="incident.resolved")
        answer = _post(client, body, f"{sign(body, 'unknown')},{sign(body, OLD_SECRET)}")
        assert answer.json()["changed"] == [PAYMENTS]


def test_bad_signature_old_timestamp_and_replay_change_nothing(
    tmp_path: Path, simulator: LiveSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    portal = _portal(tmp_path, simulator.url)
    with TestClient(create_app(portal)) as client:
        client.get("/catalog/default/component/checkout")
        reads = _reads(simulator, "/incidents")
        published = portal.live.published

        caplog.set_level(logging.INFO)
        forged = webhook_body(CHECKOUT_SERVICE_ID)
        answer = _post(client, forged, sign(forged, "not-our-secret"))
        assert answer.status_code == 401
        assert _post(client, forged, "").status_code == 401

        old = webhook_body(CHECKOUT_SERVICE_ID, age=timedelta(hours=2))
        answer = _post(client, old, sign(old, SECRET))
        assert answer.status_code == 401
        assert "occurred_at" in answer.json()["error"]
        future = webhook_body(CHECKOUT_SERVICE_ID, age=-timedelta(hours=1))
        assert _post(client, future, sign(future, SECRET)).status_code == 401

        assert portal.live.published == published
        client.get("/catalog/default/component/checkout")
        assert _reads(simulator, "/incidents") == reads  # still cached

        body = webhook_body(CHECKOUT_SERVICE_ID)
        assert _post(client, body, sign(body, SECRET)).json()["status"] == "accepted"
        published = portal.live.published
        client.get("/catalog/default/component/checkout")
        reads = _reads(simulator, "/incidents")
        replay = _post(client, body, sign(body, SECRET))
        assert replay.status_code == 200
        assert replay.json() == {"status": "duplicate", "changed": []}
        assert portal.live.published == published
        client.get("/catalog/default/component/checkout")
        assert _reads(simulator, "/incidents") == reads

        # Refusals are logged without the body they came with.
        refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == 4
        marker = json.loads(forged)["event"]["data"]["title"]
        assert marker and not any(marker in m for m in refusals)


def test_unconfigured_portal_refuses_webhooks(tmp_path: Path, simulator: LiveSimulator) -> None:
    portal = _portal(tmp_path, simulator.url)
    portal.config.data.get("pagerDuty", {}).pop("webhookSecrets", None)
    with TestClient(create_app(portal)) as client:
        body = webhook_body(CHECKOUT_SERVICE_ID)
        answer = _post(client, body, sign(body, SECRET))
        assert answer.status_code == 404
        assert "pagerDuty.webhookSecrets" in answer.json()["error"]


def test_a_change_in_the_simulator_reaches_the_portal_by_signed_webhook(
    tmp_path: Path, simulator: LiveSimulator
) -> None:
    """Acknowledged in the simulator's own "UI": the portal hears of it by webhook at once,
    instead of serving its cached read until the TTL runs out."""
    portal = _portal(tmp_path, simulator.url)
    for portal_url in serve(create_app(portal)):
        subscribe = httpx.post(
            f"{simulator.url}/_control/webhooks",
            json={"url": f"{portal_url}/api/pagerduty/webhook", "secret": SECRET},
        )
        assert subscribe.status_code == 200
        assert SECRET not in subscribe.text
        incident = next(
            i for i in simulator.state.incidents.values()
            if i.service_id == CHECKOUT_SERVICE_ID and i.status == "triggered"
        )
        page = httpx.get(f"{portal_url}/catalog/default/component/checkout", timeout=30)
        assert "badge-triggered" in _row_of(page.text, incident.title)

        done = httpx.post(
            f"{simulator.url}/_control/incidents/{incident.id}/acknowledged",
            json={"email": "grace.hopper@example.com"},
        )
        assert done.status_code == 200
        sender = simulator.app.state.webhooks
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while not sender.deliveries and datetime.now(UTC) < deadline:
            time.sleep(0.05)
        assert [(d.event_type, d.status) for d in sender.deliveries] == [
            ("incident.acknowledged", 200)
        ]
        page = httpx.get(f"{portal_url}/catalog/default/component/checkout", timeout=30)
        assert "badge-acknowledged" in _row_of(page.text, incident.title)


def _row_of(html: str, title: str) -> str:
    """The card's list item that shows the incident titled ``title``."""
    rows = [chunk for chunk in html.split("<li")[1:] if title in chunk.split("</li>")[0]]
    assert len(rows) == 1, f"{title!r} is not shown once"
    return rows[0].split("</li>")[0]


def test_a_portal_that_requires_sign_in_still_takes_signed_webhooks(
    tmp_path: Path, simulator: LiveSimulator
) -> None:
    # The vendor never signs in: its signature is the delivery's authentication.
    signed_in_only = textwrap.dedent("""\
        auth:
          provider: proxy
          proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}
        """)
    portal = _portal(tmp_path, simulator.url, signed_in_only)
    with TestClient(create_app(portal)) as client:
        assert client.get("/catalog/default/component/checkout").status_code in (401, 403)
        body = webhook_body(CHECKOUT_SERVICE_ID)
        assert _post(client, body, sign(body, SECRET)).json()["status"] == "accepted"
        forged = _post(client, body, sign(body, "not-our-secret"))
        assert forged.status_code == 401
