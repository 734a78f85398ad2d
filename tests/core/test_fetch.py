"""core.fetch: shared reads, TTL reuse, invalidation, and the in-process proxy."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
import pytest

from greenroom import FetchApi


class CountingUpstream:
    """An httpx transport standing for a vendor API: counts calls, answers after a pause."""

    def __init__(self, pause: float = 0.05, status: int = 200) -> None:
        self.calls: list[httpx.Request] = []
        self.pause = pause
        self.status = status

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        await asyncio.sleep(self.pause)
        return httpx.Response(self.status, json={"path": request.url.path, "n": len(self.calls)})


def fetch_for(upstream: CountingUpstream, **kwargs: object) -> FetchApi:
    return FetchApi(transport=httpx.MockTransport(upstream.handle), **kwargs)  # type: ignore[arg-type]


async def test_concurrent_identical_gets_make_one_upstream_call() -> None:
    upstream = CountingUpstream()
    fetch = fetch_for(upstream)
    responses = await asyncio.gather(
        *(fetch.get("https://vendor.test/incidents", params=[("a", "1")]) for _ in range(50))
    )
    assert len(upstream.calls) == 1
    assert {r.json()["n"] for r in responses} == {1}
    assert all(r.status_code == 200 for r in responses)


async def test_answers_are_reused_within_the_ttl_and_not_after() -> None:
    upstream = CountingUpstream(pause=0)
    fetch = fetch_for(upstream, cache_ttl=0.2)
    await fetch.get("https://vendor.test/x")
    await fetch.get("https://vendor.test/x")
    assert len(upstream.calls) == 1
    await asyncio.sleep(0.25)
    await fetch.get("https://vendor.test/x")
    assert len(upstream.calls) == 2


async def test_ttl_zero_turns_sharing_off() -> None:
    upstream = CountingUpstream()
    fetch = fetch_for(upstream, cache_ttl=0)
    await asyncio.gather(*(fetch.get("https://vendor.test/x") for _ in range(5)))
    assert len(upstream.calls) == 5


async def test_per_call_ttl_overrides_the_default() -> None:
    upstream = CountingUpstream(pause=0)
    fetch = fetch_for(upstream)
    await fetch.get("https://vendor.test/x", cache_ttl=0)
    await fetch.get("https://vendor.test/x", cache_ttl=0)
    assert len(upstream.calls) == 2


async def test_different_queries_and_users_are_not_shared() -> None:
    upstream = CountingUpstream(pause=0)
    fetch = fetch_for(upstream)
    await fetch.get("https://vendor.test/x", params={"q": "1"})
    await fetch.get("https://vendor.test/x", params={"q": "2"})
    await fetch.get("https://vendor.test/x", params={"q": "2"}, headers={"From": "a@x.io"})
    assert len(upstream.calls) == 3


async def test_errors_are_not_cached() -> None:
    upstream = CountingUpstream(pause=0, status=500)
    fetch = fetch_for(upstream)
    first = await fetch.get("https://vendor.test/x")
    second = await fetch.get("https://vendor.test/x")
    assert (first.status_code, second.status_code) == (500, 500)
    assert len(upstream.calls) == 2


async def test_actions_are_never_shared_and_invalidate_what_they_changed() -> None:
    upstream = CountingUpstream(pause=0)
    fetch = fetch_for(upstream)
    await fetch.get("https://vendor.test/incidents?service=a")
    await fetch.get("https://vendor.test/oncalls")
    await fetch.put("https://vendor.test/incidents/1", json={})
    await fetch.put("https://vendor.test/incidents/1", json={})
    assert len(upstream.calls) == 4
    assert fetch.invalidate("https://vendor.test/incidents") == 1
    await fetch.get("https://vendor.test/incidents?service=a")
    await fetch.get("https://vendor.test/oncalls")
    assert len(upstream.calls) == 5  # incidents read again, on-call still shared


async def test_a_failed_shared_read_fails_every_waiter() -> None:
    async def broken(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        raise httpx.ConnectError("refused", request=request)

    fetch = FetchApi(transport=httpx.MockTransport(broken))
    results = await asyncio.gather(
        *(fetch.get("https://vendor.test/x") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, httpx.ConnectError) for r in results)


class StaticResolver:
    """A proxy resolver with one route, as the portal's proxy config would give."""

    def __init__(self, base: str, target: str, headers: Mapping[str, str]) -> None:
        self.base, self.target, self.headers = base, target, headers

    def resolve(self, url: httpx.URL) -> tuple[httpx.URL, Mapping[str, str]] | None:
        text = str(url)
        if not text.startswith(self.base):
            return None
        return httpx.URL(self.target + text[len(self.base):]), self.headers


