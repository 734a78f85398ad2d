"""A lean HTTP/1.1 keep-alive client for the proxy's and ``core.fetch``'s upstream calls.

Why our own: under ``bench/bench_proxy.py`` a py-spy profile put 38 % of the proxy process's
time in aiohttp's client (``ClientSession._request``, ``ClientRequest``, timeouts, connector,
``StreamWriter``, ``ClientResponse.read``). Reading one small JSON answer over loopback with 32
requests in flight, client and upstream on a core each, CPU per request of the client process
(2026-11-30, load 1-3): aiohttp 3.14 79 µs, aiosonic 1.3 99 µs, pyreqwest 0.15 24 µs, this
client 16 µs. pyreqwest is as cheap, but it parses and normalises the URL again (``/a/%2e%2e/b``
goes out as ``/b``) while the proxy must send exactly the raw path it checked, and each answer
crosses from its runtime's thread to the event loop under the GIL.

What it does: one ``transport.write`` per request (head and a byte body together), an
``httptools.HttpResponseParser`` fed from ``data_received``, one future per request resolved
when the answer's head is in, and connections pooled per (scheme, host, port) up to ``limit``
(callers beyond it wait in line). A connection goes back to the pool only after its answer was
read completely and the parser says keep-alive; an answer abandoned mid-body closes it. A
request sent on a kept-alive connection that the upstream closed before answering is sent once
more on a fresh connection when its method is idempotent. Small answers are read whole; others
stream with back-pressure (``pause_reading``). ``https`` uses ``ssl.create_default_context()``
with the host as SNI, as aiohttp does by default.

Errors: a timeout raises :class:`TimeoutError`; anything that keeps an answer from arriving
raises an :class:`OSError` (:class:`UpstreamConnectError` when no connection could be made,
:class:`UpstreamDisconnected` when the upstream closed it, :class:`UpstreamProtocolError` for an
answer that is not HTTP); :class:`UpstreamRequestError` (a ``ValueError``) refuses, before
anything is sent, a CR, LF or NUL in the request target or any header (header injection,
whatever wrote the header), and a header name that is not an HTTP token.

What it deliberately does not do: cookies (never stored, never sent), redirects (answered as
they are), proxies from the environment, decompression (answers pass as the upstream encoded
them, so no ``Accept-Encoding`` is added), HTTP/2, ``Expect: 100-continue``, pipelining,
protocol upgrades (a 101 answer is a protocol error), and credentials in the URL:
:class:`UpstreamNotServed` is raised for ``user:password@`` URLs, before anything is read or sent,
and the caller sends those through aiohttp instead.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from collections.abc import AsyncIterator, Iterable
from types import EllipsisType

from ._upstream_connection import (
    SMALL_BODY,
    Connection,
    Origin,
    StaleConnection,
    UpstreamAnswer,
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamDisconnected,
    UpstreamNotServed,
    UpstreamProtocolError,
    UpstreamRequestError,
    origin_of,
)

_KEEPALIVE = 15.0  # seconds an idle connection is kept, as aiohttp's connector does
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # no Content-Length: 0
_COMPUTED = frozenset({"content-length", "transfer-encoding"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_USER_AGENT = "User-Agent: Greenroom\r\n"


class UpstreamPool:
    """Kept-alive connections per origin, at most ``limit`` open at once.

    ``timeout`` bounds a whole exchange (waiting for a place, connecting, sending, and reading
    the answer to its end) and ``min(timeout, 5)`` the wait for a connection, as
    ``greenroom._fetch.new_session`` sets aiohttp's. ``https`` verifies with ``ssl_context``,
    ``ssl.create_default_context()`` unless given. Make it anywhere; it binds to the running
    loop on first use.
    """

    def __init__(
        self, *, limit: int = 200, timeout: float | None = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.limit = limit
        self.timeout = timeout
        self.connect_timeout = None if timeout is None else min(timeout, 5.0)
        self._origins: dict[str, Origin] = {}
        self._by_address: dict[tuple[bool, str, int], Origin] = {}
        self._connections: set[Connection] = set()
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._ssl = ssl_context
        self._names: set[str] = set()
        #: Connections opened so far (tests and benchmarks read it).
        self.connections_made = 0

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None = None,
        *,
        timeout: float | None | EllipsisType = ...,
        read_timeout: float | None = None,
        connect_timeout: float | None | EllipsisType = ...,
    ) -> UpstreamAnswer:
        """Send one request to ``url`` (already encoded: its path and query go out as they
        are) and return the answer once its head is in. ``timeout`` bounds the whole exchange,
        ``read_timeout`` each wait for upstream bytes, and ``connect_timeout`` the wait for a
        connection; None is no limit, and left out, the pool's."""
        split = self._split(url)
        if split is None:
            raise UpstreamNotServed("only http and https URLs without credentials are served")
        origin, target = split
        data = body if isinstance(body, bytes) else b""
        stream = None if body is None or isinstance(body, bytes) else body
        streamed = stream is not None
        size = len(data)
        head = self._head(method, target, headers, origin, size, streamed)
        loop = self._loop = asyncio.get_running_loop()
        total = self.timeout if timeout is ... else timeout
        deadline = None if total is None else loop.time() + total
        connect = self.connect_timeout if connect_timeout is ... else connect_timeout
        fresh = False
        while True:
            conn = None if fresh else self._idle(origin, loop.time())
            if conn is None:
                conn = await self._connect(origin, connect, deadline)
            answer = UpstreamAnswer()
            self._start(conn, answer, method, deadline, read_timeout)
            try:
                if stream is not None:
                    conn.transport.write(head)
                    await self._send_stream(conn, answer, stream)
                elif size > 65536:
                    conn.transport.write(head)
                    conn.transport.write(data)
                else:
                    conn.transport.write(head + data if size else head)
                while not answer._head:
                    if answer._error is not None:
                        raise answer._error
                    await answer._wait()
                return answer
            except StaleConnection:
                if fresh or streamed or method not in _IDEMPOTENT:
                    raise UpstreamDisconnected(
                        "the upstream closed a kept-alive connection before answering"
                    ) from None
                fresh = True  # once more, on a connection of its own
            except BaseException:
                await answer.close()
                raise

    async def aclose(self) -> None:
        """Close every connection, busy ones too (as aiohttp's session does); requests after
        this open new ones."""
        for conn in list(self._connections):
            conn.abort()
        self._origins.clear()
        self._by_address.clear()

    # -- internals

    _loop: asyncio.AbstractEventLoop

    def _split(self, url: str) -> tuple[Origin, str] | None:
        scheme, found, rest = url.partition("://")
        if not found:
            return None
        end = len(rest)
        for mark in "/?#":
            at = rest.find(mark)
            if at != -1 and at < end:
                end = at
        key = url[: len(scheme) + 3 + end]
        origin = self._origins.get(key)
        if origin is None:
            origin = origin_of(scheme, rest[:end])
            if origin is None:
                return None
            if len(self._origins) >= 1000:  # a stream of distinct hosts: forget the idle ones
                for old in self._origins.values():
                    for conn in old.idle[:]:
                        conn.abort()
                self._origins.clear()
                self._by_address.clear()
            # One pool per (scheme, host, port), however the URL spells it (`:80` or not).
            address = (origin.ssl, origin.host.lower(), origin.port)
            origin = self._by_address.setdefault(address, origin)
            self._origins[key] = origin
        target = rest[end:].partition("#")[0]
        if not target.startswith("/"):
            target = "/" + target
        return origin, target

    def _head(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], origin: Origin,
        size: int, streamed: bool,
    ) -> bytes:
        parts = [method, " ", target, " HTTP/1.1\r\n"]
        lines = 2  # the request line and the blank line
        has_host = has_agent = False
        names = self._names
        for name, value in headers:
            if name not in names:
                if _TOKEN.fullmatch(name) is None:
                    raise UpstreamRequestError("a header name that is not an HTTP token")
                if len(names) < 1000:
                    names.add(name)
            lower = name.lower()
            if lower in _COMPUTED:
                continue  # the framing sent is the one computed here
            if lower == "host":
                has_host = True
            elif lower == "user-agent":
                has_agent = True
            parts += (name, ": ", value, "\r\n")
            lines += 1
        if not has_host:
            parts.append(origin.host_line)
            lines += 1
        if not has_agent:
            parts.append(_USER_AGENT)
            lines += 1
        if streamed:
            parts.append("Transfer-Encoding: chunked\r\n")
            lines += 1
        elif size:
            parts += ("Content-Length: ", str(size), "\r\n")
            lines += 1
        elif method not in _NO_BODY_METHODS:
            parts.append("Content-Length: 0\r\n")
            lines += 1
        parts.append("\r\n")
        text = "".join(parts)
        # Every CR and LF is one of the line ends written above: one in a name, a value or the
        # target would start a header or a request of the caller's choosing.
        if (text.count("\n") != lines or text.count("\r") != lines or "\x00" in text
                or " " in target or method not in names and not self._method_ok(method)):
            raise UpstreamRequestError(
                "a CR, LF, NUL or space in the request target, or a CR, LF or NUL in a header"
            )
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            return text.encode("utf-8")

    def _method_ok(self, method: str) -> bool:
        if _TOKEN.fullmatch(method) is None:
            return False
        self._names.add(method)
        return True

    def _idle(self, origin: Origin, now: float) -> Connection | None:
        idle = origin.idle
        while idle:
            conn = idle.pop()
            if conn.closed or conn.transport.is_closing():
                conn.abort()
            elif now - conn.idle_since > _KEEPALIVE:
                conn.abort()
            else:
                conn.reused = True
                return conn
        return None

    async def _connect(
        self, origin: Origin, connect: float | None, deadline: float | None
    ) -> Connection:
        loop = self._loop
        limit = connect
        if deadline is not None:
            left = deadline - loop.time()
            limit = left if limit is None else min(limit, left)
        try:
            async with asyncio.timeout(limit):
                while self._open >= self.limit:
                    if not self._close_one_idle():
                        waiter = loop.create_future()
                        self._waiters.append(waiter)
                        try:
                            await waiter
                        except BaseException:
                            if waiter.done() and not waiter.cancelled():
                                self._wake_one()  # woken but leaving: the place is another's
                            raise
                        conn = self._idle(origin, loop.time())
                        if conn is not None:
                            return conn
                self._open += 1
                try:
                    _, conn = await loop.create_connection(
                        lambda: Connection(self, origin), origin.host, origin.port,
                        ssl=self._ssl_context() if origin.ssl else None,
                        server_hostname=origin.host if origin.ssl else None,
                    )
                except BaseException:
                    self._open -= 1
                    self._wake_one()
                    raise
        except TimeoutError:
            raise UpstreamConnectTimeout("no connection to the upstream in time") from None
        except OSError as exc:
            raise UpstreamConnectError(
                f"could not connect to the upstream ({type(exc).__name__})"
            ) from exc
        self.connections_made += 1
        if conn.closed:  # closed by the upstream before it could be used
            raise UpstreamConnectError("the upstream closed the connection at once")
        self._connections.add(conn)
        return conn

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _start(
        self, conn: Connection, answer: UpstreamAnswer, method: str, deadline: float | None,
        read_timeout: float | None,
    ) -> None:
        conn.answer = answer
        conn.got_bytes = False
        conn.head_request = method == "HEAD"
        conn.read_timeout = read_timeout
        answer._conn = conn
        loop = self._loop
        at = deadline
        if read_timeout is not None:
            conn.last_read = loop.time()
            quiet = conn.last_read + read_timeout
            at = quiet if at is None else min(at, quiet)
        if at is not None:
            answer._timer = loop.call_at(at, self._timed_out, conn, answer, deadline)

    def _timed_out(
        self, conn: Connection, answer: UpstreamAnswer, deadline: float | None
    ) -> None:
        answer._timer = None
        if answer._complete or conn.answer is not answer:
            return
        if conn.read_timeout is not None:  # bytes came in since: the per-read limit moves on
            at = conn.last_read + conn.read_timeout
            if deadline is not None:
                at = min(at, deadline)
            if at > self._loop.time() + 0.001:
                answer._timer = self._loop.call_at(at, self._timed_out, conn, answer, deadline)
                return
        answer._fail(TimeoutError("the upstream did not answer in time"))
        conn.abort()

    async def _send_stream(
        self, conn: Connection, answer: UpstreamAnswer, body: AsyncIterator[bytes]
    ) -> None:
        write = conn.transport.write
        async for chunk in body:
            if conn.closed or answer._complete or answer._error is not None:
                break  # the upstream answered or went away: the rest is not wanted
            if chunk:
                write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                await conn.drain()
        else:
            if not conn.closed:
                write(b"0\r\n\r\n")

    def _release(self, conn: Connection) -> None:
        conn.idle_since = self._loop.time()
        conn.origin.idle.append(conn)
        self._wake_one()

    def _drop(self, conn: Connection) -> None:
        if conn.counted:
            conn.counted = False
            self._open -= 1
            self._connections.discard(conn)
            idle = conn.origin.idle
            if conn in idle:
                idle.remove(conn)
            self._wake_one()

    def _close_one_idle(self) -> bool:
        oldest: Connection | None = None
        for origin in self._origins.values():
            if origin.idle and (oldest is None or origin.idle[0].idle_since < oldest.idle_since):
                oldest = origin.idle[0]
        if oldest is None:
            return False
        oldest.abort()
        return True

    def _wake_one(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


__all__ = [
    "SMALL_BODY",
    "UpstreamAnswer",
    "UpstreamConnectError",
    "UpstreamConnectTimeout",
    "UpstreamDisconnected",
    "UpstreamNotServed",
    "UpstreamPool",
    "UpstreamProtocolError",
    "UpstreamRequestError",
]
