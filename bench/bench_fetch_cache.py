"""The shared read cache under many distinct URLs: its size stays under its bound.

    python bench/bench_fetch_cache.py [--urls 10000] [--body-kb 19]

``core.fetch`` reads ``--urls`` distinct URLs (each answer ``--body-kb`` KB of JSON, the size of a
response-metrics history page) from a loopback upstream, as a card that puts a changing value in
its URL would. Printed: entries and bytes the cache holds and the process's resident memory
growth, for the bounded cache (the defaults) beside an effectively unbounded one (the
baseline, what the cache did before it had bounds), measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

import psutil

from greenroom import FetchApi
from greenroom._fetch import DEFAULT_CACHE_BYTES, DEFAULT_CACHE_ENTRIES


async def upstream(body: bytes) -> tuple[asyncio.Server, str]:
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def run(urls: int, body: bytes, entries: int, max_bytes: int) -> tuple[dict[str, int],
                                                                               float, float]:
    server, base = await upstream(body)
    process = psutil.Process()
    before = process.memory_info().rss
    fetch = FetchApi(cache_ttl=3600, cache_entries=entries, cache_bytes=max_bytes)
    started = time.perf_counter()
    try:
        for start in range(0, urls, 50):
            await asyncio.gather(*(fetch.get(f"{base}/history", params={"since": n})
                                   for n in range(start, min(start + 50, urls))))
        stats = fetch.cache_stats
    finally:
        await fetch.aclose()
        server.close()
    elapsed = time.perf_counter() - started
    return stats, (process.memory_info().rss - before) / 1e6, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--body-kb", type=float, default=19)
    parser.add_argument("--one", choices=["bounded", "unbounded"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    body = json.dumps({"incidents": ["x" * 100] * int(args.body_kb * 1024 / 104)}).encode()
    if args.one:
        entries, max_bytes = ((DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_BYTES)
                              if args.one == "bounded" else (10**9, 10**12))
        stats, growth, elapsed = asyncio.run(run(args.urls, body, entries, max_bytes))
        label = {"bounded": "bounded (defaults)", "unbounded": "unbounded (baseline)"}[args.one]
        print(f"{label:<24} {stats['entries']:>8} {stats['bytes'] / 1e6:>9.1f} {growth:>14.1f} "
              f"{elapsed:>6.1f}", flush=True)
        return
    load = os.getloadavg()
    print(f"{args.urls} distinct URLs, {len(body) / 1024:.1f} KB answers; load average: "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'cache':<24} {'entries':>8} {'cache MB':>9} {'RSS growth MB':>14} {'s':>6}")
    for label in ("bounded", "unbounded"):
        # Each in a fresh process: memory freed by one run is not returned to the OS for the next.
        subprocess.run([sys.executable, __file__, "--urls", str(args.urls), "--body-kb",
                        str(args.body_kb), "--one", label], check=True)
    print(f"goal: the bounded cache holds at most {DEFAULT_CACHE_ENTRIES} entries and "
          f"{DEFAULT_CACHE_BYTES / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
