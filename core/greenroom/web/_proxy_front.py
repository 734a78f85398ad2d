"""The proxy's front door: ``/api/proxy/<route>/...`` through the portal's rules in one layer.

A proxied request passes exactly the rules every other request passes, in the same order: the
access log and its request id, the host and origin checks and the browser headers, the body
scrubber, the session (when the request carries its cookie), sign-in, and the guest gate with the
``proxy.<route>`` permission and its audit record. Elsewhere those are nested middlewares, each
wrapping the next one's ``send``; with FastAPI's own error, telemetry and body-limit layers, the
action-events watcher and the dispatcher, a proxied request went through eleven layers, about a
quarter of its time under ``bench/bench_proxy.py`` (py-spy). Here the rules that only look at the
request run as calls, the response passes one ``send`` wrapper (two with secrets to scrub), and
the session middleware runs only for requests that carry its cookie: without one the session is
empty and nothing on this path writes to it.

:func:`install` puts the front outside FastAPI's stack, so the rest of the portal is untouched:
any other path goes on to it unchanged.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._scrub import Scrubber, scrubbing_send
from ._access_log import log_request, start_request, with_request_id
from ._auth import GuestGate
from ._browser_security import BrowserRules, refuse
from ._session import SESSION_COOKIE, Sessions
from ._sign_in import SignInMiddleware

if TYPE_CHECKING:
    from .._identity import Identity, SignInBackend
    from .._portal import Portal
    from .._proxy import ProxyHandler

log = logging.getLogger("greenroom.web")

_COOKIE = SESSION_COOKIE.encode("ascii") + b"="
_SERVER_ERROR = b"Internal Server Error"


class ProxyFront:
    """ASGI: proxy requests (by their raw path) take the one-layer path; the rest go to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        handler: ProxyHandler,
        portal: Portal,
        browser: BrowserRules,
        scrubber: Scrubber,
        sessions: Sessions,
        sign_in: tuple[list[SignInBackend], Identity],
        prefix: str = "/api/proxy",
    ) -> None:
        self.app = app
        self.handler = handler
        self.browser = browser
        self.scrubber = scrubber
        self.prefix = prefix.rstrip("/").encode("ascii")
        self._prefix_slash = self.prefix + b"/"
        backends, guest = sign_in
        # The inner rules keep their own classes: sign-in, then the gate, then the handler.
        self._signed_in = SignInMiddleware(
            GuestGate(self._forward, portal), backends=backends, guest=guest
        )
        self._with_session = sessions.middleware(self._signed_in)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path: bytes | None = scope.get("raw_path")
        if (scope["type"] != "http" or raw_path is None
                or not raw_path.startswith(self._prefix_slash)):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = start_request(scope)
        host, refusal = self.browser.admit(scope)
        status = 0
        browser = self.browser
        harden = refusal is None  # a refusal carries its own browser headers

        async def send_front(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if harden:
                    browser.harden_start(message, host)
                with_request_id(message, request_id)
            await send(message)

        try:
            if refusal is not None:
                await refuse(scope, receive, send_front, *refusal)
                return
            out = scrubbing_send(send_front, self.scrubber) if self.scrubber else send_front
            if _has_session_cookie(scope):
                await self._with_session(scope, receive, out)
            else:
                scope["session"] = {}
                await self._signed_in(scope, receive, out)
        except Exception:
            # What FastAPI's outermost error middleware does: a plain 500 when nothing was
            # sent yet, and the exception goes on to the server, which logs it.
            if not status:
                status = 500
                await send_front({
                    "type": "http.response.start", "status": 500,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(_SERVER_ERROR)).encode())],
                })
                await send_front({"type": "http.response.body", "body": _SERVER_ERROR})
            raise
        except BaseException:
            status = status or 500
            raise
        finally:
            log_request(scope, status, started)

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path: bytes = scope["raw_path"]
        relative = raw_path.split(b"?", 1)[0][len(self.prefix) :]
        await self.handler.handle(scope, receive, send, relative)


def _has_session_cookie(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"cookie" and _COOKIE in value:
            return True
    return False


class PortalApp(FastAPI):
    """The portal's FastAPI application, with :class:`ProxyFront` outside its middleware stack
    once :func:`install` has set it up."""

    proxy_front: dict[str, Any] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.proxy_front is None:
            return stack
        return ProxyFront(stack, **self.proxy_front)


def install(app: FastAPI, **options: Any) -> None:
    """Serve ``app``'s proxy route through :class:`ProxyFront` (``options``: its keywords)."""
    if not isinstance(app, PortalApp):
        raise TypeError("the proxy front needs the portal's PortalApp")
    app.proxy_front = options
