"""Splunk On-Call outgoing webhooks in: the shared token (URL or header), replay, the one cached
read a delivery concerns; and the simulator's own deliveries reaching a served portal.

Payload shape: Splunk On-Call's outgoing webhooks send whatever template the admin writes
(Splunk On-Call's "Custom Outgoing Webhooks" doc: URL, method, content type and payload are all
configurable, with ``${{...}}`` variables); these tests send the template the plugin's README
suggests, as the simulator does.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from greenroom._portal import Portal, build_portal
from greenroom.web import create_app

from .conftest import API_ID, API_KEY, LiveSimulator, _ServerThread

TOKEN = "splunk-webhook-token-0123456789"
SEARCH = "component:default/product-search"


def _portal(tmp_path: Path, simulator: LiveSimulator) -> Portal:
    (tmp_path / "catalog-info.yaml").write_text(textwrap.dedent("""\
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: product-search
          annotations: {splunk.com/on-call-team: Search}
        spec: {type: service, owner: search}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: unrelated
        spec: {type: service, owner: search}
        """))
    config = tmp_path / "app-config.yaml"
    config.write_text(textwrap.dedent(f"""\
        catalog:
          locations: [{{type: file, target: catalog-info.yaml}}]
        proxy:
          endpoints:
            /splunk-on-call:
              target: {simulator.public_url}
              headers: {{X-VO-Api-Id: {API_ID}, X-VO-Api-Key: {API_KEY}}}
        splunkOnCall:
          webhookToken: {TOKEN}
        plugins:
          pagerduty: {{enabled: false}}
          response-metrics: {{enabled: false}}
        """))
    return build_portal([config], demo=False)


def _body(event_type: str = "Incident-Acknowledged") -> bytes:
    return json.dumps(
        {"id": str(uuid.uuid4()), "type": event_type, "incidentNumber": "1", "phase": "ACKED"}
    ).encode()


def _reads(simulator: LiveSimulator, path: str) -> int:
    return len(simulator.requests("GET", "/api-public" + path))


def test_token_in_url_or_header_replay_and_the_read_it_concerns(
    tmp_path: Path, simulator: LiveSimulator
) -> None:
    portal = _portal(tmp_path, simulator)
    with TestClient(create_app(portal)) as client:
        client.get("/catalog/default/component/product-search")
        incidents = _reads(simulator, "/v1/incidents")
        oncall = _reads(simulator, "/v1/oncall/current")
        assert incidents and oncall

        refused = client.post("/api/splunk-on-call/webhook?token=wrong", content=_body())
        assert refused.status_code == 401
        assert client.post("/api/splunk-on-call/webhook", content=_body()).status_code == 401
        assert portal.live.published == 0

        body = _body()
        answer = client.post(f"/api/splunk-on-call/webhook?token={TOKEN}", content=body)
        assert answer.json() == {"status": "accepted", "changed": [SEARCH]}
        client.get("/catalog/default/component/product-search")
        assert _reads(simulator, "/v1/incidents") == incidents + 1
        assert _reads(simulator, "/v1/oncall/current") == oncall  # still cached

        replay = client.post(
            "/api/splunk-on-call/webhook",
            content=body,
            headers={"X-Greenroom-Webhook-Token": TOKEN},
        )
        assert replay.json() == {"status": "duplicate", "changed": []}

        answer = client.post(
            "/api/splunk-on-call/webhook",
            content=_body("Any-On-Call"),
            headers={"X-Greenroom-Webhook-Token": TOKEN},
        )
        assert answer.json()["changed"] == [SEARCH]
        client.get("/catalog/default/component/product-search")
        assert _reads(simulator, "/v1/oncall/current") == oncall + 1
        assert _reads(simulator, "/v1/incidents") == incidents + 1


def test_a_change_in_the_simulator_reaches_the_portal(
    tmp_path: Path, simulator: LiveSimulator
) -> None:
    portal = _portal(tmp_path, simulator)
    with _ServerThread(create_app(portal)) as portal_url:
        added = httpx.post(
            f"{simulator.url}/_simulator/webhooks",
            json={"url": f"{portal_url}/api/splunk-on-call/webhook?token={TOKEN}"},
        )
        assert added.status_code == 200
        number = next(
            n for n, i in simulator.state.incidents.items() if i.phase == "UNACKED"
        )
        changed = httpx.post(
            f"{simulator.url}/_simulator/incidents/{number}/ACKED", json={"user": "ken.thompson"}
        )
        assert changed.json()["accepted"] is True
        outgoing = simulator.app.state.webhooks
        deadline = time.monotonic() + 30
        while not outgoing.deliveries and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(d.event_type, d.status) for d in outgoing.deliveries] == [
            ("Incident-Acknowledged", 200)
        ]
        assert TOKEN not in repr(outgoing.deliveries)
        assert portal.live.published == 1
