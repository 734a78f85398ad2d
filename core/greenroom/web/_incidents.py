"""Views across every enabled incident provider: open incidents (`/incidents`) and who is on
call (`/oncall`), as pages (and as typed JSON, ``web._incidents_api``), over
``greenroom._incidents`` and ``greenroom._oncall``. A provider that fails or does not answer in
time is named in a banner with its (scrubbed) message; the others' answers still show.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from .._gather import ProviderFailure
from .._incidents import Filters, IncidentActionRefused, act_on_incident, open_incidents
from .._oncall import OnCallGroup, on_call_groups
from .._provider import OPEN_STATUSES
from ._context import page_context, portal_of, render_partial
from ._forms import read_text_form
from ._guard import incident_guard, incident_row_permissions
from ._incidents_api import router as api_router
from ._paging import provider_blocks
from ._session import csrf_protected, flash
from ._shell import stream_shell
from ._sign_in import identity_of

router = APIRouter()


# --- incidents -----------------------------------------------------------------------------------


def incidents_url(request: Request, filters: Filters) -> str:
    """The ``/incidents`` view with these filters (shareable)."""
    query = urlencode(filters.as_dict())
    path = request.app.url_path_for("incidents_page")
    return f"{path}?{query}" if query else str(path)


def failure_banner(request: Request, failures: Sequence[ProviderFailure]) -> Markup:
    """Alerts naming each provider that failed (error) or does not know an entity (warning)."""
    return render_partial(request, "provider_failures.html", failures=failures)


async def _incidents_page(
    request: Request,
    filters: Filters,
    *,
    status_code: int = 200,
    alert: tuple[str, str] | None = None,
) -> Response:
    portal = portal_of(request)
    ctx = page_context(request, nav="incidents")
    if alert is not None:
        ctx["flash"] = alert

    async def fill() -> None:
        rows, failures = await open_incidents(portal)
        shown = [row for row in rows if row.matches(filters)]
        ctx.update(
            rows=shown,
            permissions=await incident_row_permissions(request, shown),
            blocks=provider_blocks(
                shown, request.query_params, path=request.app.url_path_for("incidents_page")
            ),
            total=len(rows),
            failures=[f for f in failures if not f.unknown],
            banner=failure_banner(request, failures),
            filters=filters,
            providers=sorted(
                {(h.provider.id, h.provider.title) for h in portal.providers()},
                key=lambda p: p[1],
            ),
            statuses=[str(s) for s in OPEN_STATUSES],
            owners=sorted({e.owner for r in rows for e in r.entities if e.owner}, key=str.lower),
            entities=sorted({(e.ref, e.display_name) for r in rows for e in r.entities}),
            now=datetime.now(UTC),
        )

    return stream_shell(
        request, "incidents.html", ctx, fill, title="Incidents",
        waiting="Asking every provider for open incidents…", status_code=status_code,
    )


@router.get("/incidents", response_class=HTMLResponse, include_in_schema=False)
async def incidents_page(request: Request) -> Response:
    return await _incidents_page(request, Filters.from_mapping(request.query_params))


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
    text = await read_text_form(request)
    form = text.fields
    filters = Filters.from_mapping(form, prefix="filter_")
    if text.files:
        return await _incidents_page(
            request, filters, status_code=400, alert=("error", text.refusal())
        )
    try:
        outcome = await act_on_incident(
            portal_of(request), provider_id, action, str(form.get("entity") or ""),
            str(form.get("incident") or ""), identity_of(request),
            guard=incident_guard(request, action, str(form.get("incident") or ""),
                                 str(form.get("also") or "").split()),
        )
    except IncidentActionRefused as refused:
        return await _incidents_page(
            request, filters, status_code=refused.status, alert=("error", refused.message)
        )
    flash(request, "success", outcome.message)
    return RedirectResponse(incidents_url(request, filters), status_code=303)


# --- on call -------------------------------------------------------------------------------------


@router.get("/oncall", response_class=HTMLResponse, include_in_schema=False)
async def on_call_page(request: Request) -> Response:
    portal = portal_of(request)
    ctx = page_context(request, nav="oncall")

    async def fill() -> None:
        groups, failures = await on_call_groups(portal)
        shown, pager = _on_call_page_of(
            groups, str(request.query_params.get("page") or "1"),
            request.app.url_path_for("on_call_page"),
        )
        ctx.update(
            groups=shown,
            pager=pager,
            failures=[f for f in failures if not f.unknown],
            banner=failure_banner(request, failures),
            titles={h.provider.id: h.provider.title for h in portal.providers()},
        )

    return stream_shell(
        request, "oncall.html", ctx, fill, title="On call",
        waiting="Asking every provider who is on call…",
    )


#: Services per page of /oncall: a catalog of 10,000 is not one 7 MB page.
ON_CALL_PAGE_SIZE = 50


def _on_call_page_of(
    groups: Sequence[OnCallGroup], page: str, path: str
) -> tuple[list[OnCallGroup], dict[str, Any]]:
    """The owners' groups cut to one page of services, in the same order, and the pager."""
    flat = [(g.owner, entity, entries) for g in groups for entity, entries in g.entities]
    pages = max(1, -(-len(flat) // ON_CALL_PAGE_SIZE))
    number = min(max(1, int(page) if page.isdigit() else 1), pages)
    start = (number - 1) * ON_CALL_PAGE_SIZE
    shown: list[OnCallGroup] = []
    for owner, entity, entries in flat[start : start + ON_CALL_PAGE_SIZE]:
        if not shown or shown[-1].owner != owner:
            shown.append(OnCallGroup(owner, []))
        shown[-1].entities.append((entity, entries))
    pager = {
        "page": number,
        "pages": pages,
        "total": len(flat),
        "first": start + 1,
        "last": min(start + ON_CALL_PAGE_SIZE, len(flat)),
        "previous": f"{path}?page={number - 1}" if number > 1 else None,
        "next": f"{path}?page={number + 1}" if number < pages else None,
    }
    return shown, pager


# The JSON views of both, paged: /api/incidents and /api/oncall.
router.include_router(api_router)
