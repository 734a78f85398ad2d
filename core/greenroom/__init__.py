"""Greenroom: a plugin framework for incident management portals.

Everything a plugin author needs is importable from here; other modules are internal.
"""

from __future__ import annotations

from ._api import (
    ApiFactory,
    ApiHolder,
    ApiRef,
    ApiRegistry,
    Scope,
    create_api_factory,
    create_api_ref,
    require_api,
)
from ._core_apis import (
    alert_api_ref,
    config_api_ref,
    discovery_api_ref,
    fetch_api_ref,
    identity_api_ref,
)
from ._entity import Entity
from ._events import ChangeEvent
from ._exceptions import (
    ApiError,
    ApiIdError,
    ApiNotFoundError,
    CircularDependencyError,
    ConfigError,
    DependencyNotFoundError,
    DuplicateApiFactoryError,
    DuplicatePluginError,
    GreenroomError,
    MissingSettingError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    RequestFailedError,
    UnauthorizedError,
)
from ._fetch import FetchApi
from ._identity import Identity
from ._live import LiveUpdates, live_api_ref
from ._plugin import ActionResult, Card, CardContext, Plugin, Simulator, create_plugin, hookimpl
from ._provider import (
    OPEN_STATUSES,
    ActionOutcome,
    Capability,
    Change,
    CoverageCheck,
    Incident,
    IncidentProvider,
    IncidentStatus,
    OnCallEntry,
    Person,
    TriggerRequest,
)

__all__ = [
    "OPEN_STATUSES",
    "ActionOutcome",
    "ActionResult",
    "ApiError",
    "ApiFactory",
    "ApiHolder",
    "ApiIdError",
    "ApiNotFoundError",
    "ApiRef",
    "ApiRegistry",
    "Capability",
    "Card",
    "CardContext",
    "Change",
    "ChangeEvent",
    "CircularDependencyError",
    "ConfigError",
    "CoverageCheck",
    "DependencyNotFoundError",
    "DuplicateApiFactoryError",
    "DuplicatePluginError",
    "Entity",
    "FetchApi",
    "GreenroomError",
    "Identity",
    "Incident",
    "IncidentProvider",
    "IncidentStatus",
    "LiveUpdates",
    "MissingSettingError",
    "NotFoundError",
    "OnCallEntry",
    "Person",
    "Plugin",
    "ProviderError",
    "RateLimitedError",
    "RequestFailedError",
    "Scope",
    "Simulator",
    "TriggerRequest",
    "UnauthorizedError",
    "alert_api_ref",
    "config_api_ref",
    "create_api_factory",
    "create_api_ref",
    "create_plugin",
    "discovery_api_ref",
    "fetch_api_ref",
    "hookimpl",
    "identity_api_ref",
    "live_api_ref",
    "require_api",
]
