"""Signed-out sessions in the portal's SQL database (the ``revoked_sessions`` table, created by
the migrations in ``greenroom/_migrations``), seen by every replica.

Its own module so that a portal without a database (the demo) never imports SQLAlchemy.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from .._db import Database, metadata

revoked_sessions = sa.Table(
    "revoked_sessions",
    metadata,
    sa.Column("session_id", sa.String(64), primary_key=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


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
