"""Sign-in sessions ended before their time (signed out), kept where every replica sees them.

A session cookie is signed, so any replica can read it without asking anybody; sign-out must
still stop a copy of the cookie from working, so the session's id is kept here until the moment
the cookie would have expired anyway. A portal with a database keeps them in its
``revoked_sessions`` table (``greenroom._auth._revocations_sql``); the demo in memory.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol


class Revocations(Protocol):
    def revoke(self, session_id: str, expires_at: datetime) -> None: ...
    def is_revoked(self, session_id: str) -> bool: ...


class MemoryRevocations:
    def __init__(self) -> None:
        self._revoked: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def revoke(self, session_id: str, expires_at: datetime) -> None:
        with self._lock:
            now = datetime.now(UTC)
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            self._revoked[session_id] = expires_at

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self._revoked
