"""One upstream HTTP/1.1 connection and the answer read from it; ``_upstream.py`` pools them.

The ``httptools`` parser's callbacks fill the current answer as bytes arrive. The answer's head
wakes the request waiting for it; its body waits in the answer until the caller reads it, and
reading from the upstream pauses while more than 256 KiB wait (back-pressure for large answers).
When the answer is complete the connection goes back to the pool if the parser says keep-alive,
and closes otherwise; closing an unfinished answer closes its connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httptools

if TYPE_CHECKING:
    from ._upstream import UpstreamPool

#: Answers up to this size with a known length and no content coding are ``small``.
SMALL_BODY = 256 * 1024
#: Buffered answer bytes above which reading from the upstream pauses until the caller catches up.
_HIGH_WATER = 256 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UpstreamRequestError(ValueError):
    """The request cannot be sent as asked (a CR, LF or NUL in a header or the target)."""


class UpstreamNotServed(UpstreamRequestError):
    """A URL this client does not send to (not http or https, or credentials in it); raised
    before anything is read or sent, so the caller can send the request another way."""


class UpstreamConnectError(ConnectionError):
    """No connection to the upstream could be made (refused, unreachable, name unknown)."""


class UpstreamConnectTimeout(TimeoutError):
    """No connection to the upstream (or free place in the pool) within the connect timeout."""


class UpstreamDisconnected(ConnectionError):
    """The upstream closed the connection before its answer was complete."""


class UpstreamProtocolError(ConnectionError):
    """The upstream's answer is not valid HTTP/1.1."""


class StaleConnection(Exception):
    """A kept-alive connection was closed by the upstream before any answer byte arrived."""


class Origin:
    __slots__ = ("host", "host_line", "idle", "port", "ssl")

    def __init__(self, scheme: str, host: str, port: int, authority: str) -> None:
        self.host = host
        self.port = port
        self.ssl = scheme == "https"
        bracketed = f"[{host}]" if ":" in host else host
        shown = bracketed if port == _DEFAULT_PORTS[scheme] else f"{bracketed}:{port}"
        self.host_line = f"Host: {shown}\r\n"
        #: Kept-alive connections, the most recently used last.
        self.idle: list[Connection] = []


def origin_of(scheme: str, authority: str) -> Origin | None:
    """The origin of ``scheme://authority``, or None for one this client does not serve."""
    if scheme not in _DEFAULT_PORTS or not authority or "@" in authority:
        return None
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = authority.partition(":")
    try:
        port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    if not host or not 0 < port < 65536 or not host.isascii():
        return None
    return Origin(scheme, host, port, authority)


