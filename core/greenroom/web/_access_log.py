"""One access log line per request, and a request id the caller can quote.

A pure ASGI middleware (no response objects, no task group): it sits on every request, the
proxy's hot path included. The line gives method, path, status, duration, request id and user::

    GET /api/proxy/pagerduty/incidents?limit=25 200 3.1ms id=4f1c0a9e2b7d4c11 user=alice

The path keeps out what must not be logged: query values whose names look like credentials
(``token``, ``key``, ``secret``, ``code``, ...) and the path segments after a ``webhook``/``hooks``
segment (vendors put a shared secret there) or that look like a token themselves are replaced
by ``<redacted>``. The request id is the caller's ``X-Request-Id`` when it is a short, plain
value (a load balancer's), else a new one; it is returned as ``X-Request-Id`` and left in the
request state (``request.state.request_id``) for error pages and audit records.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
import sys
import time
from typing import IO
from urllib.parse import parse_qsl, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._scrub import process_scrubber

logger = logging.getLogger("greenroom.access")

_INCOMING_ID = re.compile(rb"^[A-Za-z0-9._:-]{8,64}$")
_SECRET_PARAM = re.compile(
    r"token|key|secret|pass|pwd|auth|sig|code|session|credential|cookie|state", re.IGNORECASE
)
_HOOK_SEGMENT = re.compile(r"^(webhooks?|hooks?|callbacks?)$", re.IGNORECASE)
_TOKEN_SEGMENT = re.compile(r"^[A-Za-z0-9_~.%-]{32,}$")
REDACTED = "<redacted>"
_LINE = "%s %s %d %.1fms id=%s user=%s"
#: The format ``greenroom serve`` gives every log line; with it (and no filters) an access line
#: is written out directly instead of through a LogRecord and a Formatter.
_PLAIN_FORMAT = "%(levelname)s %(name)s: %(message)s"


@functools.lru_cache(maxsize=1024)  # a portal's requests repeat a few paths
def loggable_path(path: str, query: bytes) -> str:
    """``path?query`` with credentials and webhook tokens replaced by ``<redacted>``."""
    segments = path.split("/")
    after_hook = False
    for index, segment in enumerate(segments):
        if after_hook and segment or _TOKEN_SEGMENT.match(segment):
            segments[index] = REDACTED
        elif _HOOK_SEGMENT.match(segment):
            after_hook = True
    shown = "/".join(segments)
    if not query:
        return shown
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    shown_query = "&".join(
        f"{quote(name, safe='[]')}={REDACTED if _SECRET_PARAM.search(name) else quote(value)}"
        for name, value in pairs
    )
    return f"{shown}?{shown_query}"


def _user_of(scope: Scope) -> str:
    identity = (scope.get("state") or {}).get("identity")
    if identity is None:
        return "-"
    return str(getattr(identity, "user_id", None) or "-")


def start_request(scope: Scope) -> bytes:
    """The request id of this request (the caller's ``X-Request-Id`` when it is a short, plain
    value, else a new one), left in the request state for error pages and audit records."""
    request_id = b""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            request_id = value if _INCOMING_ID.match(value) else b""
            break
    if not request_id:
        # An id to quote, not a secret: no system call for it on every request.
        request_id = b"%016x" % random.getrandbits(64)
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    state["request_id"] = request_id.decode("ascii")
    return request_id


def with_request_id(message: Message, request_id: bytes) -> None:
    """Give a response start message ``X-Request-Id`` (replacing one the app set)."""
    headers = message.get("headers", ())
    message["headers"] = [
        *(headers if all(k != b"x-request-id" for k, _ in headers)
          else [(k, v) for k, v in headers if k != b"x-request-id"]),
        (b"x-request-id", request_id),
    ]


def log_request(scope: Scope, status: int, started: float) -> None:
    """Write the access line of a finished request (``started``: its ``perf_counter``)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    # The raw path: the decoded one could hold a line break (`%0a`).
    path = loggable_path(
        (scope.get("raw_path") or scope["path"].encode("utf-8"))
        .split(b"?", 1)[0].decode("ascii", "backslashreplace"),
        scope.get("query_string", b""),
    )
    # Access lines skip the log-record factory that scrubs other lines, so the config's
    # secrets (and tokens learned at run time) are taken out here.
    if process_scrubber:
        path = process_scrubber.scrub(path)
    args = (
        scope["method"],
        path,
        status,
        (time.perf_counter() - started) * 1000,
        scope["state"]["request_id"],
        _user_of(scope),
    )
    handler = _plain_handler
    if (handler is None or logger.handlers != [handler] or logger.filters
            or not handler.write_plain(_LINE % args)):
        # A record made here, not by `logger.info`: that would look up the caller's file and
        # line on every request (a tenth of a proxied request's time).
        logger.handle(logging.LogRecord(
            logger.name, logging.INFO, __file__, 0, _LINE, args, None,
        ))


class AccessLogMiddleware:
    """Logs each HTTP request on ``greenroom.access`` (INFO) and sets ``X-Request-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = start_request(scope)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                with_request_id(message, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = status or 500
            raise
        finally:
            log_request(scope, status, started)


class BufferedAccessLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes access lines to a buffered stream and flushes it from the event loop at most
    every ``interval`` seconds, instead of one write system call per request (nginx's
    ``access_log ... buffer= flush=``). Outside an event loop it flushes at once."""

    def __init__(self, stream: IO[str], interval: float = 0.2) -> None:
        super().__init__(stream)
        self.interval = interval
        self._pending = False

    def flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            super().flush()
            return
        if not self._pending:
            self._pending = True
            loop.call_later(self.interval, self._flush_now)

    def write_plain(self, message: str) -> bool:
        """Write ``message`` as an INFO line of ``greenroom.access`` when this handler formats
        lines plainly (``_PLAIN_FORMAT``) and filters nothing; False: make a record instead."""
        formatter = self.formatter
        if (self.filters or self.level > logging.INFO or formatter is None
                or formatter._fmt != _PLAIN_FORMAT):
            return False
        with self.lock:  # type: ignore[union-attr]
            self.stream.write(f"INFO {logger.name}: {message}{self.terminator}")
            self.flush()
        return True

    def _flush_now(self) -> None:
        self._pending = False
        super().flush()

    def close(self) -> None:
        super().flush()
        super().close()


def use_buffered_access_log(interval: float = 0.2) -> None:
    """For ``greenroom serve``: access lines go to stderr through
    :class:`BufferedAccessLogHandler`, formatted like the other log lines, and the records skip
    the thread and process names nobody prints (the logging HOWTO's "Optimization" switches)."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    stream = open(sys.stderr.fileno(), "w", buffering=1 << 16, closefd=False)  # noqa: SIM115
    handler = BufferedAccessLogHandler(stream, interval)
    root_handlers = logging.getLogger().handlers
    if root_handlers and root_handlers[0].formatter is not None:
        handler.setFormatter(root_handlers[0].formatter)
    logger.addHandler(handler)
    logger.propagate = False
    global _plain_handler
    _plain_handler = handler


_plain_handler: BufferedAccessLogHandler | None = None
