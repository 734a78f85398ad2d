"""The audit trail as actions use it: intent first, outcome after, refusals counted; what
already happened (a refusal, a sign-in, a sign-out) recorded complete with ``record``.

``async with trail.action(actor, "incident.resolve", ...) as record:`` writes the entry as
``unknown`` before the block runs (the block is where the vendor is called) and completes it as
``succeeded`` or ``failed`` after; when the entry cannot be written the block never runs and
``AuditUnavailableError`` says so, because an action nobody can account for must not happen.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from anyio import to_thread

from .._exceptions import DatabaseError
from ._entry import Actor, AuditEntry, AuditPage, AuditQuery, Outcome
from ._store import AuditStore

log = logging.getLogger("greenroom.audit")

DEFAULT_RETENTION_DAYS = 400
_PRUNE_EVERY_SECONDS = 3600
_SUMMARY_LIMIT = 2000
# Credentials people paste into free text: bearer/token headers and key=value pairs.
_SECRET_PATTERNS = (
    re.compile(r"(?i)\b(bearer|token)(\s+|\s*[:=]\s*)(token=)?[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)\b(api[_-]?key|password|secret|client[_-]?secret)\s*[:=]\s*\S+"),
)


class AuditUnavailableError(DatabaseError):
    """The audit trail cannot be written, so the action was not taken."""


@dataclass
class ActionRecord:
    """What the block of ``AuditTrail.action`` may say about how it ended."""

    entry_id: int
    outcome: Outcome = "succeeded"
    message: str = ""

    def fail(self, message: str) -> None:
        self.outcome = "failed"
        self.message = message


class AuditTrail:
    """Writes and reads audit entries through a store, off the event loop."""

    def __init__(
        self,
        store: AuditStore,
        *,
        scrub: Callable[[str], str] | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        where: str = "memory",
    ) -> None:
        self.store = store
        self.retention_days = retention_days
        self.where = where
        self._scrub_config = scrub or (lambda text: text)
        self._last_prune = 0.0

    def scrub(self, text: str) -> str:
        """``text`` without configured secrets or credential-looking values, cut to size."""
        text = self._scrub_config(text)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda m: f"{m.group(1)} <redacted>", text)
        return text[:_SUMMARY_LIMIT]

    @contextlib.asynccontextmanager
    async def action(
        self,
        actor: Actor,
        action: str,
        *,
        entities: Iterable[str] = (),
        provider: str | None = None,
        incident_id: str | None = None,
        summary: str = "",
        request_id: str | None = None,
    ) -> AsyncIterator[ActionRecord]:
        entry = AuditEntry(
            actor=actor, action=action, outcome="unknown", entities=tuple(entities),
            provider=provider, incident_id=incident_id, summary=self.scrub(summary),
            request_id=request_id,
        )
        try:
            entry_id = await to_thread.run_sync(self.store.add, entry)
        except Exception as exc:  # noqa: BLE001 - any store failure refuses the action
            log.error("audit trail unavailable, refusing %s: %s", action, _describe(exc))
            raise AuditUnavailableError(self.where, exc) from exc
        record = ActionRecord(entry_id)
        try:
            yield record
        except Exception as exc:
            await self._complete(entry_id, "failed", self.scrub(str(exc)) or type(exc).__name__)
            raise
        # A cancelled request (BaseException) leaves "unknown": nobody knows what the vendor did.
        await self._complete(entry_id, record.outcome, self.scrub(record.message))

    async def refused(
        self,
        actor: Actor,
        action: str,
        reason: str,
        *,
        entities: Iterable[str] = (),
        provider: str | None = None,
        incident_id: str | None = None,
        summary: str = "",
        request_id: str | None = None,
        per_minute: bool = False,
    ) -> None:
        """Record a refusal. ``per_minute`` counts repeats of one caller and action within a
        minute in one entry, so a script hammering a refused route cannot flood the table."""
        await self.record(
            actor, action, "refused", reason, entities=entities, provider=provider,
            incident_id=incident_id, summary=summary, request_id=request_id,
            per_minute=per_minute,
        )

    async def record(
        self,
        actor: Actor,
        action: str,
        outcome: Outcome,
        message: str = "",
        *,
        entities: Iterable[str] = (),
        provider: str | None = None,
        incident_id: str | None = None,
        summary: str = "",
        request_id: str | None = None,
        per_minute: bool = False,
    ) -> bool:
        """Record something that already happened (a refusal, a sign-in, a sign-out), complete.

        Unlike ``action`` it never stops what it records: when the store cannot be written the
        failure is logged (one line) and ``False`` is returned. ``per_minute`` counts repeats
        of one caller, action, outcome and message within a minute in one entry."""
        now = datetime.now(UTC)
        entry = AuditEntry(
            actor=actor, action=action, outcome=outcome, at=now, entities=tuple(entities),
            provider=provider, incident_id=incident_id, summary=self.scrub(summary),
            message=self.scrub(message), request_id=request_id, completed_at=now,
        )
        key = None
        if per_minute:
            key = f"{outcome}|{now:%Y-%m-%dT%H:%M}|{actor.user_id}|{action}|{entry.message}"[:400]
        try:
            await to_thread.run_sync(lambda: self.store.add(entry, dedupe_key=key))
        except Exception as exc:  # noqa: BLE001 - what happened stands even when unrecorded
            log.error("audit trail unavailable, %s %s not recorded: %s", action, outcome,
                      _describe(exc))
            return False
        await self.maybe_prune()
        return True

    async def query(self, query: AuditQuery) -> AuditPage:
        try:
            return await to_thread.run_sync(self.store.query, query)
        except Exception as exc:  # noqa: BLE001
            raise DatabaseError(self.where, exc) from exc

    async def prune(self) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        self._last_prune = time.monotonic()
        removed = await to_thread.run_sync(self.store.prune, cutoff)
        if removed:
            log.info("audit trail: pruned %d entries older than %d days", removed,
                     self.retention_days)
        return removed

    async def maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune < _PRUNE_EVERY_SECONDS:
            return
        try:
            await self.prune()
        except Exception as exc:  # noqa: BLE001 - pruning is housekeeping, never an outage
            log.warning("audit trail: pruning failed: %s", _describe(exc))

    async def ping(self) -> None:
        await to_thread.run_sync(self.store.ping)

    def close(self) -> None:
        self.store.close()

    async def _complete(self, entry_id: int, outcome: Outcome, message: str) -> None:
        try:
            await to_thread.run_sync(
                self.store.complete, entry_id, outcome, message, datetime.now(UTC)
            )
        except Exception as exc:  # noqa: BLE001 - the entry stays "unknown", which is true
            log.error("audit entry %s left unknown: %s", entry_id, _describe(exc))
        await self.maybe_prune()


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, DatabaseError) else type(exc).__name__
