"""What every response tells the browser, and what every request must show to change anything.

One ASGI middleware, outermost, so that pages, JSON, the proxy, static files, plugin routes and
error pages all get the same treatment:

- ``Content-Security-Policy`` with no inline script (the portal's pages load their scripts from
  ``/static``; FastAPI's ``/docs`` page gets the hash of its one generated inline script),
  ``frame-ancestors 'none'`` (no clickjacking), ``X-Content-Type-Options: nosniff`` and a
  ``Referrer-Policy`` that keeps the portal's URLs out of the vendors' logs.
- State-changing requests from a browser must come from the portal's own origin: the
  ``Sec-Fetch-Site`` and ``Origin`` headers a browser sets on every cross-site POST (the checks
  OWASP's CSRF cheat sheet recommends beside a token). Requests without either header are not
  from a browser (scripts, vendor webhooks) and are left to their own authentication.
- Redirects are relative, so a forged ``Host`` header cannot send anyone elsewhere; when
  ``app.baseUrl`` (the portal's public URL) is configured, its host is the only one answered,
  and cookies are ``Secure`` when it is https.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Probes reach a replica by its own address, whatever the public host is.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
#: FastAPI's interactive API documentation: one generated inline script each.
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Cards are placed with style="order:N" as they stream in; styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        # Vendors' avatars.
        "img-src 'self' https: data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCS_CDN = "https://cdn.jsdelivr.net"
REFERRER_POLICY = "same-origin"

#: What ``harden`` adds to a page answer that has none of them, precomputed.
_PAGE_HEADERS = (
    (b"content-security-policy", PAGE_POLICY.encode("latin-1")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", REFERRER_POLICY.encode("latin-1")),
)

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_policy(inline_scripts: list[bytes]) -> str:
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
        for s in inline_scripts
    )
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {DOCS_CDN} {hashes}".rstrip(),
            f"style-src 'self' {DOCS_CDN} 'unsafe-inline'",
            "img-src 'self' https: data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


class BrowserRules:
    """The checks and headers, for one public URL (``app.baseUrl``, or None)."""

    def __init__(self, base_url: str | None = None) -> None:
        self.public_origin: str | None = None
        self.public_host: str | None = None
        self.https = False
        if base_url:
            parts = urlsplit(str(base_url))
            self.public_host = _normal_host(parts.netloc, parts.scheme)
            self.public_origin = f"{parts.scheme.lower()}://{self.public_host}"
            self.https = parts.scheme.lower() == "https"

    def admit(self, scope: Scope) -> tuple[str, tuple[int, str] | None]:
        """The request's normalised host, and why it is refused ((status, message)) or None."""
        raw_host = b""
        for name, value in scope["headers"]:  # the raw list: this runs for every request
            if name == b"host":
                raw_host = value
                break
        host = _normal_host_cached(raw_host.decode("latin-1"), scope.get("scheme", "http"))
        if self.public_host and host != self.public_host and scope.get("path") not in PROBE_PATHS:
            return host, (400, f"This portal answers at {self.public_origin} only (app.baseUrl).")
        if scope["method"] not in SAFE_METHODS:
            problem = self._cross_origin(Headers(scope=scope), host)
            if problem:
                return host, (403, problem)
        return host, None

    def harden_start(self, message: Message, host: str) -> None:
        """Add the browser headers to a response start message."""
        raw = message.setdefault("headers", [])
        names = {name for name, _ in raw}
        if self.https or b"location" in names or not isinstance(raw, list):
            self.harden(MutableHeaders(scope=message), host, PAGE_POLICY)
        else:
            # The common answer (no redirect, plain http): what harden does, without a headers
            # object and five scans of the list.
            raw.extend(h for h in _PAGE_HEADERS if h[0] not in names)

    def _cross_origin(self, headers: Headers, host: str) -> str | None:
        """Why this state-changing request is refused, or None."""
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return f"Refused: the request came from another site (Sec-Fetch-Site: {site})."
        origin = headers.get("origin")
        if origin is None:
            return None
        parts = urlsplit(origin)
        if self.public_origin:
            seen = f"{parts.scheme.lower()}://{_normal_host(parts.netloc, parts.scheme)}"
            ok = seen == self.public_origin
        else:
            # Behind a TLS-terminating proxy the scheme differs; the host must not.
            ok = origin != "null" and _normal_host(parts.netloc, parts.scheme) == host
        if ok:
            return None
        return f"Refused: the request came from another origin ({origin})."

    def harden(self, headers: MutableHeaders, host: str, policy: str) -> None:
        headers.setdefault("content-security-policy", policy)
        headers.setdefault("x-content-type-options", "nosniff")
        headers.setdefault("x-frame-options", "DENY")
        headers.setdefault("referrer-policy", REFERRER_POLICY)
        if self.https:
            headers.setdefault("strict-transport-security", "max-age=31536000")
        location = headers.get("location")
        if location:
            headers["location"] = _relative(location, host, self.public_host)
        if self.https:
            cookies = headers.getlist("set-cookie")
            if any("secure" not in _attributes(c) for c in cookies):
                del headers["set-cookie"]
                for cookie in cookies:
                    secure = "secure" in _attributes(cookie)
                    headers.append("set-cookie", cookie if secure else f"{cookie}; Secure")


