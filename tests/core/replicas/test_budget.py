"""The per-token request budget of a proxy route (``rateLimit``): spent together by every
replica through a real redis-server, per process without it, and answered like the vendor's
own limit (429 with Retry-After) without reaching the vendor."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from greenroom import FetchApi
from greenroom._budget import Budget, LocalBudgets, RateLimit, RedisBudgets, attach_budget
from greenroom._config import Config
from greenroom._exceptions import ConfigError
from greenroom._portal import build_portal
from greenroom._proxy import ProxyRoutes, parse_proxy_config
from greenroom._shared_cache import redis_client
from greenroom.web import create_app
from greenroom_pagerduty.simulator import create_app as create_simulator
from greenroom_pagerduty.simulator import write_portal_config

from ..web.test_live import TOKEN, _serve

BASE = "http://portal.test/api/proxy"


def _routes(limit: dict[str, object] | None = None) -> ProxyRoutes:
    endpoint: dict[str, object] = {
        "target": "https://vendor.test", "headers": {"Authorization": "Token token=abc"},
    }
    if limit is not None:
        endpoint["rateLimit"] = limit
    return ProxyRoutes(parse_proxy_config({"endpoints": {"/pagerduty": endpoint}}), BASE)


class Upstream:
    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return httpx.Response(200, json={"n": self.calls})


@pytest.mark.parametrize(("value", "key_path"), [
    ({"requests": 0, "perSeconds": 60}, "proxy.endpoints./pagerduty.rateLimit.requests"),
    ({"requests": 960}, "proxy.endpoints./pagerduty.rateLimit.perSeconds"),
    ({"requests": 960, "perSeconds": 60, "burst": 3}, "proxy.endpoints./pagerduty.rateLimit"),
    ("960/min", "proxy.endpoints./pagerduty.rateLimit"),
])
def test_a_bad_rate_limit_is_a_config_error_naming_the_key(value: object, key_path: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _routes(value)  # type: ignore[arg-type]
    assert raised.value.key_path == key_path
    assert "rateLimit: {requests: 960, perSeconds: 60}" in str(raised.value)


async def test_reads_over_the_budget_get_a_429_with_retry_after_and_never_reach_the_vendor(
) -> None:
    upstream = Upstream()
    routes = _routes({"requests": 3, "perSeconds": 60})
    fetch = FetchApi(transport=httpx.MockTransport(upstream.handle), proxy=routes, cache_ttl=0)  # type: ignore[arg-type]
    assert attach_budget(Config({}), fetch, routes) is not None
    answers = [await fetch.get(f"{BASE}/pagerduty/incidents?page={i}") for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert upstream.calls == 3
    refused = answers[3]
    assert 1 <= int(refused.headers["retry-after"]) <= 20  # one request per 20 s
    assert refused.headers["ratelimit-reset"] == refused.headers["retry-after"]
    assert "retrying in" in refused.json()["error"]["message"]


async def test_each_token_has_a_budget_of_its_own() -> None:
    routes = _routes({"requests": 1, "perSeconds": 60})
    endpoint = routes.endpoints["/pagerduty"]
    budget = Budget(routes, LocalBudgets())
    assert await budget.wait(endpoint, [("Authorization", "Bearer one")]) == 0
    assert await budget.wait(endpoint, [("Authorization", "Bearer one")]) > 0
    assert await budget.wait(endpoint, [("Authorization", "Bearer two")]) == 0


async def test_without_a_rate_limit_nothing_is_attached() -> None:
    routes = _routes()
    fetch = FetchApi(proxy=routes)
    assert attach_budget(Config({}), fetch, routes) is None
    assert fetch.budget is None and routes.budget is None


async def test_the_budget_allows_a_burst_then_a_steady_rate() -> None:
    now = [100.0]
    budgets = LocalBudgets(clock=lambda: now[0])
    limit = RateLimit(requests=4, per_seconds=60)
    assert [await budgets.take("t", limit) for _ in range(4)] == [0, 0, 0, 0]
    assert await budgets.take("t", limit) == pytest.approx(15.0)
    now[0] += 15
    assert await budgets.take("t", limit) == 0
    assert await budgets.take("t", limit) == pytest.approx(15.0)


async def test_replicas_spend_one_budget_through_redis(redis_server) -> None:  # type: ignore[no-untyped-def]
    routes = _routes({"requests": 4, "perSeconds": 60})
    endpoint = routes.endpoints["/pagerduty"]
    headers = [("Authorization", "Token token=abc")]
    fleet = [Budget(routes, RedisBudgets(redis_client(redis_server.url))) for _ in range(3)]
    try:
        waits = [await fleet[i % 3].wait(endpoint, headers) for i in range(6)]
        assert waits[:4] == [0, 0, 0, 0]
        assert all(w > 0 for w in waits[4:])  # every replica backs off, not only the first
        assert sum(b.refused for b in fleet) == 2
    finally:
        for budget in fleet:
            assert isinstance(budget.budgets, RedisBudgets)
            await budget.budgets.client.aclose()


async def test_a_stopped_redis_falls_back_to_a_budget_per_process(redis_server) -> None:  # type: ignore[no-untyped-def]
    routes = _routes({"requests": 2, "perSeconds": 60})
    endpoint = routes.endpoints["/pagerduty"]
    budget = Budget(routes, RedisBudgets(redis_client(redis_server.url)))
    redis_server.stop()
    waits = [await budget.wait(endpoint, []) for _ in range(3)]
    assert waits[:2] == [0, 0] and waits[2] > 0


def test_a_card_over_the_budget_says_when_it_retries_and_the_vendor_is_spared(
    tmp_path: Path,
) -> None:
    simulator = create_simulator(token=TOKEN)
    for vendor_url in _serve(simulator):
        config = write_portal_config(
            tmp_path, vendor_url, token=TOKEN,
            route={"rateLimit": {"requests": 1, "perSeconds": 600},
                   "credentials": "dangerously-allow-unauthenticated"},
        )
        portal = build_portal([config], demo=False)
        for url in _serve(create_app(portal)):
            page = httpx.get(f"{url}/catalog/default/component/checkout", timeout=60).text
            # The PagerDuty card's own wording for a 429 with ratelimit-reset, and the time a
            # live page reads the card again.
            found = re.search(r"rate-limited; retrying in (\d+) s \(at \d\d:\d\d:\d\d UTC\)", page)
            assert found, page
            assert f'data-retry-after="{found.group(1)}"' in page
            assert len(simulator.state.control.requests) == 1  # the budget's one request
            # The proxy over HTTP answers the same way, without asking the vendor.
            answer = httpx.get(f"{url}/api/proxy/pagerduty/services", timeout=30)
            assert answer.status_code == 429
            assert int(answer.headers["retry-after"]) > 0
            assert "retrying in" in answer.json()["error"]["message"]
            assert len(simulator.state.control.requests) == 1
