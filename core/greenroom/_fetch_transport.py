"""How ``core.fetch``'s requests reach the upstream.

Requests go out through the lean HTTP/1.1 client (``_upstream.py``) that comes with the shared
``aiohttp.ClientSession``, and through the session itself only for URLs with credentials in them:
plain httpx's async pool is several times slower under concurrency (encode/httpx#3215), httpx's
request objects over an aiohttp transport cost more than the request itself, and aiohttp's own
client was most of what was left (an uncached ``core.fetch`` read: 187 CPU µs through aiohttp,
80 through the lean client, measured by ``bench/bench_fetch_speed.py``). Transport errors are
mapped to httpx's here, at the source: a refused connection is ``httpx.ConnectError``, a
timeout ``httpx.ConnectTimeout`` or ``httpx.ReadTimeout``, an answer broken off
``httpx.ReadError``. No message here names a URL (some vendor URLs hold a key in their path).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._upstream import (
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamDisconnected,
    UpstreamNotServed,
    UpstreamPool,
    UpstreamProtocolError,
    UpstreamRequestError,
)

if TYPE_CHECKING:
    import aiohttp

DEFAULT_TIMEOUT = 10.0

#: The lean client (``_upstream.py``) made beside each session from :func:`new_session`, so
#: whoever holds the shared session (the proxy handler, ``FetchApi``) reaches the same pool.
_POOLS: weakref.WeakKeyDictionary[aiohttp.ClientSession, UpstreamPool] = (
    weakref.WeakKeyDictionary()
)


def new_session(limit: int = 200, timeout: float = DEFAULT_TIMEOUT) -> aiohttp.ClientSession:
    """The shared upstream session: no cookie jar (it serves every user), no proxy from the
    environment, connect and total timeouts. A lean :class:`UpstreamPool` with the same limit
    and timeouts comes with it (:func:`upstream_pool`); the session carries what the pool
    does not serve (URLs with credentials in them)."""
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0)),
        trust_env=False,
    )
    _POOLS[session] = UpstreamPool(limit=limit, timeout=timeout)
    return session


def upstream_pool(session: aiohttp.ClientSession) -> UpstreamPool | None:
    """The lean pool made with ``session`` by :func:`new_session`; None for other sessions."""
    return _POOLS.get(session)


def default_transport() -> httpx.AsyncBaseTransport:
    """httpx's API over an aiohttp session, for code that wants an ``httpx.AsyncClient``."""
    from httpx_aiohttp import AiohttpTransport

    class _Transport(AiohttpTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                return await super().handle_async_request(request)
            except httpx.ConnectTimeout as exc:
                # httpx-aiohttp reports a refused connection as a timeout.
                if _refused(exc.__cause__):
                    raise httpx.ConnectError(str(exc), request=request) from exc.__cause__
                raise

    return _Transport(client=lambda: new_session(), trust_env=False)


def _refused(cause: BaseException | None) -> bool:
    import aiohttp

    return isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError)


