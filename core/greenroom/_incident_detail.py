"""One incident in full: status, service, assignees, timeline and notes, for the portal's
incident page (``/incidents/<provider>/<id>``).

A provider offers it by implementing :class:`IncidentDetailProvider` beside
:class:`~greenroom.IncidentProvider`; the portal checks with ``isinstance`` and links titles to
the page only for providers that do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._entity import Entity
    from ._identity import Identity
    from ._provider import Incident


@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened to an incident: ``kind`` is a short word (``triggered``,
    ``acknowledged``, ``note``...), ``by`` who did it when the vendor says."""

    at: datetime
    summary: str
    kind: str = ""
    by: str | None = None


@dataclass(frozen=True)
class Note:
    """A note on an incident and who wrote it."""

    content: str
    author: str
    created_at: datetime | None = None
    id: str | None = None


@dataclass(frozen=True)
class IncidentDetail:
    """An incident with its timeline (newest first) and notes (oldest first).

    ``notes_unavailable`` says why notes cannot be added from the portal (None: they can).
    """

    incident: Incident
    timeline: tuple[TimelineEntry, ...] = ()
    notes: tuple[Note, ...] = ()
    notes_unavailable: str | None = None


@runtime_checkable
class IncidentDetailProvider(Protocol):
    """A provider that can show one incident in full and add notes to it. Both methods act
    only on incidents of ``entity`` (raise :class:`~greenroom.NotFoundError` otherwise)."""

    async def incident_detail(self, entity: Entity, incident_id: str) -> IncidentDetail:
        """The incident, its timeline and its notes."""
        ...

    async def add_note(
        self, entity: Entity, incident_id: str, content: str, user: Identity
    ) -> Note:
        """Add a note as ``user``."""
        ...
