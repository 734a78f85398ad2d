"""Whether a card or an incident provider applies to an entity.

The one rule: a predicate that raises counts as false (the page still renders without that card
or provider), and the caller may be told, to mark the plugin failed. A card's predicate that
declares an ``apis`` parameter is given the portal's APIs, so it can ask them (the
response-metrics card asks every enabled provider).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ._api import ApiHolder
from ._deadline import call_plugin

if TYPE_CHECKING:
    from ._entity import Entity
    from ._provider import IncidentProvider

log = logging.getLogger("greenroom.availability")

#: Seconds a predicate may take; one that hangs counts as false and fails its plugin.
PREDICATE_TIMEOUT = 5.0

Predicate = Callable[..., "bool | Awaitable[bool]"]


@functools.lru_cache(maxsize=512)
def wants_apis(predicate: Predicate) -> bool:
    """Whether the predicate declares an ``apis`` parameter (it is then given the portal's
    APIs, as pluggy passes hook arguments by name)."""
    try:
        return "apis" in inspect.signature(predicate).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False


async def is_available(
    predicate: Predicate,
    entity: Entity,
    *,
    apis: ApiHolder | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    timeout: float = PREDICATE_TIMEOUT,
    what: str = "availability predicate",
) -> bool:
    """``predicate(entity)`` (or ``predicate(entity, apis=apis)`` when it asks for them), sync
    or async, within ``timeout`` seconds (a blocking one in a worker thread); an exception or a
    timeout counts as false and goes to ``on_error``."""
    try:
        if apis is not None and wants_apis(predicate):
            return bool(
                await call_plugin(predicate, entity, apis=apis, timeout=timeout, what=what)
            )
        return bool(await call_plugin(predicate, entity, timeout=timeout, what=what))
    except Exception as exc:  # noqa: BLE001 - a predicate that raises counts as false
        if on_error is not None:
            on_error(exc)
        return False


async def provider_is_available(provider: IncidentProvider, entity: Entity) -> bool:
    """Whether ``provider`` covers ``entity``; a provider whose check raises does not."""
    return await is_available(
        provider.is_available, entity, what=f"predicate of provider {provider.id}"
    )
