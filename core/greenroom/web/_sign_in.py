"""The sign-in middleware: the one place that resolves who is asking, once per request.

It asks the configured :class:`~greenroom._identity.SignInBackend` s in order (see
``greenroom._identity``), stores the first identity, else the guest, in ``request.state.identity``
and binds it for ``core.identity``. Handlers call :func:`identity_of`; nothing else reads
identity headers, session cookies or tokens. It runs inside the session middleware, so a backend
may read ``request.session``.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .._api import maybe_await
from .._core_apis import RequestIdentity
from .._identity import Identity, SignInBackend

_STATE_KEY = "identity"


class SignInMiddleware:
    def __init__(
        self, app: ASGIApp, *, backends: Sequence[SignInBackend], guest: Identity
    ) -> None:
        self.app = app
        self.backends = tuple(backends)
        self.guest = guest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        identity = await self.resolve(HTTPConnection(scope))
        scope.setdefault("state", {})[_STATE_KEY] = identity
        with RequestIdentity.bound(identity):
            await self.app(scope, receive, send)

    async def resolve(self, connection: HTTPConnection) -> Identity:
        for backend in self.backends:
            found = await maybe_await(backend.authenticate(connection))
            if found is not None:
                return found
        return self.guest


def identity_of(request: Request | HTTPConnection) -> Identity:
    """Who is asking, as the sign-in middleware resolved it for this request."""
    try:
        return request.scope["state"][_STATE_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError(
            "no identity on this request: the app has no SignInMiddleware "
            "(build it with greenroom.web.create_app)"
        ) from None
