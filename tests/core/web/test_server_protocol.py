"""The HTTP protocol `greenroom serve` runs: uvicorn's httptools protocol with a response's writes
gathered into one, checked over real sockets on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from greenroom.web._server_protocol import GatheringHttpToolsProtocol, _GatheringTransport

_KEEP: list[asyncio.StreamWriter] = []


async def _connected_pair() -> tuple[asyncio.Transport, asyncio.StreamReader, list[bytes]]:
    """A real transport over a socket pair, whose system-level writes are recorded, and a
    reader on the other end (its writer is kept open: a dropped one closes the pair)."""
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    writes: list[bytes] = []
    real_write = transport.write

    def recorded(data: Any) -> None:
        writes.append(bytes(data))
        real_write(data)

    transport.write = recorded  # type: ignore[method-assign]
    reader, writer = await asyncio.open_connection(sock=theirs)
    _KEEP.append(writer)
    return transport, reader, writes  # type: ignore[return-value]


async def test_writes_in_one_turn_leave_in_one_write() -> None:
    transport, reader, writes = await _connected_pair()
    gathering = _GatheringTransport(transport, asyncio.get_running_loop())
    gathering.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    gathering.write(b"ok")
    assert writes == []  # nothing yet: the turn is not over
    await asyncio.sleep(0.01)
    assert writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    gathering.write(b"next")  # a later turn writes again
    await asyncio.sleep(0.01)
    assert writes[1:] == [b"next"]
    expected = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\noknext"
    assert await asyncio.wait_for(reader.readexactly(len(expected)), 10) == expected
    gathering.close()


async def test_what_was_written_goes_out_before_the_connection_closes() -> None:
    transport, reader, _ = await _connected_pair()
    gathering = _GatheringTransport(transport, asyncio.get_running_loop())
    gathering.write(b"last words")
    gathering.close()
    assert await asyncio.wait_for(reader.read(), 10) == b"last words"


# --- uvicorn serving with the protocol ---------------------------------------------------------


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        for n in range(3):
            await send({"type": "http.response.body", "body": b"data: %d\n\n" % n,
                        "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b"hello " + path.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _Recording(GatheringHttpToolsProtocol):
    """The protocol under test, with the system-level writes of each connection recorded."""

    writes: list[bytes] = []

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        real_write = transport.write

        def recorded(data: Any) -> None:
            _Recording.writes.append(bytes(data))
            real_write(data)

        transport.write = recorded  # type: ignore[method-assign]
        super().connection_made(transport)


@pytest.fixture
async def served() -> AsyncIterator[int]:
    _Recording.writes = []
    config = uvicorn.Config(_app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off", loop="asyncio", http=_Recording)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    await task


async def _exchange(port: int, request: bytes, until: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    received = b""
    while until not in received:
        chunk = await asyncio.wait_for(reader.read(65536), 10)
        if not chunk:
            break
        received += chunk
    writer.close()
    return received


async def test_a_small_answer_leaves_in_one_write_on_a_keep_alive_connection(served: int) -> None:
    request = b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n"
    answers = await _exchange(served, request % 1 + request % 2 + request % 3, b"hello /3")
    assert answers.count(b"HTTP/1.1 200 OK") == 3
    assert b"hello /1" in answers and b"hello /2" in answers
    # uvicorn alone writes the head and the body of each answer separately: six writes.
    assert len(_Recording.writes) == 3
    assert all(w.startswith(b"HTTP/1.1 200 OK") and w.endswith(b"hello /%d" % n)
               for n, w in enumerate(_Recording.writes, 1))


async def test_streams_head_requests_and_empty_answers_still_work(served: int) -> None:
    stream = await _exchange(served, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", b"0\r\n\r\n")
    assert b"transfer-encoding: chunked" in stream
    assert all(b"data: %d" % n in stream for n in range(3))
    head = await _exchange(served, b"HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                           b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 8" in head
    assert head.endswith(b"\r\n\r\n")  # no body after the head
    empty = await _exchange(served, b"GET /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                            b"\r\n\r\n")
    assert empty.startswith(b"HTTP/1.1 204")


async def test_a_connection_closed_after_its_answer_gets_the_whole_answer(served: int) -> None:
    answer = await _exchange(served, b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                             b"never")
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"hello /bye")
