"""The ``proxy:`` section of app-config.yaml, in Backstage's shape: routes, targets and options.

Header values configured for a route are secrets: they never appear in ``repr``, a log line or an
error message, and targets are shown with any ``user:password@`` redacted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import httpx

from ._budget import RateLimit, parse_rate_limit
from ._exceptions import ConfigError

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
        "rateLimit",
    }
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


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
    #: The per-token request budget (:mod:`greenroom._budget`); None: unlimited.
    rate_limit: RateLimit | None = None

    @cached_property
    def target_url(self) -> httpx.URL:
        return httpx.URL(self.target)

    @cached_property
    def target_origin(self) -> str:
        """``scheme://[userinfo@]host[:port]`` of the target."""
        url = self.target_url
        userinfo = url.userinfo.decode("ascii") + "@" if url.userinfo else ""
        return f"{url.scheme}://{userinfo}{url.netloc.decode('ascii')}"

    @cached_property
    def target_prefix(self) -> str:
        """The target's path without a trailing slash (``""`` for a bare host)."""
        return self.target_url.raw_path.split(b"?", 1)[0].decode("ascii").rstrip("/")

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
            "rateLimit": (
                {"requests": self.rate_limit.requests, "perSeconds": self.rate_limit.per_seconds}
                if self.rate_limit else None
            ),
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
        rate_limit=parse_rate_limit(options.get("rateLimit"), f"{key_path}.rateLimit"),
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
