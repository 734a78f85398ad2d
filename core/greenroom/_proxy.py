"""The proxy: Backstage's ``proxy.endpoints`` configuration, served two ways.

- **In-process** for plugin clients on the server: :class:`ProxyRoutes` is the resolver
  :class:`greenroom.FetchApi` asks to turn ``<proxy base>/<route>/<path>`` into the route's
  target plus its secret headers, so no request hops through our own HTTP server.
- **Over HTTP** at ``/api/proxy/<route>/<path>`` (:mod:`greenroom._proxy_http`), with the header
  allow-list, ``allowedMethods`` and ``credentials`` (``require`` by default) applied.

Both refuse any path that could leave the target: Backstage's proxy library let an encoded dot
segment (``%2e%2e``) escape its route, so the checks run on the raw, still-encoded path, and the
joined URL must keep the target's scheme, host, port and path prefix. Path parameters (``..;``,
which Tomcat-style servers resolve as ``..``) and dots in other spellings (overlong UTF-8,
full-width) are refused too. Header values configured for a route are secrets: they never appear
in a response, a log line or an error message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx

from ._budget import Budget
from ._exceptions import ProxyError
from ._proxy_config import (
    SAFE_HEADERS,
    Credentials,
    ProxyEndpoint,
    parse_proxy_config,
)
from ._proxy_http import ProxyHandler
from ._proxy_router import ProxyDispatch, create_proxy_router

#: Headers of a route that change at run time (a plugin's OAuth token), asked per request.
HeaderSource = Callable[[], Awaitable[Mapping[str, str]]]
_RESOLVED_SIZE = 4096

# --- routing and path safety --------------------------------------------------------------------

_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c)", re.IGNORECASE)
_ENCODED_ESCAPES = re.compile(rb"%(2e|2f|5c|25)", re.IGNORECASE)
_IIS_ESCAPE = re.compile(rb"%u[0-9a-f]{4}", re.IGNORECASE)
_SCHEME_SEGMENT = re.compile(rb"^[A-Za-z][A-Za-z0-9+.-]*:$")
# Overlong UTF-8 spellings of "." that lenient decoders (old IIS, some Java servers) accept.
_OVERLONG_DOTS = (b"\xc0\xae", b"\xe0\x80\xae", b"\xf0\x80\x80\xae", b"\xc0\x2e")


def check_raw_path(raw_path: bytes) -> None:
    """Refuse a raw (still percent-encoded) request path that could leave its route.

    Raises :class:`ProxyError` naming the reason, never echoing secrets.
    """
    if b"\\" in raw_path or _ENCODED_SEPARATOR.search(raw_path):
        raise ProxyError("encoded slashes and backslashes are not allowed in proxied paths")
    if b"//" in raw_path:
        raise ProxyError("doubled slashes and absolute URLs are not allowed in proxied paths")
    if b"@" in raw_path:
        raise ProxyError("'@' is not allowed in proxied paths")
    if _IIS_ESCAPE.search(raw_path):
        raise ProxyError("'%u' escapes are not allowed in proxied paths")
    decoded = unquote_to_bytes(raw_path) if b"%" in raw_path else raw_path
    if any(byte < 0x20 or byte == 0x7F for byte in decoded):
        raise ProxyError("control characters are not allowed in proxied paths")
    if _ENCODED_ESCAPES.search(decoded):
        raise ProxyError("double-encoded characters are not allowed in proxied paths")
    if b";" in decoded:
        # Tomcat and other servlet containers strip `;params` from a segment, so `..;` is `..`.
        raise ProxyError("';' (path parameters such as '..;') is not allowed in proxied paths")
    for segment in decoded.split(b"/"):
        if _is_dot_segment(segment):
            raise ProxyError("dot segments ('.', '..', '%2e%2e') are not allowed in proxied paths")
        if _SCHEME_SEGMENT.match(segment):
            raise ProxyError("absolute URLs are not allowed in proxied paths")


def _is_dot_segment(segment: bytes) -> bool:
    """``.`` or ``..`` in any spelling a server on the way might normalise to it: percent-encoded
    (already decoded here), overlong UTF-8, compatibility forms (full-width ``\uff0e``, the
    two-dot leader ``\u2025``), or padded with dots and spaces that Windows servers trim."""
    if segment in (b".", b".."):
        return True
    if not segment or segment.isalnum():
        return False
    if segment.isascii():
        text = segment.decode("ascii")
    else:
        for overlong in _OVERLONG_DOTS:
            segment = segment.replace(overlong, b".")
        text = unicodedata.normalize("NFKC", segment.decode("utf-8", "replace"))
    return "." in text and text.strip(". ") == ""


class ProxyRoutes:
    """The configured routes under ``proxy_base_url`` (``http://host:port/api/proxy``)."""

    def __init__(
        self, endpoints: Mapping[str, ProxyEndpoint], proxy_base_url: str
    ) -> None:
        self.endpoints: dict[str, ProxyEndpoint] = dict(endpoints)
        self.base_url = httpx.URL(proxy_base_url.rstrip("/"))
        self.mount_path = self.base_url.raw_path.split(b"?", 1)[0].rstrip(b"/")
        # Longest route first, so `/pagerduty/events` wins over `/pagerduty`; each with its raw
        # spelling and prefix worked out once (the gate and the handler both match each request).
        self._matchers = [
            (endpoint, route, route + b"/")
            for endpoint in sorted(self.endpoints.values(), key=lambda e: len(e.route),
                                   reverse=True)
            for route in [endpoint.route.encode("ascii")]
        ]
        self.header_sources: dict[str, HeaderSource] = {}
        # resolve()'s answers by URL: a card reads the same few URLs again and again, and
        # working one out parses URLs twice (bounded: cleared when full).
        self._resolved: dict[str, tuple[httpx.URL, Mapping[str, str]] | None] = {}
        # upstream_target()'s checked paths, the same way.
        self._targets: dict[tuple[Any, ...], str] = {}
        #: The request budget of routes with a ``rateLimit`` (:mod:`greenroom._budget`).
        self.budget: Budget | None = None

    def use_header_source(self, route: str, source: HeaderSource) -> None:
        """Add ``await source()``'s headers to requests of ``route`` through ``/api/proxy``
        (after the configured ones). Plugin clients in-process add such headers themselves."""
        self.header_sources["/" + route.strip("/")] = source

    def __repr__(self) -> str:
        return f"ProxyRoutes({sorted(self.endpoints)!r}, {str(self.base_url)!r})"

    def describe(self) -> list[dict[str, Any]]:
        return [self.endpoints[route].describe() for route in sorted(self.endpoints)]

    def match(self, raw_relative_path: bytes) -> tuple[ProxyEndpoint, bytes] | None:
        """The route owning ``/<route>/<rest>`` (on a segment boundary) and ``/<rest>``."""
        for endpoint, route, prefix in self._matchers:
            if route == b"/":
                return endpoint, raw_relative_path
            if raw_relative_path == route or raw_relative_path.startswith(prefix):
                return endpoint, raw_relative_path[len(route) :]
        return None

    def upstream_url(
        self, endpoint: ProxyEndpoint, raw_relative_path: bytes, query: bytes = b""
    ) -> httpx.URL:
        """The target URL for ``/<route>/<rest>?query``; :class:`ProxyError` when unsafe."""
        rewritten = _rewritten(endpoint, raw_relative_path)
        target = endpoint.target_url
        base_path = target.raw_path.split(b"?", 1)[0].decode("ascii").rstrip("/")
        path = (base_path + rewritten) or "/"
        raw = path.encode("ascii") + (b"?" + query if query else b"")
        upstream = target.copy_with(raw_path=raw)
        self._check_inside(endpoint, upstream)
        return upstream

    def upstream_target(
        self, endpoint: ProxyEndpoint, raw_relative_path: bytes, query: bytes = b""
    ) -> str:
        """:meth:`upstream_url` as an encoded string, for the HTTP route's hot path: the same
        checks, without building URL objects."""
        key = (endpoint.route, endpoint.target, endpoint.path_rewrite, raw_relative_path)
        url = self._targets.get(key)
        if url is None:
            rewritten = _rewritten(endpoint, raw_relative_path)  # ProxyError when unsafe
            # `rewritten` is "" or "/<checked path>", so the join stays under the target's
            # prefix.
            url = endpoint.target_origin + ((endpoint.target_prefix + rewritten) or "/")
            if len(self._targets) >= _RESOLVED_SIZE:
                self._targets.clear()
            self._targets[key] = url
        return url + "?" + query.decode("latin-1") if query else url

    @staticmethod
    def _check_inside(endpoint: ProxyEndpoint, upstream: httpx.URL) -> None:
        target = endpoint.target_url
        if (upstream.scheme, upstream.host, upstream.port) != (
            target.scheme,
            target.host,
            target.port,
        ) or upstream.userinfo != target.userinfo:
            raise ProxyError(f"the request would leave the target of route {endpoint.route}")
        prefix = target.path.rstrip("/")
        if prefix and not (upstream.path == prefix or upstream.path.startswith(prefix + "/")):
            raise ProxyError(f"the request would leave the target path of route {endpoint.route}")

    def resolve(self, url: httpx.URL) -> tuple[httpx.URL, Mapping[str, str]] | None:
        """For :class:`greenroom.FetchApi`: a URL under the proxy base becomes the route's
        upstream URL and the headers to add (the route's own: copy before changing them); any
        other URL gives None."""
        key = str(url)
        if key in self._resolved:
            return self._resolved[key]
        resolved = self._resolve(url)  # ProxyError for a path that could leave its route
        if len(self._resolved) >= _RESOLVED_SIZE:
            self._resolved.clear()
        self._resolved[key] = resolved
        return resolved

    def _resolve(self, url: httpx.URL) -> tuple[httpx.URL, Mapping[str, str]] | None:
        if (url.scheme, url.host, url.port) != (
            self.base_url.scheme,
            self.base_url.host,
            self.base_url.port,
        ):
            return None
        raw_path = url.raw_path.split(b"?", 1)[0]
        relative = self.relative_path(raw_path)
        if relative is None:
            return None
        found = self.match(relative)
        if found is None:
            raise ProxyError(self.no_route_message(relative))
        endpoint, _ = found
        return self.upstream_url(endpoint, relative, url.query), endpoint.headers

    def relative_path(self, raw_path: bytes) -> bytes | None:
        """``/<route>/<rest>`` of a raw path under the mount path, else None."""
        if raw_path == self.mount_path:
            return b"/"
        if not raw_path.startswith(self.mount_path + b"/"):
            return None
        return raw_path[len(self.mount_path) :]

    def no_route_message(self, relative: bytes) -> str:
        shown = relative.decode("ascii", "replace")[:200]
        routes = ", ".join(sorted(self.endpoints)) or "none"
        return (
            f"No proxy route matches {shown}; configured routes: {routes}. "
            "Add the route under proxy.endpoints in app-config.yaml"
        )


def _rewritten(endpoint: ProxyEndpoint, raw_relative_path: bytes) -> str:
    """``/<route>/<rest>`` after ``pathRewrite`` (or the route prefix dropped), checked before
    and after rewriting: ``""`` or a path starting with ``/``."""
    check_raw_path(raw_relative_path)
    rewritten = raw_relative_path.decode("ascii")
    if endpoint.path_rewrite:
        for pattern, replacement in endpoint.path_rewrite:
            if re.search(pattern, rewritten):
                rewritten = re.sub(pattern, replacement, rewritten, count=1)
                break
    else:
        # A checked path cut at a segment boundary stays checked: no second pass needed.
        rewritten = rewritten[len(endpoint.route.rstrip("/")) :]
        return "/" + rewritten.lstrip("/") if rewritten else ""
    rewritten = "/" + rewritten.lstrip("/") if rewritten else ""
    check_raw_path(rewritten.encode("ascii"))
    return rewritten


__all__ = [
    "SAFE_HEADERS",
    "Credentials",
    "HeaderSource",
    "ProxyDispatch",
    "ProxyEndpoint",
    "ProxyHandler",
    "ProxyRoutes",
    "check_raw_path",
    "create_proxy_router",
    "parse_proxy_config",
]
