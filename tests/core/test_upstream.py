"""The lean upstream client (``greenroom._upstream``) against real loopback servers.

Each upstream here is a raw asyncio server started by the test, so the bytes on the wire are
exactly the ones a test means (keep-alive, chunked or close-delimited framing, interim answers,
connections closed at awkward moments); it records every connection and request it saw.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from greenroom._upstream import (
    UpstreamConnectError,
    UpstreamConnectTimeout,
    UpstreamDisconnected,
    UpstreamPool,
    UpstreamRequestError,
)


@dataclass
class Seen:
    connection: int  # which connection (1, 2, ...)
    index: int  # which request on that connection (0, 1, ...)
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    raw_head: bytes


T = TypeVar("T")
Answer = Callable[[Seen, asyncio.StreamWriter], Awaitable[bool]]  # True: keep the connection


def ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


async def answer_ok(seen: Seen, writer: asyncio.StreamWriter) -> bool:
    writer.write(ok(f'{{"n":{seen.index}}}'.encode()))
    return True


@dataclass
class Upstream:
    answer: Answer = answer_ok
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[Seen] = field(default_factory=list)
    closed: int = 0
    server: asyncio.Server | None = None
    scheme: str = "http"

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        host = "localhost" if self.scheme == "https" else "127.0.0.1"
        return f"{self.scheme}://{host}:{port}"

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> Upstream:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        if ssl_context is not None:
            self.scheme = "https"
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            index = 0
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, *lines = head[:-4].decode("latin-1").split("\r\n")
                method, target, _ = line.split(" ")
                headers = {}
                for header in lines:
                    name, _, value = header.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        body += (await reader.readexactly(size + 2))[:-2]
                        if size == 0:
                            break
                seen = Seen(number, index, method, target, headers, body, head)
                self.requests.append(seen)
                index += 1
                keep = await self.answer(seen, writer)
                await writer.drain()
                if not keep:
                    return
        finally:
            self.open_now -= 1
            self.closed += 1
            writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = await Upstream().start()
    yield server
    await server.stop()


async def _within(seconds: float, awaitable: Awaitable[T]) -> T:
    """``awaitable``'s result; fails the test (not with a TimeoutError, which some tests
    expect from the client) when it takes longer than ``seconds``."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait([task], timeout=seconds)
    if not done:
        task.cancel()
        raise AssertionError(f"still waiting after {seconds} s")
    return task.result()


async def _closed(server: Upstream, count: int) -> bool:
    while server.closed < count:
        await asyncio.sleep(0.01)
    return True


async def _get(pool: UpstreamPool, url: str, method: str = "GET",
               body: bytes | None = None) -> tuple[int, bytes]:
    answer = await pool.request(method, url, [("Accept", "application/json")], body)
    try:
        return answer.status, await answer.read()
    finally:
        await answer.close()


# --- keep-alive and framing ---------------------------------------------------------------------


async def test_kept_alive_connections_are_reused(upstream: Upstream) -> None:
    pool = UpstreamPool()
    for n in range(5):
        assert await _get(pool, upstream.url + "/v1/x?a=1") == (200, f'{{"n":{n}}}'.encode())
    assert upstream.connections == 1
    assert pool.connections_made == 1
    seen = upstream.requests[0]
    assert (seen.method, seen.target) == ("GET", "/v1/x?a=1")
    assert seen.headers["host"] == upstream.url.removeprefix("http://")
    await pool.aclose()


async def test_the_target_goes_out_exactly_as_given(upstream: Upstream) -> None:
    # The proxy checked the raw path; nothing may normalise it on the way out.
    pool = UpstreamPool()
    await _get(pool, upstream.url + "/a%2Fb/%2e%2e/c|d?q=%40&r=%zz")
    assert upstream.requests[0].target == "/a%2Fb/%2e%2e/c|d?q=%40&r=%zz"
    await pool.aclose()


