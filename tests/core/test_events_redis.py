"""The Redis pub/sub bus against a real redis-server: every replica hears every event, a
stopped Redis loses nothing for the replica's own viewers, and sharing resumes by itself."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from greenroom import ChangeEvent
from greenroom._events_redis import RedisEventBus


class Replica:
    def __init__(self, url: str) -> None:
        self.bus = RedisEventBus(Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2))
        self.heard: list[str] = []

    async def start(self) -> None:
        async def deliver(event: ChangeEvent) -> None:
            self.heard.append(event.entity)

        await self.bus.start(deliver)
        assert await self.bus.subscribed(20)


async def _until(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_every_replica_hears_every_event(redis_server) -> None:  # type: ignore[no-untyped-def]
    one, two, three = Replica(redis_server.url), Replica(redis_server.url), Replica(
        redis_server.url
    )
    for replica in (one, two, three):
        await replica.start()
    try:
        await one.bus.publish(ChangeEvent("component:default/a", "pagerduty"))
        await three.bus.publish(ChangeEvent("component:default/b"))
        for replica in (one, two, three):
            await _until(lambda r=replica: len(r.heard) == 2)
            assert sorted(replica.heard) == ["component:default/a", "component:default/b"]
        # A malformed message on the channel is skipped, not fatal.
        await one.bus.client.publish(one.bus.channel, "not an event")
        await two.bus.publish(ChangeEvent("component:default/c"))
        await _until(lambda: "component:default/c" in one.heard)
    finally:
        for replica in (one, two, three):
            await replica.bus.aclose()


async def test_a_stopped_redis_keeps_local_viewers_live_and_sharing_comes_back(
    redis_server, caplog  # type: ignore[no-untyped-def]
) -> None:
    one, two = Replica(redis_server.url), Replica(redis_server.url)
    await one.start()
    await two.start()
    try:
        redis_server.stop()
        await one.bus.publish(ChangeEvent("component:default/during-outage"))
        assert one.heard == ["component:default/during-outage"]  # its own viewers still hear
        assert two.heard == []
        assert not await one.bus.ping()
        for _ in range(5):
            await one.bus.publish(ChangeEvent("component:default/again"))
        await asyncio.sleep(0.5)
        # Logged once per replica (at most), not once per event.
        assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) <= 2

        redis_server.start()
        assert await one.bus.subscribed(30) and await two.bus.subscribed(30)
        await one.bus.publish(ChangeEvent("component:default/after"))
        await _until(lambda: "component:default/after" in two.heard)
    finally:
        await one.bus.aclose()
        await two.bus.aclose()
