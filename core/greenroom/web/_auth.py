"""Signing in and out (``auth.provider: oidc``), and the gate that keeps guests out when the
portal does not allow them.

Routes: ``GET /auth/sign-in?next=/path`` (to the identity provider), ``GET /auth/callback``
(back from it), ``POST /auth/sign-out`` (with the CSRF token), ``GET /auth/signed-out``.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .._audit import Actor, AuditUnavailableError, Outcome
from .._auth import actor_of
from .._auth._oidc import OidcSessionBackend, oauth_client, safe_next
from ._context import page_context, portal_of, render_page
from ._guard import request_id_of
from ._session import csrf_protected, renew_session
from ._sign_in import identity_of

if TYPE_CHECKING:
    from .._identity import Identity
    from .._portal import Portal

log = logging.getLogger("greenroom.auth")

router = APIRouter(include_in_schema=False)
_NEXT_KEY = "sign_in_next"
# Paths a visitor reaches without signing in: signing in itself, assets, health, simulators.
PUBLIC_PREFIXES = ("/auth/", "/static/", "/healthz", "/readyz", "/_simulators/", "/favicon")
# Vendor webhooks (`/api/<plugin-id>/webhook`) come from the vendor, never from a signed-in user:
# each handler authenticates the delivery itself (PagerDuty's HMAC signature, Splunk On-Call's
# shared token), so the sign-in gate lets them through to it.
WEBHOOK_PATH = re.compile(r"^/api/[a-z0-9-]+/webhooks?$")
PROXY_PREFIX = "/api/proxy"


def _oidc_backend(portal: Portal) -> OidcSessionBackend | None:
    return next((b for b in portal.sign_in if isinstance(b, OidcSessionBackend)), None)


def _client(request: Request) -> Any:
    portal = portal_of(request)
    client = getattr(request.app.state, "oidc_client", None)
    if client is None and portal.access is not None and portal.access.settings.oidc:
        client = request.app.state.oidc_client = oauth_client(portal.access.settings.oidc)
    return client


def _public_url(portal: Portal) -> str:
    # The configured public URL, never the Host header (which a client chooses).
    return str(portal.config.get("app.baseUrl") or portal.base_url).rstrip("/")


def _message(request: Request, heading: str, message: str, status: int,
             link: tuple[str, str] | None = None) -> Response:
    ctx = page_context(request)
    ctx.update(heading=heading, message=message, link=link,
               kind="error" if status >= 400 else "info")
    return render_page(request, "message.html", ctx, status_code=status)


def _sign_in_path(request: Request, next_path: str | None = None) -> str:
    """The sign-in route's path, with where to go afterwards."""
    path = str(request.app.url_path_for("sign_in"))
    return f"{path}?next={quote(next_path, safe='')}" if next_path else path


@router.get("/auth/sign-in")
async def sign_in(request: Request, next: str = "/") -> Response:  # noqa: A002
    client = _client(request)
    if client is None:
        return _message(request, "Sign-in is not configured",
                        "This portal does not use an identity provider (auth.provider).", 404)
    request.session[_NEXT_KEY] = safe_next(next)
    redirect_uri = f"{_public_url(portal_of(request))}/auth/callback"
    try:
        return await client.authorize_redirect(request, redirect_uri)  # type: ignore[no-any-return]
    except Exception as exc:  # noqa: BLE001 - the provider is down or misconfigured
        log.error("sign-in: cannot reach the identity provider: %s", type(exc).__name__)
        return _message(
            request, "Cannot sign in right now",
            "The identity provider did not answer. Try again in a moment.", 502,
            link=(_sign_in_path(request, safe_next(next)), "Try again"),
        )


@router.get("/auth/callback")
async def callback(request: Request) -> Response:
    portal = portal_of(request)
    client, backend = _client(request), _oidc_backend(portal)
    if client is None or backend is None:
        return _message(request, "Sign-in is not configured",
                        "This portal does not use an identity provider.", 404)
    target = safe_next(request.session.get(_NEXT_KEY))
    try:
        token = await client.authorize_access_token(request)
    except Exception as exc:  # noqa: BLE001 - a stale, replayed or denied sign-in
        reason = _refusal_reason(request, exc)
        log.warning("sign-in refused: %s", reason)
        await _record(request, _visitor(request), SIGN_IN, "failed", reason, per_minute=True)
        return _message(
            request, "Sign-in did not complete",
            "The identity provider's answer could not be accepted (it may have expired or "
            "been used already).", 400, link=(_sign_in_path(request, target), "Sign in"),
        )
    claims = dict(token.get("userinfo") or {})
    if not claims.get("email") and not claims.get("sub"):
        await _record(request, _visitor(request), SIGN_IN, "failed",
                      "the identity provider did not say who signed in", per_minute=True)
        return _message(request, "Sign-in did not complete",
                        "The identity provider did not say who you are.", 400)
    # A session fixed before sign-in must not carry over into the signed-in one.
    renew_session(request)
    identity = backend.start(request, claims)
    log.info("signed in: %s", identity.user_id)
    await _record(request, actor_of(identity), SIGN_IN, "succeeded",
                  summary=_signed_in_summary(portal, identity))
    return RedirectResponse(target, status_code=303)


