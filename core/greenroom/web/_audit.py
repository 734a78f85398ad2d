"""The audit trail, read: ``/audit`` (filters, paged) and ``GET /api/audit`` (the same filters as
query parameters; ``{"entries": [...], "next": cursor}``). Both need ``audit.read``."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .._audit import OUTCOMES, AuditQuery, parse_time
from .._exceptions import DatabaseError
from ._context import page_context, portal_of, render_page
from ._sign_in import identity_of

router = APIRouter()
MAX_LIMIT = 200
FILTERS = ("actor", "action", "entity", "provider", "outcome", "since", "until")


class BadFilter(ValueError):
    pass


def _query(params: Any, default_limit: int = 50) -> AuditQuery:
    values = {k: (params.get(k) or "").strip() or None for k in FILTERS}
    if values["outcome"] and values["outcome"] not in OUTCOMES:
        raise BadFilter(f"outcome must be one of {', '.join(OUTCOMES)}")
    try:
        since = parse_time(values["since"]) if values["since"] else None
        until = parse_time(values["until"]) if values["until"] else None
    except ValueError as exc:
        raise BadFilter(str(exc)) from exc
    try:
        limit = int(params.get("limit") or default_limit)
    except ValueError as exc:
        raise BadFilter("limit must be a whole number") from exc
    after = (params.get("after") or "").strip() or None
    query = AuditQuery(
        actor=values["actor"], action=values["action"], entity=values["entity"],
        provider=values["provider"], outcome=values["outcome"], since=since, until=until,
        limit=max(1, min(limit, MAX_LIMIT)), after=after,
    )
    if after:
        try:
            query.before_id()
        except ValueError as exc:
            raise BadFilter(str(exc)) from exc
    return query


def _refusal(request: Request) -> str | None:
    access = portal_of(request).access
    if access is None:
        return "This portal keeps no audit trail."
    decision = access.decide(identity_of(request), "audit.read")
    return None if decision.allowed else decision.reason


@router.get("/api/audit", tags=["audit"])
async def audit_api(request: Request) -> Response:
    """Audit entries, newest first. Filters: actor, action (``incident.*`` for a prefix),
    entity, provider, outcome, since, until (ISO 8601), limit (at most 200), after (the
    ``next`` of the previous page)."""
    refused = _refusal(request)
    if refused is not None:
        status = 401 if not identity_of(request).authenticated else 403
        return JSONResponse({"detail": refused}, status_code=status)
    try:
        query = _query(request.query_params)
    except BadFilter as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    access = portal_of(request).access
    assert access is not None
    try:
        page = await access.audit.query(query)
    except DatabaseError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=503)
    return JSONResponse(page.as_json())


@router.get("/audit", include_in_schema=False)
async def audit_page(request: Request) -> Response:
    ctx = page_context(request, nav="audit")
    refused = _refusal(request)
    if refused is not None:
        ctx.update(heading="Audit trail", message=refused, kind="error", link=None)
        return render_page(request, "message.html", ctx, status_code=403)
    problem, entries, next_url, status = None, [], None, 200
    try:
        query = _query(request.query_params)
    except BadFilter as exc:
        problem, query, status = str(exc), AuditQuery(), 400
    access = portal_of(request).access
    assert access is not None
    if problem is None:
        try:
            page = await access.audit.query(query)
            entries = page.entries
            if page.next:
                kept = {k: v for k, v in request.query_params.items() if k in FILTERS and v}
                next_url = (
                    f"{request.app.url_path_for('audit_page')}?"
                    + urlencode({**kept, "after": page.next})
                )
        except DatabaseError as exc:
            problem, status = f"The audit trail cannot be read right now: {exc}", 503
    ctx.update(
        query=query, entries=entries, next_url=next_url, problem=problem, outcomes=OUTCOMES,
        since_value=_local(request.query_params.get("since")),
        until_value=_local(request.query_params.get("until")),
    )
    return render_page(request, "audit.html", ctx, status_code=status)


RECENT_LIMIT = 5
# The entity page's head waits for this read; a slow database leaves the section out.
RECENT_SECONDS = 1.0


async def recent_actions(request: Request, entity_ref: str) -> list[Any] | None:
    """The entity's latest audit entries for its page, or None (not allowed, or unreadable)."""
    if _refusal(request) is not None:
        return None
    access = portal_of(request).access
    assert access is not None
    try:
        page = await asyncio.wait_for(
            access.audit.query(AuditQuery(entity=entity_ref, limit=RECENT_LIMIT)), RECENT_SECONDS
        )
    except (DatabaseError, TimeoutError):
        return None
    return page.entries


def _local(value: str | None) -> str:
    """A filter time as a ``datetime-local`` input shows it (minutes, no zone)."""
    if not value:
        return ""
    try:
        return parse_time(value).strftime("%Y-%m-%dT%H:%M")
    except ValueError:
        return ""
