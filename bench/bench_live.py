"""Live pages without webhooks: what 50 idle viewers of one entity page cost the vendor.

    python bench/bench_live.py [--viewers 50] [--seconds 60] [--ttl 15] [--reload 10]

Two runs of the same length against the PagerDuty simulator on loopback, in one process:

- live: each viewer loads the page once and keeps its event stream open; the portal re-reads
  what the page shows once per TTL, whoever and however many are watching;
- baseline: the same viewers poll by reloading the page every ``--reload`` seconds (staggered).

For each: upstream calls to PagerDuty, next to the expectation ``watched resources x seconds /
TTL`` (the resources one page view reads, measured); pages the portal rendered; and bytes it
sent. The machine's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from greenroom._portal import build_portal
from greenroom.testing import serve_app
from greenroom.web import create_app
from greenroom_pagerduty.simulator import create_app as create_simulator
from greenroom_pagerduty.simulator import write_portal_config

TOKEN = "bench-token"
ENTITY = "/catalog/default/component/checkout"
REF = "component:default/checkout"


def portal_app(folder: Path, simulator_url: str, ttl: float) -> Any:
    # The response-metrics card stays on: the page measured is the page people see.
    config = write_portal_config(
        folder, simulator_url, token=TOKEN, cache_ttl_seconds=ttl,
        disabled_plugins=("splunk-on-call",),
    )
    return create_app(build_portal([config], demo=False))


def upstream(simulator: Any) -> list[str]:
    return [
        f"{r.method} {r.path}?{'&'.join(f'{k}={v}' for k, v in r.query)}"
        for r in simulator.state.control.requests
    ]


class Tally:
    def __init__(self) -> None:
        self.pages = 0
        self.bytes = 0


async def live_viewer(url: str, seconds: float, tally: Tally) -> None:
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=None)) as client:
        page = await client.get(url + ENTITY)
        tally.pages += 1
        tally.bytes += len(page.content)
        deadline = time.monotonic() + seconds
        try:
            async with asyncio.timeout(seconds):
                async with client.stream(
                    "GET", f"{url}/api/live/events", params={"watch": f"entity:{REF}"}
                ) as stream:
                    async for chunk in stream.aiter_bytes():
                        tally.bytes += len(chunk)
                        if time.monotonic() > deadline:
                            break
        except TimeoutError:
            pass


async def polling_viewer(url: str, seconds: float, every: float, tally: Tally) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.sleep(random.uniform(0, every))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            page = await client.get(url + ENTITY)
            tally.pages += 1
            tally.bytes += len(page.content)
            await asyncio.sleep(every)


def run(mode: str, args: argparse.Namespace) -> tuple[int, int, Tally, list[str]]:
    simulator_app = create_simulator(token=TOKEN)
    with (
        tempfile.TemporaryDirectory() as folder,
        serve_app(simulator_app) as simulator,
        serve_app(portal_app(Path(folder), simulator.url, args.ttl), lifespan="on") as portal,
    ):
        # What one page view reads (the watched resources), measured, then forgotten.
        httpx.get(portal.url + ENTITY, timeout=30)
        resources = sorted(set(upstream(simulator_app)))
        simulator_app.state.control.requests.clear()
        time.sleep(args.ttl + 0.1)
        tally = Tally()

        async def viewers() -> None:
            if mode == "live":
                jobs = [
                    live_viewer(portal.url, args.seconds, tally) for _ in range(args.viewers)
                ]
            else:
                jobs = [
                    polling_viewer(portal.url, args.seconds, args.reload, tally)
                    for _ in range(args.viewers)
                ]
            await asyncio.gather(*jobs)

        asyncio.run(viewers())
        calls = len(upstream(simulator_app))
    return len(resources), calls, tally, resources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ttl", type=float, default=15.0)
    parser.add_argument("--reload", type=float, default=10.0, help="baseline reload period (s)")
    args = parser.parse_args()
    print(f"{args.viewers} idle viewers of one entity page for {args.seconds:g} s, "
          f"cache TTL {args.ttl:g} s, no webhooks; load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    rows = []
    for mode in ("live", "poll"):
        resources, calls, tally, names = run(mode, args)
        rows.append((mode, resources, calls, tally))
        if mode == "live":
            print("watched resources (one page view reads):")
            for name in names:
                print(f"  {name}")
    expected = rows[0][1] * args.seconds / args.ttl
    print(f"\n{'':<34}{'upstream calls':>15}{'expected':>10}{'pages rendered':>16}{'KB sent':>9}")
    labels = {
        "live": "live (event stream, re-read/TTL)",
        "poll": f"baseline (reload every {args.reload:g} s)",
    }
    for mode, _resources, calls, tally in rows:
        print(f"{labels[mode]:<34}{calls:>15}{expected:>10.0f}{tally.pages:>16}"
              f"{tally.bytes / 1024:>9.0f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
