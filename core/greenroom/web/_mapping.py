"""The service mapping page, ``/mapping/<provider-id>``: the provider's services (or teams)
beside the catalog's entities, with suggested matches, saving a mapping (permission
``mapping.edit``), and ``/mapping/<provider-id>/export``, the ``catalog-info.yaml`` annotation
snippets for teams that want their mappings in git.

A saved mapping is applied to the in-memory catalog as the annotation it stands for (see
``greenroom._mapping``); the catalog files are never written.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from .._api import Scope, create_api_factory, create_api_ref
from .._entity import Entity
from .._mapping import (
    MappableService,
    MappingStore,
    MemoryMappingStore,
    ServiceDirectoryProvider,
    ServiceMapping,
    annotation_wins,
    mapped_entity,
    snippet,
    suggest,
)
from .._permissions import Decision
from .._provider import IncidentProvider
from ._acting import ActionRefused, decision_for, perform
from ._context import page_context, portal_of, render_page
from ._session import csrf_protected, flash
from ._sign_in import identity_of

log = logging.getLogger("greenroom.mapping")

router = APIRouter()

EDIT_ACTION = "mapping.edit"
#: Kinds a provider's service can stand for.
MAPPABLE_KINDS = ("component", "api", "resource", "system")
BUDGET = 15.0


# --- the store and the catalog overlay ------------------------------------------------------------


#: The portal's mapping store, an API of the portal's registry so that the portal closes it
#: (its database engine) when it shuts down.
mapping_store_api_ref = create_api_ref("core.mapping-store", description="Saved service mappings")


def _open_store(portal: Any) -> MappingStore:
    if portal.demo and not portal.config.get("database.url"):
        return MemoryMappingStore()
    # Imported here: a portal without a database (the demo) never loads SQLAlchemy.
    from .._db import Database, database_url
    from .._mapping_sql import SqlMappingStore

    return SqlMappingStore(Database(database_url(portal.config.get("database.url"))))


def setup(app: Any) -> None:
    """Open the mapping store and apply the saved mappings to the catalog at start."""
    portal = app.state.portal
    portal.registry.register(
        Scope.APP,
        create_api_factory(
            api=mapping_store_api_ref, factory=lambda: _open_store(portal),
            close=lambda store: store.close(),
        ),
        owner="app",
    )
    store = portal.registry.get(mapping_store_api_ref)
    app.state.mapping_store = store
    # The catalog as loaded from its files: mappings are applied over these, never saved.
    app.state.catalog_as_loaded = {e.ref: e for e in portal.catalog.entities}
    try:
        apply_mappings(app)
    except Exception as exc:  # noqa: BLE001 - the portal runs without mappings; the page says why
        log.error("service mappings could not be read: %s", type(exc).__name__)


def apply_mappings(app: Any) -> None:
    portal = app.state.portal
    mappings = app.state.mapping_store.all()
    for loaded in app.state.catalog_as_loaded.values():
        wanted = mapped_entity(loaded, mappings)
        current = portal.catalog.find(wanted.namespace, wanted.kind, wanted.name)
        if current is not None and current != wanted:
            portal.catalog.replace(wanted)


# --- the page -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MappingRow:
    entity: Entity
    #: The catalog's own annotation (it wins over any mapping), as ``key: value``.
    annotated: str | None
    mapping: ServiceMapping | None
    service: MappableService | None
    suggestion: tuple[MappableService, str] | None
    #: Whether the viewer may change it (``mapping.edit``); None without an access layer.
    may: Decision | None = None


def _key(annotations: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(annotations.items()))


def _mappers(request: Request) -> list[IncidentProvider]:
    return [
        h.provider for h in portal_of(request).providers()
        if isinstance(h.provider, ServiceDirectoryProvider)
    ]


def _provider(request: Request, provider_id: str) -> IncidentProvider | None:
    for handle in portal_of(request).providers():
        if handle.provider.id == provider_id:
            return handle.provider
    return None


async def _mapping_page(
    request: Request,
    provider_id: str,
    *,
    status_code: int = 200,
    alert: tuple[str, str] | None = None,
) -> Response:
    provider = _provider(request, provider_id)
    ctx = page_context(request, nav="mapping")
    if alert is not None:
        ctx["flash"] = alert
    problem: str | None = None
    services: list[MappableService] = []
    rows: list[MappingRow] = []
    if provider is None or not isinstance(provider, ServiceDirectoryProvider):
        problem = f"No enabled provider {provider_id!r} lists services for mapping."
        status_code = 404
    else:
        scrub = portal_of(request).scrub
        try:
            services = list(await asyncio.wait_for(provider.mappable_services(), BUDGET))
        except TimeoutError:
            problem, status_code = f"{provider.title} did not answer in time.", 504
        except Exception as exc:  # noqa: BLE001 - a vendor or plugin failure is shown, scrubbed
            problem, status_code = f"{provider.title}: {scrub(str(exc)) or type(exc).__name__}", 502
        try:
            mappings = {
                m.entity_ref: m
                for m in request.app.state.mapping_store.all()
                if m.provider == provider.id
            }
        except Exception as exc:  # noqa: BLE001
            mappings = {}
            problem = f"The saved mappings could not be read ({type(exc).__name__})."
            status_code = 503
        by_annotations = {_key(s.annotations): s for s in services}
        for entity in request.app.state.catalog_as_loaded.values():
            if entity.kind.lower() not in MAPPABLE_KINDS:
                continue
            key = annotation_wins(entity, provider.annotations)
            mapping = mappings.get(entity.ref)
            rows.append(
                MappingRow(
                    entity,
                    f"{key}: {entity.annotations[key]}" if key else None,
                    mapping,
                    by_annotations.get(_key(mapping.annotations)) if mapping else None,
                    None if key or mapping else suggest(entity, services),
                    None if key else await decision_for(request, EDIT_ACTION, entity),
                )
            )
        rows.sort(key=lambda r: (r.annotated is not None, r.entity.display_name.lower()))
    groups: dict[str, list[MappableService]] = {}
    for service in services:
        groups.setdefault(service.group, []).append(service)
    ctx.update(provider=provider, provider_id=provider_id, services=services, rows=rows,
               problem=problem, service_groups=list(groups.items()))
    return render_page(request, "mapping.html", ctx, status_code=status_code)


@router.get("/mapping", response_class=HTMLResponse, include_in_schema=False,
            name="mapping_index")
async def mapping_index(request: Request) -> Response:
    """Which providers' services can be mapped here, and how many entities each has mapped."""
    try:
        saved = request.app.state.mapping_store.all()
        problem = None
    except Exception as exc:  # noqa: BLE001 - the list still shows; the count is unknown
        saved, problem = [], f"The saved mappings could not be read ({type(exc).__name__})."
    providers = [(p, sum(1 for m in saved if m.provider == p.id)) for p in _mappers(request)]
    ctx = page_context(request, nav="mapping")
    ctx.update(providers=providers, problem=problem)
    return render_page(request, "mapping_index.html", ctx)


