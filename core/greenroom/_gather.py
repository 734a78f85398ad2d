"""Asking every enabled incident provider about every entity it covers, at once.

Each provider is asked once per entity it is available for, all concurrently within one time
budget (``incidents.timeoutSeconds``, 10 s) and at most :data:`MAX_CONCURRENT_CALLS` calls in
flight. A provider that fails or does not answer in time becomes a :class:`ProviderFailure`
with its scrubbed message; the others' answers are kept. Used by ``/incidents``, ``/oncall``
and anything else that needs the whole picture without a request (live updates, the audit).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._availability import provider_is_available
from ._exceptions import NotFoundError, ProviderError

if TYPE_CHECKING:
    from ._entity import Entity
    from ._portal import Portal
    from ._provider import Capability, IncidentProvider

log = logging.getLogger("greenroom.incidents")

DEFAULT_BUDGET = 10.0
#: At most this many vendor calls in flight at once, so one page view does not trip a
#: vendor's rate limit (Splunk On-Call allows about 60 calls a minute per endpoint).
MAX_CONCURRENT_CALLS = 8


@dataclass(frozen=True)
class ProviderFailure:
    """A provider that could not answer for some entities. ``unknown`` means the vendor does
    not know the entities' annotations (a catalog problem, not an outage)."""

    provider: str
    title: str
    message: str
    entities: tuple[str, ...] = ()
    unknown: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "title": self.title,
            "message": self.message,
            "entities": list(self.entities),
            "unknown": self.unknown,
        }


@dataclass
class Gathered:
    results: list[tuple[IncidentProvider, Entity, Any]] = field(default_factory=list)
    failures: list[ProviderFailure] = field(default_factory=list)


async def gather_from_providers(
    portal: Portal,
    capability: Capability,
    call: Callable[[IncidentProvider, Entity], Awaitable[Any]],
) -> Gathered:
    """``call(provider, entity)`` for every enabled provider with ``capability`` and every
    entity it is available for, concurrently, within the portal's time budget."""
    budget = float(portal.config.get("incidents.timeoutSeconds", DEFAULT_BUDGET))
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
            if await provider_is_available(provider, entity):
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
                log.error("provider %s raised %s", provider.id, portal.scrub(repr(exc)))
            text = portal.scrub(str(exc)) or type(exc).__name__
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
