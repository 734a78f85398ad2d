"""Watching without webhooks: what open pages show is re-read once per cache TTL, whoever and
however many are watching, and what changed is published.

A watch is a key (``entity:<ref>``, ``incidents``, ``oncall``, ``home``) held by every open
stream that shows it; the first holder starts one probe loop, the last one to leave stops it.
A probe reads exactly what the page reads, through the shared read cache, so it costs one
upstream call per watched resource per TTL (the loop wakes just after the cache entries
expire) and the viewers' own fragment fetches that follow a change are cache hits. A probe
compares a digest per entity with the previous one and publishes a change event for each
entity whose digest moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from .._exceptions import ProviderError
from .._provider import BulkAnswer, Capability, read_on_call, read_open_incidents
from ._cards import ViewerContext, available_cards, render_card

if TYPE_CHECKING:
    from .._entity import Entity
    from .._portal import Portal

log = logging.getLogger("greenroom.live")

#: Past the cache's expiry, so each probe reads fresh data and caches it for the viewers.
AFTER_EXPIRY = 0.05
DEFAULT_PERIOD = 15.0
PROBE_TIMEOUT = 30.0
VIEWS = ("incidents", "oncall", "home")

Digests = dict[tuple[str, str], str]

# What differs between two renders of an unchanged card: ages tick, and forms carry fresh
# hidden values (nonces, CSRF tokens).
_TIME = re.compile(r"(<time\b[^>]*>).*?(</time>)", re.S)
_HIDDEN = re.compile(r"<input\b[^>]*type=\"hidden\"[^>]*>", re.S)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def stable_html(html: str) -> str:
    """Card HTML without what changes on every render of the same data."""
    return _HIDDEN.sub("", _TIME.sub(r"\1\2", html))


class Watcher:
    def __init__(self, portal: Portal, period: float | None = None) -> None:
        self.portal = portal
        ttl = float(getattr(portal.fetch, "cache_ttl", 0) or 0)
        self.period = period if period is not None else (ttl if ttl > 0 else DEFAULT_PERIOD)
        self._holders: dict[str, int] = {}
        self._loops: dict[str, asyncio.Task[None]] = {}
        #: Probes run (tests and benchmarks read it).
        self.probes = 0

    @property
    def watched(self) -> list[str]:
        return sorted(self._holders)

    @contextlib.contextmanager
    def watching(self, keys: list[str]) -> Iterator[None]:
        for key in keys:
            self._hold(key)
        try:
            yield
        finally:
            for key in keys:
                self._release(key)

    def _hold(self, key: str) -> None:
        self._holders[key] = self._holders.get(key, 0) + 1
        if key not in self._loops:
            self._loops[key] = asyncio.create_task(self._loop(key), name=f"watch {key}")

    def _release(self, key: str) -> None:
        left = self._holders.get(key, 0) - 1
        if left > 0:
            self._holders[key] = left
            return
        self._holders.pop(key, None)
        task = self._loops.pop(key, None)
        if task is not None:
            task.cancel()

    async def aclose(self) -> None:
        for task in self._loops.values():
            task.cancel()
        self._loops.clear()
        self._holders.clear()

    async def _loop(self, key: str) -> None:
        probe = self._probe_for(key)
        if probe is None:
            return
        before = await self._safely(key, probe)
        while True:
            await asyncio.sleep(self.period + AFTER_EXPIRY)
            after = await self._safely(key, probe)
            if before is not None and after is not None:
                await self._publish_changes(before, after)
            before = after if after is not None else before

    async def _safely(self, key: str, probe: Callable[[], Awaitable[Digests]]) -> Digests | None:
        self.probes += 1
        try:
            return await asyncio.wait_for(probe(), PROBE_TIMEOUT)
        except Exception:  # noqa: BLE001 - a failed probe is retried next period
            log.exception("watching %s failed", key)
            return None

    async def _publish_changes(self, before: Digests, after: Digests) -> None:
        changed: dict[str, set[str]] = {}
        for key in before.keys() | after.keys():
            if before.get(key) != after.get(key):
                ref, card = key
                changed.setdefault(ref, set()).add(card)
        for ref, cards in sorted(changed.items()):
            card = next(iter(cards)) if len(cards) == 1 else "*"
            await self.portal.live.publish([ref], card, version=after.get((ref, card), ""),
                                           source="watch")

    def _probe_for(self, key: str) -> Callable[[], Awaitable[Digests]] | None:
        kind, _, rest = key.partition(":")
        if kind == "entity":
            entity = _entity_by_ref(self.portal, rest)
            return None if entity is None else lambda: self._probe_entity(entity)
        if key == "incidents":
            return self._probe_incidents
        if key == "oncall":
            return self._probe_on_call
        if key == "home":
            return self._probe_home
        return None

    # -- probes: each reads what its page reads --------------------------------------------

    def _viewer(self) -> ViewerContext:
        return ViewerContext(self.portal.guest, "")

    async def _probe_entity(self, entity: Entity) -> Digests:
        cards = await available_cards(self.portal, entity)
        viewer = self._viewer()
        rendered = await asyncio.gather(
            *(render_card(self.portal, card, entity, viewer) for card in cards)
        )
        return {
            (entity.ref, card.id): _digest(stable_html(str(html)))
            for card, html in zip(cards, rendered, strict=True)
        }

    async def _per_provider(
        self,
        capability: Capability,
        read: Callable[[Any, list[Entity]], Awaitable[BulkAnswer[Any]]],
    ) -> Digests:
        """One digest per entity of what every provider with ``capability`` answers for it,
        read as the pages read it (one bulk read per provider where it has one)."""
        digests: Digests = {}
        for handle in self.portal.providers():
            provider = handle.provider
            if capability not in provider.capabilities:
                continue
            entities = []
            for entity in self.portal.catalog.entities:
                with contextlib.suppress(Exception):
                    if provider.is_available(entity):
                        entities.append(entity)
            if not entities:
                continue
            try:
                answer = await read(provider, entities)
            except ProviderError as exc:
                answer = BulkAnswer(errors={e.ref: exc for e in entities})
            for entity in entities:
                found = answer.found.get(entity.ref)
                error = answer.errors.get(entity.ref)
                value = repr(found) if error is None else f"failed: {type(error).__name__}: {error}"
                key = (entity.ref, "*")
                digests[key] = _digest(digests.get(key, "") + f"{provider.id}\n{value}")
        return digests

    async def _probe_incidents(self) -> Digests:
        return await self._per_provider(Capability.INCIDENTS, read_open_incidents)

    async def _probe_on_call(self) -> Digests:
        return await self._per_provider(Capability.ON_CALL, read_on_call)

    async def _probe_home(self) -> Digests:
        # The catalog's summary lines are derived from open incidents and who is on call; the
        # catalog may hold thousands of entities, so read those (in bulk), not every summary.
        incidents, on_call = await asyncio.gather(self._probe_incidents(), self._probe_on_call())
        return {
            key: _digest(incidents.get(key, "") + on_call.get(key, ""))
            for key in incidents.keys() | on_call.keys()
        }


def _entity_by_ref(portal: Portal, ref: str) -> Entity | None:
    kind, _, rest = ref.strip().partition(":")
    namespace, _, name = rest.partition("/")
    if not (kind and namespace and name):
        return None
    return portal.catalog.find(namespace, kind, name)
