"""References to the core APIs every plugin may ask for, and the small ones' implementations."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._api import create_api_ref
from ._identity import Identity

if TYPE_CHECKING:
    from ._fetch import FetchApi


class ConfigApi(Protocol):
    """Typed reads of the merged config."""

    def get(self, key_path: str, default: Any = None) -> Any: ...

    def scrub(self, text: str) -> str:
        """``text`` with every secret the config holds replaced by ``<redacted>``."""
        ...


class DiscoveryApi(Protocol):
    def get_base_url(self, plugin_id: str) -> str: ...


class IdentityApi(Protocol):
    def current(self) -> Identity: ...


class AlertApi(Protocol):
    def post(self, message: str, severity: str = "info") -> None: ...
    def drain(self) -> list[tuple[str, str]]: ...


config_api_ref = create_api_ref("core.config", description="Typed reads of the merged config")
discovery_api_ref = create_api_ref("core.discovery", description="Base URLs of plugin backends")
fetch_api_ref = create_api_ref("core.fetch", description="The one HTTP client plugins use")
identity_api_ref = create_api_ref("core.identity", description="The current user")
alert_api_ref = create_api_ref("core.alert", description="Messages for the user after an action")
incident_providers_api_ref = create_api_ref(
    "core.incident-providers", description="The incident providers of every enabled plugin"
)

_current_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "greenroom_identity", default=None
)
_current_alerts: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
    "greenroom_alerts", default=None
)


class Discovery:
    """``get_base_url(plugin_id)``: ``<base>/api/<plugin_id>``, never with a trailing slash."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")

    def get_base_url(self, plugin_id: str) -> str:
        return f"{self._base}/api/{plugin_id.strip('/')}"


@dataclass
class RequestIdentity:
    """The identity of the request being served (set per request by the web host)."""

    guest: Identity

    def current(self) -> Identity:
        return _current_identity.get() or self.guest

    @staticmethod
    @contextlib.contextmanager
    def bound(identity: Identity) -> Iterator[None]:
        """``current()`` answers ``identity`` inside this block (the request being served)."""
        token = _current_identity.set(identity)
        try:
            yield
        finally:
            _current_identity.reset(token)


class RequestAlerts:
    """Alerts posted while serving the current request, shown on the next page."""

    def post(self, message: str, severity: str = "info") -> None:
        alerts = _current_alerts.get()
        if alerts is None:
            alerts = []
            _current_alerts.set(alerts)
        alerts.append((severity, message))

    def drain(self) -> list[tuple[str, str]]:
        alerts = _current_alerts.get() or []
        _current_alerts.set([])
        return list(alerts)


__all__ = [
    "AlertApi",
    "ConfigApi",
    "Discovery",
    "DiscoveryApi",
    "FetchApi",
    "IdentityApi",
    "RequestAlerts",
    "RequestIdentity",
    "alert_api_ref",
    "config_api_ref",
    "discovery_api_ref",
    "fetch_api_ref",
    "identity_api_ref",
    "incident_providers_api_ref",
]
