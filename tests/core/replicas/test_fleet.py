"""Three `greenroom serve` processes sharing one real redis-server and one real PostgreSQL,
in front of one PagerDuty simulator process: what the fleet asks the vendor, what an action on
one replica does to the others, a replica killed mid-fetch, and Redis stopped mid-run.

Every count is read from the simulator's own request log. The scenarios share one fleet (it
takes a while to start) and each uses resources no earlier one has read.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from greenroom_pagerduty.simulator import (
    CHECKOUT_ENTITY,
    PAYMENTS_ENTITY,
    SEARCH_ENTITY,
    write_portal_config,
)

TOKEN = "fleet-test-token"
SECRET = "one-secret-for-the-whole-fleet-0123456789"
USER = {"X-Forwarded-Email": "ada@example.com"}
TTL = 120  # longer than the whole module: every second read of a resource is a cache hit
LEASE = 3
CHECKOUT = "/catalog/default/component/checkout"
PAYMENTS = "/catalog/default/component/payments"
SEARCH = "/catalog/default/component/search"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=60, **kwargs)

    def status(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/api/live/status", timeout=30).json()  # type: ignore[no-any-return]


class Vendor:
    def __init__(self, url: str) -> None:
        self.url = url

    def reads(self) -> Counter[str]:
        """GETs the simulator answered, by path and query."""
        log = httpx.get(f"{self.url}/_control/requests", timeout=30).json()["requests"]
        return Counter(
            r["path"] + "?" + "&".join(f"{k}={v}" for k, v in r["query"])
            for r in log if r["method"] == "GET"
        )

    def fault(self, **fields: Any) -> None:
        httpx.post(f"{self.url}/_control/faults", json=fields, timeout=30).raise_for_status()


@dataclass
class Fleet:
    vendor: Vendor
    replicas: list[Replica]
    redis: Any
    logs: list[Path]


def _start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: Any
) -> Iterator[Fleet]:
    from ...conftest import RedisServer
    from ..conftest import _skip_or_fail

    if not __import__("shutil").which("redis-server"):
        _skip_or_fail("redis-server not found: apt-get install redis-server (.ci/run does)")
    folder = tmp_path_factory.mktemp("fleet")
    (folder / "redis").mkdir()
    redis = RedisServer(folder / "redis")
    redis.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENROOM_")}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        vendor_port = _free_port()
        processes.append(_start(
            [sys.executable, "-m", "greenroom_pagerduty.simulator", "--port", str(vendor_port),
             "--token", TOKEN], folder / "vendor.log", env,
        ))
        vendor = Vendor(f"http://127.0.0.1:{vendor_port}")
        config = write_portal_config(
            folder, vendor.url, token=TOKEN, cache_ttl_seconds=TTL,
            entities=(CHECKOUT_ENTITY, PAYMENTS_ENTITY, SEARCH_ENTITY),
            extra=f"""\
            app:
              secret: {SECRET}
            auth:
              provider: proxy
              allowGuests: true
              proxy: {{header: X-Forwarded-Email, trustedProxies: [127.0.0.1/32]}}
            redis:
              url: {redis.url}
              leaseSeconds: {LEASE}
            database:
              url: {postgres_server.create_database()}
            """,
        )
        replicas = []
        logs = []
        for number in (1, 2, 3):
            port = _free_port()
            log = folder / f"replica-{number}.log"
            data = folder / f"data-{number}"
            process = _start(
                [sys.executable, "-m", "greenroom.cli", "serve", "--config", str(config),
                 "--port", str(port)], log, {**env, "GREENROOM_DATA": str(data)},
            )
            processes.append(process)
            replicas.append(Replica(f"http://127.0.0.1:{port}", process, log))
            logs.append(log)
        _until(lambda: _answers(f"{vendor.url}/_control/requests"), "the simulator starts")
        for replica in replicas:
            _until(lambda r=replica: r.process.poll() is not None or _answers(f"{r.url}/healthz"),
                   "a replica starts", timeout=180)
            assert replica.process.poll() is None, replica.log.read_text()
            _until(lambda r=replica: r.status()["bus"] is True, "a replica subscribes")
        yield Fleet(vendor, replicas, redis, logs)
    finally:
        # The simulator still sleeps over the killed replica's read: no graceful stop for it.
        processes[0].kill()
        for process in processes[1:]:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
        redis.stop()


def test_replicas_starting_together_migrate_postgresql_once(fleet: Fleet) -> None:
    texts = [log.read_text() for log in fleet.logs]
    assert sum(t.count("upgraded to the newest schema") for t in texts) == 1, texts
    assert not any("is unavailable" in t for t in texts), texts


def test_fifty_viewers_on_three_replicas_make_one_upstream_call_per_resource(
    fleet: Fleet,
) -> None:
    before = fleet.vendor.reads()
    stop = time.monotonic() + 10
    served: list[int] = []

    def viewer(number: int) -> None:
        replica = fleet.replicas[number % 3]
        with httpx.Client(base_url=replica.url, timeout=60) as client:
            while time.monotonic() < stop:
                served.append(client.get(CHECKOUT).status_code)

    with ThreadPoolExecutor(50) as pool:
        list(pool.map(viewer, range(50)))
    read = fleet.vendor.reads() - before
    assert served and set(served) == {200}
    assert len(served) >= 50
    assert read, "the pages read nothing from the vendor"
    # Each resource once for the whole fleet: the TTL outlasts the run.
    twice = sorted(k for k, n in read.items() if n > 1)
    assert not twice, (twice, [line for log in fleet.logs for line in log.read_text().splitlines()
                               if "greenroom.access" not in line][-20:])


def test_serve_with_workers_joins_the_fleet_and_reads_nothing_it_already_read(
    fleet: Fleet,
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENROOM_")}
    log = fleet.logs[0].parent / "workers.log"
    process = _start(
        [sys.executable, "-m", "greenroom.cli", "serve", "--config",
         str(fleet.logs[0].parent / "app-config.yaml"), "--port", str(port), "--workers", "2"],
        log, {**env, "GREENROOM_DATA": str(log.parent / "data-workers")},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _until(lambda: process.poll() is not None or _answers(f"{url}/healthz"),
               "the workers start", timeout=180)
        assert process.poll() is None, log.read_text()
        before = fleet.vendor.reads()
        with httpx.Client(base_url=url, timeout=60) as client:
            pages = [client.get(CHECKOUT) for _ in range(10)]
        assert {p.status_code for p in pages} == {200}
        assert "card card-error" not in pages[-1].text
        # Both workers' reads came from the fleet's shared cache, not the vendor.
        assert fleet.vendor.reads() - before == Counter()
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _acknowledge_forms(html: str) -> set[str]:
    return set(re.findall(
        r'action="[^"]*/actions/pagerduty/acknowledge"[^>]*>.*?name="incident_id" value="([^"]+)"',
        html, re.S,
    ))


def test_an_action_on_one_replica_shows_on_the_others_without_waiting_for_the_ttl(
    fleet: Fleet,
) -> None:
    one, two, three = fleet.replicas
    # Every replica holds the page's reads in its local cache (TTL: minutes).
    pages = [r.get(CHECKOUT, headers=USER).text for r in fleet.replicas]
    open_ones = set.intersection(*(_acknowledge_forms(p) for p in pages))
    assert open_ones, "the simulator has a triggered incident on checkout"
    incident = sorted(open_ones)[0]
    # The session and CSRF token come from replica two; replica one accepts them.
    with httpx.Client(base_url=two.url, headers=USER, timeout=60) as browser:
        page = browser.get(CHECKOUT).text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        done = browser.post(
            f"{one.url}{CHECKOUT}/actions/pagerduty/acknowledge",
            data={"csrf_token": token, "incident_id": incident},
        )
    assert done.status_code == 303, done.text
    for replica in (one, two, three):
        # The change event reaches each replica within milliseconds; the TTL is minutes.
        _until(lambda r=replica: incident not in _acknowledge_forms(
            r.get(CHECKOUT, headers=USER).text), "the acknowledgement shows", timeout=30)


def test_a_replica_killed_mid_fetch_holds_the_others_no_longer_than_its_lease(
    fleet: Fleet,
) -> None:
    doomed, survivor = fleet.replicas[2], fleet.replicas[1]
    before = fleet.vendor.reads()
    # The vendor's next answer (the first read of payments' card) takes ten minutes: the
    # replica that asked holds that resource's lease when it is killed.
    fleet.vendor.fault(path_prefix="/", method="GET", latency=600, times=1)
    hung = threading.Thread(target=lambda: _quietly(lambda: doomed.get(PAYMENTS)), daemon=True)
    hung.start()
    _until(lambda: sum((fleet.vendor.reads() - before).values()) > 0, "the doomed read starts")
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait(30)
    page = survivor.get(PAYMENTS).text
    # The card answered within its 10 s budget: the lease (3 s) ran out, then it read itself.
    assert "No answer within" not in page
    assert 'class="card card-error"' not in page, page
    # The resource the dead replica was reading was read again, once, by the survivor.
    assert sorted((fleet.vendor.reads() - before).values())[-1] == 2
    fleet.replicas.remove(doomed)


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass  # the replica was killed under it


def test_stopping_redis_loses_no_page_and_restarting_it_shares_reads_again(
    fleet: Fleet,
) -> None:
    replicas = fleet.replicas
    fleet.redis.stop()
    statuses = []
    for _ in range(3):
        for replica in replicas:
            statuses.append(replica.get(CHECKOUT).status_code)  # from the local caches
            statuses.append(replica.get("/incidents").status_code)
    assert set(statuses) == {200}
    for replica in replicas:
        assert replica.status()["sharedReads"] is False
    fleet.redis.start()
    for replica in replicas:
        _until(lambda r=replica: r.status()["sharedReads"] is True, "a replica rejoins Redis")
    before = fleet.vendor.reads()
    with ThreadPoolExecutor(6) as pool:
        pages = list(pool.map(lambda i: replicas[i % len(replicas)].get(SEARCH), range(6)))
    assert {p.status_code for p in pages} == {200}
    read = fleet.vendor.reads() - before
    assert read and set(read.values()) == {1}, read  # shared again: one call per resource
    # Shared reads and live events both lost Redis: one line per replica for the outage, and
    # one when it is back, not one per part or per read.
    for replica in replicas:
        lines = replica.log.read_text().splitlines()
        assert len([line for line in lines if "Redis is unreachable" in line]) == 1, lines
        assert len([line for line in lines if "Redis is back" in line]) == 1, lines
