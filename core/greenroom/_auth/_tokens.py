"""API tokens for scripts: ``Authorization: Bearer <token>`` on ``/api/...`` requests.

The config keeps each token's SHA-256, never the token (``auth.apiTokens[].sha256``; a ``token``
read from the environment is hashed at start-up), so a leaked config file signs nobody in. Each
token acts as ``token:<name>`` with the groups the operator gave it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from .._identity import Identity
from ._settings import ApiTokenSettings

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection


class ApiTokenBackend:
    def __init__(self, tokens: list[ApiTokenSettings]) -> None:
        self._tokens = [(t.digest(), t.name, frozenset(t.groups)) for t in tokens]

    def authenticate(self, request: HTTPConnection) -> Identity | None:
        if not self._tokens or not request.url.path.startswith("/api/"):
            return None
        scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        digest = hashlib.sha256(value.strip().encode()).hexdigest()
        found = None
        for known, name, groups in self._tokens:
            # Compare every entry, so timing does not tell how many tokens matched a prefix.
            if hmac.compare_digest(known, digest):
                found = (name, groups)
        if found is None:
            return None
        name, groups = found
        return Identity(
            user_id=f"token:{name}", email=None, display_name=f"API token {name}",
            authenticated=True, groups=groups, via="token",
        )
