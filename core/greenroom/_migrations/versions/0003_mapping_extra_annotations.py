"""Service mappings may set more than one annotation (a service of a second PagerDuty account
also sets the account's annotation).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_mappings") as batch:
        batch.add_column(sa.Column("extra_annotations", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service_mappings") as batch:
        batch.drop_column("extra_annotations")
