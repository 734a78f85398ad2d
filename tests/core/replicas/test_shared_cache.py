"""Reads shared by several replicas through a real redis-server: one upstream call per resource
per TTL for the fleet, a lease that outlives no dead holder, invalidation that reaches the
shared entry, and an outage that loses no read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import httpx
import pytest

from greenroom import ConfigError, FetchApi
from greenroom._config import Config
from greenroom._shared_cache import SharedReads, redis_client, shared_reads

URL = "https://vendor.test/incidents"


class Upstream:
    """Stands for the vendor: counts calls, answers after a pause (``hold`` blocks them)."""

    def __init__(self, pause: float = 0.05, status: int = 200) -> None:
        self.calls = 0
        self.pause = pause
        self.status = status
        self.hold: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        await asyncio.sleep(self.pause)
        return httpx.Response(self.status, json={"n": self.calls, "path": request.url.path})


def replica(upstream: Upstream, redis_url: str, *, ttl: float = 30.0,
            lease: float = 5.0) -> FetchApi:
    return FetchApi(
        transport=httpx.MockTransport(upstream.handle),  # type: ignore[arg-type]
        cache_ttl=ttl,
        shared=SharedReads(redis_client(redis_url), lease_seconds=lease),
    )


async def _close(*replicas: FetchApi) -> None:
    for one in replicas:
        await one.aclose()


async def test_concurrent_reads_on_three_replicas_make_one_upstream_call(redis_server) -> None:  # type: ignore[no-untyped-def]
    upstream = Upstream()
    fleet = [replica(upstream, redis_server.url) for _ in range(3)]
    try:
        answers = await asyncio.gather(*(fleet[i % 3].get(URL) for i in range(60)))
        assert upstream.calls == 1
        assert {a.json()["n"] for a in answers} == {1}
        # A replica that never asked before reads the shared entry, not the vendor.
        late = replica(upstream, redis_server.url)
        assert (await late.get(URL)).json()["n"] == 1
        assert upstream.calls == 1
        await late.aclose()
    finally:
        await _close(*fleet)


async def test_the_fleet_reads_again_once_the_ttl_is_over(redis_server) -> None:  # type: ignore[no-untyped-def]
    upstream = Upstream(pause=0)
    one, two = replica(upstream, redis_server.url, ttl=0.3), replica(
        upstream, redis_server.url, ttl=0.3
    )
    try:
        await one.get(URL)
        await two.get(URL)
        assert upstream.calls == 1
        await asyncio.sleep(0.4)
        await two.get(URL)
        await one.get(URL)
        assert upstream.calls == 2
    finally:
        await _close(one, two)


async def test_an_error_answer_is_shared_with_the_waiters_but_not_cached(redis_server) -> None:  # type: ignore[no-untyped-def]
    upstream = Upstream(status=503)
    fleet = [replica(upstream, redis_server.url) for _ in range(3)]
    try:
        answers = await asyncio.gather(*(fleet[i % 3].get(URL) for i in range(9)))
        assert {a.status_code for a in answers} == {503}
        assert upstream.calls == 1
        upstream.status = 200
        assert (await fleet[1].get(URL)).status_code == 200  # not cached: asked again
        assert upstream.calls == 2
    finally:
        await _close(*fleet)


async def test_a_holder_that_stops_blocks_the_others_no_longer_than_its_lease(redis_server) -> None:  # type: ignore[no-untyped-def]
    started, release = threading.Event(), threading.Event()

    def stopping_replica() -> None:
        async def main() -> None:
            upstream = Upstream(pause=0)
            upstream.hold = asyncio.Event()  # its read never answers
            holder = replica(upstream, redis_server.url, lease=0.5)
            reading = asyncio.ensure_future(holder.get(URL))
            await upstream.started.wait()
            started.set()
            release.wait(120)  # this replica's loop stops, as a hung or killed process's does
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
            await holder.aclose()

        asyncio.run(main())

    thread = threading.Thread(target=stopping_replica, daemon=True)
    thread.start()
    survivor = replica(Upstream(pause=0), redis_server.url, lease=0.5)
    try:
        assert await asyncio.to_thread(started.wait, 30)
        # The survivor waits on the lease, nobody renews it, it expires: the survivor reads.
        answer = await asyncio.wait_for(survivor.get(URL), 60)
        assert answer.status_code == 200
        assert survivor.shared is not None and survivor.shared.fetched == 1
    finally:
        release.set()
        await asyncio.to_thread(thread.join, 30)
        await survivor.aclose()


async def test_a_slow_holder_keeps_its_lease_so_nobody_reads_twice(redis_server) -> None:  # type: ignore[no-untyped-def]
    upstream = Upstream(pause=1.0)  # three times the lease
    fleet = [replica(upstream, redis_server.url, lease=0.3) for _ in range(3)]
    try:
        answers = await asyncio.gather(*(fleet[i % 3].get(URL) for i in range(9)))
        assert {a.json()["n"] for a in answers} == {1}
        assert upstream.calls == 1
    finally:
        await _close(*fleet)


async def test_invalidation_deletes_the_shared_entry_for_every_replica(redis_server) -> None:  # type: ignore[no-untyped-def]
    upstream = Upstream(pause=0)
    one, two = replica(upstream, redis_server.url), replica(upstream, redis_server.url)
    try:
        await one.get(URL)
        await one.get("https://vendor.test/services")
        await two.get(URL)
        assert upstream.calls == 2
        one.invalidate("https://vendor.test/inc")
        assert one.shared is not None
        await one.shared.settled()  # the action's change event goes out after this
        two.invalidate_local("https://vendor.test/inc")  # what the change event does there
        assert (await two.get(URL)).json()["n"] == 3  # fresh, not the shared stale copy
        assert (await one.get(URL)).json()["n"] == 3
        await two.get("https://vendor.test/services")  # other resources stay shared
        assert upstream.calls == 3
    finally:
        await _close(one, two)


async def test_a_url_with_glob_characters_invalidates_only_itself(redis_server) -> None:  # type: ignore[no-untyped-def]
    upstream = Upstream(pause=0)
    one = replica(upstream, redis_server.url)
    try:
        await one.get("https://vendor.test/a[1]")
        await one.get("https://vendor.test/ab")
        assert one.shared is not None
        assert await one.shared.invalidate("https://vendor.test/a[") == 1
        assert await one.shared.invalidate("https://vendor.test/a*") == 0
    finally:
        await one.aclose()


async def test_a_stopped_redis_loses_no_read_logs_once_and_sharing_comes_back(  # type: ignore[no-untyped-def]
    redis_server, caplog
) -> None:
    caplog.set_level(logging.WARNING, "greenroom.fetch")
    upstream = Upstream(pause=0)
    one, two = (replica(upstream, redis_server.url, ttl=0.2),
                replica(upstream, redis_server.url, ttl=0.2))
    try:
        redis_server.stop()
        for _ in range(3):
            answers = await asyncio.gather(one.get(URL), two.get(URL))
            assert [a.status_code for a in answers] == [200, 200]
            await asyncio.sleep(0.25)
        outages = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(outages) == 2  # once per replica, not once per read

        redis_server.start()
        for shared in (one.shared, two.shared):
            assert shared is not None
            while not shared.available:  # the pause before Redis is tried again
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.25)  # the local copies expire
        before = upstream.calls
        await one.get(URL)
        await two.get(URL)
        assert upstream.calls == before + 1  # shared again
        assert any("back" in r.getMessage() for r in caplog.records)
    finally:
        await _close(one, two)


async def test_a_fast_upstream_is_still_read_once_per_resource(redis_server) -> None:  # type: ignore[no-untyped-def]
    # Instant answers and staggered starts: replicas arrive before, during and just after the
    # holder's read, and none reads again.
    upstream = Upstream(pause=0)
    fleet = [replica(upstream, redis_server.url) for _ in range(3)]
    try:
        async def late(one: FetchApi, url: str, delay: float) -> None:
            await asyncio.sleep(delay)
            await one.get(url)

        for number in range(40):
            url = f"https://vendor.test/resource/{number}"
            # Staggered starts land some replicas in the moment the holder finishes.
            await asyncio.gather(*(late(fleet[i % 3], url, i * 0.0005) for i in range(12)))
            assert upstream.calls == number + 1
    finally:
        await _close(*fleet)


@pytest.mark.parametrize(("section", "key_path"), [
    ({"url": "http://:pa55-word-secret@cache:6379/0"}, "redis.url"),
    ({"url": "redis://:pa55-word-secret@cache:port/0"}, "redis.url"),
    ({"url": "redis://cache:6379/0", "leaseSeconds": "soon"}, "redis.leaseSeconds"),
    ({"url": "redis://cache:6379/0", "leaseSeconds": 0}, "redis.leaseSeconds"),
])
def test_a_bad_redis_setting_is_a_config_error_that_keeps_the_password(
    section: dict[str, object], key_path: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        shared_reads(Config({"redis": section}))
    assert raised.value.key_path == key_path
    assert "pa55-word-secret" not in str(raised.value)
