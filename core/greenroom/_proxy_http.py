"""The proxy over HTTP: ``/api/proxy/<route>/<path>`` as a raw ASGI handler.

The handler runs the same rules whether it is reached through :func:`create_proxy_router` (a
FastAPI router, which also puts the operations in the OpenAPI document) or through
:class:`ProxyDispatch`, the middleware the portal installs so the route skips routing,
dependency injection and response objects on its hot path. Measured with py-spy under
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
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import httpx
from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from yarl import URL

from ._budget import refusal
from ._exceptions import ProxyError
from ._fetch_transport import upstream_pool
from ._identity import Identity
from ._proxy_config import _METHODS, SAFE_HEADERS, ProxyEndpoint

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


def _error_body(status: int, name: str, message: str) -> bytes:
    return json.dumps(
        {"error": {"name": name, "message": message}, "response": {"statusCode": status}}
    ).encode()


async def _send_error(
    send: Send, status: int, name: str, message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = _error_body(status, name, message)
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


class _Answer(Protocol):
    """An upstream answer, from the lean client (``_upstream.UpstreamAnswer``), aiohttp or
    httpx, in the few terms the handler needs."""

    status: int
    raw_headers: Any
    small: bool

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class _AiohttpAnswer:
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


class _HttpxAnswer:
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
                answer: _Answer | None = None
                pool = self._pool_of(client)
                if pool is not None:
                    try:
                        answer = await pool.request(method, url, headers, body)
                    except UpstreamNotServed:  # credentials in the URL: aiohttp sends those
                        answer = None
                if answer is None:
                    answer = _AiohttpAnswer(
                        await client.request(
                            method, URL(url, encoded=True), headers=headers, data=body,
                            allow_redirects=False,
                        )
                    )
            else:
                answer = await _send_httpx(client, method, url, headers, body)
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
            if not _refused(exc):
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
        send: Send, method: str, answer: _Answer, rules: _Rules, secrets: list[bytes]
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


async def _send_httpx(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes | AsyncIterator[bytes] | None,
) -> _Answer:
    # Not `client.build_request`: that would add the shared client's cookie jar, which holds
    # cookies other upstream answers set, and send them on this caller's behalf.
    request = httpx.Request(
        method, url, headers=headers, content=body,
        extensions={"timeout": client.timeout.as_dict()},
    )
    return _HttpxAnswer(await client.send(request, stream=True, follow_redirects=False))


def _refused(exc: BaseException) -> bool:
    # httpx-aiohttp maps a refused connection (aiohttp.ClientConnectorError) to
    # httpx.ConnectTimeout; only a cause that really is a timeout counts as one.
    cause = exc.__cause__
    return isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError)


class ProxyDispatch:
    """ASGI middleware: requests whose raw path starts with ``prefix/`` go straight to the
    proxy handler; everything else continues to ``app``. Install it innermost, so sign-in,
    the access log and security headers still wrap the proxy."""

    def __init__(self, app: ASGIApp, handler: ProxyHandler, prefix: str = "/api/proxy") -> None:
        self.app = app
        self.handler = handler
        self.prefix = prefix.rstrip("/").encode("ascii")
        self._prefix_slash = self.prefix + b"/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path: bytes | None = scope.get("raw_path")
            if raw_path is not None and raw_path.startswith(self._prefix_slash):
                relative = raw_path.split(b"?", 1)[0][len(self.prefix) :]
                await self.handler.handle(scope, receive, send, relative)
                return
        await self.app(scope, receive, send)


# --- the FastAPI router (the OpenAPI operations, and the route when no dispatcher is installed)


class ProxyErrorDetail(BaseModel):
    name: str
    message: str


class ProxyErrorStatus(BaseModel):
    statusCode: int  # noqa: N815 - Backstage's error body spelling


class ProxyErrorBody(BaseModel):
    """The body of every error the proxy itself answers (Backstage's error shape)."""

    error: ProxyErrorDetail
    response: ProxyErrorStatus


_ERROR = {"model": ProxyErrorBody}
PROXY_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {"description": "The upstream's answer, passed through with its status and the "
                               "allowed headers"},
    400: {**_ERROR, "description": "The path could leave the route's target (dot segments, "
                                   "encoded separators, path parameters), or the request's "
                                   "framing is ambiguous (Content-Length with "
                                   "Transfer-Encoding)"},
    401: {**_ERROR, "description": "The route needs a signed-in user"},
    403: {**_ERROR, "description": "The user may not use this route"},
    404: {**_ERROR, "description": "No proxy route matches the path"},
    405: {**_ERROR, "description": "The route's allowedMethods exclude this method"},
    502: {**_ERROR, "description": "The upstream is unreachable"},
    504: {**_ERROR, "description": "The upstream did not answer in time"},
}


class _Handled(Response):
    """Hands the raw ASGI exchange to the proxy handler (no response object of our own)."""

    def __init__(self, handler: ProxyHandler, relative: bytes) -> None:
        super().__init__()
        self.handler = handler
        self.relative = relative

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler.handle(scope, receive, send, self.relative)


def create_proxy_router(
    routes: ProxyRoutes,
    *,
    client: Callable[[], Client] | None = None,
    identity: Callable[[Request], Identity] | None = None,
    authorize: Authorize | None = None,
    handler: ProxyHandler | None = None,
) -> APIRouter:
    """``/{path:path}`` for every method, to include with ``prefix="/api/proxy"``. Pass a
    ``handler`` to share it with a :class:`ProxyDispatch`, else ``client`` and ``identity``."""
    if handler is None:
        if client is None or identity is None:
            raise TypeError("create_proxy_router needs handler=, or client= and identity=")
        handler = ProxyHandler(routes, client=client, identity=identity, authorize=authorize)
    router = APIRouter(tags=["proxy"])
    proxy_handler = handler

    async def proxy(request: Request, path: str) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode("ascii")
        raw_path = raw_path.split(b"?", 1)[0]
        # Where this router is mounted, from the decoded path Starlette routed on; the raw path
        # must start with it unencoded. The configured base URL's path is the fallback.
        mounted = request.url.path[: len(request.url.path) - len(path)].rstrip("/").encode()
        relative = (
            raw_path[len(mounted) :]
            if mounted and raw_path.startswith(mounted + b"/")
            else routes.relative_path(raw_path)
        )
        if relative is None:
            # Starlette decoded an encoded mount prefix to reach us; the raw path is not ours.
            message = (f"the proxy path must start with {routes.mount_path.decode('ascii')}/ "
                       "unencoded")
            return Response(_error_body(400, "InputError", message), 400,
                            media_type="application/json")
        return _Handled(proxy_handler, relative)

    for method_name in _METHODS:
        router.add_api_route(
            "/{path:path}",
            proxy,
            methods=[method_name],
            operation_id=f"proxy_{method_name.lower()}",
            summary="Forward a request to a configured proxy route",
            responses=PROXY_RESPONSES,
            response_class=Response,
        )
    return router


__all__ = ["PROXY_RESPONSES", "ProxyDispatch", "ProxyHandler", "create_proxy_router"]
