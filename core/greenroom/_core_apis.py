"""The core APIs every plugin may ask for: their protocols, typed references, and the small
ones' implementations."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._api import ApiRef, create_api_ref
from ._identity import Identity

if TYPE_CHECKING:
    from ._fetch import FetchApi
    from ._provider import IncidentProvider


class ConfigApi(Protocol):
    """Typed reads of the merged config."""

    def get(self, key_path: str, default: Any = None) -> Any: ...

    def scrub(self, text: str) -> str:
        """``text`` with every secret the config holds replaced by ``<redacted>``."""
        ...


class DiscoveryApi(Protocol):
    """Where each plugin's backend routes are served."""

    def get_base_url(self, plugin_id: str) -> str: ...


class IdentityApi(Protocol):
    """Who is asking, in the request being served (the guest outside one)."""

    def current(self) -> Identity: ...


class IncidentProvidersApi(Protocol):
    """The portal's enabled incident providers, as one API plugins can depend on."""

    def providers(self) -> Sequence[IncidentProvider]: ...


# Protocols are not concrete types, so the refs are typed by annotation rather than `type=`.
config_api_ref: ApiRef[ConfigApi] = create_api_ref(
    "core.config", description="Typed reads of the merged config"
)
discovery_api_ref: ApiRef[DiscoveryApi] = create_api_ref(
    "core.discovery", description="Base URLs of plugin backends"
)
fetch_api_ref: ApiRef[FetchApi] = create_api_ref(
    "core.fetch", description="The one HTTP client plugins use"
)
identity_api_ref: ApiRef[IdentityApi] = create_api_ref(
    "core.identity", description="The current user"
)
incident_providers_api_ref: ApiRef[IncidentProvidersApi] = create_api_ref(
    "core.incident-providers", description="The incident providers of every enabled plugin"
)

_current_identity: contextvars.ContextVar[Identity | None] = contextvars.ContextVar(
    "greenroom_identity", default=None
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


__all__ = [
    "ConfigApi",
    "Discovery",
    "DiscoveryApi",
    "FetchApi",
    "IdentityApi",
    "IncidentProvidersApi",
    "RequestIdentity",
    "config_api_ref",
    "discovery_api_ref",
    "fetch_api_ref",
    "identity_api_ref",
    "incident_providers_api_ref",
]
