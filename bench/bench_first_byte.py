"""First-byte and full-page times of the portal's pages while one vendor is hung.

    python bench/bench_first_byte.py [--rounds N]

The demo portal (both built-in simulators, over real HTTP on loopback) serves `/`, an entity
page annotated for both vendors, `/incidents` and `/oncall`, twice: once healthy (the baseline,
measured in the same run) and once with the PagerDuty simulator holding every request until the
run ends. Printed per page: median time to the first byte and to the last byte. The goal is a
first byte within 300 ms whatever a vendor does; the last byte is bounded by the card budget.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from starlette.routing import Mount

from greenroom._portal import SIMULATOR_PREFIX, build_portal
from greenroom.web import create_app

PAGES = ["/", "/catalog/default/component/payments-api", "/incidents", "/oncall"]
GOAL_MS = 300.0


class Hang:
    """Holds every request to the wrapped simulator until the run ends."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.release.wait()
        await self.app(scope, receive, send)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(hung: str | None) -> AsyncIterator[str]:
    port = _free_port()
    portal = build_portal([], base_url=f"http://127.0.0.1:{port}", demo=True)
    app = create_app(portal)
    hang: Hang | None = None
    for route in app.routes:
        if hung and isinstance(route, Mount) and route.path == f"{SIMULATOR_PREFIX}/{hung}":
            hang = Hang(route.app)
            route.app = hang
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                       timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if hang is not None:
            hang.release.set()
        server.should_exit = True
        await task


async def timed(client: httpx.AsyncClient, path: str) -> tuple[float, float]:
    start = time.perf_counter()
    first = None
    async with client.stream("GET", path) as response:
        async for _ in response.aiter_raw():
            if first is None:
                first = time.perf_counter() - start
    total = time.perf_counter() - start
    return (first or total) * 1000, total * 1000


async def measure(hung: str | None, rounds: int) -> dict[str, tuple[float, float]]:
    results: dict[str, tuple[float, float]] = {}
    async with serving(hung) as url, httpx.AsyncClient(base_url=url, timeout=120) as client:
        for path in PAGES:  # warm-up: imports, templates, the first vendor reads
            await timed(client, path)
        for path in PAGES:
            samples = [await timed(client, path) for _ in range(rounds)]
            results[path] = (
                statistics.median(s[0] for s in samples),
                statistics.median(s[1] for s in samples),
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    version = sys.version.split()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f}; python {version}")
    healthy = asyncio.run(measure(None, args.rounds))
    hung = asyncio.run(measure("pagerduty", args.rounds))
    print(f"{'page':44} {'healthy first/last ms':>24} {'PagerDuty hung first/last ms':>30}")
    worst = 0.0
    for path in PAGES:
        (hf, hl), (gf, gl) = healthy[path], hung[path]
        worst = max(worst, gf)
        print(f"{path:44} {hf:11.0f} / {hl:9.0f} {gf:17.0f} / {gl:9.0f}")
    verdict = "within" if worst <= GOAL_MS else "over"
    print(
        f"worst first byte with a vendor hung: {worst:.0f} ms "
        f"({verdict} the {GOAL_MS:.0f} ms goal)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