def _as_httpx_error(exc: Exception, request: httpx.Request) -> httpx.HTTPError | None:
    """httpx's error for an aiohttp one, or None when it is not a transport error."""
    import aiohttp

    text = type(exc).__name__  # aiohttp's messages name the URL; keep them out of ours
    if isinstance(exc, aiohttp.ConnectionTimeoutError | UpstreamConnectTimeout):
        return httpx.ConnectTimeout(text, request=request)
    if isinstance(exc, TimeoutError):  # aiohttp.ServerTimeoutError and total timeouts
        return httpx.ReadTimeout(text, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError | UpstreamConnectError):
        return httpx.ConnectError(text, request=request)
    if isinstance(exc, UpstreamDisconnected | UpstreamProtocolError):
        return httpx.RemoteProtocolError(text, request=request)
    if isinstance(exc, UpstreamRequestError):  # a CR, LF or NUL in a header: nothing was sent
        return httpx.LocalProtocolError(text, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.ReadError(text, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(text, request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(text, request=request)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return httpx.NetworkError(text, request=request)
    return None


#: Headers that describe the body as sent; plugins get it decoded and measured again.
_BODY_FRAMING = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


@functools.lru_cache(maxsize=64)  # a handful of distinct timeouts, asked for on every read
def _client_timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts with httpx's meaning: connect, each read, and waiting for a pooled
    connection."""
    import aiohttp

    return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read, connect=pool)


class UpstreamSender:
    """The shared session and its lean pool, made on first use inside the running loop; sends
    an ``httpx.Request`` and answers an ``httpx.Response`` read whole."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._wire_urls: dict[str, str] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session(timeout=self.timeout)
        return self._session

    @property
    def upstream(self) -> UpstreamPool:
        pool = upstream_pool(self.session)
        assert pool is not None  # every session made by new_session has one
        return pool

    async def aclose(self) -> None:
        if self._session is not None:
            pool = upstream_pool(self._session)
            if pool is not None:
                await pool.aclose()
            await self._session.close()

    async def send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its answer whole; httpx's errors for transport failures."""
        timeout = request.extensions.get("timeout", {})
        try:
            return await self._send_lean(request, timeout)
        except UpstreamNotServed:  # credentials in the URL: aiohttp sends those
            pass
        try:
            # The URL as a string: aiohttp re-quotes it as httpx-aiohttp did (`%40` in a query
            # goes out as `@`); proxy paths were checked raw before this point.
            async with self.session.request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=request.content or None,
                allow_redirects=False,
                timeout=_client_timeout(
                    timeout.get("connect"), timeout.get("read"), timeout.get("pool")
                ),
            ) as answer:
                body = await answer.read()
        except Exception as exc:
            mapped = _as_httpx_error(exc, request)
            if mapped is None:
                raise
            raise mapped from None
        # The body is already decoded: drop the headers that describe the encoded one.
        headers = [
            (name, value)
            for name, value in answer.raw_headers
            if name.lower() not in (b"content-encoding", b"content-length",
                                    b"transfer-encoding")
        ]
        return httpx.Response(answer.status, headers=headers, content=body, request=request)

    async def _send_lean(
        self, request: httpx.Request, timeout: Mapping[str, Any]
    ) -> httpx.Response:
        # httpx's meaning: a limit on connecting (here with waiting for a place in the pool)
        # and on each read, none on the whole exchange.
        url = str(request.url)
        wire = self._wire_urls.get(url)
        if wire is None:
            # Quoted as aiohttp (yarl) quoted it before, which vendors' simulators and tests
            # pin: `%40` in a query goes out as `@`. Proxy paths were checked raw before this.
            from yarl import URL

            wire = str(URL(url))
            if len(self._wire_urls) >= 4096:
                self._wire_urls.clear()
            self._wire_urls[url] = wire
        try:
            answer = await self.upstream.request(
                request.method, wire, request.headers.multi_items(),
                request.content or None, timeout=None, read_timeout=timeout.get("read"),
                connect_timeout=timeout.get("connect"),
            )
        except UpstreamNotServed:
            raise
        except Exception as exc:
            mapped = _as_httpx_error(exc, request)
            if mapped is None:
                raise
            raise mapped from None
        try:
            body = await answer.read()
        except TimeoutError:
            raise httpx.ReadTimeout("TimeoutError", request=request) from None
        except OSError as exc:  # broken off mid-body
            raise httpx.ReadError(type(exc).__name__, request=request) from None
        finally:
            await answer.close()
        headers: list[tuple[bytes, bytes]] = []
        coding = b""
        for name, value in answer.raw_headers:
            lower = name.lower()
            if lower in _BODY_FRAMING:
                if lower == b"content-encoding":
                    coding = value
                continue
            headers.append((name, value))
        if coding and body:  # plugins get the decoded body, as from aiohttp before
            encoded = httpx.Response(200, headers=[(b"content-encoding", coding)], content=body)
            body = encoded.content
        return httpx.Response(answer.status, headers=headers, content=body, request=request)


__all__ = ["DEFAULT_TIMEOUT", "UpstreamSender", "default_transport", "new_session",
           "upstream_pool"]
