"""``auth.provider: proxy``: believe an authenticating reverse proxy, and only that proxy.

The identity header (oauth2-proxy's ``X-Forwarded-Email``) is believed only when the TCP peer is
in ``auth.proxy.trustedProxies``; from anyone else it is ignored (and logged once per peer), so a
``curl`` that sends the header itself is a guest. With ``auth.proxy.jwt`` the proxy's signed
assertion (Google IAP's ``X-Goog-IAP-JWT-Assertion``, Cloudflare Access's
``Cf-Access-Jwt-Assertion``, AWS ALB's ``X-Amzn-Oidc-Data``) is verified against the issuer's
published keys, issuer, audience and expiry instead of trusting a plain header.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .._identity import Identity
from ._settings import JwtSettings, ProxySettings

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

log = logging.getLogger("greenroom.auth")

_JWKS_TTL_SECONDS = 3600
_LEEWAY_SECONDS = 30
_CACHE_SIZE = 4096


def peer_is_trusted(peer: str | None, networks: list[Any]) -> bool:
    if not peer or not networks:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in networks)


class JwtAssertionVerifier:
    """Checks a signed assertion: signature (keys from ``jwksUrl``, cached for an hour and
    fetched again for an unknown key id), ``iss``, ``aud`` and ``exp``."""

    def __init__(self, settings: JwtSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._client = client
        self._keys: KeySet | None = None
        self._fetched = 0.0

    async def _key_set(self, refresh: bool = False) -> KeySet:
        stale = time.monotonic() - self._fetched > _JWKS_TTL_SECONDS
        if self._keys is None or stale or refresh:
            client = self._client or httpx.AsyncClient(timeout=10)
            try:
                response = await client.get(self.settings.jwks_url)
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
                self._fetched = time.monotonic()
            finally:
                if self._client is None:
                    await client.aclose()
        assert self._keys is not None
        return self._keys

    async def verify(self, assertion: str) -> dict[str, Any]:
        """The assertion's claims; ``JoseError`` (or ``httpx.HTTPError``) when it is not valid."""
        keys = await self._key_set()
        try:
            token = jwt.decode(assertion, keys, algorithms=self.settings.algorithms)
        except JoseError:
            # The issuer may have rotated its keys since they were fetched.
            keys = await self._key_set(refresh=True)
            token = jwt.decode(assertion, keys, algorithms=self.settings.algorithms)
        registry = jwt.JWTClaimsRegistry(
            leeway=_LEEWAY_SECONDS,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.audience},
            exp={"essential": True},
        )
        registry.validate(token.claims)
        return dict(token.claims)


class TrustedProxyBackend:
    """A ``SignInBackend`` for requests that came through the operator's authenticating proxy."""

    def __init__(self, settings: ProxySettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.networks = settings.networks()
        self.verifier = JwtAssertionVerifier(settings.jwt, client) if settings.jwt else None
        self._warned_peers: set[str] = set()
        self._names = [n for n in (settings.header, settings.jwt.header if settings.jwt else None)
                       if n is not None]
        # Per request these would parse an address and build two identities; both answers
        # depend only on what they are keyed by (bounded: cleared when full).
        self._trusted: dict[str | None, bool] = {}
        self._identities: dict[tuple[str, str | None, str | None], Identity] = {}

    async def authenticate(self, request: HTTPConnection) -> Identity | None:
        headers = request.headers
        sent = [n for n in self._names if headers.get(n)]
        if not sent:
            return None
        peer = request.client.host if request.client else None
        trusted = self._trusted.get(peer)
        if trusted is None:
            if len(self._trusted) >= _CACHE_SIZE:
                self._trusted.clear()
            trusted = self._trusted[peer] = peer_is_trusted(peer, self.networks)
        if not trusted:
            self._warn_once(str(peer), sent)
            return None
        if self.verifier is not None:
            return await self._from_assertion(request, str(peer))
        email = (headers.get(str(self.settings.header)) or "").strip()
        if not email:
            return None
        name = headers.get(self.settings.name_header) if self.settings.name_header else None
        groups = headers.get(self.settings.groups_header) if self.settings.groups_header else None
        key = (email, name, groups)
        identity = self._identities.get(key)
        if identity is None:
            if len(self._identities) >= _CACHE_SIZE:
                self._identities.clear()
            identity = self._identities[key] = _identity(
                email, name, self._groups(request), "proxy"
            )
        return identity

    async def _from_assertion(self, request: HTTPConnection, peer: str) -> Identity | None:
        assert self.verifier is not None and self.settings.jwt is not None
        assertion = (request.headers.get(self.settings.jwt.header) or "").strip()
        if not assertion:
            log.warning("request from trusted proxy %s has no %s assertion: treated as a guest",
                        peer, self.settings.jwt.header)
            return None
        try:
            claims = await self.verifier.verify(assertion)
        except (JoseError, ValueError, httpx.HTTPError) as exc:
            log.warning("refused the %s assertion from %s: %s", self.settings.jwt.header, peer,
                        type(exc).__name__)
            return None
        email = str(claims.get(self.settings.jwt.email_claim) or "").strip()
        if not email:
            log.warning("the assertion from %s has no %s claim: treated as a guest", peer,
                        self.settings.jwt.email_claim)
            return None
        # Only the signed claims count: a plain groups header would undo the verification.
        groups: set[str] = set()
        claim_name = self.settings.jwt.groups_claim
        claim = claims.get(claim_name) if claim_name else None
        if isinstance(claim, list):
            groups.update(str(g) for g in claim)
        return _identity(email, claims.get("name"), frozenset(groups), "jwt")

    def _groups(self, request: HTTPConnection) -> frozenset[str]:
        if not self.settings.groups_header:
            return frozenset()
        raw = request.headers.get(self.settings.groups_header) or ""
        return frozenset(g.strip() for g in raw.split(",") if g.strip())

    def _warn_once(self, peer: str, headers: Sequence[str]) -> None:
        if peer in self._warned_peers or len(self._warned_peers) > 10_000:
            return
        self._warned_peers.add(peer)
        log.warning(
            "ignored %s from %s: it is not in auth.proxy.trustedProxies, so the request is a "
            "guest (logged once per address)", ", ".join(headers), peer,
        )


def _identity(email: str, name: Any, groups: frozenset[str], via: str) -> Identity:
    base = Identity.from_email(email, (str(name).strip() or None) if name else None)
    return Identity(
        user_id=base.user_id, email=base.email, display_name=base.display_name,
        authenticated=True, groups=groups, via=via,
    )