async def test_chunked_answers_are_joined_and_keep_the_connection() -> None:
    async def chunked(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        return True

    server = await Upstream(chunked).start()
    pool = UpstreamPool()
    answer = await pool.request("GET", server.url + "/", [], None)
    assert not answer.small  # unsized: streamed
    assert b"".join([chunk async for chunk in answer.chunks()]) == b"hello world"
    await answer.close()
    assert await _get(pool, server.url + "/") == (200, b"hello world")
    assert server.connections == 1
    await pool.aclose()
    await server.stop()


async def test_an_answer_delimited_by_the_close_is_complete_and_not_reused() -> None:
    async def until_close(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it")
        return False  # the close ends the body

    server = await Upstream(until_close).start()
    pool = UpstreamPool()
    assert await _get(pool, server.url + "/") == (200, b"all of it")
    assert await _get(pool, server.url + "/") == (200, b"all of it")
    assert server.connections == 2
    await pool.aclose()
    await server.stop()


async def test_head_answers_have_no_body_and_the_connection_stays_usable() -> None:
    async def head_then_get(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.method == "HEAD":  # the length of the body a GET would get, and no body
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n")
        else:
            writer.write(ok(b"after head"))
        return True

    server = await Upstream(head_then_get).start()
    pool = UpstreamPool()
    answer = await _within(5, pool.request("HEAD", server.url + "/", [], None))
    assert answer.status == 200 and (b"content-length", b"5000") in answer.raw_headers
    assert await answer.read() == b""
    assert await _get(pool, server.url + "/") == (200, b"after head")
    assert server.connections == 1
    await pool.aclose()
    await server.stop()


@pytest.mark.parametrize("status", [204, 304])
async def test_no_content_and_not_modified_have_no_body(status: int) -> None:
    async def empty(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.index == 0:
            writer.write(f"HTTP/1.1 {status} X\r\netag: \"v1\"\r\n\r\n".encode())
        else:
            writer.write(ok(b"next"))
        return True

    server = await Upstream(empty).start()
    pool = UpstreamPool()
    assert await _within(5, _get(pool, server.url + "/")) == (status, b"")
    assert await _get(pool, server.url + "/") == (200, b"next")
    assert server.connections == 1
    await pool.aclose()
    await server.stop()


async def test_interim_answers_are_skipped() -> None:
    async def early_hints(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n"
                     b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(ok(b"final", b"x-final: yes\r\n"))
        return True

    server = await Upstream(early_hints).start()
    pool = UpstreamPool()
    answer = await pool.request("GET", server.url + "/", [], None)
    assert answer.status == 200
    assert (b"x-final", b"yes") in answer.raw_headers
    assert all(name != b"link" for name, _ in answer.raw_headers)
    assert await answer.read() == b"final"
    assert await _get(pool, server.url + "/") == (200, b"final")
    assert server.connections == 1
    await pool.aclose()
    await server.stop()


async def test_redirects_are_answered_as_they_are_and_cookies_never_kept() -> None:
    async def redirect(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\n"
                     b"set-cookie: session=someone-elses\r\ncontent-length: 0\r\n\r\n")
        return True

    server = await Upstream(redirect).start()
    pool = UpstreamPool()
    assert await _get(pool, server.url + "/") == (302, b"")
    assert await _get(pool, server.url + "/") == (302, b"")
    assert [seen.target for seen in server.requests] == ["/", "/"]
    assert all("cookie" not in seen.headers for seen in server.requests)
    await pool.aclose()
    await server.stop()


# --- request framing and header injection -------------------------------------------------------


async def test_lengths_are_computed_here(upstream: Upstream) -> None:
    pool = UpstreamPool()
    await _get(pool, upstream.url + "/", "POST", b'{"a":1}')
    await _get(pool, upstream.url + "/", "POST", None)
    answer = await pool.request(
        "PUT", upstream.url + "/", [("Content-Length", "999"), ("Transfer-Encoding", "gzip")],
        b"abc",
    )
    await answer.close()

    async def stream() -> AsyncIterator[bytes]:
        for part in (b"one ", b"two ", b"three"):
            yield part

    answer = await pool.request("POST", upstream.url + "/", [], stream())
    await answer.read()
    first, empty, put, streamed = upstream.requests
    assert (first.headers["content-length"], first.body) == ("7", b'{"a":1}')
    assert empty.headers["content-length"] == "0"
    assert (put.headers["content-length"], put.body) == ("3", b"abc")
    assert "transfer-encoding" not in put.headers
    assert streamed.headers["transfer-encoding"] == "chunked"
    assert streamed.body == b"one two three"
    await pool.aclose()


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/x", [("X-Token", "abc\r\nX-Injected: 1")]),
        ("/x", [("X-Token", "abc\nX-Injected: 1")]),
        ("/x", [("X-Token", "abc\x00")]),
        ("/x", [("X-Token\r\nX-Injected", "1")]),
        ("/x", [("X Token", "1")]),
        ("/x HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /y", []),
        ("/x?q=\r\n", []),
        ("/x y", []),
    ],
)
async def test_header_injection_is_refused_before_anything_is_sent(
    upstream: Upstream, target: str, headers: list[tuple[str, str]]
) -> None:
    pool = UpstreamPool()
    with pytest.raises(UpstreamRequestError):
        await pool.request("GET", upstream.url + target, headers, None)
    assert upstream.connections == 0
    await pool.aclose()


# --- connections closed by the upstream ---------------------------------------------------------


async def _closes_on_second_request(seen: Seen, writer: asyncio.StreamWriter) -> bool:
    # Answers the first request on each connection; the next one finds the connection closed,
    # as when an idle connection is closed by the upstream just as it is reused.
    if seen.index > 0:
        return False
    writer.write(ok(b"fine"))
    return True


async def test_a_get_on_a_stale_connection_is_sent_again_on_a_fresh_one() -> None:
    server = await Upstream(_closes_on_second_request).start()
    pool = UpstreamPool()
    assert await _get(pool, server.url + "/") == (200, b"fine")
    assert await _get(pool, server.url + "/") == (200, b"fine")
    assert server.connections == 2
    assert [(seen.connection, seen.index) for seen in server.requests] == [(1, 0), (1, 1), (2, 0)]
    await pool.aclose()
    await server.stop()


async def test_a_post_on_a_stale_connection_fails_without_being_sent_twice() -> None:
    server = await Upstream(_closes_on_second_request).start()
    pool = UpstreamPool()
    assert await _get(pool, server.url + "/", "POST", b"1") == (200, b"fine")
    with pytest.raises(UpstreamDisconnected):
        await _get(pool, server.url + "/", "POST", b"2")
    assert [seen.body for seen in server.requests] == [b"1", b"2"]
    await pool.aclose()
    await server.stop()


async def test_idle_connections_closed_by_the_upstream_are_dropped() -> None:
    async def then_close(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b"bye"))
        await writer.drain()
        await asyncio.sleep(0.05)
        return False  # closes the connection once the client holds it idle

    server = await Upstream(then_close).start()
    pool = UpstreamPool()
    assert await _get(pool, server.url + "/", "POST", b"1") == (200, b"bye")
    for _ in range(200):
        if server.closed:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    # A POST is never sent again: it only succeeds when the closed connection was let go.
    assert await _get(pool, server.url + "/", "POST", b"2") == (200, b"bye")
    assert server.connections == 2
    await pool.aclose()
    await server.stop()


async def test_an_answer_broken_off_mid_body_raises() -> None:
    async def broken(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"x" * 100)
        return False

    server = await Upstream(broken).start()
    pool = UpstreamPool()
    answer = await pool.request("GET", server.url + "/", [], None)
    with pytest.raises(UpstreamDisconnected):
        await answer.read()
    await answer.close()
    answer = await pool.request("GET", server.url + "/", [], None)
    with pytest.raises(UpstreamDisconnected):
        async for _ in answer.chunks():
            pass
    await answer.close()
    await pool.aclose()
    await server.stop()


# --- large answers ------------------------------------------------------------------------------

BIG = 8 * 1024 * 1024


async def _big(seen: Seen, writer: asyncio.StreamWriter) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: " + str(BIG).encode() + b"\r\n\r\n")
    block = b"y" * 65536
    try:
        for _ in range(BIG // len(block)):
            writer.write(block)
            await writer.drain()
    except ConnectionError:
        return False
    return True


async def test_a_large_answer_streams_without_being_held_whole() -> None:
    server = await Upstream(_big).start()
    pool = UpstreamPool()
    answer = await pool.request("GET", server.url + "/", [], None)
    assert not answer.small
    await asyncio.sleep(0.3)  # a slow reader: the upstream must wait for it, not fill memory
    largest = total = 0
    async for chunk in answer.chunks():
        largest = max(largest, len(chunk))
        total += len(chunk)
    assert total == BIG
    assert largest < 1024 * 1024
    await answer.close()
    assert await _get(pool, server.url + "/") == (200, b"y" * BIG)
    assert server.connections == 1
    await pool.aclose()
    await server.stop()


async def test_an_answer_abandoned_mid_body_closes_its_connection() -> None:
    server = await Upstream(_big).start()
    pool = UpstreamPool()
    answer = await pool.request("GET", server.url + "/", [], None)
    async for _ in answer.chunks():
        break
    await answer.close()
    assert await _within(10, _closed(server, 1))  # the upstream saw it closed
    answer = await pool.request("GET", server.url + "/", [], None)
    await answer.close()
    assert server.connections == 2
    await pool.aclose()
    await server.stop()


# --- timeouts, refusals and the pool limit ------------------------------------------------------


async def _never(seen: Seen, writer: asyncio.StreamWriter) -> bool:
    await asyncio.sleep(30)
    return False


async def test_an_upstream_that_does_not_answer_times_out() -> None:
    server = await Upstream(_never).start()
    pool = UpstreamPool(timeout=0.3)
    with pytest.raises(TimeoutError):
        await _within(10, _get(pool, server.url + "/"))
    await pool.aclose()
    await server.stop()


async def test_a_refused_connection_is_a_connection_error() -> None:
    server = await Upstream().start()
    url = server.url
    server.server.close()  # type: ignore[union-attr]
    await server.server.wait_closed()  # type: ignore[union-attr]
    pool = UpstreamPool()
    with pytest.raises(UpstreamConnectError) as caught:
        await _get(pool, url + "/")
    assert isinstance(caught.value, OSError) and not isinstance(caught.value, TimeoutError)
    await pool.aclose()


async def test_the_pool_limit_holds_and_waiters_are_served_in_turn() -> None:
    async def slow(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        writer.write(ok(b"done"))
        return True

    server = await Upstream(slow).start()
    pool = UpstreamPool(limit=2)
    results = await asyncio.wait_for(
        asyncio.gather(*(_get(pool, server.url + "/") for _ in range(8))), 20
    )
    assert results == [(200, b"done")] * 8
    assert server.most_open == 2
    assert server.connections == 2
    await pool.aclose()
    await server.stop()


async def test_waiting_for_a_place_in_a_full_pool_times_out() -> None:
    server = await Upstream(_never).start()
    pool = UpstreamPool(limit=1, timeout=0.5)
    # The one place is held for longer than the next caller's wait for a connection.
    first = asyncio.ensure_future(pool.request("GET", server.url + "/", [], None, timeout=10))
    await asyncio.sleep(0.1)
    with pytest.raises(UpstreamConnectTimeout):
        await _within(10, _get(pool, server.url + "/"))
    assert server.connections == 1
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    # The cancelled request gave its place up: the next one gets a connection (and times out
    # waiting for its answer, not for a place).
    with pytest.raises(TimeoutError) as caught:
        await _within(10, _get(pool, server.url + "/"))
    assert not isinstance(caught.value, UpstreamConnectTimeout)
    assert server.connections == 2
    await pool.aclose()
    await server.stop()


# --- https --------------------------------------------------------------------------------------


def _certificates(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A CA, a certificate for localhost it signed, the server's context and a client context
    that trusts the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "greenroom test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        ), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "cert.pem").write_bytes(cert.public_bytes(pem))
    (folder / "key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(pem).decode())
    return server, client


async def test_https_verifies_the_certificate_and_sends_the_host_as_sni(tmp_path: Path) -> None:
    server_context, client_context = _certificates(tmp_path)
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, context: names.append(name)  # type: ignore[assignment,misc,return-value]
    server = await Upstream().start(server_context)
    trusting = UpstreamPool(ssl_context=client_context)
    assert await _get(trusting, server.url + "/") == (200, b'{"n":0}')
    assert await _get(trusting, server.url + "/") == (200, b'{"n":1}')
    assert names == ["localhost"] and server.connections == 1
    default = UpstreamPool()  # the system's CAs: a certificate from an unknown CA is refused
    with pytest.raises(UpstreamConnectError) as caught:
        await _get(default, server.url + "/")
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    await trusting.aclose()
    await default.aclose()
    await server.stop()


# --- through the proxy handler ------------------------------------------------------------------


async def _proxy(
    upstream_url: str, method: str = "GET", body: bytes = b"",
    token: str | None = "Token token=fine", route_options: dict[str, object] | None = None,
    times: int = 2, sent: list[dict[str, object]] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request through ``ProxyHandler`` with the portal's shared session and its pool."""
    from greenroom._fetch import new_session
    from greenroom._identity import Identity
    from greenroom._proxy import ProxyHandler, ProxyRoutes, parse_proxy_config

    route = {"target": upstream_url, **(route_options or {})}
    routes = ProxyRoutes(parse_proxy_config({"endpoints": {"/up": route}}),
                         "http://127.0.0.1:7007/api/proxy")

    async def token_source() -> dict[str, str]:
        return {"Authorization": token or ""}

    if token is not None:
        routes.use_header_source("/up", token_source)
    session = new_session(timeout=2.0)
    handler = ProxyHandler(routes, client=lambda: session,
                           identity=lambda request: Identity("alice", authenticated=True))
    headers = [(b"host", b"portal.example"), (b"accept", b"application/json")]
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": method, "headers": headers, "query_string": b"",
             "path": "/api/proxy/up/x", "raw_path": b"/api/proxy/up/x"}
    sent_messages: list[dict[str, object]] = [] if sent is None else sent
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent_messages.append(dict(message))

    try:
        for _ in range(times):  # a second request reuses the first's connection
            sent_messages.clear()
            messages[:] = [{"type": "http.request", "body": body, "more_body": False}]
            await handler.handle(scope, receive, send, b"/up/x")
    finally:
        from greenroom._fetch import upstream_pool

        pool = upstream_pool(session)
        assert pool is not None
        await pool.aclose()
        await session.close()
    start = sent_messages[0]
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}  # type: ignore[attr-defined]
    content = b"".join(m.get("body", b"") for m in sent_messages[1:])  # type: ignore[misc]
    return int(start["status"]), answer_headers, content  # type: ignore[call-overload]


async def test_the_proxy_sends_through_the_pool_and_reuses_connections(upstream: Upstream) -> None:
    status, headers, content = await _proxy(upstream.url + "/base")
    assert (status, content) == (200, b'{"n":1}')
    assert headers["content-length"] == "7"
    assert upstream.connections == 1
    assert [seen.target for seen in upstream.requests] == ["/base/x", "/base/x"]
    assert upstream.requests[0].headers["authorization"] == "Token token=fine"


async def test_a_token_source_that_injects_headers_gets_a_502_and_nothing_is_sent(
    upstream: Upstream,
) -> None:
    status, _, content = await _proxy(upstream.url, token="Token token=x\r\nX-Admin: yes")
    assert status == 502
    assert b"not valid HTTP" in content and b"X-Admin" not in content
    assert upstream.connections == 0


async def test_a_post_on_a_stale_connection_is_a_502_through_the_proxy() -> None:
    server = await Upstream(_closes_on_second_request).start()
    status, _, content = await _proxy(server.url, "POST", b'{"a":1}')
    assert status == 502 and b"unreachable" in content
    assert [seen.body for seen in server.requests] == [b'{"a":1}', b'{"a":1}']
    await server.stop()


async def test_a_slow_upstream_is_a_504_through_the_proxy() -> None:
    server = await Upstream(_never).start()
    status, _, _ = await _within(20, _proxy(server.url))
    assert status == 504
    await server.stop()


async def test_credentials_in_the_target_go_through_aiohttp(upstream: Upstream) -> None:
    url = upstream.url.replace("http://", "http://user:pass@")
    status, _, content = await _proxy(url, token=None, route_options={"changeOrigin": True})
    assert (status, content) == (200, b'{"n":1}')
    assert upstream.requests[0].headers["authorization"] == "Basic dXNlcjpwYXNz"


# --- through core.fetch -------------------------------------------------------------------------


async def test_fetch_reads_through_the_pool_on_kept_alive_connections(upstream: Upstream) -> None:
    from greenroom import FetchApi

    fetch = FetchApi()
    try:
        for n in range(3):
            response = await fetch.get(upstream.url + "/v1/x?email=a%40b.example", cache_ttl=0)
            assert (response.status_code, response.json()) == (200, {"n": n})
        assert upstream.connections == 1
        assert fetch.upstream.connections_made == 1
        # Quoted as aiohttp quoted it (vendors' simulators pin it).
        assert upstream.requests[0].target == "/v1/x?email=a@b.example"
    finally:
        await fetch.aclose()


async def test_fetch_decodes_a_compressed_answer_for_the_plugin() -> None:
    import gzip

    async def compressed(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        body = gzip.compress(b'{"packed": true}')
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        return True

    from greenroom import FetchApi

    server = await Upstream(compressed).start()
    fetch = FetchApi()
    try:
        response = await fetch.get(server.url + "/", headers={"Accept-Encoding": "gzip"})
        assert response.json() == {"packed": True}
        assert "content-encoding" not in response.headers
        assert server.requests[0].headers["accept-encoding"] == "gzip"
    finally:
        await fetch.aclose()
        await server.stop()


async def test_fetch_maps_the_pools_errors_to_httpx_errors() -> None:
    import httpx

    from greenroom import FetchApi

    async def by_path(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        if seen.target == "/broken":
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nshort")
            return False
        if seen.target == "/slow":
            await asyncio.sleep(30)
        if seen.index > 0:  # a kept-alive connection that turns out closed
            return False
        writer.write(ok(b"{}"))
        return True

    server = await Upstream(by_path).start()
    fetch = FetchApi()
    try:
        with pytest.raises(httpx.ReadError):
            await fetch.get(server.url + "/broken")
        with pytest.raises(httpx.ReadTimeout):
            await _within(10, fetch.get(server.url + "/slow", timeout=0.3))
        with pytest.raises(httpx.LocalProtocolError):
            await fetch.get(server.url + "/", headers={"X-Token": "a\r\nX-Injected: 1"})
        assert all("x-injected" not in seen.headers for seen in server.requests)
        assert (await fetch.post(server.url + "/", content=b"1")).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch.post(server.url + "/", content=b"2")
    finally:
        await fetch.aclose()
        await server.stop()


async def test_a_refused_connection_is_a_502_through_the_proxy() -> None:
    server = await Upstream().start()
    url = server.url
    server.server.close()  # type: ignore[union-attr]
    await server.server.wait_closed()  # type: ignore[union-attr]
    status, _, content = await _proxy(url)
    assert status == 502 and b"unreachable" in content
    assert url.encode() not in content and b"127.0.0.1" not in content


async def test_closing_the_pool_closes_its_idle_connections(upstream: Upstream) -> None:
    pool = UpstreamPool()
    await _get(pool, upstream.url + "/")
    assert upstream.closed == 0
    await pool.aclose()
    assert await _within(10, _closed(upstream, 1))


async def test_an_answer_broken_off_mid_stream_takes_the_proxys_broke_off_path() -> None:
    from greenroom._exceptions import ProxyError

    async def broken(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n")
        return False

    server = await Upstream(broken).start()
    sent: list[dict[str, object]] = []
    with pytest.raises(ProxyError, match="broke off"):
        await _proxy(server.url, times=1, sent=sent)
    assert sent[0]["status"] == 200
    assert [m.get("body") for m in sent[1:]] == [b"hello"]
    await server.stop()


async def test_closing_the_pool_closes_busy_connections_too() -> None:
    server = await Upstream(_big).start()
    pool = UpstreamPool()
    answer = await pool.request("GET", server.url + "/", [], None)
    await pool.aclose()
    with pytest.raises(UpstreamDisconnected):
        await _within(10, answer.read())
    assert await _within(10, _closed(server, 1))


async def test_one_pool_per_origin_however_the_url_spells_it(upstream: Upstream) -> None:
    pool = UpstreamPool()
    port = upstream.url.rsplit(":", 1)[1]
    await _get(pool, f"http://localhost:{port}/")
    await _get(pool, f"http://LocalHost:{port}?x=1")
    await _get(pool, f"http://localhost:{port}/#fragment")
    assert upstream.connections == 1
    assert [seen.target for seen in upstream.requests] == ["/", "/?x=1", "/"]
    await pool.aclose()
