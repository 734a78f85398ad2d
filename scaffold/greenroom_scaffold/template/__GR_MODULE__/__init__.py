"""__GR_TITLE__ for Greenroom: open incidents and who is on call, per entity.

Everything the portal and other code need is importable from here; `_*` modules are internal.
"""

from __future__ import annotations

from ._annotations import SERVICE_ANNOTATION, is___GR_SNAKE___available
from ._card import __GR_SNAKE___card
from ._client import (
    __GR_CLASS__Api,
    __GR_CLASS__Client,
    __GR_SNAKE___api_ref,
)
from ._plugin import plugin
from ._provider import (
    __GR_CLASS__Provider,
    __GR_SNAKE___provider_ref,
)
from ._settings import __GR_CLASS__Settings
from ._simulator import create_simulator_app

__all__ = [
    "SERVICE_ANNOTATION",
    "__GR_CLASS__Api",
    "__GR_CLASS__Client",
    "__GR_CLASS__Provider",
    "__GR_CLASS__Settings",
    "__GR_SNAKE___api_ref",
    "__GR_SNAKE___card",
    "__GR_SNAKE___provider_ref",
    "create_simulator_app",
    "is___GR_SNAKE___available",
    "plugin",
]
