"""`core.fetch`: the one shared HTTP client every plugin uses.

Three jobs beyond sending requests:

- **In-process proxy.** A URL under the portal's proxy base (``<base>/api/proxy/<route>/...``)
  goes straight to the route's target with the route's configured headers; there is no HTTP hop
  through our own server and the secrets never leave this process.
- **Shared reads.** Concurrent identical GETs make one upstream call (single flight) and a
  successful answer is reused for a TTL (15 s unless told otherwise; 0 turns it off). Fifty
  engineers opening the same page during an outage cost the vendor's rate limit one call.
- **Invalidation.** An action calls :meth:`FetchApi.invalidate` with the URL prefix it changed.

The transport is aiohttp's, behind httpx's API: plain httpx's async pool is several times slower
under concurrency (behaviours.md §10, encode/httpx#3215).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Protocol

import httpx

QueryParams = httpx._types.QueryParamTypes | None

DEFAULT_CACHE_TTL = 15.0
DEFAULT_TIMEOUT = 10.0


class ProxyResolver(Protocol):
    """Maps a URL under the proxy base to ``(upstream url, headers to add)``, or None."""

    def resolve(self, url: httpx.URL) -> tuple[httpx.URL, Mapping[str, str]] | None: ...


@dataclass(frozen=True)
class _Stored:
    status_code: int
    headers: tuple[tuple[str, str], ...]
    content: bytes
    url: str

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


def default_transport() -> httpx.AsyncBaseTransport:
    try:
        import aiohttp
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # pragma: no cover - the dependency is declared
        return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=200))
    return AiohttpTransport(
        client=lambda: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200),
            cookie_jar=aiohttp.DummyCookieJar(),
        ),
        trust_env=False,
    )


class FetchApi:
    """The shared client. Plugins call :meth:`get`/:meth:`post`/... as they would on httpx."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        proxy: ProxyResolver | None = None,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.client = httpx.AsyncClient(
            transport=transport or default_transport(),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
        )
        self.client.cookies.jar.set_policy(_NoCookies())
        self.proxy = proxy
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, _Stored]] = {}
        self._inflight: dict[str, asyncio.Future[_Stored]] = {}
        #: Upstream requests actually sent (benchmarks and tests read it).
        self.upstream_calls = 0

    async def aclose(self) -> None:
        await self.client.aclose()

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
        request = self.client.build_request(
            method,
            url,
            params=params,
            headers=dict(headers or {}),
            json=json,
            content=content,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        ttl = self.cache_ttl if cache_ttl is None else cache_ttl
        if request.method != "GET" or ttl <= 0:
            return await self._send(request)
        key = self._key(request)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1].to_response(request)
        pending = self._inflight.get(key)
        if pending is not None:
            stored = await asyncio.shield(pending)
            return stored.to_response(request)
        future: asyncio.Future[_Stored] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        # Remember the URL the plugin asked for: the proxy rewrites request.url to the upstream,
        # and invalidate() is called with the plugin's own (proxy) URLs.
        requested_url = str(request.url)
        try:
            response = await self._send(request)
            stored = _Stored(
                response.status_code,
                tuple(response.headers.multi_items()),
                response.content,
                requested_url,
            )
            if 200 <= response.status_code < 300:
                self._cache[key] = (time.monotonic() + ttl, stored)
            future.set_result(stored)
            return response
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop(key, None)

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
        """Forget cached GETs whose URL starts with ``url_prefix``; returns how many."""
        prefix = str(url_prefix)
        stale = [k for k, (_, stored) in self._cache.items() if stored.url.startswith(prefix)]
        for key in stale:
            del self._cache[key]
        return len(stale)

    def clear(self) -> None:
        self._cache.clear()

    @staticmethod
    def _key(request: httpx.Request) -> str:
        varying = ("accept", "from", "x-greenroom-user")
        parts = [str(request.url)]
        parts += [f"{h}={request.headers.get(h, '')}" for h in varying]
        return "\n".join(parts)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        if self.proxy is not None:
            resolved = self.proxy.resolve(request.url)
            if resolved is not None:
                upstream, added = resolved
                request.url = upstream
                request.headers["host"] = upstream.netloc.decode("ascii")
                for name, value in added.items():
                    request.headers[name] = value
        self.upstream_calls += 1
        response = await self.client.send(request)
        await response.aread()
        return response
