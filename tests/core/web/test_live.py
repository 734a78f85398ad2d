"""The event stream over a real server: what a page hears, catch-up with Last-Event-ID, a refresh
for an unknown id, actions pushed at once (with their invalidations), and the watcher that
re-reads what open pages show once per TTL, however many are watching.

Vendor reads are served by the PagerDuty simulator on loopback, as in production.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from greenroom._portal import Portal, build_portal
from greenroom.testing import serve_app
from greenroom.web import create_app
from greenroom_pagerduty._webhook import sign
from greenroom_pagerduty.simulator import (
    CHECKOUT_ENTITY,
    CHECKOUT_SERVICE_ID,
    PAYMENTS_ENTITY,
    PAYMENTS_SERVICE_ID,
    write_portal_config,
)
from greenroom_pagerduty.simulator import create_app as create_simulator

TOKEN = "live-test-token"
SECRET = "live-test-webhook-secret"
CHECKOUT = "component:default/checkout"
PAYMENTS = "component:default/payments"


def _serve(app: Any) -> Iterator[str]:
    """The URL of ``app`` (a portal or a simulator) served on loopback, start-up run."""
    with serve_app(app, lifespan="on") as served:
        yield served.url


@pytest.fixture
def simulator() -> Iterator[tuple[str, Any]]:
    app = create_simulator(token=TOKEN)
    for url in _serve(app):
        yield url, app


def _portal(tmp_path: Path, simulator_url: str, ttl: float) -> Portal:
    config = write_portal_config(
        tmp_path, simulator_url, token=TOKEN, cache_ttl_seconds=ttl, webhook_secrets=[SECRET],
        entities=(CHECKOUT_ENTITY, PAYMENTS_ENTITY),
        extra="""\
        auth:
          provider: proxy
          allowGuests: true
          proxy: {header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}
        """,
    )
    return build_portal([config], demo=False)


class EventReader:
    """Reads server-sent events from a streaming response on a thread of its own."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, str]] = []
        self.status = 0
        self._client = httpx.Client(timeout=httpx.Timeout(60, read=None))
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}), daemon=True)
        self._stop = False
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                self.status = response.status_code
                current: dict[str, str] = {}
                for line in response.iter_lines():
                    if self._stop:
                        return
                    if not line:
                        if current:
                            self.events.append(current)
                        current = {}
                    elif not line.startswith(":"):
                        field, _, value = line.partition(":")
                        current[field] = value.strip()
        except httpx.HTTPError:
            pass

    def wait_for(self, kind: str, count: int = 1, timeout: float = 30) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if e.get("event") == kind]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no {count} {kind!r} events in {timeout} s: {self.events}")

    def close(self) -> None:
        self._stop = True
        self._client.close()


def _incident_reads(app: Any) -> int:
    """Reads of open incidents (the account-wide index the card is built from)."""
    requests = app.state.control.requests
    return sum(1 for r in requests if r.method == "GET" and r.path == "/incidents")


def _webhook(url: str, service_id: str) -> None:
    event = {"event": {
        "id": uuid.uuid4().hex, "event_type": "incident.acknowledged", "resource_type": "incident",
        "occurred_at": datetime.now(UTC).isoformat(), "data": {"service": {"id": service_id}},
    }}
    body = json.dumps(event).encode()
    answer = httpx.post(
        f"{url}/api/pagerduty/webhook", content=body,
        headers={"X-PagerDuty-Signature": sign(body, SECRET)},
    )
    assert answer.status_code == 200, answer.text


def test_a_page_hears_changes_to_what_it_shows_and_catches_up_after_a_reconnect(
    tmp_path: Path, simulator: tuple[str, Any]
) -> None:
    portal = _portal(tmp_path, simulator[0], ttl=600)
    for url in _serve(create_app(portal)):
        stream = f"{url}/api/live/events?watch=entity:{CHECKOUT}"
        assert httpx.get(f"{url}/api/live/events").status_code == 400
        reader = EventReader(stream)
        ready = reader.wait_for("ready")[0]
        assert reader.status == 200 and ready["id"]

        _webhook(url, PAYMENTS_SERVICE_ID)  # not shown by this page
        _webhook(url, CHECKOUT_SERVICE_ID)
        change = reader.wait_for("change")[0]
        assert json.loads(change["data"])["entity"] == CHECKOUT
        assert json.loads(change["data"])["card"] == "pagerduty"
        time.sleep(0.3)
        assert len(reader.wait_for("change")) == 1
        reader.close()

        _webhook(url, CHECKOUT_SERVICE_ID)  # while the page is away
        again = EventReader(stream, {"Last-Event-ID": change["id"]})
        missed = again.wait_for("change")
        assert len(missed) == 1 and missed[0]["id"] != change["id"]
        again.close()

        # An id this replica never issued (another replica's, or from before a restart).
        stranger = EventReader(f"{stream}&last=another-replica-7")
        stranger.wait_for("refresh")
        stranger.close()


