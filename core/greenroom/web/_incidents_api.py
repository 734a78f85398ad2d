"""The incidents and on-call views as typed JSON (``/api/incidents``, ``/api/oncall``), paged
like the portal's other lists: ``limit`` items, then the ``next`` link's page (also a ``Link``
header), with the cursor naming an item rather than a position. A caller that asks for no page
gets the first one and its ``next`` link.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from .._incidents import Filters, IncidentRow, open_incidents
from .._oncall import on_call_groups
from .._provider import IncidentStatus, OnCallEntry
from ._context import portal_of
from ._paging import API_MAX_PAGE_SIZE, API_PAGE_SIZE, BadCursor, ListPage, Position, page_after

router = APIRouter()


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


# The paging of the JSON lists, as their OpenAPI schema describes it.
Limit = Annotated[int, Query(
    ge=1, le=API_MAX_PAGE_SIZE,
    description=f"Items per page: {API_PAGE_SIZE} when not given, at most {API_MAX_PAGE_SIZE}.",
)]
After = Annotated[str, Query(
    description="Where the page starts: the cursor in the previous page's `next` link (follow "
    "that link rather than building one). Empty for the first page.",
)]
TOTAL = "How many items the whole list has, on every page."
NEXT = ("The next page's URL (the same filters and limit), or null on the last page; also sent "
        "as a `Link: <...>; rel=\"next\"` header.")
BAD_CURSOR: dict[int | str, dict[str, Any]] = {
    400: {"description": "`after` is not a cursor of this list."}
}


def _paged(
    request: Request, response: Response, page: ListPage[Any], route: str
) -> str | None:
    """The next page's URL, also set as the response's ``Link`` header (RFC 8288)."""
    url = page.next_url(str(request.app.url_path_for(route)), request.query_params)
    if url is not None:
        response.headers["Link"] = f'<{url}>; rel="next"'
    return url


def _incident_position(row: IncidentRow) -> Position:
    created = row.incident.created_at
    return (-(created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp(),)


class IncidentsOut(BaseModel):
    incidents: list[IncidentOut]
    failures: list[ProviderFailureOut]
    filters: dict[str, str]
    total: int = Field(description=TOTAL)
    next: str | None = Field(description=NEXT)


@router.get(
    "/api/incidents", response_model=IncidentsOut, tags=["incidents"], responses=BAD_CURSOR
)
async def incidents_json(
    request: Request, response: Response, provider: str = "", status: str = "",
    owner: str = "", entity: str = "", limit: Limit = API_PAGE_SIZE, after: After = "",
) -> Any:
    """Open incidents from every enabled provider, newest first, filtered like `/incidents`,
    one page at a time: `limit` of them, then the `next` link's page."""
    filters = Filters(provider, status, owner, entity)
    rows, failures = await open_incidents(portal_of(request))
    try:
        page = page_after(
            [row for row in rows if row.matches(filters)], limit=limit, after=after or None,
            identity=lambda row: f"{row.provider.id}/{row.incident.id}",
            position=_incident_position,
        )
    except BadCursor as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
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
            for row in page.items
        ],
        "failures": [f.as_json() for f in failures],
        "filters": filters.as_dict(),
        "total": page.total,
        "next": _paged(request, response, page, "incidents_json"),
    }


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
    total: int = Field(description=TOTAL.replace("items", "entities"))
    next: str | None = Field(description=NEXT)


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


@router.get(
    "/api/oncall", response_model=OnCallResponseOut, tags=["incidents"], responses=BAD_CURSOR
)
async def on_call_json(
    request: Request, response: Response, limit: Limit = API_PAGE_SIZE, after: After = ""
) -> Any:
    """Who is on call now, per owner and entity, across every enabled provider, one page of
    `limit` entities at a time (an owner's entities may continue on the next page)."""
    groups, failures = await on_call_groups(portal_of(request))
    flat = [(group.owner, entity, entries)
            for group in groups for entity, entries in group.entities]
    try:
        page = page_after(
            flat, limit=limit, after=after or None, identity=lambda item: item[1].ref,
            position=lambda item: (item[0].lower(), item[1].display_name.lower()),
        )
    except BadCursor as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    owners: list[dict[str, Any]] = []
    for owner, entity, entries in page.items:
        if not owners or owners[-1]["owner"] != owner:
            owners.append({"owner": owner, "entities": []})
        owners[-1]["entities"].append({
            "ref": entity.ref,
            "name": entity.display_name,
            "url": entity.path,
            "onCall": _on_call_json(entries),
        })
    return {
        "owners": owners,
        "failures": [f.as_json() for f in failures],
        "total": page.total,
        "next": _paged(request, response, page, "on_call_json"),
    }