@router.get("/mapping/{provider_id}", response_class=HTMLResponse, include_in_schema=False)
async def mapping_page(request: Request, provider_id: str) -> Response:
    return await _mapping_page(request, provider_id)


async def _refuse_mapping(request: Request, message: str) -> Response:
    provider_id = str(request.path_params["provider_id"])
    return await _mapping_page(request, provider_id, status_code=403, alert=("error", message))


@router.post(
    "/mapping/{provider_id}",
    include_in_schema=False,
    dependencies=[csrf_protected(_refuse_mapping)],
)
async def save_mapping(request: Request, provider_id: str) -> Response:
    """Map one entity to one service (an empty choice removes the mapping)."""
    form = await request.form()

    async def refuse(status_code: int, message: str) -> Response:
        return await _mapping_page(request, provider_id, status_code=status_code,
                                   alert=("error", message))

    provider = _provider(request, provider_id)
    if provider is None or not isinstance(provider, ServiceDirectoryProvider):
        return await refuse(404, f"No enabled provider {provider_id!r} lists services for mapping.")
    entity = request.app.state.catalog_as_loaded.get(str(form.get("entity") or ""))
    if entity is None:
        return await refuse(400, "The form did not name an entity of the catalog.")
    chosen = str(form.get("service") or "").strip()
    service: MappableService | None = None
    if chosen:
        try:
            services = await asyncio.wait_for(provider.mappable_services(), BUDGET)
        except Exception as exc:  # noqa: BLE001
            return await refuse(502, f"{provider.title} could not list its services "
                                f"({type(exc).__name__}); nothing was saved.")
        service = next((s for s in services if s.id == chosen), None)
        if service is None:
            return await refuse(400, f"{provider.title} has no service {chosen!r}.")
    viewer = identity_of(request)
    store: MappingStore = request.app.state.mapping_store

    async def save() -> None:
        if service is None:
            await asyncio.to_thread(store.delete, provider.id, entity.ref)
        else:
            await asyncio.to_thread(store.save, ServiceMapping(
                provider.id, entity.ref, service.annotation, service.value, viewer.user_id,
                datetime.now(UTC), service.extra,
            ))

    if service is not None:
        shown = ", ".join(f"{k}: {v}" for k, v in service.annotations.items())
        summary = f"map {entity.ref} to {service.name} ({shown})"
    else:
        summary = f"remove the mapping of {entity.ref}"
    try:
        await perform(request, EDIT_ACTION, save, entity=entity, provider_id=provider.id,
                      provider_title=provider.title, summary=summary)
    except ActionRefused as exc:  # a permission rule, or the audit trail is down
        return await refuse(exc.status, portal_of(request).scrub(exc.message))
    except Exception as exc:  # noqa: BLE001 - a database failure: nothing changed, say so
        log.error("saving a mapping failed: %s", type(exc).__name__)
        return await refuse(503, f"The mapping could not be saved ({type(exc).__name__}).")
    apply_mappings(request.app)
    if service is None:
        message = f"{entity.display_name} is no longer mapped in {provider.title}."
    elif annotation_wins(entity, provider.annotations):
        message = (f"Saved, but {entity.display_name}'s own catalog annotation wins over the "
                   "mapping.")
    else:
        message = f"{entity.display_name} is mapped to {service.name}."
    flash(request, "success", message)
    return RedirectResponse(
        request.app.url_path_for("mapping_page", provider_id=provider.id), status_code=303
    )


@router.get("/mapping/{provider_id}/export", include_in_schema=False)
async def export_mappings(request: Request, provider_id: str) -> Response:
    """The annotations saved mappings stand for, as ``catalog-info.yaml`` snippets."""
    provider = _provider(request, provider_id)
    if provider is None:
        return PlainTextResponse(f"No enabled provider {provider_id!r}.\n", status_code=404)
    loaded = request.app.state.catalog_as_loaded
    parts = [
        f"# Service mappings of {provider.title}, as catalog-info.yaml annotations.",
        "# Add each to the entity's file; an annotation in the file wins over the mapping.",
    ]
    for mapping in request.app.state.mapping_store.all():
        entity = loaded.get(mapping.entity_ref)
        if mapping.provider != provider.id or entity is None:
            continue
        parts.append("")
        parts.append(snippet(entity, mapping.annotations))
    return PlainTextResponse("\n".join(parts) + "\n", media_type="text/plain; charset=utf-8")