def _wait(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_open_pages_are_re_read_once_per_ttl_however_many_watch(
    tmp_path: Path, simulator: tuple[str, Any]
) -> None:
    simulator_url, simulator_app = simulator
    portal = _portal(tmp_path, simulator_url, ttl=0.4)
    app = create_app(portal)
    for url in _serve(app):
        watcher = app.state.live_watcher
        started = time.monotonic()
        viewers = [
            EventReader(f"{url}/api/live/events?watch=entity:{CHECKOUT}") for _ in range(5)
        ]
        for viewer in viewers:
            viewer.wait_for("ready")
        _wait(lambda w=watcher: w.probes >= 3)
        assert watcher.watched == [f"entity:{CHECKOUT}"]

        # Acknowledged in PagerDuty, no webhook: the next re-read finds it and tells everyone.
        state = simulator_app.state.pagerduty
        incident = next(
            i for i in state.incidents.values()
            if i.service_id == CHECKOUT_SERVICE_ID and i.status == "triggered"
        )
        state.set_status(incident, "acknowledged", None)
        for viewer in viewers:
            change = viewer.wait_for("change")[0]
            assert json.loads(change["data"]) | {"version": ""} == {
                "entity": CHECKOUT, "card": "pagerduty", "version": ""
            }
        # One read of the open incidents per re-read, not one per viewer (a re-read may
        # be under way while counting).
        before = watcher.probes
        reads = _incident_reads(simulator_app)
        assert before - 1 <= reads <= watcher.probes
        # At most one re-read per TTL since the first viewer came (a slower machine makes
        # fewer); one loop per viewer would make five times as many.
        assert reads <= (time.monotonic() - started) / 0.4 + 2
        for viewer in viewers:
            viewer.close()


def test_an_action_in_the_portal_is_pushed_at_once_with_what_it_made_stale(
    tmp_path: Path, simulator: tuple[str, Any]
) -> None:
    simulator_url, simulator_app = simulator
    portal = _portal(tmp_path, simulator_url, ttl=600)
    for url in _serve(create_app(portal)):
        viewer = EventReader(f"{url}/api/live/events?watch=entity:{CHECKOUT}")
        viewer.wait_for("ready")
        # Guests read but never act: the action comes through the trusted (loopback) proxy.
        with httpx.Client(base_url=url, headers={"X-Forwarded-Email": "ada@example.com"}) as web:
            page = web.get("/catalog/default/component/checkout").text
            token = page.split('name="csrf_token" value="')[1].split('"')[0]
            incident = page.split('name="incident_id" value="')[1].split('"')[0]
            done = web.post(
                "/catalog/default/component/checkout/actions/pagerduty/acknowledge",
                data={"csrf_token": token, "incident_id": incident},
            )
            assert done.status_code == 303, done.text
        change = viewer.wait_for("change")[0]
        assert json.loads(change["data"])["card"] == "pagerduty"
        event = next(n.event for n in portal.live.hub._history if n.event.source == "action")
        assert event.entity == CHECKOUT
        assert any(prefix.endswith("/pagerduty/incidents") for prefix in event.invalidate)
        viewer.close()


@pytest.mark.parametrize("view", ["incidents", "home"])
def test_list_pages_hear_of_changes_found_by_re_reading(
    tmp_path: Path, simulator: tuple[str, Any], view: str
) -> None:
    simulator_url, simulator_app = simulator
    portal = _portal(tmp_path, simulator_url, ttl=0.4)
    app = create_app(portal)
    for url in _serve(app):
        viewer = EventReader(f"{url}/api/live/events?watch={view}")
        viewer.wait_for("ready")
        _wait(lambda: app.state.live_watcher.probes >= 2)
        state = simulator_app.state.pagerduty
        incident = next(
            i for i in state.incidents.values()
            if i.service_id == PAYMENTS_SERVICE_ID and i.status == "triggered"
        )
        state.set_status(incident, "acknowledged", None)
        change = viewer.wait_for("change")[0]
        assert json.loads(change["data"])["entity"] == PAYMENTS
        viewer.close()
