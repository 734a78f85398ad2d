"""Audit entries in the portal's SQL database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .._db import Database
from ._entry import Actor, AuditEntry, AuditPage, AuditQuery, Outcome, encode_cursor
from ._tables import audit_entries as table


class SqlAuditStore:
    """``AuditStore`` on ``Database``; each call is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, entry: AuditEntry, *, dedupe_key: str | None = None) -> int:
        values = _row(entry)
        values["dedupe_key"] = dedupe_key
        with self.database.begin() as connection:
            if dedupe_key is None:
                result = connection.execute(table.insert().values(values))
                assert result.inserted_primary_key is not None
                return int(result.inserted_primary_key[0])
            statement = _upsert(connection.dialect.name, values)
            return int(connection.execute(statement).scalar_one())

    def complete(self, entry_id: int, outcome: Outcome, message: str, at: datetime) -> None:
        with self.database.begin() as connection:
            connection.execute(
                table.update()
                .where(table.c.id == entry_id)
                .values(outcome=outcome, message=message, completed_at=_utc(at))
            )

    def query(self, query: AuditQuery) -> AuditPage:
        statement = sa.select(table).order_by(table.c.id.desc()).limit(query.limit + 1)
        for condition in _conditions(query):
            statement = statement.where(condition)
        with self.database.begin() as connection:
            rows = connection.execute(statement).mappings().all()
        entries = [_entry(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        return AuditPage(entries, encode_cursor(entries[-1].id or 0) if more else None)

    def prune(self, before: datetime) -> int:
        with self.database.begin() as connection:
            result = connection.execute(table.delete().where(table.c.at < _utc(before)))
            return int(result.rowcount or 0)

    def ping(self) -> None:
        self.database.ping()

    def close(self) -> None:
        self.database.close()


def _upsert(dialect: str, values: dict[str, Any]) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(values)
    return statement.on_conflict_do_update(
        index_elements=[table.c.dedupe_key], set_={"count": table.c.count + 1}
    ).returning(table.c.id)


def _conditions(query: AuditQuery) -> list[Any]:
    conditions: list[Any] = []
    before = query.before_id()
    if before is not None:
        conditions.append(table.c.id < before)
    if query.actor:
        conditions.append(
            sa.or_(table.c.actor_id == query.actor, table.c.actor_email == query.actor)
        )
    if query.action:
        if query.action.endswith(".*"):
            prefix = query.action[:-1]
            conditions.append(table.c.action.startswith(prefix, autoescape=True))
        else:
            conditions.append(table.c.action == query.action)
    if query.entity:
        conditions.append(table.c.entities.contains(f"|{query.entity}|", autoescape=True))
    if query.provider:
        conditions.append(table.c.provider == query.provider)
    if query.outcome:
        conditions.append(table.c.outcome == query.outcome)
    if query.since:
        conditions.append(table.c.at >= _utc(query.since))
    if query.until:
        conditions.append(table.c.at < _utc(query.until))
    return conditions


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": _utc(entry.at),
        "completed_at": _utc(entry.completed_at) if entry.completed_at else None,
        "actor_id": entry.actor.user_id,
        "actor_email": entry.actor.email,
        "actor_name": entry.actor.name,
        "actor_via": entry.actor.via,
        "action": entry.action,
        "entity": entry.entity,
        "entities": "|" + "|".join(entry.entities) + "|" if entry.entities else "",
        "provider": entry.provider,
        "incident_id": entry.incident_id,
        "summary": entry.summary,
        "outcome": entry.outcome,
        "message": entry.message,
        "request_id": entry.request_id,
        "count": entry.count,
    }


def _entry(row: Any) -> AuditEntry:
    entities = tuple(part for part in str(row["entities"] or "").split("|") if part)
    return AuditEntry(
        id=int(row["id"]),
        at=_aware(row["at"]),
        completed_at=_aware(row["completed_at"]) if row["completed_at"] else None,
        actor=Actor(
            user_id=row["actor_id"], email=row["actor_email"], name=row["actor_name"],
            via=row["actor_via"],
        ),
        action=row["action"],
        entities=entities,
        provider=row["provider"],
        incident_id=row["incident_id"],
        summary=row["summary"] or "",
        outcome=row["outcome"],
        message=row["message"] or "",
        request_id=row["request_id"],
        count=int(row["count"]),
    )


def _utc(value: datetime) -> datetime:
    """Every value in UTC: SQLite keeps the digits without the offset, so mixed offsets would
    compare wrongly there."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
