"""Alembic's environment: always handed a connection by ``greenroom._db.Database``.

Greenroom runs migrations itself (at start-up, and from ``greenroom db upgrade``) on the URL taken
from the portal's own config, inside the lock that keeps replicas from migrating together, so
there is no ``alembic.ini`` and no offline mode.
"""

from __future__ import annotations

from alembic import context

from greenroom._db import VERSION_TABLE, schema

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `greenroom db upgrade`, which passes a connection")
context.configure(
    connection=connection,
    target_metadata=schema(),
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
