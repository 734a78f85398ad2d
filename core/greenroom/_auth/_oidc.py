"""``auth.provider: oidc``: sign in with an OpenID Connect provider, keep a signed session.

The flow is the authorization code flow with PKCE (S256) through authlib's Starlette client:
discovery from ``{issuer}/.well-known/openid-configuration``, ``state`` and ``nonce`` kept in the
session, the ID token's signature, issuer, audience, expiry and nonce checked by authlib. The
session (the one signed cookie, see ``greenroom.web._session``) then holds the user and two
times: when they signed in (``auth.session.lifetimeHours``) and when they were last seen
(``auth.session.idleMinutes``). Sign-out records the session's id in the database until it
would have expired, so a copy of the cookie stops working on every replica.

While that database cannot be reached nobody can be signed out, and no session can be checked:
sessions started before are treated as guests (one of them may be a signed-out copy), sessions
this process starts meanwhile are believed (none of them can have been signed out), so people
can still sign in. The outage is logged once, and its end once.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._identity import Identity
from ._revocations import Revocations
from ._settings import OidcSettings, SessionSettings

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection, Request

log = logging.getLogger("greenroom.auth")

SESSION_KEY = "signed_in"
# Refresh "last seen" at most this often, so the cookie is not rewritten on every request.
_SEEN_GRANULARITY_SECONDS = 60
# Sessions started during one outage of the signed-out store that this process remembers.
_MAX_UNCHECKED_SESSIONS = 10_000


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this portal, else ``/``: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


class OidcSessionBackend:
    """A ``SignInBackend``: the user the session holds, while the session is still valid."""

    def __init__(
        self, session: SessionSettings, revocations: Revocations, *, groups_claim: str = "groups"
    ) -> None:
        self.lifetime = session.lifetime_hours * 3600
        self.idle = session.idle_minutes * 60
        self.revocations = revocations
        self.groups_claim = groups_claim
        self._store_down = False
        self._started_while_down: set[str] = set()

    def authenticate(self, request: HTTPConnection) -> Identity | None:
        if "session" not in request.scope:
            return None
        held = request.session.get(SESSION_KEY)
        if not isinstance(held, dict):
            return None
        now = time.time()
        try:
            started, seen, sid = float(held["iat"]), float(held["seen"]), str(held["sid"])
        except (KeyError, TypeError, ValueError):
            request.session.pop(SESSION_KEY, None)
            return None
        if now - started > self.lifetime or now - seen > self.idle:
            request.session.pop(SESSION_KEY, None)
            return None
        revoked = self._is_revoked(sid)
        if revoked or (revoked is None and sid not in self._started_while_down):
            return None
        if now - seen > _SEEN_GRANULARITY_SECONDS:
            held["seen"] = now
            request.session[SESSION_KEY] = held
        return Identity(
            user_id=str(held["uid"]), email=held.get("email"), display_name=held.get("name"),
            authenticated=True, groups=frozenset(held.get("groups") or ()), via="oidc",
        )

    def start(self, request: Request, claims: dict[str, Any]) -> Identity:
        """Sign the browser in with the ID token's ``claims`` (after the session was renewed)."""
        email = str(claims.get("email") or "").strip()
        subject = str(claims.get("sub") or "").strip()
        groups = claims.get(self.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        now = time.time()
        uid = email.lower() or f"oidc:{subject}"
        name = str(claims.get("name") or email or subject)
        group_names = [str(g) for g in groups][:100]
        sid = secrets.token_urlsafe(24)
        # Asking about the new id costs one lookup per sign-in and tells whether the store is
        # reachable, so that a session started during an outage is known as one.
        if self._is_revoked(sid) is None and (
            len(self._started_while_down) < _MAX_UNCHECKED_SESSIONS
        ):
            self._started_while_down.add(sid)
        held: dict[str, Any] = {
            "sid": sid,
            # The whole email address lower-cased, as every sign-in mode keys users; the
            # provider's subject when it gives no email.
            "uid": uid,
            "email": email or None,
            "name": name,
            "groups": group_names,
            "iat": now,
            "seen": now,
        }
        request.session[SESSION_KEY] = held
        return Identity(
            user_id=uid, email=email or None, display_name=name, authenticated=True,
            groups=frozenset(group_names), via="oidc",
        )

    def end(self, request: Request) -> None:
        """Sign out: the session id is revoked until the session would have expired anyway."""
        held = request.session.get(SESSION_KEY)
        if isinstance(held, dict) and "sid" in held:
            # Even when the store cannot record it, this process stops believing the session.
            self._started_while_down.discard(str(held["sid"]))
            expires = float(held.get("iat", time.time())) + self.lifetime
            self.revocations.revoke(str(held["sid"]), datetime.fromtimestamp(expires, UTC))

    def _is_revoked(self, sid: str) -> bool | None:
        """Whether ``sid`` was signed out; ``None`` when the store cannot say."""
        try:
            revoked = self.revocations.is_revoked(sid)
        except Exception as exc:  # noqa: BLE001 - unknown is never "not signed out"
            if not self._store_down:
                self._store_down = True
                log.error(
                    "cannot check signed-out sessions (%s): sessions started before now are "
                    "treated as guests, new sign-ins are accepted, until the database answers",
                    type(exc).__name__,
                )
            return None
        if self._store_down:
            self._store_down = False
            self._started_while_down.clear()
            log.info("signed-out sessions can be checked again")
        return revoked


def oauth_client(settings: OidcSettings) -> Any:
    """authlib's Starlette OAuth client for the configured provider (discovery is lazy)."""
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    client_kwargs: dict[str, Any] = {
        "scope": " ".join(settings.scopes),
        "code_challenge_method": "S256",
    }
    if not settings.client_secret:
        client_kwargs["token_endpoint_auth_method"] = "none"
    oauth.register(
        name="greenroom",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=settings.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    return oauth.create_client("greenroom")
