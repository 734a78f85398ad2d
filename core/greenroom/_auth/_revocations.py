"""Sign-in sessions ended before their time (signed out), kept where every replica sees them.

A session cookie is signed, so any replica can read it without asking anybody; sign-out must
still stop a copy of the cookie from working, so the session's id is kept here until the moment
the cookie would have expired anyway.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa

from .._db import Database, metadata

revoked_sessions = sa.Table(
    "revoked_sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


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


class SqlRevocations:
    def __init__(self, database: Database) -> None:
        self.database = database

    def revoke(self, session_id: str, expires_at: datetime) -> None:
        now = datetime.now(UTC)
        with self.database.begin() as connection:
            connection.execute(revoked_sessions.delete().where(revoked_sessions.c.expires_at < now))
            exists = connection.execute(
                sa.select(revoked_sessions.c.session_id).where(
                    revoked_sessions.c.session_id == session_id
                )
            ).first()
            if exists is None:
                connection.execute(
                    revoked_sessions.insert().values(
                        session_id=session_id, revoked_at=now, expires_at=expires_at
                    )
                )

    def is_revoked(self, session_id: str) -> bool:
        with self.database.begin() as connection:
            found = connection.execute(
                sa.select(revoked_sessions.c.session_id).where(
                    revoked_sessions.c.session_id == session_id
                )
            ).first()
        return found is not None
