"""The proxy over HTTP: ``/api/proxy/<route>/<path>`` as a raw ASGI handler.

The handler runs the same rules however it is reached: through the portal's front layer
(``web/_proxy_front.py``), or through :class:`~greenroom._proxy_router.ProxyDispatch` or the
FastAPI router of :mod:`greenroom._proxy_router`. Measured with py-spy under
``bench/bench_proxy.py``, FastAPI's routing and handler machinery, httpx's URL, request and
response objects over aiohttp, and the task group behind a streamed response were most of a
proxied request's time; then aiohttp's client itself was (38 %). Requests now go out through the
lean HTTP/1.1 client in ``_upstream.py`` that comes with the shared session, and through
aiohttp only for what that client does not serve (credentials in the target URL).

Request framing is never forwarded: a request carrying both ``Content-Length`` and
``Transfer-Encoding`` is refused (a keep-alive upstream could read the two differently and take
the start of the next user's request as this one's body: request smuggling), and the lengths sent
either way are the ones computed here. Small answers are read whole and sent with their length;
large or compressed ones are streamed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from yarl import URL

from ._budget import refusal
from ._exceptions import ProxyError
from ._fetch_transport import upstream_pool
from ._identity import Identity
from ._proxy_answers import AiohttpAnswer, Answer, refused_connection, send_httpx
from ._proxy_config import SAFE_HEADERS, ProxyEndpoint

# SMALL_BODY: answers up to this size with a known length are read whole and sent in one piece;
# larger, unsized or compressed ones are streamed so memory stays flat.
from ._upstream import SMALL_BODY, UpstreamNotServed, UpstreamPool, UpstreamRequestError

if TYPE_CHECKING:
    from ._proxy import ProxyRoutes

logger = logging.getLogger("greenroom.proxy")

_FRAMING = frozenset({b"content-length", b"transfer-encoding"})
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Client = httpx.AsyncClient | aiohttp.ClientSession
#: The permission check (``proxy.<route>``): called with the caller and the route after the
#: ``credentials`` check; False refuses the request with 403.
Authorize = Callable[[Identity, ProxyEndpoint], Awaitable[bool]]


def error_body(status: int, name: str, message: str) -> bytes:
    return json.dumps(
        {"error": {"name": name, "message": message}, "response": {"statusCode": status}}
    ).encode()


async def _send_error(
    send: Send, status: int, name: str, message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = error_body(status, name, message)
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Rules:
    """Per-route header rules, worked out once."""

    __slots__ = ("request_allowed", "response_allowed", "secret_names", "secret_values",
                 "added")

    def __init__(self, endpoint: ProxyEndpoint) -> None:
        allowed = {h.encode("latin-1") for h in SAFE_HEADERS | set(endpoint.allowed_headers)}
        if endpoint.credentials == "forward":
            allowed.add(b"authorization")
        # The route's own headers replace the caller's; framing is computed, never forwarded.
        self.secret_names = {name.lower().encode("latin-1") for name in endpoint.headers}
        self.request_allowed = frozenset(allowed - _FRAMING - {b"host"} - self.secret_names)
        self.response_allowed = frozenset(
            allowed - _FRAMING - {b"host", b"set-cookie"} - self.secret_names
        )
        self.secret_values = [v.encode("latin-1") for v in endpoint.headers.values() if v]
        self.added = [(name, value) for name, value in endpoint.headers.items()]

    def response_headers(self, raw: Any) -> list[tuple[bytes, bytes]]:
        """The upstream's headers the caller may see: the allow-list, never the route's
        configured header names or values, never set-cookie or framing."""
        kept = []
        for name, value in raw:
            lower = name.lower()
            if lower not in self.response_allowed:
                continue
            if self.secret_values and any(secret in value for secret in self.secret_values):
                continue
            kept.append((lower, value))
        return kept


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _read_body(receive: Receive) -> bytes:
    return b"".join([chunk async for chunk in _request_body(receive)])


class ProxyHandler:
    """Serves ``/<route>/<rest>`` under the proxy mount for one :class:`ProxyRoutes`.

    ``client`` returns the shared upstream client (an ``aiohttp.ClientSession``, or an
    ``httpx.AsyncClient``); ``identity`` answers who is asking; ``authorize`` is the permission
    check run for every route whose ``credentials`` are not ``dangerously-allow-unauthenticated``.
    """

    def __init__(
        self,
        routes: ProxyRoutes,
        *,
        client: Callable[[], Client],
        identity: Callable[[Request], Identity],
        authorize: Authorize | None = None,
    ) -> None:
        self.routes = routes
        self.client = client
        self.identity = identity
        self.authorize = authorize
        self._rules: dict[str, _Rules] = {}
        self._session: aiohttp.ClientSession | None = None
        self._pool: UpstreamPool | None = None

    def _pool_of(self, session: aiohttp.ClientSession) -> UpstreamPool | None:
        if session is not self._session:
            self._session, self._pool = session, upstream_pool(session)
        return self._pool

    def _rules_for(self, endpoint: ProxyEndpoint) -> _Rules:
        rules = self._rules.get(endpoint.route)
        if rules is None:
            rules = self._rules[endpoint.route] = _Rules(endpoint)
        return rules

    async def handle(self, scope: Scope, receive: Receive, send: Send, relative: bytes) -> None:
        """Answer one request whose raw path, below the proxy mount, is ``relative``."""
        routes = self.routes
        found = routes.match(relative)
        if found is None:
            await _send_error(send, 404, "NotFoundError", routes.no_route_message(relative))
            return
        endpoint = found[0]
        if endpoint.credentials != "dangerously-allow-unauthenticated":
            # The sign-in middleware's answer when it ran (it resolves who is asking once).
            state = scope.get("state")
            caller = state.get("identity") if state else None
            if caller is None:
                caller = self.identity(Request(scope))
            if not caller.authenticated:
                await _send_error(
                    send, 401, "AuthenticationError",
                    f"Proxy route {endpoint.route} requires an authenticated user; sign in "
                    "through the portal's identity provider",
                )
                return
            # The permission seam: `proxy.<route>` is checked here once permissions exist.
            if self.authorize is not None and not await self.authorize(caller, endpoint):
                await _send_error(
                    send, 403, "NotAllowedError",
                    f"You are not allowed to use proxy route {endpoint.route}",
                )
                return
        method: str = scope["method"]
        allowed_methods = endpoint.allowed_methods
        if allowed_methods is not None and method not in allowed_methods:
            allow = ", ".join(allowed_methods)
            await _send_error(
                send, 405, "MethodNotAllowedError",
                f"Proxy route {endpoint.route} does not allow {method}; allowed: {allow}",
                [(b"allow", allow.encode())],
            )
            return

        rules = self._rules_for(endpoint)
        headers: list[tuple[str, str]] = []
        length: bytes | None = None
        chunked = False
        caller_host: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                if length is not None and value != length:
                    length = b"conflict"
                else:
                    length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"host":
                caller_host = value
            elif name in rules.request_allowed:
                headers.append((name.decode("latin-1"), value.decode("latin-1")))
        if chunked and length is not None or length == b"conflict":
            await _send_error(
                send, 400, "InputError",
                "A request may carry Content-Length or Transfer-Encoding, not both (and one "
                "length only)",
            )
            return
        try:
            url = routes.upstream_target(endpoint, relative, scope.get("query_string", b""))
        except ProxyError as exc:
            await _send_error(send, 400, "InputError", f"Proxy route {endpoint.route}: {exc}")
            return
        if not endpoint.change_origin and caller_host:
            headers.append(("host", caller_host.decode("latin-1")))
        headers += rules.added
        source = routes.header_sources.get(endpoint.route) if routes.header_sources else None
        secrets: list[bytes] = []
        if source is not None:
            try:
                fresh = dict(await source())
            except Exception as exc:  # a plugin's token source: name the failure, not its text
                logger.warning("Proxy route %s: no credentials (%s)", endpoint.route,
                               type(exc).__name__)
                await _send_error(send, 502, "BadGatewayError",
                                  f"Proxy route {endpoint.route}: could not get credentials for "
                                  "the upstream")
                return
            names = {name.lower() for name in fresh}
            headers = [(k, v) for k, v in headers if k.lower() not in names]
            headers.extend(fresh.items())
            secrets = [value.encode("latin-1") for value in fresh.values() if value]

        if endpoint.rate_limit is not None and routes.budget is not None:
            wait = await routes.budget.wait(endpoint, headers)
            if wait > 0:  # the vendor's own answer to a spent limit, without spending it
                status, refused, content = refusal(endpoint, wait)
                await _send_error(send, status, "RateLimitedError",
                                  json.loads(content)["error"]["message"],
                                  [(k.encode(), v.encode()) for k, v in refused[1:]])
                return
        body: bytes | AsyncIterator[bytes] | None = None
        if chunked or (length is not None and length != b"0"):
            small = length is not None and length.isdigit() and int(length) <= SMALL_BODY
            body = await _read_body(receive) if small else _request_body(receive)
        elif method not in _NO_BODY_METHODS:
            body = b""

        client = self.client()
        try:
            if isinstance(client, aiohttp.ClientSession):
                answer: Answer | None = None
                pool = self._pool_of(client)
                if pool is not None:
                    try:
                        answer = await pool.request(method, url, headers, body)
                    except UpstreamNotServed:  # credentials in the URL: aiohttp sends those
                        answer = None
                if answer is None:
                    answer = AiohttpAnswer(
                        await client.request(
                            method, URL(url, encoded=True), headers=headers, data=body,
                            allow_redirects=False,
                        )
                    )
            else:
                answer = await send_httpx(client, method, url, headers, body)
        except UpstreamRequestError:
            # A line break or NUL in a header (a plugin's token source, say) would let it
            # write headers or a request of its own: nothing was sent.
            logger.warning("Proxy route %s: refused a header holding a line break or NUL",
                           endpoint.route)
            await _send_error(send, 502, "BadGatewayError",
                              f"Proxy route {endpoint.route}: a header for the upstream is not "
                              "valid HTTP; nothing was sent")
            return
        except (TimeoutError, httpx.TimeoutException) as exc:
            if not refused_connection(exc):
                await _send_error(
                    send, 504, "GatewayTimeoutError",
                    f"Proxy route {endpoint.route}: the upstream did not answer in time",
                )
                return
            await self._unreachable(send, endpoint, exc)
            return
        except (aiohttp.ClientError, httpx.HTTPError, OSError) as exc:
            await self._unreachable(send, endpoint, exc)
            return
        try:
            await self._respond(send, method, answer, rules, secrets)
        finally:
            await answer.close()

    async def _unreachable(self, send: Send, endpoint: ProxyEndpoint, exc: BaseException) -> None:
        # The exception's text may carry the upstream address; name its kind only.
        logger.warning("Proxy route %s: upstream unreachable (%s)", endpoint.route,
                       type(exc).__name__)
        await _send_error(send, 502, "BadGatewayError",
                          f"Proxy route {endpoint.route}: the upstream is unreachable")

    @staticmethod
    async def _respond(
        send: Send, method: str, answer: Answer, rules: _Rules, secrets: list[bytes]
    ) -> None:
        headers = rules.response_headers(answer.raw_headers)
        if secrets:  # run-time credentials (a plugin's token) are never echoed either
            headers = [(k, v) for k, v in headers if not any(s in v for s in secrets)]
        if method == "HEAD":
            await send({"type": "http.response.start", "status": answer.status,
                        "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if answer.small:
            content = await answer.read()
            headers.append((b"content-length", str(len(content)).encode()))
            await send({"type": "http.response.start", "status": answer.status,
                        "headers": headers})
            await send({"type": "http.response.body", "body": content})
            return
        # Streamed: no length, so the server frames the answer itself (chunked).
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        try:
            async for chunk in answer.chunks():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, httpx.HTTPError, TimeoutError, OSError) as exc:
            logger.warning("Proxy: the upstream broke off its answer (%s)", type(exc).__name__)
            raise ProxyError("the upstream broke off its answer") from None
        await send({"type": "http.response.body", "body": b""})


__all__ = ["Authorize", "Client", "ProxyHandler", "error_body"]
