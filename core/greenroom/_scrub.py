"""Secrets stay on the server: one scrubber applied where text leaves the process.

A vendor (or a proxy in front of it) may echo the request's headers in an error body, and that
text travels through providers, cards, summaries, alerts and log lines before anyone sees it.
Rather than scrubbing at each of those places, the portal scrubs at the three exits: every HTTP
response body (:class:`ScrubbingMiddleware`), every log record (:func:`install_log_scrubbing`,
whatever logger or handler emits it) and the CLI's output (:class:`ScrubbingStream`).

Secrets are the config's secret values (``Config.secret_values``) and anything learned at run
time (tokens a plugin obtains, :meth:`Scrubber.learn`). Each is also matched as it appears
HTML-escaped, JSON-escaped and URL-encoded, since that is how it reaches a page or a body.
"""

from __future__ import annotations

import html
import json
import logging
import threading
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import quote, quote_plus

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REDACTED = "<redacted>"
#: Shorter values would mangle ordinary text, and no real credential is that short.
MIN_SECRET_LENGTH = 6

_TEXT_TYPES = ("text/", "application/json", "application/problem+json", "application/xml",
               "application/javascript", "application/x-ndjson")


def _variants(secret: str) -> set[str]:
    forms = {
        secret,
        html.escape(secret, quote=True),
        html.escape(secret, quote=False),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        secret.replace("'", "&#x27;"),
    }
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Scrubber:
    """Replaces every known secret (and its escaped forms) with ``<redacted>``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._forms: tuple[str, ...] = ()
        self._byte_forms: tuple[bytes, ...] = ()
        self.learn(*secrets)

    def learn(self, *secrets: str) -> None:
        """Add secrets (a token issued at run time, say); short values are ignored."""
        fresh = {s for s in secrets if isinstance(s, str) and len(s.strip()) >= MIN_SECRET_LENGTH}
        with self._lock:
            if fresh <= self._secrets:
                return
            self._secrets |= fresh
            forms = set().union(*(_variants(s) for s in self._secrets))
            # Longest first, so a secret that contains another is replaced whole.
            self._forms = tuple(sorted(forms, key=len, reverse=True))
            self._byte_forms = tuple(f.encode() for f in self._forms)

    def __bool__(self) -> bool:
        return bool(self._forms)

    @property
    def longest(self) -> int:
        return max((len(f) for f in self._byte_forms), default=0)

    def scrub(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def scrub_bytes(self, data: bytes) -> bytes:
        for form in self._byte_forms:
            if form in data:
                data = data.replace(form, REDACTED.encode())
        return data

    def pending_tail(self, data: bytes) -> int:
        """How many bytes at the end of ``data`` could be the start of a secret split across
        two chunks of a streamed body (held back until the next chunk)."""
        for size in range(min(len(data), self.longest - 1), 0, -1):
            tail = data[-size:]
            if any(form.startswith(tail) for form in self._byte_forms):
                return size
        return 0


#: Every secret of every portal built in this process: log records and the CLI's output pass
#: through it.
process_scrubber = Scrubber()


def _is_text_type(content_type: str) -> bool:
    content_type = content_type.lower()
    return content_type.startswith(_TEXT_TYPES) or "+json" in content_type


def scrubbing_send(send: Send, scrubber: Scrubber) -> Send:
    """``send`` with every textual response body passed through ``scrubber``: a sized body is
    held whole and sent with its new length; a streamed one chunk by chunk, holding back a tail
    that could be the start of a secret split across two chunks."""
    start: Message | None = None
    active = False
    sized = False
    held = b""
    buffered = bytearray()

    async def scrubbing(message: Message) -> None:
        nonlocal start, active, sized, held
        if message["type"] == "http.response.start":
            # The raw list, not a headers object: this runs for every response.
            content_type: bytes | None = None
            sized = False
            for name, value in message.get("headers") or ():
                if name == b"content-type" and content_type is None:
                    content_type = value
                elif name == b"content-length":
                    sized = True
            active = _is_text_type(content_type.decode("latin-1") if content_type else "")
            if not active:
                await send(message)
                return
            if sized:
                start = message  # sent with the body, once its new length is known
                return
            await send(message)
            return
        if message["type"] != "http.response.body" or not active:
            await send(message)
            return
        more = message.get("more_body", False)
        if sized:
            buffered.extend(message.get("body", b""))
            if more:
                return
            body = scrubber.scrub_bytes(bytes(buffered))
            assert start is not None
            if len(body) != len(buffered):
                MutableHeaders(scope=start)["content-length"] = str(len(body))
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        data = scrubber.scrub_bytes(held + message.get("body", b""))
        keep = scrubber.pending_tail(data) if more else 0
        held = data[len(data) - keep :] if keep else b""
        out = data[: len(data) - keep]
        await send({"type": "http.response.body", "body": out, "more_body": more})

    return scrubbing


class ScrubbingMiddleware:
    """Scrubs every textual response body (pages, fragments, JSON, errors, streams)."""

    def __init__(self, app: ASGIApp, scrubber: Scrubber) -> None:
        self.app = app
        self.scrubber = scrubber

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.scrubber:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, scrubbing_send(send, self.scrubber))


_factory_lock = threading.Lock()
_installed = False


def install_log_scrubbing(scrubber: Scrubber = process_scrubber) -> None:
    """Scrub every log record as it is made, before any handler or formatter sees it.

    A record factory (not a handler filter) so that handlers added later (uvicorn's, pytest's,
    an operator's) never see the raw text. Installed once per process."""
    global _installed
    with _factory_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if scrubber:
                _scrub_record(record, scrubber)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def _scrub_record(record: logging.LogRecord, scrubber: Scrubber) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string is the logging module's to report
        return
    scrubbed = scrubber.scrub(message)
    if scrubbed != message:
        # Keep the record's shape where possible (uvicorn's access formatter unpacks args).
        if isinstance(record.args, tuple) and isinstance(record.msg, str):
            record.msg = scrubber.scrub(record.msg)
            record.args = tuple(
                scrubber.scrub(a) if isinstance(a, str) else a for a in record.args
            )
            try:
                shown = record.getMessage()
                clean = scrubber.scrub(shown) == shown
            except Exception:  # noqa: BLE001
                clean = False
            if not clean:
                record.msg, record.args = scrubbed, ()
        else:
            record.msg, record.args = scrubbed, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = scrubber.scrub(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrubber.scrub(record.stack_info)


class ScrubbingStream:
    """A text stream that scrubs what is written to it (the CLI's stdout and stderr)."""

    def __init__(self, stream: IO[str], scrubber: Scrubber = process_scrubber) -> None:
        self._stream = stream
        self._scrubber = scrubber

    def write(self, text: str) -> int:
        self._stream.write(self._scrubber.scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
