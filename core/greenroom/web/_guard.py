"""Every action a page takes goes through here: permission, audit intent, vendor call, outcome.

The request's identity, the entities the action concerns and the provider come from the page's
handler; this module adds what only the web layer knows (the on-call read through the enabled
providers, the request id) and turns a refusal into words for the person.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request

from .._audit import AuditUnavailableError
from .._auth import permission_action
from .._exceptions import PermissionDeniedError
from .._provider import Capability
from ._context import portal_of
from ._sign_in import identity_of

if TYPE_CHECKING:
    from .._entity import Entity
    from .._identity import Identity
    from .._permissions import Decision
    from .._plugin import Card
    from .._portal import Portal

log = logging.getLogger("greenroom.access")

T = TypeVar("T")
_MEMBERSHIP_SECONDS = 5.0


class ActionRefused(Exception):
    """The action was not taken; ``message`` says why, for the person who asked."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def request_id_of(request: Request) -> str | None:
    state_id = getattr(request.state, "request_id", None)
    return str(state_id) if state_id else request.headers.get("x-request-id")


def oncall_lookup(request: Request) -> Callable[[Entity], Awaitable[bool | None]]:
    """Whether the viewer is on call now for an entity at any provider (the providers' on-call
    reads go through the portal's fetch cache). ``None`` when no provider could say."""
    return oncall_lookup_for(portal_of(request), identity_of(request))


async def card_permissions(
    portal: Portal, card: Card, entity: Entity, viewer: Identity
) -> dict[str, Decision]:
    """The decision for each of a card's actions, for its buttons (one on-call read at most)."""
    access = portal.access
    if access is None or not card.actions:
        return {}
    lookup = oncall_lookup_for(portal, viewer)
    memo: dict[str, bool | None] = {}

    async def once(target: Entity) -> bool | None:
        if target.ref not in memo:
            memo[target.ref] = await lookup(target)
        return memo[target.ref]

    decisions: dict[str, Decision] = {}
    for name in card.actions:
        action = permission_action(card.plugin_id, name)
        targets = await access.targets(viewer, action, [entity], once)
        decisions[action] = access.decide(viewer, action, targets)
    return decisions


async def incident_row_permissions(
    request: Request, rows: Sequence[Any]
) -> dict[tuple[str, str, str], Decision]:
    """Decisions for the /incidents rows' buttons, by (provider id, incident id, action): an
    incident paging several entities may be acted on by whoever may act on any of them."""
    portal = portal_of(request)
    access = portal.access
    if access is None:
        return {}
    viewer = identity_of(request)
    lookup = oncall_lookup_for(portal, viewer)
    memo: dict[str, bool | None] = {}

    async def once(target: Entity) -> bool | None:
        if target.ref not in memo:
            memo[target.ref] = await lookup(target)
        return memo[target.ref]

    decisions: dict[tuple[str, str, str], Decision] = {}
    for row in rows:
        for name in row.actions:
            action = f"incident.{name}"
            targets = await access.targets(viewer, action, list(row.entities), once)
            decisions[(row.provider.id, row.incident.id, name)] = access.decide(
                viewer, action, targets
            )
    return decisions


def oncall_lookup_for(
    portal: Portal, viewer: Identity
) -> Callable[[Entity], Awaitable[bool | None]]:
    async def is_on_call(entity: Entity) -> bool | None:
        providers = [
            h.provider for h in portal.providers()
            if Capability.ON_CALL in h.provider.capabilities and h.provider.is_available(entity)
        ]
        if not providers:
            return False
        answers = await asyncio.gather(*(p.on_call(entity) for p in providers),
                                       return_exceptions=True)
        known = [a for a in answers if not isinstance(a, BaseException)]
        if not known:
            return None
        return any(_is_viewer(e.person, viewer) for entries in known for e in entries)

    return is_on_call


def _is_viewer(person: object, viewer: Identity) -> bool:
    email = (getattr(person, "email", None) or "").lower()
    username = (getattr(person, "username", None) or "").lower()
    return bool(
        (viewer.email and email == viewer.email.lower())
        or (username and username in {viewer.user_id.lower(), (viewer.email or "").lower()})
    )


