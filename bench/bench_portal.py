"""Portal benchmarks: card fan-out, shared upstream reads, and the demo's resident memory.

    python bench/bench_portal.py [--quick]

Every figure is printed beside a baseline measured in the same run:
- fan-out: time until every card of an entity page has loaded, K cards whose upstream answers
  after L ms each, next to L, K x L, and the same cards rendered one after another;
- shared reads: N concurrent viewers of one entity page for a while; upstream calls per page
  view with shared reads, next to the same load with sharing turned off (TTL 0);
- memory: resident set of the demo portal (`greenroom serve`) after serving pages, next to a bare
  Python process that imports the same web stack.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from greenroom import (
    Card,
    CardContext,
    create_api_factory,
    create_api_ref,
    create_plugin,
    discovery_api_ref,
    fetch_api_ref,
)
from greenroom._portal import build_portal
from greenroom.web import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """An ASGI app on a loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def slow_upstream(delay: float) -> tuple[FastAPI, dict[str, int]]:
    app = FastAPI()
    hits = {"count": 0}

    @app.get("/resource/{name}")
    async def resource(name: str) -> dict[str, str]:
        hits["count"] += 1
        await asyncio.sleep(delay)
        return {"name": name}

    return app, hits


def bench_plugin(cards: int, *, sequential: bool = False) -> Any:
    api_ref = create_api_ref("plugin.bench.api")

    class BenchApi:
        def __init__(self, discovery: Any, fetch: Any) -> None:
            self.base = discovery.get_base_url("proxy") + "/upstream"
            self.fetch = fetch

        async def read(self, name: str) -> str:
            response = await self.fetch.get(f"{self.base}/resource/{name}")
            return str(response.json()["name"])

    def make_card(index: int) -> Card:
        async def render(ctx: CardContext) -> str:
            api = ctx.apis.get(api_ref)
            if sequential:
                # Baseline: every card waits for all reads before it, like a page that renders
                # its cards in order.
                for earlier in range(index + 1):
                    await api.read(f"r{earlier}-{ctx.entity.name}")
                return f"<p>card {index}</p>"
            return f"<p>card {index}: {await api.read(f'r{index}-{ctx.entity.name}')}</p>"

        return Card(id=f"bench.card-{index}", title=f"Bench {index}", render=render)

    return create_plugin(
        id="bench",
        apis=[
            create_api_factory(
                api=api_ref,
                deps={"discovery": discovery_api_ref, "fetch": fetch_api_ref},
                factory=lambda discovery, fetch: BenchApi(discovery, fetch),
            )
        ],
        cards=[make_card(i) for i in range(cards)],
    )


CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
spec:
  type: service
  lifecycle: production
  owner: team-bench
