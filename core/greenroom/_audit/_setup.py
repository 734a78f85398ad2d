"""Building the audit trail from config: which store, its migrations, its retention."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .._config import Config
from .._exceptions import ConfigError
from ._store import MemoryAuditStore
from ._trail import DEFAULT_RETENTION_DAYS, AuditTrail

if TYPE_CHECKING:
    from .._db import Database

log = logging.getLogger("greenroom.audit")


def retention_days(config: Config) -> int:
    raw = config.get("database.retentionDays", DEFAULT_RETENTION_DAYS)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        location = config.location("database.retentionDays")
        raise ConfigError(
            "database.retentionDays must be a whole number of days, at least 1 "
            f"(default {DEFAULT_RETENTION_DAYS})",
            key_path="database.retentionDays",
            file=location.file if location else None,
            line=location.line if location else None,
        )
    return raw


def open_database(config: Config, env: Mapping[str, str] | None = None) -> Database:
    """The configured database (or the embedded SQLite file), not yet migrated."""
    from .._db import Database, database_url

    return Database(database_url(config.get("database.url"), env))


def open_audit_trail(
    config: Config, *, demo: bool = False, env: Mapping[str, str] | None = None,
    migrate: bool = True,
) -> AuditTrail:
    """The portal's audit trail. The demo keeps it in memory unless ``database.url`` is set;
    every other portal keeps it in SQL, migrated to head first (cheap when already there)."""
    days = retention_days(config)
    if demo and not config.get("database.url"):
        return AuditTrail(MemoryAuditStore(), scrub=config.scrub, retention_days=days)
    from ._sql import SqlAuditStore

    database = open_database(config, env)
    if migrate and database.upgrade():
        log.info("database %s upgraded to the newest schema", database.display_url)
    return AuditTrail(
        SqlAuditStore(database), scrub=config.scrub, retention_days=days,
        where=database.display_url,
    )
