"""Upstream calls of three replicas, without Redis (each caches on its own) and with it.

    python bench/bench_replicas.py [--replicas 3] [--viewers 30] [--seconds 10] [--ttl 2]
                                   [--rounds 2]

Starts a PagerDuty simulator, a ``redis-server`` on a free port (temp dir) and, twice, three
``greenroom serve`` processes in front of the simulator: first with no ``redis.url`` (the
baseline, what every replica did before), then sharing one Redis. ``--viewers`` threads open
an entity page round-robin over the replicas for ``--seconds``. Printed for each run: page
views served, the GETs the simulator answered, and GETs per resource per TTL window (1.0 is one
upstream call per resource per TTL for the whole fleet), with the machine's load average.

``--rounds`` repeats the pair in alternating order (without, with, with, without, ...): page
views per run swing by a factor of two or more with the load other processes put on a small
machine, so a single pair says little about serving speed. Each run is printed with the load
it ran under, then the median per setting.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from greenroom_pagerduty.simulator import write_portal_config

TOKEN = "bench-replicas-token"
SECRET = "bench-replicas-secret-0123456789abcdef"
PAGE = "/catalog/default/component/checkout"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited ({process.returncode})")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:g} s")


def reads(vendor: str) -> Counter[str]:
    log = httpx.get(f"{vendor}/_control/requests", timeout=30).json()["requests"]
    return Counter(
        r["path"] + "?" + "&".join(f"{k}={v}" for k, v in r["query"])
        for r in log if r["method"] == "GET"
    )


def run(folder: Path, vendor: str, redis_url: str | None, args: argparse.Namespace,
        env: dict[str, str]) -> tuple[int, Counter[str], float]:
    setting = folder / ("with-redis" if redis_url else "without-redis")
    setting.mkdir(exist_ok=True)
    config = write_portal_config(
        setting, vendor, token=TOKEN, cache_ttl_seconds=args.ttl,
        extra=f"app: {{secret: {SECRET}}}\nauth: {{allowGuests: true}}\n"
        + (f"redis: {{url: '{redis_url}'}}\n" if redis_url else ""),
    )
    processes = []
    urls = []
    try:
        for number in range(args.replicas):
            port = free_port()
            data = folder / f"data-{'r' if redis_url else 'l'}{number}"
            log = (folder / f"replica-{number}-{'redis' if redis_url else 'local'}.log").open("wb")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "greenroom.cli", "serve", "--config", str(config),
                 "--port", str(port)],
                stdout=log, stderr=subprocess.STDOUT, env={**env, "GREENROOM_DATA": str(data)},
                cwd=folder,
            ))
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_for(f"{url}/healthz", process)
        httpx.post(f"{vendor}/_control/reset", timeout=30).raise_for_status()
        stop = time.monotonic() + args.seconds
        started = time.monotonic()
        views: list[int] = []

        def viewer(number: int) -> None:
            with httpx.Client(base_url=urls[number % len(urls)], timeout=60) as client:
                while time.monotonic() < stop:
                    views.append(client.get(PAGE).status_code)

        with ThreadPoolExecutor(args.viewers) as pool:
            list(pool.map(viewer, range(args.viewers)))
        elapsed = time.monotonic() - started
        bad = [s for s in views if s != 200]
        if bad:
            raise SystemExit(f"{len(bad)} page views failed: {Counter(bad)}")
        return len(views), reads(vendor), elapsed
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--viewers", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--ttl", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server")
    folder = Path(tempfile.mkdtemp(prefix="greenroom-bench-replicas-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENROOM_")}
    redis_port, vendor_port = free_port(), free_port()
    redis = subprocess.Popen(
        [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
    )
    simulator = subprocess.Popen(
        [sys.executable, "-m", "greenroom_pagerduty.simulator", "--port", str(vendor_port),
         "--token", TOKEN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    vendor = f"http://127.0.0.1:{vendor_port}"
    try:
        wait_for(f"{vendor}/_control/requests", simulator)
        settings = (("without Redis (baseline)", None),
                    ("with Redis", f"redis://127.0.0.1:{redis_port}/0"))
        results = []
        for number in range(max(1, args.rounds)):
            for label, redis_url in settings if number % 2 == 0 else settings[::-1]:
                views, counted, elapsed = run(folder, vendor, redis_url, args, env)
                windows = math.ceil(elapsed / args.ttl)
                per_window = sum(counted.values()) / max(1, len(counted)) / windows
                results.append((label, views, sum(counted.values()), len(counted), per_window,
                                os.getloadavg()[0]))
        load = os.getloadavg()
        print(f"{args.replicas} replicas, {args.viewers} viewers for {args.seconds:g} s, "
              f"TTL {args.ttl:g} s; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
              f"on {os.cpu_count()} cores")
        print(f"{'':26} {'page views':>10} {'upstream GETs':>14} {'resources':>10} "
              f"{'GETs per resource per TTL':>26} {'load (1 min)':>13}")
        for label, views, gets, resources, per_window, run_load in results:
            print(f"{label:26} {views:>10} {gets:>14} {resources:>10} {per_window:>26.2f} "
                  f"{run_load:>13.1f}")
        for label, _ in settings:
            mine = [r for r in results if r[0] == label]
            print(f"{label + ', median':26} {statistics.median(r[1] for r in mine):>10g} "
                  f"{statistics.median(r[2] for r in mine):>14g} {'':>10} "
                  f"{statistics.median(r[4] for r in mine):>26.2f}")
    finally:
        simulator.kill()
        redis.terminate()
        simulator.wait(30)
        redis.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
