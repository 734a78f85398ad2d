"""A request budget per proxy route and token: ``proxy.endpoints.<route>.rateLimit``.

PagerDuty allows 960 REST requests a minute per API token (PagerDuty's "Rate Limiting" page);
during an outage the portal must not be what spends it. A route configured with::

    proxy:
      endpoints:
        /pagerduty:
          target: https://api.pagerduty.com
          rateLimit: {requests: 960, perSeconds: 60}

sends at most that many upstream requests per window for each token it sends (the values of
the route's credential headers). A request over the budget is not sent: it gets the answer the
vendor itself would give, a 429 with ``Retry-After`` and ``ratelimit-reset`` (PagerDuty's header),
so plugins back off exactly as they do for the vendor's own limit and cards say when they retry.

The budget is a generic cell rate algorithm (GCRA): each request moves a "theoretical arrival
time" on by ``perSeconds / requests``; a request is refused while that time is more than one
window ahead. It allows a full window's burst and then a steady rate, with one number to store.
With ``redis.url`` the number lives in Redis (one Lua script, Redis's own clock) and every
replica spends the same budget; without Redis, or while it is unreachable, each process keeps
its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ._exceptions import ConfigError
from ._redis_outage import RedisOutage

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._proxy import ProxyRoutes
    from ._proxy_config import ProxyEndpoint


PREFIX = "greenroom:budget:"
_RETRY_SECONDS = 1.0
# KEYS[1]: the budget; ARGV: emission interval and window, in seconds. Returns "0" when the
# request may go, else the seconds to wait (strings: Lua numbers become integer replies).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then return tostring(allow_at - now) end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000))
return '0'
"""


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per_seconds: float

    @property
    def interval(self) -> float:
        return self.per_seconds / self.requests


def parse_rate_limit(value: Any, key_path: str) -> RateLimit | None:
    """``{requests: N, perSeconds: S}`` (both positive numbers), or None when absent."""
    if value is None:
        return None
    example = "e.g. rateLimit: {requests: 960, perSeconds: 60}"
    if not isinstance(value, Mapping):
        raise ConfigError(f"rateLimit must be a mapping, {example}", key_path=key_path)
    unknown = sorted(set(value) - {"requests", "perSeconds"})
    if unknown:
        raise ConfigError(f"rateLimit has unknown keys {unknown}; {example}", key_path=key_path)
    requests, per = value.get("requests"), value.get("perSeconds")
    if not isinstance(requests, int) or isinstance(requests, bool) or requests <= 0:
        raise ConfigError(f"rateLimit.requests must be a positive whole number; {example}",
                          key_path=f"{key_path}.requests")
    if not isinstance(per, int | float) or isinstance(per, bool) or per <= 0:
        raise ConfigError(f"rateLimit.perSeconds must be a positive number; {example}",
                          key_path=f"{key_path}.perSeconds")
    return RateLimit(requests, float(per))


class LocalBudgets:
    """Budgets kept by this process alone (GCRA, see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._arrival: dict[str, float] = {}

    async def take(self, key: str, limit: RateLimit) -> float:
        """0 when a request may go now (and counts it), else the seconds until one may."""
        now = self._clock()
        new_arrival = max(self._arrival.get(key, now), now) + limit.interval
        allow_at = new_arrival - limit.per_seconds
        if now < allow_at:
            return allow_at - now
        if len(self._arrival) > 10_000:  # tokens that stopped being used
            self._arrival = {k: v for k, v in self._arrival.items() if v > now}
        self._arrival[key] = new_arrival
        return 0.0


class RedisBudgets:
    """Budgets every replica shares; this process's own while Redis is unreachable."""

    def __init__(self, client: Redis, outage: RedisOutage | None = None) -> None:
        from redis.exceptions import RedisError

        self.client = client
        self.outage = outage or RedisOutage()
        self._errors = (RedisError, OSError)
        self._take = client.register_script(_TAKE)
        self._local = LocalBudgets()
        self._down = False
        self._down_until = 0.0

    async def take(self, key: str, limit: RateLimit) -> float:
        if self._down and time.monotonic() < self._down_until:
            return await self._local.take(key, limit)
        try:
            wait = float(await self._take(
                keys=[PREFIX + key], args=[repr(limit.interval), repr(limit.per_seconds)]
            ))
        except self._errors as exc:
            self._down_until = time.monotonic() + _RETRY_SECONDS
            self._down = True
            self.outage.failed(exc)
            return await self._local.take(key, limit)
        self._down = False
        self.outage.reached()
        return wait


