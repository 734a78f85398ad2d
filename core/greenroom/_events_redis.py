"""The event bus over Redis pub/sub, for portals with several replicas or workers.

Every process subscribes to one channel and publishes to it, so an action taken on one replica
reaches the viewers of every replica. Pub/sub keeps no history: a process that was cut off
misses what was sent meanwhile, and its streams tell their pages to refresh what they show
(an unknown ``Last-Event-ID``). When Redis is unreachable, events are delivered to this
process alone and the outage is logged once per replica; the subscription comes back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ._events import ChangeEvent, Deliver
from ._redis_outage import RedisOutage

log = logging.getLogger("greenroom.events")

DEFAULT_CHANNEL = "greenroom:changes"
_MAX_BACKOFF = 10.0


class RedisEventBus:
    def __init__(self, client: Redis, *, channel: str = DEFAULT_CHANNEL,
                 outage: RedisOutage | None = None) -> None:
        self.client = client
        self.outage = outage or RedisOutage()
        self.channel = channel
        self._deliver: Deliver | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._down = False

    async def publish(self, event: ChangeEvent) -> None:
        try:
            await self.client.publish(self.channel, event.to_json())
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            # This replica's own viewers still hear of the change.
            if self._deliver is not None:
                await self._deliver(event)

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="greenroom-event-bus")

    async def subscribed(self, timeout: float = 10.0) -> bool:
        """Wait until the subscription is live (tests and start-up use it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        return self._subscribed.is_set()

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self.client.aclose()

    def _went_down(self, exc: BaseException) -> None:
        self._subscribed.clear()
        self._down = True
        self.outage.failed(exc)

    async def _listen(self) -> None:
        backoff = 0.25
        while True:
            pubsub: Any = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                self._down = False
                self.outage.reached()
                backoff = 0.25
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=1.0
                    )
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        event = ChangeEvent.from_json(message["data"])
                    except ValueError:
                        log.warning("ignored a malformed message on %s", self.channel)
                        continue
                    if self._deliver is not None:
                        await self._deliver(event)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._went_down(exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)
