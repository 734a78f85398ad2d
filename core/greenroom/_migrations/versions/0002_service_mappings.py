"""Service mappings: a provider's service or team tied to a catalog entity.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_mappings",
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("entity_ref", sa.String(400), nullable=False),
        sa.Column("annotation", sa.String(200), nullable=False),
        sa.Column("value", sa.String(400), nullable=False),
        sa.Column("updated_by", sa.String(320), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "entity_ref", name=op.f("pk_service_mappings")),
    )


def downgrade() -> None:
    op.drop_table("service_mappings")
