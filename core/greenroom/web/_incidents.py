"""Views across every enabled incident provider: open incidents (`/incidents`) and who is on
call (`/oncall`), as pages and typed JSON.

Each provider is asked once per entity it is available for, all concurrently within one time
budget (``incidents.timeoutSeconds``, 10 s). A provider that fails or does not answer in time is
named in a banner with its (scrubbed) message; the others' answers still show.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel

from .._entity import Entity
from .._exceptions import NotFoundError, ProviderError
from .._provider import (
    OPEN_STATUSES,
    Capability,
    Incident,
    IncidentProvider,
    IncidentStatus,
    OnCallEntry,
)
from ._context import page_context, portal_of, render_page
from ._paging import provider_blocks
from ._session import csrf_protected, flash
from ._sign_in import identity_of

log = logging.getLogger("greenroom.incidents")

router = APIRouter()

T = TypeVar("T")

DEFAULT_BUDGET = 10.0
#: At most this many vendor calls in flight at once, so one page view does not trip a
#: vendor's rate limit (Splunk On-Call allows about 60 calls a minute per endpoint).
MAX_CONCURRENT_CALLS = 8
ACTIONS = {"acknowledge": Capability.ACKNOWLEDGE, "resolve": Capability.RESOLVE}
FILTER_FIELDS = ("provider", "status", "owner", "entity")


# --- asking every provider -----------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderFailure:
    """A provider that could not answer for some entities. ``unknown`` means the vendor does
    not know the entities' annotations (a catalog problem, not an outage)."""

    provider: str
    title: str
    message: str
    entities: tuple[str, ...] = ()
    unknown: bool = False


@dataclass
class Gathered:
    results: list[tuple[IncidentProvider, Entity, Any]] = field(default_factory=list)
    failures: list[ProviderFailure] = field(default_factory=list)


def _available(provider: IncidentProvider, entity: Entity) -> bool:
    try:
        return bool(provider.is_available(entity))
    except Exception:  # noqa: BLE001 - a predicate that raises counts as false
        return False


async def gather_from_providers(
    request: Request,
    capability: Capability,
    call: Callable[[IncidentProvider, Entity], Awaitable[Any]],
) -> Gathered:
    """``call(provider, entity)`` for every enabled provider with ``capability`` and every
    entity it is available for, concurrently, within the portal's time budget."""
    portal = portal_of(request)
    budget = float(portal.config.get("incidents.timeoutSeconds", DEFAULT_BUDGET))
    scrub = getattr(portal.config, "scrub", str)
    limit = asyncio.Semaphore(MAX_CONCURRENT_CALLS)

    async def one(provider: IncidentProvider, entity: Entity) -> Any:
        async with limit:
            return await call(provider, entity)

    jobs: dict[asyncio.Task[Any], tuple[IncidentProvider, Entity]] = {}
    for handle in portal.providers():
        provider = handle.provider
        if capability not in provider.capabilities:
            continue
        for entity in portal.catalog.entities:
            if _available(provider, entity):
                jobs[asyncio.ensure_future(one(provider, entity))] = (provider, entity)
    gathered = Gathered()
    if not jobs:
        return gathered
    done, pending = await asyncio.wait(jobs, timeout=budget)
    for task in pending:
        task.cancel()
    errors: dict[tuple[str, str, bool], list[str]] = {}
    titles: dict[str, str] = {}
    for task, (provider, entity) in jobs.items():
        titles[provider.id] = provider.title
        if task in pending:
            key = (provider.id, f"No answer within {budget:g} seconds.", False)
        elif (exc := task.exception()) is not None:
            if not isinstance(exc, ProviderError):
                log.error("provider %s raised %s", provider.id, scrub(repr(exc)))
            text = scrub(str(exc)) or type(exc).__name__
            key = (provider.id, text, isinstance(exc, NotFoundError))
        else:
            gathered.results.append((provider, entity, task.result()))
            continue
        errors.setdefault(key, []).append(entity.ref)
    gathered.failures = [
        ProviderFailure(pid, titles[pid], message, tuple(sorted(refs)), unknown)
        for (pid, message, unknown), refs in errors.items()
    ]
    return gathered