async def _refuse_sign_out(request: Request, message: str) -> Response:
    return _message(request, "Not signed out", message, 403, link=("/", "Back"))


@router.post("/auth/sign-out", dependencies=[csrf_protected(_refuse_sign_out)])
async def sign_out(request: Request) -> Response:
    backend = _oidc_backend(portal_of(request))
    identity = identity_of(request)
    if backend is not None:
        try:
            backend.end(request)
        except Exception as exc:  # noqa: BLE001
            log.error("sign-out: could not record the revoked session: %s", type(exc).__name__)
            if identity.authenticated:
                await _record(request, actor_of(identity), SIGN_OUT, "failed",
                              "the session could not be revoked (database unavailable)")
            return _message(
                request, "Not signed out",
                "The portal's database did not answer, so the session could not be ended "
                "everywhere. Try again in a moment.", 503, link=("/", "Back"),
            )
    if identity.authenticated:
        await _record(request, actor_of(identity), SIGN_OUT, "succeeded")
    renew_session(request)
    return RedirectResponse(request.app.url_path_for("signed_out"), status_code=303)


@router.get("/auth/signed-out")
async def signed_out(request: Request) -> Response:
    return _message(request, "Signed out", "You are signed out of this portal.", 200,
                    link=(_sign_in_path(request), "Sign in again"))


# -- the audit trail's record of signing in and out ----------------------------------------------
# Sign-in and sign-out are recorded after the fact and never wait on the audit trail: with its
# database down people still sign in and out (the trail logs one line per entry it could not
# write), because refusing every sign-in would lock everyone out of a portal that can still
# show who is on call. Actions stay refused while the trail is down (``AuditTrail.action``).
SIGN_IN = "auth.sign-in"
SIGN_OUT = "auth.sign-out"
# OAuth 2.0 error codes are short ASCII words (RFC 6749 section 4.1.2.1); anything else in the
# callback's ``error`` parameter is not the identity provider's and is not kept.
_OAUTH_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")


def _visitor(request: Request) -> Actor:
    """Who a failed sign-in is recorded under: nobody is known yet, so the TCP peer."""
    peer = request.client.host if request.client else "unknown"
    return Actor(user_id=f"guest:{peer}", via="guest")


def _refusal_reason(request: Request, exc: Exception) -> str:
    """Why the identity provider's answer was not accepted, in words for the audit trail; never
    the authorization code, the state or a token (the callback's query carries them)."""
    # authlib is imported only by portals that sign in with OIDC (start-up stays light).
    from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError

    error = request.query_params.get("error") or ""
    if error:
        code = error if _OAUTH_ERROR_CODE.match(error) else "an unrecognised error"
        return f"the identity provider answered {code}"
    if isinstance(exc, MismatchingStateError):
        return ("state mismatch: the answer does not belong to a sign-in started in this "
                "browser (expired, used already, or forged)")
    if isinstance(exc, OAuthError):
        code = str(exc.error or "")
        shown = code if _OAUTH_ERROR_CODE.match(code) else type(exc).__name__
        return f"the identity provider's answer was not accepted ({shown})"
    return f"the identity provider could not be asked ({type(exc).__name__})"


def _signed_in_summary(portal: Portal, identity: Identity) -> str:
    access = portal.access
    issuer = access.settings.oidc.issuer if access and access.settings.oidc else "OIDC"
    groups = ", ".join(sorted(identity.groups)[:20])
    return f"through {issuer}" + (f"; groups: {groups}" if groups else "")


async def _record(
    request: Request, actor: Actor, action: str, outcome: Outcome, message: str = "", *,
    summary: str = "", per_minute: bool = False,
) -> None:
    access = portal_of(request).access
    if access is None:
        return
    await access.audit.record(
        actor, action, outcome, message, summary=summary, request_id=request_id_of(request),
        per_minute=per_minute,
    )


@functools.lru_cache(maxsize=256)
def _proxy_action(route: str) -> str:
    """The permission a proxy route needs: ``proxy.<route>``."""
    return f"proxy.{route.strip('/')}"


