"""Every error Greenroom raises for a person to read.

GreenroomError
├── ApiError
│   ├── ApiIdError                 an API id breaks the id rules
│   ├── ApiNotFoundError           no implementation for a requested API
│   ├── DependencyNotFoundError    a factory depends on an API nobody provides
│   ├── CircularDependencyError    factories depend on each other in a loop
│   └── DuplicateApiFactoryError   a plugin registers an API that is already taken
├── PluginError
│   ├── PluginIdError              a plugin id breaks the id rules
│   ├── DuplicatePluginError       two plugins share an id
│   ├── DuplicateCardError         two cards share an id
│   └── PluginLoadError            a plugin's import, hook, factory or predicate raised
├── ConfigError                    app-config.yaml is wrong (file, key path, line)
├── ProxyError                     a proxy route is misconfigured or a request is refused
├── DatabaseError                  the portal's SQL database is unreachable or failed
├── PermissionDeniedError          a permission rule refuses the viewer an action
└── ProviderError                  an incident provider could not answer
    ├── NotFoundError              the vendor has no such service, team or incident
    ├── UnauthorizedError          the token or API key is missing or wrong
    ├── RateLimitedError           the vendor asked us to slow down (retry_at when known)
    ├── MissingSettingError        the action needs a setting nobody configured
    └── RequestFailedError         any other failure (status and the vendor's messages)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


class GreenroomError(Exception):
    """Base class of every error Greenroom raises on purpose."""


class ApiError(GreenroomError):
    """Something is wrong with an API reference, factory or the registry."""


class ApiIdError(ApiError, ValueError):
    def __init__(self, api_id: str) -> None:
        self.api_id = api_id
        super().__init__(
            "API id must only contain period separated lowercase alphanum tokens "
            f"with dashes, got '{api_id}'"
        )


class ApiNotFoundError(ApiError):
    def __init__(self, ref: object) -> None:
        self.ref = ref
        super().__init__(f"No implementation available for {ref}")


class DependencyNotFoundError(ApiError):
    def __init__(self, dependency: object, dependent: object) -> None:
        self.dependency = dependency
        self.dependent = dependent
        super().__init__(
            f"No API factory available for dependency {dependency} of dependent {dependent}"
        )


class CircularDependencyError(ApiError):
    def __init__(self, ref: object) -> None:
        self.ref = ref
        super().__init__(f"Circular dependency of api factory for {ref}")


class DuplicateApiFactoryError(ApiError):
    def __init__(self, plugin_id: str, ref: object) -> None:
        self.plugin_id = plugin_id
        self.ref = ref
        super().__init__(
            f"Plugin {plugin_id} tried to register duplicate or forbidden API factory for {ref}"
        )


class PluginError(GreenroomError):
    """A plugin could not be loaded or clashes with another."""


class PluginIdError(PluginError, ValueError):
    def __init__(self, plugin_id: object, where: str = "") -> None:
        self.plugin_id = plugin_id
        source = f" (from {where})" if where else ""
        super().__init__(
            f"Plugin id {plugin_id!r}{source} is not valid: use lowercase letters and digits, "
            "with single dashes between words (for example 'acme-pager'); change the id given to "
            "create_plugin, returned by greenroom_plugin_id or named by the entry point"
        )


class DuplicatePluginError(PluginError):
    def __init__(self, plugin_id: str) -> None:
        self.plugin_id = plugin_id
        super().__init__(f"Duplicate plugin found '{plugin_id}'")


class DuplicateCardError(PluginError):
    def __init__(self, card_id: str, plugin_id: str, other_plugin_id: str) -> None:
        self.card_id = card_id
        super().__init__(
            f"Plugin {plugin_id} tried to register duplicate card '{card_id}' "
            f"(already registered by plugin {other_plugin_id})"
        )


class PluginLoadError(PluginError):
    def __init__(self, plugin: str, stage: str, cause: BaseException) -> None:
        self.plugin = plugin
        self.stage = stage
        self.cause = cause
        super().__init__(f"Plugin {plugin} failed in {stage}: {type(cause).__name__}: {cause}")


class ConfigError(GreenroomError):
    """A config file or value is wrong. Says which file, key path and (when known) line."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key_path: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key_path = key_path
        self.line = line
        where = []
        if file:
            where.append(f"{file}:{line}" if line else file)
        if key_path:
            where.append(f"at '{key_path}'")
        prefix = " ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ProxyError(GreenroomError):
    """A proxy route is misconfigured, or a proxied request was refused."""


class DatabaseError(GreenroomError):
    """The portal's database could not be reached or refused a statement.

    The message names the database with its password redacted and the driver's error class;
    never the statement's parameters, which may hold what a user typed."""

    def __init__(self, where: str, cause: BaseException) -> None:
        self.where = where
        self.cause = cause
        orig = getattr(cause, "orig", None) or cause
        super().__init__(f"database {where} failed: {type(orig).__name__}")


class PermissionDeniedError(GreenroomError):
    """A permission rule refuses the viewer an action; the message names the rule."""

    def __init__(self, action: str, reason: str) -> None:
        self.action = action
        self.reason = reason
        super().__init__(reason)


class ProviderError(GreenroomError):
    """An incident provider could not do what was asked. The message is safe to show."""


class NotFoundError(ProviderError):
    """The vendor knows no such service, team or incident."""


class UnauthorizedError(ProviderError):
    """The vendor refused our credentials."""


class RateLimitedError(ProviderError):
    def __init__(self, message: str = "Rate limited", *, retry_at: datetime | None = None) -> None:
        self.retry_at = retry_at
        super().__init__(message)

    def retry_after(self, now: datetime | None = None) -> int | None:
        """Whole seconds until ``retry_at`` (at least 1), or None when the vendor did not say.
        A card's element with ``data-retry-after`` set to it is read again then by a live page."""
        if self.retry_at is None:
            return None
        left = (self.retry_at - (now or datetime.now(UTC))).total_seconds()
        return max(1, math.ceil(left))


class MissingSettingError(ProviderError):
    """An action needs a setting (a username, an endpoint) that nobody configured."""


class RequestFailedError(ProviderError):
    def __init__(self, status: int, messages: list[str] | None = None) -> None:
        self.status = status
        self.messages = messages or []
        text = f"Request failed with {status}"
        if self.messages:
            text += ", " + " ".join(self.messages)
        super().__init__(text)
