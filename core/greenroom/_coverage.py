"""On-call coverage: which entities the policy selects (``greenroom._coverage_policy``) are
covered by an incident provider, evaluated into a report (``greenroom._coverage_report``).

An entity a rule selects is *covered* when an enabled provider's annotation
(``IncidentProvider.annotations``) is on it and the provider confirms it (and, for a provider
that reports on-call, someone is on call), *broken* when the annotation is there but the
provider says the vendor does not know it, *unknown* when no provider could confirm it (a
refused token, an account missing from the config, a timeout, an empty escalation policy: the
reason says which), and *not-covered* otherwise. This module also says what to add to
``catalog-info.yaml`` to be covered, and names the whole feature's surface in ``__all__``.

``greenroom coverage`` (in ``greenroom.cli``) prints the same report for a CI job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._coverage_policy import CoveragePolicy, CoverageRule, load_policy
from ._coverage_report import (
    BROKEN,
    COVERED,
    NOT_COVERED,
    STATES,
    UNKNOWN,
    CoverageReport,
    EntityCoverage,
)
from ._deadline import call_plugin
from ._entity import Entity
from ._provider import Capability, CoverageCheck, has_bulk_reads

if TYPE_CHECKING:
    from ._portal import Portal
    from ._provider import IncidentProvider

#: How long one provider may take to confirm one entity; after that its coverage is unknown.
CHECK_TIMEOUT = 10.0


def covers(provider: IncidentProvider, entity: Entity) -> bool:
    """Whether the entity carries one of the annotations the provider accepts."""
    return any(
        str(entity.annotations.get(key) or "").strip()
        for key in getattr(provider, "annotations", ())
    )


async def _check(
    provider: IncidentProvider, entity: Entity, timeout: float, scrub: Any
) -> CoverageCheck:
    provider_id = getattr(provider, "id", "") or ""
    title = provider.title
    try:
        async with asyncio.timeout(timeout):
            check = await call_plugin(
                provider.check_coverage, entity, timeout=timeout,
                what=f"{provider.title} coverage check",
            )
            if check.state == COVERED and Capability.ON_CALL in provider.capabilities:
                # A service whose escalation policy pages nobody is not confirmed coverage.
                if not await provider.on_call(entity):
                    return CoverageCheck(
                        UNKNOWN,
                        f"{scrub(check.reason) or title}, but its escalation policy is empty: "
                        "nobody is on call",
                        check.provider or provider_id,
                    )
    except TimeoutError:
        return CoverageCheck(UNKNOWN, f"{title} did not answer within {timeout:g} s", provider_id)
    except Exception as exc:  # noqa: BLE001 - a refused token or an outage is not a broken annotation
        return CoverageCheck(
            UNKNOWN, f"{title} could not be asked: {scrub(str(exc)) or type(exc).__name__}",
            provider_id,
        )
    if check.state not in (COVERED, NOT_COVERED, BROKEN):
        return CoverageCheck(UNKNOWN, f"{title} answered {check.state!r}", provider_id)
    return CoverageCheck(check.state, scrub(check.reason), check.provider or provider_id)


async def evaluate_entity(
    entity: Entity,
    rules: Sequence[CoverageRule],
    providers: Sequence[IncidentProvider],
    *,
    timeout: float = CHECK_TIMEOUT,
    scrub: Any = str,
) -> EntityCoverage:
    """Coverage of one entity: covered when one annotated provider confirms it; else unknown
    when a provider could not say, broken when a provider says the vendor does not know the
    annotation, not covered when no provider's annotation is on it."""
    annotated = [p for p in providers if covers(p, entity)]
    if not annotated:
        return EntityCoverage(entity, NOT_COVERED, tuple(rules))
    checks = await asyncio.gather(*(_check(p, entity, timeout, scrub) for p in annotated))
    states = {c.state for c in checks}
    if COVERED in states:
        state = COVERED
    else:
        state = UNKNOWN if UNKNOWN in states else BROKEN if BROKEN in states else NOT_COVERED
    return EntityCoverage(entity, state, tuple(rules), tuple(checks))


async def evaluate(
    portal: Portal, *, policy: CoveragePolicy | None = None, timeout: float = CHECK_TIMEOUT
) -> CoverageReport:
    """Every entity a rule selects, with its coverage by the portal's enabled providers."""
    policy = policy if policy is not None else load_policy(portal.config)
    providers = [handle.provider for handle in portal.providers()]
    selected = [
        (entity, rules)
        for entity in portal.catalog.entities
        if (rules := policy.rules_for(entity))
    ]
    scrub = portal.scrub
    # Providers with bulk reads answer for every entity at once, from their account-wide
    # indexes: a catalog of 10,000 costs them a few list reads and no task per entity.
    bulk = [p for p in providers if has_bulk_reads(p)]
    known = dict(
        zip(
            (p.id for p in bulk),
            await asyncio.gather(
                *(
                    _bulk_checks(p, [e for e, _ in selected if covers(p, e)], timeout, scrub)
                    for p in bulk
                )
            ),
            strict=True,
        )
    )
    if not bulk:
        entries = await asyncio.gather(
            *(evaluate_entity(e, r, providers, timeout=timeout, scrub=scrub) for e, r in selected)
        )
        return CoverageReport(tuple(entries), has_policy=bool(policy.rules))
    others = [p for p in providers if not has_bulk_reads(p)]
    asked = {
        entity.ref: [p for p in others if covers(p, entity)] for entity, _ in selected
    }
    answered = dict(
        zip(
            [ref for ref, mine in asked.items() if mine],
            await asyncio.gather(
                *(
                    asyncio.gather(*(_check(p, entity, timeout, scrub) for p in asked[entity.ref]))
                    for entity, _ in selected
                    if asked[entity.ref]
                )
            ),
            strict=True,
        )
    )
    entries = [
        _entry(
            entity,
            rules,
            [known[p.id][entity.ref] for p in bulk if entity.ref in known[p.id]]
            + list(answered.get(entity.ref, ())),
        )
        for entity, rules in selected
    ]
    return CoverageReport(tuple(entries), has_policy=bool(policy.rules))


