"""Saved service mappings in the portal's SQL database: the ``service_mappings`` table (created by
the migrations in ``greenroom/_migrations``) and the store on it.

Its own module so that a portal without a database (the demo) never imports SQLAlchemy.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

import sqlalchemy as sa

from ._db import Database, metadata
from ._mapping import ServiceMapping

service_mappings = sa.Table(
    "service_mappings",
    metadata,
    sa.Column("provider", sa.String(100), primary_key=True),
    sa.Column("entity_ref", sa.String(400), primary_key=True),
    sa.Column("annotation", sa.String(200), nullable=False),
    sa.Column("value", sa.String(400), nullable=False),
    sa.Column("updated_by", sa.String(320), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # More annotations the mapping sets beside ``annotation`` (JSON object; migration 0003),
    # such as the account a service belongs to when the provider has several.
    sa.Column("extra_annotations", sa.Text(), nullable=True),
)


class SqlMappingStore:
    """Mappings in the portal's SQL database; the schema is migrated before first use."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._ready = False
        self._lock = threading.Lock()

    def _ensure_schema(self) -> None:
        with self._lock:
            if not self._ready:
                self.database.upgrade()
                self._ready = True

    def all(self) -> list[ServiceMapping]:
        # Reading never migrates: a database without the table has no mappings yet.
        with self.database.begin() as connection:
            if not self._ready and not sa.inspect(connection).has_table("service_mappings"):
                return []
            rows = connection.execute(
                sa.select(service_mappings).order_by(
                    service_mappings.c.provider, service_mappings.c.entity_ref
                )
            ).all()
        return [
            ServiceMapping(
                r.provider, r.entity_ref, r.annotation, r.value, r.updated_by,
                _aware(r.updated_at), _extra_from_json(r.extra_annotations),
            )
            for r in rows
        ]

    def save(self, mapping: ServiceMapping) -> None:
        self._ensure_schema()
        key = (service_mappings.c.provider == mapping.provider) & (
            service_mappings.c.entity_ref == mapping.entity_ref
        )
        values = {
            "annotation": mapping.annotation,
            "value": mapping.value,
            "updated_by": mapping.updated_by,
            "updated_at": mapping.updated_at,
            "extra_annotations": json.dumps(dict(mapping.extra)) if mapping.extra else None,
        }
        with self.database.begin() as connection:
            # One transaction: replace the entity's mapping for this provider.
            connection.execute(sa.delete(service_mappings).where(key))
            connection.execute(
                sa.insert(service_mappings).values(
                    provider=mapping.provider, entity_ref=mapping.entity_ref, **values
                )
            )

    def delete(self, provider: str, entity_ref: str) -> None:
        self._ensure_schema()
        with self.database.begin() as connection:
            connection.execute(
                sa.delete(service_mappings).where(
                    (service_mappings.c.provider == provider)
                    & (service_mappings.c.entity_ref == entity_ref)
                )
            )

    def ping(self) -> None:
        self.database.ping()

    def close(self) -> None:
        """Release the database engine's connections (the portal does at shutdown)."""
        self.database.close()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _extra_from_json(text: str | None) -> tuple[tuple[str, str], ...]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return ()
    if not isinstance(data, Mapping):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in data.items()))
