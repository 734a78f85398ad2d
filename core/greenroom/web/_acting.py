"""Acting on a vendor from a portal page: the one call site the sign-in and permissions
issue's access layer serves (``portal.access.perform``: the permission check, then the audit
entry written before the vendor is called and completed after)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request

from .._entity import Entity
from .._identity import Identity
from ._context import portal_of

audit_log = logging.getLogger("greenroom.audit")

T = TypeVar("T")


async def perform(
    request: Request,
    viewer: Identity,
    action: str,
    call: Callable[[], Awaitable[T]],
    *,
    entity: Entity,
    provider_id: str,
    incident_id: str | None = None,
    summary: str = "",
) -> T:
    """Decide, record, act: the portal's access layer (``portal.access.perform``: permission
    check, audit entry written before the vendor is called and completed after) when it has
    one; otherwise the action is taken as acknowledging is, and logged."""
    access = getattr(portal_of(request), "access", None)
    if access is not None and hasattr(access, "perform"):
        result: T = await access.perform(
            viewer, action, call, entities=[entity], provider=provider_id,
            incident_id=incident_id, summary=summary,
        )
        return result
    audit_log.info("%s by %s on %s %s (%s)", action, viewer.user_id, provider_id,
                   incident_id or "-", entity.ref)
    return await call()