def _entry(
    entity: Entity, rules: Sequence[CoverageRule], checks: Sequence[CoverageCheck]
) -> EntityCoverage:
    if not checks:
        return EntityCoverage(entity, NOT_COVERED, tuple(rules))
    states = {c.state for c in checks}
    if COVERED in states:
        state = COVERED
    else:
        state = UNKNOWN if UNKNOWN in states else BROKEN if BROKEN in states else NOT_COVERED
    return EntityCoverage(entity, state, tuple(rules), tuple(checks))


async def _bulk_checks(
    provider: IncidentProvider, entities: Sequence[Entity], timeout: float, scrub: Any
) -> dict[str, CoverageCheck]:
    """Each entity's check from one bulk read, with the same rules as :func:`_check`."""
    provider_id = getattr(provider, "id", "") or ""
    title = provider.title
    if not entities:
        return {}
    try:
        async with asyncio.timeout(timeout):
            checks = await call_plugin(
                provider.bulk_coverage,  # type: ignore[attr-defined]
                entities, timeout=timeout, what=f"{provider.title} coverage check",
            )
            confirmed = [
                e for e in entities
                if (c := checks.get(e.ref)) is not None and c.state == COVERED
            ]
            on_call = None
            if confirmed and Capability.ON_CALL in provider.capabilities:
                on_call = await provider.bulk_on_call(confirmed)  # type: ignore[attr-defined]
    except TimeoutError:
        reason = f"{title} did not answer within {timeout:g} s"
        return {e.ref: CoverageCheck(UNKNOWN, reason, provider_id) for e in entities}
    except Exception:  # noqa: BLE001 - e.g. one entity's bad annotation failed the whole read
        # Ask per entity instead, so each gets its own answer (or its own reason).
        checks_one_by_one = await asyncio.gather(
            *(_check(provider, e, timeout, scrub) for e in entities)
        )
        return {e.ref: c for e, c in zip(entities, checks_one_by_one, strict=True)}
    found = {}
    for entity in entities:
        check = checks.get(entity.ref)
        if check is None:
            found[entity.ref] = CoverageCheck(
                UNKNOWN, f"{title} did not answer for it", provider_id
            )
        elif check.state not in (COVERED, NOT_COVERED, BROKEN):
            found[entity.ref] = CoverageCheck(
                UNKNOWN, f"{title} answered {check.state!r}", provider_id
            )
        elif check.state == COVERED and on_call is not None and not on_call.found.get(entity.ref):
            # A service whose escalation policy pages nobody is not confirmed coverage.
            error = on_call.errors.get(entity.ref)
            reason = (
                f"{title} could not say who is on call: {scrub(str(error))}" if error
                else f"{scrub(check.reason) or title}, but its escalation policy is empty: "
                "nobody is on call"
            )
            found[entity.ref] = CoverageCheck(UNKNOWN, reason, check.provider or provider_id)
        else:
            found[entity.ref] = CoverageCheck(
                check.state, scrub(check.reason), check.provider or provider_id
            )
    return found


# --- what to add to catalog-info.yaml ------------------------------------------------------------


@dataclass(frozen=True)
class AnnotationSnippet:
    """A copyable ``catalog-info.yaml`` fragment that makes one provider cover an entity."""

    provider: str
    title: str
    keys: tuple[str, ...]
    text: str


def annotation_snippets(providers: Sequence[IncidentProvider]) -> list[AnnotationSnippet]:
    """One snippet per provider: its first annotation key, the alternatives commented out."""
    snippets = []
    for provider in providers:
        keys = tuple(getattr(provider, "annotations", ()) or ())
        if not keys:
            continue
        lines = ["metadata:", "  annotations:", f'    {keys[0]}: "{_placeholder(keys[0])}"']
        lines += [f'    # or: {key}: "{_placeholder(key)}"' for key in keys[1:]]
        snippets.append(
            AnnotationSnippet(provider.id, provider.title, keys, "\n".join(lines) + "\n")
        )
    return snippets


def _placeholder(key: str) -> str:
    return f"<your {key.rsplit('/', 1)[-1]}>"


__all__ = [
    "BROKEN",
    "COVERED",
    "NOT_COVERED",
    "STATES",
    "UNKNOWN",
    "AnnotationSnippet",
    "CoveragePolicy",
    "CoverageReport",
    "CoverageRule",
    "EntityCoverage",
    "annotation_snippets",
    "covers",
    "evaluate",
    "evaluate_entity",
    "load_policy",
]
