"""Acting on a vendor from a portal page (adding a note, saving a mapping): the same guard as
every card and `/incidents` action (``_guard.guarded``: the permission check, then the audit
entry written before the vendor is called and completed after), and the decision a page shows
on its button before anyone presses it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from starlette.requests import Request

from .._entity import Entity
from ._context import portal_of
from ._guard import ActionRefused, guarded, oncall_lookup
from ._sign_in import identity_of

if TYPE_CHECKING:
    from .._permissions import Decision

T = TypeVar("T")

__all__ = ["ActionRefused", "decision_for", "perform"]


async def perform(
    request: Request,
    action: str,
    call: Callable[[], Awaitable[T]],
    *,
    entity: Entity,
    provider_id: str,
    provider_title: str | None = None,
    incident_id: str | None = None,
    summary: str = "",
) -> T:
    """Decide, record, act. :class:`ActionRefused` (with the HTTP status and the words for the
    person) when a rule refuses the viewer or the audit trail cannot be written; nothing was
    sent upstream then, and the refusal is in the audit trail."""
    return await guarded(
        request, action, call, entities=[entity], provider=provider_id,
        provider_title=provider_title, incident_id=incident_id, summary=summary,
    )


async def decision_for(request: Request, action: str, entity: Entity) -> Decision | None:
    """Whether the viewer may do ``action`` on ``entity``, for the page's button (disabled with
    the reason when not); None when the portal has no access layer."""
    access = portal_of(request).access
    if access is None:
        return None
    viewer = identity_of(request)
    targets = await access.targets(viewer, action, [entity], oncall_lookup(request))
    return access.decide(viewer, action, targets)  # type: ignore[no-any-return]
