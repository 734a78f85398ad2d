"""The HTTP protocol ``greenroom serve`` gives uvicorn: its httptools protocol, with each
response's writes gathered into one system call.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``: two ``send()`` system calls for every small
answer, each a full trip through the kernel's TCP stack. Under ``bench/bench_proxy.py``
(py-spy) the first of them was a tenth of a proxied request's time. Here writes made in the
same turn of the event loop are joined and sent at the end of that turn, so a small answer leaves
in one segment; nothing waits longer than the current turn. Everything else is uvicorn's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _GatheringTransport:
    """Wraps a transport: :meth:`write` gathers until the loop's next turn, then writes once.
    Every other call goes to the transport, after what was gathered when it closes it."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self._flush)
        else:
            self._pending.append(bytes(data))

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()  # what was written goes out before the connection closes
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        gathered = sum(len(chunk) for chunk in self._pending) if self._pending else 0
        return gathered + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatheringHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through :class:`_GatheringTransport`
    (pass it as uvicorn's ``http``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Flow control and addresses stay on the real transport; the request cycles write
        # through the gathering one.
        self.transport = _GatheringTransport(transport, self.loop)  # type: ignore[assignment]


__all__ = ["GatheringHttpToolsProtocol"]
