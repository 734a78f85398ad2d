"""Shared fixtures: the simulator served over real HTTP on loopback, and `core.fetch` reaching it
through a stand-in for the portal's proxy route (which adds the token, as in production)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping

import httpx
import pytest
import uvicorn
from greenroom import Entity, FetchApi, Identity

from __GR_MODULE__ import (
    SERVICE_ANNOTATION,
    __GR_CLASS__Client,
    __GR_CLASS__Provider,
)
from __GR_MODULE__._mock_data import DEMO_SERVICE_ID
from __GR_MODULE__._simulator import (
    SIMULATOR_TOKEN,
    TOKEN_HEADER,
    create_simulator_app,
)

#: Where the client believes the portal's proxy route is; `LoopbackProxy` takes it from there.
PROXY_BASE = "http://portal.test/api/proxy/__GR_ID__"


class LoopbackProxy:
    """Sends requests under ``PROXY_BASE`` to the simulator with the route's headers."""

    def __init__(self, target: str, headers: Mapping[str, str]) -> None:
        self.target = target.rstrip("/")
        self.headers = dict(headers)

    def resolve(self, url: httpx.URL) -> tuple[httpx.URL, Mapping[str, str]] | None:
        text = str(url)
        if not text.startswith(PROXY_BASE):
            return None
        return httpx.URL(self.target + text[len(PROXY_BASE) :]), self.headers


@pytest.fixture
def simulator_url() -> Iterator[str]:
    """A fresh simulator (fresh mock data) on a free loopback port."""
    config = uvicorn.Config(
        create_simulator_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the simulator stopped before it started serving")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


Provider = __GR_CLASS__Provider


async def _provider(simulator_url: str, token: str) -> AsyncIterator[Provider]:
    fetch = FetchApi(proxy=LoopbackProxy(simulator_url, {TOKEN_HEADER: token}))
    try:
        client = __GR_CLASS__Client(fetch=fetch, base_url=PROXY_BASE)
        yield Provider(client)
    finally:
        await fetch.aclose()


@pytest.fixture
async def provider(simulator_url: str) -> AsyncIterator[Provider]:
    async for made in _provider(simulator_url, SIMULATOR_TOKEN):
        yield made


@pytest.fixture
async def unauthorized_provider(simulator_url: str) -> AsyncIterator[Provider]:
    async for made in _provider(simulator_url, "not-the-token"):
        yield made


@pytest.fixture
def entity() -> Entity:
    return Entity(
        kind="Component",
        name="__GR_ID__-demo",
        annotations={SERVICE_ANNOTATION: DEMO_SERVICE_ID},
    )


@pytest.fixture
def missing_entity() -> Entity:
    return Entity(
        kind="Component", name="ghost", annotations={SERVICE_ANNOTATION: "SVC-DOES-NOT-EXIST"}
    )


@pytest.fixture
def user() -> Identity:
    return Identity(
        user_id="jane", email="jane.doe@example.com", display_name="Jane Doe", authenticated=True
    )
