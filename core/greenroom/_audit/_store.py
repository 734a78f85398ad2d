"""Where audit entries are kept: the store protocol and its in-memory twin.

Stores are synchronous (SQLAlchemy's engine is); ``AuditTrail`` calls them from a worker thread
so that no page waits on the database inside the event loop.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from ._entry import AuditEntry, AuditPage, AuditQuery, Outcome, encode_cursor


class AuditStore(Protocol):
    def add(self, entry: AuditEntry, *, dedupe_key: str | None = None) -> int:
        """Keep ``entry`` and return its id. With ``dedupe_key``, an entry already kept under
        the same key gets its ``count`` raised by one instead (and its id is returned)."""
        ...

    def complete(self, entry_id: int, outcome: Outcome, message: str, at: datetime) -> None:
        """Record how an action that was written as ``unknown`` ended."""
        ...

    def query(self, query: AuditQuery) -> AuditPage:
        """Entries matching ``query``, newest first, one page at a time."""
        ...

    def prune(self, before: datetime) -> int:
        """Delete entries older than ``before``; how many went."""
        ...

    def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...

    def close(self) -> None: ...


class MemoryAuditStore:
    """Entries in a list: the demo's and unit tests' store. Lost when the process ends."""

    def __init__(self) -> None:
        self._entries: dict[int, AuditEntry] = {}
        self._keys: dict[str, int] = {}
        self._next_id = 1
        self._lock = threading.Lock()
        # Tests inject an outage by setting this to an exception.
        self.failure: Exception | None = None

    def add(self, entry: AuditEntry, *, dedupe_key: str | None = None) -> int:
        self._check()
        with self._lock:
            if dedupe_key is not None and dedupe_key in self._keys:
                entry_id = self._keys[dedupe_key]
                kept = self._entries[entry_id]
                self._entries[entry_id] = replace(kept, count=kept.count + 1)
                return entry_id
            entry_id = self._next_id
            self._next_id += 1
            self._entries[entry_id] = entry.with_id(entry_id)
            if dedupe_key is not None:
                self._keys[dedupe_key] = entry_id
            return entry_id

    def complete(self, entry_id: int, outcome: Outcome, message: str, at: datetime) -> None:
        self._check()
        with self._lock:
            kept = self._entries.get(entry_id)
            if kept is not None:
                self._entries[entry_id] = replace(
                    kept, outcome=outcome, message=message, completed_at=at
                )

    def query(self, query: AuditQuery) -> AuditPage:
        self._check()
        before = query.before_id()
        with self._lock:
            found = [
                e for entry_id, e in sorted(self._entries.items(), reverse=True)
                if (before is None or entry_id < before) and matches(e, query)
            ]
        page = found[: query.limit]
        more = len(found) > query.limit
        return AuditPage(page, encode_cursor(page[-1].id or 0) if more and page else None)

    def prune(self, before: datetime) -> int:
        self._check()
        with self._lock:
            old = [i for i, e in self._entries.items() if e.at < before]
            for entry_id in old:
                del self._entries[entry_id]
            self._keys = {k: i for k, i in self._keys.items() if i in self._entries}
            return len(old)

    def ping(self) -> None:
        self._check()

    def close(self) -> None:
        return None

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure


def matches(entry: AuditEntry, query: AuditQuery) -> bool:
    """Whether ``entry`` passes ``query``'s filters (the SQL store says the same in SQL)."""
    if query.actor and query.actor not in (entry.actor.user_id, entry.actor.email):
        return False
    if query.action:
        if query.action.endswith(".*"):
            if not entry.action.startswith(query.action[:-1]):
                return False
        elif entry.action != query.action:
            return False
    if query.entity and query.entity not in entry.entities:
        return False
    if query.provider and entry.provider != query.provider:
        return False
    if query.outcome and entry.outcome != query.outcome:
        return False
    if query.since and entry.at < query.since:
        return False
    return not (query.until and entry.at >= query.until)