def failure_banner(failures: Sequence[ProviderFailure]) -> Markup:
    """Alerts naming each provider that failed (error) or does not know an entity (warning)."""
    parts = []
    for f in failures:
        count = len(f.entities)
        entities = f"{count} entit{'y' if count == 1 else 'ies'}: {', '.join(f.entities)}"
        if f.unknown:
            parts.append(Markup(
                '<div class="alert alert-warning" role="status" data-provider="{p}">'
                "<strong>{title} does not know {entities}</strong><p>{message} "
                '<a href="/coverage?state=broken">See coverage</a></p></div>'
            ).format(p=f.provider, title=f.title, entities=entities, message=f.message))
        else:
            parts.append(Markup(
                '<div class="alert alert-error provider-failed" role="alert" data-provider="{p}">'
                '<strong>{title} failed</strong><p>{message} <span class="muted small">'
                "({entities})</span></p></div>"
            ).format(p=f.provider, title=f.title, entities=entities, message=f.message))
    return Markup("\n").join(parts)


# --- incidents -----------------------------------------------------------------------------------


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

    def url(self, path: str = "/incidents") -> str:
        query = urlencode(self.as_dict())
        return f"{path}?{query}" if query else path

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
        if filters.owner and _owner_key(filters.owner) not in {
            _owner_key(e.owner or "") for e in self.entities
        }:
            return False
        return not filters.entity or filters.entity.lower().strip() in {
            e.ref for e in self.entities
        }


def _owner_key(owner: str) -> str:
    ref = owner.strip().lower()
    ref = ref.split(":", 1)[1] if ":" in ref else ref
    return ref.removeprefix("default/")


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


