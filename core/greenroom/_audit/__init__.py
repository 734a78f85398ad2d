"""The audit trail: who did what, to which entity, at which provider, and how it ended.

Its SQL store is ``greenroom._audit._sql.SqlAuditStore``, imported only when a database is
opened, so that a portal without one (the demo) never loads SQLAlchemy.
"""

from __future__ import annotations

from ._entry import OUTCOMES, Actor, AuditEntry, AuditPage, AuditQuery, Outcome, parse_time
from ._export import FORMATS, entries_since, write_entries
from ._setup import open_audit_trail, open_database, retention_days
from ._store import AuditStore, MemoryAuditStore
from ._trail import ActionRecord, AuditTrail, AuditUnavailableError

__all__ = [
    "FORMATS",
    "OUTCOMES",
    "ActionRecord",
    "Actor",
    "AuditEntry",
    "AuditPage",
    "AuditQuery",
    "AuditStore",
    "AuditTrail",
    "AuditUnavailableError",
    "MemoryAuditStore",
    "Outcome",
    "entries_since",
    "open_audit_trail",
    "open_database",
    "parse_time",
    "retention_days",
    "write_entries",
]