class GuestGate:
    """Who may pass, before any handler runs.

    - Keeps visitors who are not signed in out of everything but the public paths when a
      sign-in mode is configured, unless ``auth.allowGuests`` (then they read; permissions keep
      them from acting).
    - Applies ``proxy.<route>`` to every request through ``/api/proxy/<route>``: a refusal is
      answered here and counted in the audit trail per caller and minute; a state-changing
      request is written to the audit trail before it goes upstream and completed after.

    Runs inside the sign-in middleware, so the identity is resolved."""

    def __init__(self, app: ASGIApp, portal: Portal) -> None:
        self.app = app
        self.portal = portal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        access = self.portal.access
        if scope["type"] != "http" or access is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(PROXY_PREFIX + "/"):
            await self._proxy(scope, receive, send)
            return
        if (
            (self.portal.demo and access.settings.provider is None)
            # Without a sign-in mode `greenroom serve` refuses to start; a portal built
            # directly (tests, embedding) lets guests read, as allowGuests would. Modes
            # plugged in by name decide for themselves.
            or access.settings.allow_guests
            or access.settings.provider not in ("oidc", "proxy", "header")
            or path.startswith(PUBLIC_PREFIXES)
            or WEBHOOK_PATH.match(path) is not None
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if identity_of(request).authenticated:
            await self.app(scope, receive, send)
            return
        response = self._refuse(request)
        await response(scope, receive, send)

    async def _proxy(self, scope: Scope, receive: Receive, send: Send) -> None:
        access = self.portal.access
        assert access is not None
        raw = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
        found = self.portal.proxy.match(raw[len(PROXY_PREFIX):])
        if found is None or found[0].credentials == "dangerously-allow-unauthenticated":
            await self.app(scope, receive, send)
            return
        endpoint = found[0]
        action = _proxy_action(endpoint.route)
        identity = (scope.get("state") or {}).get("identity")  # the sign-in middleware's
        if identity is None:
            identity = identity_of(Request(scope))  # (says clearly that it is missing)
        decision = access.decide(identity, action)
        method = scope["method"].upper()
        if decision.allowed and method in ("GET", "HEAD", "OPTIONS"):
            # The hot path: reads need no audit record, so nothing more is built for them.
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        actor = actor_of(identity)
        if not identity.authenticated:
            peer = request.client.host if request.client else "unknown"
            actor = replace(actor, user_id=f"guest:{peer}")
        summary = f"{method} {scope['path']}"
        if not decision.allowed:
            await access.audit.refused(
                actor, action, decision.reason, provider=endpoint.route.strip("/"),
                summary=summary, request_id=request_id_of(request), per_minute=True,
            )
            status = 401 if not identity.authenticated else 403
            name = "AuthenticationError" if status == 401 else "PermissionDeniedError"
            response = JSONResponse(
                {"error": {"name": name, "message": decision.reason}}, status_code=status
            )
            await response(scope, receive, send)
            return
        status_seen: list[int] = []

        async def send_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
            await send(message)

        try:
            async with access.audit.action(
                actor, action, provider=endpoint.route.strip("/"), summary=summary,
                request_id=request_id_of(request),
            ) as record:
                await self.app(scope, receive, send_status)
                if not status_seen or status_seen[0] >= 400:
                    record.fail(f"upstream answered {status_seen[0] if status_seen else 'nothing'}")
                else:
                    record.message = f"upstream answered {status_seen[0]}"
        except AuditUnavailableError:
            response = JSONResponse(
                {"error": {"name": "ServiceUnavailableError", "message":
                           "The portal cannot record actions right now (its database is "
                           "unavailable), so nothing was sent upstream."}},
                status_code=503,
            )
            await response(scope, receive, send)

    def _refuse(self, request: Request) -> Response:
        oidc = self.portal.access is not None and self.portal.access.settings.provider == "oidc"
        path = request.url.path
        if path.startswith("/api/"):
            hint = ("sign in, or send an API token as 'Authorization: Bearer <token>'"
                    if oidc else "come through the portal's authenticating proxy")
            return JSONResponse({"detail": f"Not signed in: {hint}."}, status_code=401)
        if oidc and request.method in ("GET", "HEAD"):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(_sign_in_path(request, target), status_code=303)
        return _message(
            request, "Not signed in",
            "This portal takes who you are from its authenticating proxy, and this request "
            "did not come through it." if not oidc else "Sign in to use this portal.",
            401, link=(_sign_in_path(request), "Sign in") if oidc else None,
        )