async def open_incidents(request: Request) -> tuple[list[IncidentRow], list[ProviderFailure]]:
    gathered = await gather_from_providers(
        request, Capability.INCIDENTS, lambda p, e: p.list_incidents(e, statuses=OPEN_STATUSES)
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


async def _incidents_page(
    request: Request,
    filters: Filters,
    *,
    status_code: int = 200,
    alert: tuple[str, str] | None = None,
) -> Response:
    portal = portal_of(request)
    rows, failures = await open_incidents(request)
    shown = [row for row in rows if row.matches(filters)]
    ctx = page_context(request, nav="incidents")
    if alert is not None:
        ctx["flash"] = alert
    ctx.update(
        rows=shown,
        blocks=provider_blocks(shown, request.query_params),
        total=len(rows),
        failures=[f for f in failures if not f.unknown],
        banner=failure_banner(failures),
        filters=filters,
        providers=sorted(
            {(h.provider.id, h.provider.title) for h in portal.providers()}, key=lambda p: p[1]
        ),
        statuses=[str(s) for s in OPEN_STATUSES],
        owners=sorted({e.owner for r in rows for e in r.entities if e.owner}, key=str.lower),
        entities=sorted({(e.ref, e.display_name) for r in rows for e in r.entities}),
        now=datetime.now(UTC),
    )
    return render_page(request, "incidents.html", ctx, status_code=status_code)


@router.get("/incidents", response_class=HTMLResponse, include_in_schema=False)
async def incidents_page(request: Request) -> Response:
    return await _incidents_page(request, Filters.from_mapping(request.query_params))


class PersonOut(BaseModel):
    name: str
    email: str | None


class ProviderFailureOut(BaseModel):
    provider: str
    title: str
    message: str
    entities: list[str]
    unknown: bool


class IncidentOut(BaseModel):
    provider: str
    providerTitle: str
    id: str
    number: str | None
    title: str
    status: IncidentStatus
    urgency: str | None
    createdAt: datetime
    acknowledgedAt: datetime | None
    resolvedAt: datetime | None
    assignees: list[PersonOut]
    entityRef: str
    entityUrl: str
    owner: str | None
    alsoEntities: list[str]
    url: str | None
    actions: list[str]


class IncidentsOut(BaseModel):
    incidents: list[IncidentOut]
    failures: list[ProviderFailureOut]
    filters: dict[str, str]


def _failure_json(failure: ProviderFailure) -> dict[str, Any]:
    return {
        "provider": failure.provider,
        "title": failure.title,
        "message": failure.message,
        "entities": list(failure.entities),
        "unknown": failure.unknown,
    }


@router.get("/api/incidents", response_model=IncidentsOut, tags=["incidents"])
async def incidents_json(
    request: Request, provider: str = "", status: str = "", owner: str = "", entity: str = ""
) -> dict[str, Any]:
    """Open incidents from every enabled provider, newest first, filtered like `/incidents`."""
    filters = Filters(provider, status, owner, entity)
    rows, failures = await open_incidents(request)
    return {
        "incidents": [
            {
                "provider": row.provider.id,
                "providerTitle": row.provider.title,
                "id": row.incident.id,
                "number": row.incident.number,
                "title": row.incident.title,
                "status": row.incident.status,
                "urgency": row.incident.urgency,
                "createdAt": row.incident.created_at,
                "acknowledgedAt": row.incident.acknowledged_at,
                "resolvedAt": row.incident.resolved_at,
                "assignees": [{"name": p.name, "email": p.email} for p in row.incident.assignees],
                "entityRef": row.entity.ref,
                "entityUrl": row.entity.path,
                "owner": row.entity.owner,
                "alsoEntities": [e.ref for e in row.also],
                "url": row.incident.url,
                "actions": list(row.actions),
            }
            for row in rows
            if row.matches(filters)
        ],
        "failures": [_failure_json(f) for f in failures],
        "filters": filters.as_dict(),
    }


def _entity_by_ref(request: Request, ref: str) -> Entity | None:
    kind, _, rest = ref.strip().partition(":")
    namespace, _, name = rest.partition("/")
    if not (kind and namespace and name):
        return None
    return portal_of(request).catalog.find(namespace, kind, name)


async def _refuse_incident_action(request: Request, message: str) -> Response:
    """The incidents page again, with the refused form's filters kept."""
    filters = Filters.from_mapping(await request.form(), prefix="filter_")
    return await _incidents_page(request, filters, status_code=403, alert=("error", message))


@router.post(
    "/incidents/actions/{provider_id}/{action}",
    include_in_schema=False,
    dependencies=[csrf_protected(_refuse_incident_action)],
)
async def incident_action(request: Request, provider_id: str, action: str) -> Response:
    """Acknowledge or resolve one incident, then back to the same filtered view."""
    raw = await request.form()
    filters = Filters.from_mapping(raw, prefix="filter_")

    async def refuse(status_code: int, message: str) -> Response:
        return await _incidents_page(
            request, filters, status_code=status_code, alert=("error", message)
        )

    if action not in ACTIONS:
        return await refuse(404, f"No incident action {action!r}; use acknowledge or resolve.")
    handle = next((h for h in portal_of(request).providers() if h.provider.id == provider_id), None)
    if handle is None:
        return await refuse(404, f"No enabled incident provider {provider_id!r}.")
    provider = handle.provider
    if ACTIONS[action] not in provider.capabilities:
        return await refuse(400, f"{provider.title} cannot {action} incidents from the portal.")
    entity_ref = str(raw.get("entity") or "")
    incident_id = str(raw.get("incident") or "").strip()
    entity = _entity_by_ref(request, entity_ref)
    if entity is None or not incident_id:
        return await refuse(
            400, f"The form did not name a known entity and incident (entity {entity_ref!r})."
        )
    method = provider.acknowledge if action == "acknowledge" else provider.resolve
    scrub = getattr(portal_of(request).config, "scrub", str)
    try:
        outcome = await asyncio.wait_for(
            method(entity, incident_id, identity_of(request)), timeout=15.0
        )
    except TimeoutError:
        return await refuse(
            504, f"{provider.title} did not answer in time; check the incident before retrying."
        )
    except ProviderError as exc:
        return await refuse(400, f"Could not {action} the incident. {scrub(str(exc))}")
    except Exception as exc:  # noqa: BLE001 - a plugin bug becomes an alert, filters kept
        log.exception("%s of %s by %s raised", action, incident_id, provider_id)
        return await refuse(
            500, f"Error in {handle.plugin_id}: {scrub(f'{type(exc).__name__}: {exc}')}"
        )
    flash(request, "success", outcome.message)
    return RedirectResponse(filters.url(), status_code=303)


# --- on call -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnCallGroup:
    owner: str
    entities: list[tuple[Entity, list[OnCallEntry]]]


def _by_level(entry: OnCallEntry) -> tuple[int, str]:
    return (entry.level if entry.level is not None else 1_000_000, entry.person.name.lower())


async def on_call_groups(request: Request) -> tuple[list[OnCallGroup], list[ProviderFailure]]:
    gathered = await gather_from_providers(
        request, Capability.ON_CALL, lambda p, e: p.on_call(e)
    )
    per_entity: dict[str, tuple[Entity, list[OnCallEntry]]] = {}
    for _provider, entity, entries in gathered.results:
        per_entity.setdefault(entity.ref, (entity, []))[1].extend(entries)
    owners: dict[str, list[tuple[Entity, list[OnCallEntry]]]] = {}
    for entity, entries in sorted(per_entity.values(), key=lambda p: p[0].display_name.lower()):
        entries.sort(key=_by_level)
        owners.setdefault(entity.owner or "unowned", []).append((entity, entries))
    groups = [OnCallGroup(o, owners[o]) for o in sorted(owners, key=str.lower)]
    return groups, gathered.failures


@router.get("/oncall", response_class=HTMLResponse, include_in_schema=False)
async def on_call_page(request: Request) -> Response:
    groups, failures = await on_call_groups(request)
    titles = {h.provider.id: h.provider.title for h in portal_of(request).providers()}
    ctx = page_context(request, nav="oncall")
    ctx.update(
        groups=groups,
        failures=[f for f in failures if not f.unknown],
        banner=failure_banner(failures),
        titles=titles,
    )
    return render_page(request, "oncall.html", ctx)


class OnCallOut(BaseModel):
    provider: str
    name: str
    email: str | None
    level: int | None
    policy: str | None
    schedule: str | None
    team: str | None
    until: datetime | None


class OnCallEntityOut(BaseModel):
    ref: str
    name: str
    url: str
    onCall: list[OnCallOut]


class OnCallOwnerOut(BaseModel):
    owner: str
    entities: list[OnCallEntityOut]


class OnCallResponseOut(BaseModel):
    owners: list[OnCallOwnerOut]
    failures: list[ProviderFailureOut]


def _on_call_json(entries: Sequence[OnCallEntry]) -> list[dict[str, Any]]:
    return [
        {
            "provider": e.provider,
            "name": e.person.name,
            "email": e.person.email,
            "level": e.level,
            "policy": e.policy,
            "schedule": e.schedule,
            "team": e.team,
            "until": e.until,
        }
        for e in entries
    ]


@router.get("/api/oncall", response_model=OnCallResponseOut, tags=["incidents"])
async def on_call_json(request: Request) -> dict[str, Any]:
    """Who is on call now, per owner and entity, across every enabled provider."""
    groups, failures = await on_call_groups(request)
    return {
        "owners": [
            {
                "owner": group.owner,
                "entities": [
                    {
                        "ref": entity.ref,
                        "name": entity.display_name,
                        "url": entity.path,
                        "onCall": _on_call_json(entries),
                    }
                    for entity, entries in group.entities
                ],
            }
            for group in groups
        ],
        "failures": [_failure_json(f) for f in failures],
    }
