"""Who is on call now, across every enabled provider, grouped by owner and then entity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._entity import Entity
from ._gather import ProviderFailure, gather_from_providers
from ._provider import Capability, OnCallEntry

if TYPE_CHECKING:
    from ._portal import Portal


@dataclass(frozen=True)
class OnCallGroup:
    owner: str
    entities: list[tuple[Entity, list[OnCallEntry]]]


def _by_level(entry: OnCallEntry) -> tuple[int, str]:
    return (entry.level if entry.level is not None else 1_000_000, entry.person.name.lower())


async def on_call_groups(portal: Portal) -> tuple[list[OnCallGroup], list[ProviderFailure]]:
    """Owners in name order, each with its entities and their on-call entries (by level)."""
    gathered = await gather_from_providers(
        portal,
        Capability.ON_CALL,
        lambda p, e: p.on_call(e),
        bulk=lambda p, entities: p.bulk_on_call(entities),
    )
    per_entity: dict[str, tuple[Entity, list[OnCallEntry]]] = {}
    for _provider, entity, entries in gathered.results:
        per_entity.setdefault(entity.ref, (entity, []))[1].extend(entries)
    owners: dict[str, list[tuple[Entity, list[OnCallEntry]]]] = {}
    for entity, entries in sorted(per_entity.values(), key=lambda p: p[0].display_name.lower()):
        entries.sort(key=_by_level)
        owners.setdefault(entity.owner or "unowned", []).append((entity, entries))
    groups = [OnCallGroup(o, owners[o]) for o in sorted(owners, key=str.lower)]
    return groups, gathered.failures
