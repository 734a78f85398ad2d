"""`core.live`: publishing change events, and this process's hub that hands them to streams.

Plugins publish through :class:`LiveUpdates` (webhook handlers: "these entities' cards
changed, and these cached URLs are stale"); the portal publishes after its own actions and when
a watched resource changes. Every event goes over the bus (memory or Redis), so each replica
applies the invalidations to its own cache and numbers the event for its own streams.

Event ids are ``<hub>-<sequence>``: a stream that reconnects with a ``Last-Event-ID`` this hub
issued and still holds is sent what it missed; any other id (another replica's, or one from
before a restart) gets a ``refresh``, and the page re-reads everything it shows.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._api import create_api_ref, maybe_await
from ._deliveries import DeliveryLog, MemoryDeliveryLog
from ._events import EVERY_CARD, ChangeEvent, EventBus, MemoryEventBus
from ._replica_urls import localized, portable

if TYPE_CHECKING:
    from ._entity import Entity
    from ._fetch import FetchApi

log = logging.getLogger("greenroom.live")

HISTORY = 1000
#: Events a slow stream may hold before it is told to refresh instead.
STREAM_QUEUE = 200

EntityPredicate = Callable[["Entity"], "bool | Awaitable[bool]"]


@dataclass(frozen=True)
class NumberedEvent:
    id: str
    event: ChangeEvent


#: Put on a stream's queue when it fell behind: the page refreshes what it shows.
REFRESH = NumberedEvent("", ChangeEvent(entity="", card=EVERY_CARD, source="refresh"))


@dataclass(eq=False)
class Stream:
    """One open event stream: what it wants, and its queue of numbered events."""

    wants: Callable[[ChangeEvent], bool]
    queue: asyncio.Queue[NumberedEvent] = field(
        default_factory=lambda: asyncio.Queue(STREAM_QUEUE)
    )
    #: Events after the client's Last-Event-ID, or None when that id is unknown here.
    missed: list[NumberedEvent] | None = None


class LiveHub:
    """Receives every event from the bus, applies its invalidations, numbers it, and hands it
    to the open streams that want it."""

    def __init__(self, fetch: FetchApi | None = None, *, history: int = HISTORY) -> None:
        self.fetch = fetch
        self.name = secrets.token_hex(4)
        self._sequence = 0
        self._history: deque[NumberedEvent] = deque(maxlen=history)
        self._streams: set[Stream] = set()
        #: Called with each invalidated prefix after core.fetch forgot it (plugins that keep
        #: their own derived caches, such as account-wide indexes, listen here).
        self.invalidation_listeners: list[Callable[[str], object]] = []
        self.delivered = 0
        # Invalidated URLs travel without this replica's own address (see portable()).
        proxy = getattr(fetch, "proxy", None)
        self._proxy_base = str(getattr(proxy, "base_url", "") or "")

    @property
    def last_id(self) -> str:
        return f"{self.name}-{self._sequence}"

    async def deliver(self, event: ChangeEvent) -> None:
        for portable_prefix in event.invalidate:
            prefix = localized(portable_prefix, self._proxy_base)
            if self.fetch is not None:
                # The replica that took the action already deleted the shared entries.
                forget = getattr(self.fetch, "invalidate_local", self.fetch.invalidate)
                forget(prefix)
            for listener in list(self.invalidation_listeners):
                try:
                    listener(prefix)
                except Exception:  # noqa: BLE001 - one plugin's listener never blocks the event
                    log.exception("an invalidation listener failed for %s", prefix)
        self._sequence += 1
        numbered = NumberedEvent(f"{self.name}-{self._sequence}", event)
        self._history.append(numbered)
        self.delivered += 1
        for stream in list(self._streams):
            if not stream.wants(event):
                continue
            try:
                stream.queue.put_nowait(numbered)
            except asyncio.QueueFull:
                _drain(stream.queue)
                stream.queue.put_nowait(REFRESH)

    def open(self, wants: Callable[[ChangeEvent], bool], last_event_id: str | None) -> Stream:
        stream = Stream(wants)
        if last_event_id:
            stream.missed = self._after(last_event_id, wants)
        else:
            stream.missed = []
        self._streams.add(stream)
        return stream

    def close(self, stream: Stream) -> None:
        self._streams.discard(stream)

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def _after(
        self, last_event_id: str, wants: Callable[[ChangeEvent], bool]
    ) -> list[NumberedEvent] | None:
        name, _, number = last_event_id.rpartition("-")
        if name != self.name or not number.isdigit():
            return None
        seen = int(number)
        if seen > self._sequence:
            return None
        oldest = self._sequence - len(self._history) + 1
        if seen + 1 < oldest:
            return None  # fell out of the history: too much was missed to replay
        return [
            n for n in self._history if int(n.id.rpartition("-")[2]) > seen and wants(n.event)
        ]


def _drain(queue: asyncio.Queue[NumberedEvent]) -> None:
    while not queue.empty():
        queue.get_nowait()


class LiveUpdates:
    """`core.live`: what plugins use to say that something an entity shows has changed.

    ``entities`` gives the catalog's entities (bound once the catalog is loaded).
    """

    def __init__(
        self,
        *,
        bus: EventBus | None = None,
        deliveries: DeliveryLog | None = None,
        fetch: FetchApi | None = None,
        entities: Callable[[], Sequence[Entity]] = lambda: (),
    ) -> None:
        self.bus: EventBus = bus or MemoryEventBus()
        self.deliveries: DeliveryLog = deliveries or MemoryDeliveryLog()
        self.hub = LiveHub(fetch)
        self.entities = entities
        self.published = 0
        self._started = False

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.bus.start(self.hub.deliver)

    async def publish(
        self,
        entity_refs: Iterable[str],
        card: str = EVERY_CARD,
        *,
        version: str = "",
        invalidate: Sequence[str] = (),
        source: str = "",
    ) -> int:
        """Tell every replica that ``card`` of each entity changed; returns how many events.

        ``invalidate`` prefixes are forgotten from every replica's read cache first (also
        when no entity is named).
        """
        await self.start()
        shared = getattr(self.hub.fetch, "shared", None)
        if invalidate and shared is not None:
            # Other replicas re-read as soon as they hear: the shared entries must be gone
            # first (the deliveries below forget each replica's own copies only).
            for prefix in dict.fromkeys(invalidate):
                await shared.invalidate(prefix)
        refs = list(dict.fromkeys(entity_refs))
        if not refs and invalidate:
            refs = [""]  # an invalidation alone still travels to every replica
        prefixes = tuple(portable(prefix, self.hub._proxy_base) for prefix in invalidate)
        for ref in refs:
            event = ChangeEvent(ref, card, version, prefixes, source)
            await self.bus.publish(event)
            self.published += 1
        return len(refs)

    async def publish_where(
        self,
        concerns: EntityPredicate,
        card: str = EVERY_CARD,
        *,
        version: str = "",
        invalidate: Sequence[str] = (),
        source: str = "",
    ) -> list[str]:
        """Publish for every catalog entity ``concerns(entity)`` is true for (it may be async;
        one that raises counts as false). Returns the entity refs."""
        refs: list[str] = []
        for entity in self.entities():
            try:
                if await maybe_await(concerns(entity)):
                    refs.append(entity.ref)
            except Exception:  # noqa: BLE001 - one bad lookup never loses the event
                log.exception("deciding whether %s concerns %s failed", source, entity.ref)
        await self.publish(refs, card, version=version, invalidate=invalidate, source=source)
        return refs

    def on_invalidate(self, listener: Callable[[str], object]) -> None:
        """Call ``listener(url_prefix)`` whenever any replica's event invalidates a prefix,
        after this replica's core.fetch forgot it: for caches a plugin derives from reads."""
        if listener not in self.hub.invalidation_listeners:
            self.hub.invalidation_listeners.append(listener)

    async def first_delivery(self, key: str, remember_seconds: float | None = None) -> bool:
        """True the first time a webhook delivery ``key`` is seen (replay protection)."""
        return await self.deliveries.first_delivery(key, remember_seconds)

    async def ping(self) -> bool:
        return await self.bus.ping()

    async def aclose(self) -> None:
        await self.bus.aclose()
        aclose: Any = getattr(self.deliveries, "aclose", None)
        if aclose is not None:
            await aclose()


live_api_ref = create_api_ref(
    "core.live", description="Change events for live pages, and webhook replay protection"
)


def build_live(config: Any, fetch: FetchApi | None) -> LiveUpdates:
    """The live updates the config asks for: over Redis when ``redis.url`` is set."""
    url = config.get("redis.url") if config is not None else None
    if not url:
        return LiveUpdates(fetch=fetch)

    from ._deliveries import RedisDeliveryLog
    from ._events_redis import RedisEventBus
    from ._redis_outage import RedisOutage
    from ._shared_cache import redis_client

    # Pub/sub holds its own connection; the delivery log shares the command pool.
    client = redis_client(str(url))
    # One outage log line per replica, whichever part notices first.
    shared = getattr(fetch, "shared", None)
    outage = shared.outage if shared is not None else RedisOutage()
    return LiveUpdates(
        bus=RedisEventBus(client, outage=outage),
        deliveries=RedisDeliveryLog(client, outage=outage), fetch=fetch,
    )