class UpstreamAnswer:
    """One answer: ``status``, ``raw_headers`` as (name, value) bytes pairs in the upstream's
    order, ``small`` (a known length up to :data:`SMALL_BODY`, no content coding), and its body
    through :meth:`read` (whole) or :meth:`chunks` (streamed). :meth:`close` gives up the rest."""

    __slots__ = (
        "_buffered", "_chunks", "_complete", "_conn", "_error", "_head", "_paused", "_timer",
        "_until_close", "_waiter", "_whole", "raw_headers", "small", "status",
    )

    def __init__(self) -> None:
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.small = False
        self._conn: Connection | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._head = False  # the head is in
        self._complete = False
        self._until_close = False  # delimited by the upstream closing the connection
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._whole = False  # read() asked for everything: never pause reading
        self._paused = False

    async def read(self) -> bytes:
        """The whole body (the connection goes back to the pool once it is in)."""
        self._whole = True
        self._resume()
        while not self._complete:
            if self._error is not None:
                raise self._error
            await self._wait()
        chunks = self._chunks
        self._chunks = []
        self._buffered = 0
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives; reading pauses while more than 256 KiB wait here. An
        upstream that breaks off raises :class:`UpstreamDisconnected` (or ``TimeoutError``)."""
        while True:
            if self._chunks:
                data = b"".join(self._chunks)
                self._chunks = []
                self._buffered = 0
                self._resume()
                yield data
            elif self._complete:
                return
            elif self._error is not None:
                raise self._error
            else:
                await self._wait()

    async def close(self) -> None:
        """Done with the answer: an unfinished one closes its connection."""
        if not self._complete:
            self._complete = True
            if self._error is None:
                self._error = UpstreamDisconnected("the answer was closed before its end")
            conn = self._conn
            if conn is not None:
                conn.abort()
        self._stop_timer()
        self._chunks = []

    # -- the connection's side

    async def _wait(self) -> None:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if not self._complete and self._error is None:
            self._error = error
            self._stop_timer()
            self._wake()

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            conn = self._conn
            if conn is not None and not conn.closed:
                conn.transport.resume_reading()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection; the parser's callbacks fill the current answer."""

    transport: asyncio.Transport

    def __init__(self, pool: UpstreamPool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.parser = httptools.HttpResponseParser(self)
        self.answer: UpstreamAnswer | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.closed = False
        self.counted = True  # holds one of the pool's places until it is dropped
        self.reused = False
        self.got_bytes = False
        self.head_request = False
        self.interim = False
        self.keep_alive = False
        self.idle_since = 0.0
        self.last_read = 0.0
        self.read_timeout: float | None = None
        self.drained: asyncio.Future[None] | None = None

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        answer = self.answer
        if answer is None:  # nothing was asked: an idle connection must stay silent
            self.abort()
            return
        self.got_bytes = True
        if self.read_timeout is not None:
            self.last_read = self.pool._loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            answer._fail(UpstreamProtocolError(f"the upstream's answer is not HTTP ({exc})"))
            self.abort()
            return
        if answer._head or answer._complete:
            answer._wake()

    def eof_received(self) -> bool:
        return False  # close; connection_lost finishes an answer delimited by the close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._drop(self)
        answer = self.answer
        if answer is None or answer._complete:
            return
        self.answer = None
        if answer._head and answer._until_close and exc is None:
            answer._complete = True
            answer._stop_timer()
            answer._wake()
        elif not self.got_bytes and self.reused:
            answer._fail(StaleConnection())
        elif not answer._head:
            answer._fail(UpstreamDisconnected("the upstream closed the connection before "
                                              "answering"))
        else:
            answer._fail(UpstreamDisconnected("the upstream broke off its answer"))
        drained = self.drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    def pause_writing(self) -> None:
        self.drained = self.pool._loop.create_future()

    def resume_writing(self) -> None:
        drained = self.drained
        self.drained = None
        if drained is not None and not drained.done():
            drained.set_result(None)

    # -- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        headers = self.headers
        self.headers = []
        if status < 200:  # interim (100 Continue, 103 Early Hints): the answer follows
            if status == 101:
                raise UpstreamProtocolError("the upstream switched protocols")
            self.interim = True
            return
        answer = self.answer
        if answer is None:
            raise UpstreamProtocolError("an answer nobody asked for")
        answer.status = status
        answer.raw_headers = headers
        answer._head = True
        self.keep_alive = self.parser.should_keep_alive()
        length: int | None = None
        framed = coded = False
        for name, value in headers:
            size = len(name)
            if size == 14 and name.lower() == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise UpstreamProtocolError("a Content-Length that is not a number") from None
                framed = True
            elif size == 17 and name.lower() == b"transfer-encoding":
                framed = True
            elif size == 16 and name.lower() == b"content-encoding":
                coded = True
        if self.head_request:
            # httptools cannot be told that an answer is to HEAD (llhttp's "skip the body"
            # return of on_headers_complete is not passed through): the answer ends with its
            # head, and the next answer on this connection needs a parser that expects no body.
            self.parser = httptools.HttpResponseParser(self)
            self._complete(answer)
            return
        answer.small = length is not None and length <= SMALL_BODY and not coded
        answer._until_close = not framed and status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        answer = self.answer
        if answer is None:
            raise UpstreamProtocolError("body bytes after the answer's end")
        answer._chunks.append(body)
        answer._buffered += len(body)
        if answer._buffered > _HIGH_WATER and not answer._whole and not answer._paused:
            answer._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        answer = self.answer
        if answer is not None:
            self._complete(answer)

    # -- the pool's side

    def _complete(self, answer: UpstreamAnswer) -> None:
        answer._complete = True
        answer._stop_timer()
        answer._conn = None
        self.answer = None
        if answer._paused:
            answer._paused = False
            self.transport.resume_reading()
        if self.keep_alive and not self.closed:
            self.pool._release(self)
        else:
            self.abort()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.abort()
        self.pool._drop(self)

    async def drain(self) -> None:
        drained = self.drained
        if drained is not None:
            await drained


__all__ = [
    "SMALL_BODY",
    "Connection",
    "Origin",
    "StaleConnection",
    "UpstreamAnswer",
    "UpstreamConnectError",
    "UpstreamConnectTimeout",
    "UpstreamDisconnected",
    "UpstreamNotServed",
    "UpstreamProtocolError",
    "UpstreamRequestError",
    "origin_of",
]
