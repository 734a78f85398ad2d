"""What one in-process card read costs through ``core.fetch``, beside bare aiohttp and bare
lean-client reads.

    python bench/bench_fetch_speed.py [--seconds 5] [--concurrency 32] [--runs 3]

Each contender reads the same small JSON answer from a loopback upstream (the one
``bench_proxy.py`` uses) with ``--concurrency`` reads in flight, for ``--seconds``:

- **aiohttp**: ``session.get(url)`` and ``read()`` on one shared ``aiohttp.ClientSession``, the
  baseline (what ``core.fetch`` sent through until the lean client);
- **upstream pool**: ``request(...)`` and ``read()`` on the lean client (``_upstream.py``) that
  ``core.fetch`` and the proxy route now send through, the floor;
- **fetch (uncached)**: ``core.fetch.get(<proxy base>/bench/...)`` with ``cache_ttl=0``: the
  route resolved in-process (path checks, target, secret header), httpx's request and response
  objects around the lean client's call;
- **fetch (cached)**: the same read answered from the shared-read cache (a card's usual read).

Printed: reads per second and CPU microseconds per read of this process (pinned to one core
with ``taskset`` on a machine with two or more, the upstream on another), the median of
``--runs``, and the ratio of each to the bare read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_proxy import BODY, free_port, wait_for_port  # noqa: E402

Read = Callable[[], Awaitable[bytes]]


async def measure(read: Read, seconds: float, concurrency: int) -> tuple[float, float]:
    """(reads per second, CPU microseconds per read) of ``read`` run by ``concurrency`` tasks."""
    count = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            body = await read()
            if body != BODY:
                raise RuntimeError(f"unexpected answer {body[:100]!r}")
            count += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up
    count = 0
    stop = time.perf_counter() + seconds
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return count / wall, cpu * 1e6 / max(count, 1)


async def run(upstream: str, seconds: float, concurrency: int,
              runs: int) -> dict[str, list[tuple[float, float]]]:
    import aiohttp

    from greenroom import FetchApi
    from greenroom._proxy import ProxyRoutes, parse_proxy_config

    routes = ProxyRoutes(
        parse_proxy_config({"endpoints": {"/bench": {
            "target": upstream, "headers": {"Authorization": "Token token=bench-secret"},
        }}}),
        "http://127.0.0.1:7007/api/proxy",
    )
    fetch = FetchApi(proxy=routes)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200),
                                    cookie_jar=aiohttp.DummyCookieJar())
    url = f"{upstream}/v1/incidents?limit=25"
    proxy_url = "http://127.0.0.1:7007/api/proxy/bench/v1/incidents?limit=25"

    async def bare() -> bytes:
        async with session.get(url) as answer:
            return await answer.read()

    pool = fetch.upstream

    async def lean() -> bytes:
        answer = await pool.request("GET", url, [("Accept", "application/json")])
        try:
            return await answer.read()
        finally:
            await answer.close()

    async def uncached() -> bytes:
        return (await fetch.get(proxy_url, cache_ttl=0)).content

    async def cached() -> bytes:
        return (await fetch.get(proxy_url, cache_ttl=3600)).content

    contenders: dict[str, Read] = {
        "aiohttp": bare, "upstream pool": lean, "fetch (uncached)": uncached,
        "fetch (cached)": cached,
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    try:
        for _ in range(runs):
            for name, read in contenders.items():
                results[name].append(await measure(read, seconds, concurrency))
    finally:
        await session.close()
        await fetch.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pinned", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    pin = cores >= 2 and shutil.which("taskset") is not None
    if pin and not args.pinned:
        # This process alone on the last core; the upstream on the others.
        os.execvp("taskset", ["taskset", "-c", str(cores - 1), sys.executable, __file__,
                              *sys.argv[1:], "--pinned"])
    port = free_port()
    upstream_command = [sys.executable, str(Path(__file__).parent / "bench_proxy.py"),
                        "--serve-upstream", str(port)]
    if pin:
        upstream_command = ["taskset", "-c", f"0-{cores - 2}", *upstream_command]
    upstream = subprocess.Popen(upstream_command)
    try:
        wait_for_port(port, upstream)
        load = os.getloadavg()
        print(f"{args.concurrency} reads in flight, {args.seconds:g} s x {args.runs} runs; "
              f"reader on core {cores - 1 if pin else 'any'}; load average before: "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        results = asyncio.run(run(f"http://127.0.0.1:{port}", args.seconds, args.concurrency,
                                  args.runs))
    finally:
        upstream.terminate()
        upstream.wait(10)
    medians = {name: (statistics.median(r[0] for r in runs),
                      statistics.median(r[1] for r in runs)) for name, runs in results.items()}
    floor = medians["aiohttp"]
    print(f"\n{'read':<18} {'reads/s':>9} {'CPU us/read':>12} {'x aiohttp CPU':>14}")
    for name, (rate, cpu) in medians.items():
        print(f"{name:<18} {rate:>9.0f} {cpu:>12.0f} {cpu / floor[1]:>14.2f}")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
