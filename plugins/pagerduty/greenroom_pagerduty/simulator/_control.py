"""Runtime control of the simulator: fault injection, rate limits and a log of requests.

Tests hold the :class:`SimulatorControl` object (``app.state.control``); people driving a
running simulator use the ``/_control`` endpoints with the same fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """Make matching requests misbehave.

    ``status`` answers with that status and PagerDuty's error body; ``latency`` delays the
    answer; ``malformed`` sends a truncated JSON body with a 200. ``times`` limits how many
    requests are affected (None: until cleared). ``rate_limit_headers`` is for a 429: PagerDuty
    sometimes omits the ``ratelimit-*`` headers, and sometimes the body too (``empty_body``).
    ``echo_credentials`` makes the error body repeat the request's ``Authorization`` header, as
    a misconfigured upstream or debugging proxy might (the portal must never show it).
    """

    status: int | None = None
    latency: float = 0.0
    malformed: bool = False
    times: int | None = None
    path_prefix: str = ""
    method: str | None = None
    rate_limit_headers: bool = True
    reset_seconds: int = 1
    empty_body: bool = False
    echo_credentials: bool = False


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any


REQUEST_LOG_SIZE = 1000


@dataclass
class SimulatorControl:
    token: str
    rate_limit_per_minute: int | None = None
    events_per_minute: int | None = 120
    faults: list[Fault] = field(default_factory=list)
    #: The latest requests (see :meth:`record`).
    requests: list[RecordedRequest] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    _window_start: float = 0.0
    _window_count: int = 0
    _event_windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def record(self, request: RecordedRequest) -> None:
        """Log a request, dropping the oldest beyond REQUEST_LOG_SIZE so a long-running demo
        does not grow."""
        self.requests.append(request)
        if len(self.requests) > REQUEST_LOG_SIZE:
            del self.requests[: len(self.requests) - REQUEST_LOG_SIZE]

    def add_fault(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        fault = fault or Fault(**kwargs)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset(self) -> None:
        self.faults.clear()
        self.requests.clear()
        self._window_count = 0
        self._event_windows.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in list(self.faults):
            if fault.method and fault.method.upper() != method.upper():
                continue
            if not path.startswith(fault.path_prefix):
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    def rest_rate(self) -> tuple[bool, int, int, int]:
        """Count one REST request: (allowed, limit, remaining, seconds until reset)."""
        limit = self.rate_limit_per_minute
        now = self.clock()
        if now - self._window_start >= 60:
            self._window_start, self._window_count = now, 0
        reset = max(1, int(60 - (now - self._window_start)))
        if limit is None:
            return True, 960, 960, reset
        self._window_count += 1
        remaining = max(0, limit - self._window_count)
        return self._window_count <= limit, limit, remaining, reset

    def event_allowed(self, routing_key: str) -> bool:
        if self.events_per_minute is None:
            return True
        now = self.clock()
        start, count = self._event_windows.get(routing_key, (now, 0))
        if now - start >= 60:
            start, count = now, 0
        self._event_windows[routing_key] = (start, count + 1)
        return count + 1 <= self.events_per_minute
