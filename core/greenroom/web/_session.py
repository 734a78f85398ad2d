"""CSRF tokens (double-submit cookie) and one-shot flash alerts (signed cookie)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from starlette.requests import Request
from starlette.responses import Response

CSRF_COOKIE = "greenroom_csrf"
CSRF_FIELD = "csrf_token"
FLASH_COOKIE = "greenroom_flash"


class Session:
    """Signs flash cookies with a per-process key; CSRF tokens are random per browser."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    @staticmethod
    def csrf_token(request: Request) -> tuple[str, bool]:
        """The browser's token, and whether it is new (and must be set as a cookie)."""
        token = request.cookies.get(CSRF_COOKIE)
        if token and len(token) >= 32:
            return token, False
        return secrets.token_urlsafe(32), True

    @staticmethod
    def set_csrf(response: Response, token: str) -> None:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")

    @staticmethod
    def csrf_ok(request: Request, submitted: str | None) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE)
        return bool(cookie and submitted) and hmac.compare_digest(str(cookie), str(submitted))

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def set_flash(self, response: Response, kind: str, message: str) -> None:
        payload = base64.urlsafe_b64encode(json.dumps([kind, message]).encode())
        value = f"{payload.decode()}.{self._sign(payload)}"
        response.set_cookie(FLASH_COOKIE, value, httponly=True, samesite="lax", path="/")

    def pop_flash(self, request: Request, response: Response) -> tuple[str, str] | None:
        raw = request.cookies.get(FLASH_COOKIE)
        if not raw:
            return None
        response.delete_cookie(FLASH_COOKIE, path="/")
        payload, _, signature = raw.rpartition(".")
        if not hmac.compare_digest(self._sign(payload.encode()), signature):
            return None
        try:
            kind, message = json.loads(base64.urlsafe_b64decode(payload))
        except ValueError:
            return None
        return str(kind), str(message)
