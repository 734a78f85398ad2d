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
from ._provider import BulkAnswer, has_bulk_reads

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
    #: What bulk reads said about how they read (e.g. a list too long to page through).
    notes: list[str] = field(default_factory=list)


async def gather_from_providers(
    portal: Portal,
    capability: Capability,
    call: Callable[[IncidentProvider, Entity], Awaitable[Any]],
    *,
    bulk: Callable[[Any, list[Entity]], Awaitable[BulkAnswer[Any]]] | None = None,
) -> Gathered:
    """``call(provider, entity)`` for every enabled provider with ``capability`` and every
    entity it is available for, concurrently, within the portal's time budget. A provider
    with bulk reads (:class:`BulkReads`) is asked ``bulk(provider, entities)`` once instead:
    its answer comes from the vendor's account-wide lists, whatever the catalog's size."""
    budget = float(portal.config.get("incidents.timeoutSeconds", DEFAULT_BUDGET))
    limit = asyncio.Semaphore(MAX_CONCURRENT_CALLS)

    async def one(provider: IncidentProvider, entity: Entity) -> Any:
        async with limit:
            return await call(provider, entity)

    jobs: dict[asyncio.Task[Any], tuple[IncidentProvider, Entity]] = {}
    bulk_jobs: dict[asyncio.Task[Any], tuple[IncidentProvider, list[Entity]]] = {}
    for handle in portal.providers():
        provider = handle.provider
        if capability not in provider.capabilities:
            continue
        mine = [e for e in portal.catalog.entities if await provider_is_available(provider, e)]
        if bulk is not None and has_bulk_reads(provider):
            if mine:
                bulk_jobs[asyncio.ensure_future(bulk(provider, mine))] = (provider, mine)
            continue
        for entity in mine:
            jobs[asyncio.ensure_future(one(provider, entity))] = (provider, entity)
    gathered = Gathered()
    if not jobs and not bulk_jobs:
        return gathered
    done, pending = await asyncio.wait([*jobs, *bulk_jobs], timeout=budget)
    for task in pending:
        task.cancel()
    errors: dict[tuple[str, str, bool], list[str]] = {}
    titles: dict[str, str] = {}

    def failed(provider: IncidentProvider, exc: BaseException) -> tuple[str, str, bool]:
        if not isinstance(exc, ProviderError):
            log.error("provider %s raised %s", provider.id, portal.scrub(repr(exc)))
        text = portal.scrub(str(exc)) or type(exc).__name__
        return (provider.id, text, isinstance(exc, NotFoundError))

    for task, (provider, entity) in jobs.items():
        titles[provider.id] = provider.title
        if task in pending:
            key = (provider.id, f"No answer within {budget:g} seconds.", False)
        elif (exc := task.exception()) is not None:
            key = failed(provider, exc)
        else:
            gathered.results.append((provider, entity, task.result()))
            continue
        errors.setdefault(key, []).append(entity.ref)
    for task, (provider, entities) in bulk_jobs.items():
        titles[provider.id] = provider.title
        if task in pending or task.exception() is not None:
            exc = None if task in pending else task.exception()
            key = (
                failed(provider, exc)
                if exc is not None
                else (provider.id, f"No answer within {budget:g} seconds.", False)
            )
            errors.setdefault(key, []).extend(e.ref for e in entities)
            continue
        answer: BulkAnswer[Any] = task.result()
        for entity in entities:
            if entity.ref in answer.found:
                gathered.results.append((provider, entity, answer.found[entity.ref]))
            elif (exc := answer.errors.get(entity.ref)) is not None:
                errors.setdefault(failed(provider, exc), []).append(entity.ref)
        if answer.note:
            log.warning("%s: %s", provider.title, answer.note)
            gathered.notes.append(f"{provider.title}: {answer.note}")
    gathered.failures = [
        ProviderFailure(pid, titles[pid], message, tuple(sorted(refs)), unknown)
        for (pid, message, unknown), refs in errors.items()
    ]
    return gathered
