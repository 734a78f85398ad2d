"""One incident's page (``/incidents/<provider>/<id>``): status, service, assignees, timeline and
notes, with a form to add a note; and the resolved incidents of the last 30 days
(``/incidents/resolved``).

Links carry ``?entity=<ref>``: a provider acts only on incidents of the entity's own service (its
token can reach every incident of the account). Without it, the entities the provider covers
are asked in turn.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .._availability import provider_is_available
from .._entity import Entity, parse_ref
from .._exceptions import GreenroomError, NotFoundError, ProviderError
from .._gather import gather_from_providers
from .._incident_detail import IncidentDetail, IncidentDetailProvider
from .._incidents import IncidentRow
from .._provider import Capability, IncidentProvider, IncidentStatus
from ._acting import ActionRefused, decision_for, perform
from ._context import page_context, portal_of, render_page
from ._incidents import failure_banner
from ._session import csrf_protected, flash
from ._sign_in import identity_of

log = logging.getLogger("greenroom.incidents")

router = APIRouter()

RESOLVED_DAYS = 30
#: Time budget of one vendor call from this page, in seconds.
BUDGET = 15.0
NOTE_ACTION = "incident.note"


def detail_url(
    app: Any, provider_id: str, incident_id: str, entity: Entity | None = None, *,
    route: str = "incident_page",
) -> str:
    """The incident page's URL (or that of another of its routes), from the named route; ids
    are percent-encoded whole, so one holding a slash stays one path segment."""
    path = str(app.url_path_for(
        route, provider_id=quote(provider_id, safe=""), incident_id=quote(incident_id, safe="")
    ))
    return f"{path}?{urlencode({'entity': entity.ref})}" if entity is not None else path


def has_detail(provider: Any) -> bool:
    return isinstance(provider, IncidentDetailProvider)


def setup(app: Any) -> None:
    """Let every portal template link an incident to its page."""
    env = app.state.templates.env
    env.globals["incident_detail_url"] = functools.partial(detail_url, app)
    env.globals["has_incident_detail"] = has_detail


# --- finding the provider, entity and incident --------------------------------------------------


def _provider(request: Request, provider_id: str) -> IncidentProvider | None:
    for handle in portal_of(request).providers():
        if handle.provider.id == provider_id:
            return handle.provider
    return None


def _entity_by_ref(request: Request, ref: str) -> Entity | None:
    parts = parse_ref(ref)
    return portal_of(request).catalog.find(parts[1], parts[0], parts[2]) if parts else None


async def _find(
    request: Request, provider: IncidentProvider, incident_id: str, entity_ref: str
) -> tuple[Entity, IncidentDetail]:
    """The incident and its entity; :class:`NotFoundError` when no entity owns it."""
    assert isinstance(provider, IncidentDetailProvider)
    if entity_ref:
        entity = _entity_by_ref(request, entity_ref)
        if entity is None:
            raise NotFoundError(f"The catalog has no entity {entity_ref!r}")
        detail = await asyncio.wait_for(provider.incident_detail(entity, incident_id), BUDGET)
        return entity, detail
    candidates = [
        e for e in portal_of(request).catalog.entities if await provider_is_available(provider, e)
    ]
    limit = asyncio.Semaphore(4)

    async def one(entity: Entity) -> tuple[Entity, IncidentDetail] | None:
        async with limit:
            try:
                return entity, await provider.incident_detail(entity, incident_id)
            except NotFoundError:
                return None

    for found in await asyncio.wait_for(
        asyncio.gather(*(one(e) for e in candidates)), BUDGET
    ):
        if found is not None:
            return found
    raise NotFoundError(f"No entity in the catalog owns {provider.title} incident {incident_id}")


def _scrub(request: Request, text: str) -> str:
    return portal_of(request).scrub(text)


# --- pages ---------------------------------------------------------------------------------------


@router.get("/incidents/resolved", response_class=HTMLResponse, include_in_schema=False)
async def resolved_page(request: Request) -> Response:
    """Incidents resolved in the last 30 days, from every provider that keeps history."""
    since = datetime.now(UTC) - timedelta(days=RESOLVED_DAYS)
    gathered = await gather_from_providers(
        portal_of(request),
        Capability.HISTORY,
        lambda p, e: p.list_incidents(e, statuses=(IncidentStatus.RESOLVED,), since=since),
    )
    rows: dict[tuple[str, str], IncidentRow] = {}
    for provider, entity, incidents in gathered.results:
        for incident in incidents:
            if incident.is_open or (provider.id, incident.id) in rows:
                continue
            rows[(provider.id, incident.id)] = IncidentRow(incident, entity, provider, ())
    ordered = sorted(
        rows.values(),
        key=lambda r: -(r.incident.resolved_at or r.incident.created_at).timestamp(),
    )
    ctx = page_context(request, nav="incidents")
    ctx.update(
        rows=ordered,
        days=RESOLVED_DAYS,
        banner=failure_banner(request, gathered.failures),
        detail_url=functools.partial(detail_url, request.app),
        has_detail=has_detail,
        now=datetime.now(UTC),
    )
    return render_page(request, "incidents_resolved.html", ctx)


async def _detail_page(
    request: Request,
    provider_id: str,
    incident_id: str,
    entity_ref: str,
    *,
    status_code: int = 200,
    alert: tuple[str, str] | None = None,
    draft: str = "",
) -> Response:
    provider = _provider(request, provider_id)
    ctx = page_context(request, nav="incidents")
    if alert is not None:
        ctx["flash"] = alert
    problem: str | None = None
    entity: Entity | None = None
    detail: IncidentDetail | None = None
    if provider is None:
        problem, status_code = f"No enabled incident provider {provider_id!r}.", 404
    elif not has_detail(provider):
        problem, status_code = f"{provider.title} cannot show one incident in the portal.", 404
    else:
        try:
            entity, detail = await _find(request, provider, incident_id, entity_ref)
        except NotFoundError as exc:
            problem, status_code = _scrub(request, str(exc)), 404
        except TimeoutError:
            problem, status_code = f"{provider.title} did not answer in time.", 504
        except ProviderError as exc:
            problem, status_code = _scrub(request, str(exc)), 502
        except Exception as exc:  # noqa: BLE001 - a plugin bug becomes a message, not a 500
            log.error("incident page of %s/%s raised %s", provider_id, incident_id,
                      _scrub(request, repr(exc)))
            problem, status_code = _scrub(request, f"{type(exc).__name__}: {exc}"), 500
    ctx.update(
        provider=provider,
        incident_id=incident_id,
        entity=entity,
        detail=detail,
        may_note=await decision_for(request, NOTE_ACTION, entity) if entity else None,
        problem=problem,
        draft=draft,
        post_url=(
            detail_url(request.app, provider_id, incident_id, route="add_note") if provider else ""
        ),
        now=datetime.now(UTC),
    )
    return render_page(request, "incident_detail.html", ctx, status_code=status_code)


@router.get(
    "/incidents/{provider_id}/{incident_id}", response_class=HTMLResponse, include_in_schema=False
)
async def incident_page(request: Request, provider_id: str, incident_id: str) -> Response:
    entity_ref = str(request.query_params.get("entity") or "")
    return await _detail_page(request, provider_id, incident_id, entity_ref)


async def _refuse_note(request: Request, message: str) -> Response:
    """The incident page again, with the refused note kept in the form."""
    form = await request.form()
    params = request.path_params
    return await _detail_page(
        request, str(params["provider_id"]), str(params["incident_id"]),
        str(form.get("entity") or ""), status_code=403, alert=("error", message),
        draft=str(form.get("note") or ""),
    )


@router.post(
    "/incidents/{provider_id}/{incident_id}/notes",
    include_in_schema=False,
    dependencies=[csrf_protected(_refuse_note)],
)
async def add_note(request: Request, provider_id: str, incident_id: str) -> Response:
    form = await request.form()
    entity_ref = str(form.get("entity") or "")
    content = str(form.get("note") or "")

    async def refuse(status_code: int, message: str) -> Response:
        return await _detail_page(
            request, provider_id, incident_id, entity_ref,
            status_code=status_code, alert=("error", message), draft=content,
        )

    provider = _provider(request, provider_id)
    if provider is None or not isinstance(provider, IncidentDetailProvider):
        return await refuse(404, f"No incident provider {provider_id!r} that takes notes.")
    entity = _entity_by_ref(request, entity_ref)
    if entity is None:
        return await refuse(400, f"The form did not name a known entity ({entity_ref!r}).")
    viewer = identity_of(request)
    if not content.strip():
        return await refuse(400, "Write a note before adding it.")
    try:
        await perform(
            request,
            NOTE_ACTION,
            lambda: asyncio.wait_for(provider.add_note(entity, incident_id, content, viewer),
                                     BUDGET),
            entity=entity,
            provider_id=provider_id,
            provider_title=provider.title,
            incident_id=incident_id,
            summary=f"note: {content.strip()[:200]}",
        )
    except ActionRefused as exc:  # a permission rule, or the audit trail is down: nothing sent
        return await refuse(exc.status, _scrub(request, exc.message))
    except TimeoutError:
        return await refuse(
            504, f"{provider.title} did not answer in time; check the notes before retrying."
        )
    except NotFoundError as exc:
        return await refuse(404, _scrub(request, str(exc)))
    except ProviderError as exc:
        return await refuse(400, f"Could not add the note. {_scrub(request, str(exc))}")
    except GreenroomError as exc:
        return await refuse(400, _scrub(request, str(exc)))
    except Exception as exc:  # noqa: BLE001 - a plugin bug becomes an alert, the text kept
        log.error("adding a note to %s/%s raised %s", provider_id, incident_id,
                  _scrub(request, repr(exc)))
        return await refuse(500, f"Error in {provider_id}: {_scrub(request, type(exc).__name__)}")
    flash(request, "success", "Note added.")
    return RedirectResponse(
        detail_url(request.app, provider_id, incident_id, entity), status_code=303
    )
