"""Every call into plugin code has a deadline, and none can stall the event loop.

Plugin code is anything a plugin hands the host: card predicates, renders, summaries and
actions, provider methods, coverage checks and start-up hooks. :func:`call_plugin` runs one:

- An ``async`` function runs as a task. At its deadline the caller gets
  :class:`PluginTimeoutError` at once; the task is cancelled but never waited for, so a
  plugin that swallows cancellation cannot hold the page (``asyncio.wait_for`` would wait).
- A plain (blocking) function runs in one of a few daemon worker threads, so a
  ``time.sleep`` or a blocking socket read holds that thread, not every other user's request,
  and a thread still stuck at exit does not keep the process alive.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

log = logging.getLogger("greenroom.plugins")

T = TypeVar("T")

#: Daemon threads for blocking plugin functions; more than this many stuck at once and
#: further blocking calls wait their turn (and meet their own deadlines).
WORKER_THREADS = 8


class PluginTimeoutError(TimeoutError):
    """Plugin code did not answer within its deadline."""

    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"{what} did not answer within {timeout:g} seconds")
        self.what = what
        self.timeout = timeout


class _DaemonWorkers:
    """A small pool of daemon threads (``concurrent.futures`` joins its threads at exit, so
    one stuck plugin function would keep a stopped portal from exiting)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._started = 0
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle == 0 and self._started < self._size:
                self._started += 1
                threading.Thread(
                    target=self._work, name=f"greenroom-plugin-{self._started}", daemon=True
                ).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
            try:
                job()
            except BaseException:  # noqa: BLE001 - a worker outlives any one job
                log.exception("plugin worker job failed")


_workers = _DaemonWorkers(WORKER_THREADS)
#: Tasks given up on at their deadline: kept referenced until they end, and cancelled again at
#: shutdown.
_abandoned: set[asyncio.Task[Any]] = set()


def _is_async(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )


async def _in_thread(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def job() -> None:
        try:
            outcome = (True, fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            outcome = (False, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the caller's loop closed while the plugin was stuck
            pass

    _workers.submit(job)
    return await future


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "never retrieved"


# Two signatures so that type checkers infer T from an async function's result as well as from
# a plain function's (one union-typed parameter leaves T unsolved).
@overload
async def call_plugin(
    fn: Callable[..., Awaitable[T]], *args: Any, timeout: float, what: str, **kwargs: Any
) -> T: ...


@overload
async def call_plugin(
    fn: Callable[..., T], *args: Any, timeout: float, what: str, **kwargs: Any
) -> T: ...


async def call_plugin(
    fn: Callable[..., Any], *args: Any, timeout: float, what: str, **kwargs: Any
) -> Any:
    """``fn(*args, **kwargs)`` within ``timeout`` seconds, sync or async; raises
    :class:`PluginTimeoutError` (naming ``what``) at the deadline."""
    if _is_async(fn):
        work: Awaitable[Any] = fn(*args, **kwargs)
    else:
        work = _thread_then_await(fn, args, kwargs)
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    _abandoned.add(task)
    task.add_done_callback(_forget)
    log.warning("%s did not answer within %g seconds; given up", what, timeout)
    raise PluginTimeoutError(what, timeout)


async def _thread_then_await(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    result = await _in_thread(fn, args, kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def abandoned_calls() -> int:
    """How many plugin calls were given up on and have not ended yet."""
    return len(_abandoned)


def cancel_abandoned() -> None:
    """Cancel again every call given up on (at shutdown)."""
    for task in list(_abandoned):
        task.cancel()
