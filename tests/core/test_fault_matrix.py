"""The fault matrix: each of two providers (the demo's PagerDuty and Splunk On-Call simulators,
over real HTTP) hangs, fails with 500, is rate limited, sends malformed JSON, or refuses the
connection. Every page still completes, naming the failing vendor, with the other vendor's data;
while a vendor is held hung, the head and shell of `/`, the entity page, `/incidents` and
`/oncall` arrive before the test releases it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.routing import Mount

from greenroom._portal import SIMULATOR_PREFIX, build_portal
from greenroom.web import create_app

ENTITY = "/catalog/default/component/payments-api"
PAGES = {
    # page: what the shell shows before any vendor answers
    "/": '<nav aria-label="Main">',
    ENTITY: '<div class="cards" id="cards">',
    "/incidents": 'id="shell-waiting"',
    "/oncall": 'id="shell-waiting"',
}
PROVIDERS = {"pagerduty": "PagerDuty", "splunk-on-call": "Splunk On-Call"}
FAULTS = ["hang", "500", "rate-limit", "malformed", "refused"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gate:
    """Holds every request to the wrapped app until :meth:`release` (a hung vendor)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.open = asyncio.Event()
        self.waiting = 0

    def release(self) -> None:
        self.open.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "/_control" not in scope["path"]:
            self.waiting += 1
            await self.open.wait()
        await self.app(scope, receive, send)


def _inject(fault: str, provider: str, sim_app: Any) -> None:
    if provider == "pagerduty":
        from greenroom_pagerduty.simulator import Fault

        control = sim_app.state.control
        if fault == "500":
            control.add_fault(Fault(status=500))
        elif fault == "rate-limit":
            control.add_fault(Fault(status=429, reset_seconds=30))
        elif fault == "malformed":
            control.add_fault(Fault(malformed=True))
    else:
        from greenroom_splunk_on_call.simulator._state import Fault as VoFault

        state = sim_app.state.simulator
        if fault == "500":
            state.faults.append(VoFault(status=500))
        elif fault == "rate-limit":
            state.rate_limit_per_minute = 0  # Splunk On-Call answers its limit with 403
        elif fault == "malformed":
            state.faults.append(VoFault(malformed=True))


@asynccontextmanager
async def _portal(tmp_path: Path, fault: str, provider: str) -> AsyncIterator[tuple[str, Gate]]:
    port = _free_port()
    paths = []
    if fault == "refused":
        route = "/pagerduty" if provider == "pagerduty" else "/splunk-on-call"
        config = tmp_path / "app-config.yaml"
        config.write_text(
            f"proxy:\n  endpoints:\n    {route}:\n      target: http://127.0.0.1:{_free_port()}\n"
        )
        paths.append(config)
    portal = build_portal(paths, base_url=f"http://127.0.0.1:{port}", demo=True)
    app = create_app(portal)
    gate: Gate | None = None
    for route_ in app.routes:
        if isinstance(route_, Mount) and route_.path == f"{SIMULATOR_PREFIX}/{provider}":
            _inject(fault, provider, route_.app)
            if fault == "hang":
                gate = Gate(route_.app)
                route_.app = gate
    assert gate is not None or fault != "hang"
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                       timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", gate or Gate(None)
    finally:
        if gate is not None:
            gate.release()
        server.should_exit = True
        await task


async def _read_until(stream: AsyncIterator[bytes], marker: str) -> str:
    received = ""
    async for chunk in stream:
        received += chunk.decode("utf-8", "replace")
        if marker in received:
            return received
    return received


@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("fault", FAULTS)
async def test_every_page_completes_whatever_one_vendor_does(
    tmp_path: Path, fault: str, provider: str
) -> None:
    other = next(title for pid, title in PROVIDERS.items() if pid != provider)
    async with _portal(tmp_path, fault, provider) as (url, gate), httpx.AsyncClient(
        base_url=url, timeout=120
    ) as client:
        if fault == "hang":
            for page, shell in PAGES.items():
                async with client.stream("GET", page) as response:
                    stream = response.aiter_bytes()
                    # A failure to stream would hang here until the test's own timeout.
                    head = await asyncio.wait_for(_read_until(stream, shell), timeout=120)
                    assert shell in head, page
                    assert not gate.open.is_set()  # the vendor is still held
            gate.release()
        for page in PAGES:
            response = await client.get(page)
            assert response.status_code == 200, page
            assert response.text.rstrip().endswith("</html>"), page
        entity = (await client.get(ENTITY)).text
        assert other in entity
        if fault != "hang":
            # The failing vendor is named, in its own card, never the whole page.
            assert "Error in" in entity or "alert" in entity
        incidents = (await client.get("/incidents")).text
        if fault != "hang":
            assert PROVIDERS[provider] in incidents

