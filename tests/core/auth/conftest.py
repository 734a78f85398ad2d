"""A real portal and a real PagerDuty simulator, each served by uvicorn on loopback, so that the
TCP peer, the session cookie and every request the vendor receives are the real thing."""

from __future__ import annotations

import contextlib
import json
import re
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from greenroom._portal import Portal, build_portal
from greenroom.testing import serve_app
from greenroom.web import create_app
from greenroom_pagerduty.simulator import (
    CHECKOUT_INTEGRATION_KEY,
    CHECKOUT_SERVICE_ID,
    MappedEntity,
    write_portal_config,
)
from greenroom_pagerduty.simulator import create_app as create_simulator

SIM_TOKEN = "auth-test-pagerduty-token"
CHECKOUT = "/catalog/default/component/checkout-api"
# People of the simulated PagerDuty account, each with one way of being allowed.
OWNER = "linus.torvalds@example.com"  # in team-commerce, which owns checkout-api (catalog)
ONCALL = "grace.hopper@example.com"  # second level of Checkout's escalation policy
IN_GROUP = "katherine.johnson@example.com"  # the proxy says: groups sre
NAMED = "barbara.liskov@example.com"  # named by a user: rule
# Checkout, owned by team-commerce, which linus belongs to (rules allowing the owner read this).
CHECKOUT_API = MappedEntity(
    "checkout-api", {"pagerduty.com/integration-key": CHECKOUT_INTEGRATION_KEY}, "team-commerce"
)
PEOPLE = (
    {
        "apiVersion": "backstage.io/v1alpha1", "kind": "User", "metadata": {"name": "linus"},
        "spec": {"profile": {"email": OWNER}, "memberOf": ["team-commerce"]},
    },
    {
        "apiVersion": "backstage.io/v1alpha1", "kind": "Group",
        "metadata": {"name": "team-commerce"}, "spec": {"type": "team", "children": []},
    },
)


def serve(app: Any) -> tuple[str, Callable[[], None]]:
    """``app`` on loopback, seeing the real TCP peer (no X-Forwarded-For): its URL and a stop."""
    stack = contextlib.ExitStack()
    served = stack.enter_context(
        serve_app(app, lifespan="auto", start_timeout=120, proxy_headers=False)
    )
    return served.url, stack.close


@dataclass
class Live:
    url: str
    portal: Portal
    simulator_url: str
    simulator: Any
    stops: list[Callable[[], None]] = field(default_factory=list)

    @property
    def sim_state(self) -> Any:
        return self.simulator.state.pagerduty

    @property
    def recorded(self) -> list[Any]:
        return list(self.simulator.state.control.requests)

    def writes(self) -> list[tuple[str, str, str | None]]:
        """Every state-changing request the vendor received: (method, path, From)."""
        return [
            (r.method, r.path, {k.lower(): v for k, v in r.headers.items()}.get("from"))
            for r in self.recorded if r.method in ("POST", "PUT", "DELETE")
        ]

    def new_incident(self, title: str) -> str:
        incident = self.sim_state.trigger(CHECKOUT_SERVICE_ID, title, f"key-{title}", "high")
        return str(incident.id)

    def client(self, headers: dict[str, str] | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers or {}, timeout=60)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@pytest.fixture
def live_portal(tmp_path: Path) -> Iterator[Callable[[str], Live]]:
    """``live_portal(extra_config)``: a portal over the simulator with ``extra_config`` (YAML)."""
    made: list[Live] = []

    def make(extra: str) -> Live:
        simulator = create_simulator(token=SIM_TOKEN)
        sim_url, stop_sim = serve(simulator)
        config = write_portal_config(
            tmp_path, sim_url, token=SIM_TOKEN, entities=[CHECKOUT_API], documents=PEOPLE,
            extra=f"pagerDuty: {{eventsBaseUrl: {sim_url}/v2}}\n" + textwrap.dedent(extra),
        )
        # The portal's own URL is known only once it listens: build it for a placeholder
        # port, then serve; the proxy routes point at the simulator, not at the portal.
        portal = build_portal([config], demo=False, base_url="http://127.0.0.1:9")
        app = create_app(portal)
        url, stop_portal = serve(app)
        portal.base_url = url
        live = Live(url, portal, sim_url, simulator, [stop_portal, stop_sim])
        made.append(live)
        return live

    yield make
    for live in made:
        for stop in live.stops:
            stop()


# -- an authenticating proxy's signed assertions (a JWT in a header, its keys at a JWKS URL) ----


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    """The proxy's signing key (RS256, as Google IAP and AWS ALB sign)."""
    return RSAKey.generate_key(2048, parameters={"kid": "proxy-1"}, auto_kid=False)


@pytest.fixture(scope="module")
def jwks_url(signing_key: RSAKey) -> Iterator[str]:
    """Where the proxy publishes its public key: a real HTTP server on loopback."""
    body = json.dumps(KeySet([signing_key]).as_dict(private=False)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/keys"
    server.shutdown()


def signed(key: RSAKey, claims: dict[str, Any]) -> str:
    """``claims`` as a JWT signed with ``key`` (its ``kid`` in the header)."""
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