class Budget:
    """What :class:`greenroom.FetchApi` and the ``/api/proxy`` handler ask before they send a
    request of a proxy route upstream."""

    def __init__(self, routes: ProxyRoutes, budgets: LocalBudgets | RedisBudgets) -> None:
        self.routes = routes
        self.budgets = budgets
        #: Requests refused because their budget was spent.
        self.refused = 0

    async def admit(self, proxied: httpx.URL, request: httpx.Request) -> httpx.Response | None:
        """None when ``request`` (already resolved from the proxy URL ``proxied``) may go;
        else the 429 to answer instead."""
        relative = self.routes.relative_path(proxied.raw_path.split(b"?", 1)[0])
        found = self.routes.match(relative) if relative is not None else None
        if found is None or found[0].rate_limit is None:
            return None
        endpoint = found[0]
        wait = await self.wait(endpoint, request.headers.items())
        if wait <= 0:
            return None
        status, headers, body = refusal(endpoint, wait)
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def wait(self, endpoint: ProxyEndpoint, headers: Any) -> float:
        """Seconds until ``endpoint`` may send a request with ``headers`` (0: now, counted)."""
        limit = endpoint.rate_limit
        if limit is None:
            return 0.0
        wait = await self.budgets.take(_budget_key(endpoint, headers), limit)
        if wait > 0:
            self.refused += 1
        return wait


def _budget_key(endpoint: ProxyEndpoint, headers: Any) -> str:
    # The token is what the route sends as credentials: its configured header names, and
    # Authorization (a plugin's OAuth token). Only a digest of it reaches Redis.
    names = {name.lower() for name in endpoint.headers} | {"authorization"}
    token = "\n".join(sorted(f"{k.lower()}={v}" for k, v in headers if k.lower() in names))
    return f"{endpoint.route}:{hashlib.sha256(token.encode()).hexdigest()[:24]}"


def refusal(endpoint: ProxyEndpoint, wait: float) -> tuple[int, list[tuple[str, str]], bytes]:
    """The 429 for a spent budget: status, headers, body (PagerDuty's error shape)."""
    seconds = max(1, math.ceil(wait))
    limit = endpoint.rate_limit
    assert limit is not None
    message = (f"Rate limited: the portal's budget for {endpoint.route} ({limit.requests} "
               f"requests per {limit.per_seconds:g} s) is spent; retrying in {seconds} s")
    body = json.dumps({"error": {"message": message, "code": 2020}}).encode()
    headers = [("content-type", "application/json"), ("retry-after", str(seconds)),
               ("ratelimit-reset", str(seconds))]
    return 429, headers, body


def attach_budget(config: Any, fetch: Any, routes: ProxyRoutes) -> Budget | None:
    """Give ``fetch`` and ``routes`` the budget of the routes that set ``rateLimit`` (shared
    through Redis with ``redis.url``); None, and nothing changes, when no route sets one."""
    if not any(e.rate_limit is not None for e in routes.endpoints.values()):
        return None
    url = config.get("redis.url") if config is not None else None
    if url:
        from ._shared_cache import redis_client

        shared = getattr(fetch, "shared", None)  # one connection pool for both
        client = shared.client if shared is not None else redis_client(str(url))
        budgets: LocalBudgets | RedisBudgets = RedisBudgets(
            client, shared.outage if shared is not None else None
        )
    else:
        budgets = LocalBudgets()
    budget = Budget(routes, budgets)
    fetch.budget = budget
    routes.budget = budget
    return budget
