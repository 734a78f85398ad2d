"""The audit trail's table, as the migrations in ``greenroom/_migrations`` create it."""

from __future__ import annotations

import sqlalchemy as sa

from .._db import metadata

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

audit_entries = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("actor_id", sa.String(320), nullable=False, index=True),
    sa.Column("actor_email", sa.String(320), nullable=True),
    sa.Column("actor_name", sa.String(200), nullable=True),
    sa.Column("actor_via", sa.String(32), nullable=False),
    sa.Column("action", sa.String(200), nullable=False, index=True),
    sa.Column("entity", sa.String(400), nullable=True, index=True),
    # Every entity the action concerned, as "|ref|ref|", so one LIKE finds any of them.
    sa.Column("entities", sa.Text(), nullable=False, server_default=""),
    sa.Column("provider", sa.String(100), nullable=True),
    sa.Column("incident_id", sa.String(200), nullable=True),
    sa.Column("summary", sa.Text(), nullable=False, server_default=""),
    sa.Column("outcome", sa.String(16), nullable=False, index=True),
    sa.Column("message", sa.Text(), nullable=False, server_default=""),
    sa.Column("request_id", sa.String(100), nullable=True),
    # Repeated refusals of one caller within a minute share one row (see AuditTrail).
    sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("dedupe_key", sa.String(400), nullable=True, unique=True),
)
