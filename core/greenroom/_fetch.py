"""`core.fetch`: the one shared HTTP client every plugin uses.

Three jobs beyond sending requests:

- **In-process proxy.** A URL under the portal's proxy base (``<base>/api/proxy/<route>/...``)
  goes straight to the route's target with the route's configured headers; there is no HTTP hop
  through our own server and the secrets never leave this process.
- **Shared reads.** Concurrent identical GETs make one upstream call (single flight) and a
  successful answer is reused for a TTL (15 s unless told otherwise; 0 turns it off). Fifty
  engineers opening the same page during an outage cost the vendor's rate limit one call. The
  cache is bounded by entries and bytes: expired entries are swept and the least recently used
  go first, so a stream of distinct URLs cannot grow it.
- **Invalidation.** An action calls :meth:`FetchApi.invalidate` with the URL prefix it changed.

Plugins get httpx's API (``httpx.Response``, httpx's exceptions); how requests reach the
upstream (the lean client, aiohttp for the rest, errors mapped to httpx's) is
``_fetch_transport.py``. Nothing here logs a URL: the path of some vendor URLs holds a key
(Splunk On-Call's REST endpoint).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from ._fetch_transport import DEFAULT_TIMEOUT, UpstreamSender, default_transport

# Where tests and the proxy handler have always found them.
from ._fetch_transport import new_session as new_session
from ._fetch_transport import upstream_pool as upstream_pool
from ._upstream import UpstreamPool

if TYPE_CHECKING:
    import aiohttp

    from ._budget import Budget
    from ._shared_cache import SharedReads

QueryParams = httpx._types.QueryParamTypes | None

DEFAULT_CACHE_TTL = 15.0
DEFAULT_CACHE_ENTRIES = 2000
DEFAULT_CACHE_BYTES = 32 * 1024 * 1024


class _OriginOnly(logging.Filter):
    """httpx logs every request's full URL at INFO; keep the origin only (some vendor URLs hold
    a key in their path or query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, httpx.URL) for arg in record.args
        ):
            record.args = tuple(
                f"{arg.scheme}://{arg.netloc.decode('ascii')}/<path>"
                if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_OriginOnly())


class ProxyResolver(Protocol):
    """Maps a URL under the proxy base to ``(upstream url, headers to add)``, or None."""

    def resolve(self, url: httpx.URL) -> tuple[httpx.URL, Mapping[str, str]] | None: ...


@dataclass(frozen=True)
class _Stored:
    status_code: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    url: str

    @property
    def size(self) -> int:
        # What the entry holds, roughly: body, headers, URL and the objects around them.
        return (len(self.content) + len(self.url) + 200
                + sum(len(k) + len(v) + 64 for k, v in self.headers))

    def to_response(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            self.status_code, headers=list(self.headers), content=self.content, request=request
        )