async def test_proxy_urls_go_in_process_to_the_target_with_the_route_headers() -> None:
    upstream = CountingUpstream(pause=0)
    resolver = StaticResolver(
        "http://portal.local/api/proxy/pagerduty", "https://api.vendor.test",
        {"Authorization": "Token token=s3cr3t-value"},
    )
    fetch = FetchApi(transport=httpx.MockTransport(upstream.handle), proxy=resolver)
    response = await fetch.get("http://portal.local/api/proxy/pagerduty/services?x=1")
    sent = upstream.calls[0]
    assert str(sent.url) == "https://api.vendor.test/services?x=1"
    assert sent.headers["authorization"] == "Token token=s3cr3t-value"
    assert sent.headers["host"] == "api.vendor.test"
    assert response.json()["path"] == "/services"


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_writes_pass_their_body(method: str) -> None:
    seen: list[bytes] = []

    async def echo(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(202, json={})

    fetch = FetchApi(transport=httpx.MockTransport(echo))
    response = await fetch.request(method, "https://vendor.test/enqueue", json={"a": 1})
    assert response.status_code == 202
    assert seen == [b'{"a":1}'] or seen == [b'{"a": 1}']


async def test_invalidate_matches_the_url_the_plugin_asked_for_not_the_upstream() -> None:
    upstream = CountingUpstream(pause=0)
    resolver = StaticResolver("http://portal.local/api/proxy/pd", "https://api.vendor.test", {})
    fetch = FetchApi(transport=httpx.MockTransport(upstream.handle), proxy=resolver)
    await fetch.get("http://portal.local/api/proxy/pd/incidents?service=a")
    assert fetch.invalidate("http://portal.local/api/proxy/pd/incidents") == 1
    await fetch.get("http://portal.local/api/proxy/pd/incidents?service=a")
    assert len(upstream.calls) == 2


# --- bounds of the shared read cache ------------------------------------------------------------


async def test_the_cache_keeps_at_most_its_entries_dropping_the_least_recently_used() -> None:
    upstream = CountingUpstream(pause=0)
    fetch = fetch_for(upstream, cache_entries=3)
    for name in ("a", "b", "c", "a", "d"):  # `a` is used again, so `b` is the oldest
        await fetch.get(f"https://vendor.test/{name}")
    assert len(upstream.calls) == 4
    assert fetch.cache_stats["entries"] == 3
    await fetch.get("https://vendor.test/a")
    assert len(upstream.calls) == 4  # still shared
    await fetch.get("https://vendor.test/b")
    assert len(upstream.calls) == 5  # dropped, read again


async def test_the_cache_keeps_at_most_its_bytes() -> None:
    upstream = CountingUpstream(pause=0)
    fetch = fetch_for(upstream, cache_bytes=2000)
    for index in range(50):
        await fetch.get(f"https://vendor.test/item/{index}")
    stats = fetch.cache_stats
    assert 0 < stats["bytes"] <= 2000
    assert stats["entries"] < 50


async def test_expired_entries_are_swept_even_when_never_read_again() -> None:
    upstream = CountingUpstream(pause=0)
    fetch = fetch_for(upstream, cache_ttl=0.05)
    for index in range(20):
        await fetch.get(f"https://vendor.test/once/{index}")
    await asyncio.sleep(0.1)
    await fetch.get("https://vendor.test/fresh")
    assert fetch.cache_stats["entries"] == 1


# --- errors and cancellation --------------------------------------------------------------------


async def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        fetch = FetchApi()
        try:
            with pytest.raises(httpx.ConnectError) as caught:
                await fetch.get(f"http://127.0.0.1:{port}/x")
        finally:
            await fetch.aclose()
    assert not isinstance(caught.value, httpx.TimeoutException)


async def test_one_waiters_cancellation_does_not_reach_the_others() -> None:
    upstream = CountingUpstream(pause=0.2)
    fetch = fetch_for(upstream)
    first = asyncio.ensure_future(fetch.get("https://vendor.test/shared"))
    second = asyncio.ensure_future(fetch.get("https://vendor.test/shared"))
    while not upstream.calls:
        await asyncio.sleep(0.01)
    first.cancel()  # the caller that started the shared read goes away (a closed page)
    response = await second
    assert response.status_code == 200 and response.json()["path"] == "/shared"
    assert first.cancelled()
    assert len(upstream.calls) == 1


# --- logs ---------------------------------------------------------------------------------------

KEY_IN_PATH = "0a1b2c3d-route-key-in-the-path"


@asynccontextmanager
async def fixed_answer_server() -> AsyncIterator[str]:
    """A loopback HTTP server that answers every request with a small JSON body."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                     b"content-length: 2\r\nconnection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_no_log_level_shows_a_request_url_path(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Splunk On-Call's REST endpoint holds its key in the path.
    caplog.set_level(logging.DEBUG)
    async with fixed_answer_server() as base:
        fetch = FetchApi(transport=httpx.AsyncHTTPTransport() if transport == "httpx" else None)
        try:
            url = f"{base}/integrations/generic/20131114/alert/{KEY_IN_PATH}/team"
            response = await fetch.post(url, json={"message_type": "INFO"})
            assert response.status_code == 200
            await fetch.get(f"{base}/x", params={"api_key": KEY_IN_PATH})
        finally:
            await fetch.aclose()
    if transport == "httpx":  # httpx logs each request: its origin, not its path
        assert f"HTTP Request: POST {base}/" in caplog.text
    assert KEY_IN_PATH not in caplog.text
