"""Catalog scale: page cost, vendor calls and memory for catalogs of 100, 1,000 and 10,000 entities.

    python bench/bench_catalog_scale.py [--sizes 100 1000 10000]

Each catalog is a third PagerDuty, a third Splunk On-Call and a third neither, spread over a
generated vendor account of a third of the catalog's size (services, escalation policies,
teams and open incidents). Both simulators run in this process on loopback; the portal runs
as its own process (``greenroom serve``), so its resident memory is its own.

For ``/``, an entity page, ``/incidents``, ``/oncall`` and ``/coverage`` (first views, in that
order, right after start-up) it prints the time to the first byte, the total time, the bytes,
the upstream calls the simulators answered and the portal's resident memory afterwards; then
the catalog's load time and search time. Baselines measured in the same run:

- pages: ``/healthz`` of the same portal (the cost of the web stack alone);
- upstream calls: what per-entity reads (one service lookup, one incidents read and one
  on-call read per PagerDuty entity, as before the account-wide indexes) cost for the same
  catalog, measured at the two smaller sizes;
- catalog: parsing the same file with PyYAML's C loader alone; search: a bare substring scan.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from greenroom import Entity, FetchApi
from greenroom._catalog_files import load_catalog
from greenroom.testing import ServedApp, generated_catalog, serve_app
from greenroom_pagerduty import PagerDutyClient
from greenroom_pagerduty.simulator import create_app as pagerduty_app
from greenroom_pagerduty.simulator import generated_annotations as pagerduty_annotations
from greenroom_splunk_on_call.simulator import create_app as splunk_app
from greenroom_splunk_on_call.simulator import generated_annotations as splunk_annotations

PD_TOKEN = "bench-token"
VO_ID, VO_KEY = "bench-id", "bench-key"
PAGES = ("/", "ENTITY", "/incidents", "/oncall", "/coverage")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, size: int, account: int, pd_url: str, vo_url: str) -> Path:
    (folder / "catalog-info.yaml").write_text(
        yaml.safe_dump_all(
            generated_catalog(
                size, [pagerduty_annotations, splunk_annotations, None], account=account
            ),
            sort_keys=False,
        )
    )
    config = {
        "catalog": {"locations": [{"type": "file", "target": "catalog-info.yaml"}]},
        "proxy": {
            "endpoints": {
                "/pagerduty": {
                    "target": pd_url,
                    "headers": {"Authorization": f"Token token={PD_TOKEN}"},
                },
                "/splunk-on-call": {
                    "target": f"{vo_url}/api-public",
                    "headers": {"X-VO-Api-Id": VO_ID, "X-VO-Api-Key": VO_KEY},
                },
            }
        },
        "pagerDuty": {"eventsBaseUrl": f"{pd_url}/v2"},
        "coverage": {"rules": [{"name": "components", "kinds": ["Component"]}]},
        # `greenroom serve` refuses a portal without a sign-in choice; guests read, as here.
        "auth": {"allowGuests": True},
    }
    path = folder / "app-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def upstream(pd: ServedApp, vo: ServedApp) -> int:
    return len(pd.app.state.control.requests) + len(vo.app.state.simulator.requests)


def view(client: httpx.Client, path: str) -> tuple[float, float, int, int]:
    start = time.perf_counter()
    with client.stream("GET", path) as response:
        chunks = response.iter_raw()
        first = next(chunks, b"")
        first_byte = time.perf_counter() - start
        size = len(first) + sum(len(c) for c in chunks)
    return first_byte, time.perf_counter() - start, size, response.status_code


async def per_entity_calls(pd_url: str, catalog_file: Path) -> int:
    """The upstream calls per-entity reads make for every PagerDuty entity of the catalog,
    through a shared read cache as before: service lookup, open incidents, on-call."""
    from greenroom._proxy import ProxyRoutes, parse_proxy_config

    routes = ProxyRoutes(
        parse_proxy_config(
            {"endpoints": {"/pagerduty": {"target": pd_url,
                                          "headers": {"Authorization": f"Token token={PD_TOKEN}"}}}}
        ),
        "http://portal.bench/api/proxy",
    )
    fetch = FetchApi(proxy=routes)
    client = PagerDutyClient(fetch=fetch, proxy_base_url="http://portal.bench/api/proxy")
    catalog = load_catalog([{"type": "file", "target": catalog_file.name}], catalog_file.parent)
    limit = asyncio.Semaphore(8)

    async def one(entity: Entity) -> None:
        async with limit:
            service = await client.lookup_service(entity)
            account = client.account_for_entity(entity)
            await client.incidents_for_service(account, service.id)
            await client.oncalls_for_policy(account, service.escalation_policy.id)

    entities = [
        e for e in catalog.entities if any(k.startswith("pagerduty") for k in e.annotations)
    ]
    await asyncio.gather(*(one(e) for e in entities))
    await fetch.aclose()
    return fetch.upstream_calls


def run_size(size: int, baseline_calls: bool) -> dict[str, Any]:
    account = max(1, size // 3)
    with contextlib.ExitStack() as servers:
        pd = servers.enter_context(serve_app(pagerduty_app(token=PD_TOKEN, scale=account)))
        vo = servers.enter_context(serve_app(
            splunk_app(api_id=VO_ID, api_key=VO_KEY, rate_limit_per_minute=10**7, scale=account)
        ))
        return measure_size(size, baseline_calls, account, pd, vo)


def measure_size(
    size: int, baseline_calls: bool, account: int, pd: ServedApp, vo: ServedApp
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="greenroom-scale-"))
    config = write_config(folder, size, account, pd.url, vo.url)
    result: dict[str, Any] = {"size": size}
    # Catalog load and search, in this process, beside their baselines.
    text = (folder / "catalog-info.yaml").read_text()
    start = time.perf_counter()
    list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    result["yaml_only"] = time.perf_counter() - start
    start = time.perf_counter()
    catalog = load_catalog([{"type": "file", "target": "catalog-info.yaml"}], folder)
    result["load"] = time.perf_counter() - start
    start = time.perf_counter()
    for query in ("svc-00042", "generated 7", "team-03"):
        catalog.search(query)
    catalog.search("", owner="team-05")
    result["search"] = (time.perf_counter() - start) / 4
    start = time.perf_counter()
    for query in ("svc-00042", "generated 7", "team-03", "team-05"):
        [e for e in catalog.entities if query in (e.description or "") + e.name]
    result["scan"] = (time.perf_counter() - start) / 4

    port = free_port()
    env = {**os.environ, "GREENROOM_DATA": str(folder / "data")}
    before = upstream(pd, vo)
    portal = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli", "serve", "--config", str(config),
         "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if portal.poll() is not None:
                    raise RuntimeError(portal.stderr.read().decode() if portal.stderr else "")
                time.sleep(0.1)
            result["startup"] = time.perf_counter() - started
            result["startup_calls"] = upstream(pd, vo) - before
            result["healthz"] = view(client, "/healthz")
            for page in PAGES:
                path = "/catalog/default/component/svc-00000" if page == "ENTITY" else page
                calls = upstream(pd, vo)
                first, total, size_bytes, status = view(client, path)
                result[page] = (first, total, size_bytes, upstream(pd, vo) - calls,
                                rss_mb(portal.pid), status)
            # A second view of the home page within the cache lifetime.
            calls = upstream(pd, vo)
            result["/ again"] = (*view(client, "/")[:3], upstream(pd, vo) - calls,
                                 rss_mb(portal.pid), 200)
    finally:
        portal.terminate()
        portal.wait(10)
    if baseline_calls:
        pd.app.state.control.requests.clear()
        result["per_entity_calls"] = asyncio.run(
            per_entity_calls(pd.url, folder / "catalog-info.yaml")
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    args = parser.parse_args()
    print(f"machine load (1/5/15 min): {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    results = [run_size(size, baseline_calls=size <= 1_000) for size in args.sizes]
    print()
    print(f"{'entities':>8} {'page':<11} {'first byte':>10} {'total':>8} {'bytes':>9} "
          f"{'upstream':>8} {'RSS MB':>7}")
    for r in results:
        hz = r["healthz"]
        print(f"{r['size']:>8} {'/healthz':<11} {hz[0] * 1000:>8.0f}ms {hz[1] * 1000:>6.0f}ms "
              f"{hz[2]:>9} {'-':>8} {'-':>7}   (baseline: web stack alone)")
        for page in (*PAGES, "/ again"):
            first, total, size_bytes, calls, rss, status = r[page]
            name = "entity" if page == "ENTITY" else page
            note = "" if status == 200 else f"  HTTP {status}"
            print(f"{r['size']:>8} {name:<11} {first * 1000:>8.0f}ms {total * 1000:>6.0f}ms "
                  f"{size_bytes:>9} {calls:>8} {rss:>7.0f}{note}")
        first_views = sum(r[p][3] for p in ("/", "/incidents", "/oncall"))
        baseline = r.get("per_entity_calls")
        print(f"{r['size']:>8} start-up {r['startup']:.2f} s, {r['startup_calls']} upstream calls; "
              f"first views of /, /incidents, /oncall: {first_views} upstream calls"
              + (f" (per-entity reads, PagerDuty alone: {baseline})" if baseline else ""))
        print(f"{r['size']:>8} catalog load {r['load'] * 1000:.0f} ms (PyYAML C loader alone "
              f"{r['yaml_only'] * 1000:.0f} ms); search {r['search'] * 1000:.1f} ms "
              f"(bare substring scan {r['scan'] * 1000:.1f} ms)")
        print()


if __name__ == "__main__":
    main()
