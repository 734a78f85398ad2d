"""Upstream answers in the few terms the proxy handler needs, whichever client sent the
request: the lean client (``_upstream.UpstreamAnswer`` fits as it is), aiohttp, or httpx (the
client tests inject)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import aiohttp
import httpx

from ._upstream import SMALL_BODY


class Answer(Protocol):
    """An upstream answer, from the lean client (``_upstream.UpstreamAnswer``), aiohttp or
    httpx, in the few terms the handler needs."""

    status: int
    raw_headers: Any
    small: bool

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class AiohttpAnswer:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.status = response.status
        self.raw_headers = response.raw_headers
        length = response.content_length
        self.small = (
            length is not None and length <= SMALL_BODY
            and b"Content-Encoding" not in response.headers  # may grow when decoded
        )

    async def read(self) -> bytes:
        return await self.response.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self.response.content.iter_chunked(64 * 1024):
            yield chunk

    async def close(self) -> None:
        self.response.release()


class HttpxAnswer:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.raw_headers = response.headers.raw
        length = response.headers.get("content-length")
        self.small = (
            length is not None and length.isdigit() and int(length) <= SMALL_BODY
            and "content-encoding" not in response.headers
        )

    async def read(self) -> bytes:
        return await self.response.aread()

    def chunks(self) -> AsyncIterator[bytes]:
        return self.response.aiter_bytes()

    async def close(self) -> None:
        await self.response.aclose()


async def send_httpx(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes | AsyncIterator[bytes] | None,
) -> Answer:
    # Not `client.build_request`: that would add the shared client's cookie jar, which holds
    # cookies other upstream answers set, and send them on this caller's behalf.
    request = httpx.Request(
        method, url, headers=headers, content=body,
        extensions={"timeout": client.timeout.as_dict()},
    )
    return HttpxAnswer(await client.send(request, stream=True, follow_redirects=False))


def refused_connection(exc: BaseException) -> bool:
    # httpx-aiohttp maps a refused connection (aiohttp.ClientConnectorError) to
    # httpx.ConnectTimeout; only a cause that really is a timeout counts as one.
    cause = exc.__cause__
    return isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError)
