"""Which webhook deliveries were already handled: replay protection by event id.

Vendors retry a delivery until they get a 2xx answer (PagerDuty retries every non-2xx), and an
attacker who captured a signed delivery can send it again; either way the second copy must
change nothing. An id only needs remembering for as long as its timestamp would still be
accepted (the allowed clock skew), after which the timestamp check refuses it anyway.

:class:`MemoryDeliveryLog` is bounded (oldest ids forgotten first) and serves one process;
:class:`RedisDeliveryLog` is shared by every replica (``SET key NX EX``), falling back to
memory while Redis is unreachable.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ._redis_outage import RedisOutage

if TYPE_CHECKING:
    from redis.asyncio import Redis

DEFAULT_REMEMBER_SECONDS = 2 * 3600.0
DEFAULT_MAX_ENTRIES = 50_000


class DeliveryLog(Protocol):
    async def first_delivery(self, key: str, remember_seconds: float | None = None) -> bool:
        """Record ``key``; True when it was not seen within the time it is remembered."""
        ...


class MemoryDeliveryLog:
    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        remember_seconds: float = DEFAULT_REMEMBER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.remember_seconds = remember_seconds
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    async def first_delivery(self, key: str, remember_seconds: float | None = None) -> bool:
        now = self._clock()
        while self._seen:
            oldest, expires = next(iter(self._seen.items()))
            if expires > now and len(self._seen) < self.max_entries:
                break
            del self._seen[oldest]
        known = self._seen.get(key)
        if known is not None and known > now:
            return False
        self._seen[key] = now + (remember_seconds or self.remember_seconds)
        self._seen.move_to_end(key)
        return True


class RedisDeliveryLog:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "greenroom:delivery:",
        remember_seconds: float = DEFAULT_REMEMBER_SECONDS,
        outage: RedisOutage | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.remember_seconds = remember_seconds
        self._fallback = MemoryDeliveryLog(remember_seconds=remember_seconds)
        self.outage = outage or RedisOutage()

    async def first_delivery(self, key: str, remember_seconds: float | None = None) -> bool:
        from redis.exceptions import RedisError  # imported once Redis is configured

        seconds = max(1, int(remember_seconds or self.remember_seconds))
        try:
            stored = await self.client.set(self.prefix + key, "1", nx=True, ex=seconds)
        except (RedisError, OSError) as exc:
            self.outage.failed(exc)
            return await self._fallback.first_delivery(key, seconds)
        self.outage.reached()
        # A key this replica saw while Redis was away is still a replay.
        return bool(stored) and await self._fallback.first_delivery(key, seconds)
