"""Whether a card or an incident provider applies to an entity.

The one rule: a predicate that raises counts as false (the page still renders without that card
or provider), and the caller may be told, to mark the plugin failed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ._deadline import call_plugin

if TYPE_CHECKING:
    from ._entity import Entity
    from ._provider import IncidentProvider

log = logging.getLogger("greenroom.availability")

#: Seconds a predicate may take; one that hangs counts as false and fails its plugin.
PREDICATE_TIMEOUT = 5.0

Predicate = Callable[["Entity"], "bool | Awaitable[bool]"]


async def is_available(
    predicate: Predicate,
    entity: Entity,
    *,
    on_error: Callable[[BaseException], None] | None = None,
    timeout: float = PREDICATE_TIMEOUT,
    what: str = "availability predicate",
) -> bool:
    """``predicate(entity)``, sync or async, within ``timeout`` seconds (a blocking one in a
    worker thread); an exception or a timeout counts as false and goes to ``on_error``."""
    try:
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