class _NoCookies(DefaultCookiePolicy):
    """The shared client serves every user: an upstream's Set-Cookie must never be replayed."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


class FetchApi:
    """The shared client. Plugins call :meth:`get`/:meth:`post`/... as they would on httpx.

    ``transport`` (an httpx transport, e.g. ``httpx.MockTransport`` in tests) sends through httpx
    instead of the shared aiohttp session.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        proxy: ProxyResolver | None = None,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        shared: SharedReads | None = None,
    ) -> None:
        self.proxy = proxy
        #: The fleet's cache and single flight in Redis (``redis.url``); None: this process's.
        self.shared = shared
        #: The per-token request budget of proxy routes with a ``rateLimit``; None: no limit.
        self.budget: Budget | None = None
        self.cache_ttl = cache_ttl
        self.timeout = timeout
        self.cache_entries = cache_entries
        self.cache_bytes = cache_bytes
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._sender = UpstreamSender(timeout)
        self._httpx_timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._timeouts = self._httpx_timeout.as_dict()
        # key -> (expires at, stored); order is recency of use (last is newest).
        self._cache: OrderedDict[str, tuple[float, _Stored]] = OrderedDict()
        self._cache_size = 0
        self._earliest_expiry = float("inf")
        self._inflight: dict[str, asyncio.Future[_Stored]] = {}
        self._urls: dict[str, httpx.URL] = {}
        #: Upstream requests actually sent (benchmarks and tests read it).
        self.upstream_calls = 0

    @property
    def client(self) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` (over ``transport``, or aiohttp), made on first use."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport or default_transport(),
                timeout=self._httpx_timeout,
                follow_redirects=False,
            )
            self._client.cookies.jar.set_policy(_NoCookies())
        return self._client

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared aiohttp session (made on first use, inside the running event loop)."""
        return self._sender.session

    @property
    def upstream(self) -> UpstreamPool:
        """The lean client that comes with :attr:`session` (``_upstream.py``)."""
        return self._sender.upstream

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        await self._sender.aclose()
        if self.shared is not None:
            await self.shared.aclose()

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        params: QueryParams = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        timeout: float | None = None,
        cache_ttl: float | None = None,
    ) -> httpx.Response:
        """Send a request. GETs are shared and cached unless ``cache_ttl`` is 0."""
        if isinstance(url, str):
            # Cards read the same few URLs again and again; parsing one is a fifth of an
            # uncached read (py-spy), and httpx.URL is immutable.
            parsed = self._urls.get(url)
            if parsed is None:
                parsed = httpx.URL(url)
                if len(self._urls) >= 4096:
                    self._urls.clear()
                self._urls[url] = parsed
            url = parsed
        request = httpx.Request(
            method,
            url,
            params=params,
            headers=headers,
            json=json,
            content=content,
            extensions={"timeout": (
                self._timeouts if timeout is None else httpx.Timeout(timeout).as_dict()
            )},
        )
        ttl = self.cache_ttl if cache_ttl is None else cache_ttl
        if request.method != "GET" or ttl <= 0:
            return await self._send(request)
        key = self._key(request)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None:
            if cached[0] > now:
                self._cache.move_to_end(key)
                return cached[1].to_response(request)
            self._forget(key)
        pending = self._inflight.get(key)
        if pending is None:
            # The shared read runs in a task of its own: one waiter's cancellation (a closed
            # page, a card's deadline) must not reach the others, the first caller included.
            pending = asyncio.ensure_future(self._shared_read(key, request, ttl))
            # Retrieved even when every waiter has gone: no "exception never retrieved" noise.
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._inflight[key] = pending
        stored = await asyncio.shield(pending)
        return stored.to_response(request)

    async def _shared_read(self, key: str, request: httpx.Request, ttl: float) -> _Stored:
        # Remember the URL the plugin asked for: the proxy rewrites request.url to the upstream,
        # and invalidate() is called with the plugin's own (proxy) URLs.
        requested_url = str(request.url)
        try:
            if self.shared is not None:
                stored, fresh_for = await self.shared.read(
                    key, ttl, lambda: self._upstream(request, requested_url)
                )
                if fresh_for > 0 and 200 <= stored.status_code < 300:
                    self._store(key, stored, time.monotonic() + fresh_for)
                return stored
            stored = await self._upstream(request, requested_url)
            if 200 <= stored.status_code < 300:
                self._store(key, stored, time.monotonic() + ttl)
            return stored
        finally:
            self._inflight.pop(key, None)

    async def _upstream(self, request: httpx.Request, requested_url: str) -> _Stored:
        response = await self._send(request)
        return _Stored(
            response.status_code,
            tuple(response.headers.multi_items()),
            response.content,
            requested_url,
        )

    def _store(self, key: str, stored: _Stored, expires: float) -> None:
        size = stored.size
        if size > self.cache_bytes or self.cache_entries <= 0:
            return
        self._forget(key)
        self._cache[key] = (expires, stored)
        self._cache_size += size
        now = time.monotonic()
        if now >= self._earliest_expiry:
            # Entries nobody asks for again are dropped here, not left to the LRU bound.
            for old in [k for k, (at, _) in self._cache.items() if at <= now]:
                self._forget(old)
            self._earliest_expiry = min((at for at, _ in self._cache.values()), default=expires)
        self._earliest_expiry = min(self._earliest_expiry, expires)
        while len(self._cache) > self.cache_entries or self._cache_size > self.cache_bytes:
            self._forget(next(iter(self._cache)))

    def _forget(self, key: str) -> None:
        entry = self._cache.pop(key, None)
        if entry is not None:
            self._cache_size -= entry[1].size

    @property
    def cache_stats(self) -> dict[str, int]:
        """Entries and bytes held now, and the bounds."""
        return {"entries": len(self._cache), "bytes": self._cache_size,
                "max_entries": self.cache_entries, "max_bytes": self.cache_bytes}

    async def get(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    def invalidate(self, url_prefix: str | httpx.URL) -> int:
        """Forget cached GETs whose URL starts with ``url_prefix``; returns how many here.
        With shared reads the fleet's entries go too (other replicas drop their local copies
        when the action's change event reaches them: :meth:`invalidate_local`)."""
        if self.shared is not None:
            self.shared.invalidate_soon(str(url_prefix))
        return self.invalidate_local(url_prefix)

    def invalidate_local(self, url_prefix: str | httpx.URL) -> int:
        """Forget this process's cached GETs whose URL starts with ``url_prefix``."""
        prefix = str(url_prefix)
        stale = [k for k, (_, stored) in self._cache.items() if stored.url.startswith(prefix)]
        for key in stale:
            self._forget(key)
        return len(stale)

    def clear(self) -> None:
        self._cache.clear()
        self._cache_size = 0

    @staticmethod
    def _key(request: httpx.Request) -> str:
        varying = ("accept", "from", "x-greenroom-user")
        parts = [str(request.url)]
        parts += [f"{h}={request.headers.get(h, '')}" for h in varying]
        return "\n".join(parts)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        if self.proxy is not None:
            proxied = request.url
            resolved = self.proxy.resolve(proxied)
            if resolved is not None:
                upstream, added = resolved
                request.url = upstream
                request.headers["host"] = upstream.netloc.decode("ascii")
                for name, value in added.items():
                    request.headers[name] = value
                if self.budget is not None:
                    refused = await self.budget.admit(proxied, request)
                    if refused is not None:
                        return refused
        self.upstream_calls += 1
        if self._transport is not None:
            response = await self.client.send(request)
            await response.aread()
            return response
        return await self._sender.send(request)
