"""Audit entries and revoked sign-in sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor_id", sa.String(320), nullable=False),
        sa.Column("actor_email", sa.String(320), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("actor_via", sa.String(32), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("entity", sa.String(400), nullable=True),
        sa.Column("entities", sa.Text(), nullable=False, server_default=""),
        sa.Column("provider", sa.String(100), nullable=True),
        sa.Column("incident_id", sa.String(200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False, server_default=""),
        sa.Column("request_id", sa.String(100), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("dedupe_key", sa.String(400), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_audit_entries_dedupe_key")),
    )
    op.create_index(op.f("ix_audit_entries_at"), "audit_entries", ["at"])
    op.create_index(op.f("ix_audit_entries_action"), "audit_entries", ["action"])
    op.create_index(op.f("ix_audit_entries_actor_id"), "audit_entries", ["actor_id"])
    op.create_index(op.f("ix_audit_entries_entity"), "audit_entries", ["entity"])
    op.create_index(op.f("ix_audit_entries_outcome"), "audit_entries", ["outcome"])
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_revoked_sessions")),
    )
    op.create_index(op.f("ix_revoked_sessions_expires_at"), "revoked_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_revoked_sessions_expires_at"), table_name="revoked_sessions")
    op.drop_table("revoked_sessions")
    for column in ("outcome", "entity", "actor_id", "action", "at"):
        op.drop_index(op.f(f"ix_audit_entries_{column}"), table_name="audit_entries")
    op.drop_table("audit_entries")