class BrowserSecurityMiddleware:
    def __init__(self, app: ASGIApp, base_url: str | None = None) -> None:
        self.app = app
        self.rules = BrowserRules(base_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rules = self.rules
        host, refusal = rules.admit(scope)
        if refusal is not None:
            await refuse(scope, receive, send, *refusal)
            return
        if scope.get("path", "") in DOCS_PATHS:
            await self._buffered_docs(scope, receive, send, host)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                rules.harden_start(message, host)
            await send(message)

        await self.app(scope, receive, send_hardened)

    async def _buffered_docs(self, scope: Scope, receive: Receive, send: Send, host: str) -> None:
        start: Message | None = None
        body = bytearray()

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                assert start is not None
                headers = MutableHeaders(scope=start)
                self.rules.harden(headers, host, docs_policy(_INLINE_SCRIPT.findall(bytes(body))))
                await send(start)
                await send({"type": "http.response.body", "body": bytes(body)})
                return
            await send(message)

        await self.app(scope, receive, collect)


def _attributes(cookie: str) -> set[str]:
    return {part.strip().split("=", 1)[0].lower() for part in cookie.split(";")[1:]}


def _normal_host(netloc: str, scheme: str) -> str:
    """``host[:port]`` lower-cased, without the scheme's default port."""
    netloc = netloc.strip().lower().rpartition("@")[2]
    default = ":443" if scheme.lower() in ("https", "wss") else ":80"
    return netloc.removesuffix(default)


#: Per request, the Host header is one of a few values.
_normal_host_cached = functools.lru_cache(maxsize=256)(_normal_host)


def _relative(location: str, host: str, public_host: str | None) -> str:
    """A redirect to this portal, made relative; a redirect elsewhere stays as it is."""
    parts = urlsplit(location)
    if not parts.netloc:
        return location
    target = _normal_host(parts.netloc, parts.scheme)
    if target in {host, public_host}:
        # "//x" or "/\\x" would be read by a browser as another host.
        path = "/" + parts.path.lstrip("/\\")
        return urlunsplit(("", "", path, parts.query, parts.fragment))
    return location


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """Answer a refused request (HTML for a browser's page request, else JSON)."""
    from starlette.responses import HTMLResponse, JSONResponse, Response

    headers = Headers(scope=scope)
    response: Response
    if "text/html" in headers.get("accept", "") and not scope["path"].startswith("/api/"):
        from markupsafe import escape

        response = HTMLResponse(
            f"<!doctype html><title>Refused</title><h1>Refused</h1><p>{escape(message)}</p>",
            status_code=status,
        )
    else:
        response = JSONResponse({"detail": message}, status_code=status)
    response.headers["content-security-policy"] = PAGE_POLICY
    response.headers["x-content-type-options"] = "nosniff"
    await response(scope, receive, send)
