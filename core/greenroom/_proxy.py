"""The proxy: Backstage's ``proxy.endpoints`` configuration, served two ways.

- **In-process** for plugin clients on the server: :class:`ProxyRoutes` is the resolver
  :class:`greenroom.FetchApi` asks to turn ``<proxy base>/<route>/<path>`` into the route's
  target plus its secret headers, so no request hops through our own HTTP server.
- **Over HTTP** at ``/api/proxy/<route>/<path>`` (:func:`create_proxy_router`), with the header
  allow-list, ``allowedMethods`` and ``credentials`` (``require`` by default) applied.

Both refuse any path that could leave the target: Backstage's proxy library let an encoded dot
segment (``%2e%2e``) escape its route, so the checks run on the raw, still-encoded path, and the
joined URL must keep the target's scheme, host, port and path prefix. Header values configured
for a route are secrets: they never appear in a response, a log line or an error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote_to_bytes

import aiohttp
import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ._exceptions import ConfigError, ProxyError
from ._identity import Identity

logger = logging.getLogger("greenroom.proxy")

Credentials = Literal["require", "forward", "dangerously-allow-unauthenticated"]
_CREDENTIALS: tuple[str, ...] = ("require", "forward", "dangerously-allow-unauthenticated")

#: Request and response headers that pass through (Backstage's proxy-backend list).
SAFE_HEADERS = frozenset(
    {
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
        "host",
        "accept",
        "accept-language",
        "user-agent",
    }
)

# Keys of the `proxy:` section that are options, not (legacy) routes.
_PROXY_OPTIONS = frozenset({"endpoints", "skipInvalidProxies", "reviveConsumedRequestBodies"})
_ENDPOINT_KEYS = frozenset(
    {
        "target",
        "headers",
        "changeOrigin",
        "pathRewrite",
        "allowedMethods",
        "allowedHeaders",
        "credentials",
    }
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

#: Headers of a route that change at run time (a plugin's OAuth token), asked per request.
HeaderSource = Callable[[], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True)
class ProxyEndpoint:
    """One configured route. ``headers`` are secrets: left out of ``repr`` and :meth:`describe`."""

    route: str
    target: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    change_origin: bool = True
    path_rewrite: tuple[tuple[str, str], ...] = ()
    allowed_methods: tuple[str, ...] | None = None
    allowed_headers: tuple[str, ...] = ()
    credentials: Credentials = "require"

    @property
    def target_url(self) -> httpx.URL:
        return httpx.URL(self.target)

    def describe(self) -> dict[str, Any]:
        """A view safe to show anyone: header values and target credentials redacted."""
        return {
            "route": self.route,
            "target": _redacted_target(self.target),
            "headers": {name: "<redacted>" for name in self.headers},
            "changeOrigin": self.change_origin,
            "allowedMethods": list(self.allowed_methods) if self.allowed_methods else None,
            "allowedHeaders": list(self.allowed_headers),
            "credentials": self.credentials,
        }


# --- configuration ------------------------------------------------------------------------------


def parse_proxy_config(proxy_section: Mapping[str, Any] | None) -> dict[str, ProxyEndpoint]:
    """The routes of a ``proxy:`` config section, keyed by route (always with a leading ``/``).

    Raises :class:`ConfigError` with the key path for a bad target or option, unless
    ``proxy.skipInvalidProxies`` is true, in which case the bad route is skipped with a warning.
    """
    if proxy_section is None:
        return {}
    if not isinstance(proxy_section, Mapping):
        raise ConfigError(
            f"the proxy section must be a mapping of routes, got {_js_type(proxy_section)}",
            key_path="proxy",
        )
    legacy = {k: v for k, v in proxy_section.items() if k not in _PROXY_OPTIONS}
    if legacy:
        logger.warning(
            "Configuring proxy routes directly under 'proxy:' is deprecated; move %s under "
            "'proxy.endpoints:'",
            ", ".join(sorted(str(k) for k in legacy)),
        )
    endpoints_section = proxy_section.get("endpoints") or {}
    if not isinstance(endpoints_section, Mapping):
        raise ConfigError(
            f"proxy.endpoints must be a mapping of routes, got {_js_type(endpoints_section)}",
            key_path="proxy.endpoints",
        )
    skip_invalid = proxy_section.get("skipInvalidProxies") is True
    entries = [(k, v, f"proxy.{k}") for k, v in legacy.items()]
    entries += [(k, v, f"proxy.endpoints.{k}") for k, v in endpoints_section.items()]
    endpoints: dict[str, ProxyEndpoint] = {}
    for route, value, key_path in entries:
        try:
            endpoint = _parse_endpoint(str(route), value, key_path)
        except ConfigError as exc:
            if not skip_invalid:
                raise
            logger.warning("Skipping invalid proxy route (proxy.skipInvalidProxies): %s", exc)
            continue
        endpoints[endpoint.route] = endpoint  # proxy.endpoints wins over the legacy form
    return endpoints


def _parse_endpoint(route: str, value: Any, key_path: str) -> ProxyEndpoint:
    normalized = route if route.startswith("/") else f"/{route}"
    normalized = normalized.rstrip("/") or "/"
    if not _safe_route(normalized):
        raise ConfigError(
            f"Proxy route {route!r} is not valid; use path segments of letters, digits, "
            "'-', '_' and '.', e.g. '/pagerduty'",
            key_path=key_path,
        )
    options: Mapping[str, Any] = value if isinstance(value, Mapping) else {"target": value}
    target = options.get("target")
    if not isinstance(target, str):
        kind = "undefined" if "target" not in options else _js_type(target)
        raise ConfigError(
            f'Proxy target for route "{route}" must be a string, but is of type {kind}',
            key_path=f"{key_path}.target" if isinstance(value, Mapping) else key_path,
        )
    if not _valid_target(target):
        raise ConfigError(
            f"Proxy target is not a valid URL: {_redacted_target(target)}",
            key_path=f"{key_path}.target" if isinstance(value, Mapping) else key_path,
        )
    parsed_target = httpx.URL(target)
    if parsed_target.query:
        # The joined URL carries the caller's query; a query on the target would be dropped.
        raise ConfigError(
            "Proxy target must not have a query string; put credentials in 'headers' and "
            f"query parameters in the request: {_redacted_target(target).split('?')[0]}?...",
            key_path=f"{key_path}.target",
        )
    for unknown in sorted(set(options) - _ENDPOINT_KEYS):
        logger.warning("Ignoring unknown proxy option %s.%s", key_path, unknown)

    headers = options.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise ConfigError("headers must be a mapping of header name to value",
                          key_path=f"{key_path}.headers")
    for name, header_value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ConfigError(f"{name!r} is not a valid HTTP header name",
                              key_path=f"{key_path}.headers")
        if not isinstance(header_value, str):
            # Never echo the value: it is usually a token.
            raise ConfigError(
                f"the value of header {name!r} must be a string (quote it in YAML; an unset "
                "${VARIABLE} leaves it out entirely)",
                key_path=f"{key_path}.headers.{name}",
            )

    change_origin = options.get("changeOrigin", True)
    if not isinstance(change_origin, bool):
        raise ConfigError("changeOrigin must be true or false", key_path=f"{key_path}.changeOrigin")

    path_rewrite = options.get("pathRewrite") or {}
    if not isinstance(path_rewrite, Mapping):
        raise ConfigError("pathRewrite must be a mapping of regular expression to replacement",
                          key_path=f"{key_path}.pathRewrite")
    for pattern, replacement in path_rewrite.items():
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise ConfigError(f"pathRewrite pattern {pattern!r} is not a valid regular "
                              f"expression: {exc}", key_path=f"{key_path}.pathRewrite") from None
        if not isinstance(replacement, str):
            raise ConfigError(f"pathRewrite replacement for {pattern!r} must be a string",
                              key_path=f"{key_path}.pathRewrite")

    methods = options.get("allowedMethods")
    if methods is not None:
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            raise ConfigError("allowedMethods must be a list such as ['GET']",
                              key_path=f"{key_path}.allowedMethods")
        unknown_methods = sorted({m.upper() for m in methods} - set(_METHODS))
        if unknown_methods:
            raise ConfigError(f"allowedMethods has unknown methods {unknown_methods}; use "
                              f"{', '.join(_METHODS)}", key_path=f"{key_path}.allowedMethods")

    allowed_headers = options.get("allowedHeaders") or []
    if not isinstance(allowed_headers, list) or not all(
        isinstance(h, str) for h in allowed_headers
    ):
        raise ConfigError("allowedHeaders must be a list of header names",
                          key_path=f"{key_path}.allowedHeaders")

    credentials = options.get("credentials", "require")
    if credentials not in _CREDENTIALS:
        raise ConfigError(
            f"credentials must be one of {', '.join(_CREDENTIALS)}, got {credentials!r}",
            key_path=f"{key_path}.credentials",
        )
    return ProxyEndpoint(
        route=normalized,
        target=target,
        headers=dict(headers),
        change_origin=change_origin,
        path_rewrite=tuple((str(k), str(v)) for k, v in path_rewrite.items()),
        allowed_methods=tuple(m.upper() for m in methods) if methods is not None else None,
        allowed_headers=tuple(h.lower() for h in allowed_headers),
        credentials=credentials,
    )


def _safe_route(route: str) -> bool:
    return route == "/" or re.fullmatch(r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+", route) is not None


def _valid_target(target: str) -> bool:
    try:
        url = httpx.URL(target)
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    return url.scheme in ("http", "https") and bool(url.host) and not url.fragment


def _redacted_target(target: str) -> str:
    # `https://user:pass@host` would put a password into messages.
    return re.sub(r"(?<=://)[^/@]*@", "<redacted>@", target)


def _js_type(value: Any) -> str:
    # Operators read Backstage's wording; name YAML values the way its messages do.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


# --- routing and path safety --------------------------------------------------------------------

_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c)", re.IGNORECASE)
_ENCODED_ESCAPES = re.compile(rb"%(2e|2f|5c|25)", re.IGNORECASE)


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
    decoded = unquote_to_bytes(raw_path)
    if any(byte < 0x20 or byte == 0x7F for byte in decoded):
        raise ProxyError("control characters are not allowed in proxied paths")
    if _ENCODED_ESCAPES.search(decoded):
        raise ProxyError("double-encoded characters are not allowed in proxied paths")
    for segment in decoded.split(b"/"):
        if segment in (b".", b".."):
            raise ProxyError("dot segments ('.', '..', '%2e%2e') are not allowed in proxied paths")
        if re.match(rb"^[A-Za-z][A-Za-z0-9+.-]*:$", segment):
            raise ProxyError("absolute URLs are not allowed in proxied paths")


class ProxyRoutes:
    """The configured routes under ``proxy_base_url`` (``http://host:port/api/proxy``)."""

    def __init__(
        self, endpoints: Mapping[str, ProxyEndpoint], proxy_base_url: str
    ) -> None:
        self.endpoints: dict[str, ProxyEndpoint] = dict(endpoints)
        self.base_url = httpx.URL(proxy_base_url.rstrip("/"))
        self.mount_path = self.base_url.raw_path.split(b"?", 1)[0].rstrip(b"/")
        # Longest route first, so `/pagerduty/events` wins over `/pagerduty`.
        self._ordered = sorted(self.endpoints.values(), key=lambda e: len(e.route), reverse=True)
        self.header_sources: dict[str, HeaderSource] = {}

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
        for endpoint in self._ordered:
            route = endpoint.route.encode("ascii")
            if route == b"/":
                return endpoint, raw_relative_path
            if raw_relative_path == route or raw_relative_path.startswith(route + b"/"):
                return endpoint, raw_relative_path[len(route) :]
        return None

    def upstream_url(
        self, endpoint: ProxyEndpoint, raw_relative_path: bytes, query: bytes = b""
    ) -> httpx.URL:
        """The target URL for ``/<route>/<rest>?query``; :class:`ProxyError` when unsafe."""
        check_raw_path(raw_relative_path)
        target = endpoint.target_url
        rewritten = raw_relative_path.decode("ascii")
        if endpoint.path_rewrite:
            for pattern, replacement in endpoint.path_rewrite:
                if re.search(pattern, rewritten):
                    rewritten = re.sub(pattern, replacement, rewritten, count=1)
                    break
        else:
            rewritten = rewritten[len(endpoint.route.rstrip("/")) :]
        rewritten = "/" + rewritten.lstrip("/") if rewritten else ""
        check_raw_path(rewritten.encode("ascii"))
        base_path = target.raw_path.split(b"?", 1)[0].decode("ascii").rstrip("/")
        path = (base_path + rewritten) or "/"
        raw = path.encode("ascii") + (b"?" + query if query else b"")
        upstream = target.copy_with(raw_path=raw)
        self._check_inside(endpoint, upstream)
        return upstream

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
        upstream URL and the headers to add; any other URL gives None."""
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
        return self.upstream_url(endpoint, relative, url.query), dict(endpoint.headers)

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


# --- the HTTP route -----------------------------------------------------------------------------


def _error(status: int, name: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"name": name, "message": message}, "response": {"statusCode": status}},
        status_code=status,
    )


def upstream_request_headers(
    endpoint: ProxyEndpoint, incoming: Mapping[str, str] | httpx.Headers
) -> httpx.Headers:
    """The caller's headers that may go upstream, plus the route's configured headers."""
    allowed = SAFE_HEADERS | set(endpoint.allowed_headers)
    if endpoint.credentials == "forward":
        allowed = allowed | {"authorization"}
    items = incoming.multi_items() if isinstance(incoming, httpx.Headers) else incoming.items()
    headers = httpx.Headers([(k, v) for k, v in items if k.lower() in allowed])
    if endpoint.change_origin or "host" not in headers:
        headers["host"] = endpoint.target_url.netloc.decode("ascii")
    for name, value in endpoint.headers.items():
        headers[name] = value
    return headers


def downstream_response_headers(
    endpoint: ProxyEndpoint, upstream: httpx.Headers, *, decoded: bool
) -> list[tuple[str, str]]:
    """The upstream response's headers the caller may see: the allow-list, never the route's
    configured header names or values, never set-cookie."""
    allowed = (SAFE_HEADERS - {"host"}) | set(endpoint.allowed_headers)
    secret_names = {name.lower() for name in endpoint.headers}
    secret_values = [value for value in endpoint.headers.values() if value]
    kept = []
    for name, value in upstream.multi_items():
        lower = name.lower()
        if lower not in allowed or lower in secret_names or lower == "set-cookie":
            continue
        if decoded and lower == "content-length":
            continue  # the body is re-encoded by us; the upstream length no longer holds
        if any(secret in value for secret in secret_values):
            continue
        kept.append((name, value))
    return kept


def create_proxy_router(
    routes: ProxyRoutes,
    *,
    client: Callable[[], httpx.AsyncClient],
    identity: Callable[[Request], Identity],
) -> APIRouter:
    """``/{path:path}`` for every method, to include with ``prefix="/api/proxy"``."""
    router = APIRouter(tags=["proxy"])

    async def proxy(request: Request, path: str) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode("ascii")
        raw_path = raw_path.split(b"?", 1)[0]
        # Where this router is mounted, from the decoded path Starlette routed on; the raw path
        # must start with it unencoded. The configured base URL's path is the fallback.
        mounted = request.url.path[: len(request.url.path) - len(path)].rstrip("/").encode()
        relative = (
            raw_path[len(mounted) :]
            if mounted and raw_path.startswith(mounted + b"/")
            else routes.relative_path(raw_path)
        )
        if relative is None:
            # Starlette decoded an encoded mount prefix to reach us; the raw path is not ours.
            return _error(400, "InputError", "the proxy path must start with "
                          f"{routes.mount_path.decode('ascii')}/ unencoded")
        found = routes.match(relative)
        if found is None:
            return _error(404, "NotFoundError", routes.no_route_message(relative))
        endpoint, _ = found
        caller = identity(request)
        if endpoint.credentials != "dangerously-allow-unauthenticated" and not caller.authenticated:
            return _error(401, "AuthenticationError",
                          f"Proxy route {endpoint.route} requires an authenticated user; sign in "
                          "through the portal's identity provider")
        method = request.method.upper()
        if endpoint.allowed_methods is not None and method not in endpoint.allowed_methods:
            refusal = _error(405, "MethodNotAllowedError",
                              f"Proxy route {endpoint.route} does not allow {method}; allowed: "
                              f"{', '.join(endpoint.allowed_methods)}")
            refusal.headers["allow"] = ", ".join(endpoint.allowed_methods)
            return refusal
        try:
            query = request.scope.get("query_string", b"")
            upstream_url = routes.upstream_url(endpoint, relative, query)
        except ProxyError as exc:
            return _error(400, "InputError", f"Proxy route {endpoint.route}: {exc}")

        headers = upstream_request_headers(endpoint, httpx.Headers(request.headers.raw))
        source = routes.header_sources.get(endpoint.route)
        if source is not None:
            try:
                headers.update(await source())
            except Exception as exc:  # a plugin's token source: name the failure, not its text
                logger.warning("Proxy route %s: no credentials (%s)", endpoint.route,
                               type(exc).__name__)
                return _error(502, "BadGatewayError",
                              f"Proxy route {endpoint.route}: could not get credentials for the "
                              "upstream")
        has_body = method not in ("GET", "HEAD", "OPTIONS") or "content-length" in headers
        http = client()
        # Not `http.build_request`: that would add the shared client's cookie jar, which holds
        # cookies other upstream answers set, and send them on this caller's behalf.
        upstream_request = httpx.Request(
            method,
            upstream_url,
            headers=headers,
            content=_body(request) if has_body else None,
            extensions={"timeout": http.timeout.as_dict()},
        )
        try:
            upstream = await http.send(upstream_request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            if _is_timeout(exc):
                return _error(504, "GatewayTimeoutError",
                              f"Proxy route {endpoint.route}: the upstream did not answer in time")
            # The exception's text may carry the upstream address; name its kind only.
            logger.warning("Proxy route %s: upstream unreachable (%s)", endpoint.route,
                           type(exc).__name__)
            return _error(502, "BadGatewayError",
                          f"Proxy route {endpoint.route}: the upstream is unreachable")
        decoded = "content-encoding" in upstream.headers
        response = StreamingResponse(
            upstream.aiter_bytes(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        # Starlette's `headers=` takes a dict; raw headers keep repeated ones (two Cache-Control).
        response.raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in downstream_response_headers(
                endpoint, upstream.headers, decoded=decoded
            )
        ]
        return response

    for method_name in _METHODS:
        router.add_api_route(
            "/{path:path}",
            proxy,
            methods=[method_name],
            operation_id=f"proxy_{method_name.lower()}",
            summary="Forward a request to a configured proxy route",
        )
    return router


def _is_timeout(exc: httpx.HTTPError) -> bool:
    # httpx-aiohttp maps a refused connection (aiohttp.ClientConnectorError) to
    # httpx.ConnectTimeout; only a cause that really is a timeout counts as one.
    cause = exc.__cause__
    refused = isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(
        cause, TimeoutError
    )
    return isinstance(exc, httpx.TimeoutException) and not refused


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        yield chunk
