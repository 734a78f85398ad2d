"""The coverage policy on the portal's pages, through the public page-sections hook (as any
plugin would): a reminder above the cards of an entity a rule selects that no enabled provider
covers, and the covered percentage under the catalog page's heading."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._coverage import annotation_snippets, evaluate, evaluate_entity
from ._coverage_policy import CoveragePolicy, load_policy
from ._coverage_report import COVERED
from ._plugin import PageSection, SectionContext, create_plugin

if TYPE_CHECKING:
    from ._config import Config
    from ._plugin import Plugin

#: The plugin id of the built-in (reserved: an installed plugin cannot take it).
BUILTIN_ID = "greenroom-coverage"
#: A page waits this long at most; a provider that has not confirmed an annotation by then
#: leaves the coverage unknown (said so, with the reason).
PAGE_CHECK_TIMEOUT = 3.0


def coverage_sections() -> Plugin:
    """The built-in coverage sections (one object per portal: it keeps that portal's policy)."""
    loaded: dict[int, tuple[Config, CoveragePolicy]] = {}

    def policy_of(ctx: SectionContext) -> CoveragePolicy:
        # Validated when the web app was created, so loading it again cannot fail here.
        config = ctx.portal.config
        if id(config) not in loaded or loaded[id(config)][0] is not config:
            loaded.clear()
            loaded[id(config)] = (config, load_policy(config))
        return loaded[id(config)][1]

    async def reminder(ctx: SectionContext) -> str | None:
        entity = ctx.entity
        rules = policy_of(ctx).rules_for(entity) if entity is not None else []
        if entity is None or not rules:
            return None
        providers = [handle.provider for handle in ctx.portal.providers()]
        entry = await evaluate_entity(
            entity, rules, providers, timeout=PAGE_CHECK_TIMEOUT, scrub=ctx.portal.scrub
        )
        if entry.state == COVERED:
            return None
        return str(ctx.render_template(
            "greenroom/coverage_reminder.html", entry=entry, entity=entity,
            snippets=annotation_snippets(providers), path_for=ctx.path_for,
        ))

    async def summary(ctx: SectionContext) -> str | None:
        policy = policy_of(ctx)
        if not policy.rules:
            return None
        report = await evaluate(ctx.portal, policy=policy, timeout=PAGE_CHECK_TIMEOUT)
        return str(ctx.render_template(
            "greenroom/partials/coverage_summary.html", summary=report.summary,
            path_for=ctx.path_for,
        ))

    # Each provider check has its own PAGE_CHECK_TIMEOUT; the section's budget only bounds a
    # check that ignores it (a whole large catalog is evaluated for the summary).
    budget = 60.0
    return create_plugin(
        id=BUILTIN_ID,
        title="On-call coverage",
        templates="greenroom",
        sections=[
            PageSection(id="coverage-reminder", page="entity", render=reminder, timeout=budget),
            PageSection(id="coverage-summary", page="home", render=summary, timeout=budget),
        ],
    )
