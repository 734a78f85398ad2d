"""The sign-in middleware: the one place that resolves who is asking, once per request.

It asks the configured :class:`~greenroom._identity.SignInBackend` s in order (see
``greenroom._identity``), stores the first identity, else the guest, in ``request.state.identity``
and binds it for ``core.identity``. Handlers call :func:`identity_of`; nothing else reads
identity headers, session cookies or tokens. It runs inside the session middleware, so a backend
may read ``request.session``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .._core_apis import _current_identity
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
        identity = await self.resolve(HTTPConnection(scope)) if self.backends else self.guest
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state[_STATE_KEY] = identity
        # RequestIdentity.bound, without a context manager object on every request.
        token = _current_identity.set(identity)
        try:
            await self.app(scope, receive, send)
        finally:
            _current_identity.reset(token)

    async def resolve(self, connection: HTTPConnection) -> Identity:
        for backend in self.backends:
            found = backend.authenticate(connection)
            if inspect.isawaitable(found):
                found = await found
            if found is not None:
                return found  # type: ignore[no-any-return]
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
