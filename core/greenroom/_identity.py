"""Who is asking: the identity a sign-in backend resolves once per request.

The web host's sign-in middleware (``greenroom.web._sign_in``) asks the configured backends in
order and stores the first answer, or the configured guest, in ``request.state.identity``; pages,
cards, the proxy and ``core.identity`` read that and nothing else reads identity headers,
session cookies or tokens. The model is Starlette's ``AuthenticationMiddleware``
(``starlette/middleware/authentication.py``): one backend call per request, handlers read what
it stored.

A sign-in mode is a :class:`SignInBackend` registered by name in :data:`SIGN_IN_BACKENDS`;
``auth.provider`` in the config chooses it; without one every request is the guest. The built-in
modes, ``oidc`` and ``proxy`` (which the older ``identity: {header}`` section is read as), live in
``greenroom._auth``: identity headers are read by its trusted-proxy backend alone, and only from
the operator's proxies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ._exceptions import ConfigError

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from ._config import Config


@dataclass(frozen=True)
class Identity:
    """Who is looking at the page: a signed-in user, or the configured guest.

    ``user_id`` is stable and unique: the whole email address lower-cased, or the subject an
    identity provider or authenticating proxy gives. Two people who share a local part
    (``alice@a.com``, ``alice@b.com``) are two users; permissions and audit records key on it.
    """

    user_id: str
    email: str | None = None
    display_name: str | None = None
    authenticated: bool = False
    #: Groups the sign-in reported (an OIDC groups claim, a proxy's groups header or signed
    #: assertion, an API token's configured groups); permissions add the catalog's.
    groups: frozenset[str] = frozenset()
    #: How the user was authenticated (oidc, proxy, jwt, token, demo); "" for the guest.
    via: str = ""

    @property
    def name(self) -> str:
        return self.display_name or self.email or self.user_id

    @classmethod
    def from_email(cls, email: str, display_name: str | None = None) -> Identity:
        """A signed-in user known by email address only (trusted header, token claims)."""
        address = email.strip()
        return cls(
            user_id=address.lower(), email=address, display_name=display_name or address,
            authenticated=True,
        )


class SignInBackend(Protocol):
    """One way of signing in. ``authenticate`` returns the request's identity, or ``None`` when
    this backend does not recognise the request (the next backend, then the guest, answers).
    It may be a coroutine function. It raises only for a request that must be refused."""

    def authenticate(
        self, request: HTTPConnection
    ) -> Identity | None | Awaitable[Identity | None]: ...


BackendFactory = Callable[["Config"], "list[SignInBackend]"]


#: Sign-in modes by the name ``auth.provider`` gives. A mode's factory reads its own config and
#: returns the backends to ask, in order (an API-token backend before a session backend, say).
SIGN_IN_BACKENDS: dict[str, BackendFactory] = {
    "guest": lambda config: [],
}


def sign_in_backends(config: Config) -> list[SignInBackend]:
    """The backends ``auth.provider`` chooses (default: none, so every request is the guest)."""
    provider = config.get("auth.provider") or "guest"
    factory = SIGN_IN_BACKENDS.get(str(provider))
    if factory is None:
        where = config.location("auth.provider")
        # oidc and proxy are the built-in modes greenroom._auth answers before asking here.
        modes = ", ".join(sorted({*SIGN_IN_BACKENDS, "oidc", "proxy"}))
        raise ConfigError(
            f"unknown sign-in mode {provider!r}; use one of {modes}",
            file=where.file if where else None, key_path="auth.provider",
            line=where.line if where else None,
        )
    return factory(config)


def guest_identity(config: Config) -> Identity:
    """The identity of a request no backend recognised (``identity.guest``)."""
    guest = config.get("identity.guest") or {}
    return Identity(
        user_id=str(guest.get("id", "guest")),
        email=guest.get("email", "guest@example.com"),
        display_name=guest.get("name", "Guest"),
        authenticated=False,
    )
