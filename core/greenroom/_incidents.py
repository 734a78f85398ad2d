"""Open incidents across every enabled provider, and acknowledging or resolving one of them.

Works on the portal, not on a web request, so pages, JSON, live updates and the audit trail
share it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from typing import TYPE_CHECKING, Any

from ._deadline import call_plugin
from ._entity import Entity, owner_key, parse_ref
from ._exceptions import ProviderError
from ._gather import ProviderFailure, gather_from_providers
from ._provider import (
    OPEN_STATUSES,
    ActionOutcome,
    Capability,
    Incident,
    IncidentProvider,
    IncidentStatus,
)

if TYPE_CHECKING:
    from ._identity import Identity
    from ._portal import Portal

log = logging.getLogger("greenroom.incidents")

ACTIONS = {"acknowledge": Capability.ACKNOWLEDGE, "resolve": Capability.RESOLVE}
FILTER_FIELDS = ("provider", "status", "owner", "entity")
ACTION_TIMEOUT = 15.0


@dataclass(frozen=True)
class Filters:
    provider: str = ""
    status: str = ""
    owner: str = ""
    entity: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], prefix: str = "") -> Filters:
        return cls(**{f: str(values.get(prefix + f) or "").strip() for f in FILTER_FIELDS})

    def as_dict(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in FILTER_FIELDS if getattr(self, f)}

    def __bool__(self) -> bool:
        return bool(self.as_dict())


@dataclass(frozen=True)
class IncidentRow:
    incident: Incident
    entity: Entity
    provider: IncidentProvider
    actions: tuple[str, ...]
    #: Other entities the same vendor incident belongs to (one incident can page two teams).
    also: tuple[Entity, ...] = ()

    @property
    def entities(self) -> tuple[Entity, ...]:
        return (self.entity, *self.also)

    def matches(self, filters: Filters) -> bool:
        if filters.provider and self.provider.id != filters.provider:
            return False
        if filters.status and str(self.incident.status) != filters.status:
            return False
        if filters.owner and owner_key(filters.owner) not in {
            owner_key(e.owner or "") for e in self.entities
        }:
            return False
        return not filters.entity or filters.entity.lower().strip() in {
            e.ref for e in self.entities
        }


def allowed_actions(provider: IncidentProvider, incident: Incident) -> tuple[str, ...]:
    """Acknowledge while triggered, resolve while open, each only where the provider can."""
    found = []
    if Capability.ACKNOWLEDGE in provider.capabilities and (
        incident.status is IncidentStatus.TRIGGERED
    ):
        found.append("acknowledge")
    if Capability.RESOLVE in provider.capabilities and incident.status in OPEN_STATUSES:
        found.append("resolve")
    return tuple(found)


def _newest_first(row: IncidentRow) -> float:
    created = row.incident.created_at
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    return -created.timestamp()


async def open_incidents(portal: Portal) -> tuple[list[IncidentRow], list[ProviderFailure]]:
    """Every open incident once (with every entity it pages), newest first, and the providers
    that could not answer."""
    gathered = await gather_from_providers(
        portal,
        Capability.INCIDENTS,
        lambda p, e: p.list_incidents(e, statuses=OPEN_STATUSES),
        bulk=lambda p, entities: p.bulk_open_incidents(entities),
    )
    rows: dict[tuple[str, str], IncidentRow] = {}
    for provider, entity, incidents in gathered.results:
        for incident in incidents:
            if not incident.is_open:
                continue
            key = (provider.id, incident.id)
            row = rows.get(key)
            if row is None:
                actions = allowed_actions(provider, incident)
                rows[key] = IncidentRow(incident, entity, provider, actions)
            elif entity not in row.entities:
                rows[key] = replace(row, also=(*row.also, entity))
    ordered = sorted(rows.values(), key=_newest_first)
    return ordered, gathered.failures


class IncidentActionRefused(Exception):
    """An incident action that did not happen: ``status`` is the HTTP status a page answers
    with, ``message`` the (scrubbed) alert to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def act_on_incident(
    portal: Portal,
    provider_id: str,
    action: str,
    entity_ref: str,
    incident_id: str,
    identity: Identity,
) -> ActionOutcome:
    """Acknowledge or resolve one incident as ``identity``; :class:`IncidentActionRefused`
    says why not."""
    if action not in ACTIONS:
        raise IncidentActionRefused(
            404, f"No incident action {action!r}; use acknowledge or resolve."
        )
    handle = next((h for h in portal.providers() if h.provider.id == provider_id), None)
    if handle is None:
        raise IncidentActionRefused(404, f"No enabled incident provider {provider_id!r}.")
    provider = handle.provider
    if ACTIONS[action] not in provider.capabilities:
        raise IncidentActionRefused(
            400, f"{provider.title} cannot {action} incidents from the portal."
        )
    parts = parse_ref(entity_ref)
    entity = portal.catalog.find(parts[1], parts[0], parts[2]) if parts else None
    incident_id = incident_id.strip()
    if entity is None or not incident_id:
        raise IncidentActionRefused(
            400, f"The form did not name a known entity and incident (entity {entity_ref!r})."
        )
    method = provider.acknowledge if action == "acknowledge" else provider.resolve
    try:
        return await call_plugin(
            method, entity, incident_id, identity, timeout=ACTION_TIMEOUT,
            what=f"{provider.title} {action}",
        )
    except TimeoutError:
        raise IncidentActionRefused(
            504, f"{provider.title} did not answer in time; check the incident before retrying."
        ) from None
    except ProviderError as exc:
        raise IncidentActionRefused(
            400, f"Could not {action} the incident. {portal.scrub(str(exc))}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - a plugin bug becomes an alert
        log.error(
            "%s of %s by %s raised: %s", action, incident_id, provider_id,
            portal.scrub(repr(exc)),
        )
        raise IncidentActionRefused(
            500, f"Error in {handle.plugin_id}: {portal.scrub(f'{type(exc).__name__}: {exc}')}"
        ) from exc
