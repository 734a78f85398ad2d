"""Where the proxy handler is reached: :class:`ProxyDispatch`, an ASGI middleware taking requests
by their raw path before routing, and :func:`create_proxy_router`, a FastAPI router that also
puts the proxy's operations and answers in the OpenAPI document. The portal serves proxy requests
through its front layer (``web/_proxy_front.py``); both of these run the same handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ._identity import Identity
from ._proxy_config import _METHODS
from ._proxy_http import Authorize, Client, ProxyHandler, error_body

if TYPE_CHECKING:
    from ._proxy import ProxyRoutes


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
            return Response(error_body(400, "InputError", message), 400,
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


__all__ = ["PROXY_RESPONSES", "ProxyDispatch", "create_proxy_router"]
