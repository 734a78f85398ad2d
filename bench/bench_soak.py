"""Soak: concurrent viewers of an entity page of the demo for a while; memory and latency.

    python bench/bench_soak.py [--viewers 50] [--seconds 60] [--every 5]

Starts the demo (``greenroom serve``, built-in simulators), then ``--viewers`` clients each load
one entity page (the whole streamed page, every card) again and again for ``--seconds``. The
portal's resident memory is sampled every ``--every`` seconds; after the warm-up (the first
third) it should stay flat. Page latency p50 and p99 are printed beside the latency of the same
page with one viewer (the baseline measured in the same run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def load_page(client: httpx.AsyncClient, url: str) -> float:
    started = time.perf_counter()
    try:
        async with client.stream("GET", url) as response:
            response.raise_for_status()
            async for _ in response.aiter_bytes():
                pass
    except (httpx.ReadError, httpx.RemoteProtocolError):
        # A pooled connection the server closed after its keep-alive timeout, reused at that
        # moment: the client's race, not a failed page. Asked again once, and timed whole.
        async with client.stream("GET", url) as response:
            response.raise_for_status()
            async for _ in response.aiter_bytes():
                pass
    return time.perf_counter() - started


async def soak(base: str, page: str, pid: int, viewers: int, seconds: float,
               every: float) -> tuple[list[float], list[tuple[float, float]], list[float]]:
    process = psutil.Process(pid)
    limits = httpx.Limits(max_connections=viewers + 5)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        single = [await load_page(client, page) for _ in range(10)]
        latencies: list[float] = []
        samples: list[tuple[float, float]] = []
        started = time.monotonic()
        deadline = started + seconds

        async def viewer() -> None:
            while time.monotonic() < deadline:
                latencies.append(await load_page(client, page))

        async def sampler() -> None:
            while time.monotonic() < deadline + 0.01:
                samples.append((time.monotonic() - started, process.memory_info().rss / 1e6))
                await asyncio.sleep(every)

        await asyncio.gather(sampler(), *(viewer() for _ in range(viewers)))
    return latencies, samples, single


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--every", type=float, default=5)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "GREENROOM_CONFIG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        page = httpx.get(f"{base}/api/catalog/entities", timeout=30).json()["items"][0]["url"]
        load = os.getloadavg()
        print(f"demo portal, page {page}; {args.viewers} viewers for {args.seconds:g} s; "
              f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        latencies, samples, single = asyncio.run(
            soak(base, page, process.pid, args.viewers, args.seconds, args.every)
        )
    finally:
        process.terminate()
        process.wait(10)
    print("\nresident memory (MB) every sample:")
    print("  " + "  ".join(f"{t:.0f}s:{rss:.1f}" for t, rss in samples))
    warm = [rss for t, rss in samples if t >= args.seconds / 3]
    if warm:
        print(f"after warm-up: min {min(warm):.1f}, max {max(warm):.1f}, "
              f"first {warm[0]:.1f}, last {warm[-1]:.1f} MB (growth {warm[-1] - warm[0]:+.1f} MB)")
    print(f"\n{'page latency':<28} {'p50 ms':>8} {'p99 ms':>8} {'pages':>7}")
    print(f"{'one viewer (baseline)':<28} {statistics.median(single) * 1000:>8.0f} "
          f"{percentile(single, 0.99) * 1000:>8.0f} {len(single):>7}")
    print(f"{f'{args.viewers} viewers':<28} {statistics.median(latencies) * 1000:>8.0f} "
          f"{percentile(latencies, 0.99) * 1000:>8.0f} {len(latencies):>7}")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("goal: memory flat after warm-up")


if __name__ == "__main__":
    main()
