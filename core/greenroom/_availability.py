"""Whether a card or an incident provider applies to an entity.

The one rule: a predicate that raises counts as false (the page still renders without that card
or provider), and the caller may be told, to mark the plugin failed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ._api import maybe_await

if TYPE_CHECKING:
    from ._entity import Entity
    from ._provider import IncidentProvider

log = logging.getLogger("greenroom.availability")

Predicate = Callable[["Entity"], "bool | Awaitable[bool]"]


async def is_available(
    predicate: Predicate,
    entity: Entity,
    *,
    on_error: Callable[[BaseException], None] | None = None,
) -> bool:
    """``predicate(entity)``, sync or async; an exception counts as false and goes to
    ``on_error``."""
    try:
        return bool(await maybe_await(predicate(entity)))
    except Exception as exc:  # noqa: BLE001 - a predicate that raises counts as false
        if on_error is not None:
            on_error(exc)
        return False


async def provider_is_available(provider: IncidentProvider, entity: Entity) -> bool:
    """Whether ``provider`` covers ``entity``; a provider whose check raises does not."""
    return await is_available(provider.is_available, entity)
