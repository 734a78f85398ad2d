"""A live Splunk On-Call simulator on loopback, and the plugin pointed at it through a real
Backstage-shaped proxy route, as the portal wires it."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from greenroom import Entity, FetchApi, Identity
from greenroom._proxy import ProxyRoutes, parse_proxy_config
from greenroom_splunk_on_call import SplunkOnCallClient, SplunkOnCallProvider
from greenroom_splunk_on_call.simulator import SimulatorState, create_app

API_ID = "test-api-id"
API_KEY = "test-api-key"
REST_KEY = "test-rest-key"
PROXY_BASE = "http://portal.test:7007/api/proxy"
# The vendors' official API descriptions: GREENROOM_REFERENCE, else ../shared/reference.
REFERENCE = Path(
    os.environ.get("GREENROOM_REFERENCE")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
)

# Seed facts the tests rely on (greenroom_splunk_on_call/simulator/_seed.py).
PAYMENTS_SLUG = "team-Pm7xQ2vL9kRt4Ws1"
CHECKOUT_SLUG = "team-Ck4Rw9Ty1Bn5Md7E"


@dataclass
class LiveSimulator:
    url: str
    app: Any

    @property
    def state(self) -> SimulatorState:
        return self.app.state.simulator  # type: ignore[no-any-return]

    @property
    def public_url(self) -> str:
        return self.url + "/api-public"

    @property
    def rest_endpoint(self) -> str:
        return f"{self.url}/integrations/generic/20131114/alert/{REST_KEY}"

    def requests(self, method: str | None = None, prefix: str = "") -> list[tuple[str, str, Any]]:
        return [
            (m, p, b)
            for m, p, _q, b in self.state.requests
            if (method is None or m == method) and p.startswith(prefix)
        ]


class _ServerThread:
    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        started = threading.Event()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the simulator's server did not start")
            started.wait(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., LiveSimulator]]:
    """Start simulators with given options; each is stopped after the test."""
    servers: list[_ServerThread] = []

    def start(**options: Any) -> LiveSimulator:
        options = {
            "api_id": API_ID,
            "api_key": API_KEY,
            "rest_key": REST_KEY,
            "rate_limit_per_minute": 10_000,
            **options,
        }
        app = create_app(**options)
        server = _ServerThread(app)
        servers.append(server)
        return LiveSimulator(server.__enter__(), app)

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
def simulator(start_simulator: Callable[..., LiveSimulator]) -> LiveSimulator:
    return start_simulator()


def proxy_routes(target: str, headers: dict[str, str]) -> ProxyRoutes:
    """The `/splunk-on-call` route exactly as an operator writes it in app-config.yaml."""
    config = {"endpoints": {"/splunk-on-call": {"target": target, "headers": headers}}}
    return ProxyRoutes(parse_proxy_config(config), PROXY_BASE)


@pytest.fixture
async def make_fetch() -> AsyncIterator[Callable[..., FetchApi]]:
    made: list[FetchApi] = []

    def make(target: str, headers: dict[str, str] | None = None) -> FetchApi:
        if headers is None:
            headers = {"X-VO-Api-Id": API_ID, "X-VO-Api-Key": API_KEY}
        fetch = FetchApi(proxy=proxy_routes(target, headers))
        made.append(fetch)
        return fetch

    yield make
    for fetch in made:
        await fetch.aclose()


@pytest.fixture
def make_provider(
    simulator: LiveSimulator, make_fetch: Callable[..., FetchApi]
) -> Callable[..., SplunkOnCallProvider]:
    """A provider on the live simulator; ``settings`` are `splunkOnCall.*` config values."""

    def make(
        *, settings: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> SplunkOnCallProvider:
        fetch = make_fetch(simulator.public_url, headers)
        values = dict(settings or {})
        return SplunkOnCallProvider(SplunkOnCallClient(fetch, PROXY_BASE), values.get)

    return make


@pytest.fixture
def provider(make_provider: Callable[..., SplunkOnCallProvider]) -> SplunkOnCallProvider:
    return make_provider()


def make_entity(name: str, annotations: dict[str, str]) -> Entity:
    return Entity(kind="Component", name=name, annotations=annotations, spec={"owner": "team-a"})


@pytest.fixture
def team_entity() -> Entity:
    """Annotated with the team name `payments` (slug team-Pm7xQ2vL9kRt4Ws1)."""
    return make_entity("payments-api", {"splunk.com/on-call-team": "payments"})


@pytest.fixture
def routing_entity() -> Entity:
    """Annotated with routing key `checkout-web`, which pages Checkout and payments."""
    return make_entity("checkout-web", {"splunk.com/on-call-routing-key": "checkout-web"})


@pytest.fixture
def guest() -> Identity:
    """The simulator has a user with this email (username `guest`)."""
    return Identity("guest", "guest@example.com", "Guest", authenticated=True)


@pytest.fixture
def stranger() -> Identity:
    """Nobody in Splunk On-Call has this email."""
    return Identity("stranger", "nobody@elsewhere.example", "Stranger", authenticated=True)


@pytest.fixture
def reference() -> Callable[..., Path]:
    """A file of ../shared/reference, or a skip saying it is absent."""

    def find(*parts: str) -> Path:
        path = REFERENCE.joinpath(*parts)
        if not path.exists():
            pytest.skip(f"reference material {path} is absent (../shared/reference is CI-only)")
        return path

    return find
