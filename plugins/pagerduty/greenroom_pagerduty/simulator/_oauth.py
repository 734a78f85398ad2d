"""The simulator's identity server: PagerDuty's app OAuth token endpoint, with short lives.

``POST /oauth/token`` takes the client-credentials grant as PagerDuty's identity server does
(form-encoded ``grant_type``, ``client_id``, ``client_secret``, ``scope`` naming the account as
``as_account-<region>.<subdomain>`` plus API scopes) and answers
``{"access_token", "token_type": "bearer", "expires_in", "scope"}``, or RFC 6749's
``{"error": "invalid_client" | "invalid_request" | "invalid_scope" | ...}``.
Tests shorten ``lifetime`` to seconds and revoke tokens early to see the portal recover.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from . import _payloads as payloads

#: API scopes the simulator knows, as PagerDuty's REST API description names them.
KNOWN_SCOPES = frozenset(
    {
        "services.read",
        "services.write",
        "incidents.read",
        "incidents.write",
        "oncalls.read",
        "users.read",
        "escalation_policies.read",
        "teams.read",
        "schedules.read",
    }
)
_ACCOUNT_SCOPE = re.compile(r"^as_account-(us|eu)\.([A-Za-z0-9-]+)$")


def required_scope(method: str, path: str) -> str | None:
    """The ``x-pd-requires-scope`` of the REST operations the simulator serves."""
    resource = path.strip("/").split("/", 1)[0]
    if resource not in {
        "services",
        "incidents",
        "oncalls",
        "users",
        "escalation_policies",
        "teams",
    }:
        return None
    return f"{resource}.{'read' if method.upper() in ('GET', 'HEAD') else 'write'}"


@dataclass
class IssuedToken:
    scopes: frozenset[str]
    expires_at: float


@dataclass
class TokenIssuer:
    """Registered OAuth clients and the tokens issued to them."""

    clients: dict[str, str] = field(default_factory=dict)
    sub_domain: str = "greenroom-demo"
    region: str = "us"
    lifetime: int = 3600
    clock: Callable[[], float] = time.monotonic
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    #: Token requests answered with a token.
    issued: int = 0

    def issue(self, scopes: frozenset[str]) -> tuple[str, IssuedToken]:
        token = f"pdus+_{secrets.token_urlsafe(24)}"
        record = IssuedToken(scopes, self.clock() + self.lifetime)
        self.tokens[token] = record
        self.issued += 1
        return token, record

    def revoke(self, token: str | None = None) -> None:
        """Revoke one token, or every token."""
        if token is None:
            self.tokens.clear()
        else:
            self.tokens.pop(token, None)

    def check(self, token: str, scope: str | None) -> JSONResponse | None:
        """None when the bearer token may call an operation needing ``scope``."""
        record = self.tokens.get(token)
        if record is None or record.expires_at <= self.clock():
            return JSONResponse(payloads.error(2006, "Invalid Credentials"), 401)
        if scope is not None and scope not in record.scopes:
            return JSONResponse(
                payloads.error(2010, "Access Denied", [f"This token lacks the {scope} scope"]),
                403,
            )
        return None


def add_token_route(app: FastAPI, issuer: TokenIssuer) -> None:
    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        def refuse(error: str, description: str, status: int = 400) -> JSONResponse:
            return JSONResponse({"error": error, "error_description": description}, status)

        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return refuse("invalid_request", "the body must be form-encoded")
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return refuse("unsupported_grant_type", "only client_credentials is supported")
        client_id, secret = str(form.get("client_id") or ""), str(form.get("client_secret") or "")
        if not client_id or issuer.clients.get(client_id) != secret:
            return refuse("invalid_client", "unknown client or wrong secret", 401)
        words = str(form.get("scope") or "").split()
        accounts = [w for w in words if _ACCOUNT_SCOPE.match(w)]
        wanted = frozenset(w for w in words if not _ACCOUNT_SCOPE.match(w))
        if accounts != [f"as_account-{issuer.region}.{issuer.sub_domain}"]:
            return refuse("invalid_scope", "scope must name this account once (as_account-...)")
        if not wanted or not wanted <= KNOWN_SCOPES:
            return refuse("invalid_scope", "unknown or missing API scopes")
        access_token, record = issuer.issue(wanted)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": issuer.lifetime,
                "scope": " ".join([*accounts, *sorted(record.scopes)]),
            }
        )

    @app.post("/_control/oauth")
    async def control(request: Request) -> JSONResponse:
        """``{"lifetime": seconds}`` and/or ``{"revoke": true}`` (every token issued so far)."""
        body = await request.json()
        if not isinstance(body, dict):
            return JSONResponse({"error": "expected an object"}, 400)
        if "lifetime" in body:
            lifetime = body["lifetime"]
            if not isinstance(lifetime, int) or lifetime < 1:
                return JSONResponse({"error": "lifetime must be a positive integer"}, 400)
            issuer.lifetime = lifetime
        if body.get("revoke"):
            issuer.revoke()
        return JSONResponse({"lifetime": issuer.lifetime, "tokens": len(issuer.tokens)})
