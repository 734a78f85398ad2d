"""One audit entry, who it names, and how entries are looked up."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

Outcome = Literal["succeeded", "failed", "refused", "unknown"]
OUTCOMES: tuple[Outcome, ...] = ("succeeded", "failed", "refused", "unknown")


@dataclass(frozen=True)
class Actor:
    """Who acted: the stable user id, how to reach them, and how they were authenticated."""

    user_id: str
    email: str | None = None
    name: str | None = None
    # oidc, proxy, jwt, token, demo or guest
    via: str = "guest"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.user_id, "email": self.email, "name": self.name, "via": self.via}


@dataclass(frozen=True)
class AuditEntry:
    """One action or refusal. ``outcome`` is ``unknown`` from before the vendor is called until
    the result is known; a crash in between leaves it so."""

    actor: Actor
    action: str
    outcome: Outcome
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    entities: tuple[str, ...] = ()
    provider: str | None = None
    incident_id: str | None = None
    summary: str = ""
    message: str = ""
    request_id: str | None = None
    count: int = 1
    completed_at: datetime | None = None
    id: int | None = None

    @property
    def entity(self) -> str | None:
        """The first entity (``namespace/kind/name``); ``entities`` has them all."""
        return self.entities[0] if self.entities else None

    def with_id(self, entry_id: int) -> AuditEntry:
        return replace(self, id=entry_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "actor": self.actor.as_json(),
            "action": self.action,
            "entity": self.entity,
            "entities": list(self.entities),
            "provider": self.provider,
            "incident_id": self.incident_id,
            "summary": self.summary,
            "outcome": self.outcome,
            "message": self.message,
            "request_id": self.request_id,
            "count": self.count,
            "completed_at": _iso(self.completed_at) if self.completed_at else None,
        }


@dataclass(frozen=True)
class AuditQuery:
    """Filters of ``/audit``, ``GET /api/audit`` and ``greenroom audit export``; all optional.

    ``actor`` matches the user id or email exactly; ``action`` matches exactly or, ending in
    ``.*``, by prefix; ``entity`` matches any entity an entry names."""

    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    provider: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    # Opaque cursor from a previous page's ``next``: entries older than it.
    after: str | None = None

    def before_id(self) -> int | None:
        return decode_cursor(self.after) if self.after else None


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next: str | None

    def as_json(self) -> dict[str, Any]:
        return {"entries": [e.as_json() for e in self.entries], "next": self.next}


def encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{entry_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands for; ``ValueError`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor from this audit trail") from exc
    prefix, _, number = raw.partition(":")
    if prefix != "id" or not number.isdigit():
        raise ValueError("not a cursor from this audit trail")
    return int(number)


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time; naive values are UTC. ``ValueError`` names what is expected."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"not an ISO 8601 date or time: {text[:40]!r} (e.g. 2026-11-30 or "
            "2026-11-30T02:00:00Z)"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