"""


def portal_server(
    upstream_url: str, cards: int, *, ttl: float, sequential: bool = False, name: str = "svc"
) -> Server:
    folder = Path(tempfile.mkdtemp(prefix="greenroom-bench-"))
    (folder / "catalog-info.yaml").write_text(CATALOG.format(name=name))
    config = folder / "app-config.yaml"
    config.write_text(
        "catalog:\n  locations:\n    - {type: file, target: catalog-info.yaml}\n"
        f"proxy:\n  endpoints:\n    /upstream:\n      target: {upstream_url}\n"
        f"fetch:\n  cacheTtlSeconds: {ttl}\n"
    )
    port = free_port()
    portal = build_portal(
        [config], base_url=f"http://127.0.0.1:{port}", demo=False,
        plugins=[bench_plugin(cards, sequential=sequential)], load_entry_points=False,
    )
    app = create_app(portal)
    server = Server.__new__(Server)
    server.port, server.url = port, f"http://127.0.0.1:{port}"
    server.server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
    )
    server.thread = threading.Thread(target=server.server.run, daemon=True)
    server.thread.start()
    while not server.server.started:
        time.sleep(0.02)
    server.portal = portal  # type: ignore[attr-defined]
    return server


def page_load_seconds(client: httpx.Client, url: str) -> float:
    # One client made beforehand: `httpx.stream()` would build a client (and its TLS context,
    # 20 to 40 ms) inside the timed span, which is the browser's cost, not the page's.
    start = time.perf_counter()
    with client.stream("GET", url, timeout=60) as response:
        for _ in response.iter_bytes():
            pass
    return time.perf_counter() - start


def fan_out(runs: int) -> None:
    delay = 0.2
    upstream_app, _ = slow_upstream(delay)
    upstream = Server(upstream_app)
    print("\n== fan-out: time until every card has loaded ==")
    print(f"{'K':>3} {'L (ms)':>7} {'K x L':>7} {'ours (ms)':>10} {'x L':>6} "
          f"{'in order (ms)':>14}")
    for cards in (2, 10):
        results = {}
        for sequential in (False, True):
            server = portal_server(upstream.url, cards, ttl=0, sequential=sequential)
            with httpx.Client() as client:
                times = [
                    page_load_seconds(client, f"{server.url}/catalog/default/component/svc")
                    for _ in range(runs)
                ]
            results[sequential] = statistics.median(times) * 1000
            server.stop()
        ratio = results[False] / (delay * 1000)
        print(
            f"{cards:>3} {delay * 1000:>7.0f} {cards * delay * 1000:>7.0f} "
            f"{results[False]:>10.0f} {ratio:>6.2f} {results[True]:>14.0f}"
        )
    print(f"goal: all {cards} cards within 1.15 x L: {'met' if ratio <= 1.15 else 'NOT met'} "
          f"({ratio:.2f} x)")
    upstream.stop()


async def _viewers(url: str, viewers: int, seconds: float) -> int:
    views = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=60) as client:

        async def viewer() -> None:
            nonlocal views
            while time.monotonic() < deadline:
                response = await client.get(url)
                response.raise_for_status()
                views += 1

        await asyncio.gather(*(viewer() for _ in range(viewers)))
    return views


def shared_reads(viewers: int, seconds: float) -> None:
    print(f"\n== shared reads: {viewers} concurrent viewers of one page for {seconds:g} s ==")
    print(f"{'mode':<22} {'page views':>10} {'upstream calls':>15} {'calls/view':>11}")
    for label, ttl in (("shared (TTL 15 s)", 15.0), ("no sharing (TTL 0)", 0.0)):
        upstream_app, hits = slow_upstream(0.05)
        upstream = Server(upstream_app)
        server = portal_server(upstream.url, 2, ttl=ttl)
        views = asyncio.run(
            _viewers(f"{server.url}/catalog/default/component/svc", viewers, seconds)
        )
        print(f"{label:<22} {views:>10} {hits['count']:>15} {hits['count'] / max(views, 1):>11.3f}")
        server.stop()
        upstream.stop()
    print("goal: one upstream call per resource per TTL (2 resources on this page)")


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 1e6


def memory(requests: int) -> None:
    print("\n== resident memory of the demo portal ==")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "GREENROOM_CONFIG"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        pages = ["/", "/plugins", "/incidents", "/oncall"] + [
            e["url"] for e in httpx.get(f"{base}/api/catalog/entities").json()["items"]
        ]
        for i in range(requests):
            httpx.get(base + pages[i % len(pages)], timeout=60)
        portal_rss = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(10)
    bare = subprocess.run(
        [sys.executable, "-c",
         "import fastapi, uvicorn, httpx, aiohttp, jinja2, pydantic, os, psutil;"
         "print(psutil.Process(os.getpid()).memory_info().rss / 1e6)"],
        capture_output=True, text=True, check=True,
    )
    print(f"demo portal after {requests} page views: {portal_rss:.1f} MB")
    print(f"baseline (bare Python with the same web stack imported): {float(bare.stdout):.1f} MB")
    print("goal: under 150 MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke check)")
    args = parser.parse_args()
    fan_out(runs=2 if args.quick else 5)
    shared_reads(viewers=50, seconds=2 if args.quick else 10)
    memory(requests=40 if args.quick else 300)


if __name__ == "__main__":
    main()
