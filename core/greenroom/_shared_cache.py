"""Reads shared by every replica through Redis (``redis.url``): one upstream call per resource
per TTL for the whole fleet.

:class:`greenroom.FetchApi` keeps its in-process cache and single flight; on a local miss it
asks :class:`SharedReads`, which

- answers from the shared entry when one is fresh (each replica then keeps a local copy until
  the same moment the shared one expires, so a TTL means the same thing fleet-wide);
- otherwise takes a **lease** on the resource (``SET key token NX PX lease``): the holder calls
  the upstream (renewing the lease every third of its length while it reads), stores a
  successful answer for the TTL, and leaves every answer (errors included) for the replicas
  that waited on it under ``answer:<token>`` for a few seconds;
- the others poll the entry, that answer and the lease (one pipelined round trip every few
  milliseconds) until one of them settles it. A holder that dies mid-fetch blocks nobody past
  its lease: nobody renews it, the key expires and the next waiter takes the lease itself.

Invalidation (an action changed something) deletes the matching shared entries; the change
event that carries the prefixes to every replica (:mod:`greenroom._live`) is published only
after the deletion finished, so no replica refills its local copy from a stale shared entry.

When Redis is unreachable every read goes straight to the upstream through the local cache
(as without ``redis.url``), the outage is logged once per replica
(:mod:`greenroom._redis_outage`), and Redis is tried again after a short
pause, so reads never wait on a dead server for more than one attempt per pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from ._redis_outage import RedisOutage
from ._replica_urls import localized, portable

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._fetch import _Stored

log = logging.getLogger("greenroom.fetch")

PREFIX = "greenroom:fetch:"
#: How long a replica that stopped mid-read (killed, hung) holds the others up at most.
DEFAULT_LEASE_SECONDS = 5.0
#: How long waiters can still pick up a holder's answer (errors included) after it finished.
ANSWER_SECONDS = 10.0
#: After a failed Redis call, reads skip Redis this long before trying it again.
RETRY_SECONDS = 1.0
_POLL_FIRST = 0.005
_POLL_MAX = 0.05
# Release the lease only if it is still ours (it may have expired and gone to another replica).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Extend the lease while its holder is alive and still reading (a slow upstream, a busy host).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def encode(stored: _Stored, proxy_base: str = "") -> bytes:
    url = portable(stored.url, proxy_base)
    head = json.dumps([stored.status_code, list(stored.headers), url]).encode()
    return head + b"\n" + stored.content


def decode(payload: bytes, proxy_base: str = "") -> _Stored:
    from ._fetch import _Stored

    head, _, content = payload.partition(b"\n")
    status, headers, url = json.loads(head)
    return _Stored(int(status), tuple((str(k), str(v)) for k, v in headers), content,
                   localized(str(url), proxy_base))


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class SharedReads:
    """The fleet's read cache and cross-replica single flight (see the module docstring).

    ``lease_seconds`` bounds how long a dead holder blocks the others (a live one renews it).
    """

    def __init__(self, client: Redis, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 prefix: str = PREFIX, proxy_base: str = "",
                 outage: RedisOutage | None = None) -> None:
        self.client = client
        #: This replica's one outage log, shared with its live events and budgets.
        self.outage = outage or RedisOutage()
        #: This replica's proxy base URL (``http://host:port/api/proxy``): keys name it
        #: portably (:func:`portable`).
        self.proxy_base = proxy_base
        self.lease_seconds = lease_seconds
        self.prefix = prefix
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._down_until = 0.0
        self._down = False
        self._pending: set[asyncio.Task[int]] = set()
        #: Reads answered from Redis, and upstream calls this replica made holding a lease.
        self.hits = 0
        self.fetched = 0

    @property
    def available(self) -> bool:
        """False while Redis is taken for down (reads go to the upstream directly)."""
        return not self._down or time.monotonic() >= self._down_until

    async def read(
        self, key: str, ttl: float, fetch: Callable[[], Awaitable[_Stored]]
    ) -> tuple[_Stored, float]:
        """The answer for ``key`` and how many seconds it stays fresh (0: not to be cached).

        ``fetch`` calls the upstream; it runs here at most once, and only while this replica
        holds the lease (or Redis is unreachable).
        """
        if not self.available:
            return await fetch(), ttl
        asked = False

        async def upstream() -> _Stored:
            nonlocal asked
            asked = True
            return await fetch()

        try:
            if self._pending:
                # This replica's own invalidations land before it reads the shared entry again.
                await asyncio.gather(*list(self._pending), return_exceptions=True)
            return await self._read(key, ttl, upstream)
        except (RedisError, OSError) as exc:
            if asked:  # the upstream's own failure: never a second call for it
                raise
            self._went_down(exc)
            return await fetch(), ttl

    async def _read(
        self, key: str, ttl: float, fetch: Callable[[], Awaitable[_Stored]]
    ) -> tuple[_Stored, float]:
        key = portable(key, self.proxy_base)
        entry_key = self.prefix + key
        lease_key = self.prefix + "lease:" + key
        lease_ms = max(1, int(self.lease_seconds * 1000))
        while True:
            found = await self._entry(entry_key, ttl)
            self._came_back()
            if found is not None:
                return found
            token = secrets.token_hex(8)
            # With get=True, SET answers the value it found (the holder's token) or None.
            holder: bytes | str | None = await self.client.set(  # type: ignore[assignment]
                lease_key, token, nx=True, px=lease_ms, get=True,
            )
            if holder is None:
                # The previous holder may have stored the entry and let go of the lease since
                # the entry was read above: read it again before calling the upstream.
                found = await self._entry(entry_key, ttl)
                if found is not None:
                    await self._release(keys=[lease_key], args=[token])
                    return found
                return await self._fetch_holding(entry_key, lease_key, token, ttl, fetch)
            settled = await self._wait(entry_key, lease_key, holder)
            if settled is not None:
                return settled
            # The lease ended without an answer (its holder died): go round and take it.

    async def _entry(self, entry_key: str, ttl: float) -> tuple[_Stored, float] | None:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.get(entry_key)
            pipe.pttl(entry_key)
            payload, left_ms = await pipe.execute()
        if payload is None or left_ms == -2:
            return None
        self.hits += 1
        return decode(payload, self.proxy_base), (left_ms / 1000 if left_ms > 0 else ttl)

    async def _fetch_holding(
        self, entry_key: str, lease_key: str, token: str, ttl: float,
        fetch: Callable[[], Awaitable[_Stored]],
    ) -> tuple[_Stored, float]:
        renewing = asyncio.ensure_future(self._keep(lease_key, token))
        try:
            stored = await fetch()
        except BaseException:
            renewing.cancel()
            with contextlib.suppress(RedisError, OSError):
                await self._release(keys=[lease_key], args=[token])
            raise
        renewing.cancel()
        self.fetched += 1
        payload = encode(stored, self.proxy_base)
        cacheable = 200 <= stored.status_code < 300
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                if cacheable:
                    pipe.set(entry_key, payload, px=max(1, int(ttl * 1000)))
                pipe.set(f"{self.prefix}answer:{token}", payload, px=int(ANSWER_SECONDS * 1000))
                await pipe.execute()
            await self._release(keys=[lease_key], args=[token])
        except (RedisError, OSError) as exc:
            self._went_down(exc)  # the answer itself is good: serve it
        return stored, (ttl if cacheable else 0.0)

    async def _keep(self, lease_key: str, token: str) -> None:
        """Renew the lease every third of its length while this replica reads: only a holder
        that stopped (died, hung) lets it run out."""
        lease_ms = max(1, int(self.lease_seconds * 1000))
        with contextlib.suppress(RedisError, OSError):
            while True:
                await asyncio.sleep(self.lease_seconds / 3)
                if not await self._renew(keys=[lease_key], args=[token, lease_ms]):
                    return

    async def _wait(
        self, entry_key: str, lease_key: str, holder: bytes | str
    ) -> tuple[_Stored, float] | None:
        holder_text = holder.decode() if isinstance(holder, bytes) else holder
        answer_key = f"{self.prefix}answer:{holder_text}"
        pause = _POLL_FIRST
        while True:
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, _POLL_MAX)
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(entry_key)
                pipe.pttl(entry_key)
                pipe.get(answer_key)
                pipe.get(lease_key)
                payload, left_ms, answer, lease = await pipe.execute()
            if payload is not None and left_ms != -2:
                self.hits += 1
                fresh_for = left_ms / 1000 if left_ms > 0 else 0.0
                return decode(payload, self.proxy_base), fresh_for
            if answer is not None:
                # The holder's answer was not cacheable (an error): this wait shares it once.
                return decode(answer, self.proxy_base), 0.0
            if lease is None or (lease.decode() if isinstance(lease, bytes) else lease) != (
                holder_text
            ):
                # Its holder failed (an upstream error is not shared) or stopped renewing.
                log.info("a shared read ended without an answer; asking again")
                return None

    # -- invalidation ------------------------------------------------------------------------

    def invalidate_soon(self, url_prefix: str) -> None:
        """Delete the shared entries under ``url_prefix`` (in a task: invalidation is called
        from synchronous code). :meth:`settled` waits for it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script's clean-up): nothing shared to reach now
            return
        task = loop.create_task(self.invalidate(url_prefix))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settled(self) -> None:
        """Wait until every invalidation started here has reached Redis (or failed)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def invalidate(self, url_prefix: str) -> int:
        """Delete the shared entries whose URL starts with ``url_prefix``; returns how many."""
        if not self.available:
            return 0
        pattern = self.prefix + _glob_escape(portable(url_prefix, self.proxy_base)) + "*"
        deleted = 0
        try:
            batch: list[Any] = []
            async for name in self.client.scan_iter(match=pattern, count=1000):
                batch.append(name)
                if len(batch) >= 500:
                    deleted += int(await self.client.unlink(*batch))
                    batch = []
            if batch:
                deleted += int(await self.client.unlink(*batch))
        except (RedisError, OSError) as exc:
            self._went_down(exc)
        return deleted

    # -- outages -----------------------------------------------------------------------------

    async def ping(self) -> bool:
        """Whether Redis answers now (reads share again from the next one when it does)."""
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            self._went_down(exc)
            return False
        self._down_until = 0.0
        self._came_back()
        return True

    def _went_down(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + RETRY_SECONDS
        self._down = True
        self.outage.failed(exc)

    def _came_back(self) -> None:
        self._down = False
        self.outage.reached()

    async def aclose(self) -> None:
        await self.settled()
        with contextlib.suppress(RedisError, OSError):
            await self.client.aclose()


def redis_client(url: str) -> Redis:
    """A client for ``redis.url``; :class:`ConfigError` (never echoing the URL, which may
    hold a password) when it is not one."""
    from redis.asyncio import Redis

    from ._exceptions import ConfigError

    try:
        # Short timeouts: a read never waits long on a Redis that went away.
        return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    except ValueError as exc:
        reason = str(exc) if "scheme" in str(exc) else "its host, port or database is not valid"
        raise ConfigError(
            f"redis.url is not a Redis URL ({reason}); e.g. redis://cache:6379/0, or "
            "rediss://:${REDIS_PASSWORD}@cache:6380/0 for TLS", key_path="redis.url",
        ) from None


def shared_reads(config: Any, *, proxy_base: str = "") -> SharedReads | None:
    """The shared reads ``redis.url`` asks for, or None without it."""
    url = config.get("redis.url") if config is not None else None
    if not url:
        return None
    lease = config.get("redis.leaseSeconds")
    if lease is not None and (
        isinstance(lease, bool) or not isinstance(lease, int | float) or lease <= 0
    ):
        from ._exceptions import ConfigError

        raise ConfigError("redis.leaseSeconds must be a positive number of seconds, e.g. 5",
                          key_path="redis.leaseSeconds")
    return SharedReads(
        redis_client(str(url)),
        lease_seconds=float(lease) if lease is not None else DEFAULT_LEASE_SECONDS,
        proxy_base=proxy_base,
    )
