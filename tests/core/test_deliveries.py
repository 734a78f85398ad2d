"""Webhook replay protection: a delivery id is first only once, in memory (bounded) and in a
real Redis shared by replicas (falling back to memory while Redis is away)."""

from __future__ import annotations

from redis.asyncio import Redis

from greenroom._deliveries import MemoryDeliveryLog, RedisDeliveryLog


async def test_memory_log_remembers_ids_for_their_window_and_stays_bounded() -> None:
    now = [0.0]
    log = MemoryDeliveryLog(max_entries=3, remember_seconds=60, clock=lambda: now[0])
    assert await log.first_delivery("a")
    assert not await log.first_delivery("a")
    now[0] = 61
    assert await log.first_delivery("a")  # its timestamp would be refused by now anyway
    for key in "bcdef":
        assert await log.first_delivery(key)
    assert len(log) <= 3


async def test_redis_log_is_shared_by_replicas_and_survives_an_outage(  # type: ignore[no-untyped-def]
    redis_server,
) -> None:
    def client() -> Redis:
        return Redis.from_url(redis_server.url, socket_connect_timeout=1, socket_timeout=2)

    one, two = RedisDeliveryLog(client()), RedisDeliveryLog(client())
    try:
        assert await one.first_delivery("pagerduty:E1", 30)
        assert not await two.first_delivery("pagerduty:E1", 30)
        assert int(await one.client.ttl("greenroom:delivery:pagerduty:E1")) > 0

        redis_server.stop()
        assert await one.first_delivery("pagerduty:E2", 30)
        assert not await one.first_delivery("pagerduty:E2", 30)
        redis_server.start()
        # Seen by this replica during the outage: still a replay once Redis is back.
        assert not await one.first_delivery("pagerduty:E2", 30)
        assert await two.first_delivery("pagerduty:E3", 30)
    finally:
        await one.client.aclose()
        await two.client.aclose()