async def entities_of_incident(
    request: Request, provider: str, incident_id: str, claimed: Sequence[Entity]
) -> list[Entity]:
    """The ``claimed`` entities whose open incidents at ``provider`` (its id or its plugin's)
    include ``incident_id``: a form names the entities, and only the vendor's answer makes
    them count for permissions."""
    handle = next((h for h in portal_of(request).providers()
                   if provider in (h.provider.id, h.plugin_id)), None)
    if handle is None:
        return []

    async def pages(entity: Entity) -> bool:
        try:
            found = await asyncio.wait_for(
                handle.provider.list_incidents(entity), _MEMBERSHIP_SECONDS
            )
        except Exception:  # noqa: BLE001 - not shown to belong: it does not count
            return False
        return any(i.id == incident_id for i in found)

    verdicts = await asyncio.gather(*(pages(e) for e in claimed))
    return [e for e, ok in zip(claimed, verdicts, strict=True) if ok]


async def deciding_entities(
    request: Request, action: str, provider: str, incident_id: str | None,
    claimed: Sequence[Entity],
) -> list[Entity] | None:
    """The entities a decision on an incident may rely on (``None``: all claimed), checked with
    the vendor only when a rule decides by owner or on-call."""
    if not incident_id or not entity_matters(request, action):
        return None
    return await entities_of_incident(request, provider, incident_id, claimed)


def entity_matters(request: Request, action: str) -> bool:
    """Whether a rule decides ``action`` by the entity (owner or on call)."""
    access = portal_of(request).access
    return access is not None and any(
        rule.names(action) and ({"owner", "oncall"} & set(rule.allow))
        for rule in access.permissions.rules
    )


async def guarded(
    request: Request,
    action: str,
    call: Callable[[], Awaitable[T]],
    *,
    entities: Sequence[Entity] = (),
    deciding: Sequence[Entity] | None = None,
    provider: str | None = None,
    provider_title: str | None = None,
    incident_id: str | None = None,
    summary: str = "",
    outcome_of: Callable[[T], tuple[bool, str]] | None = None,
    vendor_url: str | None = None,
) -> T:
    """Run ``call`` (the vendor call) if the viewer may do ``action``, recorded in the audit
    trail before and after. ``ActionRefused`` when it must not run; nothing was sent."""
    access = portal_of(request).access
    if access is None:
        return await call()
    try:
        return await access.perform(
            identity_of(request), action, call, entities=entities, deciding=deciding,
            oncall=oncall_lookup(request), provider=provider, incident_id=incident_id,
            summary=summary, request_id=request_id_of(request), outcome_of=outcome_of,
        )
    except PermissionDeniedError as exc:
        raise ActionRefused(exc.reason, 403) from exc
    except AuditUnavailableError as exc:
        where = provider_title or provider or "the vendor"
        if vendor_url is None and provider and incident_id and entities:
            vendor_url = await _incident_url(request, provider, incident_id, entities[0])
        link = f": {vendor_url}" if vendor_url else ""
        raise ActionRefused(
            "The portal cannot record actions right now (its database is unavailable), so "
            f"nothing was sent to {where}. Act in {where}'s own web app instead{link}",
            503,
        ) from exc


async def _incident_url(
    request: Request, provider: str, incident_id: str, entity: Entity
) -> str | None:
    """The incident's page at the vendor, from the (cached) read of the entity's incidents."""
    handle = next((h for h in portal_of(request).providers()
                   if provider in (h.provider.id, h.plugin_id)), None)
    if handle is None:
        return None
    try:
        found = await asyncio.wait_for(handle.provider.list_incidents(entity),
                                       _MEMBERSHIP_SECONDS)
    except Exception:  # noqa: BLE001 - no link then; the message still says where to act
        return None
    return next((i.url for i in found if i.id == incident_id and i.url), None)


def incident_guard(
    request: Request, action: str, incident_id: str, also: Sequence[str]
) -> Any:
    """The ``guard`` of ``act_on_incident`` for /incidents: permissions on the incident's
    entity and the other entities it pages (``also``), the audit trail naming them all."""
    from .._entity import parse_ref
    from .._incidents import IncidentActionRefused

    portal = portal_of(request)

    async def guard(entity: Entity, provider: Any, call: Callable[[], Awaitable[T]]) -> T:
        named = [entity]
        for ref in also:
            parts = parse_ref(ref)
            other = portal.catalog.find(parts[1], parts[0], parts[2]) if parts else None
            if other is not None and other.ref not in {e.ref for e in named}:
                named.append(other)
        permission = f"incident.{action}"
        try:
            return await guarded(
                request, permission, call, entities=named,
                deciding=await deciding_entities(
                    request, permission, provider.id, incident_id.strip() or None, named
                ),
                provider=provider.id, provider_title=provider.title,
                incident_id=incident_id.strip() or None,
            )
        except ActionRefused as exc:
            raise IncidentActionRefused(exc.status, exc.message) from exc

    return guard
